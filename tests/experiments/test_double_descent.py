"""double-descent: the near-shock, shock-count and conditioning measurements against independent
computations; the negative control (no near-shocks) and the positive one; the verdict wiring on
made-up curves (shocks that do / do not track the error); the data split; a tiny run end to end."""

import math

import numpy as np
import pytest
import torch

from hjdl.experiments import get
from hjdl.experiments import double_descent as mod

TINY = {"n_train": 8, "n_test": 60, "widths": [2, 3, 8, 12, 32], "seeds": 3, "grid": 256,
        "settings": [{"name": "noise 0.3, eps 0.05", "noise": 0.3, "eps": 0.05, "steps": 60}]}


pytestmark = pytest.mark.usefixtures("one_thread")


def _f64(x):
    return torch.tensor(x, dtype=torch.float64)


def test_gap_threshold_is_eps_exactly():
    # two atoms ±e1, eps 0.1: the top-two gap at (t, 0) is 2|t|, so near-shock iff |t| < 0.05
    W, b = _f64([[1.0, 0.0], [-1.0, 0.0]]), _f64([0.0, 0.0])
    X = _f64([[0.0, 0.0], [0.049, 3.0], [-0.049, -1.0], [0.051, 0.0], [-0.2, 0.0], [2.0, 0.0]])
    st = mod.near_shock_stats(W, b, 0.1, X)
    assert st["near"].tolist() == [True, True, True, False, False, False]
    assert st["fraction"] == pytest.approx(0.5)


def test_stats_against_an_independent_numpy_computation():
    rng = np.random.default_rng(3)
    W, b, X, eps = rng.normal(size=(7, 2)) * 2, rng.normal(size=7), rng.normal(size=(200, 2)), 0.3
    z = X @ W.T + b
    zs = np.sort(z, axis=1)
    near = (zs[:, -1] - zs[:, -2]) < eps
    p = np.exp((z - z.max(1, keepdims=True)) / eps)
    p /= p.sum(1, keepdims=True)
    mean = p @ W
    cov = np.einsum("ij,jk,jl->ikl", p, W, W) - np.einsum("ik,il->ikl", mean, mean)
    curv = np.linalg.eigvalsh(cov)[:, -1] / eps  # Var_pi[W]/eps, top eigenvalue
    st = mod.near_shock_stats(_f64(W), _f64(b), eps, _f64(X))
    assert st["near"].numpy().tolist() == near.tolist() and 0 < near.sum() < len(near)
    np.testing.assert_allclose(st["curvature"].numpy(), curv, rtol=1e-9, atol=1e-12)
    assert st["curvature_ratio"] == pytest.approx(curv[near].mean() / curv[~near].mean(), rel=1e-9)


def test_negative_control_has_no_near_shocks_and_positive_control_only_near_shocks():
    W, b, eps, centres, boundaries = mod.control_network(n_atoms=8, radius=5.0, eps=1e-3)
    assert mod.near_shock_stats(W, b, eps, centres)["fraction"] == 0.0
    assert mod.near_shock_stats(W, b, eps, boundaries)["fraction"] == 1.0
    # a well separated network on random points of the circle: near-shocks only within eps of a
    # boundary, i.e. (for these atoms) a fraction of order eps, not a visible share
    th = np.random.default_rng(0).uniform(0, 2 * np.pi, 4000)
    X = _f64(np.stack([np.cos(th), np.sin(th)], 1))
    assert mod.near_shock_stats(W, b, eps, X)["fraction"] < 0.01
    assert mod.shock_count(W, b, 1024) == 8
    assert mod.shock_count(W[:1], b[:1], 1024) == 0


def test_conditioning_is_the_smallest_nonzero_singular_value():
    # tiny eps: the Gibbs matrix is the one-hot assignment; columns with 4 and 9 points, one
    # neuron that wins nowhere (a zero column, ignored): singular values 2 and 3
    W, b = _f64([[5.0, 0.0], [-5.0, 0.0], [0.0, -50.0]]), _f64([0.0, 0.0, -100.0])
    X = _f64([[1.0, 0.1 * k] for k in range(4)] + [[-1.0, 0.1 * k] for k in range(9)])
    assert mod.gibbs_conditioning(W, b, 1e-3, X) == pytest.approx(2.0, rel=1e-9)


def test_bump_statistic():
    widths = [2, 4, 8, 16, 32, 64]
    assert mod.bump(widths, [1.0, 0.5, 0.9, 1.2, 0.6, 0.4], n=16) == pytest.approx(math.log(1.2 / 0.5))
    assert mod.bump(widths, [1.0, 0.8, 0.6, 0.5, 0.4, 0.3], n=16) < 0
    assert math.isnan(mod.bump([8, 16, 32], [1.0, 2.0, 1.0], n=16))
    from hjdl.errors import InputError, ShapeError
    with pytest.raises(ShapeError, match="widths and errors"):
        mod.bump([2, 4], [1.0], n=4)
    with pytest.raises(InputError, match="grid"):
        mod.shock_count(_f64([[1.0, 0.0]]), _f64([0.0]), 1)


def test_bump_edges_are_inclusive_in_the_middle_only():
    # n = 4: the middle is 2 <= N <= 8, left N < 2, right N > 8; N = 8 is middle, not right (a
    # right side that took it would read min(0.5, 1.0) = 0.5 instead of 1.0)
    widths, errors = [1, 2, 4, 8, 16], [0.1, 0.2, 3.0, 0.5, 1.0]
    assert mod.bump(widths, errors, n=4) == pytest.approx(math.log(3.0 / 1.0))
    # and N = 2 = n/2 is middle, not left
    assert math.isnan(mod.bump([2, 4, 16], [5.0, 1.0, 2.0], n=4))  # no width left of the middle
    assert mod.bump([1, 2, 16], [0.5, 4.0, 2.0], n=4) == pytest.approx(math.log(4.0 / 2.0))


