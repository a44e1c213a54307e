"""Experiments of issue 3: references checked against scipy.integrate.quad; tiny runs are well formed."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

from hjdl.experiments import Result, get
from hjdl.experiments import intrinsic_dimension as _idim  # noqa: F401  (registers)
from hjdl.experiments import quadrature as Q
from hjdl.experiments import recovery as _rec  # noqa: F401
from hjdl.experiments import scaling_trained as _st  # noqa: F401


def _quad_u(x, g, eps, t=1.0, L=2.0):
    # −ε log ∫ exp(−[g(y) + (x−y)²/(4t)]/ε) dy, shifted by the minimum cost for stability
    cost = lambda y: g(y) + (x - y) ** 2 / (4 * t)  # noqa: E731
    c0 = min(cost(y) for y in np.linspace(-L, L, 4001))
    val, _ = quad(lambda y: math.exp(-(cost(y) - c0) / eps), -L, L, points=[0.0, x], limit=400,
                  epsabs=0, epsrel=1e-12)
    return c0 - eps * math.log(val)


@pytest.mark.parametrize("eps", [1.0, 0.05])
def test_gaussian_reference_matches_quad(eps):
    x = np.array([[0.0], [0.7], [-0.9]])
    ref = Q._reference_gaussian(x, 2.0, eps, 1.0)
    oracle = [_quad_u(float(v), lambda y: 0.5 * y * y, eps) for v in x[:, 0]]
    np.testing.assert_allclose(ref, oracle, atol=1e-10)
    # d = 2 is the product of two 1-D integrals: u adds up
    x2 = np.array([[0.7, -0.9]])
    np.testing.assert_allclose(Q._reference_gaussian(x2, 2.0, eps, 1.0), oracle[1] + oracle[2], atol=1e-10)


def test_rate_reference_matches_quad():
    x = np.array([[0.0], [0.4], [-1.2]])
    ref = Q._reference_rate(x, 1, 2.0, 1.0, 1.0, 40)
    oracle = [_quad_u(float(v), abs, 1.0) for v in x[:, 0]]
    np.testing.assert_allclose(ref, oracle, atol=1e-12)


def test_midpoint_rule_is_second_order_on_smooth_data():
    # a measured convergence order: midpoint on the Gaussian construction at fixed eps = 1
    x = np.array([[0.3]])
    errs, hs = [], []
    for n in (8, 16, 32, 64):
        nodes = Q.grid_nodes("midpoint", n, 1)
        logw = np.full(n, math.log(4.0 / n))
        u = Q.quadrature_value(x, nodes, 0.5 * nodes[:, 0] ** 2, logw, 1.0)
        errs.append(abs(u[0] - Q._reference_gaussian(x, 2.0, 1.0, 1.0)[0]))
        hs.append(4.0 / n)
    order = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(order - 2) < 0.1


@pytest.mark.parametrize("name,overrides", [
    ("recovery", dict(max_iter=40, refine_iter=10, n_points=40)),
    ("quadrature", dict(dims=[1], n_axis={"1": [8, 16, 32]})),
    ("scaling-trained", dict(dims=[1], widths=[4, 8, 16], steps=20, n_train=60, n_val=30, n_test=30)),
    ("intrinsic-dimension", dict(n=200, digits=False)),
])
def test_experiment_runs_and_is_well_formed(name, overrides):
    res = get(name).run("quick", seed=0, **overrides)
    assert isinstance(res, Result) and res.claims and res.tables
    assert set(get(name).presets) >= {"quick", "paper"}
    for c in res.claims:
        assert c.verdict in ("confirmed", "partly", "not confirmed", "identity")
    res.to_json_dict()
