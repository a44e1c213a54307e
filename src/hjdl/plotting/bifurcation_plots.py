"""Figures of the bifurcation experiments: the diagram (H at every critical point vs eps, folds
and boundary exits marked), counts vs eps, and the critical points over the entropy map."""

from __future__ import annotations

import numpy as np

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["plot_diagram", "draw_diagram", "draw_counts"]

#: colour and marker per kind code (0 minimum, 1 saddle, 2 maximum, -1 fold point)
KIND_STYLE = {0: ("#1565C0", "v", "minimum"), 1: ("#F9A825", "D", "saddle"),
              2: ("#B71C1C", "^", "maximum")}


def draw_diagram(ax, series) -> None:
    """``H`` along every branch vs eps, coloured by kind; folds (black dots), exits (crosses)."""
    for br in series["branches"]:
        eps, H, kind = np.asarray(br["eps"]), np.asarray(br["H"]), np.asarray(br["kind"])
        k = kind.copy()
        for i in range(len(k)):                       # fold points take the next kind's colour
            if k[i] < 0:
                k[i] = k[i + 1] if i + 1 < len(k) else k[i - 1]
        cuts = np.nonzero(k[1:] != k[:-1])[0] + 1
        for seg in np.split(np.arange(len(k)), cuts):
            s = np.r_[seg, seg[-1] + 1] if seg[-1] + 1 < len(k) else seg
            ax.plot(eps[s], H[s], color=KIND_STYLE.get(int(k[seg[0]]), ("grey",))[0], lw=1.1)
    for code, (col, _, name) in KIND_STYLE.items():
        ax.plot([], [], color=col, lw=1.5, label=name)
    if series["folds"]:
        ax.scatter([f["eps"] for f in series["folds"]], [f["H"] for f in series["folds"]],
                   color="k", s=14, zorder=5, label="fold")
    ax.set_xscale("log")
    ax.set_xlabel("eps")
    ax.set_ylabel("H at critical point")


def draw_counts(ax, series) -> None:
    c = series["counts"]
    for code, (col, _, name) in KIND_STYLE.items():
        ax.step(c["eps"], c[name], where="mid", color=col, label=name)
    for f in series["folds"]:
        ax.axvline(f["eps"], color="k", lw=0.5, alpha=0.4)
    for e in series["exits"]:
        ax.axvline(e["eps"], color="grey", lw=0.8, ls=":", alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("eps")
    ax.set_ylabel("number inside the box")


def plot_diagram(diagram, ax=None):
    """Draw a :class:`hjdl.bifurcation.BifurcationDiagram`; returns the matplotlib Figure."""
    from hjdl.bifurcation.continuation import diagram_series
    series = diagram_series(diagram)
    if ax is None:
        fig, (ax,) = style.new_figure(title="Bifurcation diagram")
    else:
        fig = ax.figure
    draw_diagram(ax, series)
    style.finish([ax])
    return fig


@register_figures("bifurcation-1d")
def figures_1d(result):
    s = result.series
    fig, (a, b) = style.new_figure(1, 2, title="Entropy landscape in 1-D: folds in eps")
    draw_diagram(a, s)
    draw_counts(b, s)
    style.finish([a, b])
    fig2, (c,) = style.new_figure(title="Critical points x vs eps")
    for br in s["branches"]:
        c.plot(np.asarray(br["x"])[:, 0], br["eps"], color="0.3", lw=1)
    for f in s["folds"]:
        c.scatter(f["x"][0], f["eps"], color="k", s=14, zorder=5)
    c.scatter(s["atoms"], np.full(len(s["atoms"]), s["counts"]["eps"][0]), color="crimson",
              marker="|", s=80, label="atoms")
    c.set_yscale("log")
    c.set_xlabel("x")
    c.set_ylabel("eps")
    style.finish([c])
    return {"diagram": fig, "branches": fig2}


@register_figures("bifurcation")
def figures_2d(result):
    s = result.series
    fig, (a, b) = style.new_figure(1, 2, title="16 atoms in 2-D: critical points of H vs eps")
    draw_diagram(a, s)
    draw_counts(b, s)
    style.finish([a, b])
    fig2, (c,) = style.new_figure(panel_size=(4.6, 4.2), title="Branches in the plane (colour = log eps)")
    lo, hi = np.asarray(s["bounds"])[:, 0], np.asarray(s["bounds"])[:, 1]
    for br in s["branches"]:
        x = np.asarray(br["x"])
        c.scatter(x[:, 0], x[:, 1], c=np.log10(br["eps"]), s=2, cmap="viridis",
                  vmin=np.log10(s["counts"]["eps"][0]), vmax=np.log10(s["counts"]["eps"][-1]))
    y, g = np.asarray(s["atoms"]), np.asarray(s["g"])
    c.scatter(y[g == 0, 0], y[g == 0, 1], color="#00a8d6", edgecolor="k", s=25, label="g = 0")
    c.scatter(y[g == 1, 0], y[g == 1, 1], color="#e85d26", marker="^", edgecolor="k", s=25, label="g = 1")
    for f in s["folds"]:
        c.scatter(*f["x"], color="k", marker="x", s=30)
    c.set_xlim(lo[0], hi[0])
    c.set_ylim(lo[1], hi[1])
    c.set_xlabel("x1")
    c.set_ylabel("x2")
    style.finish([c])
    return {"diagram": fig, "branches": fig2}
