"""Figures of ``double-descent`` (test error, near-shocks, curvature and conditioning against width)
and ``hessian-cifar`` (largest input curvature against eps, beside its bounds)."""

from __future__ import annotations

from hjdl.plotting import style
from hjdl.plotting.registry import register_figures

__all__ = ["hessian_cifar_figures"]


@register_figures("hessian-cifar")
def hessian_cifar_figures(result):
    """The bound figure of ``hessian-mnist`` on CIFAR-10; nothing without the data."""
    s = result.series.get("bounds")
    if not s:
        return {}
    fig, axes = style.new_figure(1, 2)
    for ax, key, title in ((axes[0], "lse", "LSE part"), (axes[1], "full", "full model (× |w₂|)")):
        ax.loglog(s["eps"], s[key], "o-", label="measured max over test images")
        ax.loglog(s["eps"], s[f"{key}_row"], "--", label="row-norm bound max|W_j|²/eps")
        ax.loglog(s["eps"], s[f"{key}_ball"], ":", label="ball bound R²/eps")
        ax.set_xlabel("temperature eps (logit units)")
        ax.set_ylabel("‖∇²f‖₂ (label units per PCA unit²)")
        ax.set_title(title, fontsize=9)
    style.finish(axes)
    style.set_caption(fig, "CIFAR-10 (PCA-64): the largest input-Hessian norm over the test images of the "
                           "fitted LSE network against eps, for the LSE part and the full model, beside "
                           "the two T6 bounds; the authors report that it falls monotonically with eps.")
    return {"hessian_bounds": fig}
