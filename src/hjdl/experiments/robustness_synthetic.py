"""Experiment ``robustness-synthetic`` (THEORY §6, T6): measured curvature vs the two eps-bounds.

``N = 40`` unit-norm rows in ``d = 8``, ``b = 0``; for each eps in ``[0.05, 10]`` the largest
measured ``‖∇²f(x)‖₂`` is compared with the paper's bound ``max_j |W_j|²/eps`` (= 1/eps for unit
rows) and the sharper ``R²/eps`` (``R`` = minimum enclosing ball of the rows). The bounds hold
for every x; the ratios say how tight they are.

With ``b = 0`` the layer is scale-free: ``f_eps(x) = eps F(x/eps)`` with ``F`` the eps = 1 layer,
so ``‖∇²f_eps(eps z)‖₂ = ‖∇²F(z)‖₂/eps`` and the supremum over x is ``S/eps`` for one constant
``S``. The search therefore runs in ``z = x/eps``: Gaussian points at several scales; points far
out along the direction that exposes each edge ``(W_i, W_j)`` of the rows' convex hull (found by
a linear programme), where π tends to ``(½, ½)`` on the pair and the curvature to the two-row
limit ``|W_i − W_j|²/4``; then gradient ascent of the curvature from the highest points. Every
eps evaluates the curvature afresh at ``x = eps z`` for all of these points. The search can only
under-estimate ``S``, so a ratio below 1 is no evidence of a loose bound by itself.
"""

from __future__ import annotations

import numpy as np
import torch

from hjdl._progress import progress as _progress
from hjdl.experiments.registry import Claim, Result, Table, identity_verdict, register, theorem_verdict
from hjdl.robustness import curvature, curvature_bound, enclosing_ball

__all__ = ["robustness_synthetic"]


def _ascend(W, b, Z0: torch.Tensor, steps: int) -> torch.Tensor:
    """Gradient ascent of the eps = 1 curvature from the starting points (Adam on z)."""
    z = Z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        (-curvature((W, b, 1.0), z).sum()).backward()
        opt.step()
    return z.detach()


def exposed_edges(W: np.ndarray, n_pairs: int | None, progress: bool = False):
    """``[(i, j, u, m)]``: pairs of rows (the ``n_pairs`` farthest apart, or all) that are edges of
    the convex hull, with a unit-box direction ``u`` (``u·W_i = u·W_j``) and the margin ``m > 0``
    by which they beat every other row along it (linear programme: maximise ``m``)."""
    from scipy.optimize import linprog

    N, d = W.shape
    iu, ju = np.triu_indices(N, 1)
    dist = np.linalg.norm(W[iu] - W[ju], axis=1)
    order = np.argsort(-dist, kind="stable")[: n_pairs if n_pairs is not None else len(dist)]
    out = []
    for k in _progress(order, desc="hull edges", enabled=progress):
        i, j = int(iu[k]), int(ju[k])
        others = np.delete(np.arange(N), [i, j])
        A_ub = np.hstack([W[others] - W[i], np.ones((len(others), 1))])
        res = linprog(np.r_[np.zeros(d), -1.0], A_ub=A_ub, b_ub=np.zeros(len(others)),
                      A_eq=np.r_[W[i] - W[j], 0.0][None], b_eq=[0.0],
                      bounds=[(-1.0, 1.0)] * d + [(None, 1.0)], method="highs")
        if res.status == 0 and res.x[-1] > 1e-9:
            out.append((i, j, res.x[:d], float(res.x[-1])))
    return out


def _search_points(W: torch.Tensor, n: int, edges, gen: torch.Generator) -> torch.Tensor:
    d = W.shape[1]
    scales = torch.tensor([0.1, 0.5, 1.0, 3.0, 10.0, 30.0], dtype=W.dtype)
    Z = (torch.randn(len(scales), n, d, generator=gen, dtype=W.dtype) * scales[:, None, None]).reshape(-1, d)
    if not edges:
        return Z
    U = torch.tensor(np.array([u / m for _, _, u, m in edges]), dtype=W.dtype)
    gaps = torch.tensor([1.0, 3.0, 10.0, 30.0], dtype=W.dtype)  # logit gap to the other rows
    return torch.cat([Z, (gaps[:, None, None] * U[None]).reshape(-1, d)])


