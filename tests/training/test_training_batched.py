"""``train_many``: S LSE layers trained together equal S separate runs, per step.

Oracles: (1) :func:`hjdl.training.train` (autograd + ``torch.optim.Adam``) on each network alone;
(2) an independent NumPy Adam with the hand-derived gradient ``∂L/∂z_j = (2r/n) π_j`` (the
authors' training), sharing no code with hjdl. Float64 throughout; tolerance 1e-6 relative on
every per-step loss (the issue's bound; the agreement is ~1e-12, summation order only).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hjdl.errors import ConvergenceError, InputError, ShapeError
from hjdl.nn import LSELayer
from hjdl.training import train, train_many

STEPS, LR = 60, 2e-2


def _numpy_adam(X, y, W, b, eps, steps, lr, beta1=0.9, beta2=0.999, adam_eps=1e-8):
    W, b = W.copy(), b.copy()
    mW, vW, mb, vb = np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)
    n, losses = X.shape[0], []
    for k in range(1, steps + 1):
        s = (X @ W.T + b) / eps
        m = s.max(1, keepdims=True)
        e = np.exp(s - m)
        tot = e.sum(1, keepdims=True)
        r = eps * (m[:, 0] + np.log(tot[:, 0])) - y
        losses.append(float(np.mean(r * r)))
        dz = (2.0 / n) * r[:, None] * (e / tot)
        for p, g, mm, vv in ((W, dz.T @ X, mW, vW), (b, dz.sum(0), mb, vb)):
            mm[...] = beta1 * mm + (1 - beta1) * g
            vv[...] = beta2 * vv + (1 - beta2) * g * g
            p -= lr / (1 - beta1**k) * mm / (np.sqrt(vv / (1 - beta2**k)) + adam_eps)
    return np.array(losses), W, b


def _problem(S=4, N=6, d=2, n=50, per_network=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(S, n, d) if per_network else (n, d))
    y = np.linalg.norm(X, axis=-1)
    layers = [LSELayer(d, N, eps=1.0, dtype=torch.float64, generator=torch.Generator().manual_seed(s))
              for s in range(S)]
    W0 = torch.stack([lay.weight.detach() for lay in layers])
    b0 = torch.stack([lay.bias.detach() for lay in layers])
    eps = [0.05, 0.1, 0.3, 1.0][:S]  # a different temperature per network
    return X, y, W0, b0, eps


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled-if-installed", "torch-step"])
@pytest.mark.parametrize("per_network", [False, True], ids=["shared-data", "per-network-data"])
def test_batched_losses_equal_separate_engine_runs_and_numpy_adam(per_network, compiled, monkeypatch):
    import hjdl.training.batched as batched

    monkeypatch.setattr(batched, "USE_COMPILED", compiled)
    X, y, W0, b0, eps = _problem(per_network=per_network)
    res = train_many(W0, b0, eps, X, y, max_iter=STEPS, lr=LR)
    assert res.loss_curve.shape == (4, STEPS) and res.n_iter == STEPS
    for s in range(4):
        Xs, ys = (X[s], y[s]) if per_network else (X, y)
        lay = LSELayer(X.shape[-1], 6, eps=eps[s], dtype=torch.float64)
        with torch.no_grad():
            lay.weight.copy_(W0[s])
            lay.bias.copy_(b0[s])
        one = train(lay, lambda p, t: torch.mean((p - t) ** 2), torch.tensor(Xs), torch.tensor(ys),
                    max_iter=STEPS, lr=LR, refine=None, n_iter_no_change=STEPS + 1)
        ref = np.array(one.loss_curve[:STEPS], dtype=np.float64)
        np.testing.assert_allclose(res.loss_curve[s].numpy(), ref, rtol=1e-6, atol=0)
        assert float(res.loss[s]) == pytest.approx(one.loss, rel=1e-6)
        np.testing.assert_allclose(res.weight[s].numpy(), lay.weight.detach().numpy(), rtol=0, atol=1e-9)
        # independent oracle: NumPy Adam with the hand-derived Gibbs gradient
        losses, W, b = _numpy_adam(Xs, ys, W0[s].numpy(), b0[s].numpy(), eps[s], STEPS, LR)
        np.testing.assert_allclose(res.loss_curve[s].numpy(), losses, rtol=1e-6, atol=0)
        np.testing.assert_allclose(res.bias[s].numpy(), b, rtol=0, atol=1e-9)


def test_groups_change_no_number_and_inputs_are_not_modified():
    X, y, W0, b0, eps = _problem()
    before = W0.clone()
    a = train_many(W0, b0, eps, X, y, max_iter=20, lr=LR)
    b = train_many(W0, b0, eps, X, y, max_iter=20, lr=LR, max_elements=1)  # one network per group
    assert torch.equal(a.loss_curve, b.loss_curve) and torch.equal(a.weight, b.weight)
    assert torch.equal(W0, before)


def test_a_diverging_network_is_named():
    X, y, W0, b0, eps = _problem(per_network=True)
    y = y.copy()
    y[2] *= 1e200  # network 2's loss overflows at the first step
    with pytest.raises(ConvergenceError, match=r"network 2 .*step 0.*none"):
        train_many(W0, b0, eps, X, y, max_iter=5, lr=LR)


@pytest.mark.parametrize("kw, error, word", [
    ({"weight": torch.zeros(3, 2)}, ShapeError, "weight"),
    ({"bias": torch.zeros(4, 5)}, ShapeError, "bias"),
    ({"eps": [0.1, 0.2]}, ShapeError, "eps"),
    ({"eps": [0.1, -0.2, 0.1, 0.1]}, InputError, "eps"),
    ({"X": np.zeros((50, 3))}, ShapeError, "X"),
    ({"y": np.zeros(49)}, ShapeError, "y"),
    ({"y": np.full(50, np.nan)}, InputError, "y"),
    ({"max_iter": -1}, InputError, "max_iter"),
    ({"lr": 0.0}, InputError, "lr"),
    ({"betas": (0.9, 1.5)}, InputError, "betas"),
])
def test_bad_arguments_name_the_argument(kw, error, word):
    X, y, W0, b0, eps = _problem()
    args = {"weight": W0, "bias": b0, "eps": eps, "X": X, "y": y}
    opts = {k: v for k, v in kw.items() if k not in args}
    args.update({k: v for k, v in kw.items() if k in args})
    with pytest.raises(error, match=word):
        train_many(args["weight"], args["bias"], args["eps"], args["X"], args["y"], **opts)


def test_tropical_network_takes_the_autograd_path_and_still_matches():
    # eps = 0 (max-affine) has no Gibbs exponent: the group falls back to autograd through lse
    X, y, W0, b0, _ = _problem(S=2)
    eps = [0.0, 0.1]
    res = train_many(W0, b0, eps, X, y, max_iter=30, lr=LR)
    for s in range(2):
        lay = LSELayer(2, 6, eps=eps[s], dtype=torch.float64)
        with torch.no_grad():
            lay.weight.copy_(W0[s])
            lay.bias.copy_(b0[s])
        one = train(lay, lambda p, t: torch.mean((p - t) ** 2), torch.tensor(X), torch.tensor(y),
                    max_iter=30, lr=LR, refine=None, n_iter_no_change=31)
        np.testing.assert_allclose(res.loss_curve[s].numpy(), np.array(one.loss_curve[:30]), rtol=1e-6, atol=0)


def test_gibbs_gradient_path_equals_autograd_through_the_public_lse(monkeypatch):
    # the per-step fast path (one bmm for logits, one exp, one bmm for both gradients) against
    # autograd through hjdl.lse on the same stacked parameters (the fallback path)
    import hjdl.training.batched as batched

    X, y, W0, b0, eps = _problem(per_network=True)
    fast = train_many(W0, b0, eps, X, y, max_iter=25, lr=LR)
    monkeypatch.setattr(batched, "_lse_weights_accepts", lambda e, dtype: False)
    slow = train_many(W0, b0, eps, X, y, max_iter=25, lr=LR)
    np.testing.assert_allclose(fast.loss_curve.numpy(), slow.loss_curve.numpy(), rtol=1e-10, atol=0)
    np.testing.assert_allclose(fast.weight.numpy(), slow.weight.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.bias.numpy(), slow.bias.numpy(), rtol=0, atol=1e-10)


def test_large_logits_train_like_small_ones():
    # LSE(z + c) = LSE(z) + c: shifting the biases and the targets by c = 1e3 changes no residual,
    # gradient or loss; at eps = 0.05 the logits / eps reach 2e4, so an exponential without the
    # row-max shift overflows (the shift is what this checks)
    X, y, W0, b0, eps = _problem()
    c = 1e3
    a = train_many(W0, b0, eps, X, y, max_iter=20, lr=LR)
    b = train_many(W0, b0 + c, eps, X, y + c, max_iter=20, lr=LR)
    np.testing.assert_allclose(b.loss_curve.numpy(), a.loss_curve.numpy(), rtol=1e-6, atol=0)
    np.testing.assert_allclose(b.weight.numpy(), a.weight.numpy(), rtol=0, atol=1e-8)


def test_float32_training_matches_separate_runs():
    X, y, W0, b0, eps = _problem()
    X32, y32 = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    res = train_many(W0.float(), b0.float(), eps, X32, y32, max_iter=20, lr=LR)
    assert res.loss_curve.dtype == torch.float32
    for s in range(4):
        lay = LSELayer(2, 6, eps=eps[s], dtype=torch.float32)
        with torch.no_grad():
            lay.weight.copy_(W0[s])
            lay.bias.copy_(b0[s])
        one = train(lay, lambda p, t: torch.mean((p - t) ** 2), X32, y32,
                    max_iter=20, lr=LR, refine=None, n_iter_no_change=21)
        np.testing.assert_allclose(res.loss_curve[s].numpy(), np.array(one.loss_curve[:20]), rtol=1e-4, atol=0)


def test_without_numba_the_torch_step_runs(monkeypatch):
    # numba missing (an import of it fails): the kernel lookup gives None and the torch step
    # trains, to the same losses as the NumPy oracle
    import sys

    import hjdl.training.batched as batched

    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "hjdl.training._fused", raising=False)
    monkeypatch.delattr(sys.modules["hjdl.training"], "_fused", raising=False)
    monkeypatch.setattr(batched, "_KERNEL", False)
    assert batched._compiled() is None
    X, y, W0, b0, eps = _problem(S=2)
    res = train_many(W0, b0, eps[:2], X, y, max_iter=15, lr=LR)
    for s in range(2):
        losses, _, _ = _numpy_adam(X, y, W0[s].numpy(), b0[s].numpy(), eps[s], 15, LR)
        np.testing.assert_allclose(res.loss_curve[s].numpy(), losses, rtol=1e-10, atol=0)
