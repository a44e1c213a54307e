"""Gauss–Hermite evaluation of the heat semigroup (THEORY §3, check 3, deterministic variant).

The same Gaussian average as :func:`hjdl.pde.montecarlo.feynman_kac`,

    ũ(x, t + s) = −ε log E[exp(−u(x + √(2εs) A^{1/2} Z, t)/ε)],     Z ~ N(0, I_d),

by the tensor-product Gauss–Hermite rule ``E[f(Z)] ≈ π^{−d/2} Σ_i Π_k ω_{i_k} f(√2 ξ_i)``
(nodes ``ξ``, weights ``ω`` of ``∫ e^{−ξ²} f``), summed in log space. Independent of
:mod:`hjdl.core` (NumPy only).

Accuracy: for the Hopf–Cole value of THEORY §3 (a sum of Gaussians in x) the integrand times
the normal density is, per atom, a Gaussian in Z of width ``√(t/(t+s))`` centred at
``z*_j = √s A^{−1/2}(y_j − x) / ((t+s)√(2ε))``. The rule is exponentially accurate (to round-off
with the default 40 nodes) while the dominant ``|z*_j|`` lie well inside the node range
``|√2 ξ| ≲ 2√order`` and ``s`` is not large against ``t``; it degrades when ``ε`` is tiny
against ``s·|y_j − x|²/(t+s)²`` or when ``s ≫ t``. ``return_error_estimate`` flags this.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from hjdl.errors import DomainError, ShapeError
from hjdl.pde.grid import _check_eps, _check_positive, _check_spd
from hjdl.pde.montecarlo import _accumulate, _log_weights, _points, _positive_int

__all__ = ["MAX_DIMENSION", "heat_semigroup_gauss_hermite"]

#: Largest dimension accepted (the tensor rule has ``order**d`` nodes).
MAX_DIMENSION = 3


def _tensor_rule(order: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``√2 ξ`` (M, d) and log weights (M,) of ``E[f(Z)]``, ``Z ~ N(0, I_d)``."""
    xi, omega = np.polynomial.hermite.hermgauss(order)
    nodes = np.sqrt(2.0) * xi
    logw = np.log(omega) - 0.5 * math.log(math.pi)
    grids = np.meshgrid(*([nodes] * d), indexing="ij")
    lgrids = np.meshgrid(*([logw] * d), indexing="ij")
    points = np.stack([g.ravel() for g in grids], axis=-1)
    return points, np.sum([g.ravel() for g in lgrids], axis=0)


def _semigroup(u_fn, x, eps, scale, order, chunk):
    nodes, logw = _tensor_rule(order, x.shape[-1])
    batch = x.shape[:-1]
    m = np.full(batch, -np.inf)
    s1 = np.zeros(batch)
    for start in range(0, nodes.shape[0], chunk):
        z = nodes[start : start + chunk] @ scale.T
        logf = _log_weights(u_fn, x[..., None, :] + z, eps) + logw[start : start + chunk]
        m, s1, _, _ = _accumulate(m, s1, logf)
    hit = s1 > 0
    return np.where(hit, -eps * (np.where(hit, m, 0.0) + np.log(np.where(hit, s1, 1.0))), np.inf)


def heat_semigroup_gauss_hermite(
    u_fn: Callable,
    x,
    eps: float,
    s: float,
    A=None,
    order: int = 40,
    *,
    chunk: int = 4096,
    return_error_estimate: bool = False,
):
    """``ũ(x, t+s) = −ε log E[exp(−u(x + √(2εs) A^{1/2} Z, t)/ε)]`` by Gauss–Hermite (§3).

    Tensor-product rule with ``order`` nodes per axis (``order**d`` evaluations per point,
    ``d ≤ 3``), accumulated in log space so that ``u/ε`` of any size is safe. Deterministic.

    Parameters
    ----------
    u_fn : callable ``u_fn(points) -> values``
        ``u(·, t)`` at ``points`` of shape ``(..., d)``, returning shape ``(...)``.
    x : array, shape (..., d)
        Evaluation points, ``1 ≤ d ≤ 3``.
    eps : float
        Viscosity ``ε > 0``.
    s : float
        Time step ``s > 0``.
    A : array (d, d), optional
        Symmetric positive definite diffusion matrix (default identity); its Cholesky factor
        is used as ``A^{1/2}`` (the law of ``A^{1/2}Z`` is the same for any square root).
    order : int
        Nodes per axis, ``1 ≤ order ≤ 200``.
    chunk : int
        Nodes evaluated per batch (memory ``O(prod(x.shape[:-1]) · chunk · d)``).
    return_error_estimate : bool
        Also return ``|Q_order − Q_{order//2}|``, a pessimistic estimate of the error (it is
        the error of the coarser rule when the finer one has converged).

    Returns
    -------
    ndarray of shape ``x.shape[:-1]`` (float64), or ``(value, error_estimate)``.

    Example
    -------
    >>> import numpy as np
    >>> eps, t, s = 0.5, 1.0, 0.5
    >>> u_t = lambda p: (p**2).sum(-1) / (4 * t) + eps / 2 * np.log(4 * np.pi * eps * t)
    >>> value = heat_semigroup_gauss_hermite(u_t, np.array([[0.3]]), eps, s)
    >>> exact = 0.3**2 / (4 * (t + s)) + eps / 2 * np.log(4 * np.pi * eps * (t + s))
    >>> bool(abs(value[0] - exact) < 1e-12)
    True
    """
    if not callable(u_fn):
        raise DomainError(f"u_fn must be callable (points) -> values; got {u_fn!r}.")
    eps = _check_eps(eps, allow_zero=False)
    s = _check_positive("s", s)
    x = _points(x)
    d = x.shape[-1]
    if d > MAX_DIMENSION:
        raise ShapeError(
            f"x must have d <= {MAX_DIMENSION} columns for the tensor Gauss–Hermite rule "
            f"(order**d nodes); got d = {d} (fix: use hjdl.pde.feynman_kac)."
        )
    _, L = _check_spd(A, d)
    order = _positive_int("order", order, 1)
    if order > 200:
        raise DomainError(f"order must be an integer in [1, 200]; got {order!r}.")
    chunk = _positive_int("chunk", chunk, 1)
    scale = math.sqrt(2.0 * eps * s) * L
    value = _semigroup(u_fn, x, eps, scale, order, chunk)
    if not return_error_estimate:
        return value
    coarse = _semigroup(u_fn, x, eps, scale, max(1, order // 2), chunk)
    with np.errstate(invalid="ignore"):
        err = np.where(value == coarse, 0.0, np.abs(value - coarse))
    return value, err

