"""The one place where public inputs are checked and converted (STYLE.md practice 4).

Conventions
-----------
* torch tensors are used as they are (floating dtypes only; integer tensors are promoted to
  float64); NumPy arrays become tensors of their own dtype; Python numbers and nested lists
  become float64.
* Several tensor arguments are brought to one common floating dtype (``torch.promote_types``)
  and must live on one device.
* ``eps`` is a non-negative finite number, or a tensor of such numbers that broadcasts against
  the output. ``eps == 0`` is the exact tropical limit.

Internals (everything below the public functions) trust their inputs.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from .errors import (
    DomainError,
    EpsilonError,
    InputError,
    NonFiniteError,
    NotPositiveDefiniteError,
    ShapeError,
    UnknownNameError,
)

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

# How an eps tensor's entries split between the tropical branch and the viscous branch.
EPS_ZERO, EPS_POSITIVE, EPS_MIXED = "zero", "positive", "mixed"


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 6:
            return f"tensor {value.tolist()!r} (dtype {value.dtype})"
        return f"tensor of shape {tuple(value.shape)} (dtype {value.dtype})"
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} (dtype {value.dtype})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def as_tensor(value: Any, name: str, *, dtype: torch.dtype | None = None,
              device: torch.device | None = None) -> torch.Tensor:
    """Convert an array-like to a floating tensor, or raise :class:`InputError` naming ``name``."""
    if isinstance(value, torch.Tensor):
        t = value
    elif isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise InputError(
                f"{name}: expected a real numeric array, received {_describe(value)}; "
                "accepted: torch tensors, NumPy arrays or nested lists of real numbers")
        if value.dtype.kind == "f" and value.dtype.itemsize > 8:  # long double: no torch dtype
            value = value.astype(np.float64)
        # ascontiguousarray makes a 0-d array 1-d: keep the array's own shape
        t = torch.from_numpy(np.ascontiguousarray(value)).reshape(value.shape)
    elif isinstance(value, bool):
        raise InputError(f"{name}: expected a number or array, received the boolean {value!r}")
    elif value is None:  # np.asarray(None, float64) is NaN: say what was received instead
        raise InputError(
            f"{name}: expected a tensor, NumPy array, number or nested list of numbers, received None")
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(
                f"{name}: expected a tensor, NumPy array, number or nested list of numbers, "
                f"received {_describe(value)}") from None
        t = torch.from_numpy(arr)
    if t.is_complex():
        raise InputError(f"{name}: complex values are not accepted, received {_describe(t)}")
    if t.dtype not in _FLOATS:
        t = t.to(torch.float64)
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if device is not None and t.device != device:
        t = t.to(device)
    return t


def common(*tensors: torch.Tensor, names: tuple[str, ...]) -> tuple[torch.Tensor, ...]:
    """Bring tensors to one floating dtype; all must share a device."""
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        listing = ", ".join(f"{n} on {t.device}" for n, t in zip(names, tensors))
        raise InputError(f"arguments live on different devices ({listing}); move them to one device")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return tuple(t if t.dtype == dtype else t.to(dtype) for t in tensors)


def check_choice(value: Any, known, name: str, what: str) -> str:
    """``value`` if it is one of the names ``known``, else :class:`~hjdl.errors.UnknownNameError`
    naming the argument, what it selects, the value received and the accepted names."""
    if not isinstance(value, str) or value not in known:
        raise UnknownNameError(f"{name}: unknown {what} {value!r}; known: {', '.join(known)}")
    return value


def check_int(value: Any, name: str, minimum: int = 0, maximum: int | None = None, hint: str = "") -> int:
    """``value`` as an ``int`` (Python or NumPy integer, never a bool) in ``[minimum, maximum]``,
    else :class:`InputError` naming ``name``, the value received and the accepted range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum \
            or (maximum is not None and value > maximum):
        accepted = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise InputError(f"{name}: expected an integer {accepted}, received {_describe(value)}"
                         + (f"; {hint}" if hint else ""))
    return int(value)


