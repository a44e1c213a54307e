"""The views without the eps slider: attention heads of a probed transformer, live training.

Both answer their own widgets in Python on the server (a head chosen by a click on the heatmap
or in the selector; a fit started with the button); an exception is printed in the page's error
banner through ``View.extra["report_error"]`` (set by the server).

A fit runs in a worker thread (:data:`FIT_POOL`), not in the server's event loop: the slider and
the other views stay responsive while it runs. The page shows ``#training-state``
(``data-state`` ``fitting``/``ready``, the seconds elapsed, refreshed by a periodic callback of
the document every :data:`PROGRESS_MS` ms); the result is applied on the server's loop by a
next-tick callback.
"""

from __future__ import annotations

import html
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bokeh.layouts import column, row
from bokeh.models import (BasicTicker, Button, ColorBar, ColumnDataSource, Div, LinearColorMapper, Select,
                          Spinner, TapTool)
from bokeh.palettes import Viridis256

from . import states as S
from .views import View, _fig, _help, numbers_html

__all__ = ["attention_view", "training_view", "extra_views", "FIT_POOL", "PROGRESS_MS"]

#: One worker for the fits of every page (a second fit waits for the first: the CPU is shared).
FIT_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hjdl-explore-fit")
#: How often the page says how long the running fit has taken.
PROGRESS_MS = 250


def fit_state_html(state: str, seconds: float | None = None, what: str = "") -> str:
    """``#training-state``: ``fitting`` (with the seconds so far) or ``ready``."""
    text = f"fitting {what}… {seconds:.1f} s" if state == "fitting" else f"ready {what}".strip()
    return f'<span id="training-state" data-state="{state}">{html.escape(text)}</span>'


def _report(view: View, exc: Exception | None) -> None:
    fn = view.extra.get("report_error")
    if fn is not None:
        fn(None if exc is None else f"{type(exc).__name__}: {exc}")


def attention_view(folder: str | None = None) -> View:
    st = S.attention_state(folder)
    heat = ColumnDataSource({"layer": st["layer"], "head": st["head"], "H_norm": st["H_norm"]}, name="at_heat")
    first = (st["layer"][0], st["head"][0])
    amap = ColumnDataSource(S.attention_map_source(st, *first), name="at_map")
    mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=1.0)
    hm = _fig("Normalised entropy H/log n per head (click a head)", "head", "layer", width=420, height=320,
              tools="tap,reset", name="attention-heatmap")
    hm.rect("head", "layer", 0.95, 0.95, source=heat, fill_color={"field": "H_norm", "transform": mapper},
            line_color=None, nonselection_fill_alpha=0.6)
    hm.add_layout(ColorBar(color_mapper=mapper, title="H / log n", ticker=BasicTicker()), "right")
    hm.xaxis.ticker = list(range(st["n_heads"]))
    hm.yaxis.ticker = list(range(st["n_layers"]))
    wmap = LinearColorMapper(palette=Viridis256, low=0.0, high=1.0)
    mp = _fig("Attention map of the chosen head", "key position", "query position", width=420, height=380)
    mp.rect("k", "q", 1, 1, source=amap, fill_color={"field": "w", "transform": wmap}, line_color=None)
    mp.y_range.flipped = True
    mp.add_layout(ColorBar(color_mapper=wmap, title="weight π", ticker=BasicTicker()), "right")
    options = [f"{layer},{head}" for layer, head in zip(st["layer"], st["head"])]
    select = Select(title="layer,head", value=options[0], options=options, name="head-select", width=150)
    numbers = Div(text="", name="attention-numbers-div", width=300,
                  styles={"font-family": "monospace", "font-size": "13px"})
    text = (f"{st['name']}: every attention head read by hjdl.probe.probe_attention as a Gibbs measure; the "
            "heatmap shows the mean normalised entropy H/log n (n: the keys a query sees; 0 particle, 1 wave).")
    view = View("attention", "Attention", column(_help(text), row(hm, column(select, numbers)), mp),
                {"at_heat": heat, "at_map": amap}, numbers, None, help=text)

    def show(layer: int, head: int) -> None:
        try:
            amap.data = S.attention_map_source(st, layer, head)
            i = st["layer"].index(layer) + head
            numbers.text = numbers_html("attention", {"layer": float(layer), "head": float(head),
                                                      "H_norm_keys": st["H_norm"][i]})
            _report(view, None)
        except Exception as exc:  # shown in the page
            _report(view, exc)

    def on_select(attr, old, new):
        layer, head = (int(v) for v in new.split(","))
        show(layer, head)

    def on_tap(attr, old, new):
        if new:
            select.value = f"{st['layer'][new[0]]},{st['head'][new[0]]}"

    select.on_change("value", on_select)
    heat.selected.on_change("indices", on_tap)
    numbers.text = numbers_html("attention", {"layer": float(first[0]), "head": float(first[1]),
                                              "H_norm_keys": st["H_norm"][0]})
    return view


