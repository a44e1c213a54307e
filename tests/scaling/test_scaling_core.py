"""hjdl.scaling: eps*, TwoNN / MLE on manifolds of known dimension, power-law fits, published table."""

import math

import numpy as np
import pytest

from hjdl.errors import DomainError, InputError, NonFiniteError, ShapeError, UnknownNameError
from hjdl.scaling import (
    ESTIMATORS,
    dimension_from_exponent,
    epsilon_star,
    exponent_from_dimension,
    fit_power_law,
    intrinsic_dimension,
    published_exponents,
)


# -- eps* ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,d", [(10, 1), (7, 2), (4, 3), (3, 4)])
def test_epsilon_star_is_grid_spacing(n, d):
    # N = n^d atoms on a grid of the unit cube are 1/n apart: eps* = 1/n
    assert epsilon_star(n**d, d) == pytest.approx(1.0 / n, rel=1e-12)


def test_epsilon_star_vectorised_and_errors():
    out = epsilon_star(np.array([1, 16, 81]), 4)
    np.testing.assert_allclose(out, [1.0, 0.5, 1.0 / 3], rtol=1e-12)
    with pytest.raises(DomainError, match="n_neurons"):
        epsilon_star(0, 2)
    with pytest.raises(DomainError, match="dim"):
        epsilon_star(10, 0)
    with pytest.raises(NonFiniteError, match="dim"):
        epsilon_star(10, float("nan"))


def test_exponent_dimension_inverse_and_published_table():
    assert dimension_from_exponent(exponent_from_dimension(3.0)) == pytest.approx(3.0)
    with pytest.raises(DomainError, match="alpha"):
        dimension_from_exponent(-0.1)
    table = published_exponents()
    assert len(table) == 4
    for row in table:  # the quoted d_eff agree with 1/alpha to the quoted precision
        assert abs(row.d_eff - row.d_eff_quoted) <= 0.05 + 1e-12, row
        assert "arXiv" in row.source


# -- intrinsic dimension --------------------------------------------------------------------------
def _embed(Z, D, rng, noise=0.0):
    Q, _ = np.linalg.qr(rng.normal(size=(D, D)))
    X = Z @ Q[: Z.shape[1]]
    return X + noise * rng.normal(size=X.shape)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
@pytest.mark.parametrize("method", list(ESTIMATORS))
def test_intrinsic_dimension_on_linear_subspaces(d, method):
    rng = np.random.default_rng(d)
    X = _embed(rng.uniform(size=(2500, d)), 10, rng)
    est = intrinsic_dimension(X, method=method)
    # all these estimators underestimate in a cube (boundary points see fewer neighbours); the
    # bias grows with d and is largest for Levina-Bickel's k = 10 neighbourhoods
    budget = 0.2 if method == "levina-bickel" else 0.15
    assert abs(est - d) <= budget * d + 0.1, (method, d, est)


def test_intrinsic_dimension_curved_manifolds():
    rng = np.random.default_rng(5)
    # unit sphere S^2 in R^3, then in R^8 with small noise
    v = rng.normal(size=(3000, 3))
    S = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert abs(intrinsic_dimension(_embed(S, 8, rng, noise=1e-3)) - 2) < 0.25
    # swiss roll (2-D)
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=3000))
    h = 21 * rng.uniform(size=3000)
    roll = np.stack([t * np.cos(t), h, t * np.sin(t)], 1)
    assert abs(intrinsic_dimension(roll) - 2) < 0.25


def test_intrinsic_dimension_ignores_duplicates_and_errors():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(800, 2))
    Xd = np.vstack([X, X[:50]])
    assert abs(intrinsic_dimension(Xd) - intrinsic_dimension(X)) < 0.3
    with pytest.raises(UnknownNameError, match="twonn"):
        intrinsic_dimension(X, method="pca")
    with pytest.raises(ShapeError, match="X"):
        intrinsic_dimension(X[:, 0])
    with pytest.raises(InputError, match="at least 3"):
        intrinsic_dimension(X[:2])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(NonFiniteError, match="X"):
        intrinsic_dimension(bad)
    with pytest.raises(InputError, match="k"):
        intrinsic_dimension(X, method="levina-bickel", k=1)


# -- power laws ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["robust", "ols", "theil-sen"])
def test_power_law_exact_data(method):
    N = np.array([8, 16, 32, 64, 128, 256])
    fit = fit_power_law(N, 2.5 * N**-0.75, method=method)
    assert fit.slope == pytest.approx(-0.75, abs=1e-10)
    assert fit.exponent == pytest.approx(0.75, abs=1e-10)
    assert fit.prefactor == pytest.approx(2.5, rel=1e-9)
    np.testing.assert_allclose(fit.predict(N), 2.5 * N**-0.75, rtol=1e-9)


def test_power_law_ols_interval_coverage():
    # log-normal noise of known sigma: the 95 % t interval must cover the true slope ~95 % of the time
    rng = np.random.default_rng(1)
    N = np.geomspace(10, 1000, 7)
    hits, ses = 0, []
    for _ in range(400):
        err = 3 * N**-0.5 * np.exp(0.1 * rng.normal(size=N.size))
        fit = fit_power_law(N, err, method="ols")
        hits += fit.contains(-0.5)
        ses.append(fit.stderr)
    assert 0.91 <= hits / 400 <= 0.99
    # the SE estimates the true sampling sd: sigma / sqrt(Sxx)
    x = np.log(N)
    true_sd = 0.1 / math.sqrt(((x - x.mean()) ** 2).sum())
    assert abs(np.mean(ses) / true_sd - 1) < 0.15


def test_power_law_robust_to_one_noisy_point():
    rng = np.random.default_rng(2)
    N = np.array([10, 20, 40, 80, 160, 320, 640])
    err = N**-0.5 * np.exp(0.02 * rng.normal(size=N.size))
    err[4] *= 8.0  # one failed run
    robust = fit_power_law(N, err)
    ols = fit_power_law(N, err, method="ols")
    ts = fit_power_law(N, err, method="theil-sen")
    assert abs(robust.slope + 0.5) < 0.03 and 4 in robust.outliers.tolist()
    assert abs(ts.slope + 0.5) < 0.06
    assert abs(ols.slope + 0.5) > 0.05  # the plain fit is pulled off
    assert robust.ci[0] < -0.5 < robust.ci[1]


def test_power_law_errors():
    with pytest.raises(ShapeError, match="lengths"):
        fit_power_law([1, 2, 3], [1, 2])
    with pytest.raises(InputError, match="positive"):
        fit_power_law([1, 2, 3], [1, 0, 2])
    with pytest.raises(InputError, match="3 distinct"):
        fit_power_law([2, 2, 3], [1, 1, 2])
    with pytest.raises(UnknownNameError, match="robust"):
        fit_power_law([1, 2, 3], [1, 2, 3], method="lasso")
    with pytest.raises(InputError, match="confidence"):
        fit_power_law([1, 2, 3], [1, 2, 3], confidence=95)
