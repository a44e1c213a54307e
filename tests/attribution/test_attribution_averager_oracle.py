"""GibbsAverager with non-zero initial values g against an explicit NumPy kernel (no torch, no
hjdl code): weights ∝ exp(−[g_j + |x − y_j|²/(4t)]/eps), the Gibbs average, class scores, and
the closed-form leave-one-out against a brute-force NumPy refit without each example. Labels
that are not whole numbers representable in int64 are refused."""

import numpy as np
import pytest
import torch
from scipy.special import softmax

from hjdl.attribution import GibbsAverager
from hjdl.errors import InputError, ShapeError


def _np_weights(y, g, x, eps, t):
    """π_j(x) ∝ exp(−[g_j + |x − y_j|²/(4t)]/eps); at eps = 0 one-hot on the smallest cost."""
    cost = g[None, :] + ((x[:, None, :] - y[None]) ** 2).sum(-1) / (4 * t)
    if eps == 0:
        return np.eye(len(y))[cost.argmin(1)]
    return softmax(-cost / eps, axis=1)


def _data(N=14, d=3, k=None, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(N, d))
    g = rng.uniform(-2.0, 2.0, size=N)          # non-zero initial values
    v = rng.normal(size=(N,) if k is None else (N, k))
    x = rng.normal(size=(9, d))
    labels = rng.integers(-3, 4, size=N) * 7     # sparse, negative and positive class ids
    return y, g, v, x, labels


CASES = [(0.0, 1.0), (0.02, 0.5), (0.3, 1.0), (1.0, 2.5), (20.0, 0.3)]


@pytest.mark.parametrize("eps,t", CASES)
@pytest.mark.parametrize("k", [None, 2])
def test_weights_average_and_class_scores_match_numpy(eps, t, k):
    y, g, v, x, labels = _data(k=k, seed=int(10 * eps) + (k or 0))
    m = GibbsAverager(y, v, eps, t, g=g, labels=labels)
    pi = _np_weights(y, g, x, eps, t)
    np.testing.assert_allclose(m.weights(x).numpy(), pi, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(m.predict(x).numpy(), pi @ v, rtol=1e-12, atol=1e-14)
    classes = np.unique(labels)
    ref = np.stack([pi[:, labels == c].sum(1) for c in classes], 1)
    assert m.classes.tolist() == classes.tolist()
    np.testing.assert_allclose(m.class_scores(x).numpy(), ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("eps,t", CASES)
@pytest.mark.parametrize("k", [None, 3])
def test_leave_one_out_matches_numpy_refit(eps, t, k):
    y, g, v, x, _ = _data(k=k, seed=100 + int(10 * eps) + (k or 0))
    x = np.vstack([x, y[:3] + 1e-4])   # queries next to atoms: π_top near 1 at small eps
    closed = GibbsAverager(y, v, eps, t, g=g).loo_influence(x).numpy()
    F = _np_weights(y, g, x, eps, t) @ v
    for j in range(len(y)):
        keep = np.arange(len(y)) != j
        F_wo = _np_weights(y[keep], g[keep], x, eps, t) @ v[keep]
        brute = F - F_wo
        scale = np.abs(v).max()
        np.testing.assert_allclose(closed[:, j], brute, rtol=1e-9, atol=1e-12 * scale, err_msg=f"atom {j}")


def test_g_shifts_the_kernel_as_a_prior():
    # a common shift of g changes nothing; raising one g_j by eps·log 2 halves that atom's odds
    y, g, v, x, _ = _data(seed=3)
    eps, t = 0.4, 0.8
    base = GibbsAverager(y, v, eps, t, g=g).weights(x).numpy()
    assert np.allclose(GibbsAverager(y, v, eps, t, g=g + 5.0).weights(x).numpy(), base, rtol=1e-12, atol=0)
    g2 = g.copy()
    g2[4] += eps * np.log(2)
    w2 = GibbsAverager(y, v, eps, t, g=g2).weights(x).numpy()
    odds, odds2 = base[:, 4] / base[:, 0], w2[:, 4] / w2[:, 0]
    np.testing.assert_allclose(odds2, odds / 2, rtol=1e-12)


@pytest.mark.parametrize("bad", [
    [0, 1, np.inf, 1, 0], [0, 1e30, 1, 1, 0], [0, -np.inf, 1, 1, 0], [0, np.nan, 1, 1, 0],
    [0, 1.5, 1, 1, 0], [0.0, 2.0**63, 1, 1, 0], ["a", "b", "a", "a", "b"],
    np.array([0, 1, 2, 3, 2**64 - 1], dtype=np.uint64), torch.tensor([0, 1, 1, 0, 1j]),
])
def test_labels_that_are_not_int64_whole_numbers_are_refused(bad):
    y, g, v, *_ = _data(N=5)
    with pytest.raises(InputError, match="labels: .*accepted: integers"):
        GibbsAverager(y, v, 0.1, g=g, labels=bad)


def test_label_forms_that_are_accepted_or_misshapen():
    y, g, v, x, _ = _data(N=5)
    ref = GibbsAverager(y, v, 0.1, labels=[3, -2, 3, 9, -2])
    for lab in ([3.0, -2.0, 3.0, 9.0, -2.0], np.array([3, -2, 3, 9, -2], dtype=np.int8),
                torch.tensor([3.0, -2.0, 3.0, 9.0, -2.0], dtype=torch.float16),
                torch.tensor([3.0, -2.0, 3.0, 9.0, -2.0], dtype=torch.bfloat16)):
        m = GibbsAverager(y, v, 0.1, labels=lab)
        assert m.classes.tolist() == [-2, 3, 9] and torch.equal(m.labels, ref.labels)
    big = GibbsAverager(y, v, 0.1, labels=[-(2**63), 2**62, 0, 0, 1])   # the int64 range holds
    assert big.classes.tolist() == [-(2**63), 0, 1, 2**62]
    # integer values double as labels, validated the same way
    assert GibbsAverager(y, np.array([1, 0, 1, 1, 0]), 0.1).classes.tolist() == [0, 1]
    with pytest.raises(ShapeError, match="labels: expected shape \\(5,\\)"):
        GibbsAverager(y, v, 0.1, labels=[0, 1, 1])
    with pytest.raises(ShapeError, match="labels"):
        GibbsAverager(y, v, 0.1, labels=[[0, 1, 1, 0, 1]])
