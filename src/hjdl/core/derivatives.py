"""Closed-form derivatives of the Hopf–Cole value and of the LSE layer (THEORY §3, §6).

With ``Δ_j = x − y_j`` and Gibbs weights ``π_j ∝ exp(−[g_j + Δ_jᵀA⁻¹Δ_j/(4t)]/eps)``:

    ∇u   = A⁻¹ (x − E_π y) / (2t)
    u_t  = −E_π[Δᵀ A⁻¹ Δ] / (4t²)            (+ eps d/(2t) for the normalised value)
    ∇²u  = A⁻¹/(2t) − A⁻¹ Cov_π(y) A⁻¹ / (4t² eps)

and for the layer ``f = LSE_eps(Wx + b)``: ``∇f = E_π W``, ``∇²f = Cov_π(W) / eps``.
At ``eps = 0`` the Hessians are returned as their almost-everywhere values (``A⁻¹/(2t)`` and 0);
on the power-diagram boundaries (ties) they are measures, not functions.
These are the formulas; :func:`hjdl.pde_residual` checks the PDE by autograd instead.
"""

from __future__ import annotations

import torch

from .._validation import check_eps, check_time
from ..errors import ShapeError
from .solution import _layer_and_points, _points_and_data, _sq_dists
from .initial_data import InitialData
from .kernel import _gibbs

__all__ = [
    "layer_weights",
    "lse_layer_grad",
    "lse_layer_hessian",
    "hopf_cole_weights",
    "hopf_cole_grad",
    "hopf_cole_time_derivative",
    "hopf_cole_hessian",
]


def _scalar_eps(eps, like):
    e, mode = check_eps(eps, like=like)
    if e.ndim:
        raise ShapeError(f"eps: expected a single number here, received shape {tuple(e.shape)}")
    return e, mode


def _moments(p: torch.Tensor, V: torch.Tensor, cov: bool = True):
    """Mean ``E_p V = ref + shift`` (..., d) as its two parts, and covariance ``Cov_p V``
    (..., d, d) (None unless ``cov``), of rows V (N, d).

    Central moments are shift-invariant, so they are formed from ``V_j − V_top`` (``ref = V_top``,
    the row of largest weight at each point): every term is a positive weight times an O(|V|)
    number, and the covariance keeps its relative accuracy when one weight is ~1 (the particle
    regime), where the uncentred ``E[VVᵀ] − E[V]E[V]ᵀ`` cancels catastrophically. Kept apart,
    ``x − E_p V = (x − ref) − shift`` has no cancellation either when ``x`` is close to the rows,
    however far from the origin. Memory ``O(points · N · d)``.
    """
    ref = V[p.detach().argmax(-1)]                      # (..., d)
    omega = V - ref[..., None, :]                        # (..., N, d)
    shift = (p[..., None, :] @ omega)[..., 0, :]         # E_p[V − ref]
    if not cov:
        return ref, shift, None
    dev = omega - shift[..., None, :]
    return ref, shift, (dev * p[..., None]).transpose(-1, -2) @ dev


