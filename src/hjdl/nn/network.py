"""``LSENetwork``: softplus_eps hidden layers (each an HJ step) and per-class LSE readout heads.

THEORY §8 "depth = HJ time": a stack is a composition of HJ steps, not one equation. Each hidden
layer is ``h ↦ softplus_eps(h Wᵀ + b)`` with ``softplus_eps(z) = LSE_eps(z, 0)`` (THEORY §1),
optionally residual (``h ↦ h + softplus_eps(h Wᵀ + b)``, a forward-Euler step, THEORY §8); the
readout is one :class:`~hjdl.nn.LSELayer` per output (``out_features = C`` heads; for
classification the heads are the logits). Each head is exactly an HJ solution in the feature
space of the last hidden layer (its :meth:`LSENetwork.initial_data`).

When depth is needed: with ``hidden=()`` every head is convex in ``x`` (an LSE of affine maps),
so a concave or oscillating target (e.g. ``−|x|``) cannot be fitted by one head at any width; a
hidden softplus layer makes the map non-convex. (Several heads combined by a softmax, as in a
classifier, already give non-convex decision boundaries.)
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from ..core import InitialData, lse, softplus_eps
from ..errors import InputError
from ._temperature import TemperedAffine, check_features, check_t, module_input
from .layers import LSELayer

__all__ = ["LSENetwork", "SoftplusLayer"]


class SoftplusLayer(TemperedAffine):
    r"""Hidden layer ``h ↦ softplus_eps(h Wᵀ + b)`` (``+ h`` when ``residual``), THEORY §1, §8.

    ``softplus_eps(z) = eps log(1 + e^{z/eps}) = LSE_eps(z, 0)`` elementwise (:func:`hjdl.softplus_eps`);
    ``eps = 0`` is ReLU. Attributes ``weight`` (out, in), ``bias`` (out,), ``eps``.

    Example:
        >>> import torch
        >>> from hjdl.nn import SoftplusLayer
        >>> SoftplusLayer(3, 4, eps=0.5)(torch.zeros(2, 3)).shape
        torch.Size([2, 4])
    """

    def __init__(self, in_features: int, out_features: int, eps=1.0, residual: bool = False,
                 learn_eps: bool = False, *, dtype=None, device=None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_features = check_features(in_features, "in_features")
        self.out_features = check_features(out_features, "out_features")
        if residual and self.in_features != self.out_features:
            raise InputError(f"residual: a residual layer needs in_features == out_features, received "
                             f"{self.in_features} and {self.out_features}")
        self.residual = bool(residual)
        self._init_affine(self.out_features, self.in_features, eps, learn_eps, dtype=dtype, device=device,
                          generator=generator)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``softplus_eps(h Wᵀ + b)`` (``+ h`` when residual): ``(..., in) → (..., out)``; ``h``
        finite, evaluated in the common dtype of ``h`` and the parameters."""
        h = module_input(h, "h", self.in_features, self.weight,
                         f"SoftplusLayer(in_features={self.in_features})")
        W, b = self.weight.to(h.dtype), self.bias.to(h.dtype)
        out = softplus_eps(torch.nn.functional.linear(h, W, b), self.eps)
        return h + out if self.residual else out

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"eps={float(self.eps.detach()):.4g}, residual={self.residual}")


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        widths = tuple(hidden)
    except TypeError:
        raise InputError(f"hidden: expected a tuple of positive layer widths, received {hidden!r}") from None
    return tuple(check_features(h, "hidden") for h in widths)


