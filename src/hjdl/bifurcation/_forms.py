"""How the functions of ``hjdl.bifurcation`` take their model: one LSE layer, in any accepted form.

The landscape and its continuation are those of *one* LSE layer ``H(π(Wx + b; eps))`` (THEORY §5).
Every form of :mod:`hjdl._models` is accepted (an ``LSELayer``, ``(W, b, eps)``, per-class heads, an
``LSENetwork`` / fitted estimator without hidden layers); per-class heads pick one layer with
``head=`` (:func:`~hjdl.bifurcation.entropy_landscape` evaluates all heads when it is omitted). The
earlier call forms with bare arrays, ``entropy_landscape(x, W, b, eps)``,
``critical_points(W, b, eps, bounds)`` and ``continuation(W, b, eps_min, eps_max, bounds)``, keep
working: a bare array (or nested list of numbers) as first argument selects them.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from .._models import layer_params
from ..errors import InputError

PURPOSE = ("the entropy landscape and its critical points are those of one LSE layer "
           "H(softmax((Wx + b)/eps))")


def is_bare_array(obj: Any) -> bool:
    """True for a tensor, an ndarray or a (nested) list of numbers: the legacy first argument."""
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return True
    if isinstance(obj, (list, tuple)) and obj:
        try:
            arr = np.asarray(obj, dtype=float)
        except (TypeError, ValueError):
            return False
        return arr.ndim >= 1
    return False


def bind(func: str, args: tuple, given: dict, names: tuple[str, ...], form: str) -> dict:
    """Positional ``args`` onto ``names``; a name given both ways, or too many, is an InputError."""
    if len(args) > len(names):
        raise InputError(f"{func}: received {len(args) + 1} positional arguments; accepted: {form}")
    out = dict(given)
    for name, value in zip(names, args):
        if out.get(name) is not None:
            raise InputError(f"{name}: given both by position and by keyword to {func}; accepted: {form}")
        out[name] = value
    return out


def require(values: dict, names: tuple[str, ...], func: str, form: str) -> None:
    missing = [n for n in names if values.get(n) is None]
    if missing:
        raise InputError(f"{', '.join(missing)}: missing in the call to {func}; accepted: {form}")


def check_head(head: Any, n_heads: int) -> int:
    if isinstance(head, bool) or not isinstance(head, numbers.Integral) or not -n_heads <= head < n_heads:
        raise InputError(f"head: expected an integer in [0, {n_heads}) (the index of a per-class head, in "
                         f"the order of a classifier's classes_), received {head!r}")
    return int(head) % n_heads


def one_layer(model: Any, head: Any, func: str, need_one: bool = True):
    """``(W, b, eps)`` of one layer (``W`` ``(N, d)``; ``eps`` 0-d) from any accepted form, or
    for per-class heads with ``head=None`` and ``need_one=False`` the stacked ``(C, N, d)``,
    ``(C, N)``, eps 0-d or ``(C,)``."""
    W, b, eps, _ = layer_params(model, "model", PURPOSE)
    if W.ndim == 2:
        if head not in (None, 0):
            raise InputError(f"head: the model is a single LSE layer (no per-class heads), received "
                             f"head={head!r}; omit head")
        return W, b, eps
    C = W.shape[0]
    if head is None:
        if need_one and C > 1:
            raise InputError(f"head: the model has {C} per-class heads and {func} follows one LSE "
                             f"layer; pass head=k with k in [0, {C}) (a classifier's head k is "
                             "classes_[k])")
        if C == 1 or need_one:
            return W[0], b[0], eps[0] if eps.ndim else eps
        return W, b, eps
    k = check_head(head, C)
    return W[k], b[k], eps[k] if eps.ndim else eps
