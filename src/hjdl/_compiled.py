"""Optional compiled kernels (numba, the ``hjdl[fast]`` extra): what every kernel's loader shares.

- :func:`load` imports a kernel module, or gives ``None`` when numba is not installed (the torch
  engine then runs);
- :func:`forked` says whether this process is a ``fork()`` child of the one that imported hjdl
  (a DataLoader worker, say): an OpenMP thread pool does not survive a fork, and numba's parallel
  launch hung there, so forked children run the torch engines;
- :data:`LAUNCH_LOCK` lets one compiled call run at a time in a process (each is parallel
  inside; numba's workqueue threading layer aborts the process on concurrent parallel launches
  from two Python threads, whichever kernels they are);
- :func:`torch_threads` runs compiled calls on torch's thread count and leaves both counts as
  they were.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Iterator
from types import ModuleType

LAUNCH_LOCK = threading.Lock()
_FORKED = False


def _mark_forked() -> None:
    global _FORKED
    _FORKED = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)


def forked() -> bool:
    """True in a ``fork()`` child of the process that imported hjdl."""
    return _FORKED


def load(module: str) -> ModuleType | None:
    """The kernel module ``module`` (its import compiles nothing yet), or ``None`` without numba."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


@contextlib.contextmanager
def torch_threads() -> Iterator[None]:
    """Within the block numba uses torch's thread count (at most numba's own maximum) and torch
    keeps it; after it, numba's count and torch's are what they were. Torch's is read before any
    numba call and set again after the first: numba's first call starts its OpenMP threading
    layer, which sets the process's OpenMP thread count, and so torch's (a
    ``torch.set_num_threads(1)`` read 2 afterwards, and the compiled call ran on 2 threads). A
    program that started numba's layer itself before setting torch's count is not helped: torch
    then already reads numba's count on entry."""
    import numba
    import torch

    wanted = torch.get_num_threads()
    before = numba.get_num_threads()  # may start numba's OpenMP layer: torch's count changes
    torch.set_num_threads(wanted)
    numba.set_num_threads(max(1, min(wanted, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)
        torch.set_num_threads(wanted)
