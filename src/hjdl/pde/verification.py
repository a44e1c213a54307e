"""Independent checks of the LSE <=> Hamilton–Jacobi correspondence (THEORY §3).

Each check compares what :mod:`hjdl.core` computes with an independent computation that could
disagree: a float64 NumPy/SciPy evaluation of the definition, automatic differentiation, a grid
solver of the PDE, Monte Carlo (Feynman–Kac), Gauss–Hermite quadrature of the heat semigroup, or
an inequality of the theory used as the tolerance. ``hjdl verify`` prints them as a table.

PDE residuals and semigroup checks cannot see a constant added to the normalised value, so the
normalised value is also compared with the heat-kernel density it is defined by (SciPy's
multivariate normal); the closed-form derivatives with autograd of torch definitions that share
no code with :mod:`hjdl.core`; and the ``eps = 0`` tie rule with the ``eps → 0+`` softmax limit.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
from scipy.special import logsumexp, softmax
from scipy.stats import multivariate_normal

from .. import core
from .grid import grid_convergence
from .montecarlo import feynman_kac

__all__ = ["Check", "CHECKS", "run_checks"]

F64 = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Check:
    """One verification row.

    ``measured`` is an error (``kind="error"``: passes when ``measured <= tolerance``) or an
    observed order of convergence (``kind="order"``: passes when
    ``|measured - expected| <= tolerance``, with ``expected`` the scheme's order).
    """

    name: str
    measured: float
    tolerance: float
    tolerance_source: str
    passed: bool
    kind: str = "error"
    expected: float | None = None
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _error_row(name, measured, tolerance, source, detail=""):
    measured = float(measured)
    return Check(name, measured, float(tolerance), source,
                 bool(np.isfinite(measured) and measured <= tolerance), "error", None, detail)


def _order_row(name, measured, expected, tolerance, source, detail=""):
    measured = float(measured)
    return Check(name, measured, float(tolerance), source,
                 bool(np.isfinite(measured) and abs(measured - expected) <= tolerance),
                 "order", float(expected), detail)


def _random_layer(rng: np.random.Generator, n: int, d: int, anisotropic: bool):
    W = rng.normal(size=(n, d))
    b = rng.normal(size=n)
    A = None
    if anisotropic:
        M = rng.normal(size=(d, d))
        A = M @ M.T / d + 0.5 * np.eye(d)
    return W, b, A


def _numpy_u(x, y, g, A, eps, t):
    """Definition of the discrete Hopf–Cole value, by NumPy/SciPy (independent of hjdl.core)."""
    Ainv = np.eye(y.shape[1]) if A is None else np.linalg.inv(A)
    D = x[:, None, :] - y[None]
    cost = g + np.einsum("pnd,de,pne->pn", D, Ainv, D) / (4 * t)
    return cost.min(1) if eps == 0 else -eps * logsumexp(-cost / eps, axis=1)


def _normalized_numpy(y, g, A, eps):
    """ũ(x, t) from the definition plus the heat-kernel normalisation, for the solvers."""
    d = y.shape[1]
    logdet = 0.0 if A is None else float(np.linalg.slogdet(A)[1])

    def u(t, points):
        pts = np.asarray(points, dtype=np.float64)
        flat = pts.reshape(-1, d)
        val = _numpy_u(flat, y, g, A, eps, t) + 0.5 * eps * (d * np.log(4 * np.pi * eps * t) + logdet)
        return val.reshape(pts.shape[:-1])
    return u


def _hjdl_normalized(data, eps):
    def u(t, points):
        pts = np.asarray(points, dtype=np.float64)
        return core.hopf_cole(torch.from_numpy(pts), data, eps, t=t, normalized=True).numpy()
    return u


# ----------------------------------------------------------------------------------------------
# the checks


def check_identity(quick: bool) -> list[Check]:
    """1. LSE layer = x^T A^-1 x/(4t) − u (T3), u from its definition by SciPy in float64."""
    rng = np.random.default_rng(0)
    worst, cases = 0.0, 0
    for d in (1, 2, 5):
        for anisotropic in (False, True):
            W, b, A = _random_layer(rng, 12, d, anisotropic)
            x = 2.0 * rng.normal(size=(50 if quick else 400, d))
            for t in (0.5, 1.0, 3.0):
                data = core.to_initial_data(W, b, t=t, A=A)
                for eps in (0.0, 0.05, 0.5, 2.0):
                    ref_u = _numpy_u(x, data.y.numpy(), data.g.numpy(), A, eps, t)
                    Ainv = np.eye(d) if A is None else np.linalg.inv(A)
                    quad = np.einsum("pd,de,pe->p", x, Ainv, x) / (4 * t)
                    f = core.lse_layer(torch.from_numpy(x), torch.from_numpy(W), torch.from_numpy(b), eps).numpy()
                    u = core.hopf_cole(torch.from_numpy(x), data, eps, t=t).numpy()
                    scale = max(1.0, np.abs(ref_u).max(), np.abs(quad).max())
                    worst = max(worst, np.abs(f - (quad - ref_u)).max() / scale,
                                np.abs(u - ref_u).max() / scale)
                    cases += 1
    return [_error_row("LSE = Hopf-Cole identity vs SciPy float64", worst, 1e3 * F64,
                       "float64 rounding: 1000 ulp relative to the value scale",
                       f"{cases} cases: d in {{1,2,5}}, isotropic and anisotropic A, t in {{.5,1,3}}, "
                       "eps in {0,.05,.5,2}")]


def _spd_with_logdet(rng: np.random.Generator, d: int, logdet: float) -> np.ndarray:
    """A random SPD matrix with ``log det A = logdet`` (far from 0, so a wrong log det factor shows)."""
    M = rng.normal(size=(d, d))
    A = M @ M.T / d + 0.5 * np.eye(d)
    return A * math.exp((logdet - np.linalg.slogdet(A)[1]) / d)


def _heat_kernel_value(x, y, g, A, eps, t):
    """ũ(x, t) = −eps log Σ_j exp(−g_j/eps) K(x − y_j) with K the N(0, 2 eps t A) density.

    The definition of the normalised value (the heat kernel of ``v_t = eps tr(A∇²v)`` acting on
    the atomic measure ``Σ_j exp(−g_j/eps) δ_{y_j}``), by SciPy's multivariate normal log density:
    no normalisation constant is written here. ``x`` (P, d), ``y`` (N, d), float64.
    """
    d = y.shape[1]
    cov = 2 * eps * t * (np.eye(d) if A is None else A)
    logk = multivariate_normal.logpdf(x[:, None, :] - y[None], mean=np.zeros(d), cov=cov)
    return -eps * logsumexp(np.reshape(logk, (x.shape[0], y.shape[0])) - g / eps, axis=1)


def _torch_heat_kernel_value(x, y, g, A, eps, t):
    """:func:`_heat_kernel_value` by ``torch.distributions`` (differentiable in ``x`` and ``t``;
    ``t`` a number or one time per point, shape (P,))."""
    base = torch.eye(y.shape[1], dtype=y.dtype) if A is None else A
    cov = 2 * eps * (t[:, None, None, None] if torch.is_tensor(t) and t.ndim else t) * base
    logk = torch.distributions.MultivariateNormal(y, covariance_matrix=cov, validate_args=False).log_prob(x[:, None, :])
    return -eps * torch.logsumexp(logk - g / eps, dim=-1)


def _torch_raw_value(x, y, g, A, eps, t):
    """The un-normalised discrete Hopf–Cole value by ``torch.logsumexp`` (for autograd)."""
    Ainv = torch.eye(y.shape[1], dtype=y.dtype) if A is None else torch.linalg.inv(A)
    D = x[:, None, :] - y
    cost = g + torch.einsum("pnd,de,pne->pn", D, Ainv, D) / (4 * t)
    return -eps * torch.logsumexp(-cost / eps, dim=-1)


def _autograd_grad_hessian(fn, x):
    """Gradient (P, d) and Hessian (P, d, d) of ``fn`` (a function of each row of ``x`` alone)."""
    with torch.enable_grad():
        xr = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(xr).sum(), xr, create_graph=True)
        rows = [torch.autograd.grad(grad[:, k].sum(), xr, retain_graph=True)[0] for k in range(x.shape[1])]
    return grad.detach(), torch.stack(rows, dim=1).detach()


def _autograd_dt(fn, t, n):
    """``∂_t fn`` at ``t`` (a float) for each of ``n`` points: ``fn`` takes one time per point."""
    with torch.enable_grad():
        tt = torch.full((n,), float(t), dtype=torch.float64, requires_grad=True)
        (dt,) = torch.autograd.grad(fn(tt).sum(), tt)
    return dt


def _rel(a, b) -> float:
    """max |a − b| relative to max(1, max |b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def check_normalization(quick: bool) -> list[Check]:
    """ũ = u + (eps d/2) log(4π eps t) + (eps/2) log det A against the heat-kernel density (SciPy).

    PDE residuals and semigroup checks cannot see a constant added to ũ; this row can.
    """
    rng = np.random.default_rng(6)
    worst, cases = 0.0, 0
    for d in (1, 2, 3):
        for A in (None, _spd_with_logdet(rng, d, 1.5), _spd_with_logdet(rng, d, -1.2)):
            y, g = rng.normal(size=(7, d)), rng.normal(size=7)
            data = core.InitialData(torch.from_numpy(y), torch.from_numpy(g),
                                    None if A is None else torch.from_numpy(A))
            x = 1.5 * rng.normal(size=(10 if quick else 100, d))
            xt = torch.from_numpy(x)
            for eps in (0.05, 2.5):
                for t in (0.3, 4.0):
                    ref = _heat_kernel_value(x, y, g, A, eps, t)
                    u = core.hopf_cole(xt, data, eps, t=t, normalized=True).numpy()
                    worst = max(worst, _rel(u, ref))
                    cases += 1
                # the per-point-time and tensor-eps paths add the same constant
                ts = rng.uniform(0.3, 3.0, size=x.shape[0])
                ref = np.array([_heat_kernel_value(x[i:i + 1], y, g, A, eps, ts[i])[0] for i in range(len(ts))])
                u = core.hopf_cole(xt, data, torch.full((x.shape[0],), eps, dtype=torch.float64),
                                   t=torch.from_numpy(ts), normalized=True).numpy()
                worst = max(worst, _rel(u, ref))
                cases += 1
    return [_error_row("normalised Hopf-Cole value vs heat-kernel density (SciPy)", worst, 1e3 * F64,
                       "float64 rounding: 1000 ulp relative to the value scale",
                       f"{cases} cases: d in {{1,2,3}}, A = I and two anisotropic A with log det A "
                       "= 1.5, -1.2; eps in {.05,2.5}; t in {.3,4} and per-point t; "
                       "reference -eps logsumexp(log N(x; y_j, 2 eps t A) - g_j/eps)")]


@functools.lru_cache(maxsize=2)
def _derivative_references(quick: bool):
    """Problems for :func:`check_derivatives` and their derivatives by autograd of torch
    definitions (no hjdl.core): computed once per process, they cannot change.

    Returns tuples ``(y, g, A, W, b, x, hopf_cole, layer)``: ``hopf_cole`` maps ``(eps, t)`` to
    ``(∇u, ∇²u, ∂_t ũ, ∂_t u)`` and ``layer`` maps ``eps`` to ``(∇f, ∇²f)``.
    """
    rng = np.random.default_rng(7)
    cases = []
    for d, anisotropic in ((1, False), (2, False), (2, True), (3, True)):
        A = torch.from_numpy(_spd_with_logdet(rng, d, 0.8)) if anisotropic else None
        y, g = torch.from_numpy(rng.normal(size=(6, d))), torch.from_numpy(rng.normal(size=6))
        W, b = torch.from_numpy(rng.normal(size=(6, d))), torch.from_numpy(rng.normal(size=6))
        x = torch.from_numpy(rng.normal(size=(8 if quick else 64, d)))
        hopf_cole, layer = {}, {}
        for eps in (0.2, 3.0):
            for t in (0.3, 1.7):
                grad, hess = _autograd_grad_hessian(lambda p: _torch_heat_kernel_value(p, y, g, A, eps, t), x)
                ut = _autograd_dt(lambda s: _torch_heat_kernel_value(x, y, g, A, eps, s), t, len(x))
                ut_raw = _autograd_dt(lambda s: _torch_raw_value(x, y, g, A, eps, s[:, None]), t, len(x))
                hopf_cole[eps, t] = (grad, hess, ut, ut_raw)
            layer[eps] = _autograd_grad_hessian(lambda p: eps * torch.logsumexp((p @ W.T + b) / eps, dim=-1), x)
        cases.append((y, g, A, W, b, x, hopf_cole, layer))
    return tuple(cases)


def check_derivatives(quick: bool) -> list[Check]:
    """Closed-form ∇u, ∇²u, u_t and ∇f, ∇²f against autograd of independent torch definitions."""
    hc = lse = 0.0
    for y, g, A, W, b, x, hopf_cole, layer in _derivative_references(quick):
        data = core.InitialData(y, g, A)
        for (eps, t), (grad, hess, ut, ut_raw) in hopf_cole.items():
            hc = max(hc, _rel(core.hopf_cole_grad(x, data, eps, t), grad),
                     _rel(core.hopf_cole_hessian(x, data, eps, t), hess),
                     _rel(core.hopf_cole_time_derivative(x, data, eps, t, normalized=True), ut),
                     _rel(core.hopf_cole_time_derivative(x, data, eps, t), ut_raw))
        for eps, (fgrad, fhess) in layer.items():
            lse = max(lse, _rel(core.lse_layer_grad(x, W, b, eps), fgrad),
                      _rel(core.lse_layer_hessian(x, W, b, eps), fhess))
    detail = ("d = 1, 2 with A = I; d = 2, 3 anisotropic (log det A = 0.8); eps in {.2,3}, "
              "t in {.3,1.7}; autograd in x and t")
    source = "float64 rounding of autograd second derivatives: 10^4 ulp relative to the value scale"
    return [
        _error_row("closed-form Hopf-Cole grad, Hessian, u_t vs autograd (torch.distributions)",
                   hc, 1e4 * F64, source, detail),
        _error_row("closed-form LSE-layer grad, Hessian vs autograd of torch.logsumexp",
                   lse, 1e4 * F64, source, detail),
    ]


def check_ties(quick: bool) -> list[Check]:
    """eps = 0: tied maxima share the weight equally (the eps → 0+ limit of the softmax)."""
    z = np.array([[0.0, 2.0, 2.0, -1.0], [3.0, -1.0, 3.0, 3.0], [1.0, 0.0, -2.0, 1.0],
                  [-1.0, 0.5, 0.0, -3.0]])
    # softmax at eps = 1e-3 with gaps >= 0.5: the untied weights are below exp(-500)
    limit = softmax(z / 1e-3, axis=-1)
    zt = torch.from_numpy(z)
    errs = [np.abs(core.gibbs(zt, 0.0).numpy() - limit).max(),
            np.abs(core.gibbs(zt.T, 0.0, dim=0).numpy() - limit.T).max()]
    with torch.enable_grad():
        zg = zt.clone().requires_grad_(True)
        (dz,) = torch.autograd.grad(core.lse(zg, 0.0).sum(), zg)
    errs.append(np.abs(dz.numpy() - limit).max())
    # a layer at a point on a power-diagram boundary: ∇f = mean of the tied rows of W
    W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0], [3.0, 3.0]])
    b = np.array([1.0, 1.0, 1.0, -5.0])
    grad = core.lse_layer_grad(torch.zeros(1, 2, dtype=torch.float64), torch.from_numpy(W), torch.from_numpy(b), 0)
    errs.append(np.abs(grad.numpy()[0] - W[:3].mean(0)).max())
    # three atoms at equal cost from x = 0: ∇u = (x − mean of the tied atoms)/(2t)
    y = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    data = core.InitialData(torch.from_numpy(y), torch.zeros(3, dtype=torch.float64))
    t = 0.7
    grad_u = core.hopf_cole_grad(torch.zeros(1, 2, dtype=torch.float64), data, 0, t)
    errs.append(np.abs(grad_u.numpy()[0] + y.mean(0) / (2 * t)).max())
    return [_error_row("eps = 0 tie rule: equal shares among tied maxima (softmax limit)", max(errs), 1e2 * F64,
                       "exact rule; 100 ulp for the averages",
                       "gibbs (two axes), autograd of lse, lse_layer_grad and hopf_cole_grad at ties "
                       "against SciPy softmax(z/1e-3) and NumPy means of the tied rows")]


