"""continuation(): folds solve H' = H'' = 0 (checked by autograd), counts vs a dense 1-D scan."""

import numpy as np
import pytest
import torch

import hjdl
from hjdl.bifurcation import continuation
from hjdl.errors import InputError


def _H_derivs(W, b, x, eps):
    """H', H'' at one point by autograd through the public kernel (independent of the closed forms)."""
    def H(xx):
        return hjdl.entropy(hjdl.gibbs(xx @ W.T + b, eps))
    xx = torch.tensor([x], dtype=torch.float64)
    return float(torch.func.grad(H)(xx)[0]), float(torch.func.hessian(H)(xx)[0, 0])


def _scan_counts(W, b, eps, lo, hi, n=40001):
    xs = torch.linspace(lo, hi, n, dtype=torch.float64)[:, None]
    H = hjdl.entropy(hjdl.gibbs(xs @ W.T + b, eps)).numpy()
    s = np.sign(np.diff(H))
    s = s[s != 0]
    return int(np.sum((s[:-1] < 0) & (s[1:] > 0))), int(np.sum((s[:-1] > 0) & (s[1:] < 0)))


@pytest.fixture(scope="module")
def diagram_1d():
    y = np.array([-2.6, -1.5, -0.4, 0.7, 1.7, 2.7])[:, None]
    W, b = hjdl.from_initial_data(hjdl.InitialData(y, np.zeros(6)), 0.5)
    return W, b, continuation(W, b, 0.02, 3.0, [[-4.0, 4.0]], n_anchors=10)


def test_folds_solve_the_extended_system_1d(diagram_1d):
    W, b, dg = diagram_1d
    assert len(dg.folds) >= 1
    for f in dg.folds:
        h1, h2 = _H_derivs(W, b, float(f.x[0]), f.eps)
        assert abs(h1) < 1e-8 and abs(h2) < 1e-8, (f, h1, h2)
        assert f.refined and f.turning and set(f.kinds) == {"minimum", "maximum"}


def test_counts_between_folds_match_dense_scan_1d(diagram_1d):
    W, b, dg = diagram_1d
    edges = [dg.eps_min] + [f.eps for f in dg.folds] + [dg.eps_max]
    probes = [np.sqrt(a * c) for a, c in zip(edges[:-1], edges[1:]) if c / a > 1.001]
    for e in probes:
        c = dg.counts(e)
        n_min, n_max = _scan_counts(W, b, e, -4.0, 4.0)
        assert (int(c["minimum"][0]), int(c["maximum"][0]), int(c["saddle"][0])) == (n_min, n_max, 0), e
    # each fold removes one minimum and one maximum as eps grows
    lo, hi = dg.counts(dg.eps_min * 1.01), dg.counts(dg.eps_max * 0.99)
    assert int(lo["maximum"][0] - hi["maximum"][0]) == len(dg.folds)


def test_fold_2d_solves_extended_system():
    g = torch.Generator().manual_seed(5)
    y = torch.randn(5, 2, generator=g, dtype=torch.float64)
    W, b = hjdl.from_initial_data(hjdl.InitialData(y, torch.zeros(5, dtype=torch.float64)), 1.0)
    dg = continuation(W, b, 0.1, 2.0, [[-3.0, 3.0], [-3.0, 3.0]], n_anchors=5)
    assert len(dg.folds) >= 1
    for f in dg.folds:
        def H(xx):
            return hjdl.entropy(hjdl.gibbs(xx @ W.T + b, f.eps))
        xx = torch.from_numpy(f.x)
        gr, he = torch.func.grad(H)(xx), torch.func.hessian(H)(xx)
        scale = float(he.abs().max())
        assert float(gr.norm()) < 1e-8 and abs(float(torch.linalg.det(he))) < 1e-8 * scale**2
    for e in (0.15, 1.5):
        assert sum(int(v[0]) for v in dg.counts(e).values()) >= 1


def test_continuation_errors():
    W, b = torch.ones(2, 1), torch.zeros(2)
    with pytest.raises(InputError, match="eps_min < eps_max"):
        continuation(W, b, 1.0, 0.5, [[-1, 1]])
    with pytest.raises(InputError, match="eps_min"):
        continuation(W, b, 0.0, 0.5, [[-1, 1]])
    with pytest.raises(InputError, match="n_anchors"):
        continuation(W, b, 0.1, 0.5, [[-1, 1]], n_anchors=0)
