"""One adapter: every model form the analysis functions accept, brought to one normal form.

``hjdl.attribution`` (:func:`~hjdl.attribution.attribute`, :func:`~hjdl.attribution.deletion_influence`,
:func:`~hjdl.attribution.hallucination_report`), ``hjdl.robustness`` (:func:`~hjdl.robustness.certify`,
:func:`~hjdl.robustness.curvature`, :func:`~hjdl.robustness.input_hessian`, ...) and
``hjdl.bifurcation`` (:func:`~hjdl.bifurcation.entropy_landscape`, :func:`~hjdl.bifurcation.continuation`,
:func:`~hjdl.bifurcation.critical_points`) all take their model through :func:`as_model`. Accepted:

* an :class:`hjdl.nn.LSELayer` (or ``MaxAffine``, or any object with ``weight``, ``bias``, ``eps``);
* a ``(W, b, eps)`` triple: ``W`` ``(N, d)``, ``b`` ``(N,)`` for one layer;
* per-class heads: the triple with ``W`` ``(C, N, d)``, ``b`` ``(C, N)`` and ``eps`` one number or
  ``(C,)``, or a list / ``nn.ModuleList`` of LSE layers (one per class);
* an :class:`hjdl.nn.LSENetwork` (its heads when it has no hidden layers);
* a fitted :class:`hjdl.training.HJRegressor` / :class:`hjdl.training.HJClassifier` (its ``network_``;
  a classifier's labels are read from ``classes_``).

Two normal forms come out:

* :class:`LSEHeads` — ``C`` heads ``f_c(x) = a_c LSE_{eps_c}(W_c x + b_c) + o_c`` sharing the input
  ``x`` (``single=True``: one LSE layer, outputs without a class axis). Everything closed form
  (THEORY §4–§6) is computed from it.
* :class:`GenericModel` — any other differentiable map ``(B, d) → (B,)`` or ``(B, C)`` (an
  ``LSENetwork`` with hidden layers, any ``torch.nn.Module``): only the robustness functions that
  need nothing but derivatives accept it. Functions whose mathematics is that of one LSE layer
  (attribution: the Gibbs weights of one layer; the entropy landscape and its continuation in
  eps) call :func:`lse_heads`, which refuses it with an :class:`~hjdl.errors.InputError` that says
  why and how to analyse the output heads in feature space instead.

This module also holds :class:`Record`, the small mixin that gives every result object of those
packages a compact ``repr``, a one-line :meth:`Record.summary` and :meth:`Record.to_frame`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields
from typing import Any, Callable

import numpy as np
import torch

from ._validation import EPS_POSITIVE, EPS_ZERO, as_tensor, check_eps, check_finite, common
from .core.kernel import _gibbs, _lse
from .errors import EpsilonError, HJError, InputError, NotFittedError, ShapeError

__all__ = ["LSEHeads", "GenericModel", "as_model", "lse_heads", "layer_params", "eps_column",
           "model_and_labels", "label_classes", "labels_to_heads", "ACCEPTED", "Record", "require_pandas"]

#: The accepted model forms, as every refusal lists them.
ACCEPTED = ("an hjdl.nn.LSELayer; a (W, b, eps) triple with W (N, d), b (N,); per-class heads: "
            "(W, b, eps) with W (C, N, d), b (C, N), eps one number or (C,), or a list of LSE layers; "
            "an hjdl.nn.LSENetwork; a fitted hjdl.training.HJRegressor / HJClassifier")


@dataclass(frozen=True)
class LSEHeads:
    r"""``C`` LSE heads ``f_c(x) = scale_c · LSE_{eps_c}(W_c x + b_c) + offset_c`` (THEORY §2, §6).

    Args:
        W: ``(C, N, d)`` rows; b: ``(C, N)``; eps: ``(C,)`` temperatures ``>= 0``;
        scale: ``(C,)`` output weights ``a_c`` (default 1); offset: ``(C,)`` (default 0).
        single: True when the model is one layer (outputs have no class axis).

    Build one with :func:`as_model` (it validates); the constructor trusts its inputs.

    Example:
        >>> import torch
        >>> m = as_model((torch.eye(2), torch.zeros(2), 0.5))
        >>> m.W.shape, m.single
        (torch.Size([1, 2, 2]), True)
    """

    W: torch.Tensor
    b: torch.Tensor
    eps: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor
    single: bool = True
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_classes(self) -> int:
        return self.W.shape[0]

    def to(self, dtype: torch.dtype) -> "LSEHeads":
        """The same heads with every tensor in ``dtype`` (self when it already is)."""
        if self.W.dtype == dtype:
            return self
        return LSEHeads(self.W.to(dtype), self.b.to(dtype), self.eps.to(dtype),
                        self.scale.to(dtype), self.offset.to(dtype), self.single)

    @property
    def dim(self) -> int:
        return self.W.shape[2]

    @property
    def dtype(self) -> torch.dtype:
        return self.W.dtype

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``z_cj = W_cj·x + b_cj``: ``(..., d) → (..., C, N)``."""
        return torch.einsum("...d,cnd->...cn", x, self.W) + self.b

    def _eps_col(self) -> tuple[torch.Tensor, str]:
        e = self.eps[:, None]
        if bool((e > 0).all()):
            return e, "positive"
        if bool((e == 0).all()):
            return e, "zero"
        return e, "mixed"

    def gibbs(self, x: torch.Tensor) -> torch.Tensor:
        """Gibbs weights ``π_c(x)``: ``(..., C, N)``, from logits less each head's common part
        ``W̄_c·x`` (``W̄_c`` the mean row; π does not see it), so that a large common offset of
        the rows costs no digits of π."""
        e, mode = self._eps_col()
        Wc = self.W - self.W.mean(1, keepdim=True)
        z = torch.einsum("...d,cnd->...cn", x, Wc)
        # z is a fresh tensor of the full shape that its backward does not read: b goes in place
        z = z.add_(self.b) if torch.result_type(z, self.b) == z.dtype else z + self.b
        return _gibbs(z, e, mode, -1)

    def lse(self, x: torch.Tensor) -> torch.Tensor:
        """``LSE_{eps_c}(W_c x + b_c)`` without scale and offset: ``(..., C)``."""
        e, mode = self._eps_col()
        return _lse(self.logits(x), e, mode, -1).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``f_c(x)``: ``(..., d) → (..., C)`` (the class axis is kept even when ``single``)."""
        return self.scale * self.lse(x) + self.offset

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """``∇f_c = a_c E_{π_c} W_c``: ``(..., C, d)`` (THEORY §4)."""
        return self.scale[:, None] * torch.einsum("...cn,cnd->...cd", self.gibbs(x), self.W)


@dataclass(frozen=True)
class GenericModel:
    """A differentiable map ``(B, d) → (B,)`` (``single``) or ``(B, C)``; no closed forms."""

    fn: Callable[[torch.Tensor], torch.Tensor]
    single: bool | None = None  # decided on first call from the output shape
    dtype: torch.dtype | None = None

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        try:
            return self.fn(x)
        except (RuntimeError, TypeError, ValueError) as exc:
            if isinstance(exc, HJError):
                raise
            raise ShapeError(f"x: the model could not be evaluated on points of shape "
                             f"{tuple(x.shape)} ({type(exc).__name__}: {str(exc)[:200]}); accepted: "
                             "points with as many coordinates as the model's input") from exc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs with a class axis: ``(B, d) → (B, C)`` (C = 1 for a scalar model)."""
        out = self._call(x)
        if not isinstance(out, torch.Tensor):
            raise InputError(f"model: calling it returned {type(out).__name__}; expected a tensor")
        if out.ndim == x.ndim - 1:
            return out[..., None]
        if out.ndim == x.ndim:
            return out
        raise ShapeError(f"model: for inputs of shape {tuple(x.shape)} it returned shape "
                         f"{tuple(out.shape)}; accepted: (B,) (regression) or (B, C) (classes)")

    def is_single(self, x: torch.Tensor) -> bool:
        if self.single is not None:
            return self.single
        with torch.no_grad():
            out = self._call(x[:1])
        return isinstance(out, torch.Tensor) and out.ndim == x.ndim - 1


