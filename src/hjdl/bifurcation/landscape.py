r"""The entropy landscape ``H(x; eps) = H(π(Wx + b; eps))`` and its derivatives (THEORY §5).

With ``z = Wx + b``, ``π = softmax(z/eps)`` and centred moments under π,

    H          = LSE_eps(z)/eps − E_π z / eps
    ∇_x H      = Cov_π(W, −log π) / eps = −Cov_π(W, z) / eps²
    ∇²_x H     = −[Cov_π(W) + E_π[(W − W̄)(W − W̄)ᵀ (z − z̄)] / eps] / eps²
    ∂∇_x H/∂log eps = −2 ∇_x H + E_π[(W − W̄)(z − z̄)²] / eps³

(the last from ``∂π_j/∂eps = −π_j (z_j − z̄)/eps²``). Central moments are shift-invariant; they
are formed from ``W_j − W_top`` and ``z_j − z_top`` (the top neuron of each point), so every term
is a sum of positive weights ``π_j`` times ``O(1)`` numbers and keeps full relative accuracy in
the particle regime, where ``1 − π_top`` is far below machine epsilon. (The uncentred
``E[VVᵀ] − E[V]E[V]ᵀ`` would cancel catastrophically there.) The derivatives are only limited by
underflow of the Gibbs weights themselves: see ``plateau_tol`` in :func:`critical_points`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import EPS_POSITIVE, as_tensor, check_eps, check_finite, check_layer, \
    check_points, common
from ..core.kernel import _entropy, _gibbs
from ..errors import EpsilonError, ShapeError

__all__ = ["Landscape", "entropy_landscape"]


@dataclass
class Landscape:
    """``H`` ``(...)``, ``grad`` ``(..., d)``, ``hess`` ``(..., d, d)`` of the entropy landscape;
    ``d_grad_dlog_eps`` ``(..., d)`` when requested (else ``None``); ``second_weight`` ``(...)``:
    the second-largest Gibbs weight (how far from an underflow plateau the point is)."""

    H: torch.Tensor
    grad: torch.Tensor
    hess: torch.Tensor
    d_grad_dlog_eps: torch.Tensor | None
    second_weight: torch.Tensor


def _check_layer(W, b, like=None):
    return check_layer(W, b)


def _check_positive_eps(eps, like, name="eps"):
    e, mode = check_eps(eps, like=like, name=name)
    if e.ndim:
        raise ShapeError(f"{name}: expected a single number, received shape {tuple(e.shape)}")
    if mode != EPS_POSITIVE:
        raise EpsilonError(f"{name}: the entropy landscape needs eps > 0, received {float(e)!r} "
                           "(at eps = 0 the Gibbs weights are one-hot and H = 0 almost everywhere)")
    return e


def _landscape(x, W, b, eps, order: int = 2, with_eps: bool = False):
    """Engine: x (P, d), W (N, d), b (N,), eps 0-d tensor > 0 (all trusted, one dtype)."""
    z = x @ W.T + b                                              # (P, N)
    pi = _gibbs(z, eps, EPS_POSITIVE, -1)
    H = _entropy(pi, -1)
    top = z.detach().argmax(-1)                                  # (P,)
    zeta = z - z.gather(-1, top[:, None])                        # z − z_top
    omega = W[None, :, :] - W[top][:, None, :]                   # W − W_top   (P, N, d)
    dz = zeta - (pi * zeta).sum(-1, keepdim=True)                # z − z̄
    dw = omega - (pi[:, None, :] @ omega)                        # W − W̄   (P, N, d)
    pdz = pi * dz
    grad = -(pdz[:, None, :] @ dw)[:, 0] / eps**2
    hess = dgrad = None
    if order >= 2:
        cov = (dw * pi[..., None]).transpose(1, 2) @ dw
        third = (dw * pdz[..., None]).transpose(1, 2) @ dw
        hess = -(cov + third / eps) / eps**2
    if with_eps:
        dgrad = -2 * grad + ((pdz * dz)[:, None, :] @ dw)[:, 0] / eps**3
    second = torch.topk(pi, 2, -1).values[:, 1] if pi.shape[-1] > 1 else torch.zeros_like(H)
    return H, grad, hess, dgrad, second


def entropy_landscape(x, W, b, eps, *, with_eps_derivative: bool = False) -> Landscape:
    r"""``H(x; eps)``, ``∇_x H`` and ``∇²_x H`` in closed form, batched (THEORY §5).

    Args:
        x: points ``(..., d)``.
        W: ``(N, d)``; b: ``(N,)`` (an LSE layer; for atoms ``y_j``, values ``g_j`` at time ``t``
            use ``W, b = hjdl.from_initial_data(hjdl.InitialData(y, g), t)``).
        eps: a single number ``> 0``.
        with_eps_derivative: also return ``∂(∇_x H)/∂ log eps`` (used by continuation in eps).

    Returns:
        :class:`Landscape` in ``x``'s (promoted) dtype.

    Example:
        >>> import torch
        >>> from hjdl.bifurcation import entropy_landscape
        >>> W, b = torch.tensor([[1.0], [-1.0]]), torch.zeros(2)
        >>> L = entropy_landscape(torch.tensor([[0.0]]), W, b, eps=0.5)   # symmetric point
        >>> round(float(L.H[0]), 6), abs(float(L.grad[0, 0])), bool(L.hess[0, 0, 0] < 0)  # max = log 2
        (0.693147, 0.0, True)
    """
    Wt, bt = _check_layer(W, b)
    xt = as_tensor(x, "x")
    xt, Wt, bt = common(xt, Wt, bt, names=("x", "W", "b"))
    check_points(xt, Wt.shape[1], "x", "W")
    check_finite(xt, "x")
    e = _check_positive_eps(eps, xt)
    shape, d = xt.shape[:-1], Wt.shape[1]
    H, g, h, dg, sec = _landscape(xt.reshape(-1, d), Wt, bt, e, 2, with_eps_derivative)
    return Landscape(H=H.reshape(shape), grad=g.reshape(*shape, d), hess=h.reshape(*shape, d, d),
                     d_grad_dlog_eps=None if dg is None else dg.reshape(*shape, d),
                     second_weight=sec.reshape(shape))
