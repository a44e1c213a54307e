"""The local server: Panel serves the Bokeh page; slider events run hjdl in Python.

A slider event recomputes the state of the visible view only (cached per eps, see
:mod:`hjdl.explore.states`); switching tabs brings the new view to the current eps. Any
exception raised while computing is printed in the page's error banner (``#hj-error``), not only
in the log. Resources (BokehJS, Panel's JS and CSS) are inlined in the page: nothing is fetched
from a CDN.
"""

from __future__ import annotations

import socket
import threading
import traceback

from .app import build_page, eps_html, error_html, status_html
from .model import ExploreModel

__all__ = ["make_app", "serve", "port_free"]


def port_free(port: int, address: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be bound on ``address`` (0 always can)."""
    if port == 0:
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def wire(page) -> None:
    """Attach the Python callbacks: slider → state of the visible view; tab switch → same."""

    def refresh(k: int, active: int) -> None:
        eps = float(page.grid[k])
        view = page.views[active]
        texts = {page.eps_div: eps_html(eps)}  # every text of the event in one message, after the data
        try:
            if view.state is not None:
                view.apply(view.state(page.model, eps), texts)
            texts[page.error] = error_html(None)
        except Exception as exc:  # shown in the page: a server error must not only reach the log
            traceback.print_exc()
            texts[page.error] = error_html(f"{type(exc).__name__}: {exc}")
        texts[page.status] = status_html("ready", eps, view.name)
        page.set_text(texts)

    def report(message):
        page.set_text({page.error: error_html(message)})

    for v in page.views:
        v.extra["report_error"] = report
    page.slider.on_change("value", lambda attr, old, new: refresh(int(new), page.tabs.active))
    page.tabs.on_change("active", lambda attr, old, new: refresh(int(page.slider.value), int(new)))


def make_app(model: ExploreModel, *, extra=None, n_eps: int = 41, hf_folder=None):
    """A function building one page per browser session (what ``panel.serve`` takes).

    ``extra``: a function returning the views without eps (default: attention, of ``hf_folder``
    or the tiny built-in transformer, and training); ``extra=False``: none."""
    import panel as pn

    from .views_extra import extra_views

    def app():
        try:
            if extra is False:
                tabs = ()
            else:
                tabs = extra() if extra is not None else extra_views(None if hf_folder is None else str(hf_folder))
            page = build_page(model, n_eps=n_eps, extra_tabs=tabs)
            wire(page)
            return pn.pane.Bokeh(page.layout)
        except Exception as exc:  # the page says what went wrong
            traceback.print_exc()
            return pn.pane.HTML(error_html(f"{type(exc).__name__}: {exc}"))

    return app


def prewarm(model: ExploreModel, n_eps: int = 41, names=("deformation", "particle", "robustness")) -> threading.Thread:
    """Fill the per-eps caches of the eps views in a background thread, nearest grid points to
    ``eps0`` first, so that slider moves are answered from memory. Returns the (daemon) thread.

    The fold view's states (a Newton search per eps, the costliest) are left to be computed when
    asked for: warming them would hold the CPU the server needs to answer events."""
    import numpy as np

    from . import states as S
    from .model import eps_grid

    grid = eps_grid(model, n_eps)
    order = np.argsort(np.abs(np.log(grid / model.eps0)), kind="stable")

    def work():
        for name in names:
            fn = getattr(S, f"{name}_state")
            for k in order:
                try:
                    fn(model, float(grid[k]))
                except Exception:  # the page reports errors when the state is asked for
                    return

    thread = threading.Thread(target=work, name="hjdl-explore-prewarm", daemon=True)
    thread.start()
    return thread


def serve(model: ExploreModel, *, port: int = 5006, show: bool = True, threaded: bool = False,
          extra=None, n_eps: int = 41, hf_folder=None, warm: bool = True):
    """Serve the explorer on ``localhost:port`` (``threaded=True`` returns the server thread).

    ``warm``: compute the states of every grid eps in the background (:func:`prewarm`)."""
    import panel as pn

    pn.config.inline = True  # BokehJS and Panel's assets in the page: works offline
    if warm:
        prewarm(model, n_eps)
    return pn.serve({"/": make_app(model, extra=extra, n_eps=n_eps, hf_folder=hf_folder)}, port=port, address="127.0.0.1",
                    websocket_origin=[f"localhost:{port}", f"127.0.0.1:{port}"], show=show,
                    threaded=threaded, title="hjdl explore", verbose=not threaded, location=False)
