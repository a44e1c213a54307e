r"""Hallucination / extrapolation diagnostics of an LSE prediction (THEORY §4, T1).

With the top-two logit gap ``Δ(x) = z_(1) − z_(2)``:

    0 <= f_eps(x) − max_j z_j <= eps log(1 + (N − 1) e^{−Δ/eps})      (sharpened T1),

``Δ / (eps log N) ≫ 1`` means the prediction is one neuron's affine piece, extrapolated; a point
farther than the diffusion radius ``√(2 eps t)`` from every atom ``y_j`` is outside the region
the initial data inform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validation import EPS_ZERO, check_time
from ..core.kernel import _lse
from ..errors import InputError
from .._models import Record, batch_columns
from ._params import eps_column, logits, prepare_points, resolve_params
from .averager import GibbsAverager

__all__ = ["HallucinationReport", "hallucination_report"]


@dataclass(repr=False)
class HallucinationReport(Record):
    """Diagnostics at a batch of points (see :func:`hallucination_report`); shapes ``(...)``.

    Attributes:
        gap: top-two logit gap ``Δ`` (``+inf`` for a single neuron).
        bound: ``eps log(1 + (N−1) e^{−Δ/eps})`` (0 at eps = 0).
        excess: the measured ``f − max z`` (within ``[0, bound]``).
        bound_holds: ``excess <= bound`` up to rounding.
        ratio: ``Δ / (eps log N)`` (``inf`` at eps = 0 or N = 1 with Δ > 0).
        extrapolated: ``ratio > extrapolation_ratio``.
        nearest_atom_distance: ``min_j |x − y_j|``.
        diffusion_radius: ``√(2 eps t)`` (a float; ``(C,)`` tensor for per-class heads of
            different temperatures).
        outside_radius: ``nearest_atom_distance > diffusion_radius``.
        per_class: whether the last batch axis is the class axis (per-class heads).
    """

    gap: torch.Tensor
    bound: torch.Tensor
    excess: torch.Tensor
    bound_holds: torch.Tensor
    ratio: torch.Tensor
    extrapolated: torch.Tensor
    nearest_atom_distance: torch.Tensor
    diffusion_radius: float
    outside_radius: torch.Tensor
    per_class: bool = False

    def _key_numbers(self) -> dict:
        n = int(self.gap.numel())
        return {"points": n, "extrapolated": int(self.extrapolated.sum()),
                "outside_radius": int(self.outside_radius.sum()),
                "bound_holds": f"{int(self.bound_holds.sum())}/{n}"}

    def summary(self) -> str:
        k = self._key_numbers()
        r = self.diffusion_radius
        r = f"{r:.4g}" if isinstance(r, float) else str([round(v, 4) for v in torch.as_tensor(r).tolist()])
        return (f"HallucinationReport of {k['points']} point(s): {k['extrapolated']} extrapolated "
                f"(one neuron's affine piece), {k['outside_radius']} outside the diffusion radius {r}; "
                f"tropical bound holds at {k['bound_holds']}")

    def _frame_columns(self) -> dict:
        shape = tuple(self.gap.shape)
        return batch_columns(shape, {k: getattr(self, k) for k in (
            "gap", "bound", "excess", "bound_holds", "ratio", "extrapolated", "nearest_atom_distance",
            "outside_radius")}, ("point", "class") if self.per_class else ("point",))


def hallucination_report(model, x, *, t=1.0, extrapolation_ratio: float = 2.0) -> HallucinationReport:
    r"""Top-two gap, the sharpened tropical bound beside the measured excess, and the radius test.

    Args:
        model: any model form of :func:`~hjdl.attribution.attribute` (an ``LSELayer``,
            ``(W, b, eps)``, per-class heads, an ``LSENetwork`` / fitted estimator without hidden
            layers), or a :class:`GibbsAverager`.
        x: points ``(..., d)``.
        t: HJ time used to place the atoms of a layer, ``y_j = 2t W_j`` (THEORY §2, A = I);
            ignored for a :class:`GibbsAverager`, whose atoms and ``t`` are its own.
        extrapolation_ratio: threshold on ``Δ/(eps log N)``. The default 2 means the other
            ``N − 1`` neurons together carry less than ``(N−1)/N² < 1/N`` of the weight.

    Example:
        >>> import torch
        >>> from hjdl.attribution import hallucination_report
        >>> W, b = torch.tensor([[1.0], [-1.0]]), torch.zeros(2)
        >>> r = hallucination_report((W, b, 1.0), torch.tensor([[0.0], [2.5]]))  # atoms at ±2
        >>> r.extrapolated.tolist(), r.outside_radius.tolist(), bool(r.bound_holds.all())
        ([False, True], [True, False], True)
    """
    if isinstance(model, GibbsAverager):
        W, b, eps = model.layer
        mode = EPS_ZERO if float(eps) == 0 else "positive"
        atoms, tt = model.atoms, model.t
    else:
        W, b, eps, mode = resolve_params(model, "model")
        tt = float(check_time(t, like=W))
        atoms = 2 * tt * W
    if not isinstance(extrapolation_ratio, (int, float)) or isinstance(extrapolation_ratio, bool) \
            or not extrapolation_ratio > 0:
        raise InputError(f"extrapolation_ratio: expected a number > 0, received {extrapolation_ratio!r}")
    xt, W = prepare_points(x, W)
    b, atoms = b.to(W.dtype), atoms.to(W.dtype)
    z = logits(xt, W, b)
    n = z.shape[-1]
    top2 = torch.topk(z, min(2, n), dim=-1).values
    zmax = top2[..., 0]
    gap = top2[..., 0] - top2[..., 1] if n > 1 else torch.full_like(zmax, torch.inf)
    excess = _lse(z - zmax[..., None], eps_column(eps), mode, -1).squeeze(-1)
    e = eps_column(eps)[..., 0] if eps.ndim else eps  # (C,) against (..., C), or 0-d
    positive = e > 0
    e_safe = torch.where(positive, e, torch.ones_like(e))
    bound = torch.where(positive, e_safe * torch.log1p((n - 1) * torch.exp(-gap / e_safe)),
                        torch.zeros_like(gap))
    tropical_ratio = torch.where(gap > 0, torch.full_like(gap, torch.inf), torch.zeros_like(gap))
    ratio = torch.where(positive, gap / (e_safe * math.log(n)), tropical_ratio) if n > 1 \
        else torch.where(positive, torch.full_like(gap, torch.inf), tropical_ratio)
    slack = 16 * torch.finfo(z.dtype).eps * (1 + zmax.abs())
    if W.ndim == 2:
        dist = torch.cdist(xt.reshape(-1, xt.shape[-1]), atoms).amin(-1).reshape(xt.shape[:-1])
    else:
        diff = xt[..., None, None, :] - atoms  # (..., C, N, d)
        dist = diff.norm(dim=-1).amin(-1)
    radius = math.sqrt(2 * float(eps) * tt) if eps.ndim == 0 else torch.sqrt(2 * eps * tt)
    return HallucinationReport(gap=gap, bound=bound, excess=excess,
                               bound_holds=excess <= bound + slack, ratio=ratio,
                               extrapolated=ratio > extrapolation_ratio,
                               nearest_atom_distance=dist, diffusion_radius=radius,
                               outside_radius=dist > radius, per_class=W.ndim == 3)
