"""LSE layers as Hopf–Cole solutions, the Hopf–Lax limit and the PDE residual (THEORY §2–§3).

``f(x) = LSE_eps(Wx + b) = xᵀA⁻¹x/(4t) − u(x, t)`` (T3) with the discrete Hopf–Cole value

    u(x, t) = −eps log Σ_j exp(−[g_j + (x − y_j)ᵀA⁻¹(x − y_j)/(4t)] / eps).

``u`` satisfies ``u_t + ∇uᵀA∇u = eps tr(A∇²u) − eps d/(2t)`` (no heat-kernel normalisation);
the normalised value ``ũ = u + (eps d/2) log(4π eps t) + (eps/2) log det A`` satisfies the PDE
exactly. ``eps = 0`` gives the Hopf–Lax value ``u_0 = min_j g_j + (x−y_j)ᵀA⁻¹(x−y_j)/(4t)`` (T4).

Memory: the logits are formed in blocks of at most ``CHUNK_ELEMENTS`` entries (points × atoms),
combined across atom blocks by the associativity of LSE, so that without autograd the extra
peak memory is about three blocks (``3 · CHUNK_ELEMENTS · itemsize``: 48 MiB in float32, 96 MiB
in float64) plus the inputs and outputs, whatever the number of points and atoms. Under autograd
the graph keeps the blocks for the backward pass.
"""

from __future__ import annotations

import math

import torch

from .._validation import (
    EPS_POSITIVE,
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


def _affine_lse(x, W, b, eps, mode, inv_t=None, g=None, chunk=CHUNK_ELEMENTS):
    """``LSE_eps`` over atoms of ``z = x Wᵀ + b`` (or ``(x Wᵀ + b) * inv_t − g`` per point).

    ``x`` (P, d); ``W`` (N, d); ``b`` (N,); ``eps`` a 0-d tensor or shape (P,); ``inv_t`` None
    or (P,); returns (P,). Inputs are finite, so torch's fused logsumexp is used per block.
    """
    P, N = x.shape[0], W.shape[0]
    if P == 0:
        return x.new_zeros(0)
    per_atoms = min(N, chunk)
    per_points = max(1, chunk // per_atoms)
    scalar_eps = eps.ndim == 0
    prescale = scalar_eps and mode == EPS_POSITIVE and inv_t is None
    if prescale:  # fold 1/eps into the weights: one pass over the block less
        W, b = W / eps, b / eps
    unit = eps.new_ones(()) if prescale else None
    outs = []
    for p0 in range(0, P, per_points):
        xp = x[p0:p0 + per_points]
        ep = eps if scalar_eps else eps[p0:p0 + per_points, None]
        parts = []
        for n0 in range(0, N, per_atoms):
            z = torch.addmm(b[n0:n0 + per_atoms], xp, W[n0:n0 + per_atoms].T)
            if inv_t is not None:
                z = z * inv_t[p0:p0 + per_points, None] - g[n0:n0 + per_atoms]
            parts.append(_lse(z, unit if prescale else ep, EPS_POSITIVE if prescale else mode,
                              -1, finite=True))
        val = parts[0] if len(parts) == 1 else _lse(torch.cat(parts, -1), unit if prescale else ep,
                                                    EPS_POSITIVE if prescale else mode, -1, finite=True)
        outs.append(val.squeeze(-1))
    out = torch.cat(outs) if len(outs) > 1 else outs[0]
    return eps * out if prescale else out


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
    return _affine_lse(xb, Wt, bt, _flat(e, shape), mode, chunk=_check_chunk(chunk)).reshape(shape)


def normalization(eps, d: int, t, logdet_A=0.0):
    """Heat-kernel normalisation ``(eps d/2) log(4π eps t) + (eps/2) log det A`` (0 at eps = 0)."""
    safe = torch.where(eps > 0, eps, torch.ones_like(eps))
    value = 0.5 * eps * (d * torch.log(4 * math.pi * safe * t) + logdet_A)
    return torch.where(eps > 0, value, torch.zeros_like(value))


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


def _hopf_cole_flat(xb, data, e, mode, tt, normalized, chunk):
    """u (or ũ) at flattened points; ``e`` and ``tt`` are 0-d or (P,)."""
    quad = (xb * data.apply_inverse(xb)).sum(-1)
    Ainv_y = data.apply_inverse(data.y)
    c = -(Ainv_y * data.y).sum(-1) / 4  # b at t = 1, plus g
    if tt.ndim == 0:  # the bijection at time t, then the plain layer
        W, b = Ainv_y / (2 * tt), c / tt - data.g
        f = _affine_lse(xb, W, b, e, mode, chunk=chunk)
    else:  # per-point times: z = (x·A⁻¹y/2 + c) / t − g
        f = _affine_lse(xb, Ainv_y / 2, c, e, mode, inv_t=1 / tt, g=data.g, chunk=chunk)
    u = quad / (4 * tt) - f
    if normalized:
        u = u + normalization(e, data.dim, tt, data.logdet())
    return u


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
    u = _hopf_cole_flat(xb, data, _flat(e, shape), mode, _flat(tt, shape), normalized,
                        _check_chunk(chunk))
    return u.reshape(shape)


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
    tf = _flat(tt, shape)
    if data.isotropic:
        xw, yw = xb, data.y
    else:
        C = data.cholesky()
        xw = torch.linalg.solve_triangular(C, xb.T, upper=False).T
        yw = torch.linalg.solve_triangular(C, data.y.T, upper=False).T
    step = max(1, _check_chunk(chunk) // max(1, data.n_atoms * data.dim))
    outs = [xw.new_zeros(0)]
    for p0 in range(0, xw.shape[0], step):
        diff = xw[p0:p0 + step, None, :] - yw[None]
        tp = tf if tf.ndim == 0 else tf[p0:p0 + step, None]
        outs.append((data.g + (diff * diff).sum(-1) / (4 * tp)).amin(-1))
    return torch.cat(outs).reshape(shape)


def pde_residual(x, data: InitialData, eps, t=1.0, normalized: bool = True) -> torch.Tensor:
    r"""``u_t + ∇uᵀA∇u − eps tr(A∇²u)`` of :func:`hopf_cole` by automatic differentiation.

    The derivatives come from autograd through the very function users call (not from the
    closed forms of :mod:`hjdl.core.derivatives`). With ``normalized=True`` the exact value is
    0; with ``normalized=False`` it is ``−eps d/(2t)``. Only rounding remains: in float64 the
    residual is ~1e-13 relative to the size of the terms.

    Args:
        x: points ``(..., d)``; eps: a number ``>= 0``; t: a number ``> 0``.

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
    return (u_t + transport - diffusion).detach().reshape(shape)
