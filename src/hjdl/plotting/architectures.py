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
    shown, below, _ = style.log_floor(e)
    a.loglog(h, shown, "o-", label=f"max |p_l − p(t_l)| (order {c['order']:.2f})")
    style.mark_floor(a, h, shown, below, color="C0", label="error 0, drawn at a floor" if below.any() else None)
    a.loglog(h, e[0] * h / h[0], "k--", lw=0.8, label="slope 1")
    a.xaxis.set_minor_formatter(NullFormatter())
    a.set_xlabel("step h = T / depth")
    a.set_ylabel("co-state error max_l |p_l − p(t_l)|")
    zero = False
    for (name, run), col in zip(s["digits"].items(), style.colors(2)):
        epochs = np.arange(1, len(run["gaps"]) + 1)
        for key, fmt, what in (("gaps", "o-", "PMP gap"), ("losses", "s--", "loss (nats)")):
            shown, below, _ = style.log_floor(run[key], 1e-12)
            zero = zero or bool(below.any())
            b.semilogy(epochs, shown, fmt, color=col, label=f"{name}: {what}")
            style.mark_floor(b, epochs, shown, below, color=col,
                             label="value 0, drawn at 1e-12" if below.any() else None)
    b.set_xlabel("epoch")
    b.set_ylabel("PMP gap and cross-entropy loss")
    style.integer_ticks(b, "x")
    style.finish([a, b])
    style.set_caption(fig, "Left: the largest difference between the backprop co-state p_l of a residual "
                           "network and the co-state p(t_l) of the continuous adjoint ODE (solved independently), "
                           "against the step h = T/depth, log-log, with a slope-1 guide (dashed): first-order "
                           "convergence. Right: training a ResNet on the 8×8 digits with Adam (dark) and with "
                           "the method of successive approximations, MSA (light): the Pontryagin (PMP) "
                           "Hamiltonian gap (circles) and the cross-entropy loss in nats (squares) on a probe "
                           "set after each epoch, first seed."
                           + (" Triangles: a value of exactly 0, drawn at 1e-12." if zero else ""))
    return {"resnet_pmp": fig}


@register_figures("attention-entropy")
def attention_entropy_figures(result):
    tasks = list(result.series)
    fig, axes = style.new_figure(2, len(tasks), title="Attention heads: entropy by depth and ablation cost")
    for j, task in enumerate(tasks):
        s = result.series[task]
        ent = np.asarray(s["entropy"], dtype=float)  # (layers, heads)
        L, H = ent.shape
        top, bottom = axes[j], axes[len(tasks) + j]
        top.axhspan(0, 0.33, color="tab:red", alpha=0.08, label="particle band")
        top.axhspan(0.66, 1, color="tab:blue", alpha=0.08, label="wave band")
        layers = np.arange(L)
        jitter = (np.arange(H) - (H - 1) / 2) * (0.3 / max(H, 1))
        top.scatter((layers[:, None] + jitter[None, :]).ravel(), ent.ravel(), s=18, color="0.4",
                    label="one head")
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(ent, axis=1)
        top.plot(layers, mean, "k_", ms=18, mew=2, label="layer mean")
        fr = s["fractions"]
        top.set_title(f"{task}: particle {fr['particle']:.2f}, wave {fr['wave']:.2f}", fontsize=9)
        top.set_xlabel("layer (depth)")
        top.set_ylabel("H / log n per head")
        top.set_ylim(0, 1)
        top.set_xlim(-0.5, L - 0.5)
        style.integer_ticks(top, "x")
        bottom.scatter(s["head_entropy_flat"], s["delta"], s=20, color="0.25", label="one head")
        bottom.axhline(0, color="k", lw=0.6)
        bottom.set_xlabel("H / log n of the head")
        bottom.set_ylabel("Δ loss when ablated (nats)")
    style.finish(axes)
    style.set_caption(fig, "Heads of two tiny trained transformers (one column per task: associative recall, "
                           "character model), first seed. Top: each head's normalised attention entropy "
                           "H / log n (0: the head attends to one key, particle; 1: uniform over the n keys, "
                           "wave) against its layer, heads of a layer spread sideways, with the layer mean; "
                           "the title gives the fractions of particle and wave heads. Bottom: the increase "
                           "of the cross-entropy loss (nats) when the head is ablated, against its entropy.")
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
    a.set_xlabel("LSTM gate")
    a.set_ylabel("mean gate entropy H / log 2")
    for k, col in zip(names, style.colors(len(names))):
        b.plot(s["trace"][k], color=col, lw=1, label=k)
    b.set_xlabel("character position in the held-out text")
    b.set_ylabel("gate entropy H / log 2, mean over units")
    style.finish([a, b])
    style.set_caption(fig, "Gates of a small character LSTM read as two-state Gibbs weights: the entropy of "
                           "each gate value σ (normalised by log 2: 0 for a gate fully open or shut, 1 for "
                           "σ = ½). Left: the mean over units and held-out characters at initialisation and "
                           "after training, per gate. Right: after training, along a held-out text, one line "
                           "per gate (mean over units), first seed.")
    return {"recurrent_gates": fig}
