"""Figures of the experiments ``commutative-diagram`` and ``hallucination``."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import NullFormatter

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["commutative_figures", "hallucination_figures"]


def _edges(v):
    """Cell edges on a log axis around the centres ``v`` (geometric midpoints)."""
    lv = np.log(np.asarray(v, dtype=float))
    mid = (lv[1:] + lv[:-1]) / 2
    return np.exp(np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]]))


def _panels(axes, dims, gs, series):
    """The panels of a dims × gs grid (row per dimension key ``"d1"``, column per initial datum):
    yields ``(ax, column, dk, g, entry)`` for each ``series["dk/g"]``, titled; a panel without an
    entry is switched off."""
    for i, dk in enumerate(dims):
        for j, g in enumerate(gs):
            ax = axes[i * len(gs) + j]
            s = series.get(f"{dk}/{g}")
            if s is None:
                ax.axis("off")
                continue
            ax.set_title(f"d = {dk[1:]}, g = {g}" + (" (control)" if g in ("unnormalised", "dip") else ""),
                         fontsize=9)
            yield ax, j, dk, g, s


# ------------------------------------------------------------------------------ commutative-diagram
@register_figures("commutative-diagram")
def commutative_figures(result) -> dict:
    heat = result.series["heatmaps"]
    keys = list(heat)
    dims = sorted({k.split("/")[0] for k in keys})
    gs = list(dict.fromkeys(k.split("/")[1] for k in keys))
    paths = [float(a) for a in result.config["paths"]]
    all_err = np.concatenate([np.ravel(heat[k]["error"]) for k in keys])
    pos = all_err[all_err > 0]
    floor = float(pos.min()) if pos.size else 1e-16
    norm = LogNorm(vmin=floor, vmax=float(all_err.max()) if all_err.max() > floor else floor * 10)
    fig, axes = style.new_figure(len(dims), len(gs), panel_size=(3.3, 2.8), sharex=False, sharey=True)
    cols = style.colors(len(paths), "autumn")
    im = None
    for ax, j, _, _, h in _panels(axes, dims, gs, heat):
        err = np.maximum(np.asarray(h["error"], dtype=float), floor)
        N, eps = np.asarray(h["N"], dtype=float), np.asarray(h["eps"], dtype=float)
        im = ax.pcolormesh(_edges(N), _edges(eps), err, norm=norm, cmap="viridis", shading="flat")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for a, c in zip(paths, cols):
            n_line = np.geomspace(N[0], N[-1], 50)
            ax.plot(n_line, n_line ** -a, color=c, lw=1.6, label=f"eps = N^-{a:g}")
        ax.set_ylim(_edges(eps)[0], _edges(eps)[-1])
        ax.set_xlim(_edges(N)[0], _edges(N)[-1])
        ax.set_xlabel("N (atoms)")
        if j == 0:
            ax.set_ylabel("eps (viscosity)")
    axes[0].legend(fontsize=6, frameon=True, loc="lower left")
    bar = fig.colorbar(im, ax=axes, shrink=0.9)
    bar.set_label("sup_x |u_eps,N − u_0|")
    style.set_caption(fig, (
        "Error of the LSE network / discrete viscous value u_eps,N against the continuum Hopf–Lax value u_0 "
        "(largest over the evaluation points) on the (N, eps) grid; one colour scale for all panels. Lines: "
        "the joint paths eps = N^-a. Columns: kinked g = |y|, smooth g = √(1+|y|²) − 1, and the two "
        "non-commuting controls (weights 1 instead of 1/N; a point dip of g at 0). Errors of exactly 0 "
        f"are drawn at the floor {floor:.1e}."))

    fig2, axes2 = style.new_figure(len(dims), 2, panel_size=(4.0, 3.0))
    it = result.series["iterated"]
    gcols = dict(zip(gs, style.colors(len(gs), "tab10")))
    for i, dk in enumerate(dims):
        axA, axB = axes2[2 * i], axes2[2 * i + 1]
        for g in gs:
            s = it.get(f"{dk}/{g}")
            if s is None:
                continue
            yA, belowA, fA = style.log_floor(s["eA"], 1e-16)
            axA.plot(s["N"], yA, "o-", ms=3, color=gcols[g], label=g)
            style.mark_floor(axA, s["N"], yA, belowA, color=gcols[g])
            res = np.asarray(s["resolved"], dtype=bool)
            if res.any():
                yB, belowB, _ = style.log_floor(np.asarray(s["eB"])[res], 1e-16)
                axB.plot(np.asarray(s["eps"])[res], yB, "o-", ms=3, color=gcols[g], label=g)
                style.mark_floor(axB, np.asarray(s["eps"])[res], yB, belowB, color=gcols[g])
        for ax, xl in ((axA, "N (atoms)"), (axB, "eps (viscosity)")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(xl)
        axA.set_ylabel("sup_x |u_0,N − u_0|")
        axB.set_ylabel("sup_x |u_eps,∞ − u_0|")
        axA.set_title(f"d = {dk[1:]}: eps → 0 first, then N → ∞", fontsize=9)
        axB.set_title(f"d = {dk[1:]}: N → ∞ first, then eps → 0", fontsize=9)
    style.finish(axes2)
    style.set_caption(fig2, (
        "The two iterated limits. Left: the tropical network u_0,N (the exact eps = 0 branch) against the "
        "continuum Hopf–Lax value, as N grows. Right: the column limits u_eps,∞ (N doubled until the "
        "increments contract, Aitken-extrapolated; only resolved eps shown) against u_0, as eps shrinks. "
        "Both reach 0 for Lipschitz g; the dip control stays at its depth on the right, and the unnormalised "
        "control has no resolved column. Zeros are drawn at 1e-16 (open triangles)."))

    fig3, axes3 = style.new_figure(len(dims), len(gs), panel_size=(3.3, 2.8))
    ps = result.series["paths"]
    for ax, _, _, _, s in _panels(axes3, dims, gs, ps):
        for a, c in zip(paths, style.colors(len(paths), "plasma")):
            y, below, _ = style.log_floor(s[str(a)], 1e-16)
            ax.plot(s["N"], y, "o-", ms=3, color=c, label=f"a = {a:g}")
            style.mark_floor(ax, s["N"], y, below, color=c)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N (atoms)")
        ax.set_ylabel("sup_x |u_eps,N − u_0|")
    style.finish(axes3)
    style.set_caption(fig3, (
        "The joint limit along eps = N^-a: error against N for each a. The fitted rates and their intervals "
        "are in the table 'paths'; the prediction is min(a, r/d) with r = 1 for the kinked g, 2 for the "
        "smooth one. The controls converge along these paths too: only the iterated limits tell them apart. "
        "Zeros are drawn at 1e-16 (open triangles)."))
    return {"error_heatmap": fig, "iterated_limits": fig2, "joint_paths": fig3}


# ------------------------------------------------------------------------------ hallucination
@register_figures("hallucination")
def hallucination_figures(result) -> dict:
    out = {}
    maps = result.series.get("maps", {})
    names = list(maps)
    if names:
        fig, axes = style.new_figure(1, len(names), panel_size=(3.8, 3.4))
        vmax = max(float(np.nanmax(maps[n]["ratio"])) for n in names)
        vmin = min(1e-2, vmax / 10)
        norm = LogNorm(vmin=vmin, vmax=vmax)
        im = None
        for ax, n in zip(axes, names):
            m = maps[n]
            gx, gy = np.asarray(m["gx"]), np.asarray(m["gy"])
            ratio = np.clip(np.asarray(m["ratio"], dtype=float), vmin, vmax)
            im = ax.pcolormesh(gx, gy, ratio, norm=norm, cmap="magma", shading="auto")
            ax.contour(gx, gy, np.asarray(m["dist_ratio"]), levels=[1.0], colors="cyan", linewidths=1.2)
            ax.contour(gx, gy, np.asarray(m["ratio"], dtype=float), levels=[2.0], colors="white", linewidths=0.8,
                       linestyles="--")
            atoms = np.asarray(m["atoms"])
            ax.plot(atoms[:, 0], atoms[:, 1], ".", ms=1.5, color="white", alpha=0.6, label="atoms (training points)")
            ax.plot([], [], color="cyan", lw=1.2, label="diffusion radius √(2 eps t)")
            ax.plot([], [], color="white", lw=0.8, ls="--", label="risk = 2 (extrapolated beyond)")
            ax.set_xlabel("x₁" + (" (PC 1)" if "digits" in n else ""))
            ax.set_ylabel("x₂" + (" (PC 2)" if "digits" in n else ""))
            ax.set_title(f"{n.split(' ')[0]}: eps = {m['eps']:.3g}, N = {len(atoms)}", fontsize=9)
            ax.set_facecolor("0.5")
            leg = ax.legend(fontsize=6, loc="upper right", framealpha=0.8)
            leg.get_frame().set_facecolor("0.6")
        bar = fig.colorbar(im, ax=axes, shrink=0.9)
        bar.set_label("risk Δ / (eps log N)")
        style.set_caption(fig, (
            "Risk map Δ/(eps log N) of the data-anchored LSE model (Δ: gap between its two largest logits) on a "
            "grid, with the set of points within the diffusion radius √(2 eps t) of a training atom (inside "
            "the cyan contour). Where the risk exceeds 1 the output is one atom's affine piece; the tropical "
            "bound eps log(1 + (N−1)e^(−Δ/eps)) then nearly vanishes (dashed: risk 2, the report's "
            "extrapolation threshold). Risk values below the colour range are drawn at its lower end."))
        out["risk_map"] = fig
    curves = result.series.get("error_vs_radius", {})
    if curves:
        fig2, axes2 = style.new_figure(1, len(curves), panel_size=(3.6, 3.0))
        for ax, (n, c) in zip(axes2, curves.items()):
            x = np.asarray(c["centre"], dtype=float)
            m, lo, hi = (np.asarray(c[k], dtype=float) for k in ("mean", "lo", "hi"))
            lo = np.maximum(lo, 0.0)  # errors are >= 0 (and a rate <= 1): the t-interval is clipped to that range
            if "rate" in c["error_label"]:
                hi = np.minimum(hi, 1.0)
            ok = np.isfinite(m)
            yerr = np.vstack([np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)])[:, ok]
            ax.errorbar(x[ok], m[ok], yerr=np.where(np.isfinite(yerr), yerr, 0), fmt="o-", ms=4, capsize=3,
                        color="C0", label="mean error, 95 % interval over seeds")
            ax.axvline(1.0, color="C3", ls="--", lw=1, label="diffusion radius")
            ax.set_xscale("log")
            ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 16) if x[ok].min() / 1.5 <= t <= x[ok].max() * 1.5]
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("distance to nearest atom / √(2 eps t)")
            ax.set_ylabel(c["error_label"])
            ax.set_title(n, fontsize=9)
            ax.legend(fontsize=6)
        style.set_caption(fig2, (
            "Prediction error of the data-anchored LSE model against the distance of a test point to its nearest "
            "training atom, in units of the diffusion radius √(2 eps t); points binned by that distance, "
            "mean per bin with a 95 % Student-t interval over seeds, clipped to the possible range (errors >= 0, "
            "rates <= 1). Bins without points in some seed are averaged over the seeds that have them; a bin "
            "with points in one seed only has no interval."))
        out["error_vs_radius"] = fig2
    return out
