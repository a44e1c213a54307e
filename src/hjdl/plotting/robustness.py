"""Figures of the robustness experiments (THEORY §6): curvature vs bounds, certified accuracy."""

from __future__ import annotations

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["synthetic_figures", "trained_figures", "hessian_bounds_figure", "hessian_mnist_figures", "certified_figures"]


def _bounds_panel(ax, s, measured_key="measured", label="measured max", title=""):
    ax.loglog(s["eps"], s[measured_key], "o-", label=label)
    ax.loglog(s["eps"], s["row_norm"], "--", label="max|W_j|²/eps")
    ax.loglog(s["eps"], s["ball"], ":", label="R²/eps (enclosing ball)")
    ax.set_xlabel("temperature eps")
    ax.set_ylabel("largest ‖∇²f(x)‖₂")
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
    ax2.set_xlabel("temperature eps")
    ax2.set_ylabel("measured / R²-bound")
    style.finish([ax, ax2])
    style.set_caption(fig, "Left: the largest input-Hessian norm ‖∇²f‖₂ found by search on a synthetic LSE "
                           "layer (unit-norm rows, b = 0) against eps, log-log, beside the paper's bound "
                           "max_j |W_j|²/eps and the sharper R²/eps (R: radius of the rows' minimum enclosing "
                           "ball). Right: their ratio, measured / R²-bound (1 = tight). The search can only "
                           "under-estimate the supremum. Dimensionless.")
    return {"curvature_vs_bounds": fig}


@register_figures("robustness-trained")
def trained_figures(result):
    fig, (ax,) = style.new_figure()
    _bounds_panel(ax, result.series["bound"], title="trained N = 30 nets on |x|")
    ax.set_ylabel("largest |f''(x)| on the test grid")
    style.finish([ax])
    style.set_caption(fig, "Largest second derivative |f''(x)| over a test grid of [−1.8, 1.8] of one-layer "
                           "LSE networks (N = 30) trained on |x|, one per eps, against eps, log-log, beside "
                           "the paper's bound max_j W_j²/eps and the sharper R²/eps (R = (max W − min W)/2). "
                           "Dimensionless.")
    return {"curvature_vs_bound": fig}


def hessian_bounds_figure(s: dict, *, points: str, eps_unit: str, caption: str):
    """The largest input-Hessian norm against eps beside the two T6 bounds, for the LSE part (left)
    and the full model (right): the figure of ``hessian-mnist`` and ``hessian-cifar``, whose
    ``series["bounds"]`` is ``s``; ``points`` names what the maximum runs over."""
    fig, axes = style.new_figure(1, 2)
    for ax, key, title in ((axes[0], "lse", "LSE part"), (axes[1], "full", "full model (× |w₂|)")):
        ax.loglog(s["eps"], s[key], "o-", label=f"measured max over {points}")
        ax.loglog(s["eps"], s[f"{key}_row"], "--", label="row-norm bound max|W_j|²/eps")
        ax.loglog(s["eps"], s[f"{key}_ball"], ":", label="ball bound R²/eps")
        ax.set_xlabel(f"temperature eps{eps_unit}")
        ax.set_ylabel("‖∇²f‖₂ (label units per PCA unit²)")
        ax.set_title(title, fontsize=9)
    style.finish(axes)
    style.set_caption(fig, caption)
    return fig


@register_figures("hessian-mnist")
def hessian_mnist_figures(result):
    fig = hessian_bounds_figure(
        result.series["bounds"], points="test points", eps_unit="",
        caption="Digit images projected on their first principal components, an LSE network "
                "f = w₂ · LSE_eps(Wx + b) fitted to the digit label: the largest input-Hessian "
                "norm over test points against eps, log-log, for the LSE part alone (left) and "
                "the full model including |w₂| (right), beside the row-norm bound max|W_j|²/eps "
                "and the enclosing-ball bound R²/eps (times |w₂| on the right).")
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
            ax.set_xlabel("ℓ2 radius (PCA units)")
        axes[0].set_ylabel("accuracy (fraction of test points)")
        style.finish(axes)
        style.set_caption(fig, f"{src}: per-class LSE classifiers, one panel per temperature eps. Fraction of "
                               "test points certified robust within an ℓ2 ball of the given radius, by the "
                               "combined certificate (solid), the second-order (curvature) certificate "
                               "(dashed) and the first-order (Lipschitz) certificate (dotted), and the "
                               "fraction that survives a PGD attack at that radius (squares), an empirical "
                               "upper bound on the true robust accuracy; certified lies below PGD.")
        figs[f"certified_accuracy_{src}"] = fig
    return figs
