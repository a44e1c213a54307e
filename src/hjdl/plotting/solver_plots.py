"""Figures of the ``hj-highdim`` experiment (the mesh-free solver :func:`hjdl.solve`)."""

from __future__ import annotations

import numpy as np

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["hj_highdim_figures"]


def _rate(series):
    dims = sorted(series, key=int)
    fig, axes = style.new_figure(1, 1, title="Monte Carlo error against the number of atoms")
    ax = axes[0]
    cols = style.colors(len(dims), "tab10")
    for c, d in zip(cols, dims):
        s = series[d]
        N = np.asarray(s["N"], float)
        rms, below, _ = style.log_floor(s["rms"])
        ax.loglog(N, rms, "o-", color=c, ms=4, label=f"d = {d}: slope {s['slope']:.2f} [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]")
        ax.loglog(N, s["stderr"], ":", color=c, lw=1)
        style.mark_floor(ax, N, rms, below)
    N = np.asarray(series[dims[0]]["N"], float)
    first = series[dims[0]]["rms"][0]
    ax.loglog(N, first * (N / N[0]) ** -0.5, "k--", lw=0.8, label="N^(-1/2)")
    ax.set_xlabel("N (atoms per point)")
    ax.set_ylabel("RMS error of u over seeds (absolute)")
    style.finish(axes)
    return style.set_caption(fig, "Root-mean-square error of hjdl.solve (plain Monte Carlo, eps = 1, x = e1) "
                             "against the independent quadrature, over seeds, for d = 2, 10, 100; dotted: the "
                             "mean reported standard error; dashed: slope -1/2. The legend gives each fitted "
                             "slope with its 95 % interval.")


def _collapse(series):
    dims = sorted(series, key=int)
    fig, axes = style.new_figure(1, 2, title="Monte Carlo against importance sampling as eps -> 0")
    cols = style.colors(len(dims), "tab10")
    clipped_any = False
    for c, d in zip(cols, dims):
        s = series[d]
        eps = np.asarray(s["eps"], float)
        for m, ls, mk in (("mc", "-", "o"), ("is", "--", "s")):
            name = "Monte Carlo" if m == "mc" else "importance sampling"
            f, below, _ = style.log_floor(s[m]["ess_frac"], 1e-4)
            axes[0].loglog(eps, f, ls, marker=mk, color=c, ms=4, label=f"d = {d}, {name}")
            style.mark_floor(axes[0], eps, f, below)
            e, below_e, _ = style.log_floor(s[m]["abs_err"], 1e-12)
            axes[1].loglog(eps, e, ls, marker=mk, color=c, ms=4, label=f"d = {d}, {name}")
            style.mark_floor(axes[1], eps, e, below_e)
            clipped_any = clipped_any or bool(below.any() or below_e.any())
        axes[0].axvline(s["eps_star"], color=c, lw=0.8, alpha=0.6)
    axes[0].axhline(0.1, color="k", lw=0.6, ls=":")
    axes[0].set_xlabel("eps (viscosity)")
    axes[0].set_ylabel("ESS / N (fraction)")
    axes[1].set_xlabel("eps (viscosity)")
    axes[1].set_ylabel("RMS |u - reference| (absolute)")
    style.finish(axes[1:])
    N = series[dims[0]]["N"]
    return style.set_caption(fig, f"Left: effective sample size fraction of the N = {N} atoms, plain Monte Carlo "
                             "(solid) and importance sampling at the Hopf-Lax minimiser (dashed), against eps; "
                             "vertical lines mark eps* = N^(-1/d) in each dimension's colour, the dotted line "
                             "ESS/N = 0.1. Right: the error against the independent quadrature (RMS over seeds)."
                             + (" Values below the plotted floor (1e-4, 1e-12) are drawn as open triangles."
                                if clipped_any else ""))


def _hjb(rows):
    rows = sorted(rows, key=lambda r: r["lam"])
    lam = np.array([r["lam"] for r in rows])
    fig, axes = style.new_figure(1, 2, title="100-d HJB at x = 0: hjdl.solve against the quadrature")
    rel = np.array([(r["value"] - r["reference"]) / abs(r["reference"]) for r in rows])
    bar = np.array([2 * r["stderr"] / abs(r["reference"]) for r in rows])
    axes[0].errorbar(lam, rel, yerr=bar, fmt="o", color="C0", capsize=3, label="hjdl.solve, ±2 stderr")
    axes[0].axhline(0, color="k", lw=0.8, label="independent quadrature")
    pub = [r for r in rows if r.get("published")]
    for r in pub:
        e = r["published"]["relative_error"]
        axes[0].plot([r["lam"]], [e], "x", color="C3", ms=8, label="published deep BSDE (|rel. error|)")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("lambda (control cost)")
    axes[0].set_ylabel("(value - reference) / reference")
    axes[1].bar(np.arange(len(rows)), [r["seconds"] for r in rows], color="C0", label="hjdl.solve (this machine)")
    for r in pub:
        i = rows.index(r)
        axes[1].bar([i + 0.35], [r["published"]["seconds"]], width=0.3, color="C3", label="deep BSDE (published)")
    axes[1].set_xticks(np.arange(len(rows)), [f"λ = {r['lam']:g}\n{r['method']}" for r in rows])
    axes[1].set_yscale("log")
    axes[1].set_ylabel("wall time (s)")
    axes[1].set_xlabel("problem and method")
    style.finish(axes)
    return style.set_caption(fig, "Left: relative deviation of hjdl.solve from the radial quadrature (error bars "
                             "±2 standard errors) at lambda = 1, 10, 50; the cross is the published deep BSDE "
                             "relative error at lambda = 1 (their figure, not re-run). Right: wall time of each "
                             "solve on this machine against the published training time.")


@register_figures("hj-highdim")
def hj_highdim_figures(result):
    out = {}
    series = result.series
    if series.get("rate"):
        out["hj_rate"] = _rate(series["rate"])
    if series.get("collapse"):
        out["hj_collapse"] = _collapse(series["collapse"])
    if series.get("hjb"):
        out["hj_hjb"] = _hjb(series["hjb"])
    return out