# ----------------------------------------------------------------------------------------------
# conversion


def _eps_vector(eps: Any, C: int, like: torch.Tensor, where: str) -> torch.Tensor:
    if eps is None:
        raise EpsilonError(
            f"model: {where} has no eps (received None); an LSE model needs a temperature "
            "eps >= 0, e.g. pass (W, b, eps) or set layer.eps")
    if isinstance(eps, torch.Tensor):
        eps = eps.detach()
        if eps.numel() == 1:
            eps = eps.reshape(())
    e, _ = check_eps(eps, like=like, name="eps")
    if e.ndim == 0:
        return e.expand(C).clone()
    if e.shape != (C,):
        raise ShapeError(f"eps: expected one number or one per head, shape ({C},), received "
                         f"shape {tuple(e.shape)}")
    return e


def _from_arrays(W, b, eps, scale=1.0, offset=0.0, where="model") -> LSEHeads:
    Wt, bt = as_tensor(W, "W"), as_tensor(b, "b")
    Wt, bt = common(Wt, bt, names=("W", "b"))
    if Wt.ndim == 2:
        single = True
        Wt, bt = Wt[None], bt[None] if bt.ndim == 1 else bt
    elif Wt.ndim == 3:
        single = False
    else:
        raise ShapeError(f"W: expected shape (N, d) for one LSE layer or (C, N, d) for per-class "
                         f"heads, received shape {tuple(Wt.shape)}")
    C, N, d = Wt.shape
    if N == 0 or d == 0:
        raise ShapeError(f"W: expected at least one neuron and one input dimension, received "
                         f"shape {tuple(Wt.shape)}")
    if bt.shape != (C, N):
        want = f"({N},)" if single else f"({C}, {N})"
        raise ShapeError(f"b: expected shape {want} to match W of shape "
                         f"{tuple(Wt.shape[1:] if single else Wt.shape)}, received shape "
                         f"{tuple(bt.shape if not single else bt.shape[1:])}")
    check_finite(Wt, "W")
    check_finite(bt, "b")
    e = _eps_vector(eps, C, Wt, where)
    vals = []
    for v, name in ((scale, "scale"), (offset, "offset")):
        t = as_tensor(v.detach() if isinstance(v, torch.Tensor) else v, name, dtype=Wt.dtype,
                      device=Wt.device)
        if t.numel() == 1:
            t = t.reshape(()).expand(C).clone()
        if t.shape != (C,):
            raise ShapeError(f"{name}: expected one number or shape ({C},), received {tuple(t.shape)}")
        check_finite(t, name)
        vals.append(t)
    return LSEHeads(Wt.detach(), bt.detach(), e, vals[0], vals[1], single)


