"""The figure rules, checked by walking matplotlib objects.

``figure_problems(fig)`` returns one sentence per broken rule (``[]`` when the figure is fit for a
paper); ``frames_problems(frames)`` does the same for an animation (a list of figures). The rules
(see ``/work/coord/COMMON.md`` and issue 17, part D):

1. every visible axis of a drawing axes names its quantity (an x and a y label). A label may be
   carried by a sibling of a shared axis (``sharex``/``sharey``, ``twinx``); an axes turned off on
   purpose (``ax.axis("off")``, e.g. an image of a digit) needs none;
2. every colourbar has a label, and colours read from a continuous colormap are explained by a
   colourbar (their own, or a labelled one with the same colormap and limits);
3. colour scales meant to be compared agree: colourbars with the same colormap and the same
   label show the same range;
4. categories are explained: a scatter of a few (<= MAX_CATEGORIES) integer values drawn with a
   continuous colormap and a colourbar is categorical data dressed as a continuum; a map drawn
   with a qualitative colormap (tab10, Set1, ...) needs a legend; several lines or point sets of
   different (chromatic) colours need a legend that explains each colour (a legend anywhere in
   the figure, or a figure legend, counts when its handles carry that colour);
5. an axis labelled as a count (see COUNT_PATTERNS) has integer major ticks;
6. no empty slots: every axes (colourbars apart) draws something; an axes turned off and left
   empty is an empty slot too;
7. nothing silently vanishes from a log axis: plotted data (lines, scatters) on a log axis are
   all > 0 (clip them to a floor and mark/say so);
8. the figure has a caption (``hjdl.plotting.style.set_caption``);
9. (only with ``layout=True``: it draws the figure, a few tenths of a second) every axis label,
   title, colourbar label and legend text lies inside the figure, none cut off at its edge.

These are heuristics over the artists; they exist to fail on the problems listed in issue 17 and
are tested on hand-made bad and good figures in ``test_figure_rules.py``.
"""

from __future__ import annotations

import re

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.colors import ListedColormap, to_rgba
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hjdl.plotting.style import caption_of

__all__ = ["figure_problems", "frames_problems", "COUNT_PATTERNS", "MAX_CATEGORIES"]

#: An axis label matching one of these (case-insensitive) names a count or an index: its major
#: ticks must sit on integers.
COUNT_PATTERNS: tuple[str, ...] = (
    r"\bcounts?\b",
    r"(?<!condition )(?<!wave )(?<!reynolds )\bnumbers?\b",
    r"#",
    r"\bindex\b",
    r"\bN\s*=",
    r"^\s*N\s*$",
    r"^\s*N\s*[\(\[,]",
    r"^\s*(layer|head|epoch|iteration)s?\b",  # "layer", "layer (depth)"; not "LSE layer f(x)"
)

#: At most this many distinct integer values in a colour array are read as categories.
MAX_CATEGORIES = 20

_COUNT_RE = [re.compile(p, re.IGNORECASE) for p in COUNT_PATTERNS]


# ---------------------------------------------------------------------------------------- helpers

def _is_count_label(text: str) -> bool:
    return any(r.search(text) for r in _COUNT_RE)


def _mappables(ax):
    return [m for m in (*ax.collections, *ax.images) if m.get_array() is not None]


def _colorbars(fig):
    bars, seen = [], set()
    for ax in fig.axes:
        for m in (*ax.collections, *ax.images):
            cb = getattr(m, "colorbar", None)
            if cb is not None and id(cb) not in seen:
                seen.add(id(cb))
                bars.append((m, cb))
    return bars


def _colorbar_axes(fig):
    cax = {id(cb.ax) for _, cb in _colorbars(fig)}
    for ax in fig.axes:  # a colourbar whose mappable was dropped still marks its axes
        if getattr(ax, "_colorbar", None) is not None:
            cax.add(id(ax))
    return cax


def _colorbar_label(cb) -> str:
    long_axis = cb.ax.yaxis if cb.orientation == "vertical" else cb.ax.xaxis
    return long_axis.get_label().get_text().strip()


def _has_content(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.images or ax.patches or ax.texts or ax.tables
                or ax.artists or ax.get_legend() is not None or ax.child_axes)


def _name(ax, i: int) -> str:
    title = ax.get_title() or ax.get_title("left") or ax.get_title("right")
    return f"axes {i}" + (f" ({title!r})" if title else "")


def _siblings_labelled(ax, which: str) -> bool:
    group = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    getter = "get_xlabel" if which == "x" else "get_ylabel"
    twins = ax._twinned_axes.get_siblings(ax) if hasattr(ax, "_twinned_axes") else []
    return any(getattr(o, getter)().strip() for o in (*group.get_siblings(ax), *twins) if o is not ax)


def _rgb(c) -> tuple:
    r, g, b, _ = to_rgba(c)
    return (round(r, 3), round(g, 3), round(b, 3))


def _chromatic(rgb) -> bool:
    return max(rgb) - min(rgb) > 0.02  # black, grey and white are reference colours


