"""The normalised Hopf–Cole value against the definition it normalises (THEORY §3).

``v = exp(−ũ/eps)`` solves ``v_t = eps tr(A∇²v)``, whose kernel is the N(0, 2 eps t A) density
``K_t``. For atoms, ``ũ(x, t) = −eps log Σ_j exp(−g_j/eps) K_t(x − y_j)``; for a smooth ``g``,
``ũ(x, t) = −eps log ∫ K_t(x − y) exp(−g(y)/eps) dy``. PDE residuals and semigroup checks are
blind to a constant added to ũ, so the constants ``(eps d/2) log(4π eps t)`` and
``(eps/2) log det A`` are tested here against SciPy's Gaussian density (nothing here writes
them down), and ``∂_t ũ`` against autograd and a central difference in t.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from hjdl import core

from helpers import tol  # noqa: E402


def spd(rng, d, logdet):
    """Random SPD (d, d) with the given log det (far from 0: a wrong log det factor shows)."""
    M = rng.normal(size=(d, d))
    A = M @ M.T / d + 0.5 * np.eye(d)
    return A * math.exp((logdet - np.linalg.slogdet(A)[1]) / d)


def kernel_value(x, y, g, A, eps, t):
    """−eps log Σ_j exp(−g_j/eps) K_t(x − y_j) with K_t the N(0, 2 eps t A) density (SciPy)."""
    d = y.shape[1]
    cov = 2 * eps * t * (np.eye(d) if A is None else A)
    logk = multivariate_normal.logpdf(x[:, None, :] - y[None], mean=np.zeros(d), cov=cov)
    return -eps * logsumexp(np.reshape(logk, (len(x), len(y))) - g / eps, axis=1)


def problem(d, metric, seed=0, n=7, points=12):
    rng = np.random.default_rng(seed + 10 * d)
    A = {"identity": None, "det>1": spd(rng, d, 1.4), "det<1": spd(rng, d, -1.1)}[metric]
    y, g = rng.normal(size=(n, d)), rng.normal(size=n)
    x = 1.5 * rng.normal(size=(points, d))
    return x, y, g, A


def data_of(y, g, A, dtype=torch.float64):
    return core.InitialData(torch.tensor(y, dtype=dtype), torch.tensor(g, dtype=dtype),
                            None if A is None else torch.tensor(A, dtype=dtype))


def value_scale(x, y, g, A, t):
    """Size of the largest term summed in ũ (the costs g_j + |x − y_j|²_{A⁻¹}/(4t))."""
    Ainv = np.eye(y.shape[1]) if A is None else np.linalg.inv(A)
    D = x[:, None, :] - y
    return float(np.abs(g + np.einsum("pnd,de,pne->pn", D, Ainv, D) / (4 * t)).max())


METRICS = ["identity", "det>1", "det<1"]


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("eps,t", [(0.05, 0.3), (0.5, 1.0), (2.0, 4.0), (0.3, 1 / (4 * math.pi * 0.3))])
def test_normalized_value_is_minus_eps_log_of_the_heat_kernel_sum(d, metric, eps, t, dtype):
    # bug caught: log(2π eps t) for log(4π eps t); eps log det A for (eps/2) log det A; a sign
    x, y, g, A = problem(d, metric)
    ref = kernel_value(x, y, g, A, eps, t)
    u = core.hopf_cole(torch.tensor(x, dtype=dtype), data_of(y, g, A, dtype), eps, t=t, normalized=True)
    scale = max(float(np.abs(ref).max()), value_scale(x, y, g, A, t),
                eps * abs(0.5 * d * math.log(4 * math.pi * eps * t)))
    assert u.dtype == dtype
    np.testing.assert_allclose(u.double().numpy(), ref, rtol=0, atol=tol(dtype, scale))


@pytest.mark.parametrize("metric", METRICS)
def test_per_point_times_and_temperatures_add_the_same_constant(metric):
    # the per-point-t engine path and tensor eps (normalization broadcast per point)
    x, y, g, A = problem(2, metric, points=9)
    rng = np.random.default_rng(3)
    ts, epss = rng.uniform(0.2, 3.0, size=9), rng.uniform(0.05, 2.0, size=9)
    ref = np.array([kernel_value(x[i:i + 1], y, g, A, epss[i], ts[i])[0] for i in range(9)])
    u = core.hopf_cole(torch.tensor(x), data_of(y, g, A), torch.tensor(epss), t=torch.tensor(ts),
                       normalized=True)
    np.testing.assert_allclose(u.numpy(), ref, rtol=0, atol=tol(torch.float64, value_scale(x, y, g, A, 0.2)))


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("metric", METRICS)
def test_normalization_is_minus_eps_log_of_the_kernel_peak(d, metric):
    # K_t(0) = (4π eps t)^{-d/2} det(A)^{-1/2}: normalization = −eps log K_t(0)
    _, _, _, A = problem(d, metric)
    logdet = 0.0 if A is None else float(np.linalg.slogdet(A)[1])
    for eps, t in [(0.05, 0.3), (1.0, 1.0), (3.0, 0.1)]:
        peak = multivariate_normal.logpdf(np.zeros(d), mean=np.zeros(d),
                                          cov=2 * eps * t * (np.eye(d) if A is None else A))
        got = core.normalization(torch.tensor(eps, dtype=torch.float64), d, torch.tensor(t, dtype=torch.float64),
                                 torch.tensor(logdet, dtype=torch.float64))
        assert abs(float(got) + eps * peak) <= tol(torch.float64, eps * abs(peak))


def test_normalized_value_at_eps_zero_is_the_hopf_lax_value():
    x, y, g, A = problem(2, "det>1")
    data = data_of(y, g, A)
    xt = torch.tensor(x)
    np.testing.assert_allclose(core.hopf_cole(xt, data, 0.0, t=0.7, normalized=True).numpy(),
                               core.hopf_lax(xt, data, t=0.7).numpy(), rtol=0, atol=tol(torch.float64, 10))


# ----------------------------------------------------------------------------------------------
# continuum: a smooth g sampled on a dense grid of atoms, with the quadrature weight h^d


def g1(y):
    return 0.4 * np.cos(2 * y) + 0.1 * y ** 2


def g2(y1, y2):
    return 0.3 * np.sin(y1) * np.cos(1.5 * y2) + 0.05 * (y1 ** 2 + 2 * y2 ** 2)


def grid_data(axes, values, eps, A=None):
    """Atoms on the tensor grid of ``axes`` (spacing h), values g(y_j) − eps log h^d."""
    mesh = np.meshgrid(*axes, indexing="ij")
    y = np.stack([m.ravel() for m in mesh], -1)
    h = float(axes[0][1] - axes[0][0])
    return data_of(y, values(*mesh).ravel() - eps * len(axes) * math.log(h), A)


@pytest.mark.parametrize("eps,t", [(0.5, 1.0), (0.2, 0.6)])
def test_dense_grid_of_atoms_equals_the_heat_kernel_integral_1d(eps, t):
    # bug caught: a wrong normalising constant (the integral of K_t is 1, not 2^{d/2} or ...)
    x = np.array([-1.3, 0.0, 0.4, 2.1])
    var = 2 * eps * t
    ref = []
    for xi in x:
        rv = multivariate_normal(mean=xi, cov=var)
        val, _ = integrate.quad(lambda y: rv.pdf(y) * np.exp(-g1(y) / eps),
                                -np.inf, np.inf, epsabs=0, epsrel=1e-13, limit=200)
        ref.append(-eps * math.log(val))
    axis = np.arange(-12.0, 12.0 + 1e-9, 0.04)
    u = core.hopf_cole(torch.tensor(x[:, None]), grid_data([axis], g1, eps), eps, t=t, normalized=True)
    np.testing.assert_allclose(u.numpy(), ref, rtol=0, atol=1e-9)


def test_dense_grid_of_atoms_equals_the_heat_kernel_integral_2d_anisotropic():
    # bug caught: (eps/2) log det A replaced by eps log det A (det A = 0.5 here), or 2π for 4π
    eps, t = 0.5, 0.8
    A = np.array([[0.8, 0.3], [0.3, 0.7375]])   # det A = 0.5
    cov = 2 * eps * t * A
    x = np.array([[0.3, -0.2], [-1.0, 0.8], [1.7, 1.1]])
    # adaptive cubature (one point: it is slow) ...
    rv = multivariate_normal(mean=x[0], cov=cov)
    val, _ = integrate.dblquad(lambda y2, y1: rv.pdf([y1, y2]) * np.exp(-g2(y1, y2) / eps),
                               -9, 9, -9, 9, epsabs=1e-14, epsrel=1e-11)
    # ... and Gauss–Hermite in whitened coordinates y = x + C z, C Cᵀ = cov, at every point
    nodes, weights = np.polynomial.hermite.hermgauss(80)
    z = math.sqrt(2) * np.stack(np.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(-1, 2)
    w = np.outer(weights, weights).ravel() / math.pi
    ys = x[:, None, :] + z @ np.linalg.cholesky(cov).T
    gh = (w * np.exp(-g2(ys[..., 0], ys[..., 1]) / eps)).sum(-1)
    assert abs(gh[0] - val) <= 1e-11 * val
    ref = -eps * np.log(gh)
    axis = np.arange(-9.0, 9.0 + 1e-9, 0.1)
    u = core.hopf_cole(torch.tensor(x), grid_data([axis, axis], g2, eps, A), eps, t=t, normalized=True)
    np.testing.assert_allclose(u.numpy(), ref, rtol=0, atol=1e-8)


# ----------------------------------------------------------------------------------------------
# the time derivative of the normalised value


def torch_kernel_value(x, y, g, A, eps, t):
    """:func:`kernel_value` by torch.distributions (for autograd in t; independent of hjdl)."""
    cov = 2 * eps * t * (torch.eye(y.shape[1], dtype=y.dtype) if A is None else A)
    logk = torch.distributions.MultivariateNormal(y, covariance_matrix=cov).log_prob(x[:, None, :])
    return -eps * torch.logsumexp(logk - g / eps, -1)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("eps,t", [(0.1, 0.4), (1.5, 2.0)])
def test_normalized_time_derivative_against_autograd_in_t(d, metric, eps, t, dtype):
    # bug caught: + eps d/t (or no term, or eps/(2t)) for + eps d/(2t); /(4t) for /(4t²)
    x, y, g, A = problem(d, metric, points=6)
    data = data_of(y, g, A, dtype)
    xt = torch.tensor(x, dtype=dtype)
    ut = core.hopf_cole_time_derivative(xt, data, eps, t, normalized=True)
    # autograd through hopf_cole(normalized=True) itself, and through an independent definition
    y64, g64 = torch.tensor(y), torch.tensor(g)
    A64 = None if A is None else torch.tensor(A)
    tt = torch.tensor(float(t), dtype=torch.float64, requires_grad=True)
    ref = torch.stack([torch.autograd.grad(v, tt, retain_graph=True)[0]
                       for v in torch_kernel_value(torch.tensor(x), y64, g64, A64, eps, tt)])
    tt_own = torch.full((len(x),), float(t), dtype=dtype, requires_grad=True)
    (own,) = torch.autograd.grad(core.hopf_cole(xt, data, eps, t=tt_own, normalized=True).sum(), tt_own)
    scale = max(1.0, float(ref.abs().max()), value_scale(x, y, g, A, t) / t)
    assert ut.dtype == dtype
    np.testing.assert_allclose(ut.double().numpy(), ref.numpy(), rtol=0, atol=tol(dtype, scale))
    np.testing.assert_allclose(own.double().numpy(), ref.numpy(), rtol=0, atol=tol(dtype, scale))


@pytest.mark.parametrize("metric", METRICS)
def test_normalized_time_derivative_against_a_central_difference(metric):
    x, y, g, A = problem(2, metric, points=6)
    eps, t = 0.7, 1.3
    h = 1e-4  # truncation ~h²|∂³ũ/∂t³| ~ 1e-8, round-off ~ F64 |ũ| / h ~ 1e-11
    fd = (kernel_value(x, y, g, A, eps, t + h) - kernel_value(x, y, g, A, eps, t - h)) / (2 * h)
    ut = core.hopf_cole_time_derivative(torch.tensor(x), data_of(y, g, A), eps, t, normalized=True)
    np.testing.assert_allclose(ut.numpy(), fd, rtol=0, atol=1e-7 * max(1.0, float(np.abs(fd).max())))
