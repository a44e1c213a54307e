"""Figures of the robustness experiments (THEORY §6): curvature vs bounds, certified accuracy."""

from __future__ import annotations

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["synthetic_figures", "trained_figures", "hessian_mnist_figures", "certified_figures"]


def _bounds_panel(ax, s, measured_key="measured", label="measured max", title=""):
    ax.loglog(s["eps"], s[measured_key], "o-", label=label)
    ax.loglog(s["eps"], s["row_norm"], "--", label="max|W_j|²/eps")
    ax.loglog(s["eps"], s["ball"], ":", label="R²/eps (enclosing ball)")
    ax.set_xlabel("eps")
    ax.set_ylabel("‖∇²f‖₂")
    if title:
        ax.set_title(title, fontsize=9)


@register_figures("robustness-synthetic")
def synthetic_figures(result):
    fig, (ax, ax2) = style.new_figure(1, 2)
    s = result.series["bounds"]
    _bounds_panel(ax, s, title="synthetic layer: curvature vs bounds")
    ratio = [m / b for m, b in zip(s["measured"], s["ball"])]
    ax2.semilogx(s["eps"], ratio, "o-", label="measured / R²-bound")
    ax2.set_ylim(0, 1.05)
    ax2.set_xlabel("eps")
    ax2.set_ylabel("ratio")
    style.finish([ax, ax2])
    return {"curvature_vs_bounds": fig}


@register_figures("robustness-trained")
def trained_figures(result):
    fig, (ax,) = style.new_figure()
    _bounds_panel(ax, result.series["bound"], title="trained N = 30 nets on |x|")
    style.finish([ax])
    return {"curvature_vs_bound": fig}


@register_figures("hessian-mnist")
def hessian_mnist_figures(result):
    s = result.series["bounds"]
    fig, axes = style.new_figure(1, 2)
    for ax, key, title in ((axes[0], "lse", "LSE part"), (axes[1], "full", "full model (× w₂)")):
        ax.loglog(s["eps"], s[key], "o-", label="measured max")
        ax.loglog(s["eps"], s[f"{key}_row"], "--", label="row-norm bound")
        ax.loglog(s["eps"], s[f"{key}_ball"], ":", label="ball bound")
        ax.set_xlabel("eps")
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("‖∇²f‖₂")
    style.finish(axes)
    return {"hessian_bounds": fig}


@register_figures("certified-accuracy")
def certified_figures(result):
    figs = {}
    for src, res in result.series.items():
        n = len(res["eps"])
        fig, axes = style.new_figure(1, n, sharey=True, title=f"{src}: accuracy vs ℓ2 radius")
        for ax, (eps, cur) in zip(axes, res["eps"].items()):
            r = res["radii"]
            ax.plot(r, cur["radius"], "o-", label="certified (combined)")
            ax.plot(r, cur["radius_second_order"], "--", label="certified, 2nd order")
            ax.plot(r, cur["radius_first_order"], ":", label="certified, 1st order")
            ax.plot(r, cur["pgd"], "s-", alpha=0.7, label="PGD robust (upper bound)")
            ax.set_title(f"eps = {eps}", fontsize=9)
            ax.set_xlabel("radius")
        axes[0].set_ylabel("accuracy")
        style.finish(axes)
        figs[f"certified_accuracy_{src}"] = fig
    return figs
