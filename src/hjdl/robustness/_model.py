"""What ``hjdl.robustness`` accepts as a model, brought to one of two normal forms.

* :class:`LSEHeads` — ``C`` heads ``f_c(x) = a_c LSE_{eps_c}(W_c x + b_c) + o_c`` sharing the input
  ``x`` (C = 1 with ``single=True`` is one LSE layer). Everything of THEORY §6 is closed form here:
  ``∇f_c = a_c E_π W_c``, ``∇²f_c = a_c Cov_π(W_c)/eps_c``, curvature bounds, certificates.
* :class:`GenericModel` — any other differentiable map ``(B, d) → (B,)`` or ``(B, C)`` (deep
  ``LSENetwork`` s included): Hessians by ``torch.func``; no certified radius (none is derived).

Accepted inputs (:func:`as_model`): a ``(W, b, eps)`` triple (``W`` of shape ``(N, d)`` for one
layer, ``(C, N, d)`` with ``b`` ``(C, N)`` for per-class heads), an :class:`LSEHeads`, an
``hjdl.nn.LSELayer`` / ``MaxAffine`` / any object with ``weight``, ``bias`` and ``eps``, an
``hjdl.nn.LSENetwork`` without hidden layers (its heads), an object exposing ``heads``, a fitted
estimator exposing ``module_`` / ``model_`` / ``network_``, or any ``torch.nn.Module`` / callable.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from .._validation import as_tensor, check_eps, check_finite, check_points, common
from ..core.kernel import _gibbs, _lse
from ..errors import EpsilonError, HJError, InputError, NotFittedError, ShapeError

__all__ = ["LSEHeads", "GenericModel", "as_model", "model_and_labels"]


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


def as_model(model: Any) -> LSEHeads | GenericModel:
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
    if isinstance(model, (tuple, list)):
        if len(model) == 3:
            return _from_arrays(*model, where="the (W, b, eps) triple")
        if len(model) == 2:
            raise EpsilonError(
                f"model: received a {len(model)}-tuple (W, b) without eps; pass (W, b, eps) with "
                "eps >= 0 (the LSE temperature)")
        raise InputError(f"model: received a tuple of length {len(model)}; accepted: (W, b, eps), "
                         "an LSELayer / LSENetwork / fitted estimator, or a torch.nn.Module")
    if isinstance(model, dict):
        if "W" in model and "b" in model:
            return _from_arrays(model["W"], model["b"], model.get("eps"), model.get("scale", 1.0),
                                model.get("offset", 0.0), where="the dict")
        raise InputError(f"model: a dict needs keys 'W', 'b', 'eps' (and optional 'scale', "
                         f"'offset'), received keys {sorted(model)}")
    # fitted estimators (sklearn style)
    for attr in ("module_", "model_", "network_", "net_"):
        if hasattr(model, attr):
            return as_model(getattr(model, attr))
    if hasattr(model, "fit") and not isinstance(model, torch.nn.Module):
        raise NotFittedError(f"model: the estimator {type(model).__name__} is not fitted (no "
                             "module_ attribute); call fit() first")
    # networks with per-class heads and no hidden layers
    heads = getattr(model, "heads", None)
    if heads is not None and len(getattr(model, "layers", ())) == 0:
        heads = list(heads)
        if heads and all(_has_layer_attrs(h) for h in heads):
            W = torch.stack([torch.as_tensor(h.weight).detach() for h in heads])
            b = torch.stack([torch.as_tensor(h.bias).detach() for h in heads])
            eps = torch.stack([torch.as_tensor(_get_eps(h, type(h).__name__)).detach().reshape(())
                               for h in heads])
            scale = torch.stack([torch.as_tensor(getattr(h, "scale", 1.0)).detach().reshape(()).to(W)
                                 for h in heads])
            out = _from_arrays(W, b, eps, scale, 0.0, where=type(model).__name__)
            single = len(heads) == 1 and getattr(model, "out_features", 1) == 1
            return LSEHeads(out.W, out.b, out.eps, out.scale, out.offset, single)
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
    raise InputError(f"model: received {type(model).__name__}; accepted: a (W, b, eps) triple, an "
                     "LSELayer / LSENetwork / fitted estimator, or a differentiable torch.nn.Module")


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
