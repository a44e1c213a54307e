"""The page: one eps slider over a grid of temperatures, the views as tabs, an error banner.

:func:`build_page` returns the Bokeh layout and the widgets; the server (:mod:`hjdl.explore.server`)
attaches Python callbacks, the exporter (:mod:`hjdl.explore.export`) attaches a lookup into
precomputed states. Element ids the tests and the bench read: ``#hj-eps`` (the eps shown, with
``data-value``), ``#hj-error`` (the error banner, empty when all is well), ``#hj-status`` (the
state ``ready``/``busy`` with ``data-eps``), the slider is the Bokeh model named ``eps-slider``.

Texts that change on a slider event (the eps shown, the status, the error banner, each view's
numbers) go through one *text channel* (:func:`text_channel`), not through ``Div.text``: in
BokehJS a changed ``Div.text`` re-renders the Div and then recomputes the layout of the whole
page (every figure of every tab measured again), about 40 ms per Div on the development machine,
three or more per event. The channel is a ``ColumnDataSource`` of (Div id, HTML) rows; its
browser-side callback writes the HTML into the Div's element and stores it in the Div's model
without a change event (the Divs have fixed sizes, so no layout is needed). Measured with
``bench/bench_explore.py`` (README).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
from bokeh.models import ColumnDataSource, CustomJS, Div, Slider, TabPanel, Tabs
from bokeh.layouts import column, row

from .model import ExploreModel, eps_grid
from .views import View, build_views

__all__ = ["Page", "build_page", "eps_html", "status_html", "error_html", "text_channel"]


def eps_html(eps: float) -> str:
    return f'eps = <span id="hj-eps" class="hj-num" data-value="{float(eps)!r}">{float(eps):.4g}</span>'


def status_html(state: str, eps: float, view: str) -> str:
    return (f'<span id="hj-status" data-state="{state}" data-eps="{float(eps)!r}" data-view="{view}">'
            f'{html.escape(state)}</span>')


def error_html(message: str | None) -> str:
    if not message:
        return '<div id="hj-error" data-error=""></div>'
    return (f'<div id="hj-error" data-error="1" style="color:#b00020;font-weight:bold">'
            f'hjdl error: {html.escape(message)}</div>')


#: Browser side of the text channel: each row's HTML into its Div, without a Bokeh re-layout.
_TEXT_JS = """
const ids = src.data.id, htmls = src.data.html;
for (let i = 0; i < ids.length; i++) {
  const div = divs[ids[i]];
  if (div == null) continue;
  div.setv({text: htmls[i]}, {silent: true});  // the model keeps the text (a later render shows it); no event
  for (const view of Bokeh.index.find(div)) {
    if (view.markup_el != null) { view.markup_el.innerHTML = htmls[i]; } else { view.rerender(); }
  }
}
"""


def text_channel(divs) -> ColumnDataSource:
    """A ``ColumnDataSource`` ``{"id": [Div id], "html": [text]}`` whose change rewrites those Divs
    in the browser without re-laying out the page (see the module docstring)."""
    src = ColumnDataSource(data={"id": [], "html": []}, name="hj-text")
    src.js_on_change("data", CustomJS(args=dict(src=src, divs={d.id: d for d in divs}), code=_TEXT_JS))
    return src


@dataclass
class Page:
    model: ExploreModel
    grid: np.ndarray
    slider: Slider
    eps_div: Div
    status: Div
    error: Div
    tabs: Tabs
    views: list
    layout: object
    text: ColumnDataSource | None = None

    def view(self, name: str) -> View:
        return next(v for v in self.views if v.name == name)

    def set_text(self, texts: dict) -> None:
        """New HTML for several Divs (``{Div: html}``) in one message, through the text channel."""
        self.text.data = {"id": [d.id for d in texts], "html": [str(t) for t in texts.values()]}


def build_page(m: ExploreModel, *, n_eps: int = 41, views=None, extra_tabs=()) -> Page:
    """The layout around the views, at the model's own eps (``eps0``, on the grid).

    ``extra_tabs``: further ``View``s without eps (attention, training) appended as tabs.
    """
    grid = eps_grid(m, n_eps)
    k0 = int(np.argmin(np.abs(grid - m.eps0)))
    built = build_views(m, float(grid[k0]), views)
    slider = Slider(start=0, end=len(grid) - 1, step=1, value=k0, title="eps (log-spaced grid index)",
                    show_value=False, width=420, name="eps-slider")
    eps_div = Div(text=eps_html(grid[k0]), name="eps-div", width=200, height=30,
                  styles={"font-size": "16px", "font-family": "monospace"})
    status = Div(text=status_html("ready", grid[k0], built[0].name), name="status-div", width=150, height=30)
    error = Div(text=error_html(None), name="error-div", width=800, height=24)
    header = Div(text=f'<h2 style="margin:4px 0">hjdl explore</h2><div id="hj-model">{html.escape(m.name)}; '
                      f'N = {m.N} neurons, d = {m.d}, x0 = ({", ".join(f"{v:.3g}" for v in m.x0.tolist())})</div>',
                 width=900)
    all_views = list(built) + list(extra_tabs)
    tabs = Tabs(tabs=[TabPanel(child=v.layout, title=v.title, name=f"tab-{v.name}") for v in all_views],
                name="view-tabs")
    layout = column(header, row(slider, eps_div, status), error, tabs)
    divs = [eps_div, status, error]
    for v in all_views:
        divs += [v.numbers] if v.numbers is not None else []
        divs += list(v.extra.get("divs", ()))
    channel = text_channel(divs)
    layout.tags = [channel]  # in the document (nothing draws it): the server can update it
    page = Page(model=m, grid=grid, slider=slider, eps_div=eps_div, status=status, error=error, tabs=tabs,
                views=all_views, layout=layout, text=channel)
    for v in all_views:
        v.extra["set_text"] = page.set_text
    return page
