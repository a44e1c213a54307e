"""A dependency-free progress bar for long loops (writes to stderr, never to stdout).

On a terminal it redraws one line with ``\\r``::

    reproduce [########................] 2/6 14.2s identity

Elsewhere (logs, CI) it prints a plain line roughly every 10 % or 10 seconds and at the end.
Disabled, it is a plain pass-through. Nested bars on the same stream start on a fresh line.

>>> list(progress(range(3), enabled=False))
[0, 1, 2]
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Iterable, Iterator, TextIO, TypeVar

__all__ = ["progress"]

T = TypeVar("T")

_WIDTH = 24
_TTY_INTERVAL = 0.1  # seconds between redraws on a terminal
_LOG_INTERVAL = 10.0  # seconds between plain lines elsewhere
# streams whose current line holds an unfinished bar (so a nested bar starts a new line)
_dirty_streams: set[int] = set()


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes}m{sec:02d}s"


def _line(desc: str, k: int, total: int | None, elapsed: float, label: str) -> str:
    head = f"{desc} " if desc else ""
    if total:
        filled = min(_WIDTH, int(_WIDTH * k / total))
        bar = "#" * filled + "." * (_WIDTH - filled)
        text = f"{head}[{bar}] {k}/{total} {_elapsed(elapsed)}"
    else:
        text = f"{head}{k} it {_elapsed(elapsed)}"
    return f"{text} {label}" if label else text


def progress(
    iterable: Iterable[T],
    total: int | None = None,
    desc: str = "",
    enabled: bool = True,
    stream: TextIO | None = None,
    label: Callable[[T], str] | None = None,
) -> Iterator[T]:
    """Yield the items of ``iterable`` while drawing ``desc [####....] k/n elapsed`` on ``stream``.

    ``total`` defaults to ``len(iterable)`` when available. ``stream`` defaults to the current
    ``sys.stderr``. ``label(item)`` (optional) names the item being worked on.
    """
    if not enabled:
        yield from iterable
        return
    out = stream if stream is not None else sys.stderr
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    tty = _is_tty(out)
    start = time.perf_counter()
    state: dict[str, Any] = {"last": -1.0, "step": -1}

    def draw(k: int, label_text: str, final: bool = False) -> None:
        now = time.perf_counter()
        if tty:
            fresh_line = id(out) not in _dirty_streams
            if not (final or fresh_line or now - state["last"] >= _TTY_INTERVAL):
                return
            out.write("\r" + _line(desc, k, total, now - start, label_text) + "\033[K")
            _dirty_streams.add(id(out))
            if final:
                out.write("\n")
                _dirty_streams.discard(id(out))
        else:
            step = int(10 * k / total) if total else state["step"]
            due = final or step > state["step"] or now - state["last"] >= _LOG_INTERVAL
            if not due:
                return
            state["step"] = step
            out.write(_line(desc, k, total, now - start, label_text) + "\n")
        state["last"] = now
        out.flush()

    if id(out) in _dirty_streams:  # an outer bar is drawn on this line: keep it, go below
        out.write("\n")
        _dirty_streams.discard(id(out))
    k = 0
    finished = False
    try:
        for item in iterable:
            text = label(item) if label is not None else ""
            draw(k, text)
            yield item
            k += 1
        finished = True
    finally:
        draw(k, "done" if finished else "stopped", final=True)