def check_autograd_residual(quick: bool) -> list[Check]:
    """2. u_t + ∇uᵀA∇u − eps tr(A∇²u) of the normalised value by autograd (and −eps d/(2t) raw)."""
    rng = np.random.default_rng(1)
    worst, worst_raw, cases = 0.0, 0.0, 0
    for d in (1, 2, 5):
        for anisotropic in (False, True):
            W, b, A = _random_layer(rng, 10, d, anisotropic)
            x = torch.from_numpy(1.5 * rng.normal(size=(20 if quick else 200, d)))
            for t in (0.5, 1.0, 2.0):
                data = core.to_initial_data(W, b, t=t, A=A)
                for eps in (0.05, 0.3, 1.0, 4.0):
                    g = core.hopf_cole_grad(x, data, eps, t)
                    scale = max(1.0, float((g * (g @ data.metric())).sum(-1).abs().max()), eps * d / t)
                    r = core.pde_residual(x, data, eps, t)
                    r_raw = core.pde_residual(x, data, eps, t, normalized=False)
                    worst = max(worst, float(r.abs().max()) / scale)
                    worst_raw = max(worst_raw, float((r_raw + eps * d / (2 * t)).abs().max()) / scale)
                    cases += 1
    detail = f"{cases} cases: d in {{1,2,5}}, isotropic/anisotropic A, t in {{.5,1,2}}, eps in {{.05,.3,1,4}}"
    return [
        _error_row("autograd PDE residual (normalized value)", worst, 1e-11,
                   "float64 rounding of autograd second derivatives, relative to |∇uᵀA∇u|", detail),
        _error_row("autograd PDE residual (raw value) = -eps d/(2t)", worst_raw, 1e-11,
                   "THEORY §3: the un-normalised sum misses the heat-kernel factor", detail),
    ]


