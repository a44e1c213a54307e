r"""Branches of critical points of ``H(x; eps)`` followed in eps, and their folds (THEORY §5).

A critical point solves ``F(x, s) = ∇_x H(x; e^s) = 0`` with ``s = log eps``: generically a set of
curves in ``(x, s)``. Each curve is followed by pseudo-arclength continuation: predictor
``v + h τ`` along the unit tangent ``τ`` (the null vector of ``∂F/∂(x, s)``), corrector Newton on
``[F(v); τ·(v − v_pred)] = 0``, which stays regular where the curve turns back in eps. A fold
(saddle-node) is where ``det ∇²_x H`` changes sign along a branch; it is refined by Newton on the
extended system ``(∇_x H, det ∇²_x H) = 0`` in ``(x, s)`` and reported with its eps, location,
``H`` and the pair of kinds (minimum / saddle / maximum) that annihilate there.

Seeds: critical points found at ``n_anchors`` log-spaced eps values, by the full multi-start
search of :func:`~hjdl.bifurcation.critical_points` at ``n_full`` of them and, at the others, by
Newton from the strict local minima of ``|∇H|`` on an ``n_seed``-per-axis grid that are not next
to a branch already traced; a seed already lying on a traced branch is skipped, every other one
starts a new branch traced in both directions. A branch that exists only strictly between two anchors
(an isola narrower than the anchor spacing) can be missed; more anchors reduce that gap.

Low eps. Branches stop where the Gibbs weights underflow (``π_(2) < plateau_tol``) or the
corrector cannot converge (ridges along which ``∇²H`` is singular to working precision); the end
reason of every branch is recorded, and nothing is reported from those regions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .._progress import progress as _progress
from .._validation import check_int, check_real
from .._models import PLURAL, Record, batch_columns, require_pandas
from ..errors import InputError
from .critical import DEGENERATE, KINDS, MAXIMUM, MINIMUM, SADDLE, _fine_seeds, _largest_axis, check_bounds, \
    check_grid, check_input_dim, classify, critical_points
from ._forms import bind, is_bare_array, one_layer, require
from .landscape import _check_layer, _check_positive_eps, _landscape

__all__ = ["Branch", "Fold", "BoundaryExit", "BifurcationDiagram", "continuation"]


@dataclass(repr=False)
class Branch(Record):
    """One traced curve of critical points: ``x`` ``(K, d)``, ``eps`` ``(K,)``, ``H`` ``(K,)``,
    ``kind`` ``(K,)`` (codes of :data:`~hjdl.bifurcation.KINDS`; ``-1`` at refined folds),
    ``det`` ``(K,)`` of ``∇²H``, and why each end stopped (``ends``)."""

    x: np.ndarray
    eps: np.ndarray
    H: np.ndarray
    kind: np.ndarray
    det: np.ndarray
    ends: tuple[str, str]

    def _key_numbers(self) -> dict:
        return {"points": int(self.eps.size), "eps_range": (float(self.eps.min()), float(self.eps.max()))
                if self.eps.size else (), "ends": self.ends}

    def summary(self) -> str:
        k = self._key_numbers()
        lo, hi = k["eps_range"] if k["eps_range"] else (math.nan, math.nan)
        return (f"Branch of {k['points']} critical points over eps [{lo:.4g}, {hi:.4g}] in "
                f"{self.x.shape[-1]}-D; ends: {self.ends[0]}, {self.ends[1]}")

    def _frame_columns(self) -> dict:
        cols = batch_columns((int(self.eps.size),), {"eps": self.eps, "x": self.x, "H": self.H,
                                                     "det": self.det}, ("step",))
        cols["kind"] = np.asarray([KINDS[int(k)] for k in self.kind], dtype=object)
        return cols


@dataclass(repr=False)
class Fold(Record):
    """A fold (saddle-node) point: ``eps``, ``x`` ``(d,)``, ``H``, the two ``kinds`` that meet
    (names), the residuals ``grad_norm = |∇H|`` and ``det = det ∇²H`` there, whether the branch
    turns back in eps (``turning``), whether Newton on the extended system converged
    (``refined``), and the index of its branch."""

    eps: float
    x: np.ndarray
    H: float
    kinds: tuple[str, str]
    grad_norm: float
    det: float
    turning: bool
    refined: bool
    branch: int
    turning_to: str = "lower"

    def _key_numbers(self) -> dict:
        return {"eps": self.eps, "kinds": self.kinds, "H": self.H, "refined": self.refined}

    def summary(self) -> str:
        where = ", ".join(f"{v:.4g}" for v in np.atleast_1d(self.x))
        return (f"Fold at eps {self.eps:.6g}, x = ({where}): a {self.kinds[0]} meets a {self.kinds[1]} "
                f"(branch {self.branch}, {'refined' if self.refined else 'not refined'}, |grad H| "
                f"{self.grad_norm:.2g})")

    def _frame_columns(self) -> dict:
        return _event_rows([self])


@dataclass(repr=False)
class BoundaryExit(Record):
    """A branch crossing the edge of the box: the count of its ``kind`` changes by one at ``eps``
    without any fold (``change`` = +1 when the point enters the box as eps grows, −1 when it
    leaves). ``x`` ``(d,)`` is the crossing point (linear interpolation between traced points)."""

    eps: float
    x: np.ndarray
    kind: str
    change: int
    branch: int

    def _key_numbers(self) -> dict:
        return {"eps": self.eps, "kind": self.kind, "change": self.change}

    def _frame_columns(self) -> dict:
        return _event_rows([self])


@dataclass(repr=False)
class BifurcationDiagram(Record):
    """Result of :func:`continuation`: branches, folds, and counts of critical points vs eps."""

    branches: list[Branch]
    folds: list[Fold]
    eps_min: float
    eps_max: float
    bounds: np.ndarray
    anchors: np.ndarray
    notes: list[str] = field(default_factory=list)
    exits: list[BoundaryExit] = field(default_factory=list)

    def _key_numbers(self) -> dict:
        return {"eps": (self.eps_min, self.eps_max), "dim": int(self.bounds.shape[0]),
                "branches": len(self.branches), "points": int(sum(br.eps.size for br in self.branches)),
                "folds": len(self.folds), "exits": len(self.exits)}

    def __repr__(self) -> str:
        k = self._key_numbers()
        folds = ", ".join(f"{f.eps:.4g}" for f in self.folds[:6]) + (", ..." if len(self.folds) > 6 else "")
        text = (f"BifurcationDiagram(eps=[{self.eps_min:.4g}, {self.eps_max:.4g}], d={k['dim']}, "
                f"branches={k['branches']} ({k['points']} points), folds={k['folds']} at eps [{folds}], "
                f"boundary exits={k['exits']}, anchors={self.anchors.size}, notes={len(self.notes)})")
        return text if len(text) <= self._MAX_REPR else text[: self._MAX_REPR - 4] + "...)"

    def summary(self) -> str:
        """The branches, the folds with their eps and kinds, and the counts at both ends."""
        k = self._key_numbers()
        ends = self.counts([self.eps_min, self.eps_max])
        at = lambda i: ", ".join(f"{v[i]} {n if v[i] == 1 else PLURAL[n]}" for n, v in ends.items())  # noqa: E731
        folds = "; ".join(f"eps {f.eps:.4g}: {f.kinds[0]} + {f.kinds[1]}" for f in self.folds[:5])
        more = f" (+{len(self.folds) - 5} more)" if len(self.folds) > 5 else ""
        return (f"{k['branches']} branches of critical points over eps [{self.eps_min:.4g}, "
                f"{self.eps_max:.4g}] in {k['dim']}-D; {k['folds']} fold(s){': ' + folds + more if folds else ''}; "
                f"{k['exits']} boundary exit(s); at eps_min {at(0)}, at eps_max {at(1)}")

    def to_frame(self, what: str = "points"):
        """pandas DataFrame: ``what="points"`` (default) one row per traced point (branch, eps,
        x_0.., H, det, kind); ``"events"`` one row per fold and boundary exit (sorted by eps)."""
        pd = require_pandas()
        if what == "events":
            return pd.DataFrame(_event_rows([*self.folds, *self.exits]))
        if what != "points":
            raise InputError(f"what: expected 'points' or 'events', received {what!r}")
        frames = [pd.DataFrame({"branch": i, **br._frame_columns()}) for i, br in enumerate(self.branches)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            {"branch": [], "step": [], "eps": [], "H": [], "det": [], "kind": []})

    def events(self, eps_lo: float = 0.0, eps_hi: float = math.inf) -> list[tuple[float, str, dict]]:
        """Every reason for the counts to change in ``(eps_lo, eps_hi)``, sorted by eps:
        ``(eps, "fold" | "boundary", {kind: change as eps grows})``. A fold inside the box removes
        (turning to larger eps) or creates one point of each of its two kinds."""
        out = []
        for f in self.folds:
            if eps_lo < f.eps < eps_hi:
                sign = -1 if f.turning_to == "lower" else 1
                out.append((f.eps, "fold", {k: sign for k in f.kinds}))
        for e in self.exits:
            if eps_lo < e.eps < eps_hi:
                out.append((e.eps, "boundary", {e.kind: e.change}))
        return sorted(out, key=lambda r: r[0])

    def counts(self, eps) -> dict[str, np.ndarray]:
        """Numbers of minima, saddles and maxima inside ``bounds`` at each ``eps`` (array-like).

        Counted as the crossings of the level ``log eps`` by the branches (linear interpolation
        between traced points; the kind is constant between folds).
        """
        e = np.atleast_1d(np.asarray(eps, dtype=float))
        if np.any(~np.isfinite(e)) or np.any(e <= 0):
            raise InputError(f"eps: expected positive numbers, received {eps!r}")
        s = np.log(e)
        out = {KINDS[k]: np.zeros(e.shape, dtype=int) for k in (MINIMUM, SADDLE, MAXIMUM)}
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        for br in self.branches:
            sb = np.log(br.eps)
            if sb.size < 2:
                continue
            s0, s1 = sb[:-1], sb[1:]
            ds = s1 - s0
            kind = np.where(br.kind[:-1] == DEGENERATE, br.kind[1:], br.kind[:-1])
            a = (s0[None] - s[:, None])
            c = (s1[None] - s[:, None])
            cross = ((a < 0) & (c >= 0)) | ((a >= 0) & (c < 0))
            cross &= ds[None] != 0
            theta = np.where(cross, -a / np.where(ds == 0, 1, ds)[None], 0.0)
            xi = br.x[:-1][None] + theta[..., None] * (br.x[1:] - br.x[:-1])[None]
            inside = np.all((xi >= lo) & (xi <= hi), -1)
            ok = cross & inside
            for k in (MINIMUM, SADDLE, MAXIMUM):
                out[KINDS[k]] += (ok & (kind[None] == k)).sum(-1)
        return out

    def plot(self, ax=None):
        """Draw the diagram (``H`` at every critical point vs eps, folds marked); needs matplotlib.

        Delegates to ``hjdl.plotting.bifurcation_plots.plot_diagram`` (imported lazily so that the
        library itself never imports the plotting layer). Returns the matplotlib Figure.
        """
        import importlib
        return importlib.import_module("hjdl.plotting.bifurcation_plots").plot_diagram(self, ax=ax)


def diagram_series(dg) -> dict:
    """Branches, folds, boundary exits and counts (on 200 log-spaced eps) of a diagram as plain
    lists: the JSON-able series an experiment stores and the plotting layer draws."""
    grid = np.exp(np.linspace(math.log(dg.eps_min), math.log(dg.eps_max), 200))
    c = dg.counts(grid)
    return {
        "branches": [{"eps": b.eps.tolist(), "H": b.H.tolist(), "kind": b.kind.tolist(),
                      "x": b.x.tolist(), "ends": list(b.ends)} for b in dg.branches],
        "folds": [{"eps": f.eps, "x": f.x.tolist(), "H": f.H, "kinds": list(f.kinds)} for f in dg.folds],
        "exits": [{"eps": e.eps, "x": e.x.tolist(), "kind": e.kind, "change": e.change} for e in dg.exits],
        "counts": {"eps": grid.tolist(), **{k: v.tolist() for k, v in c.items()}},
        "bounds": dg.bounds.tolist(),
    }


def _event_rows(events: list) -> dict:
    """Columns of folds and boundary exits, sorted by eps."""
    events = sorted(events, key=lambda e: e.eps)
    d = max([np.atleast_1d(e.x).size for e in events], default=0)
    cols = {"event": [("fold" if isinstance(e, Fold) else "boundary") for e in events],
            "eps": [e.eps for e in events], "branch": [e.branch for e in events],
            "kinds": [("/".join(e.kinds) if isinstance(e, Fold) else e.kind) for e in events],
            "change": [(-1 if e.turning_to == "lower" else 1) if isinstance(e, Fold) else e.change
                       for e in events],
            "H": [e.H if isinstance(e, Fold) else math.nan for e in events]}
    for j in range(min(d, 8)):
        cols[f"x_{j}"] = [float(np.atleast_1d(e.x)[j]) for e in events]
    return cols


# ----------------------------------------------------------------------------------------------
# the tracer


class _System:
    """F(v) = ∇_x H(x; e^s) and its Jacobian at a single point v = (x, s) (float64)."""

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.d = W.shape[1]

    def __call__(self, v):
        x = torch.from_numpy(v[None, :self.d])
        eps = torch.tensor(math.exp(v[self.d]), dtype=torch.float64)
        H, g, h, dg, sec = _landscape(x, self.W, self.b, eps, 2, True)
        J = np.empty((self.d, self.d + 1))
        J[:, :self.d] = h[0].numpy()
        J[:, self.d] = dg[0].numpy()
        return g[0].numpy(), J, float(H[0]), float(sec[0])

    def extended(self, v):
        """``G = (∇H, det ∇²H)`` and its Jacobian (by autograd through the closed forms)."""
        def G(vt):
            eps = torch.exp(vt[self.d])
            _, g, h, _, _ = _landscape(vt[None, :self.d], self.W, self.b, eps, 2)
            return torch.cat([g[0], torch.linalg.det(h[0])[None]])

        vt = torch.from_numpy(v.copy())
        val = G(vt).detach().numpy()
        jac = torch.autograd.functional.jacobian(G, vt).numpy()
        return val, jac


def _tangent(J, prev=None):
    if prev is None:
        _, _, Vt = np.linalg.svd(J)
        t = Vt[-1]
    else:
        A = np.vstack([J, prev[None]])
        rhs = np.zeros(J.shape[1])
        rhs[-1] = 1.0
        try:
            t = np.linalg.solve(A, rhs)
        except np.linalg.LinAlgError:
            return None
    n = np.linalg.norm(t)
    if not np.isfinite(n) or n == 0:
        return None
    t = t / n
    if prev is not None and t @ prev < 0:
        t = -t
    return t


def _trace(system, v0, tau0, s_lo, s_hi, lo, hi, plateau_tol, h0, h_max, max_steps, h_min=1e-5):
    """Follow one direction from v0; returns the list of points (after v0) and the end reason."""
    d = system.d
    v, tau, h = v0.copy(), tau0.copy(), h0
    pts = []
    reason = "max_steps"
    travelled = 0.0
    for _ in range(max_steps):
        accepted = False
        while h >= h_min:
            vp = v + h * tau

            def corrector(w, vp=vp, tau=tau):  # the branch equations plus the arclength plane
                F, J, _, _ = system(w)
                return np.concatenate([F, [tau @ (w - vp)]]), np.vstack([J, tau[None]])

            w, ok = _newton(corrector, vp.copy(), 1e-11, 8)
            if ok:
                F, J, Hv, sec = system(w)
                t_new = _tangent(J, tau)
                if t_new is not None and t_new @ tau > math.cos(math.radians(25)) \
                        and np.linalg.norm(w - vp) < 0.5 * h:
                    accepted = True
                    break
            h *= 0.5
        if not accepted:
            reason = "stalled"
            break
        pts.append((w, Hv, sec))
        v, tau = w, t_new
        h = min(h * 1.5, h_max)
        if sec < plateau_tol:
            reason = "plateau"
            break
        if v[d] < s_lo or v[d] > s_hi:
            reason = "eps_range"
            break
        if np.any(v[:d] < lo) or np.any(v[:d] > hi):
            reason = "box"
            break
        # a closed curve: back at the seed, moving the same way (near a fold the returning half
        # passes close to the seed too, but with the tangent reversed: that is not a closure)
        travelled += float(np.linalg.norm(w - pts[-2][0])) if len(pts) > 1 else float(np.linalg.norm(w - v0))
        if travelled > 6 * h_max and np.linalg.norm(v - v0) < 1.5 * h_max and tau @ tau0 > 0.8:
            reason = "closed"
            pts.append((v0.copy(), None, None))
            break
    return pts, reason


def _newton(residual, v, tol: float, iters: int):
    """Newton's method on ``residual(v) -> (r, J)``; returns ``(v, converged)``."""
    for _ in range(iters):
        r, J = residual(v)
        try:
            dv = np.linalg.solve(J, -r)
        except np.linalg.LinAlgError:
            return v, False
        v = v + dv
        if not np.all(np.isfinite(v)):
            return v, False
        if np.linalg.norm(dv) < tol * (1 + np.linalg.norm(v)):
            return v, True
    return v, False


