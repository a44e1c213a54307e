"""A dependency-free progress bar for long loops (writes to stderr, never to stdout).

On a terminal it redraws one line with ``\\r``::

    reproduce [########................] 2/6 14.2s ETA 28.4s identity

Elsewhere (logs, CI) it prints a plain line roughly every 10 % or 10 seconds and at the end.
Disabled, it is a plain pass-through. Nested bars on the same stream start on a fresh line.

>>> list(progress(range(3), enabled=False))
[0, 1, 2]
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Iterable, Iterator, TextIO, TypeVar

__all__ = ["progress", "Bar"]

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


def _line(desc: str, k: int, total: int | None, elapsed: float, label: str, eta: float | None = None) -> str:
    head = f"{desc} " if desc else ""
    if total:
        filled = min(_WIDTH, int(_WIDTH * k / total))
        bar = "#" * filled + "." * (_WIDTH - filled)
        text = f"{head}[{bar}] {k}/{total} {_elapsed(elapsed)}"
        if eta is not None and k < total:
            text += f" ETA {_elapsed(eta)}"
    else:
        text = f"{head}{k} it {_elapsed(elapsed)}"
    return f"{text} {label}" if label else text


class Bar:
    """A progress bar driven by hand: ``advance(label)`` after each finished item, ``close()``.

    The ETA is ``elapsed / k * (total - k)`` (the mean time per finished item so far, which
    already accounts for items finishing in parallel); ``eta=False`` leaves it out.

    >>> import io
    >>> log = io.StringIO()
    >>> bar = Bar(total=2, desc="units", stream=log)
    >>> bar.advance("a"); bar.advance("b"); bar.close()
    >>> log.getvalue().splitlines()[-1].startswith("units [########################] 2/2")
    True
    """

    def __init__(self, total: int | None = None, desc: str = "", enabled: bool = True,
                 stream: TextIO | None = None, eta: bool = True):
        self.total, self.desc, self.enabled, self.eta = total, desc, enabled, eta
        self.out = stream if stream is not None else sys.stderr
        self.k = 0
        self.closed = False
        self._tty = _is_tty(self.out) if enabled else False
        self._start = time.perf_counter()
        self._last = -1.0
        self._step = -1
        if enabled and id(self.out) in _dirty_streams:  # an outer bar is drawn on this line: go below
            self.out.write("\n")
            _dirty_streams.discard(id(self.out))

    def _eta(self, elapsed: float) -> float | None:
        if not self.eta or not self.total or self.k <= 0:
            return None
        return elapsed / self.k * (self.total - self.k)

    def draw(self, label: str = "", final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self._start
        text = _line(self.desc, self.k, self.total, elapsed, label, self._eta(elapsed))
        if self._tty:
            fresh_line = id(self.out) not in _dirty_streams
            if not (final or fresh_line or now - self._last >= _TTY_INTERVAL):
                return
            self.out.write("\r" + text + "\033[K")
            _dirty_streams.add(id(self.out))
            if final:
                self.out.write("\n")
                _dirty_streams.discard(id(self.out))
        else:
            step = int(10 * self.k / self.total) if self.total else self._step
            due = final or step > self._step or now - self._last >= _LOG_INTERVAL
            if not due:
                return
            self._step = step
            self.out.write(text + "\n")
        self._last = now
        self.out.flush()

    def advance(self, label: str = "", n: int = 1) -> None:
        """Count ``n`` more finished items and redraw (``label`` names the last one)."""
        self.k += n
        self.draw(label)

    def close(self, label: str = "done") -> None:
        if not self.closed:
            self.closed = True
            self.draw(label, final=True)


def progress(
    iterable: Iterable[T],
    total: int | None = None,
    desc: str = "",
    enabled: bool = True,
    stream: TextIO | None = None,
    label: Callable[[T], str] | None = None,
) -> Iterator[T]:
    """Yield the items of ``iterable`` while drawing ``desc [####....] k/n elapsed ETA`` on ``stream``.

    ``total`` defaults to ``len(iterable)`` when available. ``stream`` defaults to the current
    ``sys.stderr``. ``label(item)`` (optional) names the item being worked on.
    """
    if not enabled:
        yield from iterable
        return
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    bar = Bar(total=total, desc=desc, stream=stream)
    finished = False
    try:
        for item in iterable:
            bar.draw(label(item) if label is not None else "")
            yield item
            bar.k += 1
        finished = True
    finally:
        bar.close("done" if finished else "stopped")
