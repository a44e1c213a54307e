"""Toy experiments with units, registered on import (the runner tests' plugin module).

Worker processes (local ``spawn`` processes, Ray workers) import this module by name to find the
functions of a pickled experiment, so the experiments are registered at module level.

``HJDL_TOY_LOG``: when set, every unit appends ``<experiment> <k>`` to that file when it runs
(the resume test counts the runs). ``config["fail"]`` lists units that raise.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from hjdl.experiments import Claim, Result, Table, names, register

UNITS, NODES, FAILS, SLOW = "zz-runner-units", "zz-runner-nodes", "zz-runner-fails", "zz-runner-slow"


def _log(name: str, k: int) -> None:
    path = os.environ.get("HJDL_TOY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{name} {k}\n")


def _units(config, seed):
    return [{"k": k} for k in range(config["n"])]


def _run_unit(config, unit, *, seed, progress):
    k = unit["k"]
    _log(config["name"], k)
    if config["sleep"]:
        time.sleep(config["sleep"])
    if k in config["fail"]:
        raise ValueError(f"deliberate failure of unit {k}")
    # randomness from (seed, unit) only; a torch reduction too (thread count must not matter here)
    gen = torch.Generator().manual_seed(seed * 1000 + k)
    x = torch.randn(2000, dtype=torch.float64, generator=gen)
    draw = float(np.random.default_rng([seed, k]).normal())
    return {"k": k, "draw": draw, "mean": float(x.mean()), "norm": float(torch.linalg.vector_norm(x)),
            "curve": (x[:5] * k).numpy(), "nan": float("nan")}


def _assemble(config, payloads, *, seed):
    rows = [[p["k"], p["draw"], p["mean"], p["norm"], p["nan"]] for p in payloads]
    total = sum(p["draw"] for p in payloads)
    return Result(name="", preset="", config=config,
                  tables=[Table("units", ["k", "draw", "mean", "norm", "nan"], rows)],
                  series={"curves": {str(p["k"]): p["curve"] for p in payloads}},
                  claims=[Claim("units assemble in order", "k column", str([p["k"] for p in payloads]),
                                "theorem (sanity check)", "the runner keeps the order of units()")],
                  notes=[f"sum of draws {total!r}"])


def _rendezvous(folder: str, parties: int = 2, timeout: float = 60.0) -> None:
    """Wait until ``parties`` processes have reached this point (files in ``folder``), so that a
    slow-starting second worker (a loaded machine) cannot leave every unit to the first one;
    gives up after ``timeout`` seconds (then the test's own assertion says what went wrong)."""
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, str(os.getpid())), "w").close()
    deadline = time.monotonic() + timeout
    while len(os.listdir(folder)) < parties and time.monotonic() < deadline:
        time.sleep(0.05)


def _node_unit(config, unit, *, seed, progress):
    import ray

    if os.environ.get("HJDL_TOY_RENDEZVOUS"):
        _rendezvous(os.environ["HJDL_TOY_RENDEZVOUS"])
    time.sleep(config["sleep"])
    node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else "no ray"
    ip = ray.util.get_node_ip_address() if ray.is_initialized() else "no ray"
    return {"k": unit["k"], "node": node, "ip": ip, "pid": os.getpid()}


def _node_assemble(config, payloads, *, seed):
    rows = [[p["k"], p["node"], p["ip"], p["pid"]] for p in payloads]
    return Result(name=NODES, preset="", config=config, tables=[Table("nodes", ["k", "node", "ip", "pid"], rows)])


def _not_called(config, *, seed, progress):
    raise AssertionError("hjdl called the decorated function of an experiment with units")


def _toy(name, quick, paper, **steps):
    if name not in names():
        register(name, f"Toy {name}", "A toy experiment of the runner tests.", {"quick": quick, "paper": paper},
                 **steps)(_not_called)


_STEPS = {"units": _units, "run_unit": _run_unit, "assemble": _assemble}
_toy(UNITS, {"name": UNITS, "n": 5, "sleep": 0.0, "fail": []}, {"name": UNITS, "n": 8, "sleep": 0.0, "fail": []}, **_STEPS)
_toy(FAILS, {"name": FAILS, "n": 5, "sleep": 0.0, "fail": [1, 3]}, {"name": FAILS, "n": 5, "sleep": 0.0, "fail": [1, 3]},
     **_STEPS)
_toy(SLOW, {"name": SLOW, "n": 6, "sleep": 0.8, "fail": []}, {"name": SLOW, "n": 6, "sleep": 0.8, "fail": []}, **_STEPS)
_toy(NODES, {"n": 6, "sleep": 1.0}, {"n": 6, "sleep": 1.0}, units=_units, run_unit=_node_unit, assemble=_node_assemble)
