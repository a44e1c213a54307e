"""Training a ResNet by the method of successive approximations (Li, Chen, Tai & E, 2018; THEORY §8).

One iteration on a batch:

1. forward pass: states ``x_l`` (:func:`hjdl.control.costate`);
2. co-state pass: ``p_L = −∇Φ(x_L)``, ``p_l = p_{l+1} + h ∂_x 𝓗_l``;
3. per-layer maximisation of the *augmented* Hamiltonian (extended MSA), for all layers at once
   (they decouple once ``x`` and ``p`` are frozen)::

       𝓗̃_l(θ) = 𝓗_l(θ) − (ρ/2) mean_b |f(x_l, θ) − f(x_l, θ_l^old)|²
                        − (ρ/2) mean_b |∂_x𝓗_l(θ) − ∂_x𝓗_l(θ_l^old)|²

   with the per-sample co-states ``B p`` (``B`` = batch size, so every term is a batch mean
   when ``Φ`` is a batch-mean loss), by ``inner_steps`` steps of Adam ascent.
   The penalties keep the new θ where the frozen states and co-states remain valid; without
   them ``𝓗_l`` is linear in the output weights and has no maximiser.

Parameters outside the ResNet (a classifier head inside ``loss``) are not controls of the ODE;
they take one Adam step on ``Φ`` per iteration (``head_params``).

**PMP gap.** With unconstrained θ the maximum principle requires ``∂_θ𝓗_l = 0`` at the optimum;
:func:`pmp_gap` reports ``B‖∂_θ𝓗_l‖`` per layer. Since ``∂Φ/∂θ_l = −h ∂_θ𝓗_l`` this is the
layer's loss-gradient norm divided by ``h``: the first-order PMP residual.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Iterable

import torch

from ..errors import ConvergenceError, DomainError, InputError, ShapeError
from .costate import costate
from .resnet import ResidualNet

__all__ = ["MSATrainer", "pmp_gap"]


def pmp_gap(net: ResidualNet, x, loss: Callable) -> torch.Tensor:
    """``(L,)`` first-order PMP residual ``B ‖∂_θ 𝓗_l‖`` of each layer (module docstring).

    Example:
        >>> import torch
        >>> net = ResidualNet(2, 3, generator=torch.Generator().manual_seed(0))
        >>> pmp_gap(net, torch.ones(4, 2), lambda xL: xL.square().mean()).shape
        torch.Size([3])
    """
    rec = costate(net, x, loss)
    B = rec.states.shape[1]
    sq = sum(g.reshape(g.shape[0], -1).square().sum(1) for g in rec.hamiltonian_grads)
    return B * sq.sqrt()


def _check_params(params) -> list:
    """``head_params``: ``None`` or an iterable of floating leaf tensors (``nn.Parameter``)."""
    if params is None:
        return []
    try:
        params = list(params)
    except TypeError:
        raise InputError(f"head_params: expected an iterable of parameters, received {params!r}") from None
    for i, p in enumerate(params):
        if not isinstance(p, torch.Tensor) or not p.is_floating_point() or not p.is_leaf:
            raise InputError(f"head_params[{i}]: expected a floating leaf tensor (an nn.Parameter), "
                             f"received {type(p).__name__}")
    return params


class MSATrainer:
    r"""Extended method of successive approximations for a :class:`ResidualNet`.

    Args:
        net: the ResNet (its parameters are updated in place).
        rho: penalty weight of the augmented Hamiltonian (``ρ >= 0``; 0 = plain MSA).
        inner_steps: Adam ascent steps on ``𝓗̃`` per iteration.
        inner_lr: their step size.
        head_params: parameters used inside ``loss`` outside the ResNet (updated by Adam on Φ).
        head_lr: learning rate of those.

    Example:
        >>> import torch
        >>> net = ResidualNet(2, 4, generator=torch.Generator().manual_seed(0))
        >>> x = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
        >>> loss = lambda xL: (xL - 1).square().mean()
        >>> trainer = MSATrainer(net, rho=1.0, inner_steps=3, inner_lr=0.05)
        >>> first = trainer.step(x, loss)["loss"]
        >>> last = [trainer.step(x, loss) for _ in range(20)][-1]["loss"]
        >>> last < first
        True
    """

    def __init__(self, net: ResidualNet, rho: float = 1.0, inner_steps: int = 5, inner_lr: float = 0.01,
                 head_params: Iterable[torch.nn.Parameter] | None = None, head_lr: float = 1e-2) -> None:
        if not isinstance(net, ResidualNet):
            raise InputError(f"net: expected an hjdl.control.ResidualNet, received {type(net).__name__}")
        for value, name in ((rho, "rho"), (inner_lr, "inner_lr"), (head_lr, "head_lr")):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
                raise DomainError(f"{name}: expected a finite number >= 0, received {value!r}")
        if isinstance(inner_steps, bool) or not isinstance(inner_steps, numbers.Integral) or inner_steps < 1:
            raise InputError(f"inner_steps: expected an integer >= 1, received {inner_steps!r}")
        self.net, self.rho, self.inner_steps = net, float(rho), int(inner_steps)
        self.inner = torch.optim.Adam(net.parameters(), lr=float(inner_lr))
        self.head_params = _check_params(head_params)
        self.head = torch.optim.Adam(self.head_params, lr=float(head_lr)) if self.head_params else None

    def _augmented(self, X, P, old):
        """``Σ_l 𝓗̃_l`` for all layers at once (x, p frozen; ``old`` = fields and ∂_x𝓗 at θ_old)."""
        net = self.net
        a = torch.tanh(torch.einsum("lbd,lmd->lbm", X, net.W1) + net.b1[:, None])
        f = torch.einsum("lbm,ldm->lbd", a, net.W2) + net.b2[:, None]
        s = (1 - a ** 2) * torch.einsum("lbd,ldm->lbm", P, net.W2)
        dx = torch.einsum("lbm,lmd->lbd", s, net.W1)
        H = (P * f).sum(-1).mean(-1).sum()
        if old is None:
            return H, (f.detach(), dx.detach())
        f_old, dx_old = old
        pen = (f - f_old).square().sum(-1).mean(-1).sum() + (dx - dx_old).square().sum(-1).mean(-1).sum()
        return H - 0.5 * self.rho * pen, None

    def step(self, x, loss: Callable[[torch.Tensor], torch.Tensor]) -> dict:
        """One MSA iteration on the batch ``x`` (at least one sample); returns ``{"loss",
        "hamiltonian"}`` (before the update). Raises :class:`~hjdl.errors.ConvergenceError`, with
        the parameters left as they were, if the update makes them non-finite."""
        rec = costate(self.net, x, loss)
        B = rec.states.shape[1]
        if B == 0:
            raise ShapeError("x: expected at least one sample, received an empty batch")
        saved = [p.detach().clone() for p in self.net.parameters()]
        X, P = rec.states[:-1], rec.costates[1:] * B   # per-sample co-states (batch-mean scale)
        if self.head is not None:
            self.head.zero_grad()
            with torch.enable_grad():
                loss(rec.states[-1].reshape(*torch.as_tensor(x).shape[:-1], -1)).backward()
            self.head.step()
        with torch.enable_grad():
            _, old = self._augmented(X, P, None)
            for _ in range(self.inner_steps):
                self.inner.zero_grad()
                value, _ = self._augmented(X, P, old)
                (-value).backward()
                self.inner.step()
        if not all(bool(torch.isfinite(p).all()) for p in self.net.parameters()):
            with torch.no_grad():
                for p, s in zip(self.net.parameters(), saved):
                    p.copy_(s)
            raise ConvergenceError("MSA step produced non-finite parameters (restored the previous "
                                   "ones); likely fixes: a smaller inner_lr or a larger rho")
        return {"loss": float(rec.loss), "hamiltonian": float(rec.hamiltonians.sum())}
