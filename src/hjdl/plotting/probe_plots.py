"""Figures of attention probes: the layer x head entropy map, entropy against depth ("depth as HJ
time", THEORY §8), attention maps of chosen heads, and entropy against ablation damage.

The functions take plain arrays and return :class:`~matplotlib.figure.Figure` objects; ``hjdl
probe`` calls them directly, and :func:`attention_entropy_hf_figures` is registered for the
``attention-entropy-hf`` experiment.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["entropy_heatmap", "entropy_by_depth", "attention_maps", "ablation_scatter",
           "attention_entropy_hf_figures"]

#: Regime bands drawn on the figures (particle below the first, wave at or above the second; THEORY §8).
_BANDS = (0.33, 0.66)
_ENTROPY_LABEL = "mean H / log k (normalised entropy)"


def _integer_axes(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def entropy_heatmap(entropy, title: str | None = None):
    """Layer x head map of the mean normalised entropy, one labelled colour bar on ``[0, 1]``.

    ``entropy`` is ``(layers, heads)``; NaN cells (no query saw two keys) are left blank.
    """
    ent = np.ma.masked_invalid(np.asarray(entropy, dtype=float))
    L, H = ent.shape
    fig, (ax,) = style.new_figure(1, 1, panel_size=(max(3.6, 0.45 * H + 2.2), max(2.8, 0.35 * L + 1.6)),
                                  title=title or "Attention heads: normalised entropy")
    im = ax.imshow(ent, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto", origin="lower",
                   interpolation="nearest")
    ax.grid(False)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    _integer_axes(ax)
    bar = fig.colorbar(im, ax=ax)
    bar.set_label(_ENTROPY_LABEL, fontsize=8)
    bar.ax.tick_params(labelsize=8)
    style.set_caption(fig, f"Mean normalised attention entropy H / log k of each of the {L} × {H} heads (layer "
                           "against head), on a fixed scale [0, 1]: 0 when every query attends to one key "
                           "(particle), 1 when it spreads uniformly over its k keys (wave); blank cells: no "
                           "query saw two keys.")
    return fig


def entropy_by_depth(entropy, title: str | None = None):
    """Each head's normalised entropy against its layer, with the layer mean ± one standard
    deviation: depth read as the time of the Hamilton-Jacobi flow (THEORY §8)."""
    ent = np.asarray(entropy, dtype=float)
    L, H = ent.shape
    layers = np.arange(L)
    fig, (ax,) = style.new_figure(1, 1, title=title or "Entropy against depth (depth as HJ time)")
    ax.axhspan(0, _BANDS[0], color="tab:red", alpha=0.08, label="particle")
    ax.axhspan(_BANDS[1], 1, color="tab:blue", alpha=0.08, label="wave")
    jitter = (np.arange(H) - (H - 1) / 2) * (0.3 / max(H, 1))
    ax.scatter((layers[:, None] + jitter[None, :]).ravel(), ent.ravel(), s=12, color="0.45", label="heads")
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(np.isfinite(ent), ent, np.nan), axis=1) if ent.size else np.zeros(L)
        sd = np.nanstd(np.where(np.isfinite(ent), ent, np.nan), axis=1) if ent.size else np.zeros(L)
    ax.errorbar(layers, mean, yerr=sd, fmt="o-", color="k", capsize=3, label="layer mean ± sd")
    ax.set_xlabel("layer (depth = HJ time)")
    ax.set_ylabel("H / log k")
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    style.finish([ax])
    style.set_caption(fig, "Each head's normalised attention entropy H / log k (grey dots, heads of a layer spread "
                           "sideways) against its layer, with the layer mean ± one standard deviation (black): "
                           "depth read as the time of the Hamilton–Jacobi flow. Shaded: the particle band "
                           f"(below {_BANDS[0]}) and the wave band (from {_BANDS[1]}).")
    return fig


def attention_maps(maps, title: str | None = None):
    """Side-by-side attention maps ``π[query, key]``, one shared colour bar.

    ``maps`` is a list of dicts with ``weights`` (``(Q, K)``), ``label``, ``layer``, ``head`` and
    ``entropy``.
    """
    n = max(len(maps), 1)
    fig, axes = style.new_figure(1, n, panel_size=(3.6, 3.9),
                                 title=title or "Attention maps: most particle-like and most wave-like heads")
    im = None
    vmax = max((float(np.nanmax(np.asarray(m["weights"], dtype=float))) for m in maps), default=1.0)
    for ax, m in zip(axes, maps):
        w = np.asarray(m["weights"], dtype=float)
        im = ax.imshow(w, vmin=0.0, vmax=vmax if vmax > 0 else 1.0, cmap="magma", aspect="equal",
                       origin="upper", interpolation="nearest")
        ax.grid(False)
        ax.set_title(f"{m['label']}: layer {m['layer']}, head {m['head']}\nH / log k = {m['entropy']:.2f}",
                     fontsize=8)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
        _integer_axes(ax)
    if im is not None:
        bar = fig.colorbar(im, ax=axes)
        bar.set_label("attention weight π", fontsize=8)
        bar.ax.tick_params(labelsize=8)
    style.set_caption(fig, "Attention weights π[query, key] of chosen heads (rows: query positions, columns: key "
                           "positions), on one shared colour scale; each title gives the head and its "
                           "normalised entropy H / log k (near 0: each query reads one key; near 1: uniform).")
    return fig


def ablation_scatter(entropy, delta, rho: float | None = None, title: str | None = None):
    """Each head's normalised entropy against the loss increase when it is ablated."""
    ent = np.asarray(entropy, dtype=float).ravel()
    d = np.asarray(delta, dtype=float).ravel()
    fig, (ax,) = style.new_figure(1, 1, title=title or "Ablation damage against entropy")
    label = None if rho is None or not np.isfinite(rho) else f"heads (Spearman ρ = {rho:.2f})"
    ax.scatter(ent, d, s=18, label=label)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("H / log k")
    ax.set_ylabel("Δ loss when ablated (nats)")
    style.finish([ax])
    style.set_caption(fig, "One dot per head: the increase of the cross-entropy loss (nats) when the head is "
                           "ablated, against its normalised attention entropy H / log k"
                           + (f"; Spearman's rank correlation ρ = {rho:.2f}." if label else "."))
    return fig


@register_figures("attention-entropy-hf")
def attention_entropy_hf_figures(result):
    s = result.series
    heads = s["heads"]
    figs = {"head_entropy": entropy_heatmap(heads["entropy"]),
            "entropy_depth": entropy_by_depth(heads["entropy"])}
    if heads.get("delta") is not None:
        figs["ablation"] = ablation_scatter(heads["entropy"], heads["delta"], heads.get("rho"))
    if s.get("maps"):
        figs["attention_maps"] = attention_maps(s["maps"])
    return figs
