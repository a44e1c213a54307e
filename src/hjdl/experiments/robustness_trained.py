"""Experiment ``robustness-trained`` (THEORY §9 C): the curvature bound on trained LSE nets.

``N = 30`` single-layer LSE nets ``f(x) = LSE_eps(Wx + b)`` are fitted to ``|x|`` on uniform
samples of ``[−2, 2]`` (Adam through :class:`hjdl.training.HJRegressor`, best of several seeds)
for ``eps ∈ {.08, .12, .2, .35, .6, 1}``. Reported per eps: the fit error on a test grid of
``[−1.8, 1.8]``, the largest measured ``|f''(x)|`` on the grid (closed form ``Var_π(W)/eps``),
the paper's bound ``max_j W_j²/eps`` and the sharper ``R²/eps`` with ``R = (max W − min W)/2``
(the minimum enclosing "ball" of the 1-D rows). The authors' re-run reported a nearly tight
bound (12.40 vs 12.59 at eps = .08).
"""

from __future__ import annotations

import numpy as np
import torch

from hjdl.experiments.registry import Claim, Result, Table, register, theorem_verdict
from hjdl.robustness import curvature, curvature_bound

__all__ = ["robustness_trained"]


def _units(config: dict, seed: int) -> list[dict]:
    """One unit per (eps, training seed): each trains one net."""
    return [{"eps_index": k, "eps": float(eps), "seed_index": s}
            for k, eps in enumerate(config["eps"]) for s in range(config["seeds"])]


def _run_unit(config: dict, unit: dict, *, seed: int, progress: bool) -> dict:
    from hjdl.training import HJRegressor  # the estimator of the models issue

    k, s, eps = int(unit["eps_index"]), int(unit["seed_index"]), float(unit["eps"])
    rng = np.random.default_rng(seed)
    x_tr = rng.uniform(-2.0, 2.0, config["n_train"])
    x_te = np.linspace(-1.8, 1.8, config["n_test"])
    X_te = torch.tensor(x_te[:, None])
    reg = HJRegressor(width=config["width"], eps=eps, max_iter=config["max_iter"],
                      lr=config["lr"], refine=None, random_state=seed * 1000 + 10 * k + s,
                      n_iter_no_change=10 ** 9, verbose=progress,
                      n_threads=config["threads"]).fit(x_tr[:, None], np.abs(x_tr))
    rmse = float(np.sqrt(np.mean((reg.predict(x_te[:, None]) - np.abs(x_te)) ** 2)))
    return {"rmse": rmse, "measured": float(curvature(reg, X_te).max()),
            "row_norm": float(curvature_bound(reg, "row-norm")),
            "ball": float(curvature_bound(reg, "enclosing-ball"))}


def _assemble(config: dict, payloads: list, *, seed: int) -> Result:
    n_seeds = config["seeds"]
    rows, measured, rowb, ballb, rmses = [], [], [], [], []
    for k, eps in enumerate(config["eps"]):
        nets = payloads[k * n_seeds:(k + 1) * n_seeds]
        best = min(range(len(nets)), key=lambda i: nets[i]["rmse"])  # the first best, as a loop keeping strict <
        p = nets[best]
        rmse, c, rb, bb = p["rmse"], p["measured"], p["row_norm"], p["ball"]
        measured.append(c), rowb.append(rb), ballb.append(bb), rmses.append(rmse)
        rows.append([float(eps), rmse, c, rb, bb, c / rb, c / bb, "yes" if c > bb * (1 + 1e-12) else "no"])
    return _result(config, rows, measured, rowb, ballb, rmses)


@register(
    "robustness-trained",
    title="Curvature bound on LSE nets trained on |x|",
    description="N = 30 LSE nets fitted to |x| for eps in {.08, .12, .2, .35, .6, 1}: fit error, max "
                "measured curvature on test points, max|W_j|²/eps and R²/eps; the bound is never violated.",
    presets={
        "quick": {"eps": [0.08, 0.12, 0.2, 0.35, 0.6, 1.0], "width": 30, "n_train": 200, "n_test": 200,
                  "max_iter": 300, "lr": 0.02, "seeds": 1, "threads": 1},
        "paper": {"eps": [0.08, 0.12, 0.2, 0.35, 0.6, 1.0], "width": 30, "n_train": 500, "n_test": 200,
                  "max_iter": 4000, "lr": 0.01, "seeds": 3, "threads": 1},
    },
    units=_units,
    run_unit=_run_unit,
    assemble=_assemble, reproduces="§ robustness (Hessian bound, 1-D target)",
)
def robustness_trained(config: dict, *, seed: int, progress: bool) -> Result:
    """The serial run: every unit, one after the other (what ``Experiment.run`` does too)."""
    return _assemble(config, [_run_unit(config, u, seed=seed, progress=progress) for u in _units(config, seed)],
                     seed=seed)


def _result(config: dict, rows: list, measured: list, rowb: list, ballb: list, rmses: list) -> Result:
    measured, rowb, ballb = map(np.asarray, (measured, rowb, ballb))
    violations = int(np.sum(measured > ballb * (1 + 1e-12)) + np.sum(measured > rowb * (1 + 1e-12)))
    i0 = int(np.argmin(config["eps"]))
    tight = float(measured[i0] / rowb[i0])
    claims = [
        Claim("The curvature bound max_j W_j²/eps (and R²/eps) is never violated by trained nets.",
              f"max |f''| over {config['n_test']} test points vs both bounds, every eps (rounding "
              "allowance 1e-12)",
              f"violations: {violations}",
              theorem_verdict(violations == 0),
              "A theorem (f'' = Var_π(W)/eps <= R²/eps <= max_j W_j²/eps for every net), so training "
              "cannot break it; the check guards the implementation, it is not evidence", kind="theorem"),
        Claim("The bound is nearly tight at small eps (paper: 12.40 vs 12.59 at eps = .08).",
              "measured/row-norm bound at the smallest eps: >= 0.9 (a stated tolerance: within 10 % of "
              "the authors' ratio 0.985) confirms, <= 0.5 (loose by a factor 2) refutes; one trained "
              "net per eps, so no noise estimate",
              f"eps = {config['eps'][i0]}: {measured[i0]:.4g} vs {rowb[i0]:.4g} (ratio {tight:.3f})",
              "confirmed" if tight >= 0.9 else ("partly" if tight > 0.5 else "not confirmed"),
              "ratio >= 0.9" if tight >= 0.9 else f"ratio {tight:.2f} < 0.9 in this run "
              f"(fit RMSE {rmses[i0]:.3g}; the quick preset trains briefly)",
              rival="a loose bound: measured/bound <= 0.5"),
    ]
    return Result(
        name="robustness-trained", preset="", config=config,
        tables={"bound": Table("Trained N = 30 nets on |x|: curvature vs bound",
                               ["eps", "fit RMSE", "max |f''|", "max W²/eps", "R²/eps",
                                "measured/row", "measured/ball", "violated"], rows)},
        series={"bound": {"eps": list(map(float, config["eps"])), "measured": measured.tolist(),
                          "row_norm": rowb.tolist(), "ball": ballb.tolist(), "rmse": rmses}},
        claims=claims,
        notes=["Test points: the grid x ∈ [−1.8, 1.8] (as the authors); the measured maximum is "
               "over that grid only."],
        summary=f"{violations} violations; at eps = {config['eps'][i0]} measured {measured[i0]:.3g} vs "
                f"bound {rowb[i0]:.3g} (ratio {tight:.2f}).",
    )
