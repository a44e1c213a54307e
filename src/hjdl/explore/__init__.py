"""``hjdl explore``: the theory in the browser, every number computed by hjdl.

A local Panel/Bokeh app (:func:`serve`) with one eps slider and views (deformation, particle ↔
wave, fold bifurcations, robustness, attention, training), and :func:`export_html`, the same
eps views as one self-contained HTML file with states precomputed on the slider's grid.
Needs the optional extra ``pip install hjdl[explore]`` (Panel, Bokeh). Nothing in the library
imports this package.
"""

from __future__ import annotations

__all__ = ["export_html", "serve", "example_model", "from_model"]


def __getattr__(name):
    if name == "export_html":
        from .export import export_html

        return export_html
    if name == "serve":
        from .server import serve

        return serve
    if name in ("example_model", "from_model"):
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module 'hjdl.explore' has no attribute {name!r}")
