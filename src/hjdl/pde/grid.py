"""Finite-difference solver of the viscous Hamilton–Jacobi equation (THEORY §3, check 2).

The equation is

    u_t + ∇uᵀ A ∇u = ε tr(A ∇²u),        H(p) = pᵀ A p,  A symmetric positive definite,

solved on a uniform tensor grid with Dirichlet data on the boundary ring:

* Hamiltonian: a monotone Lax–Friedrichs numerical Hamiltonian built from the one-sided
  differences ``p⁻_k = (u_i − u_{i−e_k})/h_k`` and ``p⁺_k = (u_{i+e_k} − u_i)/h_k``,

      Ĥ(p⁻, p⁺) = H((p⁻ + p⁺)/2) − Σ_k α_k (p⁺_k − p⁻_k)/2,

  with ``α_k = 2 Σ_l |A_kl| max(|p⁻_l|, |p⁺_l|) ≥ |∂H/∂p_k|`` over the box spanned by
  ``p⁻, p⁺`` (maximised over the grid for ``"lax-friedrichs"``, point by point for
  ``"local-lax-friedrichs"``). The artificial viscosity ``α_k h_k/2 · u_kk`` makes the scheme
  first-order accurate.
* Viscosity: central second differences ``ε Σ_k A_kk δ²_k u`` plus the cross terms
  ``2 ε A_kl δ_k δ_l u`` (central four-point cross difference), second-order accurate.
* Time: explicit SSP-RK2 (Heun) with ``dt = cfl / (Σ_k α_k/h_k + 2ε Σ_k A_kk/h_k²
  + ε Σ_{k≠l} |A_kl|/(h_k h_l))`` (the hyperbolic and parabolic limits combined), the last
  step shortened to land exactly on ``t1``.

This module is independent of :mod:`hjdl.core` (NumPy only, float64) so that it can check the
closed-form Hopf–Cole value of THEORY §3. :func:`grid_convergence` and :func:`observed_order`
measure the order of convergence under refinement.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import numpy as np

from hjdl.errors import (
    ConvergenceError,
    DomainError,
    EpsilonError,
    NonFiniteError,
    NotPositiveDefiniteError,
    ShapeError,
    UnknownNameError,
)

__all__ = [
    "NUMERICAL_HAMILTONIANS",
    "GridConvergence",
    "OrderFit",
    "grid_convergence",
    "observed_order",
    "solve_viscous_hj",
]


# ----------------------------------------------------------------------------------------------
# Validation shared by the pde solvers (grid, Monte Carlo, quadrature).
# ----------------------------------------------------------------------------------------------
def _real_scalar(name: str, value, error=DomainError) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray)):
        raise error(f"{name} must be a real number; got {value!r} of type {type(value).__name__}.")
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise error(f"{name} must be a scalar; got an array of shape {value.shape}.")
        value = value.item()
    value = float(value)
    if not math.isfinite(value):
        raise error(f"{name} must be finite; got {value!r}.")
    return value


def _check_eps(eps, *, allow_zero: bool) -> float:
    """Return ``eps`` as a float; ``eps > 0`` (or ``>= 0`` when ``allow_zero``)."""
    accepted = "a finite number >= 0" if allow_zero else "a finite number > 0"
    if isinstance(eps, bool) or not isinstance(eps, (numbers.Real, np.ndarray)):
        raise EpsilonError(f"eps must be {accepted}; got {eps!r} of type {type(eps).__name__}.")
    if isinstance(eps, np.ndarray) and eps.ndim != 0:
        raise EpsilonError(f"eps must be a scalar ({accepted}); got an array of shape {eps.shape}.")
    value = float(eps)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        fix = "" if allow_zero else " (eps = 0 has no Hopf–Cole transform w = exp(-u/eps))"
        raise EpsilonError(f"eps must be {accepted}; got {value!r}{fix}.")
    return value


def _check_positive(name: str, value) -> float:
    v = _real_scalar(name, value)
    if v <= 0:
        raise DomainError(f"{name} must be > 0; got {v!r}.")
    return v


def _check_spd(A, d: int | None, name: str = "A") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(A, L)`` with ``A`` a float64 (d, d) SPD matrix and ``L`` its Cholesky factor.

    ``d = None`` infers the dimension from ``A``. ``A = None`` means the identity (``d`` needed).
    """
    if A is None:
        if d is None:
            raise ShapeError(f"{name}=None needs the dimension from another argument.")
        eye = np.eye(d)
        return eye, eye
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or (d is not None and A.shape[0] != d):
        want = f"({d}, {d})" if d is not None else "(d, d)"
        raise ShapeError(f"{name} must be a square matrix of shape {want}; got shape {A.shape}.")
    if not np.all(np.isfinite(A)):
        raise NonFiniteError(f"{name} must have finite entries; got {A.tolist()}.")
    scale = max(float(np.max(np.abs(A))), np.finfo(np.float64).tiny)
    if np.max(np.abs(A - A.T)) > 1e-12 * scale:
        raise NotPositiveDefiniteError(
            f"{name} must be symmetric positive definite; got a non-symmetric matrix {A.tolist()} "
            f"(fix: pass (A + A.T) / 2)."
        )
    A = 0.5 * (A + A.T)
    try:
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise NotPositiveDefiniteError(
            f"{name} must be symmetric positive definite; got {A.tolist()} with eigenvalues "
            f"{np.linalg.eigvalsh(A).tolist()} (all must be > 0)."
        ) from None
    return A, L


