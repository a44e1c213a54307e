"""Running the units of experiments: in this process, on local processes, or as Ray tasks.

A unit is one independent piece of an experiment (a config point × seed, see
:func:`~hjdl.experiments.register`); an experiment without declared units is one unit, ``{}``.
:func:`run_units` runs a list of :class:`Task` (the units of any number of experiments, in one
pool, so small experiments fill cores while big ones run) and yields ``(task, record)`` as each
unit finishes. A record is ``{"status": "ok", "payload": ..., "seconds": ..., "cpu_seconds": ...}``
or, when the unit raised, ``{"status": "failed", "error": <traceback>, "seconds": ...,
"cpu_seconds": ...}``; a failing unit never stops the others. ``seconds`` is the unit's wall
time, ``cpu_seconds`` the CPU time of its process meanwhile (all threads): on a machine shared
with other work the wall time grows, the CPU time much less.

Every executor gives the payloads of the serial run: a payload depends on ``(experiment,
config, unit, seed)`` only (the experiments derive their randomness from ``seed`` and the unit
key), and every payload is what JSON reads back. Worker processes run with one torch thread
(``jobs`` processes share the cores instead of oversubscribing them).

:func:`unit_key` and :func:`unit_digest` name a unit's stored result: the experiment, its
config, the unit key, the seed and the hjdl version (any of them changed, the unit is
recomputed). This module does no file I/O; ``hjdl run`` / ``hjdl reproduce`` store the records.

>>> from hjdl.experiments.registry import Experiment, Result
>>> exp = Experiment("demo", "Demo", "", {"quick": {}, "paper": {}},
...                  lambda config, *, seed, progress: Result("demo", "", config, notes=[str(seed)]))
>>> [(t.unit, r["status"], r["payload"]["notes"]) for t, r in run_units([Task(exp, {}, {}, 0, 5)])]
[({}, 'ok', ['5'])]
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from hjdl._version import __version__
from hjdl.errors import InputError
from hjdl.experiments.registry import Experiment, jsonable

__all__ = [
    "Task",
    "unit_key",
    "unit_digest",
    "execute",
    "run_units",
    "default_jobs",
    "RayUnavailable",
    "connect_ray",
    "EXECUTORS",
    "estimate_wall",
]

#: The executors of ``hjdl run`` / ``hjdl reproduce`` (``--executor``).
EXECUTORS: tuple[str, ...] = ("local", "ray")
#: Environment variables that cap the thread pools of BLAS / OpenMP in worker processes.
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def default_jobs() -> int:
    """The number of cores this process may use (its CPU affinity where known)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def unit_key(experiment: str, config: dict, unit: dict, seed: int, version: str = __version__) -> dict:
    """What names a unit's result: experiment, config, unit key, seed and hjdl version.

    >>> unit_key("demo", {"n": (1, 2)}, {"eps": 0.5}, 3, version="1.0")
    {'experiment': 'demo', 'config': {'n': [1, 2]}, 'unit': {'eps': 0.5}, 'seed': 3, 'hjdl': '1.0'}
    """
    return {
        "experiment": str(experiment),
        "config": jsonable(config, finite=False),
        "unit": jsonable(unit, finite=False),
        "seed": int(seed),
        "hjdl": str(version),
    }


def key_text(key: dict) -> str:
    """The canonical JSON text of a :func:`unit_key` (sorted keys; NaN kept)."""
    return json.dumps(key, sort_keys=True, allow_nan=True, separators=(",", ":"))


def unit_digest(key: dict) -> str:
    """The SHA-256 (hex) of :func:`key_text`: the stored unit's file name.

    >>> d = unit_digest(unit_key("demo", {"n": 1}, {}, 0, version="1.0"))
    >>> len(d), d == unit_digest(unit_key("demo", {"n": 2}, {}, 0, version="1.0"))
    (64, False)
    """
    return hashlib.sha256(key_text(key).encode("utf-8")).hexdigest()


@dataclass
class Task:
    """One unit to run: the experiment, the (full) config, the unit key, its index among the
    experiment's units and the seed. ``key`` is :func:`unit_key` of the four."""

    experiment: Experiment
    config: dict
    unit: dict
    index: int
    seed: int
    key: dict = field(init=False)

    def __post_init__(self) -> None:
        self.key = unit_key(self.experiment.name, self.config, self.unit, self.seed)

    @property
    def digest(self) -> str:
        return unit_digest(self.key)