def training_view() -> View:
    st = S.training_state(0.1, 8, 0)
    src = {k: ColumnDataSource(v, name=k) for k, v in st["sources"].items()}
    eps_in = Spinner(title="eps", value=0.1, low=0.01, high=2.0, step=0.01, width=100, name="train-eps")
    width_in = Spinner(title="width N", value=8, low=1, high=64, step=1, width=100, name="train-width")
    depth_in = Spinner(title="hidden layers", value=0, low=0, high=2, step=1, width=100, name="train-depth")
    fit = Button(label="Fit", button_type="primary", width=80, name="train-fit")
    loss = _fig("Training loss", "Adam step", "loss (MSE, standardised)", y_axis_type="log", width=380, height=300)
    loss.line("step", "loss", source=src["tr_loss"], line_width=2)
    fp = _fig("Data and fit", "x", "f(x)", width=380, height=300)
    fp.scatter("x", "y", source=src["tr_fit"], size=4, color="#555", legend_label="target |x| + x²/4")
    fp.line("x", "pred", source=src["tr_fit"], line_width=2, color="#d62728", legend_label="LSE network")
    fp.legend.location = "top_center"
    ap = _fig("Recovered initial data (y_j, g_j)", "atom y_j", "value g_j", width=380, height=300)
    ap.scatter("y", "g", source=src["tr_atoms"], size=9, color="#1f77b4")
    hj = _fig("Forward HJ evolution u(x, s): Hopf–Cole (solid) vs Hopf–Lax (dashed)", "x", "u(x, s)",
              width=520, height=300)
    colours = ("#1f77b4", "#2ca02c", "#d62728")
    for i, s in enumerate((0.25, 0.5, 1.0)):
        hj.line("x", f"hc{i}", source=src["tr_hj"], color=colours[i], line_width=2, legend_label=f"s = {s}")
        hj.line("x", f"hl{i}", source=src["tr_hj"], color=colours[i], line_dash="dashed")
    hj.legend.location = "bottom_center"
    numbers = Div(text=numbers_html("training", st["numbers"]), name="training-numbers-div", width=260,
                  styles={"font-family": "monospace", "font-size": "13px"})
    text = ("Fit hjdl.training.HJRegressor (Adam, seed 0) to a convex 1-D target. With no hidden layer the "
            "fitted layer is a Hopf–Cole solution whose initial data (y_j, g_j) are read off its weights; the "
            "right panel evolves them forward (viscous, eps) next to the inviscid Hopf–Lax formula.")
    progress = Div(text=fit_state_html("ready"), name="training-state-div", width=260, height=30,
                   styles={"font-family": "monospace", "font-size": "13px"})
    view = View("training", "Training", column(_help(text), row(eps_in, width_in, depth_in, fit, progress),
                                               row(loss, fp, numbers), row(ap, hj)), src, numbers, None, help=text)
    view.extra["divs"] = [progress]  # in the page's text channel (app.build_page)
    running = {}

    def finish(future, what):
        """On the server's loop: the fit is over; show it (or its error)."""
        doc = running.pop("doc", None)
        pc = running.pop("periodic", None)
        if doc is not None and pc is not None:
            try:
                doc.remove_periodic_callback(pc)
            except ValueError:  # already gone with the session
                pass
        fit.disabled = False
        try:
            view.apply(future.result())
            _report(view, None)
        except Exception as exc:  # shown in the page
            _report(view, exc)
        view.set_text({progress: fit_state_html("ready", what=what)})

    def run():
        if running:  # a fit of this page is under way
            return
        try:
            args = (float(eps_in.value), int(width_in.value), int(depth_in.value))
        except Exception as exc:  # shown in the page
            _report(view, exc)
            return
        what = f"(eps {args[0]:g}, width {args[1]}, {args[2]} hidden)"
        doc = fit.document
        t0 = time.perf_counter()
        fit.disabled = True
        view.set_text({progress: fit_state_html("fitting", 0.0, what)})
        future = FIT_POOL.submit(S.training_state, *args)
        if doc is None:  # no server (a plain Bokeh layout): wait here
            running["doc"] = None
            finish(future, what)
            return
        running["doc"] = doc
        running["periodic"] = doc.add_periodic_callback(
            lambda: view.set_text({progress: fit_state_html("fitting", time.perf_counter() - t0, what)}), PROGRESS_MS)

        def done(fut):  # in the worker thread: hand the result to the server's loop
            try:
                doc.add_next_tick_callback(partial(finish, fut, what))
            except Exception:  # the session closed while fitting
                running.clear()

        future.add_done_callback(done)

    fit.on_click(run)
    return view


def extra_views(folder: str | None = None) -> list:
    """The attention and training tabs (attention skipped, with a note, without transformers)."""
    out = []
    try:
        import transformers  # noqa: F401
        out.append(attention_view(folder))
    except ImportError:
        out.append(View("attention", "Attention", _help("The attention view needs transformers: pip install "
                                                        "hjdl[hf]."), {}, Div(), None))
    out.append(training_view())
    return out