def _has_layer_attrs(obj) -> bool:
    return hasattr(obj, "weight") and hasattr(obj, "bias")


def as_model(model: Any, name: str = "model") -> LSEHeads | GenericModel:
    """Normalise ``model`` (see the module docstring) to :class:`LSEHeads` or :class:`GenericModel`.

    Raises :class:`~hjdl.errors.EpsilonError` for an LSE model without eps,
    :class:`~hjdl.errors.NotFittedError` for an unfitted estimator, and
    :class:`~hjdl.errors.InputError` for anything else it cannot use.

    Example:
        >>> import torch
        >>> m = as_model((torch.zeros(3, 4, 2), torch.zeros(3, 4), 1.0))   # 3 heads
        >>> m.n_classes, m.single
        (3, False)
    """
    if isinstance(model, (LSEHeads, GenericModel)):
        return model
    if isinstance(model, (tuple, list, torch.nn.ModuleList)):
        items = list(model)
        if items and all(_has_layer_attrs(h) for h in items):  # per-class heads: a list of layers
            return _from_heads(items, single=False, where=f"the list of {len(items)} layers")
        if isinstance(model, torch.nn.ModuleList):
            raise InputError(f"{name}: received a ModuleList whose entries are not all LSE layers "
                             f"(weight, bias, eps); accepted: {ACCEPTED}")
        if len(items) == 3:
            return _from_arrays(*items, where="the (W, b, eps) triple")
        if len(items) == 2:
            raise EpsilonError(
                f"{name}: received a 2-tuple (W, b) without eps; pass the triple (W, b, eps) with "
                "eps >= 0 (the LSE temperature)")
        raise InputError(f"{name}: received a {type(model).__name__} of length {len(items)}; "
                         f"accepted: {ACCEPTED}")
    if isinstance(model, dict):
        if "W" in model and "b" in model:
            return _from_arrays(model["W"], model["b"], model.get("eps"), model.get("scale", 1.0),
                                model.get("offset", 0.0), where="the dict")
        raise InputError(f"{name}: a dict needs keys 'W', 'b', 'eps' (and optional 'scale', "
                         f"'offset'), received keys {sorted(model)}")
    if isinstance(model, (torch.Tensor, np.ndarray, numbers.Number, str)):
        raise InputError(f"{name}: received a bare {type(model).__name__}, which is not a model; "
                         f"accepted: {ACCEPTED} (or, for the robustness functions, any "
                         "differentiable torch.nn.Module)")
    # fitted estimators (sklearn style)
    for attr in ("module_", "model_", "network_", "net_"):
        if hasattr(model, attr):
            return as_model(getattr(model, attr), name)
    if hasattr(model, "fit") and not isinstance(model, torch.nn.Module):
        raise NotFittedError(f"{name}: the estimator {type(model).__name__} is not fitted (no "
                             "network_ attribute); call fit() first")
    # networks with per-class heads and no hidden layers
    heads = getattr(model, "heads", None)
    if heads is not None and len(getattr(model, "layers", ())) == 0:
        heads = list(heads)
        if heads and all(_has_layer_attrs(h) for h in heads):
            single = len(heads) == 1 and getattr(model, "out_features", 1) == 1
            return _from_heads(heads, single, where=type(model).__name__)
    if _has_layer_attrs(model) and (hasattr(model, "eps") or not isinstance(model, torch.nn.Module)):
        return _from_arrays(model.weight, model.bias, _get_eps(model, type(model).__name__),
                            getattr(model, "scale", 1.0), getattr(model, "offset", 0.0),
                            where=type(model).__name__)
    if isinstance(model, torch.nn.Module) or callable(model):
        dtype = None
        if isinstance(model, torch.nn.Module):
            p = next(iter(model.parameters()), None)
            dtype = p.dtype if p is not None else None
        return GenericModel(model, None, dtype)
    raise InputError(f"{name}: received {type(model).__name__}; accepted: {ACCEPTED} (or, for the "
                     "robustness functions, any differentiable torch.nn.Module)")