def execute(experiment: Experiment, config: dict, unit: dict, seed: int, progress: bool = False) -> dict:
    """Run one unit and return its record (never raises for a failing unit)."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        payload = experiment.run_unit(config, unit, seed=seed, progress=progress)
    except Exception:
        return {"status": "failed", "error": traceback.format_exc(), "seconds": time.perf_counter() - t0,
                "cpu_seconds": time.process_time() - c0}
    return {"status": "ok", "payload": payload, "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - c0}


def _single_thread() -> None:
    """Worker-process setup: one thread for torch, OpenMP and BLAS."""
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    import torch

    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # optional (hjdl[fast]); the environment variables cover BLAS loaded later
        pass


def _watch_parent(parent: int, interval: float = 1.0) -> None:
    """Worker-process initializer: exit as soon as the process that started the pool is gone.

    A run stopped by ``SIGTERM`` or ``SIGKILL`` cannot stop its workers itself; without this
    they would go on computing their units (up to the longest unit's time) as orphans, beside
    the rerun that resumes the run."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="hjdl-watch-parent", daemon=True).start()


def _execute_in_worker(experiment: Experiment, config: dict, unit: dict, seed: int, single_thread: bool) -> dict:
    if single_thread:
        _single_thread()
    return execute(experiment, config, unit, seed, progress=False)


def _picklable(experiment: Experiment) -> bool:
    try:
        pickle.dumps(experiment)
    except Exception:  # lambdas, functions defined inside functions
        return False
    return True


def run_units(
    tasks: Iterable[Task],
    *,
    jobs: int = 1,
    executor: str = "local",
    ray: Any = None,
    progress: bool = False,
) -> Iterator[tuple[Task, dict]]:
    """Run ``tasks``; yields ``(task, record)`` in the order the units finish.

    ``executor="local"``: ``jobs == 1`` (or a single task) runs in this process, one unit after
    the other, with the units' own progress bars when ``progress``; ``jobs > 1`` runs them on
    ``min(jobs, len(tasks))`` fresh processes (``spawn``), each with one torch thread. An
    experiment that cannot be pickled (a lambda, a function defined inside a function) runs in
    this process meanwhile. ``executor="ray"``: each unit is a Ray task (``num_cpus=1``) on the
    cluster ``ray`` is connected to (see :func:`connect_ray`).
    """
    tasks = list(tasks)
    if executor not in EXECUTORS:
        raise InputError(f"executor={executor!r}: expected one of {', '.join(map(repr, EXECUTORS))}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs={jobs!r}: expected an integer of at least 1")
    if not tasks:
        return
    if executor == "ray":
        yield from _run_ray(tasks, ray)
    elif jobs == 1 or len(tasks) == 1:
        for task in tasks:
            yield task, execute(task.experiment, task.config, task.unit, task.seed, progress=progress)
    else:
        yield from _run_pool(tasks, jobs)


def _run_pool(tasks: list[Task], jobs: int) -> Iterator[tuple[Task, dict]]:
    import concurrent.futures as cf
    import multiprocessing

    ok = {id(e): _picklable(e) for e in {id(t.experiment): t.experiment for t in tasks}.values()}
    remote = [t for t in tasks if ok[id(t.experiment)]]
    here = [t for t in tasks if not ok[id(t.experiment)]]
    if not remote:
        for task in here:
            yield task, execute(task.experiment, task.config, task.unit, task.seed)
        return
    pool = cf.ProcessPoolExecutor(max_workers=min(jobs, len(remote)), mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_watch_parent, initargs=(os.getpid(),))
    finished = False
    try:
        futures = {
            pool.submit(_execute_in_worker, t.experiment, t.config, t.unit, t.seed, True): t for t in remote
        }
        for task in here:  # while the workers run
            yield task, execute(task.experiment, task.config, task.unit, task.seed)
        for future in cf.as_completed(futures):
            task = futures[future]
            try:
                record = future.result()
            except Exception:  # the worker died (killed, out of memory) or the task did not pickle
                record = {"status": "failed", "error": traceback.format_exc(), "seconds": 0.0}
            yield task, record
        finished = True
    finally:
        if not finished:  # interrupted: stop the workers now instead of finishing their units
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
        pool.shutdown(wait=finished, cancel_futures=True)


# --------------------------------------------------------------------------------------------
# Ray
# --------------------------------------------------------------------------------------------
class RayUnavailable(InputError):
    """Ray is not installed, or the cluster address cannot be reached."""


@dataclass
class RaySession:
    """A connection to a Ray cluster; ``owned`` when :func:`connect_ray` made it (and closes it)."""

    ray: Any
    owned: bool
    address: str | None

    def close(self) -> None:
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


def _host_port(address: str) -> tuple[str, int] | None:
    text = address.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def connect_ray(address: str | None, num_cpus: int, *, timeout: float = 5.0) -> RaySession:
    """Connect to the Ray cluster at ``address`` (``host:port`` of its head), or start a local
    instance bound to 127.0.0.1 with ``num_cpus`` CPUs when ``address`` is None.

    An address that does not accept a connection within ``timeout`` seconds is refused before
    Ray is started (:class:`RayUnavailable` naming it); so is a missing ``ray`` package. A
    process already connected to Ray keeps its connection (``address`` is then ignored).
    """
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            "--executor ray needs Ray, which is not installed; install it with: pip install hjdl[ray]"
        ) from None
    if ray.is_initialized():
        return RaySession(ray, owned=False, address=address)
    if address is not None:
        where = _host_port(address)
        if address.strip() != "auto":
            if where is None:
                raise RayUnavailable(f"--address {address!r}: expected HOST:PORT of a Ray head node "
                                     "(e.g. 127.0.0.1:6379)")
            try:
                socket.create_connection(where, timeout=timeout).close()
            except OSError as exc:
                raise RayUnavailable(
                    f"--address {address!r}: no Ray cluster reachable there ({exc.strerror or exc}); "
                    "start one with 'ray start --head' or leave --address out for a local one"
                ) from None
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)
        return RaySession(ray, owned=True, address=address)
    _loopback_only(ray)
    ray.init(
        address="local",
        num_cpus=int(num_cpus),
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        logging_level="WARNING",
        log_to_driver=False,
    )
    return RaySession(ray, owned=True, address=None)


