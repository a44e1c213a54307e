"""The compiled fused step of ``train_many`` (``hjdl.training._fused``, numba) against
independent computations: autograd through the public :func:`hjdl.lse` for losses and
gradients, ``np.exp`` for its exponential, and the torch step of ``train_many`` over 50 Adam
steps. Skipped without numba (the torch step then runs; ``test_training_batched`` covers it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import hjdl
import hjdl.training.batched as batched
from hjdl.errors import ConvergenceError
from hjdl.training import train_many

pytest.importorskip("numba")
from hjdl.training import _fused  # noqa: E402


def _autograd(X, Q, eps, y):
    """Losses and ``∂L_s/∂Q_s`` by autograd through hjdl.lse (no shared code with the kernel)."""
    Qt = torch.tensor(Q, requires_grad=True)
    eps = np.asarray(eps, dtype=np.float64)
    Xt = torch.tensor(X)
    Xa = torch.cat([Xt, torch.ones_like(Xt[..., :1])], -1)
    z = torch.matmul(Xa, Qt)  # (S, n, N)
    f = hjdl.lse(z, torch.tensor(eps)[:, None])
    losses = ((f - torch.tensor(y)) ** 2).mean(-1)
    losses.sum().backward()
    return losses.detach().numpy(), Qt.grad.numpy()


def _kernel(X, Q, eps, y, layout=None):
    S, D, N = Q.shape
    n = X.shape[-2]
    Xa = np.concatenate([X, np.ones(X.shape[:-1] + (1,))], -1).reshape(-1, n, D)
    G, L = np.empty_like(Q), np.empty(S)
    rows, width = layout or _fused.layout(N)
    _fused.fused_step(np.ascontiguousarray(Xa.transpose(0, 2, 1)), Q, np.asarray(eps, dtype=np.float64),
                      np.ascontiguousarray(np.reshape(y, (-1, n))), G, L, rows, width)
    return L, G


@pytest.mark.parametrize("S, n, N, d, per_network", [
    (3, 40, 1, 2, False),      # N = 1: LSE is the single logit, the gradient is [x, 1]
    (2, 33, 7, 1, True),       # d = 1
    (4, 1100, 12, 5, True),    # d = 5, three row blocks (the last one partial)
    (1, 700, 300, 2, False),   # S = 1, two row blocks
])
def test_losses_and_gradients_equal_autograd_through_lse(S, n, N, d, per_network):
    rng = np.random.default_rng(N + d)
    X = rng.uniform(-2, 2, size=(S, n, d) if per_network else (n, d))
    y = np.linalg.norm(X, axis=-1) + 0.1
    Q = rng.normal(size=(S, d + 1, N))
    eps = np.array([0.03, 0.2, 1.0, 4.0][:S])  # per-network temperatures
    L, G = _kernel(X, Q, eps, y)
    L_ref, G_ref = _autograd(X, Q, eps, y)
    np.testing.assert_allclose(L, L_ref, rtol=1e-13, atol=0)
    np.testing.assert_allclose(G, G_ref, rtol=0, atol=1e-13 * np.abs(G_ref).max())


@pytest.mark.parametrize("layout", [(512, 16), (64, 24), (1024, 256)])
def test_the_task_and_block_layout_changes_only_rounding(layout):
    # several tasks per network, blocks that do not divide the tasks, a last partial block
    rng = np.random.default_rng(5)
    X = rng.uniform(-2, 2, size=(1000, 2))
    Q = rng.normal(size=(3, 3, 37))
    eps = np.array([0.05, 0.3, 2.0])  # float64 (a list would reach autograd as float32)
    L, G = _kernel(X, Q, eps, X[:, 0], layout=layout)
    L_ref, G_ref = _autograd(X, Q, eps, X[:, 0])
    np.testing.assert_allclose(L, L_ref, rtol=1e-13, atol=0)
    np.testing.assert_allclose(G, G_ref, rtol=0, atol=1e-13 * np.abs(G_ref).max())


@pytest.mark.parametrize("d", [1, 2])  # the generic logit pass and the d = 2 one
def test_ties_give_the_top_weight_one_once(d):
    # every logit equal: π is uniform, LSE = z + eps log N (a kernel that sums the top's 1
    # twice, or misses it, gets both wrong)
    S, n, N = 2, 20, 5
    X = np.zeros((n, d))
    Q = np.zeros((S, d + 1, N))
    eps = np.array([0.5, 0.25])
    L, G = _kernel(X, Q, eps, np.zeros(n))
    np.testing.assert_allclose(L, (eps * np.log(N)) ** 2, rtol=1e-14)
    np.testing.assert_allclose(G[:, -1], np.broadcast_to(2 * eps[:, None] * np.log(N) / N, (S, N)), rtol=1e-14)


def test_exp_matches_numpy_over_its_domain_and_underflows_like_it():
    a = np.concatenate([-np.linspace(0, 800, 400_001), -np.logspace(-300, 2.9, 10_001), [0.0, -0.0, -1e300]])
    out = np.empty_like(a)
    _fused.exp_neg(a, out)
    ref = np.exp(a)
    assert np.isfinite(out).all()
    normal = ref >= np.finfo(np.float64).tiny
    assert np.max(np.abs(out[normal] / ref[normal] - 1)) < 4e-16
    # gradual underflow: subnormal results within one unit of the last place (2^-1074)
    sub = ~normal
    assert np.max(np.abs(out[sub] - ref[sub])) <= 2.0 ** -1074
    assert (out[a < -745.2] == 0).all() and (out[a == 0] == 1.0).all()
    nan = np.array([np.nan, -np.inf])
    _fused.exp_neg(nan, out[:2])
    assert np.isnan(out[0]) and out[1] == 0.0
    assert (out[(a > -745.1) & (a < -708.4)] > 0).all()


def test_log1p_matches_numpy_over_its_domain():
    a = np.concatenate([[0.0, 5e-324, 1e-300, 1e-17, 2.0 ** -53, 1.0, 2.0, 3.0],
                        np.logspace(-300, 12, 200_001), np.linspace(0, 1000, 200_001)])
    out = np.empty_like(a)
    _fused.log1p_nonneg(a, out)
    ref = np.log1p(a)
    nz = ref != 0
    assert np.max(np.abs(out[nz] / ref[nz] - 1)) < 4.5e-16
    assert (out[~nz] == 0).all()


def test_train_many_compiled_equals_the_torch_step_over_50_steps(monkeypatch):
    rng = np.random.default_rng(3)
    S, n, N, d = 5, 600, 9, 2
    X = rng.uniform(-2, 2, size=(S, n, d))
    y = np.linalg.norm(X, axis=-1)
    W0, b0 = rng.uniform(-0.5, 0.5, size=(S, N, d)), np.zeros((S, N))
    eps = [0.02, 0.05, 0.1, 0.5, 2.0]
    fast = train_many(W0, b0, eps, X, y, max_iter=50, lr=2e-2)
    monkeypatch.setattr(batched, "USE_COMPILED", False)
    assert batched._compiled() is None
    slow = train_many(W0, b0, eps, X, y, max_iter=50, lr=2e-2)
    np.testing.assert_allclose(fast.loss_curve.numpy(), slow.loss_curve.numpy(), rtol=1e-10, atol=0)
    np.testing.assert_allclose(fast.loss.numpy(), slow.loss.numpy(), rtol=1e-10, atol=0)  # after the last step
    np.testing.assert_allclose(fast.weight.numpy(), slow.weight.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.bias.numpy(), slow.bias.numpy(), rtol=0, atol=1e-10)


def test_the_compiled_step_is_the_one_that_runs(monkeypatch):
    calls = []
    real = batched._compiled()
    assert real is not None

    class Spy:
        layout = staticmethod(real.layout)

        @staticmethod
        def fused_step(*args):
            calls.append(1)
            return real.fused_step(*args)

    monkeypatch.setattr(batched, "_compiled", lambda: Spy)
    X = np.linspace(-1, 1, 30)[:, None]
    train_many(np.ones((2, 3, 1)), np.zeros((2, 3)), 0.1, X, X[:, 0] ** 2, max_iter=4)
    assert len(calls) == 4 + 1  # one per step, and one for the final losses
    train_many(np.ones((2, 3, 1), dtype=np.float32), np.zeros((2, 3)), 0.1, X, X[:, 0] ** 2, max_iter=4)
    assert len(calls) == 5  # float32 keeps the torch step
    # it holds no logits: networks the torch step would take one at a time (n N = 1.2e6 logits
    # each, over max_elements) run in one call per step; max_elements still bounds its slots
    X = np.linspace(-1, 1, 4000)[:, None]
    W0 = np.random.default_rng(0).normal(size=(3, 300, 1))
    train_many(W0, np.zeros((3, 300)), 0.1, X, X[:, 0] ** 2, max_iter=2)
    assert len(calls) == 5 + 3
    train_many(W0, np.zeros((3, 300)), 0.1, X, X[:, 0] ** 2, max_iter=2, max_elements=2 * 2400)
    assert len(calls) == 8 + 2 * 3  # slots of 4 tasks x 2 x 300 per network: groups of 2 and 1
    # one data set per network: its transposed copy, (d + 1) n = 8000 per network, counts too
    X3 = np.random.default_rng(1).uniform(-1, 1, size=(3, 4000, 1))
    train_many(W0[:, :3], np.zeros((3, 3)), 0.1, X3, X3[..., 0] ** 2, max_iter=2, max_elements=16000)
    assert len(calls) == 14 + 2 * 3


def test_one_and_two_threads_give_the_same_bits():
    import numba

    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(1300, 2))
    Q = rng.normal(size=(1, 3, 40))
    out = []
    before = numba.get_num_threads()
    try:
        for t in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(t)
            out.append(_kernel(X, Q, [0.1], X[:, 0], layout=(512, 64)))  # three tasks
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])


def test_non_finite_parameters_or_targets_give_a_nan_loss_for_that_network_only():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, size=(50, 2))
    Q = rng.normal(size=(3, 3, 4))
    Q[1, 0, 2] = np.nan  # never a row maximum: only the parameter check sees it
    y = np.tile(X[:, 0], (3, 1))
    y[2, 7] = np.nan
    L, _ = _kernel(X, Q, [0.1, 0.1, 0.1], y)
    assert np.isfinite(L[0]) and np.isnan(L[1]) and np.isnan(L[2])
    # finite inputs and weights whose logits overflow: an infinite row maximum
    X3 = np.stack([X, X, X])
    X3[0, 9] = 1e308  # times weights >= 2: +inf
    L, _ = _kernel(X3, np.abs(Q[[0, 0, 0]]) + 2.0, [0.1, 0.1, 0.1], np.tile(X[:, 0], (3, 1)))
    assert np.isnan(L[0]) and np.isfinite(L[1:]).all()
    # a NaN logit (+inf + -inf in its products) below a finite row maximum: not weight 0
    Q4 = np.zeros((2, 3, 4))
    Q4[:, 2] = rng.normal(size=4)
    Q4[0, 0, 0], Q4[0, 1, 0] = -1e10, 1e10
    X4 = X.copy()
    X4[8] = 1e300
    L, _ = _kernel(X4, Q4, [0.1, 0.1], np.zeros(len(X4)))
    assert np.isnan(L[0]) and np.isfinite(L[1])


def test_divergence_on_the_compiled_path_names_the_network():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(3, 40, 2))
    y = np.linalg.norm(X, axis=-1)
    y[1] *= 1e200
    with pytest.raises(ConvergenceError, match=r"network 1 .*step 0.*none"):
        train_many(rng.normal(size=(3, 4, 2)), np.zeros((3, 4)), 0.1, X, y, max_iter=5)


