"""LSELayer / MaxAffine: module == functional, independent NumPy oracles, state_dict, gradcheck."""

import copy
import io
import math
import pickle

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

import hjdl
from hjdl.errors import DomainError, EpsilonError, InputError, ShapeError
from hjdl.nn import LSELayer, MaxAffine
from helpers import tol


def _np_layer(x, W, b, eps):
    z = np.asarray(x) @ np.asarray(W).T + np.asarray(b)
    if eps == 0:
        return z.max(-1)
    return eps * logsumexp(z / eps, axis=-1)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("eps", [0.0, 0.05, 1.0])
def test_forward_equals_functional_and_numpy(dtype, eps):
    layer = LSELayer(3, 7, eps=eps, dtype=dtype, generator=_gen())
    x = torch.randn(11, 3, dtype=dtype, generator=_gen(1))
    out = layer(x)
    assert out.dtype == dtype and out.shape == (11,)
    assert torch.equal(out, hjdl.lse_layer(x, layer.weight, layer.bias, eps))
    ref = _np_layer(x.double().numpy(), layer.weight.detach().double().numpy(),
                    layer.bias.detach().double().numpy(), eps)
    np.testing.assert_allclose(out.detach().double().numpy(), ref, atol=tol(dtype, 3.0), rtol=0)


def test_batch_shapes():
    layer = LSELayer(2, 4, eps=0.3, generator=_gen())
    x = torch.randn(5, 6, 2, generator=_gen(2))
    assert layer(x).shape == (5, 6)
    assert torch.allclose(layer(x)[2], layer(x[2]))
    assert layer.gibbs(x).shape == (5, 6, 4)


def test_gibbs_is_gradient_of_bias_and_entropy_bounds():
    layer = LSELayer(2, 6, eps=0.4, dtype=torch.float64, generator=_gen())
    x = torch.randn(9, 2, dtype=torch.float64, generator=_gen(3))
    layer(x).sum().backward()
    # ∂f/∂b_j = π_j (THEORY §4): autograd against the module's Gibbs weights
    assert torch.allclose(layer.bias.grad, layer.gibbs(x).sum(0), atol=1e-13)
    H = layer.entropy(x)
    assert bool((H >= 0).all()) and bool((H <= math.log(6) + 1e-12).all())


def test_learnable_eps_positive_and_derivative_is_entropy():
    layer = LSELayer(2, 5, eps=0.3, learn_eps=True, dtype=torch.float64, generator=_gen())
    assert "log_eps" in dict(layer.named_parameters())
    assert abs(float(layer.eps.detach()) - 0.3) < 1e-15
    x = torch.randn(8, 2, dtype=torch.float64, generator=_gen(4))
    layer(x).sum().backward()
    # d LSE_eps / d eps = H(π) (from T2); d/d log eps = eps H
    expected = float(layer.eps.detach() * layer.entropy(x).detach().sum())
    assert abs(float(layer.log_eps.grad) - expected) < 1e-12
    # a huge negative step in log space keeps eps > 0 (parametrised, not clamped)
    with torch.no_grad():
        layer.log_eps -= 50.0
    assert float(layer.eps.detach()) > 0


def test_eps_setter_and_fixed_eps_is_buffer():
    layer = LSELayer(1, 3, eps=0.5)
    assert "eps_buffer" in dict(layer.named_buffers())
    assert not any("eps" in n for n, _ in layer.named_parameters())
    layer.eps = 0.0
    assert float(layer.eps) == 0.0
    with pytest.raises(EpsilonError, match="eps"):
        layer.eps = -1.0


@pytest.mark.parametrize("learn_eps", [False, True])
def test_state_dict_round_trip(learn_eps):
    a = LSELayer(3, 6, eps=0.2, learn_eps=learn_eps, generator=_gen(5))
    a.eps = 0.35
    b = LSELayer(3, 6, eps=1.0, learn_eps=learn_eps, generator=_gen(6))
    x = torch.randn(4, 3, generator=_gen(7))
    assert not torch.allclose(a(x), b(x))
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b.load_state_dict(torch.load(buf))
    assert torch.equal(a(x), b(x))
    assert float(b.eps.detach()) == pytest.approx(0.35)
    c = pickle.loads(pickle.dumps(a))
    assert torch.equal(a(x), c(x))
    assert torch.equal(copy.deepcopy(a)(x), a(x))


