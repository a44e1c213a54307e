"""Points and small argument checks of ``hjdl.robustness``; the model forms live in ``hjdl._models``.

What counts as a model (``(W, b, eps)``, per-class heads, ``hjdl.nn`` modules, fitted estimators,
any differentiable module) is decided in one place, :func:`hjdl._models.as_model`; it is re-exported
here for the modules of this package.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

from .._models import GenericModel, LSEHeads, as_model, label_classes, labels_to_heads, model_and_labels
from .._validation import as_tensor, check_finite, check_points, common
from ..errors import InputError, ShapeError

__all__ = ["LSEHeads", "GenericModel", "as_model", "model_and_labels", "label_classes", "labels_to_heads",
           "prepare_points", "check_positive_int", "check_nonneg_real"]


# ----------------------------------------------------------------------------------------------
# points


def prepare_points(x: Any, model: LSEHeads | GenericModel, name: str = "x"
                   ) -> tuple[torch.Tensor, bool, LSEHeads | GenericModel]:
    """Validate ``x`` (``(d,)`` or ``(B, d)``, finite, non-empty).

    LSE heads and ``x`` are brought to their promoted dtype (a float32 layer with float64 points
    computes in float64; half precision computes in float32); a generic module keeps its own
    dtype and ``x`` is cast to it. Returns
    the ``(B, d)`` tensor, whether a single point was given (to squeeze outputs) and the model.
    """
    xt = as_tensor(x, name)
    if isinstance(model, LSEHeads):
        xt, _ = common(xt, model.W, names=(name, "W"))
        if xt.dtype in (torch.float16, torch.bfloat16):  # no half-precision linear algebra
            xt = xt.float()
        model = model.to(xt.dtype)
        check_points(xt, model.dim, name, "W")
    elif model.dtype is not None and xt.dtype != model.dtype:
        xt = xt.to(model.dtype)
    if xt.ndim == 1:
        squeeze, xt = True, xt[None]
    elif xt.ndim == 2:
        squeeze = False
    else:
        raise ShapeError(f"{name}: expected one point (d,) or a batch (B, d), received shape "
                         f"{tuple(xt.shape)}")
    if xt.shape[0] == 0:
        raise ShapeError(f"{name}: received an empty batch (shape {tuple(xt.shape)}); pass at "
                         "least one point")
    check_finite(xt, name)
    return xt, squeeze, model


def check_positive_int(value, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum \
            or (maximum is not None and value > maximum):
        accepted = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise InputError(f"{name}: expected an integer {accepted}, received {value!r}")
    return int(value)


def check_nonneg_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0 \
            or value == float("inf"):
        raise InputError(f"{name}: expected a finite real number >= 0, received {value!r}")
    return float(value)
