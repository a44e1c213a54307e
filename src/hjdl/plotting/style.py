"""One look for every figure: size, fonts, grid, colours.

>>> fig, (ax,) = new_figure(1, 1)
>>> colors(3)[0] != colors(3)[2]
True
"""

from __future__ import annotations

from typing import Sequence

from matplotlib import colormaps
from matplotlib.figure import Figure

__all__ = ["new_figure", "colors", "finish", "set_caption", "caption_of", "PANEL_SIZE", "DPI"]

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
    """``n`` distinguishable colours from ``cmap`` (e.g. one per eps, small eps dark)."""
    cm = colormaps[cmap]
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