def check_grid_solver(quick: bool) -> list[Check]:
    """3. An explicit Lax–Friedrichs grid solver from the formula at t0, compared at t1."""
    rows = []
    setups = [
        ("grid solver 1-D", np.array([[-1.5], [-0.5], [0.5], [1.5]]), np.array([1.0, 0.3, 0.3, 1.0]),
         None, 0.5, [-3.0], [3.0], [40, 80, 160] if quick else [50, 100, 200, 400, 800]),
        ("grid solver 2-D anisotropic", np.array([[-1.0, -0.5], [0.8, 0.2], [0.0, 1.2]]),
         np.array([0.0, 0.4, 0.2]), np.array([[1.0, 0.3], [0.3, 0.6]]), 0.5, [-2.5, -2.5], [2.5, 2.5],
         [16, 32, 64] if quick else [20, 40, 80, 160]),
    ]
    for name, y, g, A, eps, lows, highs, res in setups:
        data = core.InitialData(torch.from_numpy(y), torch.from_numpy(g),
                                None if A is None else torch.from_numpy(A))
        Am = np.eye(y.shape[1]) if A is None else A
        conv = grid_convergence(_hjdl_normalized(data, eps), Am, eps, 1.0, 1.25, lows, highs, res)
        errs = ", ".join(f"{e:.2e}" for e in conv.errors)
        rows.append(_order_row(name, conv.order, 1.0, 0.25,
                               "Lax-Friedrichs is first order in h; ±0.25 for the pre-asymptotic range",
                               f"max-norm errors {errs} at h = {', '.join(f'{h:.3g}' for h in conv.h)}; "
                               f"order {conv.order:.3f} ± {conv.order_stderr:.3f}"))
    return rows


