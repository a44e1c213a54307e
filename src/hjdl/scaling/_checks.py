"""Input checks shared by :mod:`hjdl.scaling` (NumPy arrays in, clear hjdl errors out)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import DomainError, InputError, NonFiniteError, ShapeError


def as_array(value, name: str, ndim: int | None = None) -> np.ndarray:
    """A float64 NumPy array from an array-like or tensor, finite, of ``ndim`` dimensions."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected an array of real numbers, received {type(value).__name__}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{name}: expected a {ndim}-D array, received shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise NonFiniteError(f"{name}: contains NaN or infinite entries; accepted: finite numbers only")
    return arr


def positive(value, name: str, *, integer: bool = False, minimum: float = 0.0) -> float:
    ok_type = isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value <= minimum:
        kind = "an integer" if integer else "a finite number"
        raise DomainError(f"{name}: expected {kind} > {minimum:g}, received {value!r}")
    return value