# ----------------------------------------------------------------------------------------------
# Numerical Hamiltonians: each maps (p_minus, p_plus, A) -> (H_hat, alpha) where p_minus and
# p_plus are lists (one array per axis) and alpha (d,) is a global bound of |dH/dp_k| for the CFL.
# ----------------------------------------------------------------------------------------------
def _box_bound(p_minus, p_plus, A, reduce_global: bool):
    """``α_k = 2 Σ_l |A_kl| P_l`` with ``P_l = max(|p⁻_l|, |p⁺_l|)`` (pointwise or grid max)."""
    P = [np.maximum(np.abs(m), np.abs(p)) for m, p in zip(p_minus, p_plus)]
    if reduce_global:
        P = [float(np.max(q)) if q.size else 0.0 for q in P]
    absA = np.abs(A)
    d = len(P)
    return [2.0 * sum(absA[k, l] * P[l] for l in range(d)) for k in range(d)]


def _hamiltonian_mean(p_minus, p_plus, A):
    pbar = [0.5 * (m + p) for m, p in zip(p_minus, p_plus)]
    d = len(pbar)
    out = A[0, 0] * pbar[0] * pbar[0]
    for k in range(d):
        for l in range(k, d):
            if k == l == 0:
                continue
            coef = A[k, l] if k == l else 2.0 * A[k, l]
            if coef != 0.0:
                out = out + coef * pbar[k] * pbar[l]
    return out


def _lax_friedrichs(p_minus, p_plus, A):
    alpha = _box_bound(p_minus, p_plus, A, reduce_global=True)
    h_hat = _hamiltonian_mean(p_minus, p_plus, A)
    for k, a in enumerate(alpha):
        h_hat = h_hat - 0.5 * a * (p_plus[k] - p_minus[k])
    return h_hat, np.asarray(alpha)


def _local_lax_friedrichs(p_minus, p_plus, A):
    alpha = _box_bound(p_minus, p_plus, A, reduce_global=False)
    h_hat = _hamiltonian_mean(p_minus, p_plus, A)
    for k, a in enumerate(alpha):
        h_hat = h_hat - 0.5 * a * (p_plus[k] - p_minus[k])
    return h_hat, np.asarray([float(np.max(a)) if a.size else 0.0 for a in alpha])


#: Registered numerical Hamiltonians (name -> function); both are monotone and first order.
NUMERICAL_HAMILTONIANS: dict[str, Callable] = {
    "lax-friedrichs": _lax_friedrichs,
    "local-lax-friedrichs": _local_lax_friedrichs,
}


