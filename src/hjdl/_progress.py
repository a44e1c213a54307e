"""Progress display for long loops, on stderr (never stdout), drawn by tqdm.

Two forms, the interface the experiments and the commands use:

* :func:`progress` wraps an iterable (``for step in progress(range(n), desc="train",
  enabled=verbose)``);
* :class:`Bar` is driven by hand (``bar.advance(label)`` after each finished task, then
  ``bar.close()``), as the commands do for units finishing in other processes.

Where the output goes decides the form:

* a terminal (or a Jupyter notebook): tqdm's live bar, with rate and ETA, redrawn in place;
  nested bars are stacked by tqdm;
* anything else (a log file, a pipe, CI): no redrawing and no carriage returns. A :class:`Bar`
  writes one line per finished task (``reproduce  3/31 [00:04 elapsed, ETA 00:38] identity whole``), a
  :func:`progress` loop one line when it ends, so a redirected run stays readable.

A bar that stops before its total says so and why, on its own line, in both forms:
``train: stopped at 12/200 after 3.1s: interrupted (KeyboardInterrupt)``.

>>> list(progress(range(3), enabled=False))
[0, 1, 2]
>>> import io
>>> log = io.StringIO()
>>> bar = Bar(total=2, desc="units", stream=log)
>>> bar.advance("a"); bar.advance("b"); bar.close()
>>> [line.split("[")[0] for line in log.getvalue().splitlines()]
['units  1/2 ', 'units  2/2 ']
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Iterable, Iterator, TextIO, TypeVar

__all__ = ["progress", "Bar", "stop_reason"]

T = TypeVar("T")


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _in_notebook(stream: TextIO) -> bool:
    """Whether ``stream`` is a Jupyter kernel's stderr (where tqdm.auto draws a widget)."""
    return "ipykernel" in sys.modules and stream is sys.stderr


def stop_reason(exc: BaseException | None) -> str:
    """The words a stopped bar uses for ``exc`` (``None``: the loop was left without an error).

    >>> stop_reason(KeyboardInterrupt()), stop_reason(ValueError("bad x"))
    ('interrupted (KeyboardInterrupt)', 'an error: ValueError: bad x')
    """
    if exc is None:
        return "the loop was left early (a break, a return or an error in its body)"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    if isinstance(exc, GeneratorExit):
        return stop_reason(None)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"an error: {type(exc).__name__}" + (f": {text[:200]}" if text else "")


def _seconds(elapsed: float) -> str:
    from tqdm import tqdm

    return f"{elapsed:.1f}s" if elapsed < 60 else tqdm.format_interval(elapsed)


