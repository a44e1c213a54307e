"""``ResidualNet``: a ResNet as the forward-Euler discretisation of ``ẋ = f(x, θ(t))`` (THEORY §8).

Layer ``l`` maps ``x_{l+1} = x_l + h f(x_l, θ_l)`` with ``h = horizon / depth`` and the
two-layer vector field ``f(x, θ) = W2 tanh(W1 x + b1) + b2`` (``θ = (W1, b1, W2, b2)``). The
activation ``tanh(z) = π_+ − π_−`` is the two-atom Gibbs identity of THEORY §1.

The parameters of all layers are stored stacked (one tensor per kind, leading axis = layer) so
that the co-state and the layer-wise maximisation of the Hamiltonian run vectorised over layers.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable

import torch
from torch import nn

from .._validation import as_tensor, check_dtype, check_finite, check_points
from ..errors import DomainError, InputError, ShapeError

__all__ = ["ResidualNet"]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name}: expected an integer >= 1, received {value!r}")
    return int(value)


class ResidualNet(nn.Module):
    r"""``x_{l+1} = x_l + h f(x_l, θ_l)``, ``f(x, θ) = W2 tanh(W1 x + b1) + b2``, ``h = horizon/depth``.

    Forward Euler for ``ẋ = f(x, θ(t))`` on ``[0, horizon]`` (THEORY §8); ``net(x)`` is the final
    state ``x_L``. Backpropagation through it is the discrete co-state of Pontryagin's principle
    (:func:`hjdl.control.costate`).

    Args:
        dim: state dimension ``d`` (input = output width).
        depth: number of layers ``L``.
        horizon: final time ``T > 0``; the step is ``h = T / L``.
        hidden: width ``m`` of the vector field (default ``dim``).
        generator: optional ``torch.Generator`` for a deterministic initialisation.

    Parameters (in ``list(net.parameters())`` order): ``W1 (L, m, d)``, ``b1 (L, m)``,
    ``W2 (L, d, m)``, ``b2 (L, d)``.

    Shapes: ``forward`` maps ``(..., d)`` to ``(..., d)``; :meth:`trajectory` returns
    ``(L + 1, ..., d)``.

    Example:
        >>> import torch
        >>> from hjdl.control import ResidualNet
        >>> net = ResidualNet(3, depth=4, generator=torch.Generator().manual_seed(0))
        >>> net(torch.zeros(5, 3)).shape
        torch.Size([5, 3])
        >>> net.step
        0.25
    """

    def __init__(self, dim: int, depth: int, horizon: float = 1.0, hidden: int | None = None, *,
                 dtype: torch.dtype | None = None, device=None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.dim = _positive_int(dim, "dim")
        self.depth = _positive_int(depth, "depth")
        self.hidden = self.dim if hidden is None else _positive_int(hidden, "hidden")
        if isinstance(horizon, bool) or not isinstance(horizon, numbers.Real) or not (
                math.isfinite(horizon) and horizon > 0):
            raise DomainError(f"horizon: expected a finite number > 0 (the final time T), received {horizon!r}")
        self.horizon = float(horizon)
        kw = {"dtype": check_dtype(dtype), "device": device}
        L, d, m = self.depth, self.dim, self.hidden
        self.W1 = nn.Parameter(torch.empty(L, m, d, **kw))
        self.b1 = nn.Parameter(torch.empty(L, m, **kw))
        self.W2 = nn.Parameter(torch.empty(L, d, m, **kw))
        self.b2 = nn.Parameter(torch.empty(L, d, **kw))
        self.reset_parameters(generator)

    @property
    def step(self) -> float:
        """The Euler step ``h = horizon / depth``."""
        return self.horizon / self.depth

    def times(self) -> torch.Tensor:
        """Layer times ``t_l = l h``, ``l = 0..L`` (float64)."""
        return torch.arange(self.depth + 1, dtype=torch.float64) * self.step

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """``U(−1/√fan_in, 1/√fan_in)`` for every weight and bias (as ``nn.Linear``)."""
        with torch.no_grad():
            for p, fan_in in ((self.W1, self.dim), (self.b1, self.dim),
                              (self.W2, self.hidden), (self.b2, self.hidden)):
                bound = 1.0 / math.sqrt(fan_in)
                p.uniform_(-bound, bound, generator=generator)

    @classmethod
    def from_function(cls, theta: Callable[[float], tuple], dim: int, depth: int, horizon: float = 1.0,
                      hidden: int | None = None, *, dtype: torch.dtype = torch.float64) -> "ResidualNet":
        """The net whose layer ``l`` uses ``θ(t_l)``, ``t_l = l h``: a sampled control ``θ(t)``.

        ``theta(t)`` returns ``(W1 (m, d), b1 (m,), W2 (d, m), b2 (d,))`` for a float ``t``. As
        ``depth`` grows the net converges to the ODE ``ẋ = f(x, θ(t))`` (forward Euler, order 1).

        Example:
            >>> import torch
            >>> theta = lambda t: (torch.eye(2) * t, torch.zeros(2), torch.eye(2), torch.zeros(2))
            >>> ResidualNet.from_function(theta, 2, depth=8).W1.shape
            torch.Size([8, 2, 2])
        """
        if not callable(theta):
            raise InputError(f"theta: expected a callable t -> (W1, b1, W2, b2), received {theta!r}")
        net = cls(dim, depth, horizon, hidden, dtype=check_dtype(dtype) or torch.float64)
        dtype = net.W1.dtype
        with torch.no_grad():
            for l in range(net.depth):
                parts = theta(l * net.step)
                if not isinstance(parts, (tuple, list)) or len(parts) != 4:
                    raise InputError("theta: expected theta(t) to return (W1, b1, W2, b2), received "
                                     f"{type(parts).__name__}")
                for p, v, name in zip((net.W1, net.b1, net.W2, net.b2), parts, ("W1", "b1", "W2", "b2")):
                    v = as_tensor(v, f"theta(t).{name}", dtype=dtype)
                    if v.shape != p.shape[1:]:
                        raise ShapeError(f"theta(t).{name}: expected shape {tuple(p.shape[1:])}, "
                                         f"received {tuple(v.shape)}")
                    p[l] = check_finite(v, f"theta(t).{name}")
        return net

    # -- evaluation ------------------------------------------------------------------------
    def _check(self, x) -> torch.Tensor:
        xt = as_tensor(x, "x", dtype=self.W1.dtype, device=self.W1.device)
        check_points(xt, self.dim, "x", f"ResidualNet(dim={self.dim})")
        return check_finite(xt, "x") if not xt.requires_grad else xt

    def field(self, x: torch.Tensor, l: int) -> torch.Tensor:
        """The vector field ``f(x, θ_l) = W2_l tanh(W1_l x + b1_l) + b2_l``: ``(..., d) → (..., d)``."""
        return torch.tanh(x @ self.W1[l].T + self.b1[l]) @ self.W2[l].T + self.b2[l]

    def trajectory(self, x) -> torch.Tensor:
        """All states ``x_0 … x_L``: ``(..., d) → (L + 1, ..., d)``."""
        xt = self._check(x)
        states = [xt]
        h = self.step
        for l in range(self.depth):
            states.append(states[-1] + h * self.field(states[-1], l))
        return torch.stack(states)

    def forward(self, x) -> torch.Tensor:
        """The final state ``x_L``: ``(..., d) → (..., d)``."""
        xt = self._check(x)
        h = self.step
        for l in range(self.depth):
            xt = xt + h * self.field(xt, l)
        return xt

    def extra_repr(self) -> str:
        return f"dim={self.dim}, depth={self.depth}, hidden={self.hidden}, horizon={self.horizon:g}"