# ----------------------------------------------------------------------------------------------
# The semi-discrete operator.
# ----------------------------------------------------------------------------------------------
def _window(d: int, offsets: dict[int, int]) -> tuple[slice, ...]:
    """Slices selecting the interior shifted by ``offsets[k]`` (−1, 0, +1) along axis k."""
    out = []
    for k in range(d):
        o = offsets.get(k, 0)
        out.append(slice(1 + o, (-1 + o) or None))
    return tuple(out)


def _rhs(u, h, A, eps, hamiltonian):
    """``−Ĥ(p⁻, p⁺) + ε[Σ_k A_kk δ²_k u + 2 Σ_{k<l} A_kl δ_kδ_l u]`` on the interior."""
    d = u.ndim
    centre = u[_window(d, {})]
    p_minus, p_plus = [], []
    for k in range(d):
        p_plus.append((u[_window(d, {k: 1})] - centre) / h[k])
        p_minus.append((centre - u[_window(d, {k: -1})]) / h[k])
    h_hat, alpha = hamiltonian(p_minus, p_plus, A)
    out = -h_hat
    if eps > 0:
        visc = A[0, 0] * (p_plus[0] - p_minus[0]) / h[0]
        for k in range(1, d):
            visc = visc + A[k, k] * (p_plus[k] - p_minus[k]) / h[k]
        for k in range(d):
            for l in range(k + 1, d):
                if A[k, l] == 0.0:
                    continue
                cross = (
                    u[_window(d, {k: 1, l: 1})]
                    - u[_window(d, {k: 1, l: -1})]
                    - u[_window(d, {k: -1, l: 1})]
                    + u[_window(d, {k: -1, l: -1})]
                ) / (4.0 * h[k] * h[l])
                visc = visc + 2.0 * A[k, l] * cross
        out = out + eps * visc
    return out, alpha


def _check_axes(axes) -> tuple[list[np.ndarray], np.ndarray]:
    if isinstance(axes, np.ndarray) and axes.ndim == 1:
        raise ShapeError(
            "axes must be a tuple of 1-D coordinate arrays, one per dimension; got a single "
            f"array of shape {axes.shape} (fix: pass (x,) for a 1-D grid)."
        )
    try:
        axes = [np.asarray(a, dtype=np.float64) for a in axes]
    except TypeError:
        raise ShapeError(
            f"axes must be a tuple of 1-D coordinate arrays; got {type(axes).__name__}."
        ) from None
    if len(axes) == 0:
        raise ShapeError("axes must hold at least one coordinate array; got an empty sequence.")
    h = np.empty(len(axes))
    for k, a in enumerate(axes):
        if a.ndim != 1 or a.size < 3:
            raise ShapeError(
                f"axes[{k}] must be a 1-D array of at least 3 coordinates; got shape {a.shape}."
            )
        if not np.all(np.isfinite(a)):
            raise NonFiniteError(f"axes[{k}] must be finite; it holds NaN or inf.")
        steps = np.diff(a)
        h[k] = (a[-1] - a[0]) / (a.size - 1)
        if h[k] <= 0 or np.max(np.abs(steps - h[k])) > 1e-9 * max(abs(h[k]), 1.0):
            raise DomainError(
                f"axes[{k}] must be uniformly spaced and increasing; got spacings from "
                f"{steps.min()!r} to {steps.max()!r} (fix: use numpy.linspace)."
            )
    return axes, h


