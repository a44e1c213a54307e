"""Timing helper shared by the benchmark scripts (run as ``python bench/<name>.py``)."""

from __future__ import annotations

import time


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
