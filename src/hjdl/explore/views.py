"""The views: Bokeh figures fed by :mod:`hjdl.explore.states`, one shared eps slider.

A :class:`View` owns its figures, its ``ColumnDataSource``s (named as the state's ``sources``)
and a ``Div`` printing the state's ``numbers``. Applying a state only swaps data: the server does
it in Python on a slider event; the exported page does it in the browser from states
precomputed on the slider's grid (:mod:`hjdl.explore.export`). Each printed number is a
``<span class="hj-num" id="<view>-<key>" data-value="<repr>">`` so that tests read the exact value.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from bokeh.models import (BasicTicker, ColorBar, ColumnDataSource, Div, HoverTool, Legend, LinearColorMapper,
                          Range1d, Span)
from bokeh.layouts import column, row
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from . import states as S
from .model import ExploreModel

__all__ = ["View", "VIEW_BUILDERS", "numbers_html", "build_views"]

#: What each printed number is called in the page.
LABELS = {
    "eps": "eps", "lse": "LSE_eps(x0)", "max": "max_j (W_j x0 + b_j)", "gap": "gap LSE − max",
    "band": "bound eps log N", "max_gap": "largest gap on the line",
    "H": "H(π(x0)) [nats]", "H_norm": "H / log N", "p_max": "largest weight", "argmax": "its neuron j",
    "eps_star": "eps* = N^(−1/d)", "map_min": "map min H", "map_max": "map max H",
    "n_critical": "critical points", "minima": "minima", "saddles": "saddles", "maxima": "maxima",
    "n_folds": "folds in the diagram",
    "curvature": "‖∇²f(x0)‖₂", "bound": "bound R²/eps", "row_norm": "bound max|W_j|²/eps",
    "radius": "certified radius", "radius_first": "first-order radius", "threshold": "threshold",
    "layer": "layer", "head": "head", "H_norm_keys": "mean H / log n (n visible keys)",
    "width": "width N", "depth": "hidden layers", "loss": "final training loss", "n_iter": "Adam steps",
    "hj_gap_max": "max |Hopf–Cole − Hopf–Lax|",
}
KIND_COLOURS = {"minimum": "#1f77b4", "saddle": "#2ca02c", "maximum": "#d62728", "degenerate": "#7f7f7f"}


def _fmt(v: float) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.6g}"


def numbers_html(view: str, numbers: dict) -> str:
    """The numbers of a state as an HTML table with stable ids (``<view>-<key>``) and exact values."""
    rows = "".join(
        f'<tr><td>{html.escape(LABELS.get(k, k))}</td><td><span class="hj-num" id="{view}-{k}" '
        f'data-value="{float(v)!r}">{_fmt(float(v))}</span></td></tr>' for k, v in numbers.items())
    return f'<table class="hj-numbers" id="{view}-numbers">{rows}</table>'


@dataclass
class View:
    """One tab: its Bokeh layout, its data sources and the function computing its state."""

    name: str
    title: str
    layout: object
    sources: dict
    numbers: Div
    state: Callable[[ExploreModel, float], dict] | None
    help: str = ""
    extra: dict = field(default_factory=dict)

    def apply(self, st: dict, texts: dict | None = None) -> None:
        """Swap the data of every source and reprint the numbers (Python side).

        ``texts``: a ``{Div: html}`` the caller sends later in one message (the page's text
        channel); the numbers are added to it. Without it the numbers go out at once (through
        ``extra["set_text"]`` when the page gave one, else as ``Div.text``)."""
        for name, data in st["sources"].items():
            self.sources[name].data = {k: _column(v) for k, v in data.items()}
        html_ = numbers_html(self.name, st["numbers"])
        if texts is not None:
            texts[self.numbers] = html_
        else:
            self.set_text({self.numbers: html_})

    def set_text(self, texts: dict) -> None:
        """``{Div: html}`` through the page's text channel when there is one, else ``Div.text``."""
        fn = self.extra.get("set_text")
        if fn is not None:
            fn(texts)
        else:
            for div, text in texts.items():
                div.text = text


def _column(values):
    """Numbers as a float64 array (Bokeh sends arrays as binary buffers); labels as they are."""
    if values and isinstance(values[0], (int, float)) and not isinstance(values[0], bool):
        return np.asarray(values, dtype=float)
    return values


def _fig(title: str, x_label: str, y_label: str, **kw):
    p = figure(title=title, width=kw.pop("width", 460), height=kw.pop("height", 330),
               tools=kw.pop("tools", "pan,wheel_zoom,box_zoom,reset,save"), toolbar_location="above", **kw)
    p.xaxis.axis_label = x_label
    p.yaxis.axis_label = y_label
    return p


