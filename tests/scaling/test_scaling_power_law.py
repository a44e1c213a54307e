"""fit_power_law against SciPy: OLS slope, intercept, standard error and t interval against
scipy.stats.linregress and scipy.stats.t.ppf; the robust fit's final weighted least squares against
an explicit normal-equations solution; Theil-Sen against scipy.stats.theilslopes."""

import math
from fractions import Fraction as Fr

import numpy as np
import pytest
from scipy import stats

from hjdl.scaling import fit_power_law

REL = 1e-12


def _close(a, b, scale, rel=REL):
    """|a - b| <= rel * scale (scale: the size of the quantities a and b are formed from)."""
    return abs(a - b) <= rel * scale


def _cases(count, seed):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(3, 25))
        N = np.sort(rng.uniform(1.0, 1e6, size=n))
        E = 3.0 * N ** rng.uniform(-1.5, 0.5) * np.exp(rng.uniform(1e-3, 1.0) * rng.normal(size=n))
        yield N, E, float(rng.uniform(0.5, 0.999))


def _exact_wls(x, y, w):
    """Weighted least squares of y on x in exact rational arithmetic (the floats taken as exact):
    slope, intercept, SE of the slope with sigma^2 = sum w r^2 / (kept - 2), mean of x."""
    X, Y, Wt = ([Fr(float(v)) for v in a] for a in (x, y, w))
    sw = sum(Wt)
    xm = sum(c * a for c, a in zip(Wt, X)) / sw
    ym = sum(c * b for c, b in zip(Wt, Y)) / sw
    sxx = sum(c * (a - xm) ** 2 for c, a in zip(Wt, X))
    slope = sum(c * (a - xm) * (b - ym) for c, a, b in zip(Wt, X, Y)) / sxx
    icpt = ym - slope * xm
    rss = sum(c * (b - icpt - slope * a) ** 2 for c, a, b in zip(Wt, X, Y))
    kept = sum(1 for c in Wt if c > 0)
    return float(slope), float(icpt), math.sqrt(float(rss / (kept - 2) / sxx)), float(xm), kept


def _check_against(fit, conf, slope, icpt, se, xm, dof, rel=REL):
    q = stats.t.ppf(0.5 + conf / 2, dof)
    scale = abs(slope) + se
    assert _close(fit.slope, slope, scale, rel), (fit.slope, slope)
    assert _close(fit.stderr, se, se, rel), (fit.stderr, se)
    assert _close(math.log(fit.prefactor), icpt, abs(icpt) + abs(xm) * scale, rel), (fit.prefactor, icpt)
    assert _close(fit.ci[0], slope - q * se, scale * q, rel) and _close(fit.ci[1], slope + q * se, scale * q, rel)


def test_ols_matches_linregress_and_student_t():
    n_scipy = 0
    for N, E, conf in _cases(150, 0):
        fit = fit_power_law(N, E, method="ols", confidence=conf)
        x, y = np.log(N), np.log(E)
        # the exact least-squares line of the same floats, and Student's t from SciPy
        slope, icpt, se, xm, _ = _exact_wls(x, y, np.ones_like(x))
        _check_against(fit, conf, slope, icpt, se, xm, N.size - 2, rel=1e-13)
        # scipy.stats.linregress forms the SE from 1 - r^2, which cancels as |r| -> 1 (its own
        # error reaches 2e-12 at 1 - r^2 ~ 1e-5): compared where it keeps 1e-12 itself
        ref = stats.linregress(x, y)
        if 1 - ref.rvalue**2 > 1e-2:
            _check_against(fit, conf, ref.slope, ref.intercept, ref.stderr, float(x.mean()), N.size - 2)
            n_scipy += 1
        assert fit.confidence == conf and fit.n_points == N.size and bool((fit.weights == 1).all())
        assert fit.exponent_ci == (-fit.ci[1], -fit.ci[0])
    assert n_scipy > 50


def test_robust_fit_is_the_weighted_least_squares_of_its_weights():
    # with the returned weights w the slope, intercept, SE (sigma^2 = sum w r^2 / (kept - 2)) and
    # the t interval with kept - 2 degrees of freedom are those of exact weighted least squares
    checked = 0
    for N, E, conf in _cases(150, 1):
        E = E.copy()
        E[len(E) // 2] *= 50.0                       # an outlier for the biweight to drop
        fit = fit_power_law(N, E, confidence=conf)
        if int((fit.weights > 0).sum()) < 3:
            continue
        slope, icpt, se, xm, kept = _exact_wls(np.log(N), np.log(E), fit.weights)
        _check_against(fit, conf, slope, icpt, se, xm, kept - 2, rel=1e-13)
        checked += 1
    assert checked > 100


def test_theil_sen_matches_scipy():
    for N, E, conf in _cases(60, 2):
        fit = fit_power_law(N, E, method="theil-sen", confidence=conf)
        slope, intercept, lo, hi = stats.theilslopes(np.log(E), np.log(N), alpha=conf)
        assert (fit.slope, fit.ci) == (slope, (lo, hi))
        assert fit.prefactor == pytest.approx(np.exp(intercept), rel=REL)
        assert fit.stderr == pytest.approx((hi - lo) / (2 * stats.norm.ppf(0.5 + conf / 2)), rel=REL)


def test_three_points_use_one_degree_of_freedom():
    N, E = np.array([1.0, 10.0, 100.0]), np.array([1.0, 0.5, 0.2])
    fit = fit_power_law(N, E, method="ols", confidence=0.9)
    ref = stats.linregress(np.log(N), np.log(E))
    assert fit.ci[1] - fit.slope == pytest.approx(stats.t.ppf(0.95, 1) * ref.stderr, rel=REL)