def _loopback_only(ray: Any) -> None:
    """Make a local instance announce 127.0.0.1: Ray replaces a loopback node address by the
    machine's network address unless multi-node clusters are off for this node (its own switch,
    read by this process and, through the environment, by the processes Ray starts)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] not in ("0", "false", "False")
    except (ImportError, AttributeError):  # another Ray layout: it keeps its own default
        pass


def _ship_by_value(ray: Any, experiments: Iterable[Experiment]) -> None:
    """Send the code of experiments defined outside hjdl (plugins, tests) with the tasks, so that
    Ray workers that cannot import their modules still run them."""
    import sys

    pickler = getattr(ray, "cloudpickle", None)
    register = getattr(pickler, "register_pickle_by_value", None)
    if register is None:
        return
    for exp in experiments:
        for func in (exp.func, exp.units_func, exp.run_unit_func, exp.assemble_func):
            top = (getattr(func, "__module__", None) or "").split(".")[0]
            module = sys.modules.get(getattr(func, "__module__", None) or "")
            if module is not None and top not in ("hjdl", "__main__"):
                try:
                    register(module)
                except (ValueError, TypeError):
                    pass


def _run_ray(tasks: list[Task], session: Any) -> Iterator[tuple[Task, dict]]:
    if session is None:
        raise InputError("executor='ray' needs a connected session: call connect_ray first")
    ray = session.ray if isinstance(session, RaySession) else session
    _ship_by_value(ray, {id(t.experiment): t.experiment for t in tasks}.values())
    remote = ray.remote(num_cpus=1, max_retries=0)(_execute_in_worker)
    refs = {remote.remote(t.experiment, t.config, t.unit, t.seed, True): t for t in tasks}
    try:
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            task = refs.pop(done[0])
            try:
                record = ray.get(done[0])
            except Exception:  # the worker died, or the task could not be shipped
                record = {"status": "failed", "error": traceback.format_exc(), "seconds": 0.0}
            yield task, record
    finally:
        for ref in refs:  # interrupted: cancel what has not finished
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass


def estimate_wall(unit_seconds: Iterable[float], jobs: int) -> float:
    """Wall seconds of running units of the given costs on ``jobs`` workers, longest first, each
    to the worker free first (the order ``hjdl run`` submits them in).

    >>> estimate_wall([4, 1, 1, 1, 1], 2), estimate_wall([4, 1, 1, 1, 1], 1), estimate_wall([], 3)
    (4.0, 8.0, 0.0)
    """
    import heapq

    free = [0.0] * max(1, int(jobs))
    for cost in sorted((float(c) for c in unit_seconds), reverse=True):
        heapq.heappush(free, heapq.heappop(free) + cost)
    return max(free)
