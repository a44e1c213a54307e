"""hallucination: the diffusion radius and the tropical gap against independent computations, the
error-vs-radius measurement on controls that must not confirm, and the experiment's claims/figures."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hjdl.attribution import GibbsAverager, hallucination_report
from hjdl.experiments import THEOREM, VERDICTS, get, jsonable
from hjdl.experiments import hallucination as hl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plotting"))

SMALL = {"seeds": 4, "n_train": 150, "n_test": 600, "bootstrap": 100, "map_res": 30}
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def small(quick_run):
    return quick_run("hallucination", **SMALL)


# ---------------------------------------------------------------------------- independent references
@pytest.mark.parametrize("eps,t", [(0.01, 1.0), (0.05, 0.5), (0.2, 2.0)])
def test_diffusion_radius_is_the_standard_deviation_of_the_gibbs_kernel(eps, t):
    """On a fine 1-D grid of atoms the Gibbs weights at x are a discretised Gaussian whose standard
    deviation is the radius √(2 eps t): measured from the weights, not from the formula."""
    y = torch.linspace(-20, 20, 40001, dtype=torch.float64)[:, None]
    m = GibbsAverager(y, torch.zeros(len(y), dtype=torch.float64), eps=eps, t=t)
    x = torch.tensor([[0.3]], dtype=torch.float64)
    w = m.weights(x)[0]
    sd = float(torch.sqrt((w * (y[:, 0] - 0.3) ** 2).sum()))
    rep = hallucination_report(m, x)
    assert rep.diffusion_radius == pytest.approx(sd, rel=1e-6)


def test_independent_excess_matches_brute_force_and_the_report():
    rng = np.random.default_rng(0)
    X, Xt, eps, t = rng.normal(size=(7, 2)), rng.normal(size=(5, 2)) * 3, 0.07, 0.8
    z = np.array([[-(np.sum((x - y) ** 2)) / (4 * t) + np.sum(x**2) / (4 * t) for y in X] for x in Xt])
    brute = np.array([eps * math.log(sum(math.exp((zj - max(row)) / eps) for zj in row)) for row in z])
    np.testing.assert_allclose(hl._independent_excess(Xt, X, eps, t), brute, rtol=1e-13, atol=1e-15)
    m = GibbsAverager(torch.from_numpy(X), torch.zeros(7, dtype=torch.float64), eps=eps, t=t)
    rep = hallucination_report(m, torch.from_numpy(Xt))
    np.testing.assert_allclose(rep.excess.numpy(), brute, rtol=1e-12, atol=1e-14)
    assert (brute <= rep.bound.numpy() + 1e-14).all()


def test_distances_are_in_units_of_the_radius_and_errors_are_absolute():
    rng = np.random.default_rng(2)
    X, Xt = rng.normal(size=(30, 2)), rng.normal(size=(40, 2)) * 2
    v, truth = rng.normal(size=30), rng.normal(size=40)
    eps, t = 0.03, 1.5
    run = hl._one_model(X, v, Xt, truth, "synthetic", eps, t, 0)
    dist = np.sqrt(((Xt[:, None] - X[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(run["rho"], dist / math.sqrt(2 * eps * t), rtol=1e-12)
    logits = -((Xt[:, None] - X[None]) ** 2).sum(-1) / (4 * t * eps)
    w = np.exp(logits - logits.max(1, keepdims=True))
    pred = (w / w.sum(1, keepdims=True)) @ v
    np.testing.assert_allclose(run["err"], np.abs(pred - truth), rtol=1e-10, atol=1e-12)


def test_bad_input_gets_a_clear_hjdl_error():
    from hjdl.errors import InputError, ShapeError
    with pytest.raises(ShapeError, match="err and rho: .*received shapes \\(2,\\) and \\(3,\\)"):
        hl.radius_bins([1.0, 2.0], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="rho: expected finite distance ratios >= 0"):
        hl.error_ratio([1.0], [-0.5])


def test_radius_bins_and_error_ratio():
    m, n = hl.radius_bins([1.0, 2.0, 4.0, 8.0], [0.0, 0.6, 1.0, 9.0])
    assert n.tolist() == [1, 2, 0, 0, 0, 1] and m[1] == 3.0 and np.isnan(m[2])
    assert hl.error_ratio([1.0, 3.0], [0.5, 2.0]) == 3.0
    assert math.isnan(hl.error_ratio([1.0, 3.0], [0.5, 0.7]))  # nothing beyond the radius
    # a point exactly at the radius (rho = 1) is inside: (5) / mean(1, 1), not mean(1, 5) / 1
    assert hl.error_ratio([1.0, 1.0, 5.0], [0.5, 1.0, 2.0]) == 5.0
    # no error inside: the ratio is undefined (nan), not 1 and not inf
    assert math.isnan(hl.error_ratio([0.0, 0.0, 3.0], [0.5, 0.7, 2.0]))


# ---------------------------------------------------------------------------- negative controls
def test_shuffled_distances_do_not_confirm_a_rise(small):
    """Control: the same errors with distances permuted within each seed carry no information about
    the radius; the check must not call the rise confirmed."""
    cfg, payloads = small.config, small.payloads
    rng = np.random.default_rng(5)
    shuffled = []
    for p in payloads:
        q = json.loads(json.dumps(p))
        for run in q["runs"]:
            run["rho"] = rng.permutation(run["rho"]).tolist()
        shuffled.append(q)
    r = get("hallucination").assemble(cfg, shuffled, seed=0, preset="quick")
    rows = r.tables["ratio"].rows
    synthetic = next(row for row in rows if row[0].startswith("synthetic eps"))
    assert synthetic[-1] != "confirmed"
    assert synthetic[7] <= 1.0 <= synthetic[8] or synthetic[8] < 1.0


def test_a_bound_that_is_too_small_is_caught(monkeypatch):
    """Control for the theorem check: a report whose bound is a tenth of the true one must be flagged."""
    real = hl.hallucination_report

    def shrunk(model, x, **kw):
        rep = real(model, x, **kw)
        rep.bound = rep.bound / 10
        return rep

    monkeypatch.setattr(hl, "hallucination_report", shrunk)
    exp = get("hallucination")
    cfg = exp.config("quick", datasets=["synthetic"], seeds=2, n_train=60, n_test=100, bootstrap=10, map_res=10)
    payloads = [exp.run_unit(cfg, u, seed=0) for u in exp.units(cfg, 0)]
    # the test points are checked, not only the risk-map grid (seed index 1 draws no map)
    assert all(run["bound_violations"] > 0 for p in payloads if p["k"] == 1 for run in p["runs"])
    r = exp.assemble(cfg, payloads, seed=0, preset="quick")
    bound_claim = next(c for c in r.claims if "bounds the gap" in c.statement)
    assert bound_claim.verdict == "not confirmed"


# ---------------------------------------------------------------------------- the experiment
def test_quick_run_claims_and_serialisation(small):
    r = small.result
    assert r.error is None
    assert all(c.verdict in VERDICTS for c in r.claims)
    bound = next(c for c in r.claims if "bounds the gap" in c.statement)
    assert bound.verdict == THEOREM
    ident = next(c for c in r.claims if "equals an independent" in c.statement)
    assert ident.verdict == "identity"
    radius = [c for c in r.claims if "outside the diffusion radius" in c.statement]
    assert len(radius) == 4 and all(c.is_evidence and c.rival for c in radius)
    synthetic = next(c for c in radius if "(synthetic eps" in c.statement)
    assert synthetic.verdict == "confirmed"  # far from the blobs the smoother extrapolates one atom's value
    row = next(row for row in r.tables["ratio"].rows if row[0].startswith("synthetic eps"))
    assert row[7] > 1.5  # the lower end of the interval: a large effect, not a marginal one
    json.dumps(jsonable(r.to_json_dict()))


def test_figures_follow_the_rules(small):
    from figure_rules import figure_problems

    from hjdl.plotting import figures_for
    figs = figures_for(small.result)
    assert set(figs) == {"risk_map", "error_vs_radius"}
    for name, fig in figs.items():
        assert figure_problems(fig) == [], name


def test_units_depend_on_seed_and_unit_only():
    exp = get("hallucination")
    cfg = exp.config("quick", datasets=["synthetic"], seeds=2, n_train=40, n_test=50, map_res=8)
    u = exp.units(cfg, 3)[1]
    assert exp.run_unit(cfg, u, seed=3) == exp.run_unit(cfg, u, seed=3)
    assert exp.run_unit(cfg, u, seed=3) != exp.run_unit(cfg, u, seed=4)