def check_monte_carlo(quick: bool) -> list[Check]:
    """4. Feynman–Kac: ũ(x, t+s) = −eps log E[exp(−ũ(x + √(2 eps s) A^{1/2} Z, t)/eps)]."""
    rng = np.random.default_rng(2)
    worst, cases = 0.0, 0
    for d, anisotropic in ((1, False), (2, True), (3, False)):
        W, b, A = _random_layer(rng, 6, d, anisotropic)
        data = core.to_initial_data(W, b, t=1.0, A=A)
        x = rng.normal(size=(5, d))
        for eps, s in ((0.5, 0.3), (1.0, 0.5)):
            est = feynman_kac(lambda p: _hjdl_normalized(data, eps)(1.0, p), x, eps, s, A=A,
                              n_samples=20_000 if quick else 200_000, rng=np.random.default_rng(cases))
            exact = core.hopf_cole(torch.from_numpy(x), data, eps, t=1.0 + s, normalized=True).numpy()
            worst = max(worst, float(np.max(np.abs(est.value - exact) / est.stderr)))
            cases += 1
    return [_error_row("Monte Carlo semigroup (Feynman-Kac)", worst, 4.0,
                       "4 standard errors of the Monte Carlo mean",
                       f"{cases} settings × 5 points; measured = max |MC − formula| / SE")]


