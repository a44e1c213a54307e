"""Figures of the recovery, quadrature, scaling-trained and intrinsic-dimension experiments."""

from __future__ import annotations

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
        a = atoms[k]
        bottom.plot(ys, np.abs(ys), color="k", lw=1, alpha=0.4, label="g = |y|")
        bottom.scatter(true["y"], true["g"], marker="x", color="k", s=20, label="true atoms")
        size = 10 + 200 * np.asarray(a["w"])
        bottom.scatter(a["y"], a["g"], s=size, color=cols[i], alpha=0.7, label="recovered (size ∝ w)")
        bottom.set_xlabel("y", fontsize=8)
        bottom.set_ylabel("g", fontsize=8)
        bottom.set_ylim(-0.5, 3.5)
    style.finish(axes)
    return {"recovery": fig}


@register_figures("quadrature")
def quadrature_figures(result):
    series = result.series
    dims = sorted({int(k.split("/d")[1]) for k in series})
    cons = ["rate", "scaling", "worst"]
    fig, axes = style.new_figure(len(cons), len(dims), title="Quadrature error vs N (dashed: N^(-1/d))")
    for r, con in enumerate(cons):
        for c, d in enumerate(dims):
            ax = axes[r * len(dims) + c]
            for rule, color in (("endpoint", "C0"), ("midpoint", "C1")):
                s = series.get(f"{con}/{rule}/d{d}")
                if not s:
                    continue
                ax.loglog(s["N"], s["error"], "o-", color=color, ms=3,
                          label=f"{rule} (slope {s['slope']:.2f})")
                N = np.asarray(s["N"], float)
            ref = s["error"][0] * (N / N[0]) ** (-1.0 / d)
            ax.loglog(N, ref, "k--", lw=0.8)
            ax.set_title(f"{con}, d = {d}", fontsize=9)
            ax.set_xlabel("N", fontsize=8)
    style.finish(axes)
    return {"quadrature": fig}


@register_figures("scaling-trained")
def scaling_trained_figures(result):
    curves = result.series["curves"]
    dims = sorted({int(k.split("/d")[1]) for k in curves})
    fig, axes = style.new_figure(1, len(dims), title="Test RMSE vs width (dashed: N^(-1/d))")
    for ax, d in zip(axes, dims):
        for sched, color in (("eps*", "C0"), ("fixed", "C2")):
            s = curves.get(f"{sched}/d{d}")
            if not s:
                continue
            ax.loglog(s["N"], s["rmse"], "o-", color=color, ms=3, label=f"{sched} (slope {s['slope']:.2f})")
        s = curves[f"eps*/d{d}"]
        N = np.asarray(s["N"], float)
        ax.loglog(N, s["rmse"][0] * (N / N[0]) ** (-1.0 / d), "k--", lw=0.8)
        ax.set_title(f"d = {d}", fontsize=9)
        ax.set_xlabel("N", fontsize=8)
    style.finish(axes)
    return {"scaling": fig}


@register_figures("intrinsic-dimension")
def intrinsic_dimension_figures(result):
    s = result.series["estimates"]
    fig, (ax,) = style.new_figure(1, 1, panel_size=(6.5, 3.2), title="TwoNN estimates")
    idx = np.arange(len(s["names"]))
    ax.bar(idx, s["twonn"], color="C0", label="TwoNN")
    true = [np.nan if v is None else v for v in s["true"]]
    ax.scatter(idx, true, color="k", marker="_", s=300, zorder=3, label="true d")
    ax.set_xticks(idx)
    ax.set_xticklabels(s["names"], rotation=30, ha="right", fontsize=7)
    style.finish([ax])
    return {"intrinsic_dimension": fig}
