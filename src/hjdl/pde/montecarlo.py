"""Feynman–Kac (Monte Carlo) evaluation of the heat semigroup (THEORY §3, check 3).

With ``w = exp(−u/ε)`` the viscous HJ equation ``u_t + ∇uᵀA∇u = ε tr(A∇²u)`` becomes the heat
equation ``w_t = ε tr(A∇²w)``, whose solution after a time ``s`` is the Gaussian average

    w(x, t + s) = E[w(x + √(2εs) A^{1/2} Z, t)],        Z ~ N(0, I_d),

so ``ũ(x, t + s) = −ε log E[exp(−u(x + √(2εs) A^{1/2} Z, t)/ε)]``. Any square root of ``A``
gives the same law; the Cholesky factor is used. Independent of :mod:`hjdl.core` (NumPy only).
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, NamedTuple

import numpy as np

from hjdl.errors import DomainError, NonFiniteError, ShapeError
from hjdl.pde.grid import _check_eps, _check_positive, _check_spd

__all__ = ["MonteCarloEstimate", "feynman_kac"]


class MonteCarloEstimate(NamedTuple):
    """``value`` (shape ``x.shape[:-1]``) and its standard error ``stderr`` in units of u."""

    value: np.ndarray
    stderr: np.ndarray


def _positive_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise DomainError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _points(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ShapeError(
            f"x must have shape (..., d) with d >= 1; got shape {x.shape} (fix: x[..., None])."
        )
    if not np.all(np.isfinite(x)):
        raise NonFiniteError("x must be finite; it holds NaN or inf.")
    return x


def _log_weights(u_fn: Callable, points: np.ndarray, eps: float) -> np.ndarray:
    """``log w = −u/ε`` at ``points`` (..., d); u = +inf (w = 0) allowed, NaN and −inf not."""
    u = np.asarray(u_fn(points), dtype=np.float64)
    if u.shape != points.shape[:-1]:
        raise ShapeError(
            f"u_fn(points) must return shape points.shape[:-1] = {points.shape[:-1]}; got {u.shape}."
        )
    if np.any(np.isnan(u)) or np.any(u == -np.inf):
        raise NonFiniteError("u_fn returned NaN or -inf (w = exp(-u/eps) would be undefined).")
    return -u / eps


def _accumulate(m: np.ndarray, s1: np.ndarray, logw: np.ndarray):
    """One chunk of a running ``Σ exp(logw)`` kept as ``exp(m) · s1`` (``m`` the running maximum).

    Returns the new ``(m, s1)``, the factor ``exp(m_old − m)`` that rescales earlier sums and
    the chunk's terms ``exp(logw − m)`` (for further moments). ``-inf`` everywhere stays 0."""
    m_new = np.maximum(m, logw.max(axis=-1))
    finite = np.isfinite(m_new)
    safe = np.where(finite, m_new, 0.0)
    with np.errstate(invalid="ignore"):
        rescale = np.where(finite, np.exp(np.where(finite, m - safe, 0.0)), 0.0)
        e = np.exp(logw - safe[..., None])
    return m_new, s1 * rescale + e.sum(axis=-1), rescale, e


def feynman_kac(
    u_fn: Callable,
    x,
    eps: float,
    s: float,
    A=None,
    n_samples: int = 100_000,
    rng: np.random.Generator | None = None,
    chunk: int = 16_384,
) -> MonteCarloEstimate:
    """Monte Carlo estimate of ``ũ(x, t+s) = −ε log E[exp(−u(x + √(2εs) A^{1/2} Z, t)/ε)]`` (§3).

    The mean of ``w = exp(−u/ε)`` is accumulated in log space (a running maximum shift, as in
    log-mean-exp), so ``u/ε`` of any size neither overflows nor underflows. The standard error
    follows from the delta method, ``SE_u = ε · SE_w / mean_w`` with
    ``SE_w = sd(w)/√n``; the ratio is computed from shifted sums, never from ``w`` itself.
    All points ``x`` share the same normal draws (common random numbers), taken from ``rng``
    ``chunk`` rows at a time; the draws, hence the result, do not depend on ``chunk``.

    Parameters
    ----------
    u_fn : callable ``u_fn(points) -> values``
        ``u(·, t)`` at ``points`` of shape ``(..., d)``, returning shape ``(...)``.
    x : array, shape (..., d)
        Evaluation points.
    eps : float
        Viscosity ``ε > 0``.
    s : float
        Time step ``s > 0`` of the heat semigroup.
    A : array (d, d), optional
        Symmetric positive definite diffusion matrix (default identity).
    n_samples : int
        Number of normal draws ``n ≥ 2``.
    rng : numpy.random.Generator, optional
        Source of randomness (default ``numpy.random.default_rng(0)``: deterministic).
    chunk : int
        Draws per batch (memory is ``O(prod(x.shape[:-1]) · chunk · d)``).

    Returns
    -------
    MonteCarloEstimate ``(value, stderr)``, both of shape ``x.shape[:-1]``, float64.

    Example
    -------
    >>> import numpy as np
    >>> eps, t, s = 0.5, 1.0, 0.5
    >>> u_t = lambda p: (p**2).sum(-1) / (4 * t) + eps / 2 * np.log(4 * np.pi * eps * t)
    >>> est = feynman_kac(u_t, np.array([[0.3]]), eps, s, n_samples=20_000)
    >>> exact = 0.3**2 / (4 * (t + s)) + eps / 2 * np.log(4 * np.pi * eps * (t + s))
    >>> bool(abs(est.value[0] - exact) < 4 * est.stderr[0])
    True
    """
    if not callable(u_fn):
        raise DomainError(f"u_fn must be callable (points) -> values; got {u_fn!r}.")
    eps = _check_eps(eps, allow_zero=False)
    s = _check_positive("s", s)
    x = _points(x)
    _, L = _check_spd(A, x.shape[-1])
    n = _positive_int("n_samples", n_samples, 2)
    chunk = _positive_int("chunk", chunk, 1)
    if rng is None:
        rng = np.random.default_rng(0)
    elif not isinstance(rng, np.random.Generator):
        raise DomainError(
            f"rng must be a numpy.random.Generator; got {type(rng).__name__} "
            "(fix: numpy.random.default_rng(seed))."
        )

    d = x.shape[-1]
    batch = x.shape[:-1]
    scale = math.sqrt(2.0 * eps * s) * L  # rows of Z @ scale.T ~ N(0, 2εs A)
    m = np.full(batch, -np.inf)  # running max of log w
    s1 = np.zeros(batch)  # Σ exp(l − m)
    s2 = np.zeros(batch)  # Σ exp(2(l − m))
    done = 0
    while done < n:
        k = min(chunk, n - done)
        z = rng.standard_normal((k, d)) @ scale.T
        logw = _log_weights(u_fn, x[..., None, :] + z, eps)  # (*batch, k)
        m, s1, rescale, e = _accumulate(m, s1, logw)
        s2 = s2 * rescale**2 + (e * e).sum(axis=-1)
        done += k

    hit = s1 > 0  # at least one sample with w > 0
    mean_scaled = np.where(hit, s1, 1.0) / n
    var_scaled = np.maximum(np.where(hit, s2, 0.0) - n * mean_scaled**2, 0.0) / (n - 1)
    value = np.where(hit, -eps * (np.where(hit, m, 0.0) + np.log(mean_scaled)), np.inf)
    stderr = np.where(hit, eps * np.sqrt(var_scaled / n) / mean_scaled, np.inf)
    return MonteCarloEstimate(value, stderr)