def check_quadrature_semigroup(quick: bool) -> list[Check]:
    """8. Semigroup: ũ(·, t) evolved by the heat kernel (Gauss–Hermite quadrature) = ũ(·, t+s)."""
    from .quadrature import heat_semigroup_gauss_hermite

    rng = np.random.default_rng(3)
    worst = 0.0
    for d, anisotropic in ((1, False), (2, True)):
        W, b, A = _random_layer(rng, 5, d, anisotropic)
        W *= 0.5
        data = core.to_initial_data(W, b, t=1.0, A=A)
        x = rng.normal(size=(7, d))
        for eps, s in ((0.5, 0.5), (1.0, 1.0)):
            val = heat_semigroup_gauss_hermite(lambda p: _hjdl_normalized(data, eps)(1.0, p), x, eps, s,
                                               A=A, order=60 if d == 1 else 40)
            val = getattr(val, "value", val)
            exact = core.hopf_cole(torch.from_numpy(x), data, eps, t=1.0 + s, normalized=True).numpy()
            worst = max(worst, float(np.max(np.abs(np.asarray(val) - exact))))
    return [_error_row("heat semigroup by Gauss-Hermite quadrature", worst, 1e-10,
                       "Gauss-Hermite of a smooth integrand, converged at these orders (1e-10 absolute)",
                       "d in {1, 2 (anisotropic)}, (eps, s) in {(.5,.5), (1,1)}, t = 1")]