def _sources(st: dict) -> dict:
    return {k: ColumnDataSource(data=v, name=k) for k, v in st["sources"].items()}


def _numbers_div(view: str, st: dict) -> Div:
    # a fixed size: new text does not make Bokeh lay the whole page out again
    return Div(text=numbers_html(view, st["numbers"]), name=f"{view}-numbers-div", width=300,
               height=24 * len(st["numbers"]) + 8,
               styles={"font-family": "monospace", "font-size": "13px"})


def _help(text: str) -> Div:
    return Div(text=f'<p class="hj-help">{text}</p>', width=780, styles={"font-size": "13px"})


def deformation_view(m: ExploreModel, eps: float) -> View:
    st = S.deformation_state(m, eps)
    src = _sources(st)
    p = _fig("LSE_eps and its tropical limit along the line x0 + s·u", "s (position on the line)",
             "f(x) (output units)")
    p.varea("s", "max", "upper", source=src["dfm_curve"], fill_alpha=0.25, fill_color="#ffbb78",
            legend_label="band max ≤ LSE ≤ max + eps log N")
    p.line("s", "max", source=src["dfm_curve"], line_width=2, color="#222222", legend_label="max_j (tropical, eps = 0)")
    p.line("s", "lse", source=src["dfm_curve"], line_width=2, color="#1f77b4", legend_label="LSE_eps")
    p.scatter("s", "lse", source=src["dfm_point"], size=9, color="#d62728", legend_label="x0")
    p.legend.location = "top_left"
    p.legend.background_fill_alpha = 0.5
    div = _numbers_div("deformation", st)
    text = ("LSE_eps(Wx + b) is the viscous Hopf–Cole solution; as eps → 0 it tends to the max-affine "
            "(tropical) network. The gap LSE − max lies in [0, eps log N] everywhere (the shaded band).")
    return View("deformation", "Deformation", column(_help(text), row(p, div)), src, div, S.deformation_state,
                help=text)


def particle_view(m: ExploreModel, eps: float) -> View:
    st = S.particle_state(m, eps)
    src = _sources(st)
    static = S.particle_static(m)
    bars = _fig("Gibbs weights π_j(x0) of the N neurons", "neuron j", "π_j (probability)", width=380)
    bars.vbar(x="j", top="p", source=src["pw_bars"], width=0.8, color="#1f77b4")
    bars.y_range = Range1d(0, 1.02)
    bars.xaxis.ticker.desired_num_ticks = min(m.N, 12)
    mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=static["log_n"])
    plane = "x₁" if m.d == 2 else "principal direction 1"
    plane2 = "x₂" if m.d == 2 else "principal direction 2"
    emap = _fig("Entropy H(π(x)) over the input plane", plane, plane2, width=420,
                match_aspect=True)
    a, c = np.unique(st["sources"]["pw_map"]["x"]), np.unique(st["sources"]["pw_map"]["y"])
    emap.rect("x", "y", width=float(a[1] - a[0]), height=float(c[1] - c[0]), source=src["pw_map"],
              fill_color={"field": "H", "transform": mapper}, line_color=None)
    emap.scatter("x", "y", source=src["pw_atoms"], size=6, color="white", line_color="black",
                 legend_label="neurons W_j")
    emap.scatter("x", "y", source=src["pw_x0"], size=11, marker="x", color="#d62728", line_width=3,
                 legend_label="x0")
    emap.add_layout(ColorBar(color_mapper=mapper, title="H [nats]", ticker=BasicTicker()), "right")
    emap.legend.location = "top_left"
    emap.legend.background_fill_alpha = 0.5
    hp = _fig("H(π(x0)) against eps", "eps (log scale)", "H [nats]", x_axis_type="log", width=420)
    hp.line(static["eps"], static["H"], line_width=2, color="#1f77b4", legend_label="H(x0; eps)")
    hp.add_layout(Span(location=static["eps_star"], dimension="height", line_dash="dashed", line_color="#555"))
    hp.line([static["eps_star"]] * 2, [0, static["log_n"]], line_dash="dashed", color="#555",
            legend_label=f"eps* = N^(−1/d) = {static['eps_star']:.3g}")
    hp.line([static["eps"][0], static["eps"][-1]], [static["log_n"]] * 2, line_dash="dotted", color="#999",
            legend_label="log N (uniform weights)")
    hp.scatter("eps", "H", source=src["pw_now"], size=10, color="#d62728", legend_label="current eps")
    hp.legend.location = "top_left"
    hp.legend.background_fill_alpha = 0.5
    div = _numbers_div("particle", st)
    text = ("Particle regime (eps ≪ eps*): one neuron carries the output, H ≈ 0. Wave regime (eps ≫ eps*): "
            "the Gibbs weights spread, H → log N.")
    return View("particle", "Particle ↔ wave", column(_help(text), row(bars, div), row(emap, hp)), src, div,
                S.particle_state, help=text)


