"""The LSE kernel: ``lse``, its gradient ``gibbs`` and the Gibbs ``entropy`` (THEORY §1).

Every other formula of hjdl is built on the private engine here; stability lives in it
(STYLE.md practice 2): a finite shift by the row maximum, ``-inf`` entries (masked neurons),
all ``-inf`` rows, and ``eps == 0`` (the exact tropical limit) are defined explicitly. LSE is
evaluated in the form of T1, ``max z + eps log1p(Σ_{j ≠ top} e^{(z_j − max z)/eps})``, so that
results close to the maximum keep their relative accuracy. float16 and bfloat16 are computed in
float32, and an eps that is not a normal number of the input's dtype (see
:func:`~hjdl._validation.check_eps`) in float64; results are rounded to the input's dtype.
"""

from __future__ import annotations

import torch

from .._validation import (
    EPS_POSITIVE,
    EPS_ZERO,
    as_tensor,
    check_dim,
    check_eps,
    check_finite,
    check_no_nan,
)
from ..errors import InputError, ShapeError

__all__ = ["lse", "gibbs", "entropy"]


# ----------------------------------------------------------------------------------------------
# private engine (inputs trusted; eps already a tensor broadcastable against z with ``dim`` kept)


_HALF = (torch.float16, torch.bfloat16)


