"""Figures of the foundation experiments: identity, tropical-limit, attention-identity."""

from __future__ import annotations

import math

import numpy as np

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures


@register_figures("identity")
def identity_figures(result):
    s = result.series
    fig, (top, bottom) = style.new_figure(2, 1, panel_size=(6.0, 3.0), sharex=True,
                                          title="LSE layer f = x²/4t − u  (4 atoms)")
    cols = style.colors(len(s["eps"]))
    for eps, f, u, c in zip(s["eps"], s["f"], s["u"], cols):
        top.plot(s["x"], f, color=c, lw=1.2, label=f"f, eps = {eps:g}")
        bottom.plot(s["x"], u, color=c, lw=1.2, label=f"u, eps = {eps:g}")
    top.plot(s["x"], s["f0"], "k--", lw=1, label="max-affine f_0")
    bottom.plot(s["x"], s["u0"], "k--", lw=1, label="Hopf–Lax u_0")
    atoms, values = result.config["atoms"], result.config["values"]
    bottom.scatter(atoms, values, color="crimson", zorder=5, s=18, label="atoms (y_j, g_j)")
    top.set_ylabel("LSE layer f(x)")
    bottom.set_ylabel("Hopf–Cole value u(x, t)")
    bottom.set_xlabel("x")
    style.finish([top, bottom])
    style.set_caption(fig, f"Top: the LSE layer f = x²/4t − u built from the {len(atoms)} atoms, one solid "
                           "curve per temperature eps (dark = small eps), and its tropical limit, the "
                           "max-affine f_0 (dashed). Bottom: the viscous Hopf–Cole value u(x, t) at "
                           f"t = {result.config['t']:g} for the same eps, tending to the Hopf–Lax value "
                           "u_0 (dashed) as eps → 0; red dots are the atoms (y_j, g_j). Dimensionless.")
    return {"identity": fig}


@register_figures("tropical-limit")
def tropical_figures(result):
    s = result.series
    eps = np.asarray(s["eps"])
    fig, (a, b) = style.new_figure(1, 2, title="Tropical limit: gaps vs eps log N")
    a.loglog(eps, s["softplus_gap"], "o-", label="softplus_eps − ReLU")
    a.loglog(eps, eps * math.log(2), "k--", label="eps log 2")
    a.loglog(eps, s["net_gap"], "s-", label="two-layer net gap")
    a.set_xlabel("eps")
    a.set_ylabel("sup-norm gap to the ReLU limit")
    floor_label = None
    for (n, gaps), c in zip(s["layer_gap"].items(), style.colors(len(s["layer_gap"]))):
        shown, below, floor = style.log_floor(gaps, 1e-3 * min(eps) * math.log(2))
        b.loglog(eps, shown, "o-", color=c, label=f"N = {n}: max(LSE − max)")
        b.loglog(eps, eps * math.log(int(n)), "--", color=c, lw=0.8, label=f"eps log {n}")
        if below.any():
            floor_label = f"gap = 0 in float64, drawn at {floor:.0e}"
        style.mark_floor(b, eps, shown, below, color=c, label=floor_label)
    b.set_xlabel("eps")
    b.set_ylabel("max over inputs of LSE_eps − max")
    style.finish([a, b])
    note = (" Open triangles: the gap underflowed to exactly 0 in float64 and is drawn at the floor "
            f"{1e-3 * min(eps) * math.log(2):.0e} instead of vanishing from the log axis." if floor_label else "")
    style.set_caption(fig, "Gaps of the smooth (LSE_eps) objects to their tropical (max / ReLU) limits against "
                           "the temperature eps, log-log. Left: sup over z ∈ [−3, 3] of softplus_eps − ReLU "
                           "and of the two-layer softplus net against its ReLU net, with the bound eps log 2 "
                           "(dashed). Right: the largest gap LSE_eps − max over random inputs for layers of N "
                           "atoms (solid, one colour per N) and the bound eps log N (dashed, same colour)."
                           + note)
    return {"gaps": fig}


@register_figures("attention-identity")
def attention_figures(result):
    s = result.series
    fig, (ax,) = style.new_figure(title="SDPA vs autograd Gibbs average")
    dims = s["dims"]
    errs = np.asarray(s["errors"]).reshape(len(dims), 2)
    zero_label = None
    for k, (fmt, label) in enumerate((("o-", "raw inputs"), ("s-", "after LayerNorm"))):
        shown, below, floor = style.log_floor(errs[:, k], 1e-18)
        line, = ax.semilogy(dims, shown, fmt, label=label)
        if below.any():
            zero_label = "error exactly 0, drawn at 1e-18"
        style.mark_floor(ax, dims, shown, below, color=line.get_color(), label=zero_label)
    ax.axhline(np.finfo(float).eps, color="k", ls="--", lw=0.8, label="float64 eps")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("key dimension d_k")
    ax.set_ylabel("max |SDPA − Gibbs average|")
    style.finish([ax])
    style.set_caption(fig, "Largest absolute difference, over random trials, between PyTorch's "
                           "scaled_dot_product_attention and the Gibbs average Σ_j π_j v_j with π the "
                           "autograd gradient of LSE_eps at the scores (eps = √d_k), against the key "
                           "dimension d_k; raw inputs and inputs after LayerNorm. The dashed line is the "
                           "float64 machine epsilon: the two agree to rounding."
                           + (" Open triangles: an error of exactly 0, drawn at 1e-18." if zero_label else ""))
    return {"attention": fig}
