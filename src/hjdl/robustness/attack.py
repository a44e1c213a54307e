r"""Projected-gradient ℓ2 attack (PGD), the empirical upper bound used to test certificates.

Minimises the decision margin inside the ball ``|δ| <= radius``:
classification ``m(x) = f_y(x) − max_{c≠y} f_c(x)`` (the attacked label ``y``, default the
prediction), regression ``m = s (f(x) − threshold)`` with ``s = ±1`` the side to leave. Each step
moves along the normalised gradient, ``δ ← Π(δ − α ∇m/|∇m|)``, with ``Π`` the projection on
the ball; restarts begin at random points of the ball. A point is *broken* when some iterate
has ``m <= 0`` (a tie counts as a changed decision); the best iterate is kept.
A certificate is honest if no attack breaks a point inside its certified radius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._models import Record, batch_columns
from .._validation import as_tensor, check_finite
from ..errors import InputError
from ._model import GenericModel, LSEHeads, check_positive_int, model_and_labels, prepare_points
from .certify import _check_threshold, _labels

__all__ = ["AttackResult", "attack"]

#: Most ``steps`` (and ``restarts``) :func:`attack` accepts (each is a pass over the batch).
MAX_ITERATIONS = 10**6


@dataclass(repr=False)
class AttackResult(Record):
    """``x_adv`` (B, d), ``success`` (B,) bool (margin <= 0 reached), ``margin`` (B,) the smallest
    margin found, ``distance`` (B,) = ``|x_adv − x|`` (<= radius)."""

    x_adv: torch.Tensor
    success: torch.Tensor
    margin: torch.Tensor
    distance: torch.Tensor

    def _key_numbers(self) -> dict:
        return {"points": int(self.success.numel()), "successes": int(self.success.sum()),
                "max_distance": float(self.distance.max()) if self.distance.numel() else 0.0}

    def summary(self) -> str:
        k = self._key_numbers()
        return (f"AttackResult: {k['successes']}/{k['points']} point(s) pushed across the decision "
                f"(largest step {k['max_distance']:.4g})")

    def _frame_columns(self) -> dict:
        return batch_columns(tuple(self.success.shape), {"success": self.success, "margin": self.margin,
                                                         "distance": self.distance}, ("point",))


def _margin_fn(m, single: bool, y: torch.Tensor, thr: float):
    def fn(xb: torch.Tensor) -> torch.Tensor:
        out = m.forward(xb)
        if single:
            return y * (out[:, 0] - thr)
        fy = out.gather(1, y[:, None])[:, 0]
        other = out.scatter(1, y[:, None], -math.inf).amax(-1)
        return fy - other
    return fn


def _inside(xt: torch.Tensor, delta: torch.Tensor, rad: torch.Tensor) -> torch.Tensor:
    """The point ``xt + δ`` as stored, pulled back until its *computed* distance from ``xt`` is
    ``<= rad`` (rounding of the sum can push it outside when ``rad`` is near the spacing of
    floats at ``xt``); points that cannot be pulled in fall back to ``xt``."""
    u = torch.finfo(xt.dtype).eps
    z = xt + delta
    for _ in range(4):
        dist = (z - xt).norm(dim=-1)
        over = dist > rad
        if not bool(over.any()):
            return z
        shrink = torch.where(over, rad / dist.clamp_min(torch.finfo(xt.dtype).tiny) * (1 - 4 * u),
                             torch.ones_like(dist))
        z = xt + (z - xt) * shrink[:, None]
    over = (z - xt).norm(dim=-1) > rad
    return torch.where(over[:, None], xt, z)


def attack(model, x, y=None, radius=0.1, steps: int = 50, *, restarts: int = 1,
           step_size: float | None = None, threshold: float = 0.0,
           generator: torch.Generator | None = None) -> AttackResult:
    r"""PGD ℓ2 attack on the decision of ``model`` within ``|δ| <= radius`` (per point).

    Args:
        model: any model accepted by :func:`hjdl.robustness.as_model`.
        x: ``(d,)`` or ``(B, d)``.
        y: labels to move away from (classes: head indices, or for a fitted classifier labels
            from its ``classes_``; regression: targets, whose side of ``threshold`` is the
            decision attacked); default: the model's decision at ``x``.
        radius: a number ``>= 0`` or a ``(B,)`` tensor of them.
        steps: gradient steps per restart, an integer in ``[1, 10**6]``.
        restarts: number of starts (the first at ``δ = 0``, the others uniformly random in the
            ball), an integer in ``[1, 10**6]``.
        step_size: ``α``; default ``2.5 · radius / steps``.
        threshold: regression threshold.
        generator: ``torch.Generator`` for the random restarts.

    Example:
        >>> import torch
        >>> W, b = torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), torch.zeros(2)
        >>> res = attack((W, b, 0.1), torch.tensor([[2.0, 0.0]]), radius=1.5, threshold=1.0)
        >>> bool(res.success[0]), float(res.distance[0]) <= 1.5 + 1e-12
        (True, True)
    """
    steps = check_positive_int(steps, "steps", maximum=MAX_ITERATIONS)
    restarts = check_positive_int(restarts, "restarts", maximum=MAX_ITERATIONS)
    thr = _check_threshold(threshold)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise InputError(f"generator: expected a torch.Generator or None, received "
                         f"{type(generator).__name__} {generator!r:.60}")
    m, y, classes = model_and_labels(model, y)
    xt, squeeze, m = prepare_points(x, m)
    B, d = xt.shape
    rad = as_tensor(radius.detach() if isinstance(radius, torch.Tensor) else radius, "radius",
                    dtype=xt.dtype, device=xt.device)
    if rad.ndim == 0:
        rad = rad.expand(B)
    if rad.shape != (B,) or not bool(torch.isfinite(rad).all()) or bool((rad < 0).any()):
        raise InputError(f"radius: expected a finite number >= 0 or a ({B},) tensor of them, "
                         f"received {radius!r}")
    if step_size is not None and (isinstance(step_size, bool) or not isinstance(step_size, (int, float))
                                  or not 0 < step_size < math.inf):
        raise InputError(f"step_size: expected a finite number > 0, received {step_size!r}")
    single = m.single if isinstance(m, LSEHeads) else m.is_single(xt)
    with torch.no_grad():
        out = check_finite(m.forward(xt), "model(x) (outputs overflow; rescale the model or eps)")
    if not single and out.shape[-1] < 2:
        raise InputError("model: per-class heads need at least 2 classes for a decision to "
                         f"attack, received {out.shape[-1]}")
    if y is None:
        yy = torch.where(out[:, 0] > thr, 1.0, -1.0).to(xt.dtype) if single else out.argmax(-1)
    elif single:
        yt = as_tensor(y, "y", dtype=xt.dtype, device=xt.device).reshape(-1)
        if yt.shape != (B,) or not bool(torch.isfinite(yt).all()):
            raise InputError(f"y: for a regression model pass {B} finite targets (their side of "
                             f"threshold is the decision to leave), received shape {tuple(yt.shape)}")
        yy = torch.where(yt > thr, 1.0, -1.0).to(xt.dtype)
    else:
        yy = _labels(y, B, out.shape[-1], xt.device)
    fn = _margin_fn(m, single, yy, thr)
    alpha = (2.5 * rad / steps) if step_size is None else torch.full_like(rad, float(step_size))
    gen = generator if generator is not None else torch.Generator(device=xt.device).manual_seed(0)

    with torch.no_grad():
        best_m = fn(xt)
    best_x = xt.clone()
    for rs in range(restarts):
        if rs == 0:
            delta = torch.zeros_like(xt)
        else:
            u = torch.randn(B, d, generator=gen, dtype=xt.dtype, device=xt.device)
            u = u / u.norm(dim=-1, keepdim=True).clamp_min(1e-300)
            s = torch.rand(B, generator=gen, dtype=xt.dtype, device=xt.device) ** (1.0 / d)
            delta = u * (s * rad)[:, None]
        for _ in range(steps):
            # every evaluated point is one whose computed distance is <= radius
            z = _inside(xt, delta.detach(), rad).requires_grad_(True)
            with torch.enable_grad():
                mv = fn(z)
                (g,) = torch.autograd.grad(mv.sum(), z)
            with torch.no_grad():
                z = z.detach()
                better = mv.detach() < best_m
                best_m = torch.where(better, mv.detach(), best_m)
                best_x = torch.where(better[:, None], z, best_x)
                gn = g.norm(dim=-1, keepdim=True)
                step = torch.where(gn > 0, g / gn.clamp_min(1e-300), torch.zeros_like(g))
                delta = (z - xt) - alpha[:, None] * step
                n = delta.norm(dim=-1, keepdim=True)
                delta = delta * torch.clamp(rad[:, None] / n.clamp_min(1e-300), max=1.0)
        with torch.no_grad():
            z = _inside(xt, delta, rad)
            mv = fn(z)
            better = mv < best_m
            best_m = torch.where(better, mv, best_m)
            best_x = torch.where(better[:, None], z, best_x)
    dist = (best_x - xt).norm(dim=-1)
    res = AttackResult(best_x, best_m <= 0, best_m, dist)
    if squeeze:
        res = AttackResult(res.x_adv[0], res.success[0], res.margin[0], res.distance[0])
    return res


_ = GenericModel
