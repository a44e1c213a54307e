"""Figures of the ``generalization-rate`` experiment: test RMSE against n, one figure per dimension."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["generalization_rate_figures"]

_COLOURS = {"lse-theory": "C0", "lse-validated": "C1", "knn": "C2", "mlp": "C3", "lse-fixed": "C7"}
_MARKERS = {"lse-theory": "o", "lse-validated": "s", "knn": "^", "mlp": "D", "lse-fixed": "x"}


@register_figures("generalization-rate")
def generalization_rate_figures(result):
    """``{"generalization_d{d}": fig}``: one panel per target, one line per model (geometric mean
    over seeds, band from the smallest to the largest seed), dashed ``n^{−1/(d+2)}`` through the
    k-NN curve's first point."""
    curves, labels = result.series["curves"], result.series["labels"]
    dims = sorted({int(k.rsplit("/d", 1)[1]) for k in curves})
    targets = list(dict.fromkeys(k.split("/")[1] for k in curves))
    figures = {}
    for d in dims:
        cols = 2 if len(targets) == 4 else len(targets)  # 2 x 2 for four targets, else one row
        fig, axes = style.new_figure(len(targets) // cols, cols, title=f"Test RMSE vs training samples n, d = {d}")
        for ax, target in zip(axes, targets):
            for m, label in labels.items():
                s = curves.get(f"{m}/{target}/d{d}")
                if not s:
                    continue
                n = np.asarray(s["n"], float)
                ax.fill_between(n, s["rmse_min"], s["rmse_max"], color=_COLOURS[m], alpha=0.12, lw=0)
                ax.plot(n, s["rmse"], marker=_MARKERS[m], ms=3, lw=1.2, color=_COLOURS[m],
                        label=f"{label} ({-s['alpha']:.2f})")
            first = curves.get(f"knn/{target}/d{d}") or next(curves[k] for k in curves if k.endswith(f"/{target}/d{d}"))
            n = np.asarray(first["n"], float)
            ax.plot(n, first["rmse"][0] * (n / n[0]) ** (-1.0 / (d + 2)), "k--", lw=0.9,
                    label=f"n^(−1/(d+2)) ({-1 / (d + 2):.2f})")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(FixedLocator(n))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.tick_params(axis="x", labelrotation=45)
            ax.set_title(f"target: {target}", fontsize=9)
            ax.set_xlabel("training samples n", fontsize=8)
            ax.set_ylabel("test RMSE vs noise-free target", fontsize=8)
        for ax in axes:
            ax.legend(fontsize=6, frameon=False, title="model (fitted slope)", title_fontsize=6)
        style.set_caption(fig, (
            f"Test RMSE against the number of training samples n for d = {d}, log-log, one panel per target "
            "(Hopf-Lax solutions of Lipschitz data, and a smooth control). Lines: geometric mean over seeds, "
            "bands: smallest to largest seed; the legend gives each model's fitted log-log slope. LSE theory: "
            "N ∝ n^(d/(d+2)), eps = N^(-1/d); LSE validated: N and eps chosen on a validation split; k-NN: "
            "k ∝ n^(2/(d+2)); MLP: scikit-learn MLPRegressor defaults; LSE fixed: N and eps held constant. Dashed: the minimax slope "
            f"-1/(d+2) = -{1 / (d + 2):.3f} (MSE ∝ n^(-{2 / (d + 2):.3f})) through the first k-NN point."))
        figures[f"generalization_d{d}"] = fig
    return figures
