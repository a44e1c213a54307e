"""Numbers and values made fit for a report and for JSON: :func:`format_number`, :func:`jsonable`.

>>> format_number(0.000123456), jsonable({"a": (1, 2.5)})
('1.23e-04', {'a': [1, 2.5]})
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from pathlib import PurePath
from typing import Any, Callable, Mapping

__all__ = ["format_number", "jsonable"]


# --------------------------------------------------------------------------------------------
# conversion helpers
# --------------------------------------------------------------------------------------------
def _unwrap_scalar(x: Any) -> Any:
    """Return a Python scalar for a NumPy / torch scalar (0-d), else ``x`` unchanged."""
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    item = getattr(x, "item", None)
    shape = getattr(x, "shape", None)
    if callable(item) and shape is not None and tuple(shape) == ():
        return item()
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x)
    return x


def jsonable(obj: Any, *, finite: bool = True) -> Any:
    """Convert ``obj`` to something :func:`json.dumps` accepts with ``allow_nan=False``.

    NumPy / torch scalars become Python numbers, arrays and tensors become (nested) lists,
    tuples and sets become lists, dataclasses become dicts, paths become strings, mapping keys
    become strings. ``NaN`` becomes ``None`` (JSON ``null``); ``±inf`` become the strings
    ``"inf"`` / ``"-inf"`` (strict JSON has no infinity). Anything else becomes ``str(obj)``.
    With ``finite=False`` NaN and ``±inf`` stay floats (for ``json.dumps(..., allow_nan=True)``,
    which Python's ``json`` reads back exactly: the lossless form of stored unit payloads).

    >>> jsonable({"a": (1, float("nan")), 2: float("inf")})
    {'a': [1, None], '2': 'inf'}
    >>> jsonable([float("nan"), float("-inf")], finite=False)
    [nan, -inf]
    """
    if not finite:
        return _jsonable_lossless(obj)
    obj = _unwrap_scalar(obj)
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, complex):
        return {"real": jsonable(obj.real), "imag": jsonable(obj.imag)}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        to_json = getattr(obj, "to_json_dict", None)
        if callable(to_json):
            return to_json()
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, PurePath):
        return str(obj)
    # torch tensors (duck-typed: no torch import here)
    if hasattr(obj, "detach") and hasattr(obj, "cpu") and hasattr(obj, "tolist"):
        return jsonable(obj.detach().cpu().tolist())
    # NumPy arrays and anything array-like with tolist()
    if hasattr(obj, "tolist") and hasattr(obj, "shape"):
        return jsonable(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [jsonable(v) for v in sorted(obj, key=repr)]
    return str(obj)


def _jsonable_lossless(obj: Any) -> Any:
    """:func:`jsonable` that keeps NaN and ``±inf`` as floats."""
    obj = _unwrap_scalar(obj)
    if isinstance(obj, float):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _jsonable_lossless(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        to_json = getattr(obj, "to_json_dict", None)
        if callable(to_json):
            try:
                return to_json(finite=False)
            except TypeError:
                return _jsonable_lossless(to_json())
        return {f.name: _jsonable_lossless(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "detach") and hasattr(obj, "cpu") and hasattr(obj, "tolist"):
        return _jsonable_lossless(obj.detach().cpu().tolist())
    if hasattr(obj, "tolist") and hasattr(obj, "shape"):
        return _jsonable_lossless(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [_jsonable_lossless(v) for v in obj]
    return jsonable(obj)


def format_number(x: Any, spec: str | Callable[[Any], str] | None = None) -> str:
    """Format one table cell compactly.

    Integers print in full; floats with ``1e-3 <= |x| < 1e5`` use ``{:.4g}``, others (tiny or
    huge) use ``{:.2e}``; ``0`` prints ``0``; NaN/inf print ``nan`` / ``inf`` / ``-inf``;
    ``None`` prints an empty cell; strings pass through; arrays print as lists. ``spec``
    overrides the float format: a format spec (``".3e"``) or a callable.

    >>> format_number(0.123456), format_number(1.5e-12), format_number(42), format_number(0.0)
    ('0.1235', '1.50e-12', '42', '0')
    """
    x = _unwrap_scalar(x)
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if callable(spec):
            return str(spec(x))
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if spec is not None:
            return format(x, spec)
        if x == 0.0:
            return "0"
        if 1e-3 <= abs(x) < 1e5:
            return f"{x:.4g}"
        return f"{x:.2e}"
    if hasattr(x, "tolist") or isinstance(x, (list, tuple)):
        values = x.tolist() if hasattr(x, "tolist") else x
        if isinstance(values, list):
            return "[" + ", ".join(format_number(v, spec) for v in values) + "]"
        return format_number(values, spec)
    return str(x)


def _is_number(x: Any) -> bool:
    x = _unwrap_scalar(x)
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")
