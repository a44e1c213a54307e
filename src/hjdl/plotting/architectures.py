"""Figures of the architecture experiments: resnet-pmp, attention-entropy, recurrent-gates."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures


@register_figures("resnet-pmp")
def resnet_pmp_figures(result):
    s = result.series
    fig, (a, b) = style.new_figure(1, 2, title="ResNet co-state: continuous limit and MSA vs Adam")
    c = s["convergence"]
    h, e = np.asarray(c["h"]), np.asarray(c["errors"])
    a.loglog(h, e, "o-", label=f"max |p_l − p(t_l)| (order {c['order']:.2f})")
    a.loglog(h, e[0] * h / h[0], "k--", lw=0.8, label="slope 1")
    a.xaxis.set_minor_formatter(NullFormatter())
    a.set_xlabel("h = T / depth")
    a.set_ylabel("co-state error")
    for (name, run), col in zip(s["digits"].items(), style.colors(2)):
        epochs = np.arange(1, len(run["gaps"]) + 1)
        b.semilogy(epochs, run["gaps"], "o-", color=col, label=f"{name}: PMP gap")
        b.semilogy(epochs, run["losses"], "s--", color=col, label=f"{name}: loss")
    b.set_xlabel("epoch")
    style.finish([a, b])
    return {"resnet_pmp": fig}


@register_figures("attention-entropy")
def attention_entropy_figures(result):
    tasks = list(result.series)
    fig, axes = style.new_figure(2, len(tasks), title="Attention heads: entropy by depth and ablation cost")
    for j, task in enumerate(tasks):
        s = result.series[task]
        ent = np.asarray(s["entropy"])  # (layers, heads)
        top, bottom = axes[j], axes[len(tasks) + j]
        for l, row in enumerate(ent):
            top.scatter(np.full(len(row), l), row, s=20, color=style.colors(len(ent))[l])
        top.axhspan(0, 0.33, color="tab:red", alpha=0.08, label="particle")
        top.axhspan(0.66, 1, color="tab:blue", alpha=0.08, label="wave")
        fr = s["fractions"]
        top.set_title(f"{task}: particle {fr['particle']:.2f}, wave {fr['wave']:.2f}", fontsize=9)
        top.set_xlabel("layer")
        top.set_ylabel("H / log n per head")
        top.set_ylim(0, 1)
        bottom.scatter(s["head_entropy_flat"], s["delta"], s=20)
        bottom.set_xlabel("H / log n")
        bottom.set_ylabel("Δ loss when ablated")
    style.finish(axes)
    return {"attention_entropy": fig}


@register_figures("recurrent-gates")
def recurrent_gates_figures(result):
    s = result.series
    fig, (a, b) = style.new_figure(1, 2, title="LSTM gate entropies (H / log 2)")
    names = list(s["before"])
    x = np.arange(len(names))
    a.bar(x - 0.2, [s["before"][k] for k in names], 0.4, label="init")
    a.bar(x + 0.2, [s["after"][k] for k in names], 0.4, label="trained")
    a.set_xticks(x, names)
    a.set_ylabel("mean entropy")
    for k, col in zip(names, style.colors(len(names))):
        b.plot(s["trace"][k], color=col, lw=1, label=k)
    b.set_xlabel("character position")
    b.set_ylabel("mean entropy over units")
    style.finish([a, b])
    return {"recurrent_gates": fig}