def solve_viscous_hj(
    u_init,
    axes: Sequence,
    A,
    eps: float,
    t0: float,
    t1: float,
    boundary: Callable,
    cfl: float = 0.4,
    scheme: str = "lax-friedrichs",
    *,
    return_steps: bool = False,
    max_steps: int = 1_000_000,
):
    """Solve ``u_t + ∇uᵀA∇u = ε tr(A∇²u)`` from ``t0`` to ``t1`` on a uniform grid (THEORY §3).

    Monotone Lax–Friedrichs Hamiltonian ``Ĥ = H((p⁻+p⁺)/2) − Σ_k α_k (p⁺_k − p⁻_k)/2``,
    central differences for ``ε tr(A∇²u)`` (cross terms included), SSP-RK2 in time under the
    combined CFL ``dt · (Σ α_k/h_k + 2ε Σ A_kk/h_k² + ε Σ_{k≠l}|A_kl|/(h_k h_l)) = cfl``.
    First order in ``h`` (the artificial viscosity is ``α_k h_k/2``). Computed in float64.

    Parameters
    ----------
    u_init : array, shape ``tuple(len(a) for a in axes)``
        Values at ``t0`` on the grid (``indexing="ij"``).
    axes : tuple of 1-D arrays
        Uniformly spaced, increasing coordinates, one array (≥ 3 points) per dimension.
        Tested for d = 1 and d = 2; the code is dimension-generic.
    A : array, shape (d, d)
        Symmetric positive definite matrix of the Hamiltonian ``H(p) = pᵀAp``.
    eps : float
        Viscosity ``ε ≥ 0`` (``ε = 0`` solves the inviscid equation; the monotone scheme then
        converges to the viscosity solution, the Hopf–Lax value T4).
    t0, t1 : float
        Start and end times, ``t1 ≥ t0``.
    boundary : callable ``boundary(t, *mesh) -> array``
        Dirichlet data: called with ``mesh = numpy.meshgrid(*axes, indexing="ij")`` and returns
        values broadcastable to the grid shape; only the boundary ring is used.
    cfl : float
        Courant number in ``(0, 1]``.
    scheme : str
        A key of :data:`NUMERICAL_HAMILTONIANS` (``"lax-friedrichs"`` or
        ``"local-lax-friedrichs"``).
    return_steps : bool
        Also return the number of time steps taken.
    max_steps : int
        Raise :class:`~hjdl.errors.ConvergenceError` beyond this many steps.

    Returns
    -------
    u : ndarray, grid shape, float64 — the solution at ``t1`` (boundary ring = Dirichlet data);
    or ``(u, n_steps)`` when ``return_steps``.

    Example
    -------
    >>> import numpy as np
    >>> x = np.linspace(-2.0, 2.0, 81)
    >>> exact = lambda t, x: x**2 / (4 * t) + 0.5 * 0.5 * np.log(4 * np.pi * 0.5 * t)
    >>> u = solve_viscous_hj(exact(1.0, x), (x,), [[1.0]], 0.5, 1.0, 1.25, exact)
    >>> bool(np.max(np.abs(u - exact(1.25, x))) < 1e-2)
    True
    """
    axes, h = _check_axes(axes)
    d = len(axes)
    shape = tuple(a.size for a in axes)
    A, _ = _check_spd(A, d)
    eps = _check_eps(eps, allow_zero=True)
    t0 = _real_scalar("t0", t0)
    t1 = _real_scalar("t1", t1)
    if t1 < t0:
        raise DomainError(f"t1 must be >= t0; got t0={t0!r}, t1={t1!r}.")
    cfl = _real_scalar("cfl", cfl)
    if not 0 < cfl <= 1:
        raise DomainError(f"cfl must be in (0, 1]; got {cfl!r}.")
    if scheme not in NUMERICAL_HAMILTONIANS:
        raise UnknownNameError(
            f"scheme {scheme!r} is not known; known schemes: {sorted(NUMERICAL_HAMILTONIANS)}."
        )
    hamiltonian = NUMERICAL_HAMILTONIANS[scheme]
    if not callable(boundary):
        raise DomainError(f"boundary must be callable (t, *mesh) -> values; got {boundary!r}.")
    u = np.array(u_init, dtype=np.float64, copy=True)
    if u.shape != shape:
        raise ShapeError(f"u_init must have the grid shape {shape}; got shape {u.shape}.")
    if not np.all(np.isfinite(u)):
        raise NonFiniteError("u_init must be finite; it holds NaN or inf.")

    mesh = np.meshgrid(*axes, indexing="ij")
    inner = _window(d, {})

    def with_boundary(t, interior):
        b = boundary(t, *mesh)
        try:
            out = np.array(np.broadcast_to(np.asarray(b, dtype=np.float64), shape))
        except ValueError:
            raise ShapeError(
                f"boundary(t, *mesh) must return values of the grid shape {shape}; got shape "
                f"{np.shape(b)}."
            ) from None
        out[inner] = interior
        return out

    u = with_boundary(t0, u[inner])
    den_parab = 2.0 * eps * float(np.sum(np.diag(A) / h**2))
    den_parab += eps * float(np.sum(np.abs(A - np.diag(np.diag(A))) / np.outer(h, h)))

    t, n_steps = t0, 0
    while t < t1:
        if n_steps >= max_steps:
            raise ConvergenceError(
                f"solve_viscous_hj needed more than max_steps={max_steps} steps to reach "
                f"t1={t1!r} (at t={t!r}); coarsen the grid or raise max_steps."
            )
        k1, alpha = _rhs(u, h, A, eps, hamiltonian)
        den = float(np.sum(alpha / h)) + den_parab
        if not math.isfinite(den):
            raise ConvergenceError(
                f"solve_viscous_hj produced non-finite gradients at t={t!r} after {n_steps} "
                "steps (check the initial and boundary data)."
            )
        dt = cfl / den if den > 0 else t1 - t
        last = t + dt >= t1 - 1e-12 * max(1.0, abs(t1))
        if last:
            dt = t1 - t
        t_next = t1 if last else t + dt
        u1 = with_boundary(t_next, u[inner] + dt * k1)
        k2, _ = _rhs(u1, h, A, eps, hamiltonian)
        u = with_boundary(t_next, 0.5 * (u[inner] + u1[inner] + dt * k2))
        t = t_next
        n_steps += 1
    if not np.all(np.isfinite(u)):
        raise ConvergenceError("solve_viscous_hj produced non-finite values (unstable run).")
    return (u, n_steps) if return_steps else u


