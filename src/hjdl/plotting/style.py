"""One look for every figure: size, fonts, grid, colours.

>>> fig, (ax,) = new_figure(1, 1)
>>> colors(3)[0] != colors(3)[2]
True
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

__all__ = ["new_figure", "colors", "finish", "set_caption", "caption_of", "log_floor", "mark_floor",
           "integer_ticks", "PANEL_SIZE", "DPI"]

#: Size of one panel in inches (width, height).
PANEL_SIZE: tuple[float, float] = (4.2, 3.2)
#: Resolution used when figures are saved as PNG.
DPI: int = 150


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    panel_size: tuple[float, float] = PANEL_SIZE,
    title: str | None = None,
    sharex: bool = False,
    sharey: bool = False,
) -> tuple[Figure, list]:
    """A :class:`~matplotlib.figure.Figure` (no pyplot) with a flat list of styled axes."""
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    axes = [ax for row in grid for ax in row]
    for ax in axes:
        ax.grid(True, alpha=0.3, linewidth=0.6)
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
        ax.tick_params(labelsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig, axes


def colors(n: int, cmap: str = "viridis") -> list[tuple[float, float, float, float]]:
    """``n`` distinguishable colours from ``cmap`` (e.g. one per eps, small eps dark).

    A qualitative colormap (``tab10``, ``Set1``: at most 20 listed colours) gives its own colours
    in order, cycling; a continuous one is sampled evenly inside ``[0.1, 0.9]``.

    >>> colors(3, "tab10")[1] == colormaps["tab10"].colors[1] + (1.0,)
    True
    """
    cm = colormaps[cmap]
    listed = getattr(cm, "colors", None)
    if listed is not None and cm.N <= 20:
        return [tuple(to_rgba(listed[i % cm.N])) for i in range(n)]
    if n <= 1:
        return [cm(0.1)]
    return [cm(0.1 + 0.8 * i / (n - 1)) for i in range(n)]


def finish(axes: Sequence, *, legend: bool = True) -> None:
    """Small legends on every axes that has labelled artists."""
    for ax in axes:
        if legend and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, frameon=False)


_CAPTION_ATTR = "_hjdl_caption"


def set_caption(fig: Figure, text: str) -> Figure:
    """Attach the caption the report prints under ``fig``: what it shows, in a sentence or two.

    >>> fig, _ = new_figure()
    >>> caption_of(set_caption(fig, "Loss against epoch."))
    'Loss against epoch.'
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"caption text={text!r}: expected a non-empty sentence saying what the figure shows")
    setattr(fig, _CAPTION_ATTR, text.strip())
    return fig


def caption_of(fig) -> str | None:
    """The caption set by :func:`set_caption` (for an animation, a list of frames: the first's), or None."""
    if isinstance(fig, (list, tuple)):
        fig = fig[0] if fig else None
    return getattr(fig, _CAPTION_ATTR, None)


def integer_ticks(ax, which: str = "both") -> None:
    """Major ticks on integers only, for an axis that counts (layers, epochs, atoms, points)."""
    if which in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if which in ("y", "both"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def log_floor(values, floor: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """``values`` raised to ``floor`` for a log axis, so that nothing vanishes silently.

    Returns ``(clipped, below, floor)``: ``below`` marks the entries that were ``<= floor`` (zeros,
    negatives); draw them with :func:`mark_floor` and say so in the caption. The default floor is a
    tenth of the smallest positive value (1.0 when there is none).

    >>> v, below, f = log_floor([1.0, 0.01, 0.0])
    >>> f, below.tolist(), v.tolist()
    (0.001, [False, False, True], [1.0, 0.01, 0.001])
    """
    a = np.asarray(values, dtype=float)
    if floor is None:
        pos = a[np.isfinite(a) & (a > 0)]
        floor = float(pos.min()) / 10 if pos.size else 1.0
    below = np.isfinite(a) & (a <= floor)
    return np.where(below, floor, a), below, float(floor)


def mark_floor(ax, x, clipped, below, *, color="k", label: str | None = None, horizontal: bool = True) -> None:
    """Open downward triangles at the floor where :func:`log_floor` raised a value (``horizontal``:
    the floor is on the y axis); ``label`` adds one legend entry in black for all such marks."""
    x, clipped, below = np.asarray(x, float), np.asarray(clipped, float), np.asarray(below, bool)
    if below.any():
        px, py = (x[below], clipped[below]) if horizontal else (clipped[below], x[below])
        ax.plot(px, py, linestyle="none", marker="v" if horizontal else "<", ms=7, mfc="none", color=color,
                mew=1.2, zorder=6)
    if label and not any(h.get_label() == label for h in ax.lines):
        ax.add_line(Line2D([], [], linestyle="none", marker="v" if horizontal else "<", ms=7, mfc="none",
                           color="k", mew=1.2, label=label))