def _data_in(artist, ax, which: str) -> bool:
    """Whether ``artist``'s x (or y) coordinates are data coordinates (not axhline/axvline's)."""
    trans = artist.get_offset_transform() if isinstance(artist, PathCollection) else artist.get_transform()
    try:
        in_x, in_y = trans.contains_branch_seperately(ax.transData)
    except (AttributeError, ValueError):
        return True
    return in_x if which == "x" else in_y


def _artist_colours(ax) -> set:
    """Chromatic colours of the data lines and of explicitly coloured scatters of ``ax``."""
    out = set()
    for line in ax.lines:
        if len(np.atleast_1d(line.get_xdata())) >= 2 or line.get_marker() not in (None, "None", "", " "):
            if _data_in(line, ax, "x") and _data_in(line, ax, "y"):
                rgb = _rgb(line.get_color())
                if _chromatic(rgb):
                    out.add(rgb)
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and coll.get_array() is None and len(coll.get_offsets()):
            for fc in np.unique(np.round(np.asarray(coll.get_facecolor())[:, :3], 3), axis=0):
                rgb = tuple(float(v) for v in fc)
                if _chromatic(rgb):
                    out.add(rgb)
    return out


def _legend_colours(fig) -> set:
    legends = list(fig.legends)
    for ax in fig.axes:
        if ax.get_legend() is not None:
            legends.append(ax.get_legend())
    out = set()
    for leg in legends:
        for h in getattr(leg, "legend_handles", []):
            cols = []
            if isinstance(h, Line2D):
                cols = [h.get_color(), h.get_markerfacecolor()]
            elif hasattr(h, "get_facecolor"):
                fc = np.asarray(h.get_facecolor())
                cols = [tuple(fc)] if fc.ndim == 1 else [tuple(r) for r in fc]
                if hasattr(h, "get_edgecolor"):
                    ec = np.asarray(h.get_edgecolor())
                    cols += [tuple(ec)] if ec.ndim == 1 else [tuple(r) for r in ec]
            for c in cols:
                try:
                    out.add(_rgb(c))
                except (ValueError, TypeError):
                    pass
    return out


def _ticks_in_view(axis) -> np.ndarray:
    lo, hi = sorted(axis.get_view_interval())
    locs = np.asarray(axis.get_majorticklocs(), dtype=float)
    span = max(hi - lo, 1e-300)
    return locs[(locs >= lo - 1e-9 * span) & (locs <= hi + 1e-9 * span)]


def _finite(values) -> np.ndarray:
    a = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan).ravel()
    return a[np.isfinite(a)]


# ----------------------------------------------------------------------------------- the checker