def test_to_dtype_moves_eps():
    layer = LSELayer(2, 3, eps=0.1).to(torch.float64)
    assert layer.eps.dtype == torch.float64 and layer.weight.dtype == torch.float64
    assert layer(torch.zeros(1, 2, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("learn_eps", [False, True])
def test_gradcheck_float64(learn_eps):
    layer = LSELayer(2, 4, eps=0.3, learn_eps=learn_eps, dtype=torch.float64, generator=_gen(8))
    x = torch.randn(5, 2, dtype=torch.float64, generator=_gen(9), requires_grad=True)
    params = tuple(layer.parameters())

    def f(x, *ps):
        for p, v in zip(params, ps):
            p.data = v.detach()
        return torch.func.functional_call(layer, dict(zip([n for n, _ in layer.named_parameters()], ps)), (x,))

    inputs = (x, *[p.detach().clone().requires_grad_(True) for p in params])
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


def test_initial_data_round_trip_and_hopf_cole_numpy_oracle():
    t, eps = 0.7, 0.25
    layer = LSELayer(2, 5, eps=eps, t=t, dtype=torch.float64, generator=_gen(10))
    data = layer.initial_data()
    y, g = data.y.numpy(), data.g.numpy()
    W, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    np.testing.assert_allclose(y, 2 * t * W, rtol=1e-14)
    np.testing.assert_allclose(g, -b - t * (W * W).sum(1), rtol=1e-14)
    # T3 with u computed from the atoms in NumPy (not through the layer)
    x = np.random.default_rng(0).normal(size=(20, 2))
    cost = g[None] + ((x[:, None] - y[None]) ** 2).sum(-1) / (4 * t)
    u = -eps * logsumexp(-cost / eps, axis=-1)
    f = layer(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(f, (x * x).sum(1) / (4 * t) - u, atol=1e-12)
    back = LSELayer.from_initial_data(data, eps=eps, t=t)
    assert torch.allclose(back.weight, layer.weight, atol=1e-15)
    assert torch.allclose(back.bias, layer.bias, atol=1e-15)
    # another gauge t gives other atoms, same function
    other = LSELayer.from_initial_data(layer.initial_data(t=2.0), eps=eps, t=2.0)
    assert torch.allclose(other(torch.from_numpy(x)), layer(torch.from_numpy(x)), atol=1e-12)


def test_tropical_bound_and_max_affine_is_hopf_lax():
    eps, N = 0.2, 9
    layer = LSELayer(2, N, eps=eps, dtype=torch.float64, generator=_gen(11))
    trop = layer.tropical()
    assert isinstance(trop, MaxAffine) and float(trop.eps) == 0.0
    x = torch.randn(200, 2, dtype=torch.float64, generator=_gen(12))
    gap = (layer(x) - trop(x)).detach()
    assert bool((gap >= -1e-14).all()) and bool((gap <= eps * math.log(N) + 1e-12).all())  # T1
    W, b = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()
    np.testing.assert_allclose(trop(x).detach().numpy(), (x.numpy() @ W.T + b).max(-1), atol=1e-14)
    # f_0 = |x|²/(4t) − u_0 with the Hopf–Lax value computed from distances (T4)
    u0 = hjdl.hopf_lax(x, trop.initial_data(), t=trop.t)
    assert torch.allclose(trop(x).detach(), (x * x).sum(-1) / 4 - u0, atol=1e-12)
    # the trained weights are copies: changing the layer does not change the tropical module
    with torch.no_grad():
        layer.weight.add_(1.0)
    assert torch.allclose(trop.weight, torch.from_numpy(W))


def test_max_affine_gradient_goes_to_argmax():
    m = MaxAffine.from_weights(torch.tensor([[1.0], [-1.0], [0.0]]), torch.tensor([0.0, 0.0, 0.5]))
    m(torch.tensor([[2.0]])).sum().backward()
    assert torch.equal(m.bias.grad, torch.tensor([1.0, 0.0, 0.0]))


def test_bad_input_errors():
    with pytest.raises(InputError, match="in_features.*received 0"):
        LSELayer(0, 3)
    with pytest.raises(InputError, match="width"):
        LSELayer(2, 2.5)
    with pytest.raises(EpsilonError, match="eps"):
        LSELayer(2, 3, eps=-0.1)
    with pytest.raises(EpsilonError, match="learnable eps must start > 0"):
        LSELayer(2, 3, eps=0.0, learn_eps=True)
    with pytest.raises(DomainError, match="t: expected"):
        LSELayer(2, 3, t=0.0)
    layer = LSELayer(2, 3)
    with pytest.raises(ShapeError, match="x"):
        layer(torch.zeros(4, 3))
    with pytest.raises(InputError, match="data"):
        LSELayer.from_initial_data("atoms")
    aniso = hjdl.InitialData([[1.0, 0.0]], [0.0], A=[[2.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InputError, match="isotropic"):
        LSELayer.from_initial_data(aniso)
