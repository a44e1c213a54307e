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
    ax.set_xlabel("temperature eps")
    ax.set_ylabel("entropy H(π) at the critical point (nats)")


def draw_counts(ax, series) -> None:
    """Number of critical points of each kind inside the box against eps (integer ticks); folds
    (thin black lines) and boundary exits (dotted grey lines) marked."""
    c = series["counts"]
    for code, (col, _, name) in KIND_STYLE.items():
        ax.step(c["eps"], c[name], where="mid", color=col, label=name)
    for k, f in enumerate(series["folds"]):
        ax.axvline(f["eps"], color="k", lw=0.5, alpha=0.4, label="fold" if k == 0 else None)
    for k, e in enumerate(series["exits"]):
        ax.axvline(e["eps"], color="grey", lw=0.8, ls=":", alpha=0.8, label="boundary exit" if k == 0 else None)
    ax.set_xscale("log")
    ax.set_xlabel("temperature eps")
    ax.set_ylabel("number of critical points in the box")
    style.integer_ticks(ax, "y")


def plot_diagram(diagram, ax=None):
    """Draw a :class:`hjdl.bifurcation.BifurcationDiagram`; returns the matplotlib Figure."""
    from hjdl.bifurcation.continuation import diagram_series
    series = diagram_series(diagram)
    if ax is None:
        fig, (ax,) = style.new_figure(title="Bifurcation diagram")
        style.set_caption(fig, _DIAGRAM_CAPTION)
    else:
        fig = ax.figure
    draw_diagram(ax, series)
    style.finish([ax])
    return fig


_DIAGRAM_CAPTION = ("The entropy H(π) of the Gibbs weights at every critical point of the entropy landscape "
                    "x ↦ H(π(x)), followed in the temperature eps (log axis): blue minima, yellow saddles, red "
                    "maxima; black dots are folds, where two branches meet and vanish.")


@register_figures("bifurcation-1d")
def figures_1d(result):
    s = result.series
    fig, (a, b) = style.new_figure(1, 2, title="Entropy landscape in 1-D: folds in eps")
    draw_diagram(a, s)
    draw_counts(b, s)
    style.finish([a, b])
    style.set_caption(fig, f"{len(s['atoms'])} atoms on a line. Left: {_DIAGRAM_CAPTION} Right: the number of "
                           "critical points of each kind inside the box against eps; thin black lines mark "
                           "folds, dotted grey lines branches leaving through the box boundary.")
    fig2, (c,) = style.new_figure(title="Critical points x vs eps")
    for k, br in enumerate(s["branches"]):
        c.plot(np.asarray(br["x"])[:, 0], br["eps"], color="0.3", lw=1,
               label="branch of critical points" if k == 0 else None)
    for k, f in enumerate(s["folds"]):
        c.scatter(f["x"][0], f["eps"], color="k", s=14, zorder=5, label="fold" if k == 0 else None)
    c.scatter(s["atoms"], np.full(len(s["atoms"]), s["counts"]["eps"][0]), color="crimson",
              marker="|", s=80, label="atoms y_j")
    c.set_yscale("log")
    c.set_xlabel("position x")
    c.set_ylabel("temperature eps")
    style.finish([c])
    style.set_caption(fig2, "Positions x of the critical points of the entropy landscape (grey curves) as the "
                            "temperature eps (log axis) varies; black dots are folds, where two critical "
                            "points merge and vanish; red ticks at the bottom mark the atoms.")
    return {"diagram": fig, "branches": fig2}


@register_figures("bifurcation")
def figures_2d(result):
    s = result.series
    n = len(s["atoms"])
    fig, (a, b) = style.new_figure(1, 2, title=f"{n} atoms in 2-D: critical points of H vs eps")
    draw_diagram(a, s)
    draw_counts(b, s)
    style.finish([a, b])
    style.set_caption(fig, f"{n} atoms in two clusters in the plane. Left: {_DIAGRAM_CAPTION} Right: the "
                           "number of critical points of each kind inside the box against eps; thin black "
                           "lines mark folds, dotted grey lines branches leaving through the box boundary.")
    fig2, (c,) = style.new_figure(panel_size=(4.8, 4.2), title="Branches in the plane")
    lo, hi = np.asarray(s["bounds"])[:, 0], np.asarray(s["bounds"])[:, 1]
    vmin, vmax = np.log10(s["counts"]["eps"][0]), np.log10(s["counts"]["eps"][-1])
    sc = None
    for br in s["branches"]:
        x = np.asarray(br["x"])
        sc = c.scatter(x[:, 0], x[:, 1], c=np.log10(br["eps"]), s=2, cmap="viridis", vmin=vmin, vmax=vmax)
    if sc is not None:
        bar = fig2.colorbar(sc, ax=c)
        bar.set_label("log10 eps along the branch", fontsize=8)
        bar.ax.tick_params(labelsize=8)
    y, g = np.asarray(s["atoms"]), np.asarray(s["g"])
    c.scatter(y[g == 0, 0], y[g == 0, 1], color="#00a8d6", edgecolor="k", s=25, label="atom, g = 0")
    c.scatter(y[g == 1, 0], y[g == 1, 1], color="#e85d26", marker="^", edgecolor="k", s=25, label="atom, g = 1")
    for k, f in enumerate(s["folds"]):
        c.scatter(*f["x"], color="k", marker="x", s=30, label="fold" if k == 0 else None)
    c.set_xlim(lo[0], hi[0])
    c.set_ylim(lo[1], hi[1])
    c.set_xlabel("x₁")
    c.set_ylabel("x₂")
    style.finish([c])
    style.set_caption(fig2, "The critical points of the entropy landscape traced in the plane as eps varies "
                            "(small dots, coloured by log10 eps), over the atoms (circles g = 0, triangles "
                            "g = 1); crosses mark folds. The axes are the box in which critical points are "
                            "followed.")
    return {"diagram": fig, "branches": fig2}
