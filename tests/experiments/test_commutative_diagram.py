"""commutative-diagram: the corners of the square against independent references, the commutation
check on Lipschitz constructions and on non-commuting controls, and the experiment's claims/figures.

References used here never go through hjdl: NumPy minima over the atoms, SciPy ``logsumexp`` for the
weighted discrete value, SciPy ``minimize`` / ``quad`` for the continuum values.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.special import logsumexp

from hjdl.experiments import THEOREM, VERDICTS, get, jsonable
from hjdl.experiments import commutative_diagram as cd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plotting"))

#: small sizes: the whole module stays well under 30 s on a quiet machine
SMALL = {"n_table": {"1": [4, 8, 16, 32, 64, 128], "2": [4, 8, 16, 32]},
         "n_extra": {"1": [256, 512, 1024, 2048, 4096], "2": [64, 128, 256]}, "n_points": 6}
EPS = [float(v) for v in np.round(np.logspace(-3, 0, 16), 6)]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def result(quick_run):
    return quick_run("commutative-diagram", **SMALL).result


def _g(name, y):
    r = np.linalg.norm(y, axis=-1)
    return np.sqrt(1 + r**2) - 1 if name == "smooth" else r


# ---------------------------------------------------------------------------- the four corners
@pytest.mark.parametrize("g", ["kinked", "smooth"])
@pytest.mark.parametrize("d", [1, 2])
def test_continuum_hopf_lax_matches_scipy_minimisation(g, d):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(5, d))
    got = cd.continuum_hopf_lax(g, x, t=1.0)
    for xi, u in zip(x, got):
        f = lambda y: _g(g, y[None])[0] + np.sum((xi - y) ** 2) / 4  # noqa: E731
        # several starts (the kinked g is not differentiable at its minimiser)
        best = min(optimize.minimize(f, s, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-13,
                                                                          "maxiter": 20000}).fun
                   for s in (xi, np.zeros(d), xi / 3))
        assert u == pytest.approx(best, abs=1e-7)


def test_bad_input_gets_a_clear_hjdl_error():
    from hjdl.errors import DomainError, UnknownNameError
    with pytest.raises(DomainError, match=r"x: .*\|x\| <= 2t"):
        cd.continuum_hopf_lax("kinked", np.array([[3.0]]), t=1.0)
    with pytest.raises(UnknownNameError, match="g: unknown construction 'wavy'.*'smooth'"):
        cd.continuum_hopf_lax("wavy", np.zeros((1, 1)))
    with pytest.raises(UnknownNameError, match="construction: unknown construction 'dips'.*'dip'"):
        cd.square_values("dips", 1, [4], [0.1], np.zeros((1, 1)))


@pytest.mark.parametrize("construction", ["kinked", "smooth", "unnormalised"])
def test_square_values_match_numpy_and_scipy(construction):
    d, ns, eps = 2, [3, 6], [0.01, 0.3]
    x = np.random.default_rng(1).uniform(-1, 1, size=(4, d))
    U, U0 = cd.square_values(construction, d, ns, eps, x)
    g_name = "kinked" if construction == "unnormalised" else construction
    for k, n in enumerate(ns):
        y = cd.midpoint_grid(n, d, 2.0)
        assert y.shape == (n**d, d) and np.allclose(np.sort(np.unique(y[:, 0])), -2 + (4 / n) * (np.arange(n) + .5))
        cost = _g(g_name, y)[None] + ((x[:, None] - y[None]) ** 2).sum(-1) / 4
        np.testing.assert_allclose(U0[k], cost.min(1), rtol=0, atol=1e-12)
        log_w = 0.0 if construction == "unnormalised" else -math.log(n**d)
        for i, e in enumerate(eps):
            ref = -e * logsumexp(-cost / e + log_w, axis=1)
            np.testing.assert_allclose(U[i, k], ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("g", ["kinked", "smooth"])
def test_columns_reach_the_continuum_viscous_value(g):
    """N -> oo at fixed eps: the normalised network tends to -eps log ∫ (1/|B|) exp(-cost/eps) dy (SciPy quad)."""
    x, eps = np.array([[0.3], [-0.7]]), 0.1
    U, _ = cd.square_values(g, 1, [4096], [eps], x)
    for xi, u in zip(x[:, 0], U[0, 0]):
        f = lambda y: math.exp(-(_g(g, np.array([[y]]))[0] + (xi - y) ** 2 / 4) / eps) / 4  # noqa: E731
        val = sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-12, limit=200)[0] for a, b in ((-2, 0), (0, 2)))
        assert u == pytest.approx(-eps * math.log(val), abs=1e-6)


# ---------------------------------------------------------------------------- the check
def _check(construction, d, ns, eps=None, gap=0.25):
    eps = np.asarray(EPS if eps is None else eps)
    if construction == "dip":
        ns = cd._odd(ns)
    x = np.random.default_rng(0).uniform(-1, 1, size=(6, d))
    U, U0 = cd.square_values(construction, d, ns, eps, x, gap=gap)
    u0 = cd.continuum_hopf_lax("kinked" if construction == "unnormalised" else construction, x, 1.0, gap)
    return cd.commutation_check(U, U0, u0, ns, eps, d)


NS1 = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]


@pytest.mark.parametrize("g", ["kinked", "smooth"])
def test_lipschitz_constructions_commute(g):
    c = _check(g, 1, NS1)
    assert c["commutes"] is True, c["reason"]
    assert abs(c["limit_A"]) < 2e-3 and abs(c["limit_B"]) < 2e-3
    assert c["ci_diff"][0] <= 0.0 <= c["ci_diff"][1] or max(map(abs, c["ci_diff"])) < 2e-3


def test_negative_control_unnormalised_weights_is_flagged():
    c = _check("unnormalised", 1, NS1)
    assert c["commutes"] is False
    assert c["n_resolved"] == 0 and "not reached" in c["reason"]


def test_negative_control_point_dip_is_flagged_with_the_right_gap():
    """eps first sees the dip (u_0,N = u_0 exactly); N first averages it away: the limits differ by the gap."""
    gap = 0.25
    c = _check("dip", 1, NS1, gap=gap)
    assert c["commutes"] is False and "differ" in c["reason"]
    assert abs(c["limit_A"]) < 1e-12
    assert c["limit_B"] == pytest.approx(gap, abs=0.03)
    assert c["ci_diff"][0] > 0.02


def test_path_rate_recovers_known_rates():
    N = np.geomspace(16, 4096, 9)
    p, ci, model = cd.path_rate(N, N**-0.5 * (0.7 * np.log(N) - 0.4), log_term=True)
    assert model.startswith("N^-p (A") and p == pytest.approx(0.5, abs=1e-6) and ci[0] <= 0.5 <= ci[1] + 1e-9
    p, ci, model = cd.path_rate(N, 3 * N**-1.0, log_term=False)
    assert model == "N^-p" and p == pytest.approx(1.0, abs=1e-9)


# ---------------------------------------------------------------------------- the experiment
def test_quick_run_claims_tables_and_serialisation(result):
    r = result
    assert r.error is None
    assert all(c.verdict in VERDICTS for c in r.claims)
    by = {c.statement.split(":")[0][:40]: c for c in r.claims}
    commute = next(c for c in r.claims if "square commutes" in c.statement)
    assert commute.verdict == "confirmed" and commute.is_evidence and commute.rival
    controls = next(c for c in r.claims if "can fail" in c.statement)
    assert controls.verdict == THEOREM
    t1 = next(c for c in r.claims if c.statement.startswith("Rows"))
    assert t1.verdict == THEOREM
    paths = next(c for c in r.claims if "joint limit" in c.statement)
    assert paths.verdict in ("confirmed", "partly") and paths.rival
    unif = next(c for c in r.claims if "uniformity fails" in c.statement)
    assert unif.is_evidence and unif.rival and unif.verdict in ("confirmed", "partly", "inconclusive")
    assert by
    order = r.tables["order"]
    checks = {(row[0], row[1]): row[-1] for row in order.rows}
    assert checks[(1, "unnormalised")] == checks[(2, "unnormalised")] == "order matters"
    assert checks[(1, "dip")] == checks[(2, "dip")] == "order matters"
    assert checks[(1, "kinked")] == checks[(1, "smooth")] == "commute"
    json.dumps(jsonable(r.to_json_dict()))


def test_figures_follow_the_rules(result):
    from figure_rules import figure_problems

    from hjdl.plotting import figures_for
    figs = figures_for(result)
    assert set(figs) == {"error_heatmap", "iterated_limits", "joint_paths"}
    for name, fig in figs.items():
        assert figure_problems(fig) == [], name


def test_units_are_independent_of_order():
    exp = get("commutative-diagram")
    cfg = exp.config("quick", dims=[1], gs=["kinked"], controls=[], **{k: v for k, v in SMALL.items()})
    units = exp.units(cfg, 0)
    assert units == [{"d": 1, "g": "kinked"}]
    a = exp.run_unit(cfg, units[0], seed=0)
    b = exp.run_unit(cfg, units[0], seed=0)
    assert a == b