def folds_view(m: ExploreModel, eps: float) -> View:
    static = S.folds_static(m)
    st = S.folds_state(m, eps)
    src = _sources(st)
    dg = _fig("Continuation: critical points of H along the line, against eps", "eps (log scale)",
              "s (position on the line)", x_axis_type="log", width=460)
    br = static["branches"]
    for kind, colour in KIND_COLOURS.items():
        xs = [e for e, k in zip(br["eps"], br["kind"]) if k == kind]
        ys = [x for x, k in zip(br["x"], br["kind"]) if k == kind]
        if xs:
            dg.multi_line(xs, ys, line_width=2, color=colour, legend_label=kind)
    if static["folds"]["eps"]:
        dg.scatter(static["folds"]["eps"], static["folds"]["x"], size=14, marker="star", color="#ff7f0e",
                   line_color="black", legend_label="fold")
    dg.line("eps", "x", source=src["fd_now"], line_dash="dashed", color="#555", legend_label="chosen eps")
    dg.legend.location = "top_left"
    dg.legend.background_fill_alpha = 0.5
    land = _fig("Entropy landscape H(s; eps) and its critical points", "s (position on the line)", "H [nats]",
                width=460)
    land.line("x", "H", source=src["fd_land"], line_width=2, color="#1f77b4", legend_label="H(s; eps)")
    land.scatter("x", "H", source=src["fd_crit"], size=10, legend_field="kind",
                 color={"field": "kind", "transform": _kind_map()})
    land.legend.location = "top_left"
    land.legend.background_fill_alpha = 0.5
    div = _numbers_div("folds", st)
    text = ("Critical points of the entropy H(x; eps) restricted to the line x0 + s·u (a 1-D LSE layer), "
            "followed in eps by hjdl.bifurcation.continuation; stars mark folds, where a minimum meets a "
            "maximum and both vanish. The slider picks the eps of the landscape on the right.")
    return View("folds", "Fold bifurcations", column(_help(text), row(dg, land), div), src, div, S.folds_state,
                help=text)


def _kind_map():
    from bokeh.models import CategoricalColorMapper

    return CategoricalColorMapper(factors=list(KIND_COLOURS), palette=list(KIND_COLOURS.values()))


def robustness_view(m: ExploreModel, eps: float) -> View:
    static = S.robustness_static(m)
    st = S.robustness_state(m, eps)
    src = _sources(st)
    cp = _fig("Curvature at x0 and its eps-controlled bound", "eps (log scale)", "‖∇²f‖₂ (output / input²)",
              x_axis_type="log", y_axis_type="log")
    cp.line(static["eps"], static["curvature"], line_width=2, color="#1f77b4", legend_label="‖∇²f(x0)‖₂")
    cp.line(static["eps"], static["bound"], line_width=2, color="#d62728", line_dash="dashed",
            legend_label="bound R²/eps (enclosing ball)")
    cp.line(static["eps"], static["row_norm"], line_width=1, color="#ff7f0e", line_dash="dotted",
            legend_label="bound max|W_j|²/eps (row norm)")
    cp.scatter("eps", "curvature", source=src["rb_now"], size=10, color="#1f77b4")
    cp.scatter("eps", "bound", source=src["rb_now"], size=10, color="#d62728")
    cp.legend.location = "bottom_left"
    cp.legend.background_fill_alpha = 0.5
    rp = _fig(f"Certified radius at x0 (threshold {static['threshold']:.3g})", "eps (log scale)",
              "radius (input units)", x_axis_type="log")
    rp.line(static["eps"], static["radius"], line_width=2, color="#2ca02c", legend_label="certified radius")
    rp.scatter("eps", "radius", source=src["rb_now"], size=10, color="#2ca02c", legend_label="current eps")
    rp.legend.location = "top_left"
    rp.legend.background_fill_alpha = 0.5
    div = _numbers_div("robustness", st)
    text = ("Theorem T6: ‖∇²f‖₂ ≤ R²/eps, so raising eps flattens the layer everywhere; the certificate "
            "(hjdl.robustness.certify) turns the margin, gradient and curvature bound into a radius in "
            "which the side of the threshold cannot change.")
    return View("robustness", "Robustness", column(_help(text), row(cp, rp), div), src, div,
                S.robustness_state, help=text)


#: The eps-driven views in tab order.
VIEW_BUILDERS = {"deformation": deformation_view, "particle": particle_view, "folds": folds_view,
                 "robustness": robustness_view}


def build_views(m: ExploreModel, eps: float, names=None) -> list[View]:
    return [VIEW_BUILDERS[n](m, eps) for n in (names or VIEW_BUILDERS)]