def _from_heads(heads: list, single: bool, where: str) -> LSEHeads:
    """Per-class heads from a list of layer objects (``weight`` (N, d), ``bias`` (N,), ``eps``)."""
    shapes = {tuple(torch.as_tensor(h.weight).shape) for h in heads}
    if len(shapes) != 1:
        raise ShapeError(f"model: the heads of {where} have weights of different shapes {sorted(shapes)}; "
                         "per-class heads need one shape (N, d)")
    W = torch.stack([torch.as_tensor(h.weight).detach() for h in heads])
    b = torch.stack([torch.as_tensor(h.bias).detach() for h in heads])
    eps = torch.stack([torch.as_tensor(_get_eps(h, type(h).__name__)).detach().reshape(()).to(W.dtype)
                       for h in heads])
    scale = torch.stack([torch.as_tensor(getattr(h, "scale", 1.0)).detach().reshape(()).to(W)
                         for h in heads])
    out = _from_arrays(W, b, eps, scale, 0.0, where=where)
    return LSEHeads(out.W, out.b, out.eps, out.scale, out.offset, single)


def label_classes(model: Any):
    """The labels of a fitted classifier (its ``classes_``, a NumPy array; head ``k`` predicts
    ``classes_[k]``), or None for any other model (labels are then head indices)."""
    classes = getattr(model, "classes_", None)
    return None if classes is None or isinstance(model, torch.nn.Module) else np.asarray(classes)


def model_and_labels(model: Any, y: Any):
    """``(as_model(model), y, classes)`` with ``y`` mapped to head indices when ``model`` is a
    fitted classifier with per-class heads (``classes`` its ``classes_``, else None)."""
    classes = label_classes(model)
    m = as_model(model)
    if classes is not None and not (isinstance(m, LSEHeads) and m.single):
        y = labels_to_heads(y, classes)
    return m, y, classes


