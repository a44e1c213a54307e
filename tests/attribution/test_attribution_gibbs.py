"""attribute(): π against autograd of lse w.r.t. b, the T2 self-check, regimes, heads, errors."""

import math
from types import SimpleNamespace

import pytest
import torch

import hjdl
from hjdl.attribution import PARTICLE_BELOW, REGIMES, WAVE_ABOVE, attribute
from hjdl.errors import EpsilonError, HJError, InputError, ShapeError
from helpers import tol


def _layer(N=6, d=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(N, d, generator=g, dtype=dtype), torch.randn(N, generator=g, dtype=dtype))


@pytest.mark.parametrize("eps", [0.05, 0.7, 5.0])
def test_weights_are_autograd_of_lse_wrt_bias(eps):
    W, b = _layer()
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a = attribute((W, b, eps), x)
    for i in range(x.shape[0]):  # the oracle: autograd through the public lse_layer
        bb = b.clone().requires_grad_(True)
        (gb,) = torch.autograd.grad(hjdl.lse_layer(x[i], W, bb, eps), bb)
        assert torch.allclose(a.weights[i], gb, atol=1e-14, rtol=1e-12)
    assert torch.allclose(a.weights.sum(-1), torch.ones(5, dtype=torch.float64), atol=1e-15)
    assert torch.allclose(a.value, hjdl.lse_layer(x, W, b, eps), atol=1e-14)
    # input gradient against autograd of f
    xx = x.clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(hjdl.lse_layer(xx, W, b, eps).sum(), xx)
    assert torch.allclose(a.input_gradient, gx, atol=1e-13)


def test_self_check_and_entropy_bounds(dtype):
    W, b = _layer(N=9, dtype=dtype)
    x = torch.randn(40, 3, dtype=dtype, generator=torch.Generator().manual_seed(2))
    for eps in (0.0, 0.01, 0.3, 3.0):
        a = attribute((W, b, eps), x)
        scale = float(a.value.abs().max())
        assert float(a.self_check.max()) <= tol(dtype, scale)
        assert bool((a.entropy >= -tol(dtype)).all()) and bool((a.entropy <= math.log(9) + tol(dtype)).all())
        assert a.weights.dtype == dtype


def test_top_k_matches_sort_and_regimes_follow_thresholds():
    W, b = _layer(N=8)
    x = torch.randn(30, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for eps in (0.01, 0.5, 50.0):
        a = attribute((W, b, eps), x, top_k=4)
        srt = torch.sort(a.weights, dim=-1, descending=True)
        assert torch.allclose(a.top_weights, srt.values[..., :4])
        h = a.entropy / math.log(8)
        expect = torch.where(h < PARTICLE_BELOW, 0, torch.where(h < WAVE_ABOVE, 1, 2))
        assert torch.equal(a.regime, expect)
    assert set(attribute((W, b, 1e-3), x).regime_names()) <= {"particle", "mixed"}
    assert attribute((W, b, 1e4), x).regime_names() == ["wave"] * 30
    assert REGIMES == ("particle", "mixed", "wave")


def test_tropical_attribution_ties_share():
    W = torch.tensor([[1.0], [1.0], [-1.0]], dtype=torch.float64)
    a = attribute((W, torch.zeros(3, dtype=torch.float64), 0.0), torch.tensor([[2.0]], dtype=torch.float64))
    assert a.weights.tolist() == [[0.5, 0.5, 0.0]]
    assert abs(float(a.entropy[0]) - math.log(2)) < 1e-15 and float(a.self_check[0]) == 0.0


def test_per_class_head_equals_each_class_separately():
    g = torch.Generator().manual_seed(4)
    W = torch.randn(3, 5, 2, generator=g, dtype=torch.float64)
    b = torch.randn(3, 5, generator=g, dtype=torch.float64)
    x = torch.randn(7, 2, generator=g, dtype=torch.float64)
    a = attribute((W, b, 0.4), x)
    assert a.weights.shape == (7, 3, 5) and a.value.shape == (7, 3)
    for c in range(3):
        ac = attribute((W[c], b[c], 0.4), x)
        assert torch.allclose(a.weights[:, c], ac.weights, atol=1e-15)
        assert torch.allclose(a.value[:, c], ac.value, atol=1e-14)
        assert torch.allclose(a.input_gradient[:, c], ac.input_gradient, atol=1e-14)


def test_duck_typed_layer_and_lselayer_if_present():
    W, b = _layer()
    x = torch.randn(4, 3, dtype=torch.float64)
    ref = attribute((W, b, 0.3), x)
    obj = SimpleNamespace(weight=W, bias=b, eps=torch.tensor(0.3, dtype=torch.float64))
    assert torch.allclose(attribute(obj, x).weights, ref.weights)
    nn = pytest.importorskip("hjdl.nn")
    if not hasattr(nn, "LSELayer"):
        pytest.skip("hjdl.nn.LSELayer not available yet")
    try:
        layer = nn.LSELayer(3, 6, eps=0.3, dtype=torch.float64)
    except TypeError:
        pytest.skip("LSELayer signature differs")
    with torch.no_grad():
        layer.weight.copy_(W)
        layer.bias.copy_(b)
    assert torch.allclose(attribute(layer, x).weights.detach(), ref.weights)


def test_bad_inputs_raise_clear_errors():
    W, b = _layer()
    x = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(InputError, match="model: received object; accepted: an hjdl.nn.LSELayer"):
        attribute(object(), x)  # the argument is named model since issue 17 (one calling convention)
    with pytest.raises(InputError, match="triple"):
        attribute((W, b), x)
    with pytest.raises(ShapeError, match=r"b: expected shape \(6,\)"):
        attribute((W, b[:4], 0.1), x)
    with pytest.raises(EpsilonError, match="eps"):
        attribute((W, b, -1.0), x)
    with pytest.raises(ShapeError, match="x: expected shape"):
        attribute((W, b, 0.1), torch.zeros(2, 4))
    with pytest.raises(InputError, match="top_k"):
        attribute((W, b, 0.1), x, top_k=0)
    with pytest.raises(HJError, match="x"):
        attribute((W, b, 0.1), torch.full((1, 3), float("nan")))
