"""``LSELayer`` and ``MaxAffine``: thin ``nn.Module`` shells over :func:`hjdl.lse_layer` (THEORY §2).

An LSE layer ``f(x) = LSE_eps(W x + b)`` is the Hopf–Cole solution of the viscous HJ equation
whose initial data (atoms ``y_j = 2t W_j``, values ``g_j = −b_j − t|W_j|²``) are its weights (T3).
Training moves ``(W, b)`` and so chooses a new initial-value problem at every step;
:meth:`LSELayer.initial_data` reads the current one off. ``eps = 0`` is the max-affine (tropical)
network, :class:`MaxAffine`.

A single LSE layer is a *convex* function of ``x`` (a log-sum-exp of affine maps), so it can only
fit convex targets; non-convex targets need depth or several heads (:class:`hjdl.nn.LSENetwork`).
"""

from __future__ import annotations


import torch
from torch import nn

from .._validation import as_tensor, check_finite, check_matrix_rows, check_vector, common
from ..core import InitialData, entropy, from_initial_data, layer_weights, lse_layer, to_initial_data
from ..errors import InputError
from ._temperature import TemperedAffine, check_features, check_t, init_affine, module_input

__all__ = ["LSELayer", "MaxAffine"]


class LSELayer(TemperedAffine):
    r"""``f(x) = LSE_eps(x Wᵀ + b) = eps log Σ_j exp((W_j·x + b_j)/eps)`` (THEORY §2, T3).

    Args:
        in_features: input dimension ``d``.
        width: number of neurons / atoms ``N``.
        eps: temperature ``>= 0`` (0 = max-affine network). With ``learn_eps=True`` it must be
            ``> 0`` and is learned as ``eps = exp(log_eps)`` (positive by parametrisation).
        t: HJ time used by :meth:`initial_data` (a gauge; every ``t > 0`` is exact).
        learn_eps: make eps a parameter.
        generator: optional ``torch.Generator`` for the initialisation (deterministic init).

    Attributes:
        weight: ``(N, d)`` parameter ``W``.
        bias: ``(N,)`` parameter ``b``.
        eps: the temperature as a 0-d tensor (assignable: ``layer.eps = 0.1``).

    Shapes: ``forward`` maps ``(..., d)`` to ``(...)``. The output is convex in ``x``.

    Example:
        >>> import torch, hjdl
        >>> from hjdl.nn import LSELayer
        >>> layer = LSELayer(2, 5, eps=0.1, generator=torch.Generator().manual_seed(0))
        >>> x = torch.randn(4, 2, generator=torch.Generator().manual_seed(1))
        >>> bool(torch.equal(layer(x), hjdl.lse_layer(x, layer.weight, layer.bias, 0.1)))
        True
        >>> layer.initial_data().y.shape   # atoms y_j = 2t W_j
        torch.Size([5, 2])
    """

    def __init__(self, in_features: int, width: int, eps=1.0, t: float = 1.0, learn_eps: bool = False,
                 *, dtype: torch.dtype | None = None, device=None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_features = check_features(in_features, "in_features")
        self.width = check_features(width, "width")
        self.t = check_t(t)
        self.learn_eps = bool(learn_eps)
        self._init_affine(self.width, self.in_features, eps, self.learn_eps, dtype=dtype, device=device,
                          generator=generator)

    # -- evaluation ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``LSE_eps(x Wᵀ + b)``: ``(..., d) → (...)`` via :func:`hjdl.lse_layer`."""
        return lse_layer(self._input(x), self.weight, self.bias, self.eps)

    def _input(self, x) -> torch.Tensor:
        return module_input(x, "x", self.in_features, self.weight, f"LSELayer(in_features={self.in_features})")

    def gibbs(self, x: torch.Tensor) -> torch.Tensor:
        """Gibbs weights ``π(x) = softmax((x Wᵀ + b)/eps)``: ``(..., d) → (..., N)`` (THEORY §4)."""
        return layer_weights(self._input(x), self.weight, self.bias, self.eps)

    def entropy(self, x: torch.Tensor) -> torch.Tensor:
        """Entropy ``H(π(x)) ∈ [0, log N]`` of the Gibbs weights: ``(..., d) → (...)`` (THEORY §4)."""
        return entropy(self.gibbs(x))

    # -- the initial-value problem ---------------------------------------------------------
    def initial_data(self, t: float | None = None) -> InitialData:
        """The HJ initial data ``(y_j, g_j)`` of the current weights at time ``t`` (default ``self.t``).

        ``y_j = 2t W_j``, ``g_j = −b_j − t|W_j|²`` (THEORY §2); detached from the graph.
        """
        tt = self.t if t is None else check_t(t)
        return to_initial_data(self.weight.detach(), self.bias.detach(), t=tt)

    @classmethod
    def from_initial_data(cls, data: InitialData, eps=1.0, t: float = 1.0,
                          learn_eps: bool = False) -> "LSELayer":
        """The layer whose Hopf–Cole problem at time ``t`` is ``data`` (isotropic ``A = I`` only).

        ``W_j = y_j/(2t)``, ``b_j = −g_j − |y_j|²/(4t)``; inverse of :meth:`initial_data`.
        """
        if not isinstance(data, InitialData):
            raise InputError(f"data: expected an hjdl.InitialData, received {type(data).__name__}")
        if not data.isotropic:
            raise InputError("data: LSELayer encodes isotropic initial data (A = I); received an "
                             "anisotropic metric A. Use hjdl.from_initial_data(data, t) for (W, b).")
        W, b = from_initial_data(data, t=check_t(t))
        layer = cls(data.dim, data.n_atoms, eps=eps, t=t, learn_eps=learn_eps,
                    dtype=data.dtype, device=data.device)
        with torch.no_grad():
            layer.weight.copy_(W)
            layer.bias.copy_(b)
        return layer

    def tropical(self) -> "MaxAffine":
        """The exact ``eps = 0`` network with the same weights: ``max_j (W_j·x + b_j)`` (T1, T4).

        ``0 <= self(x) − self.tropical()(x) <= eps log N`` for every ``x`` (T1).
        """
        return MaxAffine.from_weights(self.weight.detach(), self.bias.detach(), t=self.t)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, width={self.width}, eps={float(self.eps.detach()):.4g}, "
                f"t={self.t:g}, learn_eps={self.learn_eps}")


