"""Resolve ``layer_or_params`` into ``(W, b, eps)`` and form the logits (validated once here).

Accepted forms (duck typing, so that any LSE module works):

* an object with attributes ``weight`` ``(N, d)``, ``bias`` ``(N,)`` and ``eps`` (a number or a
  0-d tensor), e.g. :class:`hjdl.nn.LSELayer`;
* a tuple ``(W, b, eps)``;
* a per-class head: the same with ``W`` of shape ``(C, N, d)`` and ``b`` of shape ``(C, N)``
  (class ``c`` has its own ``N`` neurons; its score is ``LSE_eps(W_c x + b_c)``).
"""

from __future__ import annotations

import torch

from .._validation import as_tensor, check_eps, check_finite, check_points, common
from ..errors import InputError, ShapeError


def resolve_params(layer_or_params, name: str = "layer_or_params"):
    """``(W, b, eps, mode)``: ``W`` (N, d) or (C, N, d), ``b`` (N,) or (C, N), eps a 0-d tensor."""
    if isinstance(layer_or_params, (tuple, list)):
        if len(layer_or_params) != 3:
            raise InputError(
                f"{name}: expected a (W, b, eps) triple, received a sequence of length "
                f"{len(layer_or_params)}; accepted: an object with .weight, .bias, .eps "
                "(e.g. hjdl.nn.LSELayer) or a tuple (W, b, eps)")
        W, b, eps = layer_or_params
    elif all(hasattr(layer_or_params, a) for a in ("weight", "bias", "eps")):
        W, b, eps = layer_or_params.weight, layer_or_params.bias, layer_or_params.eps
    else:
        raise InputError(
            f"{name}: expected an LSE layer (an object with .weight, .bias and .eps) or a tuple "
            f"(W, b, eps), received {type(layer_or_params).__name__}")
    Wt, bt = as_tensor(W, "W"), as_tensor(b, "b")
    Wt, bt = common(Wt, bt, names=("W", "b"))
    if Wt.ndim not in (2, 3) or Wt.shape[-2] == 0:
        raise ShapeError(
            f"W: expected shape (N, d) (a layer) or (C, N, d) (a per-class head) with N >= 1, "
            f"received shape {tuple(Wt.shape)}")
    if tuple(bt.shape) != tuple(Wt.shape[:-1]):
        raise ShapeError(
            f"b: expected shape {tuple(Wt.shape[:-1])} to match W of shape {tuple(Wt.shape)}, "
            f"received shape {tuple(bt.shape)}")
    check_finite(Wt, "W")
    check_finite(bt, "b")
    if isinstance(eps, torch.Tensor) and eps.numel() == 1:
        eps = eps.reshape(())
    e, mode = check_eps(eps, like=Wt)
    if e.ndim:
        raise ShapeError(f"eps: expected a single temperature, received shape {tuple(e.shape)}")
    return Wt, bt, e, mode


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
