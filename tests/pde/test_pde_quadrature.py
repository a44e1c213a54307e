"""Gauss–Hermite heat semigroup against the closed-form Hopf–Cole value (THEORY §3, check 3).

Oracle: ũ(x, t+s) from the closed form below (plain NumPy, not hjdl.core). In the regime used
(z*_j inside the node range, s ≤ t: see hjdl.pde.quadrature) the Gauss–Hermite rule converges
exponentially in the order, so the tolerance is a small multiple of float64 round-off in a
log-sum-exp of O(1) terms.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hjdl.errors import DomainError, EpsilonError, NonFiniteError, NotPositiveDefiniteError, ShapeError
from hjdl.pde import feynman_kac, heat_semigroup_gauss_hermite


from helpers import numpy_hopf_cole as hopf_cole  # noqa: E402  (the shared NumPy oracle)


ATOMS_2D = dict(y=[[-0.7, -0.4], [0.5, 0.2], [0.0, 0.8]], g=[0.0, 0.2, 0.4])
CASES = {
    "1d-single": dict(y=[[0.3]], g=[0.2], A=[[1.0]]),
    "1d-multi": dict(y=[[-0.9], [0.1], [0.8]], g=[0.3, 0.0, 0.5], A=[[0.7]]),
    "2d-multi-iso": dict(**ATOMS_2D, A=np.eye(2)),
    "2d-multi-aniso": dict(**ATOMS_2D, A=[[1.0, 0.3], [0.3, 0.7]]),
    "3d-multi-aniso": dict(
        y=[[-0.5, 0.2, 0.1], [0.4, -0.3, 0.6], [0.1, 0.5, -0.4]],
        g=[0.1, 0.0, 0.3],
        A=[[1.0, 0.2, 0.0], [0.2, 0.8, 0.1], [0.0, 0.1, 0.6]],
    ),
}
EPS, T, S = 0.3, 1.0, 0.5


def problem(name, eps=EPS, t=T, normalized=True):
    c = CASES[name]
    d = len(c["y"][0])
    x = np.random.default_rng(11).uniform(-1.0, 1.0, size=(5, d))
    return c, x, lambda tt: (lambda p: hopf_cole(p, tt, c["y"], c["g"], c["A"], eps, normalized))


@pytest.mark.parametrize("name", CASES)
def test_matches_closed_form_to_round_off(name):
    c, x, u_at = problem(name)
    value = heat_semigroup_gauss_hermite(u_at(T), x, EPS, S, c["A"])
    assert value.shape == x.shape[:-1]
    np.testing.assert_allclose(value, u_at(T + S)(x), rtol=0, atol=1e-10)


def test_identity_matrix_is_the_default():
    c, x, u_at = problem("2d-multi-iso")
    np.testing.assert_array_equal(
        heat_semigroup_gauss_hermite(u_at(T), x, EPS, S),
        heat_semigroup_gauss_hermite(u_at(T), x, EPS, S, np.eye(2)),
    )


@pytest.mark.parametrize("eps,s", [(0.3, 3.0), (0.005, 0.5)])
def test_spectral_convergence_in_order_and_pessimistic_error_estimate(eps, s):
    # Harder regimes (s > t; tiny eps): convergence is faster than any power of the order.
    c, x, u_at = problem("1d-multi", eps=eps)
    exact = u_at(T + s)(x)
    errors = []
    for order in (20, 40, 80):
        value, estimate = heat_semigroup_gauss_hermite(
            u_at(T), x, eps, s, c["A"], order, return_error_estimate=True
        )
        err = np.abs(value - exact)
        errors.append(err.max())
        big = err > 1e-13
        assert np.all(estimate[big] >= err[big])
    assert errors[1] < 1e-2 * errors[0] and errors[2] < 1e-12


def test_agrees_with_monte_carlo():
    c, x, u_at = problem("2d-multi-aniso")
    quad = heat_semigroup_gauss_hermite(u_at(T), x, EPS, S, c["A"])
    mc = feynman_kac(u_at(T), x, EPS, S, c["A"], n_samples=20_000, rng=np.random.default_rng(12))
    np.testing.assert_array_less(np.abs(quad - mc.value), 4 * mc.stderr)


@pytest.mark.parametrize("name", ["1d-multi", "3d-multi-aniso"])
def test_unnormalized_value_fails(name):
    """Negative control: the semigroup misses the un-normalised formula by (εd/2) log((t+s)/t)."""
    c, x, u_at = problem(name, normalized=False)
    d = x.shape[-1]
    gap = heat_semigroup_gauss_hermite(u_at(T), x, EPS, S, c["A"]) - u_at(T + S)(x)
    assert np.all(np.abs(gap) > 1e-2)
    np.testing.assert_allclose(gap, EPS * d / 2 * np.log((T + S) / T), rtol=0, atol=1e-10)


def test_log_space_is_stable_for_huge_u_over_eps():
    c, x, u_at = problem("2d-multi-iso")
    eps = 0.01
    base = heat_semigroup_gauss_hermite(u_at(T), x, eps, S)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for shift in (1e4, -1e4):
            shifted = heat_semigroup_gauss_hermite(lambda p: u_at(T)(p) + shift, x, eps, S)
            np.testing.assert_allclose(shifted - shift, base, rtol=0, atol=1e-9)
        infinite = heat_semigroup_gauss_hermite(lambda p: np.full(p.shape[:-1], np.inf), x, eps, S)
    assert np.all(infinite == np.inf)


def test_chunking_does_not_change_the_result():
    c, x, u_at = problem("3d-multi-aniso")
    a = heat_semigroup_gauss_hermite(u_at(T), x, EPS, S, c["A"], order=12, chunk=1728)
    b = heat_semigroup_gauss_hermite(u_at(T), x, EPS, S, c["A"], order=12, chunk=100)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(x=np.zeros((2, 4))), ShapeError, "d <= 3.*d = 4"),
        (dict(order=0), DomainError, "order must be an integer >= 1; got 0"),
        (dict(order=201), DomainError, r"order must be an integer in \[1, 200\]; got 201"),
        (dict(eps=-1.0), EpsilonError, "eps must be a finite number > 0; got -1.0"),
        (dict(s=0.0), DomainError, "s must be > 0; got 0.0"),
        (dict(A=[[1.0, 0.0], [0.0, 0.0]]), NotPositiveDefiniteError, "positive definite"),
        (dict(u_fn=lambda p: p.sum()), ShapeError, "u_fn"),
        (dict(u_fn=lambda p: np.full(p.shape[:-1], np.nan)), NonFiniteError, "NaN"),
    ],
)
def test_bad_inputs_raise_hjdl_errors(kwargs, error, match):
    args = dict(u_fn=lambda p: (p**2).sum(-1), x=np.zeros((3, 2)), eps=0.5, s=0.5, order=5)
    with pytest.raises(error, match=match):
        heat_semigroup_gauss_hermite(**{**args, **kwargs})