# ----------------------------------------------------------------------------------------------
# Convergence studies.
# ----------------------------------------------------------------------------------------------
class OrderFit(NamedTuple):
    """Least-squares slope of ``log(error)`` against ``log(h)`` and its standard error."""

    order: float
    stderr: float


def observed_order(hs, errors) -> OrderFit:
    """Observed order of convergence: the least-squares slope ``p`` of ``log e = p log h + c``.

    ``stderr`` is the slope's standard error ``sqrt(RSS/(n−2) / Σ(log h − mean)²)``; it is
    ``nan`` for two points (the line is then exact). Used by THEORY §3 check 2.

    Example
    -------
    >>> fit = observed_order([0.1, 0.05, 0.025], [2e-2, 1e-2, 5e-3])
    >>> round(fit.order, 12), round(fit.stderr, 12)
    (1.0, 0.0)
    """
    lh = np.asarray(hs, dtype=np.float64)
    le = np.asarray(errors, dtype=np.float64)
    if lh.ndim != 1 or le.shape != lh.shape or lh.size < 2:
        raise ShapeError(
            f"hs and errors must be 1-D of the same length >= 2; got shapes {lh.shape} and "
            f"{le.shape}."
        )
    for name, v in (("hs", lh), ("errors", le)):
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise DomainError(
                f"{name} must be finite and > 0 (their logarithms are fitted); got {v.tolist()}."
            )
    lh, le = np.log(lh), np.log(le)
    xc = lh - lh.mean()
    sxx = float(xc @ xc)
    if sxx <= 0:
        raise DomainError(f"hs must not all be equal; got {np.exp(lh).tolist()}.")
    slope = float(xc @ (le - le.mean())) / sxx
    n = lh.size
    if n == 2:
        return OrderFit(slope, float("nan"))
    resid = le - le.mean() - slope * xc
    return OrderFit(slope, math.sqrt(float(resid @ resid) / (n - 2) / sxx))


@dataclass(frozen=True)
class GridConvergence:
    """Result of :func:`grid_convergence`.

    ``errors[i]`` is the max-norm error at ``t1`` over the strict interior of the grid with
    ``resolutions[i]`` cells per axis and spacing ``h[i]`` (largest over the axes);
    ``order ± order_stderr`` is the fitted slope (:func:`observed_order`) and
    ``expected_order`` the scheme's formal order (1 for Lax–Friedrichs).
    """

    resolutions: tuple[int, ...]
    h: np.ndarray
    errors: np.ndarray
    order: float
    order_stderr: float
    steps: tuple[int, ...]
    scheme: str
    expected_order: float = 1.0