def _zero_in_graph(value: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``value`` joined to the graph of the weights ``p`` with zero gradient (the eps = 0 Hessians
    are piecewise constant: their derivative is 0 almost everywhere, not undefined)."""
    return value + 0 * p.sum(-1)[..., None, None] if p.requires_grad else value


def _layer_inputs(x, W, b, eps):
    xt, Wt, bt = _layer_and_points(x, W, b)
    e, mode = _scalar_eps(eps, xt)
    return xt, Wt, bt, e, mode


def layer_weights(x, W, b, eps) -> torch.Tensor:
    """Gibbs weights ``π(x) = softmax((Wx + b)/eps)`` of the layer, shape ``(..., N)``."""
    xt, Wt, bt, e, mode = _layer_inputs(x, W, b, eps)
    return _gibbs(xt @ Wt.T + bt, e, mode, -1)


def lse_layer_grad(x, W, b, eps) -> torch.Tensor:
    """``∇_x f = E_π W = Σ_j π_j W_j``, shape ``(..., d)`` (THEORY §4)."""
    xt, Wt, bt, e, mode = _layer_inputs(x, W, b, eps)
    return _gibbs(xt @ Wt.T + bt, e, mode, -1) @ Wt


def lse_layer_hessian(x, W, b, eps) -> torch.Tensor:
    """``∇²_x f = Cov_π(W) / eps``, shape ``(..., d, d)`` (THEORY §6); 0 at eps = 0 (a.e.)."""
    xt, Wt, bt, e, mode = _layer_inputs(x, W, b, eps)
    p = _gibbs(xt @ Wt.T + bt, e, mode, -1)
    if float(e) == 0:
        return _zero_in_graph(p.new_zeros(*p.shape[:-1], Wt.shape[1], Wt.shape[1]), p)
    return _moments(p, Wt)[2] / e


def _hc_inputs(x, data, eps, t):
    xt, data = _points_and_data(x, data)
    e, mode = _scalar_eps(eps, xt)
    tt = check_time(t, like=xt)
    if tt.ndim:
        raise ShapeError(f"t: expected a single number here, received shape {tuple(tt.shape)}")
    return xt, data, e, mode, tt


def _hc_weights(xt, data: InitialData, e, mode, tt):
    """Gibbs weights (..., N) and the cost terms ``D_j = (x − y_j)ᵀA⁻¹(x − y_j)/(4t)`` (..., N),
    from the differences (no cancellation far from the origin, no overflow unless D does)."""
    D = _sq_dists(xt.reshape(-1, data.dim), data.y, data.whitener(), 0.5 * torch.rsqrt(tt))
    D = D.reshape(*xt.shape[:-1], data.n_atoms)
    return _gibbs(-(data.g + D), e, mode, -1), D


def hopf_cole_weights(x, data: InitialData, eps, t=1.0) -> torch.Tensor:
    """Gibbs weights over atoms ``π_j ∝ exp(−[g_j + |x − y_j|²_{A⁻¹}/(4t)]/eps)``, ``(..., N)``."""
    xt, data, e, mode, tt = _hc_inputs(x, data, eps, t)
    return _hc_weights(xt, data, e, mode, tt)[0]


def hopf_cole_grad(x, data: InitialData, eps, t=1.0) -> torch.Tensor:
    """``∇u = A⁻¹(x − E_π y)/(2t)``, shape ``(..., d)``."""
    xt, data, e, mode, tt = _hc_inputs(x, data, eps, t)
    p, _ = _hc_weights(xt, data, e, mode, tt)
    ref, shift, _ = _moments(p, data.y, cov=False)
    return data.apply_inverse((xt - ref) - shift) / (2 * tt)


def hopf_cole_time_derivative(x, data: InitialData, eps, t=1.0, normalized: bool = False) -> torch.Tensor:
    """``u_t = −E_π[Δᵀ A⁻¹ Δ]/(4t²)`` (``+ eps d/(2t)`` when ``normalized``), shape ``(...)``."""
    xt, data, e, mode, tt = _hc_inputs(x, data, eps, t)
    p, D = _hc_weights(xt, data, e, mode, tt)
    ut = -(p * D).sum(-1) / tt
    return ut + e * data.dim / (2 * tt) if normalized else ut


def hopf_cole_hessian(x, data: InitialData, eps, t=1.0) -> torch.Tensor:
    """``∇²u = A⁻¹/(2t) − A⁻¹ Cov_π(y) A⁻¹/(4t² eps)``, shape ``(..., d, d)``."""
    xt, data, e, mode, tt = _hc_inputs(x, data, eps, t)
    p, _ = _hc_weights(xt, data, e, mode, tt)
    Ainv = data.metric_inverse()
    base = (Ainv / (2 * tt)).expand(*p.shape[:-1], data.dim, data.dim)
    if float(e) == 0:
        return _zero_in_graph(base.clone(), p)
    cov = _moments(p, data.y)[2]
    return base - Ainv @ cov @ Ainv / (4 * tt * tt * e)