def labels_to_heads(y: Any, classes) -> Any:
    """Map labels given in a fitted classifier's ``classes_`` to head indices (an ``InputError``
    naming ``y`` for a label it does not know); other models' ``y`` passes unchanged."""
    if classes is None or y is None:
        return y
    ya = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y, dtype=object)
    values = ya.reshape(-1).tolist()
    lookup = {c: k for k, c in enumerate(classes.tolist())}
    idx = [lookup.get(v, -1) if isinstance(v, (str, int, float, bool, np.generic)) else -1
           for v in values]
    bad = [v for v, k in zip(values, idx) if k < 0]
    if bad:
        raise InputError(f"y: labels {bad[:5]} are not among the classifier's classes_ "
                         f"{classes.tolist()[:20]}; pass labels as given to fit()")
    return torch.as_tensor(idx, dtype=torch.long).reshape(np.shape(ya))


def _get_eps(obj, where: str):
    if not hasattr(obj, "eps"):
        raise EpsilonError(f"model: {where} has no eps attribute; an LSE model needs a temperature "
                           "eps >= 0")
    return _eps_tensor_or_number(getattr(obj, "eps"), where)


def _eps_tensor_or_number(eps, where):
    if eps is None:
        raise EpsilonError(f"model: {where} has eps = None; an LSE model needs a temperature eps >= 0")
    return eps.detach() if isinstance(eps, torch.Tensor) else eps




# ----------------------------------------------------------------------------------------------
# one LSE layer per output: the forms whose mathematics is closed form


def _describe_deep(model: Any) -> str | None:
    """A phrase naming a model with hidden layers (a network or a fitted estimator), else None."""
    net = model
    for attr in ("module_", "model_", "network_", "net_"):
        if hasattr(model, attr):
            net = getattr(model, attr)
            break
    layers = getattr(net, "layers", None)
    if getattr(net, "heads", None) is None or not layers:
        return None
    what = f"an {type(net).__name__}" if net is model else f"a fitted {type(model).__name__} (its network_)"
    return f"{what} with {len(layers)} hidden layer{'s' if len(layers) != 1 else ''}"


def lse_heads(model: Any, name: str = "model", purpose: str = "this function") -> LSEHeads:
    """:func:`as_model`, restricted to LSE heads (one LSE layer per output).

    ``purpose`` says, in the refusal, why one layer is needed (e.g. "attribution reads the Gibbs
    weights of one LSE layer"). A network with hidden layers is refused with the hint to analyse its
    output heads in feature space: ``f(net.heads, net.features(x))``.
    """
    deep = _describe_deep(model) if not isinstance(model, (LSEHeads, GenericModel)) else None
    if deep is not None:
        raise InputError(
            f"{name}: received {deep}; {purpose}, so a network with hidden layers has none to "
            f"offer; accepted: {ACCEPTED}, without hidden layers (hidden=()). To analyse the output "
            "heads of a deep network in its feature space, pass (net.heads, net.features(x)) in "
            "place of (model, x)")
    m = as_model(model, name)
    if isinstance(m, GenericModel):
        raise InputError(
            f"{name}: received {type(model).__name__}, which is not an LSE model; {purpose}; "
            f"accepted: {ACCEPTED}, without hidden layers")
    return m


def layer_params(model: Any, name: str = "model", purpose: str = "this function"):
    """``(W, b, eps, mode)`` of an LSE model: ``W`` ``(N, d)``, ``b`` ``(N,)`` for one layer,
    ``(C, N, d)``, ``(C, N)`` for per-class heads; ``eps`` a 0-d tensor when every head has the
    same temperature, else ``(C,)`` (use :func:`eps_column` to broadcast it against logits)."""
    m = lse_heads(model, name, purpose)
    if bool((m.scale != 1).any()) or bool((m.offset != 0).any()):
        raise InputError(f"{name}: heads with an output scale or offset (a_c LSE + o_c) are not plain "
                         f"LSE layers; {purpose}. Accepted: {ACCEPTED}")
    eps = m.eps
    if bool((eps == eps[0]).all()):
        eps = eps[0]
    if m.single:
        W, b = m.W[0], m.b[0]
    else:
        W, b = m.W, m.b
    if eps.ndim == 0:
        mode = EPS_ZERO if float(eps) == 0 else EPS_POSITIVE
    else:
        mode = EPS_POSITIVE if bool((eps > 0).all()) else ("zero" if bool((eps == 0).all()) else "mixed")
    return W, b, eps, mode


