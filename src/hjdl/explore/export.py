"""A self-contained HTML page: the same views, states precomputed on the eps grid, no server.

Every state of every eps view is computed in Python (:mod:`hjdl.explore.states`) for each point
of the slider's grid and embedded as JSON; the slider's browser-side callback only *selects* the
precomputed columns and printed numbers of the chosen grid point (no formula runs in
JavaScript). BokehJS is inlined (``bokeh.resources.INLINE``), so the file opens from ``file://``
with no network.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path

import numpy as np

from bokeh.embed import file_html
from bokeh.models import CustomJS
from bokeh.resources import INLINE

from ..errors import InputError
from .app import build_page, eps_html
from .model import ExploreModel, example_model
from .views import numbers_html

__all__ = ["export_html", "page_html", "EXPORT_GRID", "check_n_eps", "check_out_dir"]

#: Slider positions of the exported page (fewer than the server's 41: every state is embedded).
EXPORT_GRID = 17

_JS = """
const k = String(slider.value);
const ids = [eps_div.id], htmls = [eps_texts[k]];
for (const [view, per] of Object.entries(payload)) {
  const st = per[k];
  for (const [name, data] of Object.entries(st.sources)) { sources[name].data = data; }
  ids.push(divs[view].id); htmls.push(st.html);
}
ids.push(status.id); htmls.push(status_texts[k]);
text.data = {id: ids, html: htmls};  // the page's text channel: no re-layout of the page (app.py)
"""


def _short(col):
    """Plotted columns to 7 significant digits (the printed numbers keep every digit)."""
    if col and isinstance(col[0], float):
        return [float(f"{x:.7g}") for x in col]
    return col


def page_html(model: ExploreModel | None = None, *, n_eps: int = EXPORT_GRID, extra_tabs=()) -> str:
    """The exported page as one HTML string (see :func:`export_html`)."""
    m = model if model is not None else example_model()
    page = build_page(m, n_eps=n_eps, extra_tabs=extra_tabs)
    payload, sources, divs = {}, {}, {}
    for v in page.views:
        if v.state is None:
            continue
        per = {}
        for k, eps in enumerate(page.grid):
            st = v.state(m, float(eps))
            per[str(k)] = {"sources": {n: {c: _short(col) for c, col in data.items()}
                                       for n, data in st["sources"].items()},
                           "html": numbers_html(v.name, st["numbers"])}
        payload[v.name] = per
        sources.update(v.sources)
        divs[v.name] = v.numbers
    eps_texts = {str(k): eps_html(e) for k, e in enumerate(page.grid)}
    status_texts = {str(k): f'<span id="hj-status" data-state="ready" data-eps="{float(e)!r}">ready (exported '
                            f'page)</span>' for k, e in enumerate(page.grid)}
    page.status.text = status_texts[str(int(page.slider.value))]
    cb = CustomJS(args=dict(slider=page.slider, eps_div=page.eps_div, status=page.status, sources=sources, text=page.text,
                            divs=divs, payload=json.loads(json.dumps(payload)), eps_texts=eps_texts,
                            status_texts=status_texts), code=_JS)
    page.slider.js_on_change("value", cb)
    return file_html(page.layout, INLINE, title="hjdl explore (exported)")


def export_html(out_dir, *, model=None, n_eps: int = EXPORT_GRID) -> Path:
    """Write ``out_dir/index.html``: the explorer's eps views, self-contained, no server.

    Args:
        out_dir: a folder (created if missing).
        model: None (the built-in example), an :class:`~hjdl.explore.model.ExploreModel`, or any
            model form :func:`hjdl._models.as_model` accepts with one LSE head.
        n_eps: slider positions (states computed per position and view), an integer from 2
            to ``MAX_EXPORT_GRID``.

    Returns:
        the path of the written ``index.html``.

    Raises:
        InputError: ``n_eps`` not such an integer (bools refused); ``out_dir`` an existing file
            (or under one), or not writable.
    """
    from .._io import atomic_write_text
    from .model import from_model

    n_eps = check_n_eps(n_eps)
    folder = check_out_dir(out_dir)
    if model is not None and not isinstance(model, ExploreModel):
        model = from_model(model)
    text = page_html(model, n_eps=n_eps)
    path = folder / "index.html"
    try:
        atomic_write_text(path, text)
    except OSError as exc:  # e.g. no permission: the user's folder, said in hjdl's words
        raise InputError(f"out_dir: cannot write {str(path)!r} ({exc.strerror or type(exc).__name__}); "
                         f"accepted: a folder you can write to (created if missing)") from None
    return path


#: The most slider positions an export embeds (each position holds every view's state).
MAX_EXPORT_GRID = 401


def check_n_eps(n_eps) -> int:
    """``n_eps`` as an int, or :class:`~hjdl.errors.InputError` naming what is accepted.

    >>> check_n_eps(17)
    17
    >>> check_n_eps(0)
    Traceback (most recent call last):
    ...
    hjdl.errors.InputError: n_eps: received 0; accepted: an integer from 2 to 401 (slider positions)
    """
    ok = isinstance(n_eps, (int, np.integer)) and not isinstance(n_eps, (bool, np.bool_))
    if not ok or not 2 <= int(n_eps) <= MAX_EXPORT_GRID:
        raise InputError(f"n_eps: received {n_eps!r}; accepted: an integer from 2 to {MAX_EXPORT_GRID} "
                         "(slider positions)")
    return int(n_eps)


def check_out_dir(out_dir) -> Path:
    """``out_dir`` as a Path that is a folder or can be made one (checked before any work)."""
    if isinstance(out_dir, bool) or not isinstance(out_dir, (str, PathLike)) or str(out_dir) == "":
        raise InputError(f"out_dir: received {out_dir!r}; accepted: a folder path (str or os.PathLike)")
    folder = Path(out_dir).expanduser()
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                what = "is" if p == folder else f"lies under {str(p)!r}, which is"
                raise InputError(f"out_dir: {str(out_dir)!r} {what} an existing file, not a folder; "
                                 "accepted: a folder (created if missing) that index.html is written into")
            break
    return folder
