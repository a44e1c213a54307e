"""Figures for experiment results (the only place matplotlib is used).

Figure functions take a :class:`hjdl.experiments.Result` and return
``{name: matplotlib.figure.Figure}``; they are registered per experiment::

    from hjdl.plotting import register_figures, style

    @register_figures("identity")
    def identity_figures(result):
        fig, (ax,) = style.new_figure()
        s = result.series["profiles"]
        ax.plot(s["x"], s["f"], label="f")
        style.finish([ax])
        return {"profiles": fig}

The library never imports this package; only ``hjdl.cli`` does. Figures are built on
:class:`~matplotlib.figure.Figure` directly, so no pyplot state and no GUI backend is involved.
"""

from __future__ import annotations

from hjdl.plotting import style
from hjdl.plotting.registry import figures_for, register_figures, registered_figures, unregister_figures

# ---- figure modules (each registers its figures on import) ----------------------------------
# One import per module, e.g.
#     from hjdl.plotting import identity, tropical_limit, attention_identity  # noqa: F401
from hjdl.plotting import architectures, bifurcation_plots, foundation, phase, probe_plots, robustness, scaling  # noqa: F401,E402,E501
from hjdl.plotting import generalization_plots, solver_plots, claims_plots, shocks_plots  # noqa: F401,E402
# ---- end of figure modules -------------------------------------------------------------------

__all__ = ["figures_for", "register_figures", "registered_figures", "unregister_figures", "style"]
