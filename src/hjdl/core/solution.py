"""LSE layers as Hopf–Cole solutions, the Hopf–Lax limit and the PDE residual (THEORY §2–§3).

``f(x) = LSE_eps(Wx + b) = xᵀA⁻¹x/(4t) − u(x, t)`` (T3) with the discrete Hopf–Cole value

    u(x, t) = −eps log Σ_j exp(−[g_j + (x − y_j)ᵀA⁻¹(x − y_j)/(4t)] / eps).

``u`` satisfies ``u_t + ∇uᵀA∇u = eps tr(A∇²u) − eps d/(2t)`` (no heat-kernel normalisation);
the normalised value ``ũ = u + (eps d/2) log(4π eps t) + (eps/2) log det A`` satisfies the PDE
exactly. ``eps = 0`` gives the Hopf–Lax value ``u_0 = min_j g_j + (x−y_j)ᵀA⁻¹(x−y_j)/(4t)`` (T4).

Far from the origin the two terms of T3 cancel (|x|²/(4t) against the LSE): ``hopf_cole`` then
evaluates the point from the differences ``x − y_j`` (the distance form, as ``hopf_lax`` always
does), chosen per point by the size of the cancelled terms against the result's scale.

Memory: the logits (or distances) are formed in blocks of at most ``CHUNK_ELEMENTS`` entries
(points × atoms, × d for the distances), combined across atom blocks by the associativity of
LSE. Without autograd every block is written into one buffer allocated once per call, so the
extra peak memory is about one block (``CHUNK_ELEMENTS · itemsize``: 16 MiB in float32, 32 MiB in
float64; two for anisotropic distances) plus vectors of the points' and atoms' length, whatever
the number of points and atoms and whatever the allocator does with freed memory. Input
validation may briefly take a temporary of an input's size. Under autograd the graph keeps the
blocks for the backward pass.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from .._validation import (
    EPS_MIXED,
    EPS_POSITIVE,
    EPS_ZERO,
    as_tensor,
    check_eps,
    check_finite,
    check_layer,
    check_points,
    check_time,
    common,
)
from ..errors import InputError, ShapeError
from .initial_data import InitialData
from .kernel import _lse

__all__ = ["lse_layer", "hopf_cole", "hopf_lax", "pde_residual", "normalization", "CHUNK_ELEMENTS"]

CHUNK_ELEMENTS = 1 << 22


# ----------------------------------------------------------------------------------------------
# the engine
#
# Two evaluations of the same sums, in blocks of at most ``chunk`` elements:
# * the affine form: logits ``z = x Wᵀ + b`` by matrix products (fast);
# * the distance form (Hopf–Cole only): costs ``g_j + |C⁻¹(x − y_j)|²/(4t)`` from the differences,
#   used where the affine form cancels (points far from the origin, near an atom) and for Hopf–Lax.
# Without autograd each block is written into one buffer allocated once per call (``out=`` and
# in-place updates), so the extra memory is a few blocks whatever the allocator does with freed
# memory; under autograd the graph keeps the blocks for the backward pass.

# affine-form terms larger than this many times the result's scale send a point to the distances:
# the affine form then loses more than log2(_FAR) = 4 bits against the distance form
_FAR = 16.0


def _graph(*ts) -> bool:
    """Whether autograd records operations on any of the tensors ``ts`` (None allowed)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in ts)


def _take(v, idx):
    """Entries ``idx`` of a per-point value (0-d values are shared by every point)."""
    return v if v.ndim == 0 else v[idx]