class LSENetwork(nn.Module):
    r"""Hidden softplus_eps layers, then ``C`` LSE heads ``f_c(x) = LSE_eps(W_c h(x) + b_c)``.

    Args:
        in_features: input dimension ``d``.
        hidden: widths of the hidden softplus_eps layers (``()`` = a single LSE layer per head).
        width: neurons ``N`` of each LSE head.
        eps: temperature of every layer (``>= 0``; learnable and positive with ``learn_eps``).
        residual: residual hidden layers (``h + softplus_eps(W h + b)``) where widths agree.
        out_features: number of heads ``C`` (one per class for classification).
        t: HJ time of the heads' :meth:`initial_data`.
        generator: optional ``torch.Generator`` (deterministic initialisation).

    Shapes: ``(..., d) → (...)`` when ``out_features == 1``, else ``(..., C)``.

    Example:
        >>> import torch
        >>> from hjdl.nn import LSENetwork
        >>> net = LSENetwork(2, hidden=(8,), width=6, eps=0.2, out_features=3)
        >>> net(torch.zeros(5, 2)).shape
        torch.Size([5, 3])
    """

    def __init__(self, in_features: int, hidden=(), width: int = 32, eps=1.0, residual: bool = False,
                 out_features: int = 1, t: float = 1.0, learn_eps: bool = False, *, dtype=None,
                 device=None, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_features = check_features(in_features, "in_features")
        self.hidden = _check_hidden(hidden)
        self.width = check_features(width, "width")
        self.out_features = check_features(out_features, "out_features")
        self.residual = bool(residual)
        self.t = check_t(t)
        kw = {"dtype": dtype, "device": device, "generator": generator}
        layers, n_in = [], self.in_features
        for n_out in self.hidden:
            layers.append(SoftplusLayer(n_in, n_out, eps, residual=self.residual and n_in == n_out,
                                        learn_eps=learn_eps, **kw))
            n_in = n_out
        self.layers = nn.ModuleList(layers)
        self.heads = nn.ModuleList(LSELayer(n_in, self.width, eps, t=self.t, learn_eps=learn_eps, **kw)
                                   for _ in range(self.out_features))

    @property
    def eps(self) -> torch.Tensor:
        """Temperature of the first head (all layers share it unless ``learn_eps`` moved them)."""
        return self.heads[0].eps

    @eps.setter
    def eps(self, value) -> None:
        for module in [*self.layers, *self.heads]:
            module.eps = value

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden representation ``h(x)`` (``x`` itself when ``hidden == ()``)."""
        x = module_input(x, "x", self.in_features, self.heads[0].weight,
                         f"LSENetwork(in_features={self.in_features})")
        for layer in self.layers:
            x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        if self.out_features == 1:
            return self.heads[0](h)
        stacked = self._stacked_heads(h)
        if stacked is not None:
            return stacked
        outs = [head(h) for head in self.heads]  # a loop over heads (classes), not points
        return torch.stack(outs, dim=-1)

    #: Largest ``points × heads × width`` for which :meth:`forward` evaluates every head in one
    #: batched logit tensor; above it the heads run one by one through :func:`hjdl.lse_layer`,
    #: whose blocks bound the memory.
    STACK_ELEMENTS = 1 << 22

    def _stacked_heads(self, h: torch.Tensor) -> torch.Tensor | None:
        """Every head at once: ``LSE_eps`` (:func:`hjdl.lse`, along the neurons) of the logits
        ``z[..., c, j] = W_cj·h + b_cj``, one einsum instead of a Python loop over classes (the
        classifier's training step was dominated by that loop's per-call overhead). ``None`` (use
        the loop) when the logits would be large or are not all finite (huge weights, where
        :func:`hjdl.lse_layer` forms them more carefully)."""
        C, N = self.out_features, self.width
        if h.numel() // max(self.heads[0].in_features, 1) * C * N > self.STACK_ELEMENTS:
            return None
        W = torch.stack([head.weight for head in self.heads])        # (C, N, d)
        b = torch.stack([head.bias for head in self.heads])          # (C, N)
        z = torch.einsum("...d,cnd->...cn", h, W) + b
        if not bool(torch.isfinite(z).all()):
            return None
        eps = torch.stack([head.eps.reshape(()) for head in self.heads])  # (C,), broadcast over points
        return lse(z, eps, dim=-1)

    def initial_data(self, head: int = 0) -> InitialData:
        """HJ initial data of head ``head`` in the feature space of the last hidden layer."""
        if isinstance(head, bool) or not isinstance(head, numbers.Integral) or not 0 <= head < self.out_features:
            raise InputError(f"head: expected an integer in [0, {self.out_features}), received {head!r}")
        return self.heads[head].initial_data()

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, hidden={self.hidden}, width={self.width}, "
                f"out_features={self.out_features}, residual={self.residual}")
