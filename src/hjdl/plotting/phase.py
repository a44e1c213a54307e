"""Figures of the phase experiments: H(π) vs eps, π at a query, entropy maps cold / critical /
hot, soft prediction with characteristic arrows ∇u, class maps; and GIF frames across eps."""

from __future__ import annotations

import numpy as np

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["phase_figures", "gif_frames"]


def _atoms(ax, s):
    y, lab = np.asarray(s["atoms"]), np.asarray(s["labels"])
    for c, col in zip(sorted(set(lab.tolist())), style.colors(len(set(lab.tolist())), "tab10")):
        ax.scatter(y[lab == c, 0], y[lab == c, 1], color=col, s=10, edgecolor="k", linewidth=0.3,
                   zorder=5, label=f"class {c}" if len(set(lab.tolist())) <= 2 else None)


def _map(ax, s, m, key, cmap, vmax, title):
    X1, X2 = np.meshgrid(s["x1"], s["x2"])
    im = ax.contourf(X1, X2, np.asarray(m[key]), levels=25, cmap=cmap, vmin=0, vmax=vmax)
    _atoms(ax, s)
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.046)


def phase_figures(result):
    s = result.series
    n = len(s["atoms"])
    logn = np.log(n)
    fig, axes = style.new_figure(2, 3, title=f"{result.name}: particle → wave (N = {n})")
    a, b = axes[0], axes[1]
    for q, h in zip(s["queries"], s["H_curves"]):
        a.semilogx(s["eps_curve"], h, label="x = (" + ", ".join(f"{v:.2f}" for v in q) + ")")
    if "median_H_over_logN" in s:
        a.semilogx(s["eps_curve"], np.asarray(s["median_H_over_logN"]) * logn, "k:", label="grid median")
    a.axvline(s["eps_star"], color="grey", ls="--", label="eps*")
    a.axhline(logn, color="grey", lw=0.6)
    a.set_xlabel("eps")
    a.set_ylabel("H(π)")
    for e, p in zip(s["eps_show"], s["attr"]):
        b.plot(p, "o-", ms=2, lw=0.8, label=f"eps = {e:.3g}")
    b.set_xlabel("atom j")
    b.set_ylabel("π_j at the query")
    axes[2].axis("off")
    for ax, m, t in zip(axes[3:], s["maps"], ("cold", "critical", "hot")):
        _map(ax, s, m, "H", "plasma", logn, f"H(π), {t} eps = {m['eps']:.3g}")
    style.finish(axes[:2])
    out = {"phase": fig}
    fig2, axes2 = style.new_figure(1, 3, title="Soft prediction and characteristics ∇u")
    multi = len(set(s["labels"])) > 2
    for ax, m in zip(axes2, s["maps"]):
        if multi:
            _map(ax, s, m, "class_H", "magma", np.log(len(set(s["labels"]))), f"class entropy, eps = {m['eps']:.3g}")
        else:
            _map(ax, s, m, "pred", "RdBu_r", 1.0, f"E_π g, eps = {m['eps']:.3g}")
        xa, g = np.asarray(m["arrows_x"]), np.asarray(m["arrows"])
        nrm = np.linalg.norm(g, axis=1, keepdims=True).clip(1e-12)
        ax.quiver(xa[:, 0], xa[:, 1], g[:, 0] / nrm[:, 0], g[:, 1] / nrm[:, 0], alpha=0.5, width=0.004)
    out["prediction"] = fig2
    if multi:
        fig3, axes3 = style.new_figure(1, 3, title="Predicted class (argmax of class scores)")
        for ax, m in zip(axes3, s["maps"]):
            _map(ax, s, m, "class_argmax", "tab10", 9, f"argmax p_c, eps = {m['eps']:.3g}")
        out["classes"] = fig3
    return out


def gif_frames(result):
    """One Figure per map eps (cold → hot), H map beside the prediction; save them as a GIF with
    e.g. ``[PIL.Image.open(io.BytesIO(png)) for png in pngs][0].save(path, save_all=True,
    append_images=rest, duration=300, loop=0)`` after rendering each Figure to PNG bytes."""
    s = result.series
    frames = []
    for m in s["maps"]:
        fig, (a, b) = style.new_figure(1, 2, title=f"eps = {m['eps']:.3g}")
        _map(a, s, m, "H", "plasma", np.log(len(s["atoms"])), "H(π)")
        _map(b, s, m, "pred", "RdBu_r", 1.0, "E_π g")
        frames.append(fig)
    return frames


for _name in ("phase-synthetic", "phase-mnist", "phase-digits"):
    register_figures(_name)(phase_figures)


@register_figures("phase-synthetic")
def phase_animation(result):
    """The entropy map and soft prediction across eps, as animation frames (saved as a GIF)."""
    return {"entropy_across_eps": gif_frames(result)}
