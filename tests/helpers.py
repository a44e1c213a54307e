"""Shared test helpers: the one dtype-keyed tolerance function and convergence-order fits."""

from __future__ import annotations

import numpy as np
import torch


def tol(dtype: torch.dtype, scale: float = 1.0, factor: float = 64.0) -> float:
    """Absolute tolerance for a quantity of magnitude ``scale`` computed in ``dtype``."""
    return factor * float(torch.finfo(dtype).eps) * max(1.0, abs(scale))


def fitted_order(hs, errors) -> float:
    """Least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(np.asarray(hs, float)), np.log(np.asarray(errors, float)), 1)[0])


def numpy_hopf_cole(points, t, y, g, A, eps, normalized=True):
    """Float64 NumPy oracle, straight from the definition (THEORY §2–§3):

    ``ũ = −ε log Σ_j exp(−[g_j + (x−y_j)ᵀA⁻¹(x−y_j)/(4t)]/ε) + (εd/2) log(4πεt) + (ε/2) log det A``;
    ``normalized=False`` drops the two log terms (T3); ``eps = 0`` gives the Hopf–Lax minimum.
    ``A=None`` is the identity.
    """
    y, g = np.asarray(y, float), np.asarray(g, float)
    d = y.shape[1]
    A = np.eye(d) if A is None else np.asarray(A, float)
    diff = np.asarray(points, float)[..., None, :] - y
    cost = g + np.einsum("...ni,ij,...nj->...n", diff, np.linalg.inv(A), diff) / (4 * t)
    if eps == 0:
        return cost.min(axis=-1)
    z = -cost / eps
    top = z.max(axis=-1)
    u = -eps * (top + np.log(np.exp(z - top[..., None]).sum(axis=-1)))
    if normalized:
        u = u + eps * d / 2 * np.log(4 * np.pi * eps * t) + eps / 2 * np.log(np.linalg.det(A))
    return u