def check_real(value: Any, name: str, *, low: float = -math.inf, high: float = math.inf,
               low_open: bool = False, high_open: bool = False, hint: str = "") -> float:
    """``value`` as a finite ``float`` (a real number, never a bool) in the interval from ``low``
    to ``high`` (each end open or closed), else :class:`InputError` naming ``name``."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        interval = (f"{'(' if low_open or low == -math.inf else '['}{low:g}, "
                    f"{high:g}{')' if high_open or high == math.inf else ']'}")
        raise InputError(f"{name}: expected a finite real number in {interval}, received "
                         f"{_describe(value)}" + (f"; {hint}" if hint else ""))
    return float(value)


def check_finite(t: torch.Tensor, name: str) -> torch.Tensor:
    if not bool(torch.isfinite(t).all()):
        bad = (~torch.isfinite(t)).nonzero()
        first = tuple(bad[0].tolist()) if bad.numel() else ()
        raise NonFiniteError(
            f"{name}: contains NaN or infinite entries (first at index {first}, value "
            f"{t[first].item() if first else t.item()}); accepted: finite numbers only")
    return t


def check_no_nan(t: torch.Tensor, name: str, allow_pos_inf: bool = False) -> torch.Tensor:
    if bool(torch.isnan(t).any()):
        raise NonFiniteError(f"{name}: contains NaN entries; accepted: real numbers or -inf (masked)")
    if not allow_pos_inf and bool(torch.isposinf(t).any()):
        raise NonFiniteError(f"{name}: contains +inf entries; accepted: finite numbers or -inf (masked)")
    return t


# The dtype eps is widened to when it is not a normal number of the input's dtype (check_eps).
_WIDER = {torch.float16: torch.float32, torch.bfloat16: torch.float32, torch.float32: torch.float64}


def _eps_dtype(eps: torch.Tensor | float, dtype: torch.dtype) -> torch.dtype:
    """The narrowest of ``dtype``, float32, float64 in which every non-zero value of ``eps``
    (finite, ``>= 0``) converts to a finite normal number (float64 is the last resort)."""
    while dtype in _WIDER:
        info = torch.finfo(dtype)
        if isinstance(eps, float):
            if eps == 0 or info.tiny <= eps <= info.max:
                return dtype
        else:
            v = eps.detach().to(dtype)
            if bool(torch.where(eps > 0, torch.isfinite(v) & (v >= info.tiny), True).all()):
                return dtype
        dtype = _WIDER[dtype]
    return dtype


def check_eps(eps: Any, *, like: torch.Tensor, name: str = "eps") -> tuple[torch.Tensor, str]:
    """Return ``eps`` as a tensor on ``like``'s device, and its branch mode.

    The tensor has ``like``'s dtype, unless a non-zero value of eps is not a finite normal
    number of that dtype (it would round to 0, lose digits as a subnormal, or overflow: 1e-12 or
    1e12 in float16, 1e-40 in float32): then it has the narrowest wider dtype (float32, else
    float64) that holds every value, and the kernel computes in that dtype and returns ``like``'s
    (see :func:`hjdl.core.kernel._lse`). The mode (``EPS_ZERO``, ``EPS_POSITIVE``, ``EPS_MIXED``)
    is decided on the returned values. A 0-d array gives a 0-d tensor, like a number.
    """
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (numbers.Real, torch.Tensor, np.ndarray)) \
            or (isinstance(eps, (torch.Tensor, np.ndarray)) and eps.dtype in (torch.bool, np.bool_)):
        raise EpsilonError(
            f"{name}: expected a non-negative real number (or a tensor of them), received "
            f"{_describe(eps)}; eps = 0 is the tropical limit, eps > 0 the viscosity")
    if isinstance(eps, numbers.Real):
        value = float(eps)
        if math.isnan(value) or value < 0 or math.isinf(value):
            raise EpsilonError(
                f"{name}: expected a finite number >= 0, received {eps!r}; eps = 0 is the "
                "tropical (max-plus) limit, eps > 0 the viscosity / temperature")
        t = torch.tensor(value, dtype=_eps_dtype(value, like.dtype), device=like.device)
        return t, (EPS_ZERO if value == 0 else EPS_POSITIVE)
    if isinstance(eps, np.ndarray) and eps.dtype.kind == "f" and eps.dtype.itemsize > 8:
        eps = eps.astype(np.float64)  # long double: torch has no such dtype
    t = as_tensor(eps, name)
    if isinstance(eps, np.ndarray):
        t = t.reshape(eps.shape)  # a 0-d array stays 0-d
    if t.device != like.device:
        t = t.to(like.device)
    if t.numel() == 0:
        raise EpsilonError(f"{name}: received an empty tensor; expected at least one value")
    if bool(torch.isnan(t).any()) or bool((t < 0).any()) or bool(torch.isinf(t).any()):
        raise EpsilonError(
            f"{name}: expected finite values >= 0, received {_describe(t)}; eps = 0 is the "
            "tropical limit, eps > 0 the viscosity")
    dtype = _eps_dtype(t, like.dtype)
    if t.dtype != dtype:
        t = t.to(dtype)
    if bool((t > 0).all()):
        mode = EPS_POSITIVE
    elif bool((t == 0).all()):
        mode = EPS_ZERO
    else:
        mode = EPS_MIXED
    return t, mode


def check_time(t: Any, *, like: torch.Tensor, name: str = "t") -> torch.Tensor:
    """HJ time: a finite number > 0 (or a tensor of them)."""
    if isinstance(t, bool) or not isinstance(t, (numbers.Real, torch.Tensor, np.ndarray)):
        raise DomainError(f"{name}: expected a positive real number, received {_describe(t)}")
    tt = as_tensor(t, name, dtype=like.dtype, device=like.device)
    if tt.numel() == 0 or not bool(torch.isfinite(tt).all()) or not bool((tt > 0).all()):
        raise DomainError(
            f"{name}: expected a finite HJ time > 0, received {_describe(t)}; "
            "t is a gauge: every t > 0 gives an exact correspondence (default 1.0)")
    return tt


def check_dim(dim: Any, ndim: int, name: str = "dim") -> int:
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise InputError(f"{name}: expected an integer axis, received {_describe(dim)}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ShapeError(f"{name}: axis {dim} is out of range for a tensor with {ndim} dimension(s)")
    return int(dim) % max(ndim, 1)


def check_matrix_rows(W: torch.Tensor, name: str = "W") -> torch.Tensor:
    if W.ndim != 2:
        raise ShapeError(f"{name}: expected a 2-D (N, d) matrix, received shape {tuple(W.shape)}")
    if W.shape[0] == 0:
        raise ShapeError(f"{name}: expected at least one row (neuron / atom), received shape {tuple(W.shape)}")
    return W


def check_vector(b: torch.Tensor, n: int, name: str, other: str) -> torch.Tensor:
    if b.ndim != 1 or b.shape[0] != n:
        raise ShapeError(
            f"{name}: expected shape ({n},) to match {other}, received shape {tuple(b.shape)}")
    return b


def check_points(x: torch.Tensor, d: int, name: str = "x", other: str = "W") -> torch.Tensor:
    if x.ndim == 0 or x.shape[-1] != d:
        raise ShapeError(
            f"{name}: expected shape (..., {d}) (last axis = input dimension of {other}), "
            f"received shape {tuple(x.shape)}")
    return x


def check_spd(A: torch.Tensor, d: int, name: str = "A") -> torch.Tensor:
    if A.shape != (d, d):
        raise ShapeError(f"{name}: expected a ({d}, {d}) matrix, received shape {tuple(A.shape)}")
    check_finite(A, name)
    scale = float(A.abs().max()) if A.numel() else 0.0
    tol = 100 * torch.finfo(A.dtype).eps * max(scale, 1.0)
    asym = float((A - A.T).abs().max())
    if asym > tol:
        raise NotPositiveDefiniteError(
            f"{name}: expected a symmetric positive definite matrix, received one with "
            f"max |A - A^T| = {asym:.3g}; symmetrise it, e.g. (A + A.T) / 2")
    _, info = torch.linalg.cholesky_ex(0.5 * (A + A.T))
    if int(info) != 0:
        eig_min = float(torch.linalg.eigvalsh(0.5 * (A + A.T)).min())
        raise NotPositiveDefiniteError(
            f"{name}: expected a symmetric positive definite matrix, received one with "
            f"smallest eigenvalue {eig_min:.3g}; accepted: all eigenvalues > 0")
    return 0.5 * (A + A.T)


def check_layer(W: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """An LSE layer's weights ``W`` (N, d) and biases ``b`` (N,): tensors of one dtype, finite."""
    Wt = check_matrix_rows(as_tensor(W, "W"), "W")
    bt = as_tensor(b, "b")
    Wt, bt = common(Wt, bt, names=("W", "b"))
    check_vector(bt, Wt.shape[0], "b", f"the {Wt.shape[0]} rows of W")
    check_finite(Wt, "W")
    check_finite(bt, "b")
    return Wt, bt


_DTYPE_NAMES = {"float16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16,
                "float32": torch.float32, "float": torch.float32, "float64": torch.float64,
                "double": torch.float64}


def check_dtype(dtype: Any, name: str = "dtype") -> torch.dtype | None:
    """``None`` or a floating :class:`torch.dtype`; a string naming one (``"float32"``,
    ``"torch.float64"``) is converted. Integer, complex, boolean or unknown dtypes raise
    :class:`InputError` naming ``name`` and listing the accepted ones."""
    if dtype is None:
        return None
    value = dtype
    if isinstance(dtype, str):
        value = _DTYPE_NAMES.get(dtype.strip().removeprefix("torch."))
    elif isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        value = {np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32,
                 np.dtype(np.float64): torch.float64}.get(np.dtype(dtype))
    if not isinstance(value, torch.dtype) or value not in _FLOATS:
        raise InputError(
            f"{name}: expected a floating dtype, received {_describe(dtype)}; accepted: "
            "torch.float16, torch.bfloat16, torch.float32, torch.float64 (or their names, "
            "e.g. 'float32'), or None for the default")
    return value
