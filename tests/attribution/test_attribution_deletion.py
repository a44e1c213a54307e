"""deletion_influence() against actually deleting each neuron and recomputing (brute force)."""

import math

import pytest
import torch

import hjdl
from hjdl.attribution import attribute, deletion_influence


def _brute(W, b, x, eps):
    """f_{-k}(x) − f(x) by deleting row k and recomputing the layer (O(N²))."""
    f = hjdl.lse_layer(x, W, b, eps)
    cols = []
    for k in range(W.shape[0]):
        keep = torch.arange(W.shape[0]) != k
        cols.append(hjdl.lse_layer(x, W[keep], b[keep], eps) - f)
    return torch.stack(cols, -1), f


@pytest.mark.parametrize("eps", [0.0, 0.02, 0.3, 4.0])
def test_deletion_matches_brute_force(eps):
    g = torch.Generator().manual_seed(7)
    W = torch.randn(9, 3, generator=g, dtype=torch.float64)
    b = torch.randn(9, generator=g, dtype=torch.float64)
    x = 2 * torch.randn(25, 3, generator=g, dtype=torch.float64)
    closed = deletion_influence((W, b, eps), x)
    brute, f = _brute(W, b, x, eps)
    # 1e-10 relative, plus the float64 rounding floor of the brute-force subtraction
    floor = 1e-14 * (1 + f.abs())[..., None]
    err = (closed - brute).abs()
    assert bool((err <= 1e-10 * torch.maximum(closed.abs(), brute.abs()) + floor).all()), float(err.max())
    assert bool((closed <= 0).all())


def test_stable_when_top_weight_rounds_to_one():
    # gap 3 at eps = 0.01: 1 − π_top ≈ e^{-300} (π_top == 1.0 in float64); naive log1p(-π) = -inf
    W = torch.tensor([[1.0], [0.0], [-1.0]], dtype=torch.float64)
    b = torch.zeros(3, dtype=torch.float64)
    x = torch.tensor([[3.0]], dtype=torch.float64)
    a = attribute((W, b, 0.01), x)
    assert float(a.weights[0, 0]) == 1.0
    closed = deletion_influence((W, b, 0.01), x)
    brute, _ = _brute(W, b, x, 0.01)
    assert torch.isfinite(closed).all()
    assert torch.allclose(closed, brute, rtol=1e-12, atol=1e-14)
    # non-top effects are below the brute force's resolution; first order: eps log(1−π) ≈ −eps π
    assert abs(float(closed[0, 1]) / (-0.01 * math.exp(-300)) - 1) < 1e-12
    assert abs(float(closed[0, 0]) + 3.0) < 1e-12  # tends to −(z_top − z_second)


def test_float32_and_ties_and_lone_neuron():
    g = torch.Generator().manual_seed(8)
    W = torch.randn(5, 2, generator=g)
    b = torch.randn(5, generator=g)
    x = torch.randn(10, 2, generator=g)
    c32 = deletion_influence((W, b, 0.2), x)
    c64 = deletion_influence((W.double(), b.double(), 0.2), x.double())
    assert c32.dtype == torch.float32 and torch.allclose(c32.double(), c64, atol=1e-5, rtol=1e-4)
    # tropical ties: deleting one of two tied maxima changes nothing
    Wt = torch.tensor([[1.0], [1.0], [0.0]], dtype=torch.float64)
    d = deletion_influence((Wt, torch.zeros(3, dtype=torch.float64), 0.0), torch.tensor([[1.0]], dtype=torch.float64))
    assert d.tolist() == [[0.0, 0.0, 0.0]]
    # lone neuron: the LSE of nothing is -inf
    d1 = deletion_influence((torch.ones(1, 1), torch.zeros(1), 0.5), torch.ones(3, 1))
    assert bool(torch.isneginf(d1).all())


def test_per_class_head_deletion():
    g = torch.Generator().manual_seed(9)
    W = torch.randn(2, 4, 3, generator=g, dtype=torch.float64)
    b = torch.randn(2, 4, generator=g, dtype=torch.float64)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64)
    d = deletion_influence((W, b, 0.3), x)
    for c in range(2):
        brute, _ = _brute(W[c], b[c], x, 0.3)
        assert torch.allclose(d[:, c], brute, atol=1e-13)