def _refine_fold(system, va, vb, da, db):
    """Newton on (∇H, det ∇²H) = 0 from the secant guess between va and vb."""
    theta = da / (da - db) if da != db else 0.5
    span = np.linalg.norm(vb - va)
    v, converged = _newton(system.extended, va + theta * (vb - va), 1e-13, 30)
    if not converged or np.linalg.norm(v - va) > 3 * span + 1e-9:
        return va + theta * (vb - va), False
    return v, True


_CONT_FORM = ("continuation(model, eps_min, eps_max, bounds, *, head=None, ...) with model an LSELayer, "
              "(W, b, eps), per-class heads, an LSENetwork or fitted estimator without hidden layers; or "
              "the earlier continuation(W, b, eps_min, eps_max, bounds, ...)")


def continuation(model, *args, b=None, eps_min=None, eps_max=None, bounds=None, head=None,
                 n_anchors: int = 16, n_grid: int | None = None,
                 h_max: float = 0.08, max_steps: int = 500, plateau_tol: float = 1e-250,
                 n_full: int = 2, n_seed: int | None = None,
                 progress: bool = False) -> BifurcationDiagram:
    r"""Critical points of ``H(x; eps)`` followed across ``[eps_min, eps_max]``, folds located.

    Call forms:

    * ``continuation(model, eps_min, eps_max, bounds, *, head=None, ...)`` — ``model`` any form of
      :mod:`hjdl._models` with one LSE layer per output (an ``LSELayer``, ``(W, b, eps)``,
      per-class heads with ``head=k``, an ``LSENetwork`` / fitted estimator without hidden
      layers); its own eps is not used (the range is scanned). A network with hidden layers
      raises :class:`~hjdl.errors.InputError`: the landscape is that of one layer.
    * ``continuation(W, b, eps_min, eps_max, bounds, ...)`` — the earlier form (still accepted).

    Args:
        model: the model (see the call forms); in the earlier form, the layer's weights ``W``
            ``(N, d)``, followed positionally by its biases ``b`` ``(N,)`` (float64 is used
            internally).
        eps_min: the lower end of the eps range, ``0 < eps_min < eps_max``.
        eps_max: the upper end of the eps range.
        bounds: ``(d, 2)`` box; branches are traced in the box enlarged by 10 % per side and
            counted inside the box.
        n_anchors: number of log-spaced eps values at which seeds are searched.
        n_grid: Newton starts per axis at the full-search anchors (see :func:`critical_points`).
        n_full: at how many anchors (evenly spread over the ``n_anchors``, the first and last
            always among them) the full multi-start search of :func:`critical_points` runs (grid
            starts plus its fine grid of local minima of ``|∇H|``, damped Newton from all).
            Every other anchor is seeded cheaply: only the strict local minima of ``|∇H|`` on an
            ``n_seed``-per-axis grid that lie more than three grid cells from every branch
            already traced (at that eps) are polished by Newton. More full anchors cost more and
            guard against critical points that no grid minimum of ``|∇H|`` reveals.
        n_seed: points per axis of that cheap seed grid (default 1500 in 1-D, 120 in 2-D, 12
            above). A critical point closer than about a cell to another one, or to a traced
            branch, is not seeded there (it may still be found at a neighbouring anchor).
        h_max: largest arclength step in ``(x, log eps)``, a finite number above ``1e-5`` (the
            smallest step the tracer tries).
        max_steps: per branch direction, an integer in ``[1, 1000000]``.
        plateau_tol: in ``[0, 1)``; branches stop where the second Gibbs weight is below this.
        progress: show a progress bar over anchors (a bool).

    ``n_anchors`` is an integer in ``[1, 10000]``, ``n_full`` an integer ``>= 1``; ``n_grid`` and
    ``n_seed`` are integers (``n_seed >= 3``) whose grids hold at most
    :data:`~hjdl.bifurcation.critical.MAX_GRID_POINTS` points. Any other value raises
    :class:`~hjdl.errors.InputError` naming the argument, before any work is done.

    Returns:
        :class:`BifurcationDiagram` with ``branches``, ``folds`` (sorted by eps), ``counts(eps)``.

    Example:
        >>> import torch
        >>> from hjdl.bifurcation import continuation
        >>> W = torch.tensor([[-1.0], [0.0], [2.0]]); b = torch.tensor([-0.5, 0.0, -2.0])
        >>> dg = continuation(W, b, 0.05, 2.0, [[-3.0, 3.0]], n_anchors=4)
        >>> [f.kinds for f in dg.folds]       # the middle minimum meets a maximum and vanishes
        [('minimum', 'maximum')]
        >>> dg.counts([0.1, 1.0])["maximum"].tolist()
        [2, 1]
    """
    given = {"b": b, "eps_min": eps_min, "eps_max": eps_max, "bounds": bounds}
    if is_bare_array(model) or len(args) == 4:
        v = bind("continuation", args, given, ("b", "eps_min", "eps_max", "bounds"), _CONT_FORM)
        require(v, ("b", "eps_min", "eps_max", "bounds"), "continuation", _CONT_FORM)
        if head is not None:
            raise InputError(f"head: only for models with per-class heads, received head={head!r} with "
                             "bare arrays (W, b); omit head or pass the model")
        Wt, bt = _check_layer(model, v["b"])
    else:
        v = bind("continuation", args, given, ("eps_min", "eps_max", "bounds"), _CONT_FORM)
        if v["b"] is not None:
            raise InputError(f"b: given beside a model, which carries its own weights; accepted: {_CONT_FORM}")
        require(v, ("eps_min", "eps_max", "bounds"), "continuation", _CONT_FORM)
        Wt, bt, _ = one_layer(model, head, "continuation")
    eps_min, eps_max, bounds = v["eps_min"], v["eps_max"], v["bounds"]
    Wt, bt = Wt.double(), bt.double()
    d = check_input_dim(Wt)
    eps_min, eps_max = (float(_check_positive_eps(val, Wt, name))
                        for name, val in (("eps_min", eps_min), ("eps_max", eps_max)))
    if not eps_min < eps_max:
        raise InputError(f"eps_min, eps_max: expected eps_min < eps_max, received {eps_min!r}, {eps_max!r}")
    n_anchors = check_int(n_anchors, "n_anchors", 1, 10_000)
    n_full = check_int(n_full, "n_full", 1)
    h_max = check_real(h_max, "h_max", low=1e-5, low_open=True,
                       hint="the largest arclength step in (x, log eps)")
    max_steps = check_int(max_steps, "max_steps", 1, 1_000_000)
    plateau_tol = check_real(plateau_tol, "plateau_tol", low=0.0, high=1.0, high_open=True)
    if n_grid is not None:
        n_grid = check_grid(n_grid, "n_grid", d, 0)
    seed_grid = check_grid(n_seed, "n_seed", d, {1: 1500, 2: 120}.get(d, _largest_axis(10**6, d, cap=12)),
                           minimum=3)
    if not isinstance(progress, bool):
        raise InputError(f"progress: expected True or False, received {progress!r}")
    box = check_bounds(bounds, d, Wt).numpy()
    width = box[:, 1] - box[:, 0]
    lo, hi = box[:, 0] - 0.1 * width, box[:, 1] + 0.1 * width
    s_lo, s_hi = math.log(float(eps_min)), math.log(float(eps_max))
    system = _System(Wt, bt)
    anchors = np.exp(np.linspace(s_lo, s_hi, n_anchors)) if n_anchors > 1 else np.array([math.exp((s_lo + s_hi) / 2)])
    full = set(np.round(np.linspace(0, len(anchors) - 1, min(n_full, len(anchors)))).astype(int).tolist())
    raw: list[tuple[list, list[str]]] = []   # (points [(v, H, kind, det)], ends)
    notes: list[str] = []
    diag = float(np.linalg.norm(width))

    def covered(v):
        """Is the seed v already on a traced branch? (interpolate, then Newton at fixed eps)."""
        eps = torch.tensor(math.exp(v[d]), dtype=torch.float64)
        for pts, _ in raw:
            V = np.array([p[0] for p in pts])
            if len(V) < 2:
                continue
            s = V[:, d]
            a, c = s[:-1] - v[d], s[1:] - v[d]
            idx = np.nonzero((a <= 0) & (c >= 0) | (a >= 0) & (c <= 0))[0]
            for i in idx:
                ds = s[i + 1] - s[i]
                th = 0.0 if ds == 0 else -a[i] / ds
                xi = V[i, :d] + th * (V[i + 1, :d] - V[i, :d])
                if np.linalg.norm(xi - v[:d]) > 0.5 * h_max * (1 + diag):
                    continue
                xt = torch.from_numpy(xi[None].copy())
                for _ in range(6):
                    _, g, h, _, _ = _landscape(xt, Wt, bt, eps, 2)
                    try:
                        xt = xt - torch.linalg.solve(h, g[..., None])[..., 0]
                    except RuntimeError:
                        break
                if np.linalg.norm(xt[0].numpy() - v[:d]) < 1e-6 * diag:
                    return True
        return False

    def crossings(sa):
        """Points of the traced branches at log eps = sa (linear interpolation), (M, d)."""
        out = [np.zeros((0, d))]
        for pts, _ in raw:
            V = np.array([p[0] for p in pts])
            if len(V) < 2:
                continue
            a, c = V[:-1, d] - sa, V[1:, d] - sa
            idx = np.nonzero((a <= 0) & (c >= 0) | (a >= 0) & (c <= 0))[0]
            ds = c[idx] - a[idx]
            th = np.where(ds == 0, 0.0, -a[idx] / np.where(ds == 0, 1.0, ds))
            out.append(V[idx, :d] + th[:, None] * (V[idx + 1, :d] - V[idx, :d]))
        return np.concatenate(out)

    cell = float(np.max(width)) / max(seed_grid, 1)
    n_plateau = 0
    for ia, eps_a in enumerate(_progress(anchors, desc="continuation", enabled=progress)):
        e_a = torch.tensor(float(eps_a), dtype=torch.float64)
        if ia in full:
            cp = critical_points(Wt, bt, float(eps_a), box, n_grid=n_grid, plateau_tol=plateau_tol,
                                 max_iter=40)
        elif seed_grid >= 3:
            # cheap seeds: strict local minima of |∇H| on a grid, minus those next to a traced
            # branch; only the rest go to the (costly) damped Newton of critical_points
            seeds = _fine_seeds(torch.from_numpy(box), Wt, bt, e_a, seed_grid).numpy()
            known = crossings(math.log(eps_a))
            if len(known) and len(seeds):
                dist = np.sqrt(((seeds[:, None] - known[None]) ** 2).sum(-1)).min(1)
                seeds = seeds[dist > 3 * cell]
            if not len(seeds):
                continue
            cp = critical_points(Wt, bt, float(eps_a), box, starts=seeds, n_grid=0, n_fine=0,
                                 plateau_tol=plateau_tol, max_iter=40)
        else:
            continue  # no cheap seed grid in this many dimensions: full anchors only
        n_plateau += cp.n_plateau
        for xk in cp.x.numpy():
            v0 = np.concatenate([xk, [math.log(eps_a)]])
            if covered(v0):
                continue
            F, J, H0, _ = system(v0)
            tau = _tangent(J)
            if tau is None:
                continue
            fwd = _trace(system, v0, tau, s_lo, s_hi, lo, hi, plateau_tol,
                         h0=0.01, h_max=h_max, max_steps=max_steps)
            back = ([], "closed") if fwd[1] == "closed" else \
                _trace(system, v0, -tau, s_lo, s_hi, lo, hi, plateau_tol,
                       h0=0.01, h_max=h_max, max_steps=max_steps)
            seq = [p for p in reversed(back[0]) if p[1] is not None] + [(v0, H0, None)] + \
                  [p for p in fwd[0] if p[1] is not None]
            raw.append(([(p[0],) for p in seq], [back[1], fwd[1]]))
    if n_plateau:
        notes.append(f"{n_plateau} Newton start(s) ended on underflow plateaus (pi_(2) < {plateau_tol:g}) "
                     "and were dropped")

    branches: list[Branch] = []
    folds: list[Fold] = []
    exits: list[BoundaryExit] = []
    for bi, (pts, ends) in enumerate(raw):
        V = np.array([p[0] for p in pts])
        Hs, kinds, dets = [], [], []
        for vv in V:  # cheap: one batched call would need per-point eps; loop over branch points
            eps = torch.tensor(math.exp(vv[d]), dtype=torch.float64)
            H, _, h, _, _ = _landscape(torch.from_numpy(vv[None, :d]), Wt, bt, eps, 2)
            Hs.append(float(H[0]))
            k, _ = classify(h, rel_tol=0.0)
            kinds.append(int(k[0]))
            dets.append(float(torch.linalg.det(h[0])))
        Hs, kinds, dets = np.array(Hs), np.array(kinds), np.array(dets)
        Vl, Hl, Kl, Dl = [V[0]], [Hs[0]], [kinds[0]], [dets[0]]
        for i in range(len(V) - 1):
            if np.sign(dets[i]) != np.sign(dets[i + 1]) and dets[i] != 0 and dets[i + 1] != 0:
                vf, ok = _refine_fold(system, V[i], V[i + 1], dets[i], dets[i + 1])
                G, _ = system.extended(vf)
                eps_f = math.exp(vf[d])
                Hf = float(_landscape(torch.from_numpy(vf[None, :d]), Wt, bt,
                                      torch.tensor(eps_f, dtype=torch.float64), 1)[0][0])
                turning = (V[i, d] - vf[d]) * (V[i + 1, d] - vf[d]) > 0
                # both neighbours below the fold: the pair exists below it and vanishes above
                turning_to = "lower" if V[i, d] < vf[d] else "higher"
                inside = bool(np.all(vf[:d] >= box[:, 0]) and np.all(vf[:d] <= box[:, 1]))
                if s_lo <= vf[d] <= s_hi and inside:
                    pair = tuple(sorted((KINDS[kinds[i]], KINDS[kinds[i + 1]]),
                                        key=lambda n: ["minimum", "saddle", "maximum"].index(n)
                                        if n in ("minimum", "saddle", "maximum") else 3))
                    folds.append(Fold(eps=eps_f, x=vf[:d].copy(), H=Hf, kinds=pair,
                                      grad_norm=float(np.linalg.norm(G[:d])), det=float(G[d]),
                                      turning=bool(turning), refined=ok, branch=bi,
                                      turning_to=turning_to))
                Vl.append(vf), Hl.append(Hf), Kl.append(DEGENERATE), Dl.append(0.0)
            Vl.append(V[i + 1]), Hl.append(Hs[i + 1]), Kl.append(kinds[i + 1]), Dl.append(dets[i + 1])
        Vl = np.array(Vl)
        Kl = np.array(Kl)
        inside = np.all((Vl[:, :d] >= box[:, 0]) & (Vl[:, :d] <= box[:, 1]), -1)
        for i in np.nonzero(inside[:-1] != inside[1:])[0]:
            a, c = Vl[i], Vl[i + 1]
            # fraction along the segment where it meets the box edge
            fr = [(edge - a[k]) / (c[k] - a[k]) for k in range(d) for edge in box[k]
                  if (a[k] - edge) * (c[k] - edge) < 0]
            th = (min(fr) if inside[i] else max(fr)) if fr else 0.5
            xe = a + th * (c - a)
            kind = Kl[i] if Kl[i] != DEGENERATE else Kl[i + 1]
            up = c[d] > a[d]                     # eps grows from a to c
            entering = bool(inside[i + 1]) == up
            if s_lo <= xe[d] <= s_hi:
                exits.append(BoundaryExit(eps=math.exp(xe[d]), x=xe[:d].copy(), kind=KINDS[int(kind)],
                                          change=1 if entering else -1, branch=bi))
        branches.append(Branch(x=Vl[:, :d], eps=np.exp(Vl[:, d]), H=np.array(Hl), kind=np.array(Kl),
                               det=np.array(Dl), ends=(ends[0], ends[1])))
    folds.sort(key=lambda f: f.eps)
    exits.sort(key=lambda e: e.eps)
    stalled = [(math.exp(float(np.log(b.eps[0] if j == 0 else b.eps[-1]))), bi)
               for bi, b in enumerate(branches) for j in (0, 1) if b.ends[j] == "stalled"]
    if stalled:
        notes.append("branch end(s) where the corrector could not converge (ridges on which ∇²H is "
                     "singular to working precision): " + ", ".join(f"eps = {e:.4g} (branch {i})"
                                                             for e, i in stalled))
    return BifurcationDiagram(branches=branches, folds=folds, eps_min=float(eps_min),
                              eps_max=float(eps_max), bounds=box, anchors=anchors, notes=notes,
                              exits=exits)
