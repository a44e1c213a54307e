r"""Certified ℓ2 radii from the margin, its gradient and the eps-controlled curvature (THEORY §6).

Decision margin ``m(x) > 0`` (classification: ``m = f_c − f_c'`` for the predicted class ``c``
and each rival ``c'``; regression: ``m = s (f − threshold)`` with ``s = ±1`` the side of
``x``), less a round-off allowance (:func:`_roundoff`: a few ulps of the outputs plus the
dot-product error bound of the logits), so that a margin that is only floating-point noise
certifies nothing.
Along any segment ``x + tδ/|δ|``, ``d/dt m >= −min(G + βt, L)`` where ``G = |∇m(x)|``,
``β`` bounds the *downward* curvature of ``m`` on the whole space and ``L`` bounds ``|∇m|``
everywhere. Hence no ``|δ| < r`` changes the decision, for

* second order (THEORY §6): ``m − G r − β r²/2 = 0``, ``r₂ = (−G + √(G² + 2βm))/β
  = 2m / (G + √(G² + 2βm))`` (``= m/G`` for ``β = 0``);
* first order (Lipschitz only): ``r₁ = m / L``;
* combined: the root of ``m − ∫₀ʳ min(G + βt, L) dt`` (``>= max(r₁, r₂)``), the reported
  ``radius``.

Constants for heads ``f_c = a_c LSE_{eps_c}(W_c x + b_c) + o_c`` with ``κ_c = R_c²/eps_c``
(:func:`hjdl.robustness.curvature_bound`):

* ``curvature="two-sided"`` (THEORY's statement): ``β = |a_c| κ_c + |a_c'| κ_c'``;
* ``curvature="one-sided"`` (default, sharper, same proof): an LSE head is convex, so
  ``a_c LSE_c`` can only bend the margin *up* when ``a_c > 0``; only the concave parts count:
  ``β = max(−a_c, 0) κ_c + max(a_c', 0) κ_c'`` (regression: ``β = max(−s a, 0) κ``);
* ``L = max_{j,k} |a_c W_cj − a_c' W_c'k|`` (``∇m`` lies in the difference of the two convex
  hulls; the maximum of a norm is at vertices), regression ``L = |a| max_j |W_j|``.

The radius is the minimum over rivals. Generic modules (deep networks): no sound bound is
derived (THEORY §6: the single-layer bound does not hold at depth), so radii are ``nan`` and
``available`` is False — not a guess.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._models import Record, batch_columns
from .._validation import _describe, as_tensor, check_choice, check_finite, common
from ..errors import DomainError, InputError, NonFiniteError, ShapeError
from ._model import GenericModel, LSEHeads, model_and_labels, prepare_points
from ._spectral import sqrt0 as _sqrt0
from .curvature import BOUND_KINDS, head_bounds, head_radii

__all__ = ["Certificate", "certify", "radii_from_constants", "CURVATURE_SIDES"]

#: Names accepted by :func:`certify` ``curvature``.
CURVATURE_SIDES = ("one-sided", "two-sided")


@dataclass(repr=False)
class Certificate(Record):
    """Certified ℓ2 radii and the quantities they are solved from (one entry per point).

    Attributes:
        radius: best sound radius (the combined bound, ``>=`` both below), ``(B,)``.
        radius_second_order: THEORY §6 radius ``(−G + √(G² + 2βm))/β``, the smallest over the
            rivals, which may be another rival than the one binding ``radius`` (whose
            ``m, G, β, L`` are the fields below).
        radius_first_order: ``m / L``, likewise the smallest over the rivals.
        margin: ``m(x)`` for the binding rival, less the round-off allowance (so it can be
            slightly negative on or near the boundary, where the radius is 0).
        grad_norm: ``G = |∇m(x)|``.
        beta: the curvature bound ``β`` used for the binding rival (the module docstring
            gives it for each ``curvature`` and ``bound``).
        lipschitz: ``L``, a bound on ``|∇m|`` everywhere.
        prediction: predicted head index (classification; for a fitted classifier an index
            into ``classes``) or side ``±1`` (regression).
        rival: the rival class that binds the radius (``-1`` for regression).
        correct: ``prediction == y`` when ``y`` was given, else None.
        available: False for generic modules (radii are ``nan``); reason says why.
        task: ``"classification"`` or ``"regression"``; curvature, bound: the options used.
        classes: a fitted classifier's ``classes_`` (``classes[prediction]`` are its labels),
            else None.
    """

    radius: torch.Tensor
    radius_second_order: torch.Tensor
    radius_first_order: torch.Tensor
    margin: torch.Tensor
    grad_norm: torch.Tensor
    beta: torch.Tensor
    lipschitz: torch.Tensor
    prediction: torch.Tensor
    rival: torch.Tensor
    correct: torch.Tensor | None
    available: bool
    reason: str
    task: str
    curvature: str
    bound: str
    classes: Any = None

    def certified(self, radius: float, which: str = "radius") -> torch.Tensor:
        """Mask of points certified at ``radius`` (and correctly classified when ``y`` was given).

        ``which``: ``"radius"``, ``"radius_second_order"`` or ``"radius_first_order"``.
        """
        check_choice(which, ("radius", "radius_second_order", "radius_first_order"), "which",
                     "radius")
        ok = getattr(self, which) >= radius
        if radius == 0:
            ok = ok & (self.margin > 0)
        return ok & self.correct if self.correct is not None else ok

    def slack(self, r: torch.Tensor | None = None) -> torch.Tensor:
        """Guaranteed margin lower bound ``m − ∫₀ʳ min(G + βt, L) dt`` at ``r`` (default: the
        radius, where it is 0 up to round-off: the certificate's self-check; at an infinite
        radius the margin never drops and the slack is ``m``)."""
        r = self.radius if r is None else r
        return self.margin - _drop(r, self.grad_norm, self.beta, self.lipschitz)

    def _key_numbers(self) -> dict:
        r = self.radius.reshape(-1).double()
        out = {"points": int(r.numel()), "task": self.task, "available": self.available}
        if self.available and r.numel():
            out.update(median_radius=float(r.median()), min_radius=float(r.min()),
                       max_radius=float(r.max()))
        if self.correct is not None:
            out["correct"] = int(self.correct.sum())
        return out

    def summary(self) -> str:
        k = self._key_numbers()
        if not self.available:
            return f"Certificate of {k['points']} point(s) ({self.task}): no radius ({self.reason})"
        ok = f"; {k['correct']}/{k['points']} correctly predicted" if "correct" in k else ""
        return (f"Certificate of {k['points']} point(s) ({self.task}, {self.curvature} curvature, "
                f"{self.bound} bound): certified l2 radius median {k['median_radius']:.4g} "
                f"[min {k['min_radius']:.4g}, max {k['max_radius']:.4g}]{ok}")

    def _frame_columns(self) -> dict:
        shape = tuple(self.radius.shape)
        cols = batch_columns(shape, {k: getattr(self, k) for k in (
            "radius", "radius_second_order", "radius_first_order", "margin", "grad_norm", "beta",
            "lipschitz", "prediction", "rival", "correct")}, ("point",))
        if self.classes is not None and self.task == "classification":
            cls = np.asarray(self.classes)
            cols["predicted_label"] = cls[self.prediction.reshape(-1).cpu().numpy()]
        return cols


def _drop(r, G, beta, L):
    """``∫₀ʳ min(G + βt, L) dt`` elementwise (``β`` and ``r`` may be inf, ``L >= G``)."""
    if bool(torch.isinf(r).any()):  # the slope stays 0 when G = β = 0 (or L = 0): drop 0, else ∞
        flat = ((G == 0) & (beta == 0)) | (L == 0)
        at_inf = torch.where(flat, torch.zeros_like(G), torch.full_like(G, math.inf))
        rf = torch.where(torch.isinf(r), torch.zeros_like(r), r)
        return torch.where(torch.isinf(r), at_inf, _drop(rf, G, beta, L))
    fin = torch.isfinite(beta) & (beta > 0)
    safe_b = torch.where(fin, beta, torch.ones_like(beta))
    s0 = torch.where(fin, ((L - G) / safe_b).clamp_min(0), torch.where(beta > 0, torch.zeros_like(G),
                                                                         torch.full_like(G, math.inf)))
    quad = G * r + 0.5 * torch.where(fin, beta, torch.zeros_like(beta)) * r * r
    lin = G * s0 + 0.5 * torch.where(fin, beta, torch.zeros_like(beta)) * s0 * s0 + L * (r - s0)
    lin = torch.where(torch.isfinite(s0), lin, quad)
    return torch.where(r <= s0, quad, lin)


def _check_constants(margin, grad_norm, beta, lipschitz) -> tuple[torch.Tensor, ...]:
    """The four constants as tensors of one dtype, broadcast together; each is refused (naming
    it) when NaN, complex or boolean, the margin when infinite, the others when negative, and
    ``lipschitz`` when it is below ``grad_norm`` (it must bound ``|∇m|`` everywhere)."""
    names = ("margin", "grad_norm", "beta", "lipschitz")
    given = (margin, grad_norm, beta, lipschitz)
    ts = []
    for v, name in zip(given, names):
        if isinstance(v, torch.Tensor) and v.dtype == torch.bool or \
                isinstance(v, np.ndarray) and v.dtype == np.bool_:
            raise InputError(f"{name}: expected real numbers, received a boolean tensor")
        ts.append(as_tensor(v, name))
    ts = common(*ts, names=names)
    try:
        m, G, b, L = torch.broadcast_tensors(*ts)
    except RuntimeError:
        raise ShapeError("margin, grad_norm, beta, lipschitz: shapes "
                         f"{', '.join(str(tuple(t.shape)) for t in ts)} do not broadcast together; "
                         "pass numbers or tensors of broadcastable shapes") from None
    for t, v, name in zip(ts, given, names):
        if bool(torch.isnan(t).any()):
            raise NonFiniteError(f"{name}: contains NaN, received {_describe(v)}; accepted: "
                                 + ("finite numbers" if name == "margin" else "numbers >= 0 or +inf"))
    if bool(torch.isinf(ts[0]).any()):
        raise NonFiniteError(f"margin: contains infinite entries, received {_describe(margin)}; "
                             "accepted: finite numbers (a margin <= 0 certifies nothing)")
    for t, v, name, what in zip(ts[1:], given[1:], names[1:],
                                ("|∇m(x)|", "the curvature bound", "the Lipschitz bound of m")):
        if bool((t < 0).any()):
            raise DomainError(f"{name}: {what} must be >= 0, received {_describe(v)}")
    over = G > L * (1 + 64 * torch.finfo(L.dtype).eps)
    if bool(over.any()):
        k = tuple(over.nonzero()[0].tolist())
        where = f" at index {k}" if k else ""
        raise DomainError(f"lipschitz: L bounds |∇m| everywhere, so it must be >= grad_norm; "
                          f"received L = {float(L[k]):.6g} < grad_norm = {float(G[k]):.6g}{where}")
    return m, G, b, L


def radii_from_constants(margin, grad_norm, beta, lipschitz):
    r"""Second-order, first-order and combined radii from ``m, G, β, L`` (numbers or tensors
    that broadcast; the result has their promoted floating dtype).

    ``r₂ = 2m/(G + √(G² + 2βm))``, ``r₁ = m/L``, combined = root of
    ``m = ∫₀ʳ min(G + βt, L) dt``. ``m <= 0`` gives 0; ``β = inf`` gives ``r₂ = 0``.
    ``margin`` must be finite; ``grad_norm``, ``beta`` and ``lipschitz`` ``>= 0`` (``+inf``
    allowed: an unbounded constant) with ``lipschitz >= grad_norm``; anything else (NaN
    included) raises an :class:`~hjdl.errors.InputError` naming the argument.

    Example:
        >>> import torch
        >>> r2, r1, r = radii_from_constants(torch.tensor(1.0), torch.tensor(1.0),
        ...                                  torch.tensor(2.0), torch.tensor(3.0))
        >>> round(float(r2), 6), round(float(r1), 6), round(float(r), 6)   # (−1+√5)/2, 1/3
        (0.618034, 0.333333, 0.618034)
    """
    return _radii(*_check_constants(margin, grad_norm, beta, lipschitz))


def _radii(m, G, beta, L):
    """:func:`radii_from_constants` on trusted tensors of one dtype and shape (``certify``'s
    constants: ``G`` may exceed ``L`` by round-off, and overflowed constants may be ``inf``)."""
    G = torch.minimum(G, L)  # |∇m(x)| <= L exactly; clip round-off
    pos = m > 0
    mm = torch.where(pos, m, torch.zeros_like(m))
    fin = torch.isfinite(beta)
    # √(G² + 2βm) as hypot(G, √(2β)√m) and 2·(m/den): no intermediate overflows before r₂ does;
    # square roots and hypot see only positive arguments (their derivatives at 0 are infinite or
    # 0/0, which would make the radii's gradients NaN, e.g. for a head paired with itself)
    s = math.sqrt(2) * _sqrt0(torch.where(fin, beta, torch.zeros_like(beta))) * _sqrt0(mm)
    both0 = (G == 0) & (s == 0)
    one = torch.ones_like(G)
    disc = torch.where(both0, torch.zeros_like(G),
                       torch.hypot(torch.where(both0, one, G), torch.where(both0, one, s)))
    den = G + disc
    r2 = torch.where(den > 0, 2 * (mm / torch.where(den > 0, den, torch.ones_like(den))),
                     torch.full_like(mm, math.inf))
    r2 = torch.where(fin, r2, torch.zeros_like(r2))
    r1 = torch.where(L > 0, mm / torch.where(L > 0, L, torch.ones_like(L)), torch.full_like(mm, math.inf))
    # combined: quadratic root while G + βr <= L, then linear at slope L
    bpos = fin & (beta > 0)
    s0 = torch.where(bpos, (L - G) / torch.where(bpos, beta, torch.ones_like(beta)),
                     torch.where(fin, torch.full_like(G, math.inf), torch.zeros_like(G)))
    use_quad = r2 <= s0
    s0f = torch.where(torch.isfinite(s0), s0, torch.zeros_like(s0))
    bf = torch.where(bpos, beta, torch.zeros_like(beta))
    rest = mm - G * s0f - 0.5 * bf * s0f * s0f
    lin = torch.where(L > 0, s0f + rest / torch.where(L > 0, L, torch.ones_like(L)),
                      torch.full_like(mm, math.inf))
    r = torch.where(use_quad, r2, lin)
    r = torch.maximum(r, torch.maximum(r1, r2))  # equal in exact arithmetic; guard round-off
    zero = torch.zeros_like(mm)
    # G or L infinite (overflowed constants) leave inf − inf in the combined root: no radius
    ok = pos & torch.isfinite(G) & ~torch.isnan(L)
    return (torch.where(pos & ~torch.isnan(r2), r2, zero), torch.where(pos & ~torch.isnan(r1), r1, zero),
            torch.where(ok & ~torch.isnan(r), r, zero))


def _logit_scale(m: LSEHeads, xt: torch.Tensor) -> torch.Tensor:
    """``S_c(x) = |a_c| (max_j |W_cj| |x| + max_j |b_cj|)``, ``(B, C)``: bounds ``|a_c| Σ_k
    |W_cjk x_k| + |a_c b_cj|``, the scale of the rounding error of the logits ``W_cj·x + b_cj``."""
    R = head_radii(m, "row-norm")                      # (C,) max_j |W_cj|, cached on m
    bmax = m.b.abs().amax(-1)                          # (C,)
    return m.scale.abs() * (xt.norm(dim=-1)[:, None] * R + bmax)


def _roundoff(f_abs: torch.Tensor, logit_scale: torch.Tensor, m: LSEHeads) -> torch.Tensor:
    """Allowance for floating-point error in evaluated margins:
    ``16 N u (|f_c| + |f_c'|) + 2 (d + 2) u (S_c + S_c')`` (arguments: the two sums).

    A margin of a few ulps is not a decision; subtracting this keeps certificates honest when
    the model is re-evaluated by a different (equally valid) sequence of operations. The second
    term is the dot-product bound ``|fl(w·x) − w·x| <= (d + 1) u Σ|w_k x_k|`` (doubled), which
    matters when the logits cancel (``|x|`` large, rows nearly orthogonal to it)."""
    u = torch.finfo(m.dtype).eps
    return 16 * m.W.shape[1] * u * f_abs + 2 * (m.dim + 2) * u * logit_scale


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or \
            not math.isfinite(float(threshold)):
        raise InputError(f"threshold: expected a finite real number, received {threshold!r}")
    return float(threshold)


def _labels(y, B: int, C: int, device) -> torch.Tensor:
    try:
        yt = torch.as_tensor(y, device=device) if not isinstance(y, torch.Tensor) else y.to(device)
    except (TypeError, ValueError, RuntimeError):
        raise InputError(f"y: expected integer class labels, received {type(y).__name__} "
                         f"{str(y)[:60]}") from None
    if yt.is_complex() or yt.dtype == torch.bool:
        raise InputError(f"y: expected integer class labels, received dtype {yt.dtype}")
    if yt.ndim == 0:
        yt = yt.reshape(1)
    if yt.shape != (B,):
        raise ShapeError(f"y: expected {B} labels (shape ({B},)), received shape {tuple(yt.shape)}")
    if yt.is_floating_point():
        if not bool((yt == yt.round()).all()):
            raise InputError("y: expected integer class labels, received non-integer values")
        yt = yt.long()
    if bool((yt < 0).any()) or bool((yt >= C).any()):
        raise InputError(f"y: class labels must lie in [0, {C}), received values in "
                         f"[{int(yt.min())}, {int(yt.max())}]")
    return yt.long()


def _pair_lipschitz(m: LSEHeads) -> torch.Tensor:
    """``L_cc' = max_{j,k} |a_c W_cj − a_c' W_c'k|``, shape ``(C, C)``."""
    key = "pair_lipschitz"
    if key not in m._cache:
        V = (m.scale[:, None, None] * m.W).reshape(-1, m.dim)  # (C·N, d)
        D = torch.cdist(V[None], V[None])[0].reshape(m.n_classes, m.W.shape[1], m.n_classes, -1)
        m._cache[key] = D.amax(dim=(1, 3))
    return m._cache[key]