def test_shock_count_closes_the_circle():
    # three unit atoms at angles 0.3, -0.7 and pi (no biases): three arcs, three shocks; the shock
    # between the atoms at 0.3 and -0.7 lies at -0.2, between the last angle of an 8-point grid
    # (-pi/4) and 0, so it is seen only across the wrap-around
    ang = np.array([0.3, -0.7, math.pi])
    W = _f64(np.stack([np.cos(ang), np.sin(ang)], 1))
    assert mod.shock_count(W, _f64([0.0, 0.0, 0.0]), 8) == 3
    assert mod.shock_count(W, _f64([0.0, 0.0, 0.0]), 1000) == 3


def _payloads(widths, seeds, error, fraction, sigma_min):
    out = []
    for N in widths:
        out.append({"setting": 0, "N": N, "train": [1e-3] * seeds, "test": [error(N, s) for s in range(seeds)],
                    "fraction": [fraction(N, s) for s in range(seeds)], "shocks": [N] * seeds,
                    "curvature_mean": [1.0] * seeds, "curvature_ratio": [2.0] * seeds,
                    "sigma_min": [sigma_min(N, s) for s in range(seeds)], "bound_ok": [True] * seeds})
    return out


def test_verdicts_follow_made_up_curves():
    cfg = get("double-descent").config("quick", **{**TINY, "n_train": 16, "widths": [2, 4, 8, 16, 24, 32, 64, 128],
                                                   "seeds": 4})
    w = cfg["widths"]
    spike = lambda N, s: 1.0 + 2.0 * math.exp(-(math.log2(N / 16)) ** 2) + 0.01 * s  # noqa: E731
    # the near-shocks peak with the error, the conditioning keeps growing: shocks win
    res = mod._assemble(cfg, _payloads(w, 4, spike, lambda N, s: spike(N, s) / 10 + 0.001 * s,
                                       lambda N, s: 1.0 / N), seed=0)
    v = [c.verdict for c in res.claims]
    assert v[:3] == ["confirmed", "confirmed", "confirmed"] and v[3:] == ["theorem (sanity check)"] * 2
    # the conditioning peaks with the error, the near-shocks keep growing: the rival wins
    res = mod._assemble(cfg, _payloads(w, 4, spike, lambda N, s: N / 200 + 0.001 * s,
                                       lambda N, s: 1.0 / spike(N, s)), seed=0)
    v = [c.verdict for c in res.claims]
    assert v[:3] == ["confirmed", "not confirmed", "not confirmed"]
    # a monotone error curve: no double descent
    res = mod._assemble(cfg, _payloads(w, 4, lambda N, s: 10.0 / N + 0.01 * s, lambda N, s: 0.1,
                                       lambda N, s: 1.0), seed=0)
    assert res.claims[0].verdict == "not confirmed"
    # a bound violation is reported
    p = _payloads(w, 4, spike, lambda N, s: 0.1, lambda N, s: 1.0)
    p[2]["bound_ok"][1] = False
    assert mod._assemble(cfg, p, seed=0).claims[3].verdict == "not confirmed"


def test_training_sees_only_training_points(monkeypatch):
    from hjdl import training
    seen = {}
    real = training.train_many

    def spy(W, b, eps, X, y, **kw):
        seen["X"], seen["y"] = X, y
        return real(W, b, eps, X, y, **kw)

    monkeypatch.setattr(training, "train_many", spy)
    cfg = get("double-descent").config("quick", **TINY)
    mod._run_unit(cfg, {"setting": 0, "N": 3}, seed=5, progress=False)
    Xtr, ytr, Xte, gte = mod._data(cfg, 5, 0, 0.3)
    assert seen["X"].shape == (8, 2) and torch.equal(seen["X"], Xtr) and torch.equal(seen["y"], ytr)
    assert torch.cdist(Xtr, Xte).min() > 0  # no test point among the training points
    # test targets are noise-free, training labels are not
    theta = torch.atan2(Xte[:, 1], Xte[:, 0])
    torch.testing.assert_close(gte, torch.sin(2 * theta))
    assert not torch.allclose(ytr, torch.sin(2 * torch.atan2(Xtr[:, 1], Xtr[:, 0])))


def test_tiny_run_end_to_end(quick_run):
    res = quick_run("double-descent", **TINY).result
    assert not res.failed and len(res.claims) == 5
    assert [c.kind for c in res.claims] == ["evidence"] * 3 + ["theorem"] * 2
    assert all(c.rival for c in res.claims[:3])
    assert [c.verdict for c in res.claims[3:]] == ["theorem (sanity check)"] * 2
    assert len(res.tables["curves"].rows) == len(TINY["widths"])
    from hjdl.plotting import figures_for
    from hjdl.plotting.style import caption_of
    figs = figures_for(res)
    assert set(figs) == {"double_descent"} and caption_of(figs["double_descent"])
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plotting"))
    from figure_rules import figure_problems
    assert figure_problems(figs["double_descent"]) == []


def test_a_unit_depends_on_seed_and_unit_only():
    cfg = get("double-descent").config("quick", **TINY)
    a = mod._run_unit(cfg, {"setting": 0, "N": 3}, seed=2, progress=False)
    mod._run_unit(cfg, {"setting": 0, "N": 8}, seed=2, progress=False)  # another unit in between
    b = mod._run_unit(cfg, {"setting": 0, "N": 3}, seed=2, progress=False)
    c = mod._run_unit(cfg, {"setting": 0, "N": 3}, seed=3, progress=False)
    import json
    assert json.dumps(a) == json.dumps(b) and a["test"] != c["test"]  # (NaN != NaN: compare the text)
