"""generalization-rate: targets against a brute-force Hopf–Lax infimum, k-NN recovers its known rate,
a wrong prescription is flatter, selection never sees the test set, units equal the serial run."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from hjdl.experiments import EVIDENCE_VERDICTS, get
from hjdl.experiments import _generalization as G
from hjdl.experiments import generalization_rate as GR

sys.path.insert(0, str(Path(__file__).parents[1] / "plotting"))

TINY = {"dims": [2], "sizes": [50, 100, 200, 400, 800], "targets": ["point-distance", "smooth"], "seeds": 2,
        "steps": 150, "bootstrap": 50, "mlp": False, "n_test": 600}


@pytest.fixture
def tiny(quick_run):
    return quick_run("generalization-rate", seed=3, **TINY)


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("name", G.TARGETS)
def test_targets_are_the_hopf_lax_infimum(name, d):
    # u(x) = inf_y g(y) + |x − y|²/(4t), by brute force over a grid of y: the grid minimum is above
    # the infimum by at most (Lip of the cost near the minimiser) · (half the grid diagonal h√d/2), with
    # that Lip at most 2 for 1-Lipschitz g and 3√d for the smooth g = |y − c|²/2 on [−0.5, 1.5]^d: 1.5·d·h
    t = 0.05
    g, u = G.make_target(name, d, t, np.random.default_rng(5))
    h = 2e-4 if d == 1 else 4e-3
    axis = np.arange(-0.5, 1.5 + h / 2, h)
    Y = np.stack(np.meshgrid(*[axis] * d, indexing="ij"), -1).reshape(-1, d)
    gY = g(Y)
    X = np.random.default_rng(6).uniform(0, 1, (7, d))
    brute = np.array([np.min(gY + ((Y - x) ** 2).sum(-1) / (4 * t)) for x in X])
    exact = u(X)
    assert np.all(brute >= exact - 1e-12), (brute - exact)
    assert np.all(brute - exact <= 1.5 * d * h + 1e-12), (brute - exact)


def test_knn_recovers_its_known_rate():
    # On u ≡ 0 with noise σ the k-NN prediction is the mean of k noise values: MSE = σ²/k exactly in
    # expectation, and with k ∝ n^(2/(d+2)) the RMSE decays as n^(−1/(d+2)) (d = 2: 0.25, not 0.5).
    d, sigma = 2, 0.3
    sizes = [100, 200, 400, 800, 1600, 3200, 6400]
    rmse, ratio = np.zeros((3, len(sizes))), np.zeros((3, len(sizes)))
    for s in range(3):
        rng = np.random.default_rng(s)
        Xte = rng.uniform(0, 1, (400, d))
        for i, n in enumerate(sizes):
            X = rng.uniform(0, 1, (n, d))
            k = G.knn_k(n, d, 1.0)
            pred = G.knn_predict(X, sigma * rng.standard_normal(n), Xte, k)
            rmse[s, i] = math.sqrt(np.mean(pred**2))
            ratio[s, i] = rmse[s, i] * math.sqrt(k) / sigma
    # neighbouring test points share neighbours, so one draw scatters; the average ratio is 1
    assert 0.9 < ratio.mean() < 1.1, ratio
    fit = GR.exponent_with_interval(sizes, rmse, n_boot=100, confidence=0.95, rng=np.random.default_rng(0))
    lo, hi = fit["ci"]
    assert lo <= 0.25 <= hi and hi < 0.4, fit
    assert abs(fit["alpha"] - 0.25) < 0.04, fit


def test_bootstrap_interval_reflects_the_spread_over_seeds():
    # three seeds on exact power laws with exponents 0.2, 0.3, 0.4: the geometric-mean curve is an
    # exact power law (fit interval of width ~0), so only the resampling of seeds gives the spread;
    # the mean exponent of a resample of three lies in [0.2, 0.4] and takes each extreme with
    # probability 1/27 = 3.7 % > 2.5 %, so the 95 % percentile interval is exactly [0.2, 0.4]
    n = np.array([50.0, 100, 200, 400, 800])
    R = np.array([2.0 * n ** -a for a in (0.2, 0.3, 0.4)])
    f = GR.exponent_with_interval(n, R, n_boot=2000, confidence=0.95, rng=np.random.default_rng(1))
    assert f["alpha"] == pytest.approx(0.3, abs=1e-9)
    assert f["fit_ci"][1] - f["fit_ci"][0] < 1e-6
    assert f["boot_ci"] == pytest.approx([0.2, 0.4], abs=1e-9)
    assert f["ci"] == pytest.approx(f["boot_ci"], abs=1e-6)


def test_prescriptions(tiny):
    _, config, units, payloads, _ = tiny
    for u, p in zip(units, payloads):
        n, d = u["n"], u["d"]
        assert p["N"] == min(n, math.ceil(n ** (d / (d + 2))))
        assert p["eps"] == pytest.approx(p["N"] ** (-1.0 / d), rel=1e-12)
        assert p["k"] == round(n ** (2 / (d + 2)))


def test_wrong_prescription_is_flatter(tiny):
    result = tiny[4]
    rows = {(r[1], r[2]): r for r in result.tables["exponents"].rows}
    theory, fixed = rows[("point-distance", "lse-theory")], rows[("point-distance", "lse-fixed")]
    assert fixed[3] < theory[3] - 0.1, (theory, fixed)


def test_selection_uses_validation_only(tiny):
    _, config, units, payloads, _ = tiny
    for p in payloads:
        val, test = np.array(p["candidates"]["val"]), np.array(p["candidates"]["test"])
        K, T = val.shape[:2]
        pick = val.reshape(K, T, -1).argmin(-1)
        expect = np.take_along_axis(test.reshape(K, T, -1), pick[..., None], -1)[..., 0]
        np.testing.assert_array_equal(np.array(p["test"]["lse-validated"]), expect)
    # a different test set leaves every choice unchanged
    exp = get("generalization-rate")
    other = exp.run_unit(dict(config, n_test=150, sizes=[200]), {"d": 2, "n": 200}, seed=3)
    same = next(p for p in payloads if p["n"] == 200)
    assert other["chosen_factors"] == same["chosen_factors"]
    np.testing.assert_array_equal(other["candidates"]["val"], same["candidates"]["val"])


def test_claims_and_units_equal_serial(tiny):
    exp, config, units, payloads, result = tiny
    assert len(result.claims) == len(config["dims"]) * 4  # three models (no MLP here) + the control
    for c in result.claims:
        assert c.verdict in EVIDENCE_VERDICTS and c.rival.strip()
    order = list(range(len(units)))[::-1]
    again = {i: exp.run_unit(config, units[i], seed=3) for i in order[:2]}
    for i, p in again.items():
        assert p == payloads[i]
    serial = exp.func(config, seed=3, progress=False)
    assert serial.tables["exponents"].rows == result.tables["exponents"].rows
    assert [c.measured for c in serial.claims] == [c.measured for c in result.claims]


def test_figures_follow_the_rules(tiny):
    from figure_rules import figure_problems

    from hjdl.plotting import figures_for

    figs = figures_for(tiny[4])
    assert set(figs) == {"generalization_d2"}
    for fig in figs.values():
        assert figure_problems(fig) == []