def _split(P, N, width, chunk):
    """Points and atoms per block so that points · atoms · width <= chunk (at least one each)."""
    per_atoms = max(1, min(N, chunk // width))
    per_points = max(1, min(P, chunk // (per_atoms * width)))
    return per_points, per_atoms


def _lse_rows_(z, eps, mode):
    """``LSE_eps`` along the last axis of the block ``z`` (p, n), overwriting ``z``; shape (p,).

    ``m + eps log1p(Σ_{j ≠ top} exp((z_j − m)/eps))`` with ``m`` the row maximum: the shift comes
    before the division (no overflow however small eps is) and the top term is left out of the
    sum (full relative accuracy when the result is close to ``m``). ``eps`` is 0-d or (p, 1).
    Rows whose maximum is not finite give that maximum (NaN stays NaN)."""
    if mode == EPS_ZERO:
        return z.amax(-1)
    m, top = z.max(-1, keepdim=True)
    e = eps if mode == EPS_POSITIVE else torch.where(eps > 0, eps, torch.ones_like(eps))
    z.sub_(m).div_(e).exp_().scatter_(-1, top, 0.0)
    out = m + e * torch.log1p(z.sum(-1, keepdim=True))
    keep = torch.isfinite(m) if mode == EPS_POSITIVE else torch.isfinite(m) & (eps > 0)
    return torch.where(keep, out, m).squeeze(-1)


def _lse_rows(z, eps, mode, in_place):
    """``LSE_eps`` along the last axis of the block ``z`` (p, n); shape (p,)."""
    if in_place:
        return _lse_rows_(z, eps, mode)
    return _lse(z, eps, mode, -1, finite=True).squeeze(-1)


def _combine(parts, eps, mode, in_place):
    """``LSE_eps`` over atom blocks from the blocks' values (LSE is associative)."""
    return parts[0] if len(parts) == 1 else _lse_rows(torch.stack(parts, -1), eps, mode, in_place)


def _assemble(P, like, pieces):
    """One (P,) tensor from ``(indices, values)`` pieces covering every point once (keeps the graph)."""
    out = like.new_zeros(P)
    for idx, vals in pieces:
        out = out.index_put((idx,), vals)
    return out


def _affine_blocks(x, W, b, eps, mode, chunk, inv_t=None, g=None):
    P, N = x.shape[0], W.shape[0]
    if P == 0:
        return x.new_zeros(0)
    in_place = not _graph(x, W, b, eps, inv_t, g)
    pp, pn = _split(P, N, 1, chunk)
    buf = x.new_empty(pp * pn) if in_place else None
    outs = []
    for p0 in range(0, P, pp):
        xp = x[p0:p0 + pp]
        p = xp.shape[0]
        ep = eps if eps.ndim == 0 else eps[p0:p0 + p, None]
        parts = []
        for n0 in range(0, N, pn):
            Wn, bn = W[n0:n0 + pn], b[n0:n0 + pn]
            if in_place:
                z = torch.addmm(bn, xp, Wn.T, out=buf[:p * Wn.shape[0]].view(p, Wn.shape[0]))
                if inv_t is not None:
                    z.mul_(inv_t[p0:p0 + p, None]).sub_(g[n0:n0 + pn])
            else:
                z = torch.addmm(bn, xp, Wn.T)
                if inv_t is not None:
                    z = z * inv_t[p0:p0 + p, None] - g[n0:n0 + pn]
            parts.append(_lse_rows(z, ep, mode, in_place))
        outs.append(_combine(parts, ep, mode, in_place))
    return torch.cat(outs) if len(outs) > 1 else outs[0]


def _overflow_scale(x, W, b, inv_t, g) -> float:
    """A power of two ``s`` such that the logits ``z/s`` and every partial sum of their matrix
    product stay below the dtype's maximum (1 when they already do)."""
    def lg(v):  # log2 max |v| (-inf for zeros or None)
        top = 0.0 if v is None or v.numel() == 0 else float(v.detach().abs().amax())
        return math.log2(top) if top > 0 else -math.inf
    lt = 0.0 if inv_t is None else lg(inv_t)
    bound = max(math.log2(x.shape[1]) + lg(x) + lg(W) + lt, lg(b) + lt, lg(g))
    finfo = torch.finfo(x.dtype)
    k = math.ceil(bound + 2 - math.log2(finfo.max)) if math.isfinite(bound) else 0
    return 2.0 ** min(max(k, 0), math.frexp(finfo.max)[1] - 2)


def _affine_lse(x, W, b, eps, mode, chunk, inv_t=None, g=None):
    """``LSE_eps`` over atoms of ``z = x Wᵀ + b`` (or ``(x Wᵀ + b)·inv_t − g`` per point), (P,).

    ``x`` (P, d); ``W`` (N, d); ``b``, ``g`` (N,); ``eps`` and ``inv_t`` 0-d or (P,). Inputs are
    finite. Points whose value is not finite (a partial sum of the product overflowed) are
    evaluated again with ``W, b, g`` divided by a power of two: ``LSE_eps(z) = s LSE_{eps/s}(z/s)``.
    """
    out = _affine_blocks(x, W, b, eps, mode, chunk, inv_t, g)
    bad = ~torch.isfinite(out.detach())
    if not bool(bad.any()):
        return out
    s = _overflow_scale(x, W, b, inv_t, g)
    if s == 1.0:
        return out
    es = eps / s
    mode_s = mode if mode == EPS_ZERO else _mode_of(es)
    def redo(idx):
        return s * _affine_blocks(x[idx], W / s, b / s, _take(es, idx), mode_s, chunk,
                                  None if inv_t is None else inv_t[idx], None if g is None else g / s)
    bad_idx = bad.nonzero()[:, 0]
    if not _graph(x, W, b, eps, inv_t, g):
        out[bad_idx] = redo(bad_idx)
        return out
    good = (~bad).nonzero()[:, 0]
    return _assemble(x.shape[0], out, [(good, _affine_blocks(x[good], W, b, _take(eps, good), mode, chunk,
                                                             None if inv_t is None else inv_t[good], g)),
                                       (bad_idx, redo(bad_idx))])


def _mode_of(eps):
    if bool((eps > 0).all()):
        return EPS_POSITIVE
    return EPS_ZERO if bool((eps == 0).all()) else EPS_MIXED


def _sq_dists(xp, y, L, s, out=None, work=None, post=None):
    """``post · |s L (x_p − y_j)|²`` for points ``xp`` (p, d) and atoms ``y`` (n, d), shape (p, n).

    With ``s = 1/(2√t)`` (0-d or (p,); None: 1) and ``LᵀL = A⁻¹`` (None: the identity) this is
    ``(x − y)ᵀA⁻¹(x − y)/(4t)``. Differences first (exact for nearby points), then scale and
    whitening, then squares: a sum of non-negative terms, which overflows only if the result does
    (``post``, a 0-d factor applied to the sums, is for callers that know they cannot overflow).
    ``out`` (p, n) and ``work`` (one or two flat buffers of at least p·n·d elements) make it run
    in place.
    """
    sp = None if s is None else (s if s.ndim == 0 else s[:, None, None])
    if out is None:
        w = xp[:, None, :] - y
        w = w if sp is None else w * sp
        if L is not None:
            w = w @ L.T
        D = (w * w).sum(-1)
        return D if post is None else D * post
    p, n, d = xp.shape[0], y.shape[0], y.shape[1]
    w = torch.sub(xp[:, None, :], y, out=work[0][:p * n * d].view(p, n, d))
    if sp is not None:
        w.mul_(sp)
    if L is not None:
        w = torch.mm(w.view(p * n, d), L.T, out=work[1][:p * n * d].view(p * n, d)).view(p, n, d)
    D = torch.sum(w.mul_(w), -1, out=out)
    return D if post is None else D.mul_(post)


def _distance_lse(x, data, eps, mode, tt, chunk):
    """``u = −LSE_eps(−g_j − (x − y_j)ᵀA⁻¹(x − y_j)/(4t))`` at points ``x`` (P, d) from the
    distances (:func:`_sq_dists`), shape (P,). ``eps`` and ``tt`` are 0-d or (P,)."""
    P, N, d = x.shape[0], data.n_atoms, data.dim
    if P == 0:
        return x.new_zeros(0)
    y, g, L = data.y, data.g, data.whitener()
    s = 0.5 * torch.rsqrt(tt)
    big = torch.finfo(x.dtype).max
    top = max(float(x.detach().abs().amax()), float(y.detach().abs().amax()))
    if top > big / 4:  # x − y could overflow: differences of x/2^k and y/2^k, 2^k moved into s
        k = math.ceil(math.log2(top) + 2 - math.log2(big))
        x, y, s = x * 2.0 ** -k, y * 2.0 ** -k, (s * 2.0 ** k).clamp(max=big)
    in_place = not _graph(x, y, g, L, eps, s)
    post = None
    if in_place and s.ndim == 0:  # one pass over the (p, n, d) block less
        if L is not None:
            L, s = L * s, None
        elif 4 * d * top * top < big:  # |x − y|² cannot overflow: scale the sums instead
            s, post = None, s * s
    pp, pn = _split(P, N, d, chunk)
    if in_place:
        work = [x.new_empty(pp * pn * d) for _ in range(1 if L is None else 2)]
        cost = x.new_empty(pp * pn)
    outs = []
    for p0 in range(0, P, pp):
        xp = x[p0:p0 + pp]
        p = xp.shape[0]
        sp = s if s is None or s.ndim == 0 else s[p0:p0 + p]
        ep = eps if eps.ndim == 0 else eps[p0:p0 + p, None]
        parts = []
        for n0 in range(0, N, pn):
            yn, gn = y[n0:n0 + pn], g[n0:n0 + pn]
            if in_place:
                z = _sq_dists(xp, yn, L, sp, cost[:p * yn.shape[0]].view(p, -1), work, post).add_(gn).neg_()
            else:
                z = -(gn + _sq_dists(xp, yn, L, sp))
            parts.append(_lse_rows(z, ep, mode, in_place))
        outs.append(0.0 - _combine(parts, ep, mode, in_place))  # 0.0 - : no -0.0
    return torch.cat(outs) if len(outs) > 1 else outs[0]


def _batch(x, extra_shapes, d):
    """Broadcast x's batch shape with eps / t shapes; flatten to (P, d)."""
    shape = torch.broadcast_shapes(x.shape[:-1], *extra_shapes)
    xb = x.expand(*shape, d).reshape(-1, d)
    return xb, shape


def _flat(v, shape):
    return v if v.ndim == 0 else v.expand(shape).reshape(-1)


def _layer_and_points(x, W, b):
    """Validated layer ``(W, b)`` and points ``x`` (..., d), in one dtype."""
    Wt, bt = check_layer(W, b)
    xt = as_tensor(x, "x")
    xt, Wt, bt = common(xt, Wt, bt, names=("x", "W", "b"))
    check_points(xt, Wt.shape[1], "x", "W")
    check_finite(xt, "x")
    return xt, Wt, bt


def _check_chunk(chunk):
    if chunk is None:
        return CHUNK_ELEMENTS
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise InputError(f"chunk: expected a positive integer number of elements, received {chunk!r}")
    return chunk


def _check_shapes_broadcast(batch, **named):
    try:
        return torch.broadcast_shapes(batch, *[v.shape for v in named.values()])
    except RuntimeError:
        desc = ", ".join(f"{k} of shape {tuple(v.shape)}" for k, v in named.items())
        raise ShapeError(f"{desc} must broadcast against the batch shape {tuple(batch)} of x") from None


# ----------------------------------------------------------------------------------------------
# public functions


def lse_layer(x, W, b, eps, *, chunk: int | None = None) -> torch.Tensor:
    r"""The LSE layer ``f(x) = LSE_eps(x Wᵀ + b)`` (THEORY §2).

    Args:
        x: points, shape ``(..., d)``.
        W: weights ``(N, d)``; b: biases ``(N,)``. Finite.
        eps: ``>= 0`` (0 = the max-affine / tropical layer), or a tensor broadcasting against
            ``x``'s batch shape (vectorises over temperatures).
        chunk: block size in elements (points × neurons) bounding peak memory; see the module
            docstring for the bound.

    Returns:
        shape ``(...)`` (broadcast with eps), ``x``'s dtype and device.

    Example:
        >>> import torch, hjdl
        >>> W, b = torch.tensor([[1.0], [-1.0]]), torch.zeros(2)
        >>> hjdl.lse_layer(torch.tensor([[2.0]]), W, b, eps=0)
        tensor([2.])
    """
    xt, Wt, bt = _layer_and_points(x, W, b)
    e, mode = check_eps(eps, like=xt)
    shape = _check_shapes_broadcast(xt.shape[:-1], eps=e)
    xb, shape = _batch(xt, [e.shape], Wt.shape[1])
    xw, Ww, bw = (xb, Wt, bt) if e.dtype == xt.dtype else (xb.to(e.dtype), Wt.to(e.dtype), bt.to(e.dtype))
    out = _affine_lse(xw, Ww, bw, _flat(e, shape), mode, _check_chunk(chunk))
    return out.to(xt.dtype).reshape(shape)


def _normalization(eps, d, t, logdet_A):
    safe = torch.where(eps > 0, eps, torch.ones_like(eps))
    value = 0.5 * eps * (d * torch.log(4 * math.pi * safe * t) + logdet_A)
    return torch.where(eps > 0, value, torch.zeros_like(value))


def normalization(eps, d: int, t, logdet_A=0.0) -> torch.Tensor:
    """Heat-kernel normalisation ``(eps d/2) log(4π eps t) + (eps/2) log det A`` (0 at eps = 0).

    It is ``−eps log K_t(0)`` for the heat kernel ``K_t`` of ``eps tr(A∇²)``; adding it to
    :func:`hopf_cole` gives the normalised value (``normalized=True``).

    Args:
        eps: ``>= 0``, a number or a tensor.
        d: the dimension, a positive integer.
        t: HJ time ``> 0``, a number or a tensor broadcasting against eps;
        logdet_A: ``log det A``, a finite number or 0-d tensor (0 for the identity).

    Returns:
        shape of eps and t broadcast, in the dtype of the tensor arguments (float64 for numbers).

    Example:
        >>> import hjdl
        >>> float(hjdl.normalization(0.0, 3, 1.0))
        0.0
    """
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise InputError(f"d: expected a positive integer dimension, received {d!r}")
    named = [(v, n) for v, n in ((eps, "eps"), (t, "t"), (logdet_A, "logdet_A"))
             if isinstance(v, (torch.Tensor, np.ndarray))]
    tensors = [as_tensor(v, n) for v, n in named]
    like = (common(*tensors, names=tuple(n for _, n in named))[0] if tensors
            else torch.zeros((), dtype=torch.float64))
    e, _ = check_eps(eps, like=like)
    tt = check_time(t, like=like)
    ld = as_tensor(logdet_A, "logdet_A", dtype=like.dtype, device=like.device)
    if ld.ndim:
        raise ShapeError(f"logdet_A: expected a single number, received shape {tuple(ld.shape)}")
    check_finite(ld, "logdet_A")
    _check_shapes_broadcast(e.shape, t=tt)
    return _normalization(e, int(d), tt, ld)


def _check_data(data):
    if not isinstance(data, InitialData):
        raise InputError(f"data: expected an hjdl.InitialData, received {type(data).__name__}; "
                         "build one with hjdl.InitialData(y, g, A) or hjdl.to_initial_data(W, b)")
    return data


def _points_and_data(x, data):
    """Validate ``data`` and points ``x`` (..., d); bring both to one dtype."""
    _check_data(data)
    xt = as_tensor(x, "x")
    if xt.dtype != data.dtype:
        xt, _ = common(xt, data.y, names=("x", "data.y"))
        data = data.to(xt.dtype)
    check_points(xt, data.dim, "x", "data (atoms)")
    check_finite(xt, "x")
    return xt, data


def _hopf_cole_affine(xb, data, e, mode, tt, chunk):
    """``u = xᵀA⁻¹x/(4t) − LSE_eps(x Wᵀ + b)`` (T3) at flattened points, and which points it
    leaves to the distances (:func:`_distance_lse`): those where the result is not finite, or where
    the terms it sums exceed ``_FAR`` times the scale the distance form is accurate to."""
    Ainv_y = data.apply_inverse(data.y)
    c = -(Ainv_y * data.y).sum(-1) / 4  # b at t = 1, plus g
    quad = (xb * data.apply_inverse(xb)).sum(-1) / (4 * tt)
    if tt.ndim == 0:  # the bijection at time t, then the plain layer
        W, b = Ainv_y / (2 * tt), c / tt - data.g
        u = quad - _affine_lse(xb, W, b, e, mode, chunk)
    else:  # per-point times: z = (x·A⁻¹y/2 + c) / t − g
        W, b = Ainv_y / 2, c
        u = quad - _affine_lse(xb, W, b, e, mode, chunk, inv_t=1 / tt, g=data.g)
    with torch.no_grad():
        # terms: |x|²_{A⁻¹}/(4t) and the logits' parts |x||W_j| and |b_j| (+ |g_j| per-point t);
        # scale: the result, the atoms' negative initial values (g_j <= u for the dominant atom)
        # and eps log N (the distance form's rounding is relative to these)
        it = 1.0 if tt.ndim == 0 else 1 / tt.detach()
        terms = (quad.detach().abs() + (torch.linalg.vector_norm(xb.detach(), dim=-1)
                 * torch.linalg.vector_norm(W.detach(), dim=-1).amax() + b.detach().abs().amax()) * it)
        if tt.ndim:
            terms = terms + data.g.detach().abs().amax()
        scale = (u.detach().abs() + 2 * (-data.g.detach().amin()).clamp_min(0)
                 + e.detach() * math.log(data.n_atoms))
        far = ~torch.isfinite(u.detach()) | ~(terms <= _FAR * scale)
    return u, far


def _hopf_cole_flat(xb, data, e, mode, tt, normalized, chunk):
    """u (or ũ) at flattened points; ``e`` and ``tt`` are 0-d or (P,)."""
    u, far = _hopf_cole_affine(xb, data, e, mode, tt, chunk)
    if bool(far.any()):
        idx = far.nonzero()[:, 0]
        u_far = _distance_lse(xb[idx], data, _take(e, idx), mode, _take(tt, idx), chunk)
        if _graph(xb, data.y, data.g, data.A, e, tt):  # keep the other points' graph free of them
            keep = (~far).nonzero()[:, 0]
            u_keep = _hopf_cole_affine(xb[keep], data, _take(e, keep), mode, _take(tt, keep), chunk)[0]
            u = _assemble(xb.shape[0], u, [(keep, u_keep), (idx, u_far)])
        else:
            u[idx] = u_far
    if normalized:
        u = u + _normalization(e, data.dim, tt, data.logdet())
    return u


def _widened(e, x, data, t):
    """``x``, ``data``, ``t`` in eps's dtype when :func:`check_eps` widened it (eps is not a
    normal number of the input's dtype): the computation runs there, the caller casts back."""
    if e.dtype == x.dtype:
        return x, data, t
    return x.to(e.dtype), data.to(e.dtype), t.to(e.dtype)


def hopf_cole(x, data: InitialData, eps, t=1.0, normalized: bool = False, *,
              chunk: int | None = None) -> torch.Tensor:
    r"""Discrete Hopf–Cole value ``u(x, t) = −eps log Σ_j exp(−[g_j + |x − y_j|²_{A⁻¹}/(4t)]/eps)``.

    Evaluated through T3 as ``xᵀA⁻¹x/(4t) − LSE_eps(x Wᵀ + b)`` with ``(W, b)`` the layer of
    ``data`` at time ``t``, in memory-bounded blocks.

    Args:
        x: points ``(..., d)``.
        data: :class:`InitialData` (atoms, values, metric A).
        eps: viscosity ``>= 0`` (``0`` gives :func:`hopf_lax`), number or broadcasting tensor.
        t: HJ time ``> 0``, number or tensor broadcasting against the batch shape.
        normalized: add ``(eps d/2) log(4π eps t) + (eps/2) log det A``; then
            ``u_t + ∇uᵀA∇u = eps tr(A∇²u)`` holds exactly. Without it the residual is
            ``−eps d/(2t)``.

    Example:
        >>> import hjdl
        >>> data = hjdl.InitialData([[0.0]], [1.0])
        >>> float(hjdl.hopf_cole([[2.0]], data, eps=0.5, t=1.0))  # g + |x−y|²/(4t)
        2.0
    """
    xt, data = _points_and_data(x, data)
    e, mode = check_eps(eps, like=xt)
    tt = check_time(t, like=xt)
    _check_shapes_broadcast(xt.shape[:-1], eps=e, t=tt)
    xb, shape = _batch(xt, [e.shape, tt.shape], data.dim)
    xw, dw, tw = _widened(e, xb, data, tt)
    u = _hopf_cole_flat(xw, dw, _flat(e, shape), mode, _flat(tw, shape), normalized,
                        _check_chunk(chunk))
    return u.to(xt.dtype).reshape(shape)


def hopf_lax(x, data: InitialData, t=1.0, *, chunk: int | None = None) -> torch.Tensor:
    r"""Hopf–Lax value ``u_0(x, t) = min_j g_j + (x − y_j)ᵀA⁻¹(x − y_j)/(4t)`` (T4).

    Computed directly from whitened distances (``A = C Cᵀ``, ``|C⁻¹(x − y)|²``), not through the
    LSE layer, so that ``hopf_cole(x, data, 0, t)`` can be checked against it.

    Example:
        >>> import hjdl
        >>> data = hjdl.InitialData([[-1.0], [1.0]], [0.0, 0.0])
        >>> float(hjdl.hopf_lax([[0.0]], data, t=0.25))
        1.0
    """
    xt, data = _points_and_data(x, data)
    tt = check_time(t, like=xt)
    _check_shapes_broadcast(xt.shape[:-1], t=tt)
    xb, shape = _batch(xt, [tt.shape], data.dim)
    u = _distance_lse(xb, data, xb.new_zeros(()), EPS_ZERO, _flat(tt, shape), _check_chunk(chunk))
    return u.reshape(shape)


def pde_residual(x, data: InitialData, eps, t=1.0, normalized: bool = True) -> torch.Tensor:
    r"""``u_t + ∇uᵀA∇u − eps tr(A∇²u)`` of :func:`hopf_cole` by automatic differentiation.

    The derivatives come from autograd through the very function users call (not from the
    closed forms of :mod:`hjdl.core.derivatives`). With ``normalized=True`` the exact value is
    0; with ``normalized=False`` it is ``−eps d/(2t)``. Only rounding remains: in float64 the
    residual is ~1e-13 relative to the size of the terms.

    Args:
        x: points ``(..., d)``.
        eps: a number ``>= 0``.
        t: a number ``> 0``.

    Returns:
        residual of shape ``(...)``.

    Example:
        >>> import hjdl
        >>> data = hjdl.InitialData([[-1.0], [1.0]], [0.0, 0.3])
        >>> r = hjdl.pde_residual([[0.2], [1.4]], data, eps=0.5, t=1.0)
        >>> bool(r.abs().max() < 1e-12)
        True
    """
    xt, data = _points_and_data(x, data)
    e, mode = check_eps(eps, like=xt)
    if e.ndim:
        raise ShapeError(f"eps: pde_residual takes a single eps, received shape {tuple(e.shape)}")
    tt = check_time(t, like=xt)
    if tt.ndim:
        raise ShapeError(f"t: pde_residual takes a single t, received shape {tuple(tt.shape)}")
    shape, d = xt.shape[:-1], data.dim
    dtype = xt.dtype
    xt, data, tt = _widened(e, xt, data, tt)
    with torch.enable_grad():
        xb = xt.detach().reshape(-1, d).clone().requires_grad_(True)
        tb = tt.detach().expand(xb.shape[0]).clone().requires_grad_(True)
        u = _hopf_cole_flat(xb, data, e, mode, tb, normalized, CHUNK_ELEMENTS)
        grad_x, u_t = torch.autograd.grad(u.sum(), (xb, tb), create_graph=True)
        rows = [torch.autograd.grad(grad_x[:, k].sum(), xb, retain_graph=True)[0] for k in range(d)]
    hess = torch.stack(rows, dim=1)  # (P, d, d)
    A = data.metric()
    transport = (grad_x * (grad_x @ A)).sum(-1)
    diffusion = e * (hess * A).sum((-2, -1))
    return (u_t + transport - diffusion).detach().to(dtype).reshape(shape)
