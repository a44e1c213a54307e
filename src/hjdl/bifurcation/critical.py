r"""All critical points of the entropy landscape in a box, classified (THEORY §5).

Levenberg–Marquardt / Newton on ``∇_x H = 0`` from a grid of starts (batched; no loop over starts), then
de-duplication and classification by the eigenvalues of the analytic Hessian: no negative
eigenvalue = minimum, all negative = maximum, otherwise saddle.

Plateaus. Far inside a neuron's power cell the Gibbs weights of the other neurons underflow;
there ``H``, ``∇H`` and ``∇²H`` are all exactly 0 in floating point and every point is a
"critical point". The closed forms of :mod:`hjdl.bifurcation.landscape` keep full relative
accuracy as long as the second-largest Gibbs weight ``π_(2)`` is a normal float, so genuine
critical points are resolved deep into the particle regime (``(z_top − z_second)/eps`` up to
several hundred). A candidate with ``π_(2) < plateau_tol`` (default ``1e-250``) cannot be
certified and is dropped; the number of such starts is reported as ``n_plateau``, never as
saddles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import as_tensor, check_finite, check_int, check_real
from .._models import PLURAL, Record, batch_columns
from ..errors import InputError, ShapeError
from ._forms import bind, is_bare_array, one_layer, require
from .landscape import _check_layer, _check_positive_eps, _landscape

__all__ = ["CriticalPoints", "critical_points", "KINDS", "MINIMUM", "SADDLE", "MAXIMUM", "DEGENERATE",
           "check_bounds", "classify", "check_grid", "check_input_dim"]

#: Most points a grid of starts (``n_grid ** d``) or of seeds (``n_fine ** d``) may have: every
#: point costs ``O(N d²)`` work and memory, so a larger grid would exhaust memory or run for hours.
MAX_GRID_POINTS = 4_000_000
#: Most points a default grid has in more than two dimensions (its per-axis size shrinks with d).
_DEFAULT_GRID_POINTS = 4096
_CHUNK_ELEMENTS = 1 << 22

MINIMUM, SADDLE, MAXIMUM, DEGENERATE = 0, 1, 2, -1
#: Names of the critical-point kinds, indexed by code (``DEGENERATE = -1`` is a fold point).
KINDS: dict[int, str] = {MINIMUM: "minimum", SADDLE: "saddle", MAXIMUM: "maximum", DEGENERATE: "degenerate"}


def check_bounds(bounds, d: int, like: torch.Tensor) -> torch.Tensor:
    """``bounds`` as a ``(d, 2)`` tensor of ``(low, high)`` rows with ``low < high``."""
    bt = as_tensor(bounds, "bounds").to(like.dtype)
    if bt.shape == (2,) and d == 1:
        bt = bt.reshape(1, 2)
    if bt.shape != (d, 2):
        raise ShapeError(f"bounds: expected shape ({d}, 2) (one (low, high) row per input dimension), "
                         f"received shape {tuple(bt.shape)}")
    check_finite(bt, "bounds")
    if not bool((bt[:, 0] < bt[:, 1]).all()):
        raise InputError(f"bounds: expected low < high in every row, received {bt.tolist()}")
    if not bool(torch.isfinite(1.2 * (bt[:, 1] - bt[:, 0])).all()):
        raise InputError(f"bounds: the box width overflows, received {bt.tolist()}; accepted: rows whose "
                         "width (high - low) is below about 1e307")
    return bt


def check_input_dim(W: torch.Tensor) -> int:
    """The input dimension ``d >= 1`` of a layer ``W`` (N, d)."""
    if W.shape[1] == 0:
        raise ShapeError(f"W: expected at least one input dimension, received shape {tuple(W.shape)}")
    return W.shape[1]


def check_grid(n, name: str, d: int, default: int, minimum: int = 0) -> int:
    """A per-axis grid size: ``default`` when ``None``, else an integer ``>= minimum`` whose grid
    of ``n ** d`` points stays within :data:`MAX_GRID_POINTS`."""
    if n is None:
        return default
    n = check_int(n, name, minimum)
    if n ** d > MAX_GRID_POINTS:
        raise InputError(f"{name}: {n} points per axis in {d}-D make {n}^{d} = {n ** d:.3g} grid points; "
                         f"accepted: at most {MAX_GRID_POINTS:,} in all (at most "
                         f"{_largest_axis(MAX_GRID_POINTS, d)} per axis here)")
    return n


def _largest_axis(total: int, d: int, cap: int | None = None) -> int:
    """The largest ``n`` (at most ``cap``) with ``n ** d <= total``."""
    n = int(round(total ** (1.0 / d)))
    while n ** d > total:
        n -= 1
    while (n + 1) ** d <= total and (cap is None or n + 1 <= cap):
        n += 1
    return n if cap is None else min(n, cap)


def classify(hess: torch.Tensor, rel_tol: float = 1e-9) -> tuple[torch.Tensor, torch.Tensor]:
    """Kind codes and eigenvalues from Hessians ``(..., d, d)``; near-singular → ``DEGENERATE``."""
    lam = torch.linalg.eigvalsh(hess)
    scale = lam.abs().amax(-1).clamp_min(torch.finfo(hess.dtype).tiny)
    neg = (lam < 0).sum(-1)
    d = hess.shape[-1]
    kind = torch.where(neg == 0, MINIMUM, torch.where(neg == d, MAXIMUM, SADDLE))
    degenerate = lam.abs().amin(-1) <= rel_tol * scale
    return torch.where(degenerate, DEGENERATE, kind), lam


@dataclass(repr=False)
class CriticalPoints(Record):
    """Critical points of ``H`` at one eps (see :func:`critical_points`).

    Attributes:
        x: ``(M, d)`` locations.
        H: ``(M,)`` entropy there.
        kind: ``(M,)`` codes into :data:`KINDS`.
        eigenvalues: ``(M, d)`` of ``∇²H``.
        grad_norm: ``(M,)`` ``|∇H|`` (residual).
        n_plateau: number of starts that ended on an underflow plateau (dropped);
        eps: the temperature.
    """

    x: torch.Tensor
    H: torch.Tensor
    kind: torch.Tensor
    eigenvalues: torch.Tensor
    grad_norm: torch.Tensor
    n_plateau: int
    eps: float

    def counts(self) -> dict[str, int]:
        """``{"minimum": m, "saddle": s, "maximum": M}`` (degenerate points listed separately)."""
        out = {KINDS[k]: int((self.kind == k).sum()) for k in (MINIMUM, SADDLE, MAXIMUM)}
        n_deg = int((self.kind == DEGENERATE).sum())
        if n_deg:
            out["degenerate"] = n_deg
        return out

    def _key_numbers(self) -> dict:
        return {"eps": self.eps, "points": int(self.x.shape[0]), **self.counts(), "n_plateau": self.n_plateau}

    def summary(self) -> str:
        c = ", ".join(f"{v} {k if v == 1 else PLURAL[k]}" for k, v in self.counts().items())
        return (f"CriticalPoints at eps {self.eps:.4g}: {self.x.shape[0]} in {self.x.shape[1]}-D ({c}); "
                f"{self.n_plateau} start(s) ended on an underflow plateau")

    def _frame_columns(self) -> dict:
        cols = batch_columns((int(self.x.shape[0]),), {"x": self.x, "H": self.H, "grad_norm": self.grad_norm,
                                                       "eigenvalue": self.eigenvalues}, ("point",))
        cols["kind"] = np.asarray([KINDS[k] for k in self.kind.tolist()], dtype=object)
        cols["eps"] = np.full(self.x.shape[0], self.eps)
        return cols


def _grid_starts(bounds: torch.Tensor, n: int) -> torch.Tensor:
    d = bounds.shape[0]
    axes = [lo + (hi - lo) * (torch.arange(n, dtype=bounds.dtype) + 0.5) / n for lo, hi in bounds]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)


def _solve(A, r):
    """``A⁻¹ r`` for a batch of small SPD systems (closed form in 1-D and 2-D: a batched LAPACK
    call costs far more than the arithmetic there)."""
    d = A.shape[-1]
    if d == 1:
        return r / A[..., 0]
    if d == 2:
        a, b, c, e = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
        det = a * e - b * c
        return torch.stack([e * r[..., 0] - b * r[..., 1], a * r[..., 1] - c * r[..., 0]], -1) / det[..., None]
    out, info = torch.linalg.solve_ex(A, r[..., None])
    # a singular system (e.g. ∇²H = 0 exactly on an underflow plateau) gives a NaN step, which
    # the caller rejects as it does the closed forms' division by a zero determinant
    return torch.where((info == 0)[..., None], out[..., 0], torch.nan)


def _newton(x, W, b, eps, bounds, max_iter, xtol, max_step):
    """Batched Levenberg–Marquardt on the residual ∇H (Jacobian ∇²H), then a Newton acceptance test.

    The damped step ``−(K² + λI)⁻¹ K g`` (``K = ∇²H``) decreases ``|∇H|`` from far away (its
    basins are much larger than plain Newton's, which matters for maxima and saddles whose
    Newton basins shrink like eps) and becomes the Newton step as ``λ → 0``. A start is accepted
    when the undamped Newton step is below ``xtol`` (relative to the box width): this rejects
    local minima of ``|∇H|`` that are not critical points.
    """
    width = (bounds[:, 1] - bounds[:, 0])
    P, d = x.shape
    eye = torch.eye(d, dtype=x.dtype)
    _, g, h, _, _ = _landscape(x, W, b, eps, 2)
    gn = g.norm(dim=-1)
    lam = 1e-3 * (h.abs().amax((-2, -1)) ** 2) + torch.finfo(x.dtype).tiny
    for _ in range(max_iter):
        A = h @ h + lam[:, None, None] * eye
        step = -_solve(A, (h @ g[..., None])[..., 0])
        norm = (step / width).norm(dim=-1)
        scale = torch.clamp(max_step / norm.clamp_min(1e-300), max=1.0)
        xn = x + step * scale[:, None]
        _, gN, hN, _, _ = _landscape(xn, W, b, eps, 2)
        gnN = gN.norm(dim=-1)
        better = (gnN < gn) & torch.isfinite(gnN)
        x = torch.where(better[:, None], xn, x)
        g = torch.where(better[:, None], gN, g)
        h = torch.where(better[:, None, None], hN, h)
        gn = torch.where(better, gnN, gn)
        lam = torch.where(better, lam / 5, lam * 4)
        if bool((norm < 1e-3 * xtol).all()):
            break
    lamh, V = torch.linalg.eigh(h)
    floor = lamh.abs().amax(-1, keepdim=True) * 1e-13 + torch.finfo(x.dtype).tiny
    ok_eig = (lamh.abs() >= floor).all(-1)
    inv = torch.where(lamh.abs() < floor, torch.zeros_like(lamh), 1 / lamh)
    newton = torch.einsum("pij,pj,pkj,pk->pi", V, inv, V, g)
    converged = ((newton / width).norm(dim=-1) < xtol) & ok_eig & torch.isfinite(x).all(-1)
    x = x - torch.where(converged[:, None], newton, torch.zeros_like(newton))
    return x, converged


def _fine_seeds(bounds, W, b, eps, n_fine):
    """Strict local minima of ``|∇H|`` over a fine grid: a seed near every resolvable critical
    point, whatever its type (exact-zero plateaus are never strict minima)."""
    d = bounds.shape[0]
    pts = _grid_starts(bounds, n_fine)
    chunk = max(64, _CHUNK_ELEMENTS // (W.shape[0] * d))
    gn = torch.cat([_landscape(c, W, b, eps, 1)[1].norm(dim=-1) for c in pts.split(chunk)])
    G = gn.reshape((n_fine,) * d)
    core = tuple(slice(1, -1) for _ in range(d))
    centre = G[core]
    is_min = torch.ones_like(centre, dtype=torch.bool)
    import itertools
    for off in itertools.product((-1, 0, 1), repeat=d):
        if all(o == 0 for o in off):
            continue
        sl = tuple(slice(1 + o, n_fine - 1 + o) for o in off)
        # ties broken lexicographically (strict against earlier neighbours), so a symmetric pair
        # of equal values still yields one seed while an exact-zero plateau yields none
        is_min &= (centre < G[sl]) if off < (0,) * d else (centre <= G[sl])
    idx = is_min.nonzero() + 1
    flat = torch.zeros(idx.shape[0], dtype=torch.long)
    for k in range(d):
        flat = flat * n_fine + idx[:, k]
    return pts[flat]


def _dedupe(x: torch.Tensor, tol: float) -> torch.Tensor:
    """Indices of representatives of clusters of points closer than ``tol`` (first kept)."""
    if x.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long)
    close = torch.cdist(x, x) < tol
    keep = []
    taken = torch.zeros(x.shape[0], dtype=torch.bool)
    for i in range(x.shape[0]):  # over converged candidates (a few hundred), not over points of H
        if not taken[i]:
            keep.append(i)
            taken |= close[i]
    return torch.tensor(keep, dtype=torch.long)


_CP_FORM = ("critical_points(model, bounds, *, eps=None, head=None) with model an LSELayer, (W, b, eps), "
            "per-class heads, an LSENetwork or fitted estimator without hidden layers; or the earlier "
            "critical_points(W, b, eps, bounds)")


def critical_points(model, *args, b=None, eps=None, bounds=None, head=None, starts=None,
                    n_grid: int | None = None, max_iter: int = 100, xtol: float = 1e-9,
                    plateau_tol: float = 1e-250, merge_tol: float = 1e-7,
                    n_fine: int | None = None) -> CriticalPoints:
    r"""All critical points of ``H(x; eps)`` inside ``bounds``, classified (THEORY §5).

    Call forms: ``critical_points(model, bounds, *, eps=None, head=None)`` with ``model`` any form
    of :mod:`hjdl._models` with one LSE layer per output (per-class heads need ``head=k``; ``eps``
    overrides the model's), or the earlier ``critical_points(W, b, eps, bounds)``.

    Args:
        model: the model (see the call forms); in the earlier form, the layer's weights ``W``
            ``(N, d)``, followed positionally by its biases ``b`` ``(N,)``.
        eps: a number ``> 0``.
        bounds: ``(d, 2)`` box, one ``(low, high)`` row per dimension.
        starts: optional ``(S, d)`` (or ``(d,)``) Newton starts (added to the grid), finite.
        n_grid: grid starts per dimension, an integer ``>= 0`` (default ``max(40, 4N)`` in 1-D,
            ``max(14, 2√N + 8)`` per axis in 2-D, 6 per axis above, fewer where ``6^d`` would
            exceed 4096 points; at least 1). ``n_grid ** d`` is at most :data:`MAX_GRID_POINTS`.
        max_iter: Levenberg–Marquardt iterations, an integer in ``[1, 100000]``.
        xtol: in ``(0, 1]``; a start is accepted when the undamped Newton step (relative to the
            box width) is below ``xtol``.
        plateau_tol: in ``[0, 1)``; a converged point whose second-largest Gibbs weight is below
            this lies on an underflow plateau and is dropped (counted in ``n_plateau``).
        merge_tol: in ``(0, 1]``; points closer than ``merge_tol`` × box diagonal are one point.
        n_fine: points per axis of the fine grid whose strict local minima of ``|∇H|`` are
            added as starts, an integer ``>= 0`` (default 1500 in 1-D, 160 in 2-D, 16 in 3-D and
            4-D, none above; below 3: none). ``n_fine ** d`` is at most :data:`MAX_GRID_POINTS`.

    Raises:
        InputError: (or a subclass) any argument outside the ranges above, a box that is empty
            or whose width overflows, ``W`` without input dimensions, ``eps <= 0``.

    Returns:
        :class:`CriticalPoints` sorted by the first coordinate.

    Example:
        >>> import torch
        >>> from hjdl.bifurcation import critical_points
        >>> W = torch.tensor([[-1.0], [0.0], [1.0]]); b = torch.tensor([-0.5, 0.0, -0.5])
        >>> cp = critical_points(W, b, 0.1, [[-3.0, 3.0]])
        >>> cp.counts()       # two maxima between three neurons, a minimum in the middle cell
        {'minimum': 1, 'saddle': 0, 'maximum': 2}
    """
    given = {"b": b, "eps": eps, "bounds": bounds}
    if is_bare_array(model) or len(args) >= 2:
        v = bind("critical_points", args, given, ("b", "eps", "bounds"), _CP_FORM)
        require(v, ("b", "eps", "bounds"), "critical_points", _CP_FORM)
        if head is not None:
            raise InputError(f"head: only for models with per-class heads, received head={head!r} with "
                             "bare arrays (W, b); omit head or pass the model")
        W, b, eps, bounds = model, v["b"], v["eps"], v["bounds"]
        Wt, bt = _check_layer(W, b)
    else:
        v = bind("critical_points", args, given, ("bounds",), _CP_FORM)
        if v["b"] is not None:
            raise InputError(f"b: given beside a model, which carries its own weights; accepted: {_CP_FORM}")
        require(v, ("bounds",), "critical_points", _CP_FORM)
        Wt, bt, e_model = one_layer(model, head, "critical_points")
        eps = e_model if v["eps"] is None else v["eps"]
        bounds = v["bounds"]
    if not Wt.is_floating_point() or Wt.dtype != torch.float64:
        Wt, bt = Wt.double(), bt.double()
    d = check_input_dim(Wt)
    e = _check_positive_eps(eps, Wt)
    box = check_bounds(bounds, d, Wt)
    N = Wt.shape[0]
    n_grid = check_grid(n_grid, "n_grid", d, max(40, 4 * N) if d == 1 else (
        max(14, int(2 * math.sqrt(N)) + 8) if d == 2 else _largest_axis(_DEFAULT_GRID_POINTS, d, cap=6)))
    n_fine = check_grid(n_fine, "n_fine", d, {1: 1500, 2: 160, 3: 16, 4: 16}.get(d, 0))
    max_iter = check_int(max_iter, "max_iter", 1, 100_000)
    xtol = check_real(xtol, "xtol", low=0.0, low_open=True, high=1.0,
                      hint="the accepted Newton step relative to the box width")
    plateau_tol = check_real(plateau_tol, "plateau_tol", low=0.0, high=1.0, high_open=True)
    merge_tol = check_real(merge_tol, "merge_tol", low=0.0, low_open=True, high=1.0,
                           hint="a distance relative to the box diagonal")
    x0 = _grid_starts(box, n_grid)
    if n_fine >= 3:
        x0 = torch.cat([x0, _fine_seeds(box, Wt, bt, e, n_fine)])
    if starts is not None:
        s = as_tensor(starts, "starts").to(Wt.dtype)
        if s.ndim == 1 and s.shape[0] == d:
            s = s[None]
        if s.ndim != 2 or s.shape[1] != d:
            raise ShapeError(f"starts: expected shape (S, {d}) (one start per row) or ({d},), "
                             f"received shape {tuple(s.shape)}")
        check_finite(s, "starts")
        x0 = torch.cat([x0, s])
    # starts in chunks of about _CHUNK_ELEMENTS (start, neuron, dim) entries: bounded memory
    chunk = max(64, _CHUNK_ELEMENTS // (N * d))
    parts = [_newton(c.clone(), Wt, bt, e, box, max_iter, xtol, 0.25) for c in x0.split(chunk)]
    x = torch.cat([p[0] for p in parts]) if parts else x0
    ok = torch.cat([p[1] for p in parts]) if parts else torch.zeros(0, dtype=torch.bool)
    inside = ((x >= box[:, 0]) & (x <= box[:, 1])).all(-1)
    finite = torch.isfinite(x).all(-1)
    on_plateau = torch.cat([_landscape(c, Wt, bt, e, 1)[4] for c in x[finite].split(chunk)]
                           or [torch.zeros(0, dtype=x.dtype)]) < plateau_tol
    n_plateau = int(on_plateau.sum())  # starts that ended where π_(2) underflows
    x = x[ok & inside]
    H, g, h, _, second = _landscape(x, Wt, bt, e, 2)
    plateau = second < plateau_tol
    x, H, g, h = x[~plateau], H[~plateau], g[~plateau], h[~plateau]
    diag = float((box[:, 1] - box[:, 0]).norm())
    keep = _dedupe(x, merge_tol * diag)
    x, H, g, h = x[keep], H[keep], g[keep], h[keep]
    kind, lam = classify(h)
    order = torch.argsort(x[:, 0]) if x.shape[0] else torch.zeros(0, dtype=torch.long)
    return CriticalPoints(x=x[order], H=H[order], kind=kind[order], eigenvalues=lam[order],
                          grad_norm=g.norm(dim=-1)[order], n_plateau=n_plateau, eps=float(e))
