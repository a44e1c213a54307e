"""Backpropagation through a ResNet is the discrete co-state of Pontryagin's principle (THEORY §8).

For ``x_{l+1} = x_l + h f(x_l, θ_l)`` and a terminal loss ``Φ(x_L)`` define the layer
Hamiltonian ``𝓗_l = Σ_batch p_{l+1} · f(x_l, θ_l)`` and the co-state recursion

    p_L = −∇Φ(x_L),      p_l = p_{l+1} + h ∂_x 𝓗_l = (I + h ∂_x f(x_l, θ_l))ᵀ p_{l+1}.

**Sign convention.** ``p`` is the PMP co-state of the *maximum* principle: ``p_l = −a_l`` with
``a_l = ∂Φ/∂x_l`` the adjoint that backprop computes, and

    ∂Φ/∂θ_l = −h ∂_θ 𝓗_l,

so a gradient-descent step on the loss is an ascent step on every layer Hamiltonian; the
optimal θ_l maximises 𝓗_l (method of successive approximations, :class:`MSATrainer`).

:func:`costate` evaluates the recursion and the parameter gradients in closed form for the
vector field of :class:`ResidualNet` (``∂_x f = W2 diag(1 − tanh²) W1``); autograd is used only
for the terminal condition ``∇Φ(x_L)`` (``Φ`` is any user function). Tests compare with
``torch.autograd`` to 1e-12 in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..errors import InputError, NonFiniteError
from .resnet import ResidualNet

__all__ = ["CostateRecord", "costate", "terminal_costate"]


@dataclass
class CostateRecord:
    """What :func:`costate` returns.

    Attributes:
        states: ``(L + 1, B, d)`` forward states ``x_0 … x_L`` (``B`` = flattened batch).
        costates: ``(L + 1, B, d)`` PMP co-states ``p_0 … p_L`` (``p = −∂Φ/∂x``).
        hamiltonians: ``(L,)`` layer Hamiltonians ``𝓗_l = Σ_batch p_{l+1} · f(x_l, θ_l)``.
        param_grads: ``∂Φ/∂θ`` aligned with ``list(net.parameters())`` (``= −h ∂_θ 𝓗``).
        hamiltonian_grads: ``∂_θ 𝓗_l`` stacked over layers, aligned the same way.
        loss: ``Φ(x_L)`` (0-d tensor).
    """

    states: torch.Tensor
    costates: torch.Tensor
    hamiltonians: torch.Tensor
    param_grads: list
    hamiltonian_grads: list
    loss: torch.Tensor

    @property
    def adjoints(self) -> torch.Tensor:
        """Backprop's adjoints ``a_l = ∂Φ/∂x_l = −p_l``."""
        return -self.costates


def _check_net(net) -> ResidualNet:
    if not isinstance(net, ResidualNet):
        raise InputError(f"net: expected an hjdl.control.ResidualNet, received {type(net).__name__}; "
                         "costate uses its closed-form vector field")
    return net


def terminal_costate(loss: Callable, xL: torch.Tensor, batch_shape) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Φ(x_L), p_L = −∇Φ(x_L))`` by autograd on the user's terminal loss."""
    if not callable(loss):
        raise InputError(f"loss: expected a callable mapping the final state to a scalar, received {loss!r}")
    with torch.enable_grad():
        xg = xL.detach().requires_grad_(True)
        value = loss(xg.reshape(*batch_shape, xg.shape[-1]))
        if not isinstance(value, torch.Tensor) or value.numel() != 1 or not value.is_floating_point():
            raise InputError("loss: expected loss(x_L) to return a real floating scalar tensor, received "
                             f"{type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}"
                             f"{' and dtype ' + str(value.dtype) if isinstance(value, torch.Tensor) else ''}")
        if not bool(torch.isfinite(value)):
            raise NonFiniteError(f"loss: the terminal loss is not finite ({float(value)})")
        grad = None
        if value.requires_grad:  # a loss that does not read x_L has p_L = 0
            (grad,) = torch.autograd.grad(value.reshape(()), xg, allow_unused=True)
    if grad is not None and not bool(torch.isfinite(grad).all()):
        raise NonFiniteError("loss: the gradient of the terminal loss at x_L is not finite")
    if grad is None:
        grad = torch.zeros_like(xg)
    return value.detach().reshape(()), -grad


def costate(net: ResidualNet, x, loss: Callable[[torch.Tensor], torch.Tensor]) -> CostateRecord:
    r"""Forward states, PMP co-states, layer Hamiltonians and parameter gradients of a ResNet.

    ``p_L = −∇Φ(x_L)``, ``p_l = p_{l+1} + h W1_lᵀ[(1 − a_l²) ⊙ W2_lᵀ p_{l+1}]`` with
    ``a_l = tanh(W1_l x_l + b1_l)``; ``𝓗_l = Σ_batch p_{l+1}·f(x_l, θ_l)``;
    ``∂Φ/∂θ_l = −h ∂_θ 𝓗_l`` (THEORY §8; sign convention in the module docstring).

    Args:
        net: a :class:`ResidualNet`.
        x: inputs ``(..., d)``.
        loss: ``Φ`` mapping the final state ``(..., d)`` to a scalar tensor.

    Returns:
        :class:`CostateRecord` (batch axes flattened to one axis ``B``).

    Example:
        >>> import torch
        >>> from hjdl.control import ResidualNet, costate
        >>> net = ResidualNet(2, depth=3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> x = torch.ones(4, 2, dtype=torch.float64)
        >>> rec = costate(net, x, lambda xL: 0.5 * (xL ** 2).sum())
        >>> net.zero_grad(); (0.5 * (net(x) ** 2).sum()).backward()
        >>> bool(torch.allclose(rec.param_grads[0], net.W1.grad, atol=1e-12))
        True
    """
    net = _check_net(net)
    xt = net._check(x)
    batch_shape = xt.shape[:-1]
    h = net.step
    with torch.no_grad():
        W1, b1, W2, b2 = (p.detach() for p in (net.W1, net.b1, net.W2, net.b2))
        X = [xt.detach().reshape(-1, net.dim)]
        A = []
        for l in range(net.depth):
            a = torch.tanh(X[-1] @ W1[l].T + b1[l])
            A.append(a)
            X.append(X[-1] + h * (a @ W2[l].T + b2[l]))
        value, pL = terminal_costate(loss, X[-1], batch_shape)
        P = [None] * (net.depth + 1)
        S = [None] * net.depth
        P[-1] = pL.reshape(-1, net.dim)
        for l in range(net.depth - 1, -1, -1):
            s = (1 - A[l] ** 2) * (P[l + 1] @ W2[l])   # (B, m): ∂𝓗/∂(pre-activation)
            S[l] = s
            P[l] = P[l + 1] + h * (s @ W1[l])            # p_l = p_{l+1} + h ∂_x 𝓗_l
        states, costates = torch.stack(X), torch.stack(P)
        Am, Sm, Pn = torch.stack(A), torch.stack(S), costates[1:]
        fields = Am @ W2.transpose(1, 2) + b2[:, None, :]
        hamiltonians = (Pn * fields).sum((1, 2))
        dH = [torch.einsum("lbm,lbd->lmd", Sm, states[:-1]), Sm.sum(1),
              torch.einsum("lbd,lbm->ldm", Pn, Am), Pn.sum(1)]
        grads = [-h * g for g in dH]
    return CostateRecord(states, costates, hamiltonians, grads, dH, value)