def _working(z: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``z`` in the dtype of the computation: float32 for float16 and bfloat16 input (a gap
    ``z − m`` of float16 logits, or ``eps · log N``, can exceed 65504 while the result does not;
    weights below 6e-8 underflow), and ``eps``'s dtype when that is wider still.

    :func:`~hjdl._validation.check_eps` returns eps in a wider dtype than the input's when eps is
    not a normal number of the input's dtype (1e-40 in float32, 1e300 in bfloat16): the engine
    then computes in that dtype. The callers round the result back to the input's dtype."""
    dtype = torch.float32 if z.dtype in _HALF else z.dtype
    if eps.dtype != dtype and torch.promote_types(eps.dtype, dtype) == eps.dtype:
        dtype = eps.dtype
    return z if dtype == z.dtype else z.to(dtype)


def _halves(eps: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
    """Where eps is so large (above ``max / 1520``) that a gap ``z − m`` beyond the dtype's range
    can still carry weight (``|s| < 760``), or ``eps · log N`` overflow while ``m + eps · log N``
    does not, the engine works with ``z/2, m/2, eps/2`` (exact; the ratios are unchanged): the
    factors (1/2 there, 1 elsewhere, so that a subnormal eps in the same tensor is kept), or
    None when no eps is that large."""
    huge = eps.detach() > torch.finfo(dtype).max / 1520
    if not bool(huge.any()):
        return None
    return torch.where(huge, 0.5, 1.0).to(eps.dtype)


def _tracks(*ts: torch.Tensor) -> bool:
    """An autograd graph must be kept through one of these tensors."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in ts)


def _same_shape_and_dtype(a: torch.Tensor, b: torch.Tensor) -> bool:
    """``a op b`` has ``a``'s shape and dtype (so that ``a.op_(b)`` computes the same result)."""
    return torch.broadcast_shapes(a.shape, b.shape) == a.shape and torch.result_type(a, b) == a.dtype


def _row_max(z: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The row maximum ``m`` of ``z`` (kept axis, detached, 0 for rows without a finite entry) and
    the mask of rows that have one."""
    m = z.detach().amax(dim, keepdim=True)
    ok = torch.isfinite(m)
    return torch.where(ok, m, torch.zeros_like(m)), ok


def _row_top(z: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The row maximum of ``z`` (kept axis, detached) and the index of its first occurrence, in
    one pass: ``torch.max(dim)`` gives the values of ``amax`` and the index of ``argmax`` (the
    first of tied maxima, that of a NaN), at half their combined cost (``argmax`` alone was 39 %
    of :func:`_lse` at 26 × 4000 × 10, float64, one thread)."""
    m, top = z.detach().max(dim, keepdim=True)
    return m, top


def _shifted(z: torch.Tensor, m: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``s = (z − m)/eps`` for a finite shift ``m``. Shifting before dividing cannot overflow
    however small eps is, and keeps ``s`` (hence the backward pass of ``exp``) at the scale of the
    gaps ``z − m``, not of ``z/eps``. When eps requires a gradient, entries whose ``exp(s)`` is 0
    (``-inf`` entries, or gaps beyond the exponent range as at eps = 1e-300) are kept out of the
    division: ``∂s/∂eps = −s/eps`` is infinite there and ``0 · inf`` NaN; the others are
    ``(z − m)/eps.detach()`` times a ratio that is 1 at eps. For a huge eps
    (:func:`_halves`) the three are halved first, so that ``z − m`` cannot overflow."""
    half = _halves(eps, z.dtype)
    if half is not None:
        z, m, eps = z * half, m * half, eps * half
    if eps.requires_grad and torch.is_grad_enabled():
        gap = z - m
        e0 = eps.detach()
        keep = torch.exp(gap.detach() / e0) > 0
        # s = (gap/e0)·(e0 c/(eps c)): the backward pass forms 1/(eps c), never s/eps (which
        # overflows at eps = 1e-306 for a gap of 700 eps: 0 · inf gave a NaN eps-gradient);
        # c = 2^100 below 1 keeps 1/(eps c) finite for a subnormal eps
        c = torch.where(e0 < 1, 2.0 ** 100, 1.0).to(e0.dtype)
        return torch.where(keep, torch.where(keep, gap, torch.zeros_like(gap)) / e0 * ((e0 * c) / (eps * c)),
                           torch.full_like(gap, -torch.inf))
    if eps.ndim == 0 and float(eps) == 1.0:
        return z - m  # logits already divided by eps (the affine engine folds 1/eps into W, b)
    s = z - m
    return s.div_(eps) if not _tracks(s) and _same_shape_and_dtype(s, eps) else s / eps


def _at(index: torch.Tensor, like: torch.Tensor, dim: int) -> torch.Tensor:
    """``index`` (size 1 along ``dim``) expanded to ``like``'s shape elsewhere."""
    shape = list(like.shape)
    shape[dim] = 1
    return index.expand(shape)


def _viscous_lse(z: torch.Tensor, eps: torch.Tensor, dim: int, finite: bool = False) -> torch.Tensor:
    """``eps log Σ exp(z/eps)`` (eps > 0; tracked by autograd only where :func:`_direct`) in the
    form of T1:

        m + eps log1p(Σ_{j ≠ top} exp((z_j − m)/eps)),   m = z_top = max z,

    so that a result close to ``m`` keeps its relative accuracy (``lse([0, −40], 1) = 4.2e-18``
    rather than 0). One maximum is left out of the sum (other tied maxima count 1 each). The
    gradient in ``z`` is the Gibbs weights: the top term enters as ``expm1(s_top)``, which is 0
    but has derivative ``exp(s_top) = 1``. ``finite=False`` also handles rows with no finite
    entry (``-inf`` with zero gradient); ``finite=True`` assumes there are none (such a row then
    gives NaN, as does a NaN or ``+inf`` entry)."""
    m, top = _row_top(z, dim)
    if not finite:
        ok = torch.isfinite(m)
        m = torch.where(ok, m, torch.zeros_like(m))
    s = _shifted(z, m, eps)
    top = _at(top, s, dim)
    tracked = _tracks(s)
    if tracked:
        s_top = s.gather(dim, top)
        if not finite:  # a row of -inf: s_top = -inf, whose expm1 (-1) would make log1p infinite
            s_top = torch.where(ok, s_top, torch.zeros_like(s_top))
        top_term = torch.expm1(s_top)
        rest = torch.exp(s).scatter(dim, top, 0.0).sum(dim, keepdim=True) + top_term
    else:
        rest = s.exp_().scatter_(dim, top, 0.0).sum(dim, keepdim=True)
    half = _halves(eps, z.dtype)
    if half is not None:  # eps · log1p(rest) may overflow where the result does not
        out = (m * half + (eps * half) * torch.log1p(rest)) / half
    else:
        out = m + eps * torch.log1p(rest)
    tiny = torch.finfo(out.dtype).tiny
    if bool((eps > 1).any()) and bool((rest < tiny).any()):
        # rest is subnormal (digits lost, or 0) but eps·rest need not be: sum eps·e^{s_j}
        # directly (log1p(rest) = rest to all digits here)
        scaled = torch.exp(_shifted(z, m, eps) + torch.log(eps)).scatter(dim, top, 0.0)
        scaled = scaled.sum(dim, keepdim=True) + (eps * top_term if tracked else 0)
        out = torch.where(rest < tiny, m + scaled, out)
    return out if finite else torch.where(ok, out, torch.full_like(out, -torch.inf))


def _lse_weights_accepts(eps: torch.Tensor, dtype: torch.dtype) -> bool:
    """:func:`_lse_weights` applies to logits of ``dtype`` at these temperatures: float32 or
    float64, eps of the same dtype, every entry a normal number up to ``max/1520``."""
    if dtype not in (torch.float32, torch.float64) or eps.dtype != dtype:
        return False
    info = torch.finfo(dtype)
    return bool(((eps >= info.tiny) & (eps <= info.max / 1520)).all())


def _lse_weights(z: torch.Tensor, eps: torch.Tensor, dim: int,
                 buf: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """``LSE_eps(z)`` and the Gibbs weights from one exponential pass, for loops that need both
    (the gradient of LSE is the weights, THEORY §1): ``(out, w, total)`` with ``out`` the value
    of :func:`_lse` (``finite=True``, bit for bit: the same shift, exponentials, sum and
    ``log1p`` of T1), ``w = exp((z − m)/eps)`` (1 at the first maximum) and
    ``total = 1 + Σ_{j ≠ top} w_j``, so that ``π = w / total`` (the caller folds the division
    into its row coefficients). ``π`` equals :func:`_gibbs` to a few ulps (there the top 1 is
    summed with the rest in one reduction).

    For an untracked float32/float64 ``z`` with every row finite and a tensor eps of ``z``'s
    dtype whose entries are normal numbers up to ``max/1520`` (no float64 promotion, no halving);
    otherwise returns None (use :func:`_lse` and :func:`_gibbs`). ``w`` is written into ``buf``
    (``z``'s shape and dtype, not ``z`` itself: ``z`` is left intact). Where T1 needs its
    subnormal-rest repair (eps > 1), ``out`` is taken from :func:`_viscous_lse` on ``z``."""
    if _tracks(z, eps) or not _lse_weights_accepts(eps, z.dtype):
        return None
    info = torch.finfo(z.dtype)
    m, top = _row_top(z, dim)
    w = torch.sub(z, m, out=buf) if buf is not None else z - m
    rest = w.div_(eps).exp_().scatter_(dim, top, 0.0).sum(dim, keepdim=True)
    if bool((eps > 1).any()) and bool((rest < info.tiny).any()):
        out = _viscous_lse(z, eps, dim, finite=True)
    else:
        out = m + eps * torch.log1p(rest)
    return out, w.scatter_(dim, top, 1.0), rest + 1


def _tropical_max(z: torch.Tensor, dim: int) -> torch.Tensor:
    """``max z`` along ``dim`` (kept); ties share the gradient equally; ``-inf`` rows: zero gradient."""
    m = z.amax(dim, keepdim=True)
    return torch.where(torch.isfinite(m), m, m.detach())


def _broadcast(out: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``out`` with the shape it has for eps > 0 (broadcast against a tensor eps)."""
    shape = torch.broadcast_shapes(out.shape, eps.shape)
    return out if shape == out.shape else out.expand(shape).contiguous()


def _direct(eps: torch.Tensor, mode: str, dtype: torch.dtype) -> bool:
    """Autograd may run through ``s = (z − m)/eps`` itself for a tracked eps: every eps is
    positive and ``eps²`` is a normal number of the working dtype. There its first and second
    derivatives in eps are those of the formula, at the cost of one evaluation (the entropy
    term of :func:`_lse` makes forward and backward 3 to 5 times slower). Above the range the
    formula's second derivative goes wrong (``d²/deps²`` at eps = 1e200 read 1.7e-200 for
    1.0e-200); below it the entropy term is kept as well (the path tested down to 5e-324)."""
    if mode != EPS_POSITIVE:
        return False
    info = torch.finfo(dtype)
    e = eps.detach()
    return bool(((e >= info.tiny ** 0.5 * 2) & (e <= info.max ** 0.5 / 2)).all())


def _lse(z: torch.Tensor, eps: torch.Tensor, mode: str, dim: int, finite: bool = False) -> torch.Tensor:
    """``LSE_eps(z)`` along ``dim`` (kept), in ``z``'s dtype. ``mode`` says whether eps is all
    zero, all positive or mixed.

    ``finite=True`` assumes every row has a finite entry (−inf entries allowed) and no NaN or
    +inf: callers check the result and fall back to ``finite=False`` otherwise.

    When eps requires a gradient and lies where :func:`_direct` says, autograd runs through the
    formula itself. Otherwise (eps = 0 somewhere, or ``eps²`` outside the normal range of the
    working dtype), ``∂LSE/∂eps = H(π)`` (T2) enters through a term that is 0:
    with ``δ = eps − eps.detach()``, ``δ · H(π at eps.detach() + δ/2)``, the midpoint rule for
    ``∫ H`` over ``[eps.detach(), eps]``, whose first and second derivatives in eps (and mixed
    ones with ``z``) are those of LSE. The value is computed at a detached eps, and the eps
    derivative of the logits (:func:`_shifted`) never forms ``s/eps`` (first derivative finite
    down to eps = 5e-324; the second reads NaN below about 1e-160, where it is large but finite),
    and at eps = 0 the derivative is the one-sided limit ``log k`` for ``k`` tied maxima (the
    entropy of the tie rule)."""
    dtype = z.dtype
    z = _working(z, eps)
    e = eps.detach() if _tracks(eps) and not _direct(eps, mode, z.dtype) else eps
    if mode == EPS_ZERO:
        out = _broadcast(_tropical_max(z, dim), e)
    elif mode == EPS_POSITIVE:
        out = _viscous_lse(z, e, dim, finite)
    else:
        positive = e > 0
        out = torch.where(positive, _viscous_lse(z, torch.where(positive, e, torch.ones_like(e)), dim, finite),
                          _tropical_max(z, dim))
    if e is not eps:
        step = eps - e  # 0, with derivative 1 in eps
        out = out + step * _entropy(_gibbs(z, e + step / 2, mode, dim), dim, keepdim=True)
    return out.to(dtype)


def _gibbs(z: torch.Tensor, eps: torch.Tensor, mode: str, dim: int) -> torch.Tensor:
    """``softmax(z / eps)`` along ``dim``, in ``z``'s dtype; eps = 0: uniform over the tied maxima
    (a constant: zero derivative in ``z`` and ``eps``, the limit eps → 0+); ``-inf`` rows: zeros."""
    dtype = z.dtype
    z = _working(z, eps)

    def tropical() -> torch.Tensor:
        m = z.detach().amax(dim, keepdim=True)
        hit = (z.detach() == m) & torch.isfinite(m)
        count = hit.sum(dim, keepdim=True).clamp_min(1)
        return hit.to(z.dtype) / count.to(z.dtype)

    if mode == EPS_ZERO:
        p = _broadcast(tropical(), eps)  # piecewise constant: stays in the graph with zero gradient
        if _tracks(z, eps):  # (0 · z would be NaN at -inf entries)
            p = p + 0 * torch.where(torch.isfinite(z), z, torch.zeros_like(z)) + 0 * eps
        return p.to(dtype)
    positive = eps > 0
    safe = eps if mode == EPS_POSITIVE else torch.where(positive, eps, torch.ones_like(eps))
    s = _shifted(z, _row_max(z, dim)[0], safe)
    in_place = not _tracks(s)   # s is a fresh temporary: exp and the division can reuse it
    w = s.exp_() if in_place else torch.exp(s)
    total = w.sum(dim, keepdim=True)
    total = torch.where(total == 0, torch.ones_like(total), total)
    p = w.div_(total) if in_place else w / total
    if mode != EPS_POSITIVE:
        p = torch.where(positive, p, tropical())
    return p.to(dtype)


def _entropy(p: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    """``-Σ p log p`` along ``dim`` with ``0 log 0 = 0``."""
    if not _tracks(p):
        # vectorised log of p clamped at the smallest normal number: 0 log 0 = 0 exactly, and
        # entries below it change H by less than N·tiny·|log tiny| (~1e-35 in float32)
        return 0.0 - (p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum(dim, keepdim=keepdim)
    positive = p > 0
    logp = torch.log(torch.where(positive, p, torch.ones_like(p)))
    terms = torch.where(positive, p * logp, torch.zeros_like(p))
    return 0.0 - terms.sum(dim, keepdim=keepdim)  # 0.0 - : no -0.0


def _eps_keepdim(eps: torch.Tensor, z_ndim: int, dim: int) -> torch.Tensor:
    """Insert the reduced axis into a user eps that broadcasts against the output shape."""
    if eps.ndim == 0:
        return eps
    neg = dim - z_ndim  # negative position of the reduced axis in z
    need = -neg - 1     # output axes to the right of the reduced axis
    if eps.ndim < need:
        eps = eps.reshape((1,) * (need - eps.ndim) + tuple(eps.shape))
    return eps.unsqueeze(neg)


def _prepare(z, eps, dim, name="z", out_desc=None):
    """Validated ``z`` (at least 1-D), eps with the reduced axis kept, the mode, and ``dim`` as a
    negative axis. ``out_desc`` says in an error what the output shape is (default: ``z``
    without the axis)."""
    zt = as_tensor(z, name)
    d = check_dim(dim, zt.ndim)
    # eps in the dtype of the computation (float32 for half-precision z; see _working)
    e, mode = check_eps(eps, like=zt if zt.dtype not in _HALF else zt.new_empty(0, dtype=torch.float32))
    if zt.ndim == 0:
        zt = zt.reshape(1)
    out_shape = zt.shape[:d] + zt.shape[d + 1:]
    if e.ndim:
        try:
            torch.broadcast_shapes(e.shape, out_shape)
        except RuntimeError:
            raise ShapeError(
                f"eps: a tensor eps must broadcast against the output shape {tuple(out_shape)} "
                f"({out_desc or f'{name} without axis {d}'}), received shape {tuple(e.shape)}") from None
    return zt, _eps_keepdim(e, zt.ndim, d), mode, d - zt.ndim


def _lse_checked(zt, e, mode, neg, name="z"):
    """:func:`lse` on prepared arguments (:func:`_prepare`), reduced axis removed."""
    if zt.shape[neg] == 0:  # the empty sum: log 0 = -inf (the tropical zero) for every eps
        out = _broadcast(zt.new_full(zt.shape[:zt.ndim + neg] + (1,) + zt.shape[zt.ndim + neg + 1:],
                                     -torch.inf), e)
        return (out + 0 * e if _tracks(e) else out).squeeze(neg)
    # Fast path: exact for rows with at least one finite entry. Only a non-finite result (NaN /
    # +inf input, a row of only -inf, or a result beyond the dtype's range) needs a look at z.
    out = _lse(zt, e, mode, neg, finite=True)
    if not bool(torch.isfinite(out).all()):
        check_no_nan(zt, name)
        out = _lse(zt, e, mode, neg, finite=False)
    return out.squeeze(neg)


def _gibbs_checked(zt, e, mode, neg, name="z"):
    """:func:`gibbs` on prepared arguments (:func:`_prepare`)."""
    check_no_nan(zt, name)
    if zt.shape[neg] == 0:
        return _broadcast(zt, e).clone()  # no weights to give (shape with eps broadcast)
    return _gibbs(zt, e, mode, neg)


# ----------------------------------------------------------------------------------------------
# public functions


def lse(z, eps, dim: int = -1) -> torch.Tensor:
    r"""Log-sum-exp at temperature ``eps``: ``LSE_eps(z) = eps log Σ_j exp(z_j / eps)``.

    Computed in the form of T1 (THEORY §1), ``m + eps log1p(Σ_{j ≠ top} exp((z_j − m)/eps))``
    with ``m = z_top`` the row maximum: no exponential can overflow, and a result close to ``m``
    keeps its relative accuracy. ``eps = 0`` is the exact tropical limit ``max z``
    (T1: ``max z <= LSE_eps(z) <= max z + eps log N``).

    Args:
        z: logits, any shape; ``-inf`` entries are masked neurons (NaN and ``+inf`` are refused).
        eps: a number ``>= 0`` or a tensor of them broadcasting against the output shape
            (``z`` without ``dim``); a tensor eps vectorises over temperatures.
        dim: the axis reduced.

    Returns:
        ``z``'s shape without ``dim`` (broadcast against a tensor eps), in ``z``'s dtype and
        device. A row of only ``-inf`` gives ``-inf`` with zero gradient; an empty ``dim`` gives
        ``-inf`` (the empty sum). The computation runs in ``z``'s dtype (float32 for float16
        and bfloat16), or in float64 where eps is not a normal number of that dtype (for
        example 1e-40 in float32, 1e300 in bfloat16), and the result is rounded to ``z``'s
        dtype. Any eps ``>= 0`` that is finite in float64 is accepted in every dtype.

    The gradient with respect to ``z`` is :func:`gibbs` (THEORY §1); for ``eps = 0`` it is the
    tie rule of :func:`gibbs` (equal shares among tied maxima). The gradient with respect to a
    tensor eps is the entropy ``H(π)`` (T2); at ``eps = 0`` it is the one-sided limit
    ``eps → 0+``, ``log k`` for ``k`` tied maxima.

    Example:
        >>> import torch, hjdl
        >>> hjdl.lse(torch.tensor([0.0, 1.0]), eps=0.0)
        tensor(1.)
        >>> float(hjdl.lse(torch.tensor([0.0, -40.0], dtype=torch.float64), eps=1.0))  # log1p(e^-40)
        4.248354255291589e-18
    """
    return _lse_checked(*_prepare(z, eps, dim))


def gibbs(z, eps, dim: int = -1) -> torch.Tensor:
    r"""Gibbs weights ``π = softmax(z / eps) = ∇_z LSE_eps(z)`` along ``dim`` (THEORY §1).

    Tie rule at ``eps = 0``: the weights are shared equally among the tied maxima, which is the
    limit ``eps → 0+`` of the softmax (and the gradient of ``max`` used by :func:`lse`); their
    derivatives in ``z`` and eps are 0 there (the limit of the softmax's). ``-inf`` entries get
    weight 0; a row of only ``-inf`` gets all-zero weights. The result has ``z``'s shape
    (broadcast against a tensor eps) and dtype; the dtype of the computation is that of
    :func:`lse`.

    Example:
        >>> import torch, hjdl
        >>> hjdl.gibbs(torch.tensor([1.0, 1.0, 0.0]), eps=0)
        tensor([0.5000, 0.5000, 0.0000])
    """
    zt = as_tensor(z, "z")
    p = _gibbs_checked(*_prepare(zt, eps, dim))
    return p.squeeze(-1) if zt.ndim == 0 else p  # a 0-d z has a 0-d weight (1, or 0 if z = -inf)


def entropy(p, dim: int = -1) -> torch.Tensor:
    r"""Shannon entropy ``H(p) = −Σ_j p_j log p_j`` along ``dim``, with ``0 log 0 = 0``.

    For Gibbs weights, ``0 <= H <= log N`` and (T2) ``LSE_eps(z) = ⟨π, z⟩ + eps H(π)``.

    Example:
        >>> import torch, hjdl
        >>> round(float(hjdl.entropy(torch.full((4,), 0.25))), 6)  # log 4
        1.386294
    """
    pt = as_tensor(p, "p")
    check_finite(pt, "p")
    if bool((pt < 0).any()):
        raise InputError("p: expected probabilities (entries >= 0), received negative entries")
    d = check_dim(dim, pt.ndim, "dim")
    if pt.ndim == 0:
        pt = pt.reshape(1)
    return _entropy(pt.float(), d).to(pt.dtype) if pt.dtype in _HALF else _entropy(pt, d)
