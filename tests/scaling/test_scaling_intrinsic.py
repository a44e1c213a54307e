"""intrinsic_dimension: every estimator on boundary-free manifolds of known dimension (flat tori,
spheres), each formula against a brute-force NumPy evaluation of its definition, scale invariance
down to 1e-300 and up to 1e300, and refusal of complex data and unknown options."""

import functools

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from hjdl.errors import InputError, ShapeError
from hjdl.scaling import ESTIMATORS, intrinsic_dimension

N_POINTS = 20000  # sampling error of every estimator well below 1 % here (measured over seeds)


@functools.lru_cache(maxsize=None)
def _manifold(kind: str, d: int) -> np.ndarray:
    rng = np.random.default_rng([7, d, len(kind)])
    if kind == "torus":
        # flat d-torus (S^1)^d: each angle -> (cos, sin), an isometric embedding in R^{2d};
        # no boundary, zero intrinsic curvature, uniform density
        a = rng.uniform(0.0, 2 * np.pi, size=(N_POINTS, d))
        return np.concatenate([np.cos(a), np.sin(a)], 1)
    # the round sphere S^d in R^{d+1}, uniform
    v = rng.normal(size=(N_POINTS, d + 1))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("method", list(ESTIMATORS))
@pytest.mark.parametrize("d", [2, 3, 5])
@pytest.mark.parametrize("kind", ["torus", "sphere"])
def test_every_estimator_on_boundary_free_manifolds(kind, d, method):
    # no boundary: the estimators' local Poisson model holds up to curvature and chord-vs-arc
    # effects, which are a few per cent at most at this n (largest: +3 % for the 5-torus)
    est = intrinsic_dimension(_manifold(kind, d), method=method)
    assert abs(est - d) <= 0.05 * d, (kind, d, method, est)


def _sorted_distances(X, k):
    D = cdist(X, X)                       # brute force, no tree
    np.fill_diagonal(D, np.inf)
    return np.sort(D, axis=1)[:, :k]      # T_1 .. T_k of every point


def test_levina_bickel_is_the_mackay_ghahramani_average():
    X = np.random.default_rng(1).normal(size=(400, 4))
    for k in (3, 5, 10, 20):
        T = _sorted_distances(X, k)
        # m_k(x)^{-1} = 1/(k-1) sum_{j=1}^{k-1} log(T_k/T_j); average, then invert
        inv = np.array([sum(np.log(t[k - 1] / t[j]) for j in range(k - 1)) / (k - 1) for t in T])
        ref = 1.0 / inv.mean()
        got = intrinsic_dimension(X, method="levina-bickel", k=k)
        assert got == pytest.approx(ref, rel=1e-12), k


def test_twonn_estimators_match_their_definitions():
    X = np.random.default_rng(2).normal(size=(500, 3))
    T = _sorted_distances(X, 2)
    mu = T[:, 1] / T[:, 0]
    n = mu.size
    assert intrinsic_dimension(X, method="twonn-mle") == pytest.approx((n - 1) / np.log(mu).sum(), rel=1e-12)
    # TwoNN: slope through the origin of -log(1 - F_emp) on log mu, largest 10 % dropped
    for frac in (0.1, 0.0, 0.3):
        m = np.sort(mu)
        keep = min(int(np.floor(n * (1 - frac))), n - 1)
        x = np.log(m[:keep])[:, None]
        y = -np.log(1 - np.arange(1, keep + 1) / n)
        slope = np.linalg.lstsq(x, y, rcond=None)[0][0]
        got = intrinsic_dimension(X, method="twonn", discard_fraction=frac)
        assert got == pytest.approx(slope, rel=1e-12), frac


@pytest.mark.parametrize("method", list(ESTIMATORS))
def test_scale_invariant_at_extreme_magnitudes(method):
    X = np.random.default_rng(3).uniform(size=(600, 3)) @ np.random.default_rng(4).normal(size=(3, 5))
    ref = intrinsic_dimension(X, method=method)
    for s in (1e300, 1e-300, 3.7e-200, 1.7e308 / (2 * np.abs(X).max())):
        got = intrinsic_dimension(X * s, method=method)
        assert np.isfinite(got) and got == pytest.approx(ref, rel=1e-12), (s, got, ref)
    # subnormal coordinates have lost digits on input already; the result is still finite
    got = intrinsic_dimension(X * 2.0**-1060, method=method)
    assert got == pytest.approx(ref, rel=1e-4), got
    # a tensor input gives the same number
    assert intrinsic_dimension(torch.from_numpy(X), method=method) == ref


def test_complex_data_and_bad_options_are_refused():
    X = np.random.default_rng(5).normal(size=(100, 2))
    for bad in (X + 1j, torch.from_numpy(X) * (1 + 1j), [[1 + 1j, 2.0]] * 5):
        with pytest.raises(InputError, match="X: .*complex"):
            intrinsic_dimension(bad)
    with pytest.raises(InputError, match="X: expected an array of real numbers"):
        intrinsic_dimension([[None, 1.0]] * 5)
    with pytest.raises(InputError, match="k: .*'ten'"):
        intrinsic_dimension(X, method="levina-bickel", k="ten")
    with pytest.raises(InputError, match="k: not an option of the 'twonn'"):
        intrinsic_dimension(X, k=5)
    with pytest.raises(InputError, match="discard_fraction"):
        intrinsic_dimension(X, discard_fraction="a")
    with pytest.raises(InputError, match="discard_fraction"):
        intrinsic_dimension(X, discard_fraction=float("nan"))
    with pytest.raises(InputError, match="k \\+ 1 = 101"):
        intrinsic_dimension(X, method="levina-bickel", k=100)
    with pytest.raises(ShapeError, match="feature"):
        intrinsic_dimension(np.zeros((5, 0)))
    with pytest.raises(InputError, match="duplicate"):
        intrinsic_dimension(np.zeros((20, 2)), method="levina-bickel", k=3)
    with pytest.raises(InputError, match="at least 3 points"):
        intrinsic_dimension(np.zeros((20, 2)))
