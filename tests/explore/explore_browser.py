"""Helpers of the browser tests: free ports, waiting for the page, reading printed numbers, moving the slider."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(page, eps: float | None = None, view: str | None = None, timeout: float = 60_000) -> None:
    """Wait until the page says ``ready`` (at ``eps``, on ``view``, when given)."""
    sel = "#hj-status[data-state=ready]"
    if eps is not None:
        sel += f'[data-eps="{eps!r}"]'
    if view is not None:
        sel += f'[data-view="{view}"]'
    page.wait_for_selector(sel, timeout=timeout)


def open_tab(page, title: str, view: str) -> None:
    """Click a view's tab and wait until the server has brought it to the current eps."""
    page.get_by_text(title, exact=True).click()
    wait_ready(page, shown_eps(page), view)


def number(page, view: str, key: str) -> float:
    return float(page.locator(f"#{view}-{key}").get_attribute("data-value"))


def shown_eps(page) -> float:
    return float(page.locator("#hj-eps").get_attribute("data-value"))


def move_slider(page, steps: int, grid) -> float:
    """Move the eps slider by ``steps`` grid points with the keyboard; waits for the view at the
    new eps (``grid``: the slider's eps values) and returns it."""
    before = shown_eps(page)
    k = min(range(len(grid)), key=lambda i: abs(grid[i] - before))
    target = float(grid[max(0, min(len(grid) - 1, k + steps))])
    handle = page.locator(".noUi-handle").first
    handle.focus()
    for _ in range(abs(steps)):
        page.keyboard.press("ArrowRight" if steps > 0 else "ArrowLeft")
    wait_ready(page, target)
    assert shown_eps(page) == target
    return target


_FRAME_JS = """(name) => {
  function* walk(v) { yield v; for (const c of (v.child_views ?? [])) yield* walk(c); }
  for (const r of Object.values(Bokeh.index)) for (const v of walk(r)) {
    if (v.model.name === name) {
      const f = v.frame.bbox; const c = v.canvas_view.el.getBoundingClientRect();
      return {left: c.left + f.left, top: c.top + f.top, width: f.width, height: f.height,
              x0: v.frame.x_range.start, x1: v.frame.x_range.end, y0: v.frame.y_range.start, y1: v.frame.y_range.end};
    } }
  return null; }"""


def click_plot(page, figure_name: str, x: float, y: float) -> None:
    """A real mouse click at data coordinates ``(x, y)`` of the Bokeh figure named ``figure_name``."""
    box = page.evaluate(_FRAME_JS, figure_name)
    assert box is not None, f"no figure named {figure_name!r} in the page"
    px = box["left"] + (x - box["x0"]) / (box["x1"] - box["x0"]) * box["width"]
    py = box["top"] + (box["y1"] - y) / (box["y1"] - box["y0"]) * box["height"]
    page.mouse.click(px, py)