def check_tropical(quick: bool) -> list[Check]:
    """5. 0 <= f_eps − f_0 <= eps log N on random layers, and u_eps → u_0 at first order in eps."""
    rng = np.random.default_rng(4)
    worst = 0.0
    for d in (1, 3, 8):
        for n in (2, 17, 200):
            W, b, _ = _random_layer(rng, n, d, False)
            x = torch.from_numpy(3 * rng.normal(size=(200 if quick else 2000, d)))
            Wt, bt = torch.from_numpy(W), torch.from_numpy(b)
            f0 = core.lse_layer(x, Wt, bt, 0.0)
            for eps in (1e-3, 0.1, 1.0, 10.0):
                gap = (core.lse_layer(x, Wt, bt, eps) - f0).numpy()
                slack = 1e2 * F64 * max(1.0, float(f0.abs().max()))
                worst = max(worst, float(np.max(-gap)) - slack, float(np.max(gap - eps * math.log(n))) - slack)
    rows = [_error_row("tropical limit bound 0 <= f_eps - f_0 <= eps log N", max(worst, 0.0), 0.0,
                       "T1 (exact inequality; measured = worst violation beyond float64 rounding)",
                       "d in {1,3,8}, N in {2,17,200}, eps in {1e-3,.1,1,10}")]
    # u_eps -> u_0: the sup-norm gap on a dense 1-D grid shrinks like eps (ties give eps log k)
    data = core.InitialData(torch.tensor([[-1.5], [-0.5], [0.5], [1.5]], dtype=torch.float64),
                            torch.tensor([1.0, 0.3, 0.3, 1.0], dtype=torch.float64))
    x = torch.linspace(-2.5, 2.5, 2001, dtype=torch.float64)[:, None]
    u0 = core.hopf_lax(x, data)
    epss = np.array([0.2, 0.1, 0.05, 0.025, 0.0125])
    gaps = [float((u0 - core.hopf_cole(x, data, e)).abs().max()) for e in epss]
    slope = float(np.polyfit(np.log(epss), np.log(gaps), 1)[0])
    rows.append(_order_row("tropical limit rate u_eps -> u_0 (sup norm)", slope, 1.0, 0.1,
                           "T1: 0 <= u_0 - u_eps <= eps log N, attained near ties: first order",
                           "gaps " + ", ".join(f"{g:.3e}" for g in gaps) + " at eps " +
                           ", ".join(f"{e:g}" for e in epss)))
    return rows


