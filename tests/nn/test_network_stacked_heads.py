"""LSENetwork evaluates its heads (classes) in one batched logit tensor; that path must equal the
per-head loop through hjdl.lse_layer (an independent code path: chunked affine blocks), in value
and in every parameter gradient, and hand over to the loop for large or non-finite logits."""

from __future__ import annotations

import pytest
import torch

from hjdl.nn import LSENetwork


def _net(hidden, eps, seed=0, **kw):
    g = torch.Generator().manual_seed(seed)
    net = LSENetwork(5, hidden=hidden, width=7, out_features=4, eps=eps, dtype=torch.float64, generator=g, **kw)
    return net, torch.randn(11, 5, dtype=torch.float64, generator=g)


def _loop(net, x):
    h = net.features(x)
    return torch.stack([head(h) for head in net.heads], -1)


@pytest.mark.parametrize("hidden", [(), (4,)])
@pytest.mark.parametrize("eps", [0.3, 0.0, 1e-200])
def test_stacked_heads_equal_the_loop_in_value_and_gradient(hidden, eps):
    net, x = _net(hidden, eps)
    out, ref = net(x), _loop(net, x)
    assert torch.allclose(out, ref, rtol=1e-14, atol=1e-14)
    params = list(net.parameters())
    ga = torch.autograd.grad((out * torch.arange(1.0, 5.0, dtype=out.dtype)).sum(), params, allow_unused=True)
    gb = torch.autograd.grad((ref * torch.arange(1.0, 5.0, dtype=ref.dtype)).sum(), params, allow_unused=True)
    for a, b in zip(ga, gb):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-12, atol=1e-13)


def test_each_head_keeps_its_own_temperature():
    net, x = _net((), 0.5, learn_eps=True)
    with torch.no_grad():
        for c, head in enumerate(net.heads):
            head.log_eps.fill_(float(torch.log(torch.tensor(0.1 * (c + 1)))))
    assert torch.allclose(net(x), _loop(net, x), rtol=1e-14, atol=1e-14)
    # the eps gradients (entropies, T2) flow to each head's own parameter
    ga = torch.autograd.grad(net(x).sum(), [h.log_eps for h in net.heads])
    gb = torch.autograd.grad(_loop(net, x).sum(), [h.log_eps for h in net.heads])
    assert all(torch.allclose(a, b, rtol=1e-12) for a, b in zip(ga, gb))


def test_large_or_non_finite_logits_take_the_loop(monkeypatch):
    net, x = _net((), 0.2)
    calls = []
    for head in net.heads:
        original = head.forward
        monkeypatch.setattr(head, "forward", lambda v, f=original: calls.append(1) or f(v))
    net(x)
    assert calls == []                                   # stacked: no per-head call
    monkeypatch.setattr(LSENetwork, "STACK_ELEMENTS", 10)
    net(x)
    assert len(calls) == 4                               # above the size bound: the loop
    monkeypatch.setattr(LSENetwork, "STACK_ELEMENTS", 1 << 22)
    with torch.no_grad():
        net.heads[0].weight.fill_(1e308)                 # x·W overflows in the batched einsum
    out = net(x)
    assert len(calls) == 8 and bool(torch.isfinite(out[:, 1:]).all())