def certify(model, x, y=None, threshold: float = 0.0, *, curvature: str = "one-sided",
            bound: str = "enclosing-ball") -> Certificate:
    r"""Certified ℓ2 radii (second order, first order, combined) for each point (THEORY §6).

    Args:
        model: any form of :func:`hjdl.robustness.as_model`: an LSE layer (``LSELayer``,
            ``(W, b, eps)``, an ``LSENetwork`` with one head, a fitted ``HJRegressor``;
            regression: the decision is the side of ``threshold``), per-class heads (``W`` of
            shape ``(C, N, d)``, a list of layers, an ``LSENetwork`` with C heads, a fitted
            ``HJClassifier``; the decision is the top class), or a generic module such as a
            network with hidden layers (radii unavailable).
        x: ``(d,)`` or ``(B, d)``.
        y: optional labels (classes: head indices, or for a fitted classifier labels from its
            ``classes_``; regression: targets compared with ``threshold``); then ``correct``
            says whether the certified decision is the right one.
        threshold: regression threshold.
        curvature: ``"one-sided"`` (default; uses the convexity of LSE heads) or
            ``"two-sided"`` (THEORY's ``β = β_c + β_c'``).
        bound: curvature bound ``"enclosing-ball"`` (``R²/eps``) or ``"row-norm"`` (``max|W_j|²/eps``).

    Returns:
        a :class:`Certificate` (its tensors drop the batch axis for a single point).

    Example:
        >>> import torch
        >>> W, b = torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), torch.zeros(2)
        >>> cert = certify((W, b, 0.5), torch.tensor([[3.0, 0.0]]), threshold=1.0)
        >>> bool(cert.radius[0] > cert.radius_first_order[0] > 0)
        True
    """
    check_choice(curvature, CURVATURE_SIDES, "curvature", "option")
    check_choice(bound, BOUND_KINDS, "bound", "curvature bound")
    thr = _check_threshold(threshold)
    m, y, classes = model_and_labels(model, y)
    xt, squeeze, m = prepare_points(x, m)
    B = xt.shape[0]
    nan = torch.full((B,), math.nan, dtype=xt.dtype, device=xt.device)

    if isinstance(m, GenericModel):
        with torch.no_grad():
            out = check_finite(m.forward(xt), "model(x) (outputs are not finite)")
        single = m.is_single(xt)
        pred = torch.where(out[:, 0] > thr, 1, -1) if single else out.argmax(-1)
        correct = None
        if y is not None:
            correct = _correct_regression(y, out[:, 0], thr, B, xt) if single else \
                (pred == _labels(y, B, out.shape[-1], xt.device))
        cert = Certificate(nan, nan.clone(), nan.clone(), nan.clone(), nan.clone(), nan.clone(),
                           nan.clone(), pred, torch.full((B,), -1, device=xt.device), correct, False,
                           "unavailable: no sound curvature / Lipschitz bound is derived for a "
                           "generic (e.g. deep) module (THEORY §6); use attack() for an upper bound",
                           "regression" if single else "classification", curvature, bound, classes)
        return _squeeze(cert) if squeeze else cert

    kappa = head_bounds(m, bound)  # (C,)
    a = m.scale
    if m.single:
        f = check_finite(m.forward(xt)[:, 0], "model(x) (outputs overflow; rescale the model or eps)")
        side = torch.where(f > thr, 1.0, -1.0).to(xt.dtype)
        margin = side * (f - thr) - _roundoff(f.abs() + abs(thr), _logit_scale(m, xt)[:, 0], m)
        G = a[0].abs() * (m.gibbs(xt)[:, 0] @ m.W[0]).norm(dim=-1)
        sa = side * a[0]
        if curvature == "one-sided":
            beta = torch.where(sa < 0, (-sa) * kappa[0], torch.zeros_like(sa))
        else:
            beta = (a[0].abs() * kappa[0]).expand(B)
        beta = torch.where(a[0] == 0, torch.zeros_like(beta), beta)
        L = (a[0].abs() * head_radii(m, "row-norm")[0]).expand(B)
        r2, r1, r = _radii(*torch.broadcast_tensors(margin, G, beta, L))
        pred = side.long()
        correct = _correct_regression(y, f, thr, B, xt) if y is not None else None
        cert = Certificate(r, r2, r1, margin, G, beta, L.clone(), pred,
                           torch.full((B,), -1, device=xt.device), correct, True, "", "regression",
                           curvature, bound)
        return _squeeze(cert) if squeeze else cert

    C = m.n_classes
    if C < 2:
        raise InputError("model: per-class heads need at least 2 classes to certify a decision")
    f = check_finite(m.forward(xt), "model(x) (outputs overflow; rescale the model or eps)")
    grads = m.grad(xt)                      # (B, C, d)
    pred = f.argmax(-1)
    ar = torch.arange(B, device=xt.device)
    fc = f[ar, pred]
    S = _logit_scale(m, xt)                 # (B, C)
    margins = fc[:, None] - f - _roundoff(fc.abs()[:, None] + f.abs(), S[ar, pred][:, None] + S, m)
    gdiff = (grads[ar, pred][:, None, :] - grads).norm(dim=-1)  # (B, C)
    def part(coef, k):  # coefficient·κ with 0·inf = 0
        return torch.where(coef > 0, coef * k, torch.zeros_like(coef))
    if curvature == "one-sided":
        beta_c = part(-a, kappa)            # concave part of the winner
        beta_r = part(a, kappa)             # convex part of the rival
    else:
        beta_c = part(a.abs(), kappa)
        beta_r = beta_c
    betas = beta_c[pred][:, None] + beta_r[None, :]             # (B, C)
    Ls = _pair_lipschitz(m)[pred]                                # (B, C)
    r2, r1, rc = _radii(margins, gdiff, betas, Ls)
    inf = torch.full_like(rc, math.inf)
    self_mask = torch.nn.functional.one_hot(pred, C).bool()
    rc_m = torch.where(self_mask, inf, rc)
    rival = rc_m.argmin(-1)
    # every rival unreachable (all radii inf, e.g. constant heads): the binding one is the rival
    # with the smallest margin, never the predicted class itself (argmin of all-inf picks 0)
    closest = torch.where(self_mask, inf, margins).argmin(-1)
    rival = torch.where(torch.isinf(rc_m.amin(-1)), closest, rival)
    pick = lambda t: t[ar, rival]  # noqa: E731
    cert = Certificate(
        radius=pick(rc_m),
        radius_second_order=torch.where(self_mask, inf, r2).amin(-1),
        radius_first_order=torch.where(self_mask, inf, r1).amin(-1),
        margin=pick(margins), grad_norm=pick(gdiff), beta=pick(betas), lipschitz=pick(Ls),
        prediction=pred, rival=rival,
        correct=(pred == _labels(y, B, C, xt.device)) if y is not None else None,
        available=True, reason="", task="classification", curvature=curvature, bound=bound,
        classes=classes)
    return _squeeze(cert) if squeeze else cert


def _correct_regression(y, f, thr, B, xt):
    yt = as_tensor(y, "y", dtype=xt.dtype, device=xt.device)
    if yt.ndim == 0:
        yt = yt.reshape(1)
    if yt.shape != (B,):
        raise ShapeError(f"y: expected {B} targets (shape ({B},)), received shape {tuple(yt.shape)}")
    check_finite(yt, "y")
    return (yt > thr) == (f > thr)


def _squeeze(cert: Certificate) -> Certificate:
    for name in ("radius", "radius_second_order", "radius_first_order", "margin", "grad_norm",
                 "beta", "lipschitz", "prediction", "rival", "correct"):
        v = getattr(cert, name)
        if isinstance(v, torch.Tensor):
            setattr(cert, name, v[0])
    return cert


_ = BOUND_KINDS  # re-exported names used in docs
