"""Co-state of a ResNet (THEORY §8) against autograd, and its continuous limit against solve_ivp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hjdl.control import ResidualNet, adjoint_convergence, adjoint_ode, costate
from hjdl.errors import DomainError, HJError, InputError, ShapeError


def _net(depth=5, dim=3, hidden=4, seed=0):
    return ResidualNet(dim, depth, horizon=1.3, hidden=hidden, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(seed))


def _ce_loss(target):
    return lambda xL: torch.nn.functional.cross_entropy(xL, target)


@pytest.mark.parametrize("loss_name", ["quadratic", "cross_entropy", "nonlinear"])
def test_costate_param_grads_equal_autograd(loss_name):
    net = _net()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 7, 3, generator=g, dtype=torch.float64)  # two batch axes
    target = torch.randint(0, 3, (14,), generator=g)
    losses = {"quadratic": lambda xL: 0.5 * (xL ** 2).sum(),
              "cross_entropy": lambda xL: _ce_loss(target)(xL.reshape(-1, 3)),
              "nonlinear": lambda xL: torch.sin(xL).prod(-1).mean()}
    loss = losses[loss_name]
    rec = costate(net, x, loss)
    net.zero_grad()
    loss(net(x)).backward()
    for ours, p in zip(rec.param_grads, net.parameters()):
        assert ours.shape == p.shape
        assert torch.allclose(ours, p.grad, rtol=0, atol=1e-12), float((ours - p.grad).abs().max())
    assert float(rec.loss) == pytest.approx(float(loss(net(x)).detach()), abs=1e-12)


def test_costates_equal_minus_backprop_adjoints():
    net = _net(depth=4)
    x = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    loss = lambda xL: (xL[:, 0] * xL[:, 1]).sum() + xL.pow(3).sum()
    rec = costate(net, x, loss)
    # autograd adjoints a_l = ∂Φ/∂x_l by retaining the intermediate states
    states = [x.clone().requires_grad_(True)]
    for l in range(net.depth):
        nxt = states[-1] + net.step * net.field(states[-1], l)
        nxt.retain_grad()
        states.append(nxt)
    loss(states[-1]).backward()
    auto = torch.stack([s.grad for s in states])
    assert torch.allclose(rec.costates, -auto, atol=1e-12, rtol=0)
    assert torch.allclose(rec.adjoints, auto, atol=1e-12, rtol=0)
    assert torch.allclose(rec.states[-1], net(x).detach(), atol=1e-14, rtol=0)


def test_hamiltonian_values_and_gradient_sign():
    # 𝓗_l by autograd: differentiate Σ p_{l+1}·f(x_l, θ) with respect to θ_l, p and x frozen
    net = _net(depth=3)
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    rec = costate(net, x, lambda xL: xL.square().sum())
    for l in range(net.depth):
        H = (rec.costates[l + 1] * net.field(rec.states[l], l)).sum()
        assert float(H.detach()) == pytest.approx(float(rec.hamiltonians[l]), abs=1e-12)
        grads = torch.autograd.grad(H, list(net.parameters()))
        for g, ours, total in zip(grads, rec.hamiltonian_grads, rec.param_grads):
            assert torch.allclose(g[l], ours[l], atol=1e-12)
            assert torch.allclose(total[l], -net.step * g[l], atol=1e-12)  # ∂Φ/∂θ_l = −h ∂_θ𝓗_l


def _theta(t):
    W1 = np.array([[np.cos(t), 0.4], [-0.3, 1.0 + 0.5 * t], [0.2, np.sin(2 * t)]])
    b1 = np.array([0.1, -0.2 * t, 0.3])
    W2 = np.array([[0.5, -1.0, 0.3 * t], [0.8, 0.2, -0.4]])
    b2 = np.array([0.05, np.cos(t) * 0.1])
    return W1, b1, W2, b2


def test_adjoint_ode_against_fine_closed_form_linear_case():
    # x ≡ 0 is a fixed point when b = 0; along it ∂f/∂x = W2 W1 = M, so ṗ = −Mᵀp: a matrix exponential.
    from scipy.linalg import expm
    M = np.array([[0.3, -0.7], [0.5, 0.1]])
    theta = lambda t: (M, np.zeros(2), np.eye(2), np.zeros(2))
    c = np.array([1.0, -2.0])
    sol = adjoint_ode(theta, np.zeros((1, 2)), lambda x: (x * torch.from_numpy(c)).sum(), horizon=1.5,
                      times=[0.0, 0.5])
    for k, t in enumerate([0.0, 0.5]):
        # p(t) = exp(Mᵀ (T − t)) p(T), p(T) = −c   (ṗ = −Mᵀ p)
        expected = expm(M.T * (1.5 - t)) @ (-c)
        assert np.allclose(sol.costates[k, 0], expected, atol=1e-10)


def test_discrete_costate_converges_with_order_one():
    x0 = np.array([[0.5, -1.0], [1.5, 0.3]])
    loss = lambda x: (x[:, 0] ** 2).sum() + torch.sin(x[:, 1]).sum()
    rec = adjoint_convergence(_theta, x0, loss, [16, 32, 64, 128], dim=2, hidden=3, horizon=1.0)
    assert all(a > b for a, b in zip(rec.errors, rec.errors[1:]))
    assert 0.9 < rec.order < 1.1, rec.order


def test_bad_inputs_are_named():
    with pytest.raises(InputError, match="depth"):
        ResidualNet(2, 0)
    with pytest.raises(DomainError, match="horizon"):
        ResidualNet(2, 3, horizon=-1.0)
    net = _net()
    with pytest.raises(ShapeError, match="x: expected shape"):
        net(torch.zeros(4, 5, dtype=torch.float64))
    with pytest.raises(InputError, match="loss"):
        costate(net, torch.zeros(2, 3), lambda xL: xL)   # not a scalar
    with pytest.raises(InputError, match="net"):
        costate(torch.nn.Linear(3, 3), torch.zeros(2, 3), lambda xL: xL.sum())
    with pytest.raises(HJError, match="theta"):
        ResidualNet.from_function(lambda t: (1, 2), 2, 3)


# -- input checks (issue 16, item 5) ---------------------------------------------------------
from hjdl.control import MSATrainer  # noqa: E402
from hjdl.errors import ConvergenceError, NonFiniteError  # noqa: E402

_I2 = lambda t: (np.eye(2), np.zeros(2), np.eye(2), np.zeros(2))  # noqa: E731
_SQ = lambda xL: (xL ** 2).sum()  # noqa: E731
_X0 = [[0.0, 1.0]]

BAD_CONTROL = [
    ("costate-int-loss", lambda: costate(_net(), torch.ones(3, 3, dtype=torch.float64), lambda x: x.sum().long()),
     InputError, "loss"),
    ("adjoint-theta-nan", lambda: adjoint_ode(lambda t: (np.eye(2) * np.nan, np.zeros(2), np.eye(2), np.zeros(2)),
                                              _X0, _SQ), NonFiniteError, "theta"),
    ("adjoint-theta-nan-later", lambda: adjoint_ode(
        lambda t: (np.eye(2) * (np.nan if t > 0.5 else 1.0), np.zeros(2), np.eye(2), np.zeros(2)), _X0, _SQ),
     NonFiniteError, "theta"),
    ("adjoint-theta-shape", lambda: adjoint_ode(lambda t: (np.eye(3), np.zeros(2), np.eye(2), np.zeros(2)), _X0, _SQ),
     ShapeError, "theta"),
    ("adjoint-x0-width", lambda: adjoint_ode(_I2, [[0.0, 1.0, 2.0]], _SQ), ShapeError, "theta"),
    ("adjoint-theta-not-callable", lambda: adjoint_ode(5, _X0, _SQ), InputError, "theta"),
    ("adjoint-horizon-string", lambda: adjoint_ode(_I2, _X0, _SQ, horizon="1"), DomainError, "horizon"),
    ("adjoint-times-nan", lambda: adjoint_ode(_I2, _X0, _SQ, times=[np.nan]), NonFiniteError, "times"),
    ("adjoint-times-outside", lambda: adjoint_ode(_I2, _X0, _SQ, times=[2.0]), DomainError, "times"),
    ("adjoint-times-string", lambda: adjoint_ode(_I2, _X0, _SQ, times="a"), InputError, "times"),
    ("adjoint-rtol", lambda: adjoint_ode(_I2, _X0, _SQ, rtol=-1.0), DomainError, "rtol"),
    ("msa-head-int", lambda: MSATrainer(_net(), head_params=5), InputError, "head_params"),
    ("msa-head-nonleaf", lambda: MSATrainer(_net(), head_params=[torch.ones(2, requires_grad=True) * 2]),
     InputError, "head_params[0]"),
    ("msa-empty-batch", lambda: MSATrainer(_net()).step(torch.zeros(0, 3), _SQ), ShapeError, "x"),
    ("resnet-dtype-complex", lambda: ResidualNet(2, 2, dtype=torch.complex64), InputError, "dtype"),
    ("from-function-nan", lambda: ResidualNet.from_function(
        lambda t: (np.eye(2) * np.nan, np.zeros(2), np.eye(2), np.zeros(2)), 2, 3), NonFiniteError, "theta"),
]


@pytest.mark.parametrize("make, error, word", [r[1:] for r in BAD_CONTROL], ids=[r[0] for r in BAD_CONTROL])
def test_control_bad_input_raises_hjdl_errors(make, error, word):
    with pytest.raises(error) as info:
        make()
    assert word in str(info.value)


def test_costate_of_a_loss_that_ignores_the_state_is_zero():
    net = _net()
    rec = costate(net, torch.ones(4, 3, dtype=torch.float64), lambda x: torch.tensor(2.0, dtype=torch.float64))
    assert float(rec.loss) == 2.0
    assert torch.equal(rec.costates, torch.zeros_like(rec.costates))   # Φ constant: p ≡ 0


def test_msa_accepts_numpy_scalars():
    trainer = MSATrainer(_net(), rho=np.float32(1.0), inner_steps=np.int64(2), inner_lr=np.float64(0.01))
    assert trainer.inner_steps == 2 and trainer.rho == 1.0


def test_msa_step_that_diverges_restores_the_parameters():
    net = _net()
    before = [p.detach().clone() for p in net.parameters()]
    trainer = MSATrainer(net, rho=0.0, inner_steps=3, inner_lr=1e300)
    with pytest.raises(ConvergenceError):
        trainer.step(torch.ones(4, 3, dtype=torch.float64), lambda x: 1e300 * (x ** 2).sum())
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), before))
