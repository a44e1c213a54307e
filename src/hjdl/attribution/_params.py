"""Resolve the model of an attribution function into ``(W, b, eps)`` and form the logits.

The accepted forms are decided in one place, :func:`hjdl._models.as_model` (an ``LSELayer``, a
``(W, b, eps)`` triple, per-class heads, an ``LSENetwork`` without hidden layers, a fitted
``HJRegressor`` / ``HJClassifier``); attribution reads the Gibbs weights of one LSE layer per output,
so a network with hidden layers is refused (:func:`hjdl._models.lse_heads` says how to attribute its
output heads in feature space instead).
"""

from __future__ import annotations

import torch

from .._models import eps_column, layer_params
from .._validation import as_tensor, check_finite, check_points, common

_PURPOSE = "attribution reads the Gibbs weights of one LSE layer (per class)"


def resolve_params(model, name: str = "model"):
    """``(W, b, eps, mode)``: ``W`` (N, d) or (C, N, d), ``b`` (N,) or (C, N); ``eps`` a 0-d tensor,
    or ``(C,)`` when per-class heads have different temperatures."""
    return layer_params(model, name, _PURPOSE)


def prepare_points(x, W: torch.Tensor, name: str = "x"):
    """``x`` as a tensor of ``W``'s dtype, shape ``(..., d)``, finite."""
    xt = as_tensor(x, name)
    xt, W2 = common(xt, W, names=(name, "W"))
    check_points(xt, W2.shape[-1], name, "W")
    check_finite(xt, name)
    return xt, W2


def logits(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``z = W x + b``: ``(..., N)`` for a layer, ``(..., C, N)`` for a per-class head."""
    if W.ndim == 2:
        return x @ W.T + b
    return torch.einsum("...d,cnd->...cn", x, W) + b


__all__ = ["resolve_params", "prepare_points", "logits", "eps_column"]
