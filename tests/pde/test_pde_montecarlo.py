"""Feynman–Kac Monte Carlo against the closed-form Hopf–Cole value (THEORY §3, check 3).

Oracle: ũ(x, t+s) from the closed form below (plain NumPy, not hjdl.core), since the normalised
value is carried exactly by the heat semigroup from t to t+s. Tolerances: a Monte Carlo mean is
asymptotically normal, so a fixed-seed estimate lies within 4 standard errors (two-sided
probability 6e-5 per point) and the standard error scales like n^(−1/2).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hjdl.errors import DomainError, EpsilonError, NotPositiveDefiniteError, ShapeError
from hjdl.pde import feynman_kac, observed_order


from helpers import numpy_hopf_cole as hopf_cole  # noqa: E402  (the shared NumPy oracle)


CASES = {
    "1d-single": dict(y=[[0.3]], g=[0.2], A=[[1.0]], eps=0.5),
    "1d-multi": dict(y=[[-0.9], [0.1], [0.8]], g=[0.3, 0.0, 0.5], A=[[0.7]], eps=0.2),
    "2d-multi-iso": dict(y=[[-0.7, -0.4], [0.5, 0.2], [0.0, 0.8]], g=[0.0, 0.2, 0.4], A=np.eye(2), eps=0.3),
    "2d-multi-aniso": dict(
        y=[[-0.7, -0.4], [0.5, 0.2], [0.0, 0.8]], g=[0.0, 0.2, 0.4], A=[[1.0, 0.3], [0.3, 0.7]], eps=0.3
    ),
}
T, S = 1.0, 0.5


def problem(name, normalized=True):
    c = CASES[name]
    d = len(c["y"][0])
    x = np.random.default_rng(7).uniform(-1.0, 1.0, size=(6, d))

    def u_at(t):
        return lambda p: hopf_cole(p, t, c["y"], c["g"], c["A"], c["eps"], normalized)

    return c, x, u_at


@pytest.mark.parametrize("seed,name", list(enumerate(CASES)))
def test_estimate_within_four_standard_errors(seed, name):
    # One seed per case: all points of a case share their draws (common random numbers).
    c, x, u_at = problem(name)
    est = feynman_kac(u_at(T), x, c["eps"], S, c["A"], n_samples=40_000, rng=np.random.default_rng(seed))
    assert est.value.shape == est.stderr.shape == x.shape[:-1]
    assert np.all(est.stderr > 0)
    np.testing.assert_array_less(np.abs(est.value - u_at(T + S)(x)), 4 * est.stderr)


def test_standard_error_shrinks_like_inverse_sqrt_n():
    c, x, u_at = problem("2d-multi-aniso")
    ns = np.array([1_000, 4_000, 16_000, 64_000])
    se = np.array([
        feynman_kac(u_at(T), x, c["eps"], S, c["A"], n_samples=n, rng=np.random.default_rng(2)).stderr
        for n in ns
    ])
    for k in range(x.shape[0]):
        fit = observed_order(ns, se[:, k])
        assert abs(fit.order + 0.5) < 0.05, (k, fit)


def test_standard_error_is_calibrated():
    # The spread of independent estimates matches the reported standard error (±15%:
    # with 200 replicates the sample sd has a relative error of about 1/sqrt(400) = 5%).
    c, x, u_at = problem("1d-multi")
    rng = np.random.default_rng(3)
    runs = [feynman_kac(u_at(T), x[:3], c["eps"], S, c["A"], n_samples=2_000, rng=rng) for _ in range(200)]
    values = np.array([r.value for r in runs])
    mean_se = np.mean([r.stderr for r in runs], axis=0)
    np.testing.assert_allclose(values.std(axis=0, ddof=1) / mean_se, 1.0, atol=0.15)


def test_unnormalized_value_fails():
    """Negative control: the un-normalised value is not carried by the heat semigroup.

    The semigroup applied to it at t gives ũ(t+s) minus the t-normalisation, which differs from
    the un-normalised formula at t+s by exactly (εd/2) log((t+s)/t).
    """
    c, x, u_at = problem("2d-multi-aniso", normalized=False)
    est = feynman_kac(u_at(T), x, c["eps"], S, c["A"], n_samples=40_000, rng=np.random.default_rng(4))
    gap = est.value - u_at(T + S)(x)
    assert np.all(np.abs(gap) > 10 * est.stderr)
    np.testing.assert_array_less(np.abs(gap - c["eps"] * 2 / 2 * np.log((T + S) / T)), 4 * est.stderr)


def test_deterministic_given_rng_and_independent_of_chunk():
    c, x, u_at = problem("2d-multi-iso")
    a = feynman_kac(u_at(T), x, c["eps"], S, n_samples=5_000, rng=np.random.default_rng(5), chunk=5_000)
    b = feynman_kac(u_at(T), x, c["eps"], S, n_samples=5_000, rng=np.random.default_rng(5), chunk=333)
    np.testing.assert_allclose(a.value, b.value, rtol=0, atol=1e-13)
    np.testing.assert_allclose(a.stderr, b.stderr, rtol=1e-9)
    d1 = feynman_kac(u_at(T), x, c["eps"], S, n_samples=5_000)
    d2 = feynman_kac(u_at(T), x, c["eps"], S, n_samples=5_000)
    assert np.array_equal(d1.value, d2.value)


def test_log_space_is_stable_for_huge_u_over_eps():
    # u/eps ~ ±1e6: exp would overflow/underflow; the estimate must shift by the constant.
    c, x, u_at = problem("1d-single")
    eps = 0.01
    base = feynman_kac(u_at(T), x, eps, S, n_samples=4_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for shift in (1e4, -1e4):
            est = feynman_kac(lambda p: u_at(T)(p) + shift, x, eps, S, n_samples=4_000)
            np.testing.assert_allclose(est.value - shift, base.value, rtol=0, atol=1e-9)
            np.testing.assert_allclose(est.stderr, base.stderr, rtol=1e-9)
    zero = feynman_kac(lambda p: np.full(p.shape[:-1], np.inf), x, eps, S, n_samples=100)
    assert np.all(zero.value == np.inf)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(eps=0.0), EpsilonError, "eps must be a finite number > 0; got 0.0"),
        (dict(s=-1.0), DomainError, "s must be > 0; got -1.0"),
        (dict(A=[[1.0, 2.0], [2.0, 1.0]]), NotPositiveDefiniteError, "positive definite"),
        (dict(A=np.eye(3)), ShapeError, r"\(2, 2\)"),
        (dict(n_samples=1), DomainError, "n_samples must be an integer >= 2; got 1"),
        (dict(rng=np.random.RandomState(0)), DomainError, "Generator"),
        (dict(u_fn=lambda p: p), ShapeError, "u_fn"),
        (dict(x=np.float64(1.0)), ShapeError, "x must have shape"),
    ],
)
def test_bad_inputs_raise_hjdl_errors(kwargs, error, match):
    args = dict(u_fn=lambda p: (p**2).sum(-1), x=np.zeros((3, 2)), eps=0.5, s=0.5, n_samples=10)
    with pytest.raises(error, match=match):
        feynman_kac(**{**args, **kwargs})
