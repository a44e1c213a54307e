"""Input checks shared by :mod:`hjdl.scaling` (NumPy arrays in, clear hjdl errors out)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import DomainError, InputError, NonFiniteError, ShapeError


def as_array(value, name: str, ndim: int | None = None) -> np.ndarray:
    """A float64 NumPy array from an array-like or tensor, finite, of ``ndim`` dimensions."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().resolve_conj().numpy()
    try:
        raw = np.asarray(value)
        if raw.dtype.kind == "c":
            raise InputError(f"{name}: expected real numbers, received complex values (dtype {raw.dtype}); "
                             "pass the real part, or real and imaginary parts as separate entries")
        if raw.dtype.kind == "O" and all(isinstance(v, numbers.Real) for v in raw.flat):
            raw = np.asarray(raw, dtype=np.float64)  # e.g. Python integers beyond int64
        if raw.dtype.kind not in "fiub":
            raise InputError(f"{name}: expected an array of real numbers, received {type(value).__name__} "
                             f"(dtype {raw.dtype})")
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as err:
        if isinstance(err, InputError):
            raise
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
