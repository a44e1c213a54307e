"""What hjdl.solve records beside the value, against independent computations (added by the
mutation audit: a halved duality gap, a doubled bias estimate and a QMC run of twice the budget
all passed the other solver tests)."""

from __future__ import annotations

import functools

import numpy as np
import torch

import hjdl

F64 = torch.float64


def _spd(d, seed, cond):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q @ np.diag(np.linspace(1.0, cond, d)) @ Q.T


def test_lower_bound_is_the_hopf_dual_value_at_the_returned_point(monkeypatch):
    # g(y) = ½(y − a)ᵀQ(y − a) is convex; at any ŷ the tangent plane with q = ∇g(ŷ) = Q(ŷ − a)
    # gives the Hopf dual value g(ŷ) + q·(x − ŷ) − t qᵀAq <= u_0(x) (NumPy, from ŷ alone); the
    # upper end is the cost c(ŷ) = g(ŷ) + (x − ŷ)ᵀA⁻¹(x − ŷ)/(4t). An early stop keeps the gap open.
    import hjdl.solver.hopf_lax as hl

    monkeypatch.setattr(hl, "minimise", functools.partial(hl.minimise, max_iter=2, newton=0))
    d, t = 5, 0.8
    rng = np.random.default_rng(4)
    a, Q, A, x = rng.normal(size=d), _spd(d, 1, 150.0), _spd(d, 2, 3.0), rng.normal(size=(3, d))
    a_t, Q_t = torch.tensor(a), torch.tensor(Q)
    g = lambda y: 0.5 * (((y - a_t) @ Q_t) * (y - a_t)).sum(-1)  # noqa: E731
    sol = hjdl.solve(g, torch.tensor(x), t=t, eps=0, A=torch.tensor(A), g_convex=True)
    yh = sol.info["minimiser"].numpy()
    gy = 0.5 * np.einsum("bi,ij,bj->b", yh - a, Q, yh - a)
    q = (yh - a) @ Q
    lower = gy + np.einsum("bi,bi->b", q, x - yh) - t * np.einsum("bi,ij,bj->b", q, A, q)
    upper = gy + np.einsum("bi,ij,bj->b", x - yh, np.linalg.inv(A), x - yh) / (4 * t)
    np.testing.assert_allclose(sol.interval[:, 0].numpy(), lower, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(sol.interval[:, 1].numpy(), upper, rtol=1e-9, atol=1e-9)
    assert np.all(upper - lower > 1e-6)


def test_bias_estimate_is_the_second_order_bias_of_the_log():
    # x = 0, g = q|y|²/2 in d = 1, atoms y = sqrt(2 eps t) Z: the weight w = exp(−g/eps) = exp(−qtZ²)
    # has E[w] = (1 + 2qt)^(-1/2) and E[w²] = (1 + 4qt)^(-1/2); the bias of −eps log(mean of N
    # weights) is eps·Var(w)/(2 N E[w]²) to second order. The recorded estimate, averaged over seeds,
    # must match it (its spread over 200 seeds is a few per cent; a factor 2 is far outside).
    q, eps, t, N = 4.0, 0.5, 1.0, 32
    g = lambda y: 0.5 * q * (y * y).sum(-1)  # noqa: E731
    x = torch.zeros(1, 1, dtype=F64)
    rel_var = (1 + 2 * q * t) / np.sqrt(1 + 4 * q * t) - 1
    exact = eps * rel_var / (2 * N)
    est = [float(hjdl.solve(g, x, t=t, eps=eps, method="mc", budget=N, seed=s).info["bias_estimate"][0])
           for s in range(200)]
    assert abs(np.mean(est) / exact - 1) < 0.25, (np.mean(est), exact)


def test_qmc_uses_whole_replicates_within_the_budget():
    # R replicates of 2**m Sobol points with 2**m the largest power of two <= budget / R
    g = lambda y: (y * y).sum(-1)  # noqa: E731
    for budget, R, per in ((1000, 16, 32), (1024, 16, 64), (100, 3, 32), (40, 16, 2)):
        sol = hjdl.solve(g, torch.zeros(1, 2, dtype=F64), t=1.0, eps=1.0, method="qmc", budget=budget,
                         replicates=R, seed=0)
        assert sol.info["per_replicate"] == per and sol.info["replicates"] == R
        assert sol.n_samples == R * per <= max(budget, 2 * R)
