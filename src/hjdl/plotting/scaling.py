"""Figures of the recovery, quadrature, scaling-trained and intrinsic-dimension experiments."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["recovery_figures", "quadrature_figures", "scaling_trained_figures", "intrinsic_dimension_figures"]


@register_figures("recovery")
def recovery_figures(result):
    fit, atoms, true = result.series["fit"], result.series["atoms"], result.series["true_atoms"]
    keys = list(fit["pred"])
    fig, axes = style.new_figure(2, len(keys), title="Fits (top) and recovered initial data (bottom)")
    cols = style.colors(len(keys))
    ys = np.linspace(min(true["y"]) - 0.5, max(true["y"]) + 0.5, 200)
    for i, k in enumerate(keys):
        top, bottom = axes[i], axes[len(keys) + i]
        top.plot(fit["x"], fit["target"], color="k", lw=2, alpha=0.4, label="target x²/4 − u₀")
        top.plot(fit["x"], fit["pred"][k], color=cols[i], lw=1.2, label=f"LSE fit, eps={k}")
        top.set_xlabel("x", fontsize=8)
        top.set_ylabel("f(x)", fontsize=8)
        a = atoms[k]
        bottom.plot(ys, np.abs(ys), color="k", lw=1, alpha=0.4, label="g = |y|")
        bottom.scatter(true["y"], true["g"], marker="x", color="k", s=20, label="true atoms")
        size = 10 + 200 * np.asarray(a["w"])
        bottom.scatter(a["y"], a["g"], s=size, color=cols[i], alpha=0.7, label="recovered (size ∝ w)")
        bottom.set_xlabel("atom position y", fontsize=8)
        bottom.set_ylabel("initial value g(y)", fontsize=8)
        bottom.set_ylim(-0.5, 3.5)
    style.finish(axes)
    style.set_caption(fig, f"One column per temperature eps ({', '.join(keys)}). Top: the LSE network of "
                           f"width {len(atoms[keys[0]]['y'])} fitted to the Hopf–Lax target x²/4 − u₀(x, 1) "
                           "(grey) on x. Bottom: the initial data (y_j, g_j) read back from the fitted "
                           "weights through the bijection (dots, area proportional to the mean Gibbs "
                           "weight w_j of the neuron), against the generating atoms (crosses) and the "
                           "curve g = |y| they lie on. Dimensionless.")
    return {"recovery": fig}


@register_figures("quadrature")
def quadrature_figures(result):
    series = result.series
    dims = sorted({int(k.split("/d")[1]) for k in series})
    cons = ["rate", "scaling", "worst"]
    fig, axes = style.new_figure(len(cons), len(dims), title="Quadrature error vs number of atoms N")
    for r, con in enumerate(cons):
        order = 2.0 if con == "scaling" else 1.0       # the rate each construction is expected to show
        for c, d in enumerate(dims):
            ax = axes[r * len(dims) + c]
            first = None
            for rule, color in (("endpoint", "C0"), ("midpoint", "C1")):
                s = series.get(f"{con}/{rule}/d{d}")
                if not s:
                    continue
                shown, below, _ = style.log_floor(s["error"])
                ax.loglog(s["N"], shown, "o-", color=color, ms=3, label=f"{rule} (slope {s['slope']:.2f})")
                style.mark_floor(ax, s["N"], shown, below, color=color,
                                 label="error 0, drawn at a floor" if below.any() else None)
                first = first or s
            if first is not None:
                N = np.asarray(first["N"], float)
                expo = str(Fraction(int(order), d))
                ax.loglog(N, first["error"][0] * (N / N[0]) ** (-order / d), "k--", lw=0.8,
                          label=f"N^(−{expo})")
            ax.set_title(f"{con}, d = {d}", fontsize=9)
            ax.set_xlabel("number of atoms N", fontsize=8)
            ax.set_ylabel("max |u_N − u|", fontsize=8)
    style.finish(axes)
    style.set_caption(fig, "Error of N atoms used as quadrature nodes of the continuum Hopf–Cole value on "
                           "[−L, L]^d: the largest absolute difference |u_N − u| over the evaluation points, "
                           "against N, log-log; one row per construction (rate: g = |y|, eps = 1; scaling: "
                           "g = |y|²/2, eps = N^(−1/d); worst: a Lipschitz g with kinks at the grid scale), "
                           "one column per dimension d. Blue: endpoint-inclusive grid, orange: midpoint grid, "
                           "with their fitted log-log slopes; dashed: the expected rate, N^(−1/d) "
                           "(N^(−2/d) for scaling), drawn through the first point. Dimensionless.")
    return {"quadrature": fig}


@register_figures("scaling-trained")
def scaling_trained_figures(result):
    curves = result.series["curves"]
    dims = sorted({int(k.split("/d")[1]) for k in curves})
    fig, axes = style.new_figure(1, len(dims), title="Test RMSE vs width N of the LSE layer")
    for ax, d in zip(axes, dims):
        for sched, color in (("eps*", "C0"), ("fixed", "C2")):
            s = curves.get(f"{sched}/d{d}")
            if not s:
                continue
            shown, below, _ = style.log_floor(s["rmse"])
            ax.loglog(s["N"], shown, "o-", color=color, ms=3, label=f"{sched} (slope {s['slope']:.2f})")
            style.mark_floor(ax, s["N"], shown, below, color=color,
                             label="RMSE 0, drawn at a floor" if below.any() else None)
        s = curves[f"eps*/d{d}"]
        N = np.asarray(s["N"], float)
        ax.loglog(N, s["rmse"][0] * (N / N[0]) ** (-1.0 / d), "k--", lw=0.8, label=f"N^(−1/{d})")
        ax.set_title(f"d = {d}", fontsize=9)
        ax.set_xlabel("width N (atoms)", fontsize=8)
        ax.set_ylabel("test RMSE", fontsize=8)
    style.finish(axes)
    style.set_caption(fig, "Test root-mean-square error of Adam-trained one-layer LSE networks fitted to "
                           "‖x‖ on [−2, 2]^d, against the width N, log-log, one panel per dimension d. "
                           "Blue: eps = N^(−1/d) (eps*), green: eps held fixed (control); the model with the "
                           "lowest validation RMSE among the seeds is shown, with the fitted slope in the "
                           "legend. Dashed: the rate N^(−1/d) through the first point. Dimensionless.")
    return {"scaling": fig}


@register_figures("intrinsic-dimension")
def intrinsic_dimension_figures(result):
    s = result.series["estimates"]
    fig, (ax,) = style.new_figure(1, 1, panel_size=(6.5, 3.2), title="Intrinsic dimension: TwoNN estimate against the truth")
    idx = np.arange(len(s["names"]))
    ax.bar(idx, s["twonn"], color="C0", label="TwoNN")
    true = [np.nan if v is None else v for v in s["true"]]
    ax.scatter(idx, true, color="k", marker="_", s=300, zorder=3, label="true d")
    ax.set_xticks(idx)
    ax.set_xticklabels(s["names"], rotation=30, ha="right", fontsize=7)
    ax.set_xlabel("data set")
    ax.set_ylabel("intrinsic dimension")
    style.finish([ax])
    style.set_caption(fig, "The TwoNN estimate of the intrinsic dimension (bars) of point clouds of known "
                           "dimension (linear subspaces, swiss rolls and spheres embedded with small noise) "
                           "and of scikit-learn's 8×8 digits, with the true dimension (black ticks; none for "
                           "the digits, whose dimension is unknown).")
    return {"intrinsic_dimension": fig}