def _layer_norm(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.layer_norm(x, x.shape[-1:])


def attention_gibbs_error(d: int, trials: int, layernorm: bool, rng: np.random.Generator,
                          n_queries: int = 8, n_keys: int = 12, d_v: int = 16) -> float:
    """Max |SDPA − (autograd ∇LSE_eps at q·K)·V| over ``trials`` random heads, eps = √d (§8)."""
    worst = 0.0
    for _ in range(trials):
        q = torch.from_numpy(rng.normal(size=(n_queries, d)))
        k = torch.from_numpy(rng.normal(size=(n_keys, d)))
        v = torch.from_numpy(rng.normal(size=(n_keys, d_v)))
        if layernorm:
            Wq, Wk = (torch.from_numpy(rng.normal(size=(d, d)) / math.sqrt(d)) for _ in range(2))
            q, k = _layer_norm(q) @ Wq, _layer_norm(k) @ Wk
        sdpa = torch.nn.functional.scaled_dot_product_attention(q[None], k[None], v[None])[0]
        z = (q @ k.T).requires_grad_(True)
        (pi,) = torch.autograd.grad(core.lse(z, math.sqrt(d)).sum(), z)
        worst = max(worst, float((sdpa - pi @ v).abs().max()))
    return worst


def check_attention(quick: bool) -> list[Check]:
    """6. Attention: SDPA equals autograd(lse)·V with eps = √d_k, with and without LayerNorm."""
    rng = np.random.default_rng(5)
    trials = 20 if quick else 500
    worst = max(attention_gibbs_error(d, trials, ln, rng) for d in (4, 8, 16, 32, 64) for ln in (False, True))
    return [_error_row("attention = Gibbs average (SDPA vs autograd of lse)", worst, 1e3 * F64,
                       "float64 rounding (1000 ulp)",
                       f"d in {{4,8,16,32,64}}, 8 queries, 12 keys, d_v = 16, {trials} trials each, "
                       "with and without LayerNorm")]


def two_layer_nets(eps: float, x: torch.Tensor) -> torch.Tensor:
    """The paper's two-layer net ``w2 · softplus_eps(W1 x + b1)`` (eps = 0: its ReLU net)."""
    W1 = torch.tensor([1.5, -1.0, 0.8], dtype=x.dtype)
    b1 = torch.tensor([0.3, 0.5, -0.4], dtype=x.dtype)
    w2 = torch.tensor([0.5, 0.5, 0.5], dtype=x.dtype)
    return core.softplus_eps(x[:, None] * W1 + b1, eps) @ w2


def check_activations(quick: bool) -> list[Check]:
    """7. softplus_eps → ReLU (gap <= eps log 2), the two-layer net, sigmoid and tanh."""
    z = torch.linspace(-3, 3, 6001 if quick else 60001, dtype=torch.float64)
    ratios, net_ratios, gibbs_err = [], [], 0.0
    for eps in (1.0, 0.1, 0.01, 1e-3, 1e-4):
        gap = core.softplus_eps(z, eps) - torch.relu(z)
        ratios.append(float(gap.max()) / (eps * math.log(2)))
        net_gap = (two_layer_nets(eps, z) - two_layer_nets(0.0, z)).abs().max()
        net_ratios.append(float(net_gap) / (1.5 * eps * math.log(2)))
        gibbs_err = max(gibbs_err, float((core.sigmoid_eps(z, eps) - torch.sigmoid(z / eps)).abs().max()),
                        float((core.tanh_eps(z, eps) - torch.tanh(z / eps)).abs().max()))
    return [
        _error_row("softplus_eps -> ReLU gap / (eps log 2)", max(ratios), 1.0 + 1e-12,
                   "T1 with N = 2: gap <= eps log 2 (equality at z = 0)",
                   "ratios " + ", ".join(f"{r:.6f}" for r in ratios)),
        _error_row("two-layer softplus net -> ReLU net gap / (Σ|w2| eps log 2)", max(net_ratios), 1.0 + 1e-12,
                   "T1 per hidden unit, summed with the output weights |w2|",
                   "ratios " + ", ".join(f"{r:.4f}" for r in net_ratios)),
        _error_row("sigmoid and tanh as Gibbs weights vs torch", gibbs_err, 1e-14,
                   "float64 rounding of two independent implementations"),
    ]


CHECKS: dict[str, Callable[[bool], list[Check]]] = {
    "identity": check_identity,
    "normalization": check_normalization,
    "derivatives": check_derivatives,
    "ties": check_ties,
    "autograd": check_autograd_residual,
    "grid": check_grid_solver,
    "monte-carlo": check_monte_carlo,
    "tropical": check_tropical,
    "attention": check_attention,
    "activations": check_activations,
    "semigroup": check_quadrature_semigroup,
}


def run_checks(quick: bool = True, progress: bool = False, only=None) -> list[Check]:
    """Run the registered checks (``only``: an iterable of keys of :data:`CHECKS`) and return rows.

    Example:
        >>> rows = run_checks(only=["activations"])
        >>> all(r.passed for r in rows)
        True
    """
    from .._progress import progress as bar
    from ..errors import UnknownNameError

    keys = list(CHECKS) if only is None else list(only)
    unknown = [k for k in keys if k not in CHECKS]
    if unknown:
        raise UnknownNameError(f"only: unknown check(s) {unknown}; known: {', '.join(CHECKS)}")
    rows: list[Check] = []
    for key in bar(keys, desc="verify", enabled=progress):
        rows.extend(CHECKS[key](quick))
    return rows