def _clipped_text(fig: Figure) -> list[str]:
    """Texts (labels, titles, legends) that stick out of the drawn figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for t in (getattr(fig, "_suptitle", None),) if t is not None]
    for ax in fig.axes:
        texts += [ax.xaxis.label, ax.yaxis.label, ax.title]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
    for leg in fig.legends:
        texts += leg.get_texts()
    box, out = fig.bbox, []
    for t in texts:
        if t.get_visible() and t.get_text().strip():
            bb = t.get_window_extent(renderer)
            if bb.x0 < box.x0 - 1 or bb.y0 < box.y0 - 1 or bb.x1 > box.x1 + 1 or bb.y1 > box.y1 + 1:
                out.append(f"text {t.get_text()[:50]!r} is cut off at the figure's edge (a larger figure "
                           "or a shorter text)")
    return out


def figure_problems(fig: Figure, *, layout: bool = False) -> list[str]:
    """Every broken figure rule of ``fig``, one sentence each (``[]`` when there is none);
    ``layout=True`` also draws the figure and reports text cut off at its edge."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig={type(fig).__name__}: expected a matplotlib.figure.Figure")
    problems: list[str] = _clipped_text(fig) if layout else []
    if caption_of(fig) is None:
        problems.append("figure: no caption (style.set_caption(fig, 'what it shows'))")
    cax_ids = _colorbar_axes(fig)
    legend_cols = _legend_colours(fig)
    bars = _colorbars(fig)

    # rule 2 and 3: colourbar labels and shared ranges
    groups: dict[tuple, list] = {}
    for m, cb in bars:
        label = _colorbar_label(cb)
        if not label:
            problems.append(f"colourbar of {_name(m.axes, fig.axes.index(m.axes))}: no label")
        lims = (getattr(cb, "vmin", None), getattr(cb, "vmax", None))
        if lims[0] is None or lims[1] is None:
            lims = (m.norm.vmin, m.norm.vmax)
        groups.setdefault((m.get_cmap().name, label), []).append(lims)
    explained = {(m.get_cmap().name, m.norm.vmin, m.norm.vmax) for m, _ in bars}
    for i, ax in enumerate(fig.axes):
        for m in _mappables(ax):
            if getattr(m, "colorbar", None) is not None or id(ax) in cax_ids or not ax.axison:
                continue                                   # (an axis-free panel is a picture: a digit)
            cmap = m.get_cmap()
            if isinstance(cmap, ListedColormap) and cmap.N <= MAX_CATEGORIES:
                continue                                   # categories: the legend rule below
            if isinstance(m, ContourSet) and getattr(m, "labelTexts", None):
                continue                                   # contour lines labelled in place
            if (cmap.name, m.norm.vmin, m.norm.vmax) not in explained:
                problems.append(f"{_name(ax, i)}: colours from {cmap.name!r} explained by no colourbar "
                                "(add one, or share the norm of a labelled one)")
    for (cmap, label), lims in groups.items():
        if len(lims) > 1 and not np.allclose(np.asarray(lims, float), np.asarray(lims[0], float),
                                             rtol=1e-6, atol=1e-12):
            ranges = ", ".join(f"[{a:.3g}, {b:.3g}]" for a, b in lims)
            problems.append(f"colourbars {label or '(unlabelled)'!r} ({cmap}) compare panels on different "
                            f"scales {ranges}: share one norm (vmin/vmax) and one colourbar")

    for i, ax in enumerate(fig.axes):
        if id(ax) in cax_ids:
            continue
        where = _name(ax, i)
        # rule 6: empty slots
        if not _has_content(ax):
            state = "nothing drawn" if ax.axison else "turned off but left in the grid"
            problems.append(f"{where}: empty slot ({state}); remove it (fig.delaxes) or fill it")
            continue
        if not ax.axison:
            continue
        # rule 1: axis labels
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if not axis.get_visible():
                continue
            if not axis.get_label().get_text().strip() and not _siblings_labelled(ax, which):
                problems.append(f"{where}: no {which} label (name the quantity and its unit)")
        # rule 5: integer ticks on counts
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            text = axis.get_label().get_text()
            if axis.get_visible() and text and _is_count_label(text):
                ticks = _ticks_in_view(axis)
                bad = ticks[np.abs(ticks - np.round(ticks)) > 1e-9]
                if bad.size:
                    problems.append(f"{where}: {which} axis {text!r} is a count but has ticks at "
                                    f"{', '.join(f'{t:g}' for t in bad[:4])} (MaxNLocator(integer=True))")
        # rule 7: values <= 0 on a log axis
        for which in ("x", "y"):
            if (ax.get_xscale() if which == "x" else ax.get_yscale()) != "log":
                continue
            n_bad = 0
            for line in ax.lines:
                if _data_in(line, ax, which):
                    v = _finite(line.get_xdata() if which == "x" else line.get_ydata())
                    n_bad += int((v <= 0).sum())
            for coll in ax.collections:
                if isinstance(coll, PathCollection) and _data_in(coll, ax, which) and len(coll.get_offsets()):
                    off = np.ma.filled(np.ma.asarray(coll.get_offsets(), dtype=float), np.nan)
                    v = _finite(off[:, 0 if which == "x" else 1])
                    n_bad += int((v <= 0).sum())
            if n_bad:
                problems.append(f"{where}: {n_bad} plotted value(s) <= 0 vanish from the log {which} axis "
                                "(clip to a floor, mark them and say so)")
        # rule 4: categories
        for m in _mappables(ax):
            cmap = m.get_cmap()
            qualitative = isinstance(cmap, ListedColormap) and cmap.N <= MAX_CATEGORIES
            cb = getattr(m, "colorbar", None)
            if isinstance(m, PathCollection):
                vals = _finite(m.get_array())
                uniq = np.unique(vals)
                if (cb is not None and not qualitative and 1 < uniq.size <= MAX_CATEGORIES
                        and np.all(uniq == np.round(uniq)) and vals.size > uniq.size):
                    problems.append(f"{where}: {uniq.size} categories drawn with the continuous colormap "
                                    f"{cmap.name!r} and a colourbar; use distinct colours and a legend")
            if qualitative and not legend_cols:
                kind = "contour map" if isinstance(m, ContourSet) else type(m).__name__
                problems.append(f"{where}: categories ({kind} with qualitative colormap {cmap.name!r}) "
                                "without a legend")
        cols = _artist_colours(ax)
        if len(cols) >= 2 and not cols <= legend_cols:
            problems.append(f"{where}: {len(cols - legend_cols)} of {len(cols)} line/point colours are "
                            "explained by no legend")
    return list(dict.fromkeys(problems))                  # one sentence per problem


def frames_problems(frames, *, layout: bool = False) -> list[str]:
    """:func:`figure_problems` for each frame of an animation (a list of figures), prefixed by the
    frame index; the caption is read from the first frame (as the report does)."""
    if not isinstance(frames, (list, tuple)) or not frames:
        raise TypeError(f"frames={type(frames).__name__}: expected a non-empty list of Figures")
    out = []
    for k, fig in enumerate(frames):
        for p in figure_problems(fig, layout=layout):
            if k > 0 and p.startswith("figure: no caption"):
                continue
            out.append(f"frame {k}: {p}")
    return out


def problems_of(fig_or_frames, *, layout: bool = False) -> list[str]:
    """Either of the two, by what it is given (a value of ``hjdl.plotting.figures_for``)."""
    if isinstance(fig_or_frames, (list, tuple)):
        return frames_problems(fig_or_frames, layout=layout)
    return figure_problems(fig_or_frames, layout=layout)