@register(
    "robustness-synthetic",
    title="Curvature vs the eps-controlled bounds on a synthetic layer",
    description="N = 40 unit-norm rows in d = 8, b = 0: measured max ||∇²f||₂ vs max|W_j|²/eps and "
                "R²/eps (minimum enclosing ball) for eps in [0.05, 10].",
    presets={
        "quick": {"n_rows": 40, "dim": 8, "eps_min": 0.05, "eps_max": 10.0, "n_eps": 6, "n_points": 200,
                  "n_pairs": 300, "n_ascent": 16, "ascent_steps": 60},
        "paper": {"n_rows": 40, "dim": 8, "eps_min": 0.05, "eps_max": 10.0, "n_eps": 30, "n_points": 4000,
                  "n_pairs": None, "n_ascent": 64, "ascent_steps": 400},
    }, reproduces="Cor. 8.2 (robustness vs eps)",
)
def robustness_synthetic(config: dict, *, seed: int, progress: bool) -> Result:
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(config["n_rows"], config["dim"], generator=gen, dtype=torch.float64)
    W = W / W.norm(dim=1, keepdim=True)
    b = torch.zeros(config["n_rows"], dtype=torch.float64)
    edges = exposed_edges(W.numpy(), config["n_pairs"], progress)
    two_row = max((float(np.sum((W[i] - W[j]).numpy() ** 2)) / 4 for i, j, _, _ in edges), default=0.0)
    Z = _search_points(W, config["n_points"], edges, gen)
    c1 = curvature((W, b, 1.0), Z)
    Za = _ascend(W, b, Z[c1.argsort(descending=True)[: config["n_ascent"]]], config["ascent_steps"])
    Z = torch.cat([Z, Za])
    R = enclosing_ball(W).radius
    row_norm = float(W.norm(dim=1).max())
    eps_grid = np.geomspace(config["eps_min"], config["eps_max"], config["n_eps"])
    rows, measured, row_b, ball_b = [], [], [], []
    for eps in _progress(eps_grid, desc="eps", enabled=progress):
        c = float(curvature((W, b, float(eps)), float(eps) * Z).max())
        rb = float(curvature_bound((W, b, float(eps)), "row-norm"))
        bb = float(curvature_bound((W, b, float(eps)), "enclosing-ball"))
        measured.append(c), row_b.append(rb), ball_b.append(bb)
        rows.append([float(eps), c, float(eps) * c, rb, bb, c / rb, c / bb])
    measured, row_b, ball_b = map(np.asarray, (measured, row_b, ball_b))
    violated = int(np.sum(measured > ball_b * (1 + 1e-12)) + np.sum(measured > row_b * (1 + 1e-12)))
    scaled = measured * eps_grid
    spread = float(scaled.max() / scaled.min() - 1)
    decreasing = bool(np.all(np.diff(measured) < 0))
    ball_ok = R <= row_norm * (1 + 1e-12)
    claims = [
        Claim("‖∇²f(x)‖₂ <= max_j|W_j|²/eps and <= R²/eps at every measured point and eps (T6).",
              f"{len(Z)} points × {len(eps_grid)} eps; curvature by the batched exact engine (rounding "
              "allowance 1e-12)",
              f"violations: {violated}; max measured/ball = {float(np.max(measured / ball_b)):.4f}",
              theorem_verdict(violated == 0),
              "A theorem: ∇²f = Cov_π(W)/eps and ‖Cov_π W‖ <= R² <= max_j|W_j|² for every π, so no "
              "point can exceed either bound; the check guards the implementation, it is not evidence", kind="theorem"),
        Claim("Raising eps lowers the largest curvature over x (robustness controlled by eps).",
              "measured max curvature along the increasing eps grid",
              ", ".join(f"{e:.3g}: {m:.3g}" for e, m in zip(eps_grid[::3], measured[::3])),
              theorem_verdict(decreasing),
              "Holds by the configuration: with b = 0 and the points scaled with eps the measured "
              "maximum is exactly S/eps for one constant S, strictly decreasing in eps", kind="theorem"),
        Claim("With b = 0 the curvature is scale-free: eps·‖∇²f_eps(eps z)‖₂ does not depend on eps.",
              "eps × measured max over the grid, each eps evaluated afresh at x = eps z; holds if the "
              "relative spread is below 1e-10 (float64 rounding is ~1e-15)",
              f"relative spread {spread:.1e}",
              identity_verdict(spread), "f_eps(x) = eps F(x/eps) when b = 0", kind="identity"),
        Claim("The enclosing-ball bound R²/eps is never looser than the row-norm bound.",
              "R from the minimum enclosing ball vs max_j |W_j| (rounding allowance 1e-12)",
              f"R = {R:.16g}, max_j|W_j| = {row_norm:.16g}",
              theorem_verdict(ball_ok),
              "A theorem: the ball of radius max_j|W_j| at 0 holds the rows, so the smallest ball is "
              "no larger", kind="theorem"),
    ]
    notes = [
        f"R = {R:.6f} (minimum enclosing ball of the unit rows; R = 1 when the origin lies in the "
        "convex hull of the rows, and then both bounds coincide).",
        f"{len(edges)} of the {config['n_pairs'] or 'all'} farthest pairs of rows are hull edges; "
        f"their two-row limit max |W_i − W_j|²/4 = {two_row:.4f} is approached along their exposing "
        f"directions, so eps·sup‖∇²f‖₂ >= {two_row:.4f}; the search reached {scaled.max():.4f} "
        f"(ratio to R² {scaled.max() / (R * R):.3f}).",
        "Since the supremum is S/eps for one constant S, measured/bound ratios are the same at every "
        "eps; how far they sit below 1 is the slack of the bound on this layer (or of the search).",
    ]
    return Result(
        name="robustness-synthetic", preset="", config=config,
        tables={"bounds": Table("Measured max curvature vs bounds",
                                ["eps", "measured max", "eps × measured", "row-norm bound",
                                 "ball bound", "measured/row", "measured/ball"], rows)},
        series={"bounds": {"eps": eps_grid.tolist(), "measured": measured.tolist(),
                           "row_norm": row_b.tolist(), "ball": ball_b.tolist()}},
        claims=claims, notes=notes,
        summary=f"bounds never violated ({violated} violations); measured/ball ratio "
                f"{float(np.max(measured / ball_b)):.3f} at every eps (two-row limit "
                f"{two_row / (R * R):.3f}), R² = {R * R:.3f} vs row-norm 1.",
    )