def eps_column(eps: torch.Tensor) -> torch.Tensor:
    """``eps`` shaped to broadcast against logits ``(..., C, N)``: ``(C, 1)`` per head, else 0-d."""
    return eps[:, None] if eps.ndim else eps


# ----------------------------------------------------------------------------------------------
# result records: compact repr, summary(), to_frame()


def require_pandas():
    """The pandas module, or an :class:`~hjdl.errors.InputError` saying how to install it."""
    try:
        import pandas
    except ImportError:  # pragma: no cover - exercised by monkeypatching sys.modules
        raise InputError("to_frame: needs pandas, which is not installed; run `pip install pandas` "
                         "(or use the record's tensors directly)") from None
    return pandas


def _fmt(value: Any) -> str:
    """Numbers to 4 significant digits, recursively through lists, tuples and dicts."""
    if isinstance(value, (bool, np.bool_, str)) or value is None:
        return repr(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_fmt(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _short(value: Any) -> str:
    """A value in a few characters: arrays by shape (their values when tiny), numbers to 4 digits."""
    if isinstance(value, torch.Tensor):
        return _fmt(value.detach().cpu().tolist()) if value.numel() <= 3 else f"tensor{tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return _fmt(value.tolist()) if value.size <= 3 else f"array{value.shape}"
    if isinstance(value, (list, tuple)) and len(value) > 3:
        return f"[{len(value)} {type(value[0]).__name__}]"
    text = _fmt(value) if not isinstance(value, str) else repr(value if len(value) <= 40 else value[:37] + "...")
    return text if len(text) <= 60 else text[:57] + "..."


class Record:
    """Mixin for result dataclasses: ``repr`` shows shapes and key numbers (under ~500 characters),
    :meth:`summary` is a short human sentence, :meth:`to_frame` a pandas DataFrame.

    Subclasses define ``_key_numbers()`` (name → number) and ``_frame_columns()`` (name → 1-D
    array of equal lengths); the defaults use the fields whose shape is the batch shape."""

    _MAX_REPR = 480

    def _key_numbers(self) -> dict[str, Any]:
        return {}

    def _frame_columns(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        parts = [f"{f.name}={_short(getattr(self, f.name))}" for f in fields(self)
                 if not f.name.startswith("_")]
        keys = self._key_numbers()
        head = ", ".join(f"{k}={_short(v)}" for k, v in keys.items())
        text = f"{type(self).__name__}({head + '; ' if head else ''}{', '.join(parts)})"
        if len(text) > self._MAX_REPR:
            text = text[: self._MAX_REPR - 4] + "...)"
        return text

    def summary(self) -> str:
        """The key numbers in one line."""
        keys = self._key_numbers()
        return f"{type(self).__name__}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in keys.items())

    def to_frame(self):
        """A pandas DataFrame, one row per point (see the class for its columns); needs pandas."""
        pd = require_pandas()
        cols = self._frame_columns()
        return pd.DataFrame({k: np.asarray(v) for k, v in cols.items()})


#: Plural names of the critical-point kinds (for summaries).
PLURAL = {"minimum": "minima", "maximum": "maxima", "saddle": "saddles", "degenerate": "degenerate"}


def batch_columns(batch_shape: tuple, values: dict[str, Any], index_names: tuple[str, ...]) -> dict:
    """Columns for a record whose per-point quantities have shape ``batch_shape`` (+ a small last
    axis, expanded into ``name_0, name_1, ...``): index columns first, one row per batch entry."""
    n = int(np.prod(batch_shape)) if batch_shape else 1
    cols: dict[str, np.ndarray] = {}
    grids = np.indices(batch_shape).reshape(len(batch_shape), -1) if batch_shape else None
    names = list(index_names)[-len(batch_shape):] if batch_shape else []
    names = [f"axis_{i}" for i in range(len(batch_shape) - len(names))] + names
    for i, nm in enumerate(names):
        cols[nm] = grids[i]
    for k, v in values.items():
        if v is None:
            continue
        a = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        if a.shape == tuple(batch_shape):
            cols[k] = a.reshape(n)
        elif a.shape[:-1] == tuple(batch_shape) and a.ndim == len(batch_shape) + 1 and a.shape[-1] <= 8:
            flat = a.reshape(n, a.shape[-1])
            for j in range(a.shape[-1]):
                cols[f"{k}_{j}"] = flat[:, j]
    return cols
