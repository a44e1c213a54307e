"""Measure what each experiment costs, per preset, and write ``src/hjdl/experiments/costs.json``.

``hjdl ls`` shows these numbers and ``hjdl reproduce`` prints an estimate from them before it
starts. Usage (from the repository root)::

    python tools/measure_costs.py                         # quick: every unit; paper: one unit each
    python tools/measure_costs.py --only quadrature --presets paper --unit-timeout 600
    python tools/measure_costs.py --from-run runs/paper    # every unit of a finished run

With ``--from-run DIR`` nothing runs: each experiment of the finished run in ``DIR`` (its
``meta.json``) gives its preset's entry, ``measured``, as the sum of its units' wall seconds
(``cpu_seconds`` beside it, the CPU time of the units' processes, when the run recorded it).

For a preset marked ``measured`` every unit ran, one after the other in one process (wall
seconds; with ``--full`` including assembly, else each unit in a child process). Otherwise (the default for ``paper``) the first ``--sample`` units and the last
one ran and the cost is their mean times the number of units: ``estimate``. A
unit that did not finish within ``--unit-timeout`` seconds (run in a child process, killed then)
gives a lower bound: ``at least``. The machine (cores, CPU model, load average during the
measurement) and the date are recorded with the numbers: a loaded machine inflates them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "hjdl" / "experiments" / "costs.json"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _unit_child(name: str, preset: str, index: int, queue) -> None:
    from hjdl.experiments import get

    exp = get(name)
    config = exp.config(preset)
    unit = exp.units(config, 0)[index]
    t0 = time.perf_counter()
    exp.run_unit(config, unit, seed=0, progress=False)
    queue.put(time.perf_counter() - t0)


def _time_unit(name: str, preset: str, index: int, timeout: float) -> tuple[float, bool]:
    """Wall seconds of one unit in a child process; ``(timeout, False)`` when it was cut off."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_unit_child, args=(name, preset, index, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return float(timeout), False
    if proc.exitcode != 0:
        raise RuntimeError(f"{name} unit {index} failed (exit code {proc.exitcode})")
    return float(queue.get()), True


def _measure_all(exp, preset: str) -> dict:
    config = exp.config(preset)
    units = exp.units(config, 0)
    t0 = time.perf_counter()
    payloads = [exp.run_unit(config, u, seed=0, progress=False) for u in units]
    exp.assemble(config, payloads, seed=0, preset=preset)
    return {"units": len(units), "seconds": round(time.perf_counter() - t0, 2), "kind": "measured"}


def _measure_sample(exp, preset: str, sample: int, timeout: float) -> dict:
    config = exp.config(preset)
    n = len(exp.units(config, 0))
    times, finished = [], True
    # the first units and the last one (units often grow along their list: d = 1, 2, 4; N up)
    indices = sorted(set(list(range(min(sample, n))) + ([n - 1] if n > 1 else [])))
    for index in indices:
        seconds, ok = _time_unit(exp.name, preset, index, timeout)
        times.append(seconds)
        if not ok:
            finished = False
            break
    per_unit = sum(times) / len(times)
    kind = ("measured" if len(times) == n else "estimate") if finished else "at least"
    return {"units": n, "seconds": round(per_unit * n, 1), "kind": kind,
            "sampled_units": indices[:len(times)], "seconds_per_sampled_unit": [round(t, 2) for t in times]}


def _write(out: Path, data: dict, loads: list, all_experiments) -> None:
    from hjdl._version import __version__

    data["machine"] = {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_during": [round(x, 2) for x in loads],
    }
    data["hjdl"] = __version__
    data["how"] = ("tools/measure_costs.py: wall seconds on one process (torch threads: the default). "
                   "'measured': every unit ran; 'estimate': the sampled units' mean times the number of "
                   "units; 'at least': a sampled unit was cut off after the timeout.")
    order = [e.name for e in all_experiments()]
    data["experiments"] = {k: data["experiments"][k] for k in sorted(data["experiments"],
                                                                     key=lambda k: order.index(k) if k in order else 999)}
    from hjdl._io import atomic_write_text

    atomic_write_text(out, json.dumps(data, indent=1, ensure_ascii=False) + "\n")  # a crash leaves the old file


def _from_run(run: Path, only) -> dict:
    """``{name: (preset, entry)}`` from the ``meta.json`` of each experiment folder of ``run``."""
    found = {}
    for meta_path in sorted(run.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        name, units = meta.get("experiment"), meta.get("units") or []
        if meta.get("status") != "ok" or not units or (only and name not in only):
            continue
        entry = {"units": len(units), "seconds": round(sum(float(u.get("seconds", 0)) for u in units), 1),
                 "kind": "measured",
                 "source": f"every unit of the run in {run.name!r} (started {meta.get('started_utc', '?')}; "
                           "each unit's own wall seconds, one torch thread per process)"}
        cpu = [u.get("cpu_seconds") for u in units]
        if all(isinstance(c, (int, float)) and c > 0 for c in cpu):
            entry["cpu_seconds"] = round(sum(cpu), 1)
        found[name] = (meta.get("preset"), entry)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these experiments (default: all)")
    parser.add_argument("--presets", nargs="+", default=["quick", "paper"])
    parser.add_argument("--full", nargs="+", default=["quick"], metavar="PRESET",
                        help="presets whose every unit runs (default: quick)")
    parser.add_argument("--sample", type=int, default=1, help="units timed per experiment otherwise (default 1)")
    parser.add_argument("--unit-timeout", type=float, default=120.0, help="seconds before a sampled unit is cut off")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--from-run", metavar="DIR", help="take every entry from the finished run in DIR instead")
    args = parser.parse_args(argv)

    os.environ.setdefault("MPLBACKEND", "Agg")
    from hjdl._version import __version__
    from hjdl.experiments import all_experiments, get

    exps = [get(n) for n in args.only] if args.only else all_experiments()
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.exists() else {}
    data.setdefault("experiments", {})
    loads = list(data.get("machine", {}).get("load_average_during", []))  # earlier runs' loads stay
    if hasattr(os, "getloadavg"):
        loads.append(os.getloadavg()[0])
    if args.from_run:
        for name, (preset, entry) in _from_run(Path(args.from_run), args.only).items():
            entry["measured_utc"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            data["experiments"].setdefault(name, {})[preset] = entry
            print(f"{name} {preset}: {entry}", flush=True)
        _write(out, data, loads[:-1], all_experiments)
        print(f"written {out}")
        return 0
    for exp in exps:
        for preset in args.presets:
            if preset not in exp.presets:
                continue
            try:
                if preset in args.full:
                    entry = _measure_all(exp, preset)
                else:
                    entry = _measure_sample(exp, preset, args.sample, args.unit_timeout)
            except Exception as exc:  # record nothing for it; say so
                print(f"{exp.name} {preset}: failed ({exc})", file=sys.stderr, flush=True)
                continue
            if hasattr(os, "getloadavg"):
                loads.append(os.getloadavg()[0])
            entry["measured_utc"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            data["experiments"].setdefault(exp.name, {})[preset] = entry
            print(f"{exp.name} {preset}: {entry}", flush=True)
            _write(out, data, loads, all_experiments)  # after each one: an interrupted run keeps its numbers
    _write(out, data, loads, all_experiments)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
