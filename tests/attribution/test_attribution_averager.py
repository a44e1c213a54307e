"""GibbsAverager: kernel-regression oracle, class scores, leave-one-out against brute force."""

import numpy as np
import pytest
import torch

from hjdl.attribution import GibbsAverager, attribute
from hjdl.errors import InputError, ShapeError


def _data(N=12, d=2, k=None, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(N, d))
    v = rng.normal(size=(N,) if k is None else (N, k))
    return y, v, rng.normal(size=(15, d))


@pytest.mark.parametrize("eps,t", [(0.05, 1.0), (0.4, 0.5), (3.0, 2.0)])
def test_predict_is_gaussian_kernel_regression(eps, t):
    y, v, x = _data()
    m = GibbsAverager(y, v, eps, t)
    h2 = 2 * eps * t  # bandwidth² : exp(−|x−y|²/(2h²)) = exp(−|x−y|²/(4 eps t))
    d2 = ((x[:, None, :] - y[None]) ** 2).sum(-1)
    logk = -d2 / (2 * h2)
    k = np.exp(logk - logk.max(1, keepdims=True))
    ref = (k @ v) / k.sum(1)
    assert np.allclose(m.predict(x).numpy(), ref, atol=1e-13)
    assert abs(m.bandwidth - np.sqrt(h2)) < 1e-15


def _brute_loo(y, v, eps, t, x, g=None):
    full = GibbsAverager(y, v, eps, t, g=g).predict(x)
    out = []
    for k in range(len(y)):
        keep = np.arange(len(y)) != k
        mk = GibbsAverager(y[keep], v[keep], eps, t, g=None if g is None else g[keep])
        out.append(full - mk.predict(x))
    return torch.stack(out, 1)


@pytest.mark.parametrize("eps", [0.0, 0.03, 0.5, 5.0])
def test_loo_matches_brute_force(eps):
    y, v, x = _data(seed=1)
    g = np.random.default_rng(5).uniform(0, 1, size=len(y))
    m = GibbsAverager(y, v, eps, 0.7, g=g)
    closed = m.loo_influence(x)
    brute = _brute_loo(y, v, eps, 0.7, x, g=g)
    floor = 1e-14 * (1 + np.abs(v).max())
    err = (closed - brute).abs()
    assert bool((err <= 1e-10 * torch.maximum(closed.abs(), brute.abs()) + floor).all()), float(err.max())


def test_loo_vector_values_and_query_on_an_atom():
    y, v, _ = _data(k=3, seed=2)
    x = y[:4] + 1e-3  # queries next to atoms: π_top rounds to 1 at small eps
    for eps in (1e-3, 0.2):
        m = GibbsAverager(y, v, eps)
        closed = m.loo_influence(x)
        assert closed.shape == (4, 12, 3)
        brute = _brute_loo(y, v, eps, 1.0, x)
        assert torch.allclose(closed, brute, atol=1e-12, rtol=1e-10)


def test_class_scores_and_layer_view():
    y, _, x = _data(N=10, seed=3)
    labels = np.array([0, 2, 2, 5, 0, 5, 2, 0, 5, 2])
    m = GibbsAverager(y, labels, 0.3)
    p = m.class_scores(x)
    assert m.classes.tolist() == [0, 2, 5] and p.shape == (15, 3)
    assert torch.allclose(p.sum(-1), torch.ones(15, dtype=torch.float64))
    pi = attribute(m.layer, x).weights  # the same Gibbs weights through the layer bijection
    for j, c in enumerate([0, 2, 5]):
        assert torch.allclose(p[:, j], pi[:, torch.from_numpy(labels == c)].sum(-1), atol=1e-15)
    # labels given explicitly alongside real values
    m2 = GibbsAverager(y, np.linspace(0, 1, 10), 0.3, labels=labels)
    assert torch.allclose(m2.class_scores(x), p)


def test_averager_errors():
    y, v, x = _data()
    with pytest.raises(ShapeError, match="values"):
        GibbsAverager(y, v[:5], 0.1)
    with pytest.raises(InputError, match="class_scores"):
        GibbsAverager(y, v, 0.1).class_scores(x)
    with pytest.raises(InputError, match="at least 2 atoms"):
        GibbsAverager(y[:1], v[:1], 0.1).loo_influence(x)
    with pytest.raises(InputError, match="eps"):
        GibbsAverager(y, v, -0.1)
    with pytest.raises(InputError, match="t"):
        GibbsAverager(y, v, 0.1, t=0.0)
    with pytest.raises(ShapeError, match="x"):
        GibbsAverager(y, v, 0.1).predict(np.zeros((3, 5)))