def grid_convergence(
    u_exact: Callable,
    A,
    eps: float,
    t0: float,
    t1: float,
    lows: Sequence[float],
    highs: Sequence[float],
    resolutions: Sequence[int],
    *,
    cfl: float = 0.4,
    scheme: str = "lax-friedrichs",
) -> GridConvergence:
    """Run :func:`solve_viscous_hj` at several resolutions against an exact solution (§3, check 2).

    For each ``n`` in ``resolutions`` the box ``[lows, highs]`` gets ``n + 1`` points per axis;
    initial data ``u_exact(t0, points)`` and Dirichlet data ``u_exact(t, points)`` on the ring
    (``points`` has shape ``(..., d)``, the result shape ``(...)``). The error is
    ``max |u_h(t1) − u_exact(t1)|`` over the strict interior.

    Example
    -------
    >>> import numpy as np
    >>> eps = 0.5
    >>> exact = lambda t, p: (p**2).sum(-1) / (4 * t) + eps / 2 * np.log(4 * np.pi * eps * t)
    >>> rec = grid_convergence(exact, [[1.0]], eps, 1.0, 1.25, [-2.0], [2.0], [20, 40, 80])
    >>> bool(0.8 < rec.order < 1.3)
    True
    """
    if not callable(u_exact):
        raise DomainError(f"u_exact must be callable (t, points) -> values; got {u_exact!r}.")
    lows = np.atleast_1d(np.asarray(lows, dtype=np.float64))
    highs = np.atleast_1d(np.asarray(highs, dtype=np.float64))
    if lows.ndim != 1 or lows.shape != highs.shape:
        raise ShapeError(
            f"lows and highs must be 1-D of equal length d; got shapes {lows.shape}, {highs.shape}."
        )
    if not (np.all(np.isfinite(lows)) and np.all(np.isfinite(highs)) and np.all(highs > lows)):
        raise DomainError(
            f"need finite lows < highs; got lows={lows.tolist()}, highs={highs.tolist()}."
        )
    res = list(resolutions)
    if len(res) < 2 or any(
        isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2 for n in res
    ):
        raise DomainError(
            f"resolutions must hold at least two integers >= 2 (cells per axis); got {res!r}."
        )
    d = lows.size
    hs, errors, steps = [], [], []
    for n in res:
        axes = tuple(np.linspace(lo, hi, int(n) + 1) for lo, hi in zip(lows, highs))
        mesh = np.meshgrid(*axes, indexing="ij")
        points = np.stack(mesh, axis=-1)
        shape = points.shape[:-1]
        u0 = np.asarray(u_exact(t0, points), dtype=np.float64)
        if u0.shape != shape:
            raise ShapeError(
                f"u_exact(t, points) must return shape points.shape[:-1] = {shape}; got {u0.shape}."
            )
        interior = np.zeros(shape, dtype=bool)
        interior[_window(d, {})] = True
        ring_points = points[~interior]

        def boundary(t, *_mesh, _ring=~interior, _pts=ring_points, _shape=shape):
            out = np.zeros(_shape)
            out[_ring] = u_exact(t, _pts)
            return out

        u, n_steps = solve_viscous_hj(
            u0, axes, A, eps, t0, t1, boundary, cfl=cfl, scheme=scheme, return_steps=True
        )
        err = float(np.max(np.abs(u - np.asarray(u_exact(t1, points)))[interior]))
        hs.append(float(max((hi - lo) / n for lo, hi in zip(lows, highs))))
        errors.append(err)
        steps.append(n_steps)
    fit = observed_order(hs, errors)
    return GridConvergence(
        resolutions=tuple(int(n) for n in res),
        h=np.asarray(hs),
        errors=np.asarray(errors),
        order=fit.order,
        order_stderr=fit.stderr,
        steps=tuple(steps),
        scheme=scheme,
    )
