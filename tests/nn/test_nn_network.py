"""LSENetwork: NumPy oracle for the stack, heads, residual, state_dict, gradcheck, errors."""

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

import hjdl
from hjdl.errors import InputError
from hjdl.nn import LSELayer, LSENetwork, SoftplusLayer


def _np(t):
    return t.detach().double().numpy()


def _np_network(net, x, eps):
    h = np.asarray(x, float)
    for layer in net.layers:
        z = h @ _np(layer.weight).T + _np(layer.bias)
        out = eps * np.logaddexp(z / eps, 0.0)  # eps log(1 + e^{z/eps})
        h = h + out if layer.residual else out
    outs = [eps * logsumexp((h @ _np(hd.weight).T + _np(hd.bias)) / eps, axis=-1) for hd in net.heads]
    return np.stack(outs, -1)


@pytest.mark.parametrize("hidden,residual,C", [((), False, 1), ((6,), False, 3), ((3, 3), True, 2)])
def test_network_matches_numpy_oracle(hidden, residual, C):
    eps = 0.3
    net = LSENetwork(3, hidden=hidden, width=5, eps=eps, residual=residual, out_features=C,
                     dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = net(x)
    assert out.shape == ((7,) if C == 1 else (7, C))
    np.testing.assert_allclose(_np(out).reshape(7, C), _np_network(net, x.numpy(), eps), atol=1e-12)
    if residual:
        assert all(layer.residual for layer in net.layers[1:])


def test_single_head_is_lse_layer_in_feature_space():
    net = LSENetwork(2, hidden=(4,), width=3, eps=0.5, out_features=2, dtype=torch.float64)
    x = torch.randn(6, 2, dtype=torch.float64)
    h = net.features(x)
    for c in range(2):
        head = net.heads[c]
        assert isinstance(head, LSELayer)
        assert torch.equal(net(x)[:, c], hjdl.lse_layer(h, head.weight, head.bias, 0.5))
        data = net.initial_data(c)
        assert data.y.shape == (3, 4)


def test_state_dict_round_trip_and_gradcheck():
    kw = dict(hidden=(4,), width=3, eps=0.4, out_features=2, learn_eps=True, dtype=torch.float64)
    a = LSENetwork(2, generator=torch.Generator().manual_seed(2), **kw)
    b = LSENetwork(2, generator=torch.Generator().manual_seed(3), **kw)
    x = torch.randn(5, 2, dtype=torch.float64)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a(x), b(x))
    names = [n for n, _ in a.named_parameters()]
    assert sum("log_eps" in n for n in names) == 3  # one per hidden layer and per head

    def f(x, *ps):
        return torch.func.functional_call(a, dict(zip(names, ps)), (x,))

    inputs = (x.clone().requires_grad_(True), *[p.detach().clone().requires_grad_(True) for p in a.parameters()])
    assert torch.autograd.gradcheck(f, inputs)


def test_network_eps_setter_and_errors():
    net = LSENetwork(2, hidden=(3,), width=2, eps=0.5)
    net.eps = 0.1
    assert all(abs(float(m.eps) - 0.1) < 1e-7 for m in [*net.layers, *net.heads])
    with pytest.raises(InputError, match="hidden"):
        LSENetwork(2, hidden=(3, 0))
    with pytest.raises(InputError, match="hidden"):
        LSENetwork(2, hidden="wide")
    with pytest.raises(InputError, match="out_features"):
        LSENetwork(2, out_features=0)
    with pytest.raises(InputError, match="head"):
        net.initial_data(5)
    with pytest.raises(InputError, match="residual"):
        SoftplusLayer(2, 3, residual=True)


def test_softplus_layer_zero_eps_is_relu():
    layer = SoftplusLayer(2, 3, eps=0.0, dtype=torch.float64)
    x = torch.randn(4, 2, dtype=torch.float64)
    ref = torch.relu(x @ layer.weight.T + layer.bias)
    assert torch.equal(layer(x), ref)
