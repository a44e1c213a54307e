"""The figure checker itself: each rule fires on a small hand-made bad figure and stays quiet on
the same figure made right (so the checker can fail, and does not cry wolf)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.ticker import MaxNLocator

from figure_rules import figure_problems, frames_problems, problems_of
from hjdl.plotting import style


def _fig(nrows=1, ncols=1, caption="A test figure."):
    fig, axes = style.new_figure(nrows, ncols)
    if caption:
        style.set_caption(fig, caption)
    return fig, axes


def _line(ax, xlabel="x (m)", ylabel="y (s)"):
    ax.plot([0, 1, 2], [1, 2, 3])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _has(problems, text):
    return any(text in p for p in problems)


def test_good_figure_is_quiet():
    fig, (ax,) = _fig()
    _line(ax)
    assert figure_problems(fig) == []


def test_caption_required():
    fig, (ax,) = _fig(caption=None)
    _line(ax)
    assert _has(figure_problems(fig), "no caption")


@pytest.mark.parametrize("which", ["x", "y"])
def test_missing_axis_label(which):
    fig, (ax,) = _fig()
    _line(ax, xlabel="" if which == "x" else "x", ylabel="" if which == "y" else "y")
    assert _has(figure_problems(fig), f"no {which} label")


def test_map_needs_axis_labels_unless_turned_off():
    fig, (a, b) = _fig(1, 2)
    im = a.imshow(np.arange(12.0).reshape(3, 4), vmin=0, vmax=11)
    fig.colorbar(im, ax=a).set_label("value (a.u.)")
    b.imshow(np.eye(4), cmap="gray")
    b.axis("off")                                      # a digit image: deliberately axis-free
    probs = figure_problems(fig)
    assert _has(probs, "axes 0: no x label") and _has(probs, "axes 0: no y label")
    assert not any(p.startswith("axes 1") for p in probs)
    a.set_xlabel("column")
    a.set_ylabel("row")
    assert figure_problems(fig) == []


def test_shared_axis_label_carried_by_sibling():
    fig, (top, bottom) = style.new_figure(2, 1, sharex=True)
    style.set_caption(fig, "Shared x.")
    top.plot([1, 2], [1, 2])
    top.set_ylabel("f")
    _line(bottom)
    assert figure_problems(fig) == []


def test_colourbar_label():
    fig, (ax,) = _fig()
    im = ax.imshow(np.arange(4.0).reshape(2, 2))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    cb = fig.colorbar(im, ax=ax)
    assert _has(figure_problems(fig), "no label")
    cb.set_label("H (nats)")
    assert figure_problems(fig) == []


def test_colour_scale_needs_a_colourbar():
    fig, (a, b) = _fig(1, 2)
    for ax in (a, b):
        ax.scatter([0, 1, 2], [0, 1, 2], c=[0.1, 0.5, 0.9], vmin=0, vmax=1)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    assert _has(figure_problems(fig), "explained by no colourbar")
    fig.colorbar(a.collections[0], ax=[a, b]).set_label("log10 eps")   # one shared bar explains both
    assert figure_problems(fig) == []


def _two_maps(vmax2, contour=False):
    fig, axes = _fig(1, 2)
    z = np.linspace(0, 1, 16).reshape(4, 4)
    for ax, vmax in zip(axes, (1.0, vmax2)):
        if contour:
            m = ax.contourf(z * vmax, levels=np.linspace(0, vmax, 9), vmin=0, vmax=vmax)
        else:
            m = ax.imshow(z * vmax, vmin=0, vmax=vmax)
        fig.colorbar(m, ax=ax).set_label("H (nats)")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    return fig


@pytest.mark.parametrize("contour", [False, True])
def test_compared_panels_share_scale(contour):
    assert _has(figure_problems(_two_maps(2.0, contour)), "different scales")
    assert figure_problems(_two_maps(1.0, contour)) == []


def test_categories_with_continuous_colourbar():
    rng = np.random.default_rng(0)
    fig, (ax,) = _fig()
    x, y, c = rng.normal(size=50), rng.normal(size=50), rng.integers(0, 10, 50)
    sc = ax.scatter(x, y, c=c, cmap="viridis")
    fig.colorbar(sc, ax=ax).set_label("class")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    assert _has(figure_problems(fig), "categories drawn with the continuous colormap")
    # made right: one colour per class, a legend
    fig, (ax,) = _fig()
    for k, col in zip(range(10), style.colors(10, "tab10")):
        ax.scatter(x[c == k], y[c == k], color=col, label=f"class {k}")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    style.finish([ax])
    assert figure_problems(fig) == []
    # a continuous quantity on a continuous colormap is fine
    fig, (ax,) = _fig()
    sc = ax.scatter(x, y, c=rng.normal(size=50))
    fig.colorbar(sc, ax=ax).set_label("log10 eps")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    assert figure_problems(fig) == []


def test_qualitative_map_needs_legend():
    fig, (ax,) = _fig()
    z = np.repeat(np.arange(4), 4).reshape(4, 4)
    ax.imshow(z, cmap="tab10", vmin=0, vmax=9)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    assert _has(figure_problems(fig), "without a legend")
    from matplotlib.patches import Patch
    cm = ax.images[0].get_cmap()
    ax.legend(handles=[Patch(color=cm(k), label=f"class {k}") for k in range(4)])
    assert figure_problems(fig) == []


def test_several_lines_need_legend():
    fig, (ax,) = _fig()
    for k in range(3):
        ax.plot([0, 1], [k, k + 1])
    ax.plot([0, 1], [0, 0.5], "k--")                   # a black guide line needs no entry
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    assert _has(figure_problems(fig), "explained by no legend")
    for k, line in enumerate(ax.lines[:3]):
        line.set_label(f"run {k}")
    style.finish([ax])
    assert figure_problems(fig) == []


def test_coloured_points_need_legend_and_legend_elsewhere_counts():
    fig, (a, b) = _fig(1, 2)
    for ax in (a, b):
        for k, col in enumerate(style.colors(3)):
            ax.scatter([k], [k], color=col, label=f"layer {k}")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    assert _has(figure_problems(fig), "explained by no legend")
    a.legend()                                         # the same colours, explained once
    assert figure_problems(fig) == []


def test_count_axis_integer_ticks():
    fig, (ax,) = _fig()
    ax.step([1e-2, 1e-1, 1], [1, 2, 3])
    ax.set_xscale("log")
    ax.set_xlabel("eps")
    ax.set_ylabel("number of critical points")
    ax.set_ylim(0.5, 3.5)
    assert _has(figure_problems(fig), "is a count but has ticks")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    assert figure_problems(fig) == []


def test_count_patterns():
    from figure_rules import _is_count_label
    for s in ("count", "number of atoms", "# heads", "layer", "Layer (depth)", "index j", "N = 30",
              "N", "N (atoms)", "epoch", "head"):
        assert _is_count_label(s), s
    for s in ("eps", "condition number", "H / log n", "LayerNorm error", "x", "Nats", "LSE layer f(x)",
              "wave number (1/m)"):
        assert not _is_count_label(s), s


def test_empty_slot():
    fig, (a, b) = _fig(1, 2)
    _line(a)
    assert _has(figure_problems(fig), "axes 1: empty slot (nothing drawn)")
    b.axis("off")
    assert _has(figure_problems(fig), "axes 1: empty slot (turned off")
    fig.delaxes(b)
    assert figure_problems(fig) == []


def test_legend_only_panel_is_not_empty():
    fig, (a, b) = _fig(1, 2)
    _line(a)
    a.lines[0].set_label("data")
    b.axis("off")
    b.legend(*a.get_legend_handles_labels())
    assert figure_problems(fig) == []


@pytest.mark.parametrize("which", ["x", "y"])
def test_log_axis_drops_nonpositive(which):
    fig, (ax,) = _fig()
    v = np.array([1.0, 0.1, 0.0])
    x, y = (v, [1, 2, 3]) if which == "x" else ([1, 2, 3], v)
    ax.plot(x, y, "o-")
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    ax.axhline(0.0, color="k") if which == "x" else ax.axvline(0.0 + 1, color="k")
    ax.set_xlabel("a")
    ax.set_ylabel("b")
    assert _has(figure_problems(fig), f"vanish from the log {which} axis")
    ax.lines[0].set_data(*((np.maximum(v, 1e-3), y) if which == "x" else (x, np.maximum(v, 1e-3))))
    assert figure_problems(fig) == []


def test_log_axis_scatter():
    fig, (ax,) = _fig()
    ax.scatter([1, 2], [0.0, 1.0])
    ax.set_yscale("log")
    ax.set_xlabel("a")
    ax.set_ylabel("b")
    assert _has(figure_problems(fig), "vanish from the log y axis")


def test_frames():
    frames = []
    for k in range(2):
        fig, (ax,) = _fig(caption="Frame." if k == 0 else None)
        _line(ax)
        frames.append(fig)
    assert frames_problems(frames) == [] and problems_of(frames) == []
    frames[1].axes[0].set_ylabel("")
    assert _has(frames_problems(frames), "frame 1: axes 0: no y label")
    with pytest.raises(TypeError):
        frames_problems([])


def test_text_cut_off_at_the_edge():
    fig, (ax,) = _fig()
    _line(ax, ylabel="a very long label " * 6)
    assert figure_problems(fig) == []                           # the drawing check is opt-in
    assert _has(figure_problems(fig, layout=True), "cut off at the figure's edge")
    ax.set_ylabel("y (s)")
    assert figure_problems(fig, layout=True) == []
