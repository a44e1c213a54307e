r"""The entropy landscape ``H(x; eps) = H(π(Wx + b; eps))`` and its derivatives (THEORY §5).

With ``z = Wx + b``, ``π = softmax(z/eps)`` and centred moments under π,

    H          = LSE_eps(z)/eps − E_π z / eps
    ∇_x H      = Cov_π(W, −log π) / eps = −Cov_π(W, z) / eps²
    ∇²_x H     = −[Cov_π(W) + E_π[(W − W̄)(W − W̄)ᵀ (z − z̄)] / eps] / eps²
    ∂∇_x H/∂log eps = −2 ∇_x H + E_π[(W − W̄)(z − z̄)²] / eps³

(the last from ``∂π_j/∂eps = −π_j (z_j − z̄)/eps²``). Central moments are shift-invariant; they
are formed from ``W_j − W_top`` and ``z_j − z_top`` (the top neuron of each point), so every term
is a sum of positive weights ``π_j`` times ``O(1)`` numbers and keeps full relative accuracy in
the particle regime, where ``1 − π_top`` is far below machine epsilon. (The uncentred
``E[VVᵀ] − E[V]E[V]ᵀ`` would cancel catastrophically there.) The derivatives are only limited by
underflow of the Gibbs weights themselves: see ``plateau_tol`` in :func:`critical_points`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import EPS_POSITIVE, as_tensor, check_eps, check_finite, check_layer, \
    check_points, common
from ..core.kernel import _entropy, _gibbs
from .._models import Record, batch_columns
from ..errors import EpsilonError, InputError, ShapeError
from ._forms import bind, is_bare_array, one_layer, require

__all__ = ["Landscape", "entropy_landscape"]


@dataclass(repr=False)
class Landscape(Record):
    """``H`` ``(...)``, ``grad`` ``(..., d)``, ``hess`` ``(..., d, d)`` of the entropy landscape;
    ``d_grad_dlog_eps`` ``(..., d)`` when requested (else ``None``); ``second_weight`` ``(...)``:
    the second-largest Gibbs weight (how far from an underflow plateau the point is).

    ``repr`` shows shapes and key numbers; :meth:`summary` one line; :meth:`to_frame` one row per
    point (``H``, ``|∇H|``, the gradient's coordinates when ``d <= 8``, ``second_weight``)."""

    H: torch.Tensor
    grad: torch.Tensor
    hess: torch.Tensor
    d_grad_dlog_eps: torch.Tensor | None
    second_weight: torch.Tensor
    per_class: bool = False  # the last batch axis is the class axis (every head of a model)

    def _key_numbers(self) -> dict:
        n = int(self.H.numel())
        classes = int(self.H.shape[-1]) if self.per_class else 1
        return {"points": n // max(classes, 1), **({"classes": classes} if self.per_class else {}), "H_min": float(self.H.min()) if n else float("nan"),
                "H_max": float(self.H.max()) if n else float("nan"),
                "max_grad_norm": float(self.grad.norm(dim=-1).max()) if n else float("nan")}

    def summary(self) -> str:
        k = self._key_numbers()
        per = f" x {k['classes']} heads" if "classes" in k else ""
        return (f"Landscape at {k['points']} point(s){per} in {self.grad.shape[-1]}-D: H in "
                f"[{k['H_min']:.4g}, {k['H_max']:.4g}], max |grad H| {k['max_grad_norm']:.3g}")

    def _frame_columns(self) -> dict:
        return batch_columns(tuple(self.H.shape), {"H": self.H, "grad_norm": self.grad.norm(dim=-1),
                                                   "grad": self.grad, "second_weight": self.second_weight},
                             ("point", "class") if self.per_class else ("point",))


def _check_layer(W, b, like=None):
    return check_layer(W, b)


def _check_positive_eps(eps, like, name="eps"):
    e, mode = check_eps(eps, like=like, name=name)
    if e.ndim:
        raise ShapeError(f"{name}: expected a single number, received shape {tuple(e.shape)}")
    if mode != EPS_POSITIVE:
        raise EpsilonError(f"{name}: the entropy landscape needs eps > 0, received {float(e)!r} "
                           "(at eps = 0 the Gibbs weights are one-hot and H = 0 almost everywhere)")
    return e


def _landscape(x, W, b, eps, order: int = 2, with_eps: bool = False):
    """Engine: x (P, d), W (N, d), b (N,), eps 0-d tensor > 0 (all trusted, one dtype)."""
    z = x @ W.T + b                                              # (P, N)
    pi = _gibbs(z, eps, EPS_POSITIVE, -1)
    H = _entropy(pi, -1)
    top = z.detach().argmax(-1)                                  # (P,)
    zeta = z - z.gather(-1, top[:, None])                        # z − z_top
    omega = W[None, :, :] - W[top][:, None, :]                   # W − W_top   (P, N, d)
    dz = zeta - (pi * zeta).sum(-1, keepdim=True)                # z − z̄
    dw = omega - (pi[:, None, :] @ omega)                        # W − W̄   (P, N, d)
    pdz = pi * dz
    grad = -(pdz[:, None, :] @ dw)[:, 0] / eps**2
    hess = dgrad = None
    if order >= 2:
        cov = (dw * pi[..., None]).transpose(1, 2) @ dw
        third = (dw * pdz[..., None]).transpose(1, 2) @ dw
        hess = -(cov + third / eps) / eps**2
    if with_eps:
        dgrad = -2 * grad + ((pdz * dz)[:, None, :] @ dw)[:, 0] / eps**3
    second = torch.topk(pi, 2, -1).values[:, 1] if pi.shape[-1] > 1 else torch.zeros_like(H)
    return H, grad, hess, dgrad, second


_LANDSCAPE_FORM = ("entropy_landscape(model, x, *, eps=None, head=None) with model an LSELayer, (W, b, eps), "
                   "per-class heads, an LSENetwork or fitted estimator without hidden layers; or the "
                   "earlier entropy_landscape(x, W, b, eps)")


def entropy_landscape(model, *args, x=None, W=None, b=None, eps=None, head=None,
                      with_eps_derivative: bool = False) -> Landscape:
    r"""``H(x; eps)``, ``∇_x H`` and ``∇²_x H`` in closed form, batched (THEORY §5).

    Call forms:

    * ``entropy_landscape(model, x, *, eps=None, head=None)`` — ``model`` any form of
      :mod:`hjdl._models` with one LSE layer per output (an ``LSELayer``, ``(W, b, eps)``,
      per-class heads, an ``LSENetwork`` / fitted ``HJRegressor`` / ``HJClassifier`` without hidden
      layers; a network with hidden layers raises :class:`~hjdl.errors.InputError`: the landscape
      is that of one layer). ``eps`` overrides the model's temperature. Per-class heads: ``head=k``
      picks head ``k``; without it every head is evaluated and a class axis ``C`` follows the
      batch axes (``H`` ``(..., C)``, ``grad`` ``(..., C, d)``, ...).
    * ``entropy_landscape(x, W, b, eps)`` — the earlier form with bare arrays (still accepted).

    Args:
        x: points ``(..., d)``.
        W: ``(N, d)``; b: ``(N,)`` (an LSE layer; for atoms ``y_j``, values ``g_j`` at time ``t``
            use ``W, b = hjdl.from_initial_data(hjdl.InitialData(y, g), t)``).
        eps: a single number ``> 0`` (or, with per-class heads of different temperatures, the
            model's own ``(C,)``).
        with_eps_derivative: also return ``∂(∇_x H)/∂ log eps`` (used by continuation in eps).

    Returns:
        :class:`Landscape` in ``x``'s (promoted) dtype.

    Example:
        >>> import torch
        >>> from hjdl.bifurcation import entropy_landscape
        >>> W, b = torch.tensor([[1.0], [-1.0]]), torch.zeros(2)
        >>> L = entropy_landscape((W, b, 0.5), torch.tensor([[0.0]]))   # symmetric point
        >>> round(float(L.H[0]), 6), abs(float(L.grad[0, 0])), bool(L.hess[0, 0, 0] < 0)  # max = log 2
        (0.693147, 0.0, True)
        >>> float(entropy_landscape(torch.tensor([[0.0]]), W, b, 0.5).H[0]) == float(L.H[0])
        True
    """
    given = {"x": x, "W": W, "b": b, "eps": eps}
    if is_bare_array(model) or len(args) >= 2:
        v = bind("entropy_landscape", args, given, ("W", "b", "eps"), _LANDSCAPE_FORM)
        if v["x"] is not None:
            raise InputError(f"x: given by keyword to the form entropy_landscape(x, W, b, eps), "
                             f"where x is the first argument; accepted: {_LANDSCAPE_FORM}")
        require(v, ("W", "b", "eps"), "entropy_landscape", _LANDSCAPE_FORM)
        if head is not None:
            raise InputError(f"head: only for models with per-class heads, received head={head!r} "
                             "with a bare (x, W, b, eps) call")
        return _landscape_of(model, *_check_layer(v["W"], v["b"]), v["eps"], with_eps_derivative)
    v = bind("entropy_landscape", args, given, ("x",), _LANDSCAPE_FORM)
    for name in ("W", "b"):
        if v[name] is not None:
            raise InputError(f"{name}: given beside a model, which carries its own weights; accepted: "
                             f"{_LANDSCAPE_FORM}")
    require(v, ("x",), "entropy_landscape", _LANDSCAPE_FORM)
    Wm, bm, em = one_layer(model, head, "entropy_landscape", need_one=False)
    e_use = em if v["eps"] is None else v["eps"]
    if Wm.ndim == 2:
        return _landscape_of(v["x"], Wm, bm, e_use, with_eps_derivative)
    e_all = torch.as_tensor(e_use)
    per = [_landscape_of(v["x"], Wm[c], bm[c], e_all[c] if e_all.ndim else e_use, with_eps_derivative)
           for c in range(Wm.shape[0])]  # a loop over heads (classes), not points
    axis = per[0].H.ndim

    def stack(name):
        parts = [getattr(L, name) for L in per]
        return None if parts[0] is None else torch.stack(parts, dim=axis)

    return Landscape(H=stack("H"), grad=stack("grad"), hess=stack("hess"),
                     d_grad_dlog_eps=stack("d_grad_dlog_eps"), second_weight=stack("second_weight"),
                     per_class=True)


def _landscape_of(x, Wt, bt, eps, with_eps_derivative) -> Landscape:
    xt = as_tensor(x, "x")
    xt, Wt, bt = common(xt, Wt, bt, names=("x", "W", "b"))
    check_points(xt, Wt.shape[1], "x", "W")
    check_finite(xt, "x")
    e = _check_positive_eps(eps, xt)
    shape, d = xt.shape[:-1], Wt.shape[1]
    H, g, h, dg, sec = _landscape(xt.reshape(-1, d), Wt, bt, e, 2, with_eps_derivative)
    return Landscape(H=H.reshape(shape), grad=g.reshape(*shape, d), hess=h.reshape(*shape, d, d),
                     d_grad_dlog_eps=None if dg is None else dg.reshape(*shape, d),
                     second_weight=sec.reshape(shape))
