"""Figures of ``double-descent`` (test error, near-shocks, curvature and conditioning against width)
and ``hessian-cifar`` (largest input curvature against eps, beside its bounds)."""

from __future__ import annotations

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures
from hjdl.plotting.robustness import hessian_bounds_figure

__all__ = ["hessian_cifar_figures", "double_descent_figures"]


@register_figures("hessian-cifar")
def hessian_cifar_figures(result):
    """The bound figure of ``hessian-mnist`` on CIFAR-10; nothing without the data."""
    s = result.series.get("bounds")
    if not s:
        return {}
    fig = hessian_bounds_figure(
        s, points="test images", eps_unit=" (logit units)",
        caption="CIFAR-10 (PCA-64): the largest input-Hessian norm over the test images of the "
                "fitted LSE network against eps, for the LSE part and the full model, beside "
                "the two T6 bounds; the authors report that it falls monotonically with eps.")
    return {"hessian_bounds": fig}


_DD_FLOOR = 1e-12  # training MSE below this is drawn at it (log axis)


@register_figures("double-descent")
def double_descent_figures(result):
    """Four panels against width N (log axis, the threshold N = n marked): test and training MSE,
    the near-shock fraction, the mean curvature, and 1/σ_min of the training Gibbs matrix; one
    colour per setting, the line the median over seeds, the band the seeds' range."""
    import numpy as np
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    curves, n = result.series["curves"], result.series["n_train"]
    fig, axes = style.new_figure(2, 2, sharex=True)
    colors = style.colors(len(curves), "tab10" if len(curves) > 1 else "viridis")
    panels = [("test", "test (solid) and training (dotted) MSE", "MSE (label units²)", True),
              ("fraction", "near-shocks: top-two gap < eps", "fraction of test points", False),
              ("curvature_mean", "mean input curvature", "‖∇²f‖₂ (label units / input unit²)", True),
              ("sigma_min", "rival: conditioning of the fit", "1/σ_min of Gibbs matrix (1)", True)]
    clipped = False
    for (key, title, label, log), ax in zip(panels, axes):
        for color, (name, s) in zip(colors, curves.items()):
            N = np.asarray(s["N"], float)
            v = np.asarray(s[key], float)
            if key == "sigma_min":
                v = 1.0 / np.maximum(v, 1e-300)
            med, lo, hi = np.median(v, 0), v.min(0), v.max(0)
            ax.plot(N, med, "o-", ms=3, color=color, label=name)
            ax.fill_between(N, lo, hi, color=color, alpha=0.15, linewidth=0)
            if key == "test":
                tr = np.median(np.asarray(s["train"], float), 0)
                clipped |= bool((tr < _DD_FLOOR).any())
                ax.plot(N, np.maximum(tr, _DD_FLOOR), "x:", ms=3, color=color)
        ax.axvline(n, color="0.4", linestyle="--", linewidth=0.8, label=f"N = n = {n}" if key == "test" else None)
        ax.set_xscale("log", base=2)
        if log:
            ax.set_yscale("log")
        ax.set_ylabel(label, fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.xaxis.set_major_locator(LogLocator(base=2))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    for ax in axes[2:]:
        ax.set_xlabel("width N (neurons, log scale)")
    axes[1].set_ylim(bottom=0)
    style.finish(axes[:1])
    style.set_caption(fig, "Trained LSE layers against width N on noisy data on a circle, per setting (line: median "
                           "over seeds, band: their range; dashed line: N = n training points). Top: test MSE "
                           "(solid) and training MSE (dotted" + (f", values below {_DD_FLOOR:g} drawn at it" if clipped else "")
                      + ") and the fraction of test points whose top-two logit gap is below eps; bottom: the mean "
                        "input curvature and the rival, 1/σ_min of the n × N Gibbs matrix of the training points.")
    return {"double_descent": fig}