class MaxAffine(nn.Module):
    r"""The max-affine (tropical, ``eps = 0``) layer ``f_0(x) = max_j (W_j·x + b_j)`` (T1, T4).

    Evaluated by :func:`hjdl.lse_layer` with ``eps = 0`` (a true ``max``; gradients go to the
    arg-max neuron, shared equally among ties). Equals ``|x|²/(4t) − u_0(x, t)`` with the
    Hopf–Lax value ``u_0`` of :meth:`initial_data`.

    Example:
        >>> import torch
        >>> from hjdl.nn import MaxAffine
        >>> m = MaxAffine.from_weights(torch.tensor([[1.0], [-1.0]]), torch.zeros(2))
        >>> m(torch.tensor([[-3.0], [2.0]])).detach()   # |x|
        tensor([3., 2.])
    """

    def __init__(self, in_features: int, width: int, t: float = 1.0, *, dtype=None, device=None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_features = check_features(in_features, "in_features")
        self.width = check_features(width, "width")
        self.t = check_t(t)
        init_affine(self, self.width, self.in_features, dtype=dtype, device=device, generator=generator)

    @classmethod
    def from_weights(cls, weight: torch.Tensor, bias: torch.Tensor, t: float = 1.0) -> "MaxAffine":
        """A max-affine layer holding copies of ``weight`` (N, d) and ``bias`` (N,) (finite; the
        layer takes their common floating dtype)."""
        W = check_matrix_rows(as_tensor(weight, "weight"), "weight")
        b = as_tensor(bias, "bias", device=W.device)
        W, b = common(W, b, names=("weight", "bias"))
        check_vector(b, W.shape[0], "bias", f"the {W.shape[0]} rows of weight")
        check_finite(W, "weight")
        check_finite(b, "bias")
        if W.shape[1] == 0:
            raise InputError(f"weight: expected at least one input dimension, received shape {tuple(W.shape)}")
        module = cls(W.shape[1], W.shape[0], t=t, dtype=W.dtype, device=W.device)
        with torch.no_grad():
            module.weight.copy_(W)
            module.bias.copy_(b)
        return module

    @property
    def eps(self) -> torch.Tensor:
        """Always 0 (the tropical limit)."""
        return self.weight.new_zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``max_j (W_j·x + b_j)``: ``(..., d) → (...)``."""
        return lse_layer(self._input(x), self.weight, self.bias, 0.0)

    def _input(self, x) -> torch.Tensor:
        return module_input(x, "x", self.in_features, self.weight, f"MaxAffine(in_features={self.in_features})")

    def gibbs(self, x: torch.Tensor) -> torch.Tensor:
        """Arg-max indicator weights (ties shared equally): ``(..., N)``."""
        return layer_weights(self._input(x), self.weight, self.bias, 0.0)

    def initial_data(self, t: float | None = None) -> InitialData:
        """Hopf–Lax initial data ``(y_j, g_j)`` at time ``t`` (default ``self.t``)."""
        tt = self.t if t is None else check_t(t)
        return to_initial_data(self.weight.detach(), self.bias.detach(), t=tt)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, width={self.width}, t={self.t:g}"
