"""Figures of the phase experiments: H(π) vs eps, π at a query, the atoms and queries, entropy maps
cold / critical / hot on one colour scale, soft prediction with characteristic arrows ∇u, class
maps with a legend of the classes; and GIF frames across eps."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["phase_figures", "gif_frames"]

_LEVELS = 25  # filled contour bands per map; the band edges are fixed, so panels share one scale


def _classes(s) -> list[int]:
    return sorted(set(np.asarray(s["labels"]).tolist()))


def _class_colours(s) -> dict[int, tuple]:
    classes = _classes(s)
    return dict(zip(classes, style.colors(len(classes), "tab10")))


def _class_name(s, c) -> str:
    if len(_classes(s)) > 2:
        return f"digit {c}"
    digits = s.get("_digits")                     # phase-mnist: the two digits behind classes 0 / 1
    return f"digit {digits[c]} (g = {c})" if digits and len(digits) == 2 else f"class {c} (g = {c})"


def _series(result) -> dict:
    """The result's series, plus the digit pair of ``phase-mnist`` (for the legend)."""
    return {**result.series, "_digits": (result.config or {}).get("classes")}


def _axis_names(result) -> tuple[str, str]:
    if result.name == "phase-synthetic":
        return "x₁", "x₂"
    return "principal component 1", "principal component 2"


def _atoms(ax, s, legend: bool = False):
    y, lab = np.asarray(s["atoms"]), np.asarray(s["labels"])
    for c, col in _class_colours(s).items():
        ax.scatter(y[lab == c, 0], y[lab == c, 1], color=col, s=14, edgecolor="k", linewidth=0.5,
                   zorder=5, label=_class_name(s, c) if legend else None)


def _map(ax, s, m, key, cmap, vmax, title, names):
    X1, X2 = np.meshgrid(s["x1"], s["x2"])
    levels = np.linspace(0.0, vmax, _LEVELS + 1)
    im = ax.contourf(X1, X2, np.clip(np.asarray(m[key], float), 0.0, vmax), levels=levels, cmap=cmap,
                     vmin=0.0, vmax=vmax)
    ax.grid(False)
    _atoms(ax, s)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(names[0], fontsize=8)
    ax.set_ylabel(names[1], fontsize=8)
    return im


def _bar(fig, im, axes, label):
    bar = fig.colorbar(im, ax=axes, fraction=0.046 if len(axes) == 1 else 0.02)
    lo, hi = im.norm.vmin, im.norm.vmax
    ticks = MaxNLocator(6).tick_values(lo, hi)
    bar.set_ticks(ticks[(ticks >= lo) & (ticks <= hi)])
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=8)
    return bar


def _class_legend(fig, s, ncol=None):
    handles = [Line2D([], [], linestyle="none", marker="o", ms=5, mfc=col, mec="k", mew=0.3,
                      label=_class_name(s, c)) for c, col in _class_colours(s).items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol or len(handles), fontsize=7,
               frameon=False)


def _arrows(ax, m):
    xa, g = np.asarray(m["arrows_x"]), np.asarray(m["arrows"])
    nrm = np.linalg.norm(g, axis=1, keepdims=True).clip(1e-12)
    ax.quiver(xa[:, 0], xa[:, 1], g[:, 0] / nrm[:, 0], g[:, 1] / nrm[:, 0], alpha=0.5, width=0.004)


