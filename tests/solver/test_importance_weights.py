"""The importance sampler's log-weights against SciPy densities (an independent computation):
``ℓ = log K(x − y) − g(y)/eps − log q(y)`` with ``K`` the Gaussian of covariance ``2 eps t A`` and
``q`` the scale mixture ``Σ_k α_k N(μ, s_k² Σ)``, for an anisotropic (full, non-diagonal) A."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from hjdl.solver._checks import factors
from hjdl.solver.importance import SCALES, Proposal, _weights, log_kernel_peak

F64 = torch.float64


def _anisotropic(d, seed):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q @ np.diag(np.geomspace(0.3, 5.0, d)) @ Q.T


def g(y):
    return torch.log1p((y * y).sum(-1)) + 0.7 * y[:, 0]


@pytest.mark.parametrize("d,eps,t", [(1, 0.4, 0.9), (3, 0.05, 1.7), (6, 1.3, 0.25)])
def test_log_weights_equal_scipy_densities(d, eps, t):
    A = _anisotropic(d, seed=d)
    fac = factors(torch.tensor(A))
    assert fac.logdet == pytest.approx(np.linalg.slogdet(A)[1], abs=1e-12)
    rng = np.random.default_rng(10 + d)
    B, n = 2, 50
    x = torch.tensor(rng.normal(size=(B, d)))
    mu = torch.tensor(rng.normal(size=(B, d)))
    S = np.stack([_anisotropic(d, seed=20 + b) * 0.5 for b in range(B)])
    alpha = torch.tensor(rng.dirichlet(np.ones(len(SCALES)), size=B))
    prop = Proposal(mu, torch.tensor(S), alpha)
    y, logq, _ = prop.sample(n, torch.Generator().manual_seed(0))
    ell, delta = _weights(g, x, y, logq, eps, t, fac.Cinv, log_kernel_peak(eps, d, t, fac.logdet))
    yn = y.numpy()
    for b in range(B):
        logK = multivariate_normal(mean=x[b].numpy(), cov=2 * eps * t * A).logpdf(yn[b])
        comps = np.stack([np.log(alpha[b, k].item()) + multivariate_normal(mean=mu[b].numpy(), cov=s * s * S[b])
                          .logpdf(yn[b]) for k, s in enumerate(SCALES)])
        logq_ref = logsumexp(comps, axis=0)
        np.testing.assert_allclose(logq[b].numpy(), logq_ref, rtol=0, atol=1e-9)
        ref = logK - g(y[b]).numpy() / eps - logq_ref
        np.testing.assert_allclose(ell[b].numpy(), ref, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(delta[b].numpy(), yn[b] - x[b].numpy())


def test_log_kernel_peak_is_the_gaussian_density_at_its_mean():
    A = _anisotropic(4, seed=3)
    for eps, t in ((0.2, 0.5), (3.0, 2.0)):
        ref = multivariate_normal(mean=np.zeros(4), cov=2 * eps * t * A).logpdf(np.zeros(4))
        assert log_kernel_peak(eps, 4, t, float(np.linalg.slogdet(A)[1])) == pytest.approx(ref, abs=1e-12)


def test_factors_of_a_diagonal_and_a_full_metric():
    for A in (np.diag([0.5, 2.0, 3.0]), _anisotropic(3, seed=5)):
        fac = factors(torch.tensor(A))
        C = torch.diag(fac.C) if fac.C.ndim == 1 else fac.C
        Ci = torch.diag(fac.Cinv) if fac.Cinv.ndim == 1 else fac.Cinv
        Ai = torch.diag(fac.Ainv) if fac.Ainv.ndim == 1 else fac.Ainv
        np.testing.assert_allclose((C @ C.T).numpy(), A, atol=1e-12)
        np.testing.assert_allclose(Ci.numpy(), np.linalg.inv(C.numpy()), atol=1e-12)
        np.testing.assert_allclose(Ai.numpy(), np.linalg.inv(A), atol=1e-12)
        assert fac.logdet == pytest.approx(np.linalg.slogdet(A)[1], abs=1e-12)
    assert factors(None) == (None, None, None, 0.0)
