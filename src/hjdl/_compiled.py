"""Optional compiled kernels (numba, the ``hjdl[fast]`` extra): what every kernel's loader shares.

- :func:`load` imports a kernel module, or gives ``None`` when numba is not installed (the torch
  engine then runs);
- :func:`forked` says whether this process is a ``fork()`` child of the one that imported hjdl
  (a DataLoader worker, say): an OpenMP thread pool does not survive a fork, and numba's parallel
  launch hung there, so forked children run the torch engines;
- :data:`LAUNCH_LOCK` lets one compiled call run at a time in a process (each is parallel
  inside; numba's workqueue threading layer aborts the process on concurrent parallel launches
  from two Python threads, whichever kernels they are).
"""

from __future__ import annotations

import importlib
import os
import threading
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