def phase_figures(result):
    s = _series(result)
    n = len(s["atoms"])
    logn = float(np.log(n))
    names = _axis_names(result)
    classes = _classes(s)
    multi = len(classes) > 2
    fig, axes = style.new_figure(2, 3, title=f"{result.name}: particle → wave (N = {n})")
    a, b, c = axes[0], axes[1], axes[2]
    qcols = style.colors(len(s["queries"]), "plasma")
    for q, h, col in zip(s["queries"], s["H_curves"], qcols):
        a.semilogx(s["eps_curve"], h, color=col, label="x = (" + ", ".join(f"{v:.2f}" for v in q) + ")")
    if "median_H_over_logN" in s:
        a.semilogx(s["eps_curve"], np.asarray(s["median_H_over_logN"]) * logn, "k:", label="grid median")
    a.axvline(s["eps_star"], color="grey", ls="--", label="eps* = N^(−1/d)")
    a.axhline(logn, color="grey", lw=0.6, label="log N (uniform weights)")
    a.set_xlabel("temperature eps")
    a.set_ylabel("entropy H(π) at the query (nats)")
    for e, p, col in zip(s["eps_show"], s["attr"], style.colors(len(s["eps_show"]))):
        b.plot(np.arange(len(p)), p, "o-", ms=2, lw=0.8, color=col, label=f"eps = {e:.3g}")
    b.set_xlabel("atom index j")
    b.set_ylabel("Gibbs weight π_j at the query")
    style.integer_ticks(b, "x")
    _atoms(c, s)
    for q, col in zip(s["queries"], qcols):
        c.scatter([q[0]], [q[1]], marker="*", s=120, color=col, edgecolor="k", linewidth=0.5, zorder=6)
    c.scatter([s["attr_query"][0]], [s["attr_query"][1]], marker="P", s=70, color="w", edgecolor="k",
              zorder=7, label="query of the π_j panel")
    c.scatter([], [], marker="*", s=120, color="w", edgecolor="k", label="queries of the H panel")
    c.set_xlabel(names[0], fontsize=8)
    c.set_ylabel(names[1], fontsize=8)
    c.set_title("atoms and query points", fontsize=9)
    im = None
    for ax, m, t in zip(axes[3:], s["maps"], ("cold", "critical", "hot")):
        im = _map(ax, s, m, "H", "plasma", logn, f"H(π), {t} eps = {m['eps']:.3g}", names)
    _bar(fig, im, axes[3:], "entropy H(π) (nats); top = log N")
    style.finish(axes[:2])
    c.legend(fontsize=6, frameon=False, loc="best")
    _class_legend(fig, s, ncol=10 if multi else 2)
    style.set_caption(fig, f"The particle → wave transition of the Gibbs weights π(x; eps) of {n} data atoms "
                           "(Hopf–Cole weights at t = 1). Top left: the entropy H(π) at the query points against "
                           "eps, from 0 (one atom carries the prediction) to log N (all atoms alike), with "
                           "eps* = N^(−1/d) dashed. Top middle: the weights π_j at one query for three eps. "
                           "Top right: the atoms by class, the queries (stars, same colours as the curves) and "
                           "the π_j query (cross). Bottom: maps of H(π) at a cold, the critical and a hot eps, "
                           "on one colour scale [0, log N] (nats), atoms overlaid.")
    out = {"phase": fig}

    fig2, axes2 = style.new_figure(1, 3, title="Soft prediction and characteristics ∇u")
    for ax, m in zip(axes2, s["maps"]):
        if multi:
            im = _map(ax, s, m, "class_H", "magma", float(np.log(len(classes))),
                      f"class entropy, eps = {m['eps']:.3g}", names)
        else:
            im = _map(ax, s, m, "pred", "RdBu_r", 1.0, f"E_π g, eps = {m['eps']:.3g}", names)
        _arrows(ax, m)
    if multi:
        _bar(fig2, im, axes2, "class entropy H(p_c) (nats)")
        what = ("the entropy of the class scores p_c = Σ_{j in class c} π_j, from 0 (one class) to "
                f"log {len(classes)} (all classes alike), on one colour scale (nats)")
    else:
        _bar(fig2, im, axes2, "soft prediction E_π g")
        what = "the soft prediction E_π g = Σ_j π_j g_j on one colour scale [0, 1]"
    _class_legend(fig2, s, ncol=10 if multi else 2)
    style.set_caption(fig2, f"Maps at a cold, the critical and a hot eps of {what}; arrows show the direction "
                            "of the characteristic field ∇u = (x − E_π y)/(2t) (unit length); dots are the "
                            "atoms coloured by class.")
    out["prediction"] = fig2
    if multi:
        fig3, axes3 = style.new_figure(1, 3, title="Predicted class (argmax of the class scores)")
        cols = _class_colours(s)
        cmap = ListedColormap([cols[k] for k in classes], name="classes")
        norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, cmap.N)
        index = {k: i for i, k in enumerate(classes)}
        for ax, m in zip(axes3, s["maps"]):
            arg = np.vectorize(index.get)(np.asarray(m["class_argmax"], int))
            ax.pcolormesh(s["x1"], s["x2"], arg, cmap=cmap, norm=norm, shading="nearest", alpha=0.55)
            ax.grid(False)
            _atoms(ax, s)
            ax.set_title(f"argmax_c p_c, eps = {m['eps']:.3g}", fontsize=9)
            ax.set_xlabel(names[0], fontsize=8)
            ax.set_ylabel(names[1], fontsize=8)
        fig3.legend(handles=[Patch(facecolor=cols[k], alpha=0.8, label=_class_name(s, k)) for k in classes],
                    loc="outside lower center", ncol=len(classes), fontsize=7, frameon=False)
        style.set_caption(fig3, "The class with the largest score p_c = Σ_{j in class c} π_j at every point of the "
                                "plane (shaded, one colour per digit class as in the legend), at a cold, the "
                                "critical and a hot eps; dots are the atoms in their class colour. As eps grows "
                                "the regions merge into the majority class.")
        out["classes"] = fig3
    return out


def gif_frames(result):
    """One Figure per map eps (cold → hot), H map beside the prediction; save them as a GIF with
    e.g. ``[PIL.Image.open(io.BytesIO(png)) for png in pngs][0].save(path, save_all=True,
    append_images=rest, duration=300, loop=0)`` after rendering each Figure to PNG bytes."""
    s = _series(result)
    names = _axis_names(result)
    logn = float(np.log(len(s["atoms"])))
    frames = []
    for m in s["maps"]:
        fig, (a, b) = style.new_figure(1, 2, title=f"eps = {m['eps']:.3g}")
        _bar(fig, _map(a, s, m, "H", "plasma", logn, "H(π)", names), [a], "entropy H(π) (nats)")
        _bar(fig, _map(b, s, m, "pred", "RdBu_r", 1.0, "E_π g", names), [b], "soft prediction E_π g")
        _class_legend(fig, s, ncol=10 if len(_classes(s)) > 2 else 2)
        style.set_caption(fig, "Frames across eps (cold → hot): the entropy H(π) of the Gibbs weights on "
                               "[0, log N] nats (left) and the soft prediction E_π g on [0, 1] (right), the "
                               "same colour scales in every frame; dots are the atoms by class.")
        frames.append(fig)
    return frames


for _name in ("phase-synthetic", "phase-mnist", "phase-digits"):
    register_figures(_name)(phase_figures)


@register_figures("phase-synthetic")
def phase_animation(result):
    """The entropy map and soft prediction across eps, as animation frames (saved as a GIF)."""
    return {"entropy_across_eps": gif_frames(result)}
