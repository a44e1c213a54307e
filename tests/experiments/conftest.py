"""Shared pieces of the experiment tests: one intra-op thread per module, and a cached quick run.

``quick_run(name, seed=0, **overrides)`` runs an experiment's quick preset (with the given config
overrides) unit by unit, exactly as :meth:`Experiment.run` does serially, and keeps the config,
unit keys, payloads and assembled :class:`~hjdl.results.Result` for the session, so that the tests of
a module that read the same small run pay for it once.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import pytest
import torch

from hjdl.experiments import get


class QuickRun(NamedTuple):
    exp: Any
    config: dict
    units: list
    payloads: list
    result: Any


_RUNS: dict = {}


def _run(name: str, seed: int, overrides: dict) -> QuickRun:
    exp = get(name)
    config = exp.config("quick", **overrides)
    units = exp.units(config, seed)
    payloads = [exp.run_unit(config, u, seed=seed) for u in units]
    return QuickRun(exp, config, units, payloads, exp.assemble(config, payloads, seed=seed, preset="quick"))


@pytest.fixture(scope="session")
def quick_run():
    """``quick_run(name, seed=0, cache=True, **overrides) -> QuickRun`` (cached by its arguments
    unless ``cache=False``; a run that raises is not cached)."""

    def run(name: str, seed: int = 0, cache: bool = True, **overrides) -> QuickRun:
        if not cache:
            return _run(name, seed, overrides)
        key = (name, seed, json.dumps(overrides, sort_keys=True, default=str))
        if key not in _RUNS:
            _RUNS[key] = _run(name, seed, overrides)
        return _RUNS[key]

    return run


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread while a module runs (restored after): these runs are many small tensor
    ops, and on a loaded 2-core machine intra-op threads slow them several-fold. Use it with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
