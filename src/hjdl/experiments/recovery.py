"""Experiment ``recovery`` (THEORY §9 A): fit LSE nets to a Hopf–Lax target, read the atoms back.

Target: ``f*(x) = x²/4 − u_0(x, 1)`` with the Hopf–Lax value of 8 atoms ``y = linspace(−2, 2, 8)``,
``g = |y|`` (a max-affine function). For each eps an ``N = 10`` LSE regressor is fitted (Adam
warm start, then L-BFGS) and its initial data ``(y_j, g_j)`` are recovered through the bijection
(THEORY §2). The attribution-weighted deviation ``δ̄ = Σ_j w_j |g_j − |y_j||``, with ``w_j`` the
mean Gibbs weight of neuron j over the training inputs, measures how far the recovered initial
data lie from the generating curve ``g = |y|``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hjdl.core import InitialData, hopf_cole, hopf_lax
from hjdl.experiments.registry import Claim, Result, Table, identity_verdict, register
from hjdl.training import HJRegressor

__all__ = ["recovery"]


def _target(x: np.ndarray, t: float = 1.0) -> np.ndarray:
    y = np.linspace(-2, 2, 8)[:, None]
    data = InitialData(torch.tensor(y), torch.tensor(np.abs(y[:, 0])))
    xt = torch.tensor(x[:, None])
    return ((xt[:, 0] ** 2) / (4 * t) - hopf_lax(xt, data, t=t)).numpy()


@register(
    "recovery",
    title="Recovering HJ initial data from a trained LSE network",
    description="N = 10 LSE nets fitted to x²/4 − u_0 of 8 atoms with g = |y|; atoms and values read "
                "back through the bijection; attribution-weighted deviation from g = |y| vs eps.",
    presets={
        "quick": {"eps": [0.5, 0.1, 0.04], "width": 10, "n_points": 200, "x_max": 2.5, "max_iter": 600,
                  "lr": 0.02, "refine_iter": 200, "n_restarts": 1, "threads": 1},
        "paper": {"eps": [0.5, 0.1, 0.04], "width": 10, "n_points": 400, "x_max": 2.5, "max_iter": 3000,
                  "lr": 0.01, "refine_iter": 1000, "n_restarts": 5, "threads": 1},
    }, reproduces="§ initial-data recovery",
)
def recovery(config: dict, *, seed: int, progress: bool) -> Result:
    x = np.linspace(-config["x_max"], config["x_max"], config["n_points"])
    target = _target(x)
    X = x[:, None]
    rows, fits, atoms, deltas, ident = [], {}, {}, [], []
    for i, eps in enumerate(config["eps"]):
        reg = HJRegressor(width=config["width"], eps=float(eps), max_iter=config["max_iter"], lr=config["lr"],
                          refine="lbfgs", refine_iter=config["refine_iter"], n_restarts=config["n_restarts"],
                          random_state=seed + i, verbose=progress,
                          n_threads=config["threads"]).fit(X, target)
        pred = reg.predict(X)
        data = reg.initial_data_
        w = reg.layer_.gibbs(torch.tensor(X)).mean(0).numpy()  # attribution mass of each neuron
        yj, gj = data.y[:, 0].numpy(), data.g.numpy()
        delta = float(np.sum(w * np.abs(gj - np.abs(yj))))
        mse = float(np.mean((pred - target) ** 2))
        maxerr = float(np.max(np.abs(pred - target)))
        # T3 on the recovered data: prediction = x²/4t − u(x, t)
        u = hopf_cole(torch.tensor(X), data, float(eps), t=reg.t).numpy()
        ident.append(float(np.max(np.abs(pred - (x**2 / (4 * reg.t) - u)))))
        rows.append([float(eps), mse, maxerr, float(eps) * np.log(config["width"]), delta, int((w > 0.01).sum())])
        deltas.append(delta)
        fits[f"{eps:g}"] = pred.tolist()
        atoms[f"{eps:g}"] = {"y": yj.tolist(), "g": gj.tolist(), "w": w.tolist()}
    order = np.argsort(config["eps"])[::-1]  # from large eps to small
    d_sorted = [deltas[k] for k in order]
    monotone = all(b < a for a, b in zip(d_sorted, d_sorted[1:]))
    # with no trend (the rival) the k values are exchangeable: a strictly decreasing order has
    # probability 1/k!, and only below 5 % does the order alone exclude the rival
    p_order = 1.0 / math.factorial(len(deltas))
    trend = ("confirmed" if p_order <= 0.05 else "inconclusive") if monotone else "not confirmed"
    eps_min = float(np.min(config["eps"]))
    d_min = deltas[int(np.argmin(config["eps"]))]
    d_max = deltas[int(np.argmax(config["eps"]))]
    small = d_min <= 0.05 and d_min < d_max
    claims = [
        Claim("The recovered initial data approach g = |y| as eps decreases (δ̄ decreases).",
              "attribution-weighted deviation δ̄ at each eps, compared in order of decreasing eps; one "
              "fit per eps (no noise estimate), so the order alone must exclude the rival: a strict "
              f"decrease has probability 1/{len(deltas)}! = {p_order:.3g} under no trend, against 0.05",
              ", ".join(f"eps={e:g}: δ̄={d:.3g}" for e, d in zip(config["eps"], deltas)),
              trend,
              ("δ̄ decreases strictly along the eps sequence, but with this few eps values a decreasing "
               "order also arises by chance more than 5 % of the time under no trend"
               if trend == "inconclusive" else "δ̄ decreases strictly along the eps sequence")
              if monotone else "δ̄ does not decrease strictly along the eps sequence",
              rival="no trend: δ̄ does not depend on eps (every order equally likely)"),
        Claim(f"δ̄ <= 0.05 at the smallest eps ({eps_min:g}).",
              "measured δ̄ against 0.05 (a stated tolerance: about 3× the authors' re-run value 0.017) "
              "and below δ̄ at the largest eps; one fit (no noise estimate)",
              f"δ̄ = {d_min:.3g} (largest eps: {d_max:.3g})", "confirmed" if small else "not confirmed",
              "below the tolerance and below the deviation at the largest eps" if small else
              "not below both in this run",
              rival="no recovery: δ̄ at the smallest eps as large as at the largest eps or above 0.05"),
        Claim("The fitted network equals |x|²/(4t) − u(x, t) of its recovered initial data (T3).",
              "float64: prediction against hopf_cole of the recovered (y_j, g_j); holds if the difference "
              "is below 1e-10 (float64 rounding of O(1) terms is ~1e-15)",
              f"max |difference| = {max(ident):.2e}", identity_verdict(max(ident)),
              "an algebraic identity of the bijection", kind="identity"),
    ]
    table = Table("Fits and recovered initial data", ["eps", "MSE", "max fit error", "eps log N", "δ̄",
                                                      "neurons with w > 0.01"], rows)
    return Result(name="recovery", preset="", config=config, tables={"fits": table},
                  series={"fit": {"x": x.tolist(), "target": target.tolist(), "pred": fits},
                          "atoms": atoms,
                          "true_atoms": {"y": np.linspace(-2, 2, 8).tolist(),
                                         "g": np.abs(np.linspace(-2, 2, 8)).tolist()}},
                  claims=claims,
                  notes=["w_j is the mean Gibbs weight of neuron j over the training inputs; neurons "
                         "with no attribution mass do not count in δ̄.",
                         "Restarts are selected on the training loss (no test set is involved here)."],
                  summary=f"δ̄ = {', '.join(f'{d:.3g}' for d in deltas)} at eps = {config['eps']}")
