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
    top.set_ylabel("f(x)")
    bottom.set_ylabel("u(x, t)")
    bottom.set_xlabel("x")
    style.finish([top, bottom])
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
    a.set_ylabel("sup-norm gap")
    for (n, gaps), c in zip(s["layer_gap"].items(), style.colors(len(s["layer_gap"]))):
        b.loglog(eps, gaps, "o-", color=c, label=f"N = {n}: max(LSE − max)")
        b.loglog(eps, eps * math.log(int(n)), "--", color=c, lw=0.8, label=f"eps log {n}")
    b.set_xlabel("eps")
    style.finish([a, b])
    return {"gaps": fig}


@register_figures("attention-identity")
def attention_figures(result):
    s = result.series
    fig, (ax,) = style.new_figure(title="SDPA vs autograd Gibbs average")
    dims = s["dims"]
    errs = np.asarray(s["errors"]).reshape(len(dims), 2)
    ax.semilogy(dims, np.maximum(errs[:, 0], 1e-18), "o-", label="raw inputs")
    ax.semilogy(dims, np.maximum(errs[:, 1], 1e-18), "s-", label="after LayerNorm")
    ax.axhline(np.finfo(float).eps, color="k", ls="--", lw=0.8, label="float64 eps")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("d_k")
    ax.set_ylabel("max |error|")
    style.finish([ax])
    return {"attention": fig}
