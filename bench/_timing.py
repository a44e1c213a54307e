"""The timing protocol shared by the benchmark scripts (run as ``python bench/<name>.py``).

Every bench reports, for hjdl and for its baseline alike:

* the **first call** (cold: imports, allocator growth, caches, JIT compilation), timed on its own;
* the **warm** time: the best of several later calls, *interleaved* with the baseline's (one call
  of each per round, the order alternating between rounds), so that a burst of load on the
  machine hits both sides alike;

and it prints its goal and whether the measured warm ratio meets it (:func:`goal_line`). A bench
measures a ratio in one process; ratios from different machines or loads are not comparable.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


def best_time(fn, repeat: int = 7, warmup: bool = True) -> float:
    """Minimum wall time of ``fn()`` over ``repeat`` calls (after one warm-up call)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call of ``fn()``."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


@dataclass
class Timing:
    """One function's timings: ``first`` (the cold call) and ``warm`` (every later call)."""

    first: float
    warm: list[float] = field(default_factory=list)
    result: Any = field(default=None, repr=False)  # the value of the last call

    @property
    def best(self) -> float:
        return min(self.warm) if self.warm else self.first

    @property
    def median(self) -> float:
        return statistics.median(self.warm) if self.warm else self.first

    def as_dict(self) -> dict:
        return {"first_call_s": self.first, "warm_best_s": self.best, "warm_median_s": self.median,
                "warm_calls": len(self.warm)}


def interleaved(fns: Mapping[str, Callable[[], Any]], rounds: int = 5) -> dict[str, Timing]:
    """Time each of ``fns`` (name → zero-argument callable): first one cold call of each, in the
    given order, then ``rounds`` rounds of one call of each, the order reversed every other
    round. Returns name → :class:`Timing` (``result`` holds the last call's value)."""
    names = list(fns)
    out: dict[str, Timing] = {}
    for name in names:
        seconds, result = timed(fns[name])
        out[name] = Timing(seconds, [], result)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            seconds, result = timed(fns[name])
            out[name].warm.append(seconds)
            out[name].result = result
    return out


def ratio(baseline: Timing, ours: Timing) -> dict:
    """Speed-ups ``baseline / ours`` (> 1: ours is faster), warm (best against best) and cold."""
    return {"speedup_warm": baseline.best / ours.best, "speedup_first_call": baseline.first / ours.first}


def goal_line(goal: str, measured: str, met: bool) -> str:
    """One line: the goal, what was measured, and whether it is met."""
    return f"goal: {goal}; measured: {measured}; {'MET' if met else 'NOT MET'}"