class Bar:
    """A progress bar driven by hand: ``advance(label)`` after each finished task, ``close()``.

    On a terminal tqdm draws it live (rate, elapsed, ETA); elsewhere each :meth:`advance` writes
    one line ``desc  k/total [elapsed, ETA] label``. ``close(reason)`` before the total writes
    ``desc: stopped at k/total after T: reason``. ``eta=False`` leaves the ETA out. ``leave``:
    keep the terminal bar after closing (default True).
    """

    def __init__(self, total: int | None = None, desc: str = "", enabled: bool = True,
                 stream: TextIO | None = None, eta: bool = True, leave: bool | None = True):
        self.total, self.desc, self.enabled, self.eta = total, desc, enabled, eta
        self.out = stream if stream is not None else sys.stderr
        self.k = 0
        self.closed = False
        self._start = time.perf_counter()
        self._live: Any = None
        if enabled and (_is_tty(self.out) or _in_notebook(self.out)):
            if _in_notebook(self.out):
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm
            fmt = None if eta else "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
            self._live = tqdm(total=total, desc=desc or None, file=self.out, leave=leave, dynamic_ncols=True,
                              mininterval=0.1, bar_format=fmt)

    @property
    def live(self) -> bool:
        """Whether tqdm draws the bar (a terminal or a notebook) rather than plain lines."""
        return self._live is not None

    def _line(self, label: str) -> str:
        from tqdm import tqdm

        elapsed = time.perf_counter() - self._start
        width = len(str(self.total)) if self.total else 1
        count = f"{self.k:>{width}}/{self.total}" if self.total else f"{self.k}"
        if self.total and self.eta and 0 < self.k < self.total:
            remaining = elapsed / self.k * (self.total - self.k)
            timing = f"[{tqdm.format_interval(elapsed)} elapsed, ETA {tqdm.format_interval(remaining)}]"
        else:
            timing = f"[{tqdm.format_interval(elapsed)} elapsed]"
        head = f"{self.desc}  " if self.desc else ""
        return f"{head}{count} {timing}" + (f" {label}" if label else "")

    def _write(self, text: str) -> None:
        if self._live is not None:
            self._live.write(text, file=self.out)
        else:
            self.out.write(text + "\n")
            self.out.flush()

    def draw(self, label: str = "", final: bool = False) -> None:
        """Show ``label`` as the item being worked on (the terminal bar's postfix; no plain line)."""
        if self._live is not None and label:
            self._live.set_postfix_str(label, refresh=True)

    def advance(self, label: str = "", n: int = 1) -> None:
        """Count ``n`` more finished tasks (``label`` names the last one): one plain line, or the live bar."""
        if not self.enabled or self.closed:
            self.k += n
            return
        self.k += n
        if self._live is not None:
            if label:
                self._live.set_postfix_str(label, refresh=False)
            self._live.update(n)
        else:
            self._write(self._line(label))

    def close(self, label: str = "done", stopped: bool | None = None) -> None:
        """Close the bar. If it stopped early (``stopped``; by default: before its total),
        ``label`` is the reason, written on its own line."""
        if self.closed:
            return
        self.closed = True
        if not self.enabled:
            return
        early = (self.total is not None and self.k < self.total) if stopped is None else stopped
        if self._live is not None:
            self._live.close()
        if early:
            elapsed = time.perf_counter() - self._start
            reason = label if label not in ("", "done", "stopped") else stop_reason(None)
            where = f"{self.k}/{self.total}" if self.total is not None else f"{self.k} item{'s' if self.k != 1 else ''}"
            self._write(f"{self.desc or 'progress'}: stopped at {where} after {_seconds(elapsed)}: {reason}")


def progress(
    iterable: Iterable[T],
    total: int | None = None,
    desc: str = "",
    enabled: bool = True,
    stream: TextIO | None = None,
    label: Callable[[T], str] | None = None,
) -> Iterator[T]:
    """Yield the items of ``iterable`` while tqdm draws ``desc`` with a count, rate and ETA.

    ``total`` defaults to ``len(iterable)`` when available; ``stream`` to the current
    ``sys.stderr``; ``label(item)`` (optional) names the item being worked on. Not on a terminal,
    the loop writes one line when it ends. A loop that ends early writes why (an error in the
    iterable, an interrupt, or the loop being left).
    """
    if not enabled:
        yield from iterable
        return
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    bar = Bar(total=total, desc=desc, stream=stream, leave=None)  # tqdm: keep only the outermost bar
    reason: str | None = None
    try:
        iterator = iter(iterable)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                break
            except BaseException as exc:  # the iterable itself failed, or an interrupt while in it
                reason = stop_reason(exc)
                raise
            if label is not None:
                bar.draw(label(item))
            try:
                yield item
            except GeneratorExit:  # the consumer left the loop (break, error in its body, interrupt)
                reason = stop_reason(None)
                raise
            bar.k += 1
            if bar.live:
                bar._live.update(1)
    finally:
        finished = reason is None and (total is None or bar.k >= total)
        if finished and not bar.live:
            bar.closed = True
            bar._write(bar._line("done"))
        else:
            bar.close("done" if finished else (reason or stop_reason(None)), stopped=not finished)
