"""Atomic writes leave either the old file or the whole new one, never a partial file."""

from __future__ import annotations

import io
import json
import os

import pytest
from matplotlib.figure import Figure

from hjdl import _io
from hjdl._io import atomic_open, atomic_write_bytes, atomic_write_json, atomic_write_text, save_figure_atomic
from hjdl._progress import Bar, progress, stop_reason


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_writes_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "x.txt"
    atomic_write_text(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    atomic_write_json(tmp_path / "x.json", {"a": [1, 2.5, None]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": [1, 2.5, None]}
    assert _leftovers(target.parent) == [] and _leftovers(tmp_path) == []
    assert os.stat(target).st_mode & 0o777 == 0o644


def test_crash_inside_writer_leaves_no_file(tmp_path):
    target = tmp_path / "new.txt"
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as f:
            f.write("half of it")
            raise RuntimeError("crash in the middle")
    assert not target.exists() and _leftovers(tmp_path) == []


def test_crash_keeps_the_previous_version(tmp_path, monkeypatch):
    target = tmp_path / "keep.txt"
    atomic_write_text(target, "old")

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(_io.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new and longer")
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_unserialisable_json_writes_nothing(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "nan.json", {"x": float("nan")})  # strict JSON: no NaN
    assert list(tmp_path.iterdir()) == []


class _ExplodingFigure(Figure):
    """A figure whose savefig writes some bytes, then fails."""

    def savefig(self, fname, **kwargs):
        fname.write(b"\x89PNG partial")
        raise RuntimeError("savefig exploded")


def test_save_figure_atomic(tmp_path):
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    path = save_figure_atomic(fig, tmp_path / "fig.png", dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    with pytest.raises(RuntimeError, match="exploded"):
        save_figure_atomic(_ExplodingFigure(), tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists() and _leftovers(tmp_path) == []


# --- progress bar (stderr helper used by the CLI) -----------------------------------------------
class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_passthrough_and_one_line_per_loop_when_not_a_terminal():
    assert list(progress(iter("abc"), enabled=False)) == ["a", "b", "c"]
    log = io.StringIO()
    assert list(progress(range(20), desc="work", stream=log)) == list(range(20))
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    assert text.splitlines() == [text.strip()] and text.startswith("work  20/20 [00:00 elapsed] done")


def test_bar_writes_one_line_per_finished_task_when_not_a_terminal():
    log = io.StringIO()
    bar = Bar(total=30, desc="reproduce", stream=log)
    for k in range(30):
        bar.advance(f"exp unit={k}")
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 30 and lines[0].startswith("reproduce   1/30 [") and lines[0].endswith("exp unit=0")
    assert "elapsed, ETA " in lines[14] and "ETA" not in lines[-1]  # an ETA while running, none at the end
    assert lines[-1].startswith("reproduce  30/30 [")


def test_progress_redraws_on_a_terminal_and_nests():
    tty = _Tty()
    for _ in progress(range(2), desc="outer", stream=tty, label=lambda i: f"item{i}"):
        list(progress(range(3), desc="inner", stream=tty))
    text = tty.getvalue()
    assert "\router:" in text and "item1" in text and "2/2" in text and "it/s" in text
    assert "stopped" not in text


@pytest.mark.parametrize("tty", [False, True])
def test_a_bar_that_stops_early_says_why(tty):
    stream = _Tty() if tty else io.StringIO()
    for i in progress(range(10), desc="train", stream=stream):
        if i == 3:
            break
    assert "train: stopped at 3/10 after " in stream.getvalue()
    assert "the loop was left early" in stream.getvalue()

    def failing():
        yield 1
        raise ValueError("x broke")

    stream = _Tty() if tty else io.StringIO()
    with pytest.raises(ValueError):
        list(progress(failing(), desc="gen", stream=stream))
    assert "gen: stopped at 1 item after" in stream.getvalue() and "ValueError: x broke" in stream.getvalue()

    stream = _Tty() if tty else io.StringIO()
    bar = Bar(total=5, desc="reproduce", stream=stream)
    bar.advance("a")
    bar.close(stop_reason(KeyboardInterrupt()))
    assert "reproduce: stopped at 1/5 after" in stream.getvalue()
    assert stream.getvalue().rstrip().endswith("interrupted (KeyboardInterrupt)")


def test_progress_unknown_total():
    log = io.StringIO()
    assert list(progress((i for i in range(3)), desc="gen", stream=log)) == [0, 1, 2]
    assert log.getvalue().startswith("gen  3 [")
