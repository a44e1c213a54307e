"""The LSE kernel: ``lse``, its gradient ``gibbs`` and the Gibbs ``entropy`` (THEORY §1).

Every other formula of hjdl is built on the private engine here; stability lives in it
(STYLE.md practice 2): a finite shift by the row maximum, ``-inf`` entries (masked neurons),
all ``-inf`` rows, and ``eps == 0`` (the exact tropical limit) are defined explicitly.
"""

from __future__ import annotations

import torch

from .._validation import (
    EPS_POSITIVE,
    EPS_ZERO,
    as_tensor,
    check_dim,
    check_eps,
    check_no_nan,
)

__all__ = ["lse", "gibbs", "entropy"]


# ----------------------------------------------------------------------------------------------
# private engine (inputs trusted; eps already a tensor broadcastable against z with ``dim`` kept)


def _shifted(z: torch.Tensor, eps: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``s = (z − m)/eps`` and ``m``, the row maximum of ``z`` (kept axis, detached, 0 for rows
    without a finite entry). Shifting before dividing cannot overflow however small eps is, and
    keeps ``s`` (hence the backward pass of ``exp``/``logsumexp``) at the scale of the gaps
    ``z − m``, not of ``z/eps``. ``-inf`` entries stay ``-inf``; when eps requires a gradient
    they are kept out of the division (``∂s/∂eps`` would be ``inf`` there, and ``0 · inf`` NaN).
    ``m`` is detached: ``LSE = m + eps log Σ exp(s)`` holds for any ``m``."""
    m = z.detach().amax(dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    if eps.requires_grad and bool(torch.isneginf(z).any()):
        fin = torch.isfinite(z)
        s = torch.where(fin, (torch.where(fin, z, m) - m) / eps, torch.full_like(z, -torch.inf))
    elif eps.ndim == 0 and not eps.requires_grad and float(eps) == 1.0:
        s = z - m  # logits already divided by eps (the affine engine folds 1/eps into W, b)
    else:
        s = z - m
        s = s.div_(eps) if _no_graph(s, eps) and _same_shape_and_dtype(s, eps) else s / eps
    return s, m


def _no_graph(*ts: torch.Tensor) -> bool:
    """No autograd graph to keep through these tensors: fresh temporaries made from them may be
    updated in place (each pass over a large temporary then costs no new allocation)."""
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in ts))


def _same_shape_and_dtype(a: torch.Tensor, b: torch.Tensor) -> bool:
    """``a op b`` has ``a``'s shape and dtype (so that ``a.op_(b)`` computes the same result)."""
    return torch.broadcast_shapes(a.shape, b.shape) == a.shape and torch.result_type(a, b) == a.dtype


def _viscous_lse(z: torch.Tensor, eps: torch.Tensor, dim: int) -> torch.Tensor:
    """``eps log Σ exp(z/eps)`` as ``m + eps log Σ exp((z − m)/eps)`` (:func:`_shifted`), with
    ``-inf`` rows giving ``-inf`` and zero gradient."""
    s, m = _shifted(z, eps, dim)
    total = torch.exp(s).sum(dim, keepdim=True)
    empty = total == 0
    out = m + eps * torch.log(torch.where(empty, torch.ones_like(total), total))
    return torch.where(empty, torch.full_like(out, -torch.inf), out)


def _tropical_max(z: torch.Tensor, dim: int) -> torch.Tensor:
    """``max z`` along ``dim`` (kept); ties share the gradient equally; ``-inf`` rows: zero gradient."""
    m = z.amax(dim, keepdim=True)
    return torch.where(torch.isfinite(m), m, m.detach())


def _lse(z: torch.Tensor, eps: torch.Tensor, mode: str, dim: int, finite: bool = False) -> torch.Tensor:
    """``LSE_eps(z)`` along ``dim`` (kept). ``mode`` says whether eps is all zero, all positive or mixed.

    ``finite=True`` uses torch's fused ``logsumexp`` of the shifted logits (:func:`_shifted`):
    exact when every row has a finite entry (−inf entries allowed) and no NaN or +inf; callers
    check the result and fall back to ``finite=False`` (:func:`_viscous_lse`) otherwise."""
    if mode == EPS_ZERO:
        return _tropical_max(z, dim)
    def viscous(e):
        if not finite:
            return _viscous_lse(z, e, dim)
        s, m = _shifted(z, e, dim)
        return m + e * torch.logsumexp(s, dim, keepdim=True)

    if mode == EPS_POSITIVE:
        return viscous(eps)
    positive = eps > 0
    return torch.where(positive, viscous(torch.where(positive, eps, torch.ones_like(eps))),
                       _tropical_max(z, dim))


def _gibbs(z: torch.Tensor, eps: torch.Tensor, mode: str, dim: int) -> torch.Tensor:
    """``softmax(z / eps)`` along ``dim``; eps = 0: uniform over the tied maxima; ``-inf`` rows: zeros."""
    def tropical() -> torch.Tensor:
        m = z.detach().amax(dim, keepdim=True)
        hit = (z.detach() == m) & torch.isfinite(m)
        count = hit.sum(dim, keepdim=True).clamp_min(1)
        return hit.to(z.dtype) / count.to(z.dtype)

    if mode == EPS_ZERO:
        p = tropical()  # piecewise constant in z: zero gradient, but stay in the graph
        return p + 0 * z if z.requires_grad and torch.is_grad_enabled() else p
    positive = eps > 0
    safe = eps if mode == EPS_POSITIVE else torch.where(positive, eps, torch.ones_like(eps))
    s = _shifted(z, safe, dim)[0]
    in_place = _no_graph(z, eps)   # s is a fresh temporary: exp and the division can reuse it
    w = s.exp_() if in_place else torch.exp(s)
    total = w.sum(dim, keepdim=True)
    total = torch.where(total == 0, torch.ones_like(total), total)
    p = w.div_(total) if in_place else w / total
    if mode == EPS_POSITIVE:
        return p
    return torch.where(positive, p, tropical())


def _entropy(p: torch.Tensor, dim: int) -> torch.Tensor:
    """``-Σ p log p`` along ``dim`` (removed) with ``0 log 0 = 0``."""
    if not (p.requires_grad and torch.is_grad_enabled()):
        # vectorised log of p clamped at the smallest normal number: 0 log 0 = 0 exactly, and
        # entries below it change H by less than N·tiny·|log tiny| (~1e-35 in float32)
        return 0.0 - (p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum(dim)
    positive = p > 0
    logp = torch.log(torch.where(positive, p, torch.ones_like(p)))
    return 0.0 - (torch.where(positive, p * logp, torch.zeros_like(p))).sum(dim)  # 0.0 - : no -0.0


def _eps_keepdim(eps: torch.Tensor, z_ndim: int, dim: int) -> torch.Tensor:
    """Insert the reduced axis into a user eps that broadcasts against the output shape."""
    if eps.ndim == 0:
        return eps
    neg = dim - z_ndim  # negative position of the reduced axis in z
    need = -neg - 1     # output axes to the right of the reduced axis
    if eps.ndim < need:
        eps = eps.reshape((1,) * (need - eps.ndim) + tuple(eps.shape))
    return eps.unsqueeze(neg)


def _prepare(z, eps, dim, name="z"):
    zt = as_tensor(z, name)
    d = check_dim(dim, zt.ndim)
    e, mode = check_eps(eps, like=zt)
    if zt.ndim == 0:
        zt = zt.reshape(1)
    out_shape = zt.shape[:d] + zt.shape[d + 1:]
    if e.ndim:
        try:
            torch.broadcast_shapes(e.shape, out_shape)
        except RuntimeError:
            from ..errors import ShapeError
            raise ShapeError(
                f"eps: a tensor eps must broadcast against the output shape {tuple(out_shape)} "
                f"(z without axis {d}), received shape {tuple(e.shape)}") from None
    return zt, _eps_keepdim(e, zt.ndim, d), mode, d - zt.ndim


# ----------------------------------------------------------------------------------------------
# public functions


def lse(z, eps, dim: int = -1) -> torch.Tensor:
    r"""Log-sum-exp at temperature ``eps``: ``LSE_eps(z) = eps log Σ_j exp(z_j / eps)``.

    Computed as ``m + eps log Σ exp((z_j − m)/eps)`` with ``m`` the row maximum. ``eps = 0`` is
    the exact tropical limit ``max z`` (T1: ``max z <= LSE_eps(z) <= max z + eps log N``).

    Args:
        z: logits, any shape; ``-inf`` entries are masked neurons (NaN and ``+inf`` are refused).
        eps: a number ``>= 0`` or a tensor of them broadcasting against the output shape
            (``z`` without ``dim``); a tensor eps vectorises over temperatures.
        dim: the axis reduced.

    Returns:
        ``z``'s shape without ``dim``, in ``z``'s dtype and device. A row of only ``-inf``
        gives ``-inf`` with zero gradient; an empty ``dim`` gives ``-inf`` (the empty sum).

    The gradient with respect to ``z`` is :func:`gibbs` (THEORY §1); for ``eps = 0`` it is the
    tie rule of :func:`gibbs` (equal shares among tied maxima).

    Example:
        >>> import torch, hjdl
        >>> hjdl.lse(torch.tensor([0.0, 1.0]), eps=0.0)
        tensor(1.)
    """
    zt, e, mode, neg = _prepare(z, eps, dim)
    if zt.shape[neg] == 0:  # the empty sum: log 0 = -inf, the tropical zero
        shape = torch.broadcast_shapes(zt.shape, e.shape)
        return zt.new_full(shape[:len(shape) + neg] + shape[len(shape) + neg + 1:], -torch.inf)
    # Fast path: torch's fused kernel is exact for rows with at least one finite entry. Only a
    # non-finite result (NaN / +inf input, or a row of only -inf) needs a look at the input.
    out = _lse(zt, e, mode, neg, finite=True)
    if not bool(torch.isfinite(out).all()):
        check_no_nan(zt, "z")
        out = _lse(zt, e, mode, neg, finite=False)
    return out.squeeze(neg)


def gibbs(z, eps, dim: int = -1) -> torch.Tensor:
    r"""Gibbs weights ``π = softmax(z / eps) = ∇_z LSE_eps(z)`` along ``dim`` (THEORY §1).

    Tie rule at ``eps = 0``: the weights are shared equally among the tied maxima, which is the
    limit ``eps → 0+`` of the softmax (and the gradient of ``max`` used by :func:`lse`).
    ``-inf`` entries get weight 0; a row of only ``-inf`` gets all-zero weights.

    Example:
        >>> import torch, hjdl
        >>> hjdl.gibbs(torch.tensor([1.0, 1.0, 0.0]), eps=0)
        tensor([0.5000, 0.5000, 0.0000])
    """
    zt, e, mode, neg = _prepare(z, eps, dim)
    check_no_nan(zt, "z")
    if zt.shape[neg] == 0:
        return zt * e if e.ndim else zt.clone()  # no weights to give (shape with eps broadcast)
    return _gibbs(zt, e, mode, neg)


def entropy(p, dim: int = -1) -> torch.Tensor:
    r"""Shannon entropy ``H(p) = −Σ_j p_j log p_j`` along ``dim``, with ``0 log 0 = 0``.

    For Gibbs weights, ``0 <= H <= log N`` and (T2) ``LSE_eps(z) = ⟨π, z⟩ + eps H(π)``.

    Example:
        >>> import torch, hjdl
        >>> round(float(hjdl.entropy(torch.full((4,), 0.25))), 6)  # log 4
        1.386294
    """
    pt = as_tensor(p, "p")
    check_no_nan(pt, "p")
    if bool((pt < 0).any()):
        from ..errors import InputError
        raise InputError("p: expected probabilities (entries >= 0), received negative entries")
    d = check_dim(dim, pt.ndim, "dim")
    if pt.ndim == 0:
        pt = pt.reshape(1)
    return _entropy(pt, d)
