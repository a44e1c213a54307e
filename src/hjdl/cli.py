"""The ``hjdl`` command: list, run and reproduce experiments; verify the core.

::

    hjdl --version
    hjdl ls [--refresh]
    hjdl run NAME [--preset quick|paper] [--out DIR] [--seed N] [--no-progress] [--model PATH]
                  [--jobs N] [--executor local|ray] [--address HOST:PORT] [--force]
    hjdl reproduce [--preset quick|paper] [--out DIR] [--only NAME ...] [--seed N] [--no-progress]
                   [--jobs N] [--executor local|ray] [--address HOST:PORT] [--force] [--no-explorer]
    hjdl report [DIR]
    hjdl verify [--json] [--full]
    hjdl probe MODEL (--text FILE | --prompt STR) [--max-length N] [--out DIR] [--batch-size B]
               [--block-size N] [--no-progress]

``ls`` lists the experiments with what each reproduces of the paper and, for each preset, the
number of units and the cost measured on a 2-core machine (``hjdl/experiments/costs.json``,
written by ``tools/measure_costs.py``). It reads ``hjdl/experiments/manifest.json`` (made from the
registry; ``ls --refresh`` rewrites it, a test keeps it equal), so neither ``hjdl --help`` nor
``hjdl ls`` imports torch; when the experiment modules differ from those the manifest was made
from, ``ls`` imports the registry instead.

``run`` and ``reproduce`` write, under ``DIR`` (default ``runs/latest``)::

    DIR/report.md, DIR/report.html                 verdicts, contents and ledger, then one section each
    DIR/<experiment>/result.json, config.json, meta.json, <figure>.png, <table>.csv
    DIR/<experiment>/error.txt                     only when the experiment failed
    DIR/.units/<experiment>/<sha256>.json          one stored result per unit of work

Units of work: each experiment is one or more independent units (config point × seed, see
:func:`hjdl.experiments.register`). The units of all selected experiments go into one pool:
``--jobs N`` local processes (default: the number of cores; with N > 1 each process runs one
torch thread), or ``--executor ray``: Ray tasks on the cluster at ``--address``, or on a local
instance bound to 127.0.0.1 with N CPUs (``pip install hjdl[ray]``). The results are those of
the serial run for the same seed. Progress is drawn per unit with an ETA on stderr (tqdm on a
terminal; one line per finished unit when stderr is a file or a pipe);
``--preset paper`` first prints the estimated cost from the measurements.

Resume: each unit's result is stored atomically under ``DIR/.units``, named by the SHA-256 of
its key (experiment, config, unit key, seed, hjdl version; the key is stored inside and
checked). A rerun into the same ``DIR`` reuses the finished units and says how many;
``--force`` recomputes them. A stored unit that cannot be read or holds another key is
recomputed with a warning on stderr. A unit that raises is stored with its traceback; the other
units complete, and its experiment fails with the tracebacks of its failed units in
``error.txt`` and the report (a rerun computes the failed units again).

Every file is written atomically, and each experiment's folder is replaced as a whole: its
files are written to a hidden staging folder beside it, which then takes its place, so an
interrupted run leaves each experiment's folder from one run, complete (leftovers of a killed
run are tidied by the next). An experiment's folder is written as soon as its units are done.
The reports are removed when the first folder is replaced and
written at the end from every experiment folder in ``DIR`` (each section says its own preset,
seed, date and commit), so ``hjdl run NAME`` into a folder of ``hjdl reproduce`` updates that
experiment's section and keeps the others; ``hjdl report DIR`` rebuilds them. The HTML embeds
the figures (data URIs): a copied ``report.html`` is complete on its own. Data notices (MNIST
replaced by the bundled digits, a data set not found) are printed on stderr as well.
``reproduce`` also writes the browser explorer's page ``DIR/explorer/index.html`` when
``hjdl[explore]`` is installed (a failure is a one-line notice; ``--no-explorer`` skips it), and
the report links to it. While ``run`` or ``reproduce`` writes into ``DIR`` it holds a lock on ``DIR/.hjdl.lock``
(released by the system even if the process is killed; the file is removed at the end): a second
``run`` or ``reproduce`` into the same ``DIR`` is refused up front instead of replacing folders
that the first one's report will describe (the lock needs ``fcntl``, i.e. a POSIX system).
A failed write (disk full, file-size limit, ...) stops the command with one line on stderr; the
experiment being written keeps its previous folder. Exit codes: 0 success, 1 an experiment or a
check failed, or writing failed, 2 bad arguments, an unusable or busy ``--out``, Ray missing or
an unreachable ``--address`` (one line on stderr naming the value and the known choices; nothing
is started or written).
This module is the only place (with :mod:`hjdl.plotting`) that touches files or figures.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import errno
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Sequence, TextIO

from hjdl._version import __version__

__all__ = ["main", "build_parser"]

DEFAULT_OUT = "runs/latest"
_DEPENDENCIES = ("torch", "numpy", "scipy", "matplotlib")


class UsageError(Exception):
    """Bad command-line value: reported as one line on stderr, exit code 2."""


class WriteError(Exception):
    """Writing under ``--out`` failed (disk full, file-size limit, ...): one line on stderr, exit 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (``hjdl run: error: ... (see 'hjdl run --help')``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _emit(text: str, stream: TextIO | None = None) -> None:
    """Print ``text`` without dying on a terminal that cannot encode it."""
    stream = stream if stream is not None else sys.stdout
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        enc = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(enc, "backslashreplace").decode(enc) + "\n")
    stream.flush()


def _text_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(c) for c in columns]
    for row in rows:
        widths = [max(w, len(str(c))) for w, c in zip(widths, row)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*columns).rstrip(), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, row)).rstrip() for row in rows]
    return "\n".join(lines)


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _git(args: Sequence[str]) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=os.getcwd(),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _environment() -> dict[str, Any]:
    """Versions, platform and git state, computed once per command."""
    versions: dict[str, str | None] = {"python": platform.python_version(), "hjdl": __version__}
    for dist in _DEPENDENCIES:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    commit = _git(["rev-parse", "HEAD"])
    dirty = None
    if commit is not None:
        status = _git(["status", "--porcelain", "--untracked-files=no"])
        dirty = None if status is None else bool(status)
    return {
        "versions": versions,
        "platform": platform.platform(),
        "machine": _machine(),
        "git_commit": commit,
        "git_dirty": dirty,
    }


def _machine() -> str:
    """The CPU and core count, e.g. ``AMD EPYC 7B13, 2 cores (x86_64)``."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cpu = cpu or platform.processor() or "unknown CPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return f"{cpu}, {cores} core{'s' if cores != 1 else ''} ({platform.machine() or 'unknown architecture'})"


def _safe_filename(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return cleaned or "figure"


# --------------------------------------------------------------------------------------------
# ls
# --------------------------------------------------------------------------------------------
_EXPERIMENTS_DIR = Path(__file__).with_name("experiments")  # found without importing the package
_MANIFEST = _EXPERIMENTS_DIR / "manifest.json"


def _experiment_modules() -> list[str]:
    """The experiment modules present (file names, without importing them)."""
    skip = {"__init__", "registry", "units"}
    return sorted(p.stem for p in _EXPERIMENTS_DIR.glob("*.py") if p.stem not in skip and not p.stem.startswith("_"))


def _manifest_data() -> dict:
    """The manifest from the registry (imports every experiment), with the modules it was made from."""
    from hjdl.experiments.registry import manifest

    import hjdl.experiments  # noqa: F401  (registers the experiments)

    return {**manifest(), "modules": _experiment_modules()}


def _listing(refresh: bool = False) -> tuple[list[dict], str]:
    """The rows of ``hjdl ls`` and where they came from: the shipped manifest (no torch imported)
    when it was made from the experiment modules present, else the registry itself (also when the
    experiments are already imported, e.g. in a session that registered its own). A test keeps
    the shipped manifest equal to the registry."""
    if not refresh and "hjdl.experiments" not in sys.modules:
        try:
            data = json.loads(_MANIFEST.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and data.get("version") == 1 and data.get("modules") == _experiment_modules():
            return list(data.get("experiments", [])), "manifest"
    return _manifest_data()["experiments"], "registry"


def _cmd_ls(args: argparse.Namespace) -> int:
    rows_in, _ = _listing(refresh=args.refresh)
    if args.refresh:
        from hjdl._io import atomic_write_json

        try:
            atomic_write_json(_MANIFEST, _manifest_data())
        except OSError as exc:
            _emit(f"hjdl ls: error: cannot write {str(_MANIFEST)!r}: {_describe_os_error(exc)}", sys.stderr)
            return 1
        _emit(f"hjdl ls: wrote {_MANIFEST}", sys.stderr)
    if not rows_in:
        _emit("no experiments registered")
        return 0
    costs = _costs()
    shown = ("quick", "paper")
    rows = []
    for e in rows_in:
        presets = e.get("presets", {})
        cells = [_preset_cell(e["name"], presets[p].get("units"), p, costs) if p in presets else "" for p in shown]
        rows.append([e["name"], e.get("reproduces") or "-", e["title"], *cells,
                     ", ".join(p for p in presets if p not in shown)])
    columns = ["name", "paper", "title", *(f"{p}: units, cost" for p in shown), "other presets"]
    if not any(r[-1] for r in rows):
        columns, rows = columns[:-1], [r[:-1] for r in rows]
    _emit(_text_table(columns, rows))
    _emit("\npaper: the figure, table or section of arXiv:2605.28983 that the experiment reproduces "
          "('-': a check of the theory without a counterpart in the paper)")
    machine = costs.get("machine", {})
    if machine:
        _emit(f"costs: wall seconds of one process on the measuring machine ({_machine_text(costs)}); "
              "'~' marks an estimate from a sample of units, '>=' a lower bound; 'hjdl reproduce --preset paper' "
              "prints the estimate for --jobs")
    return 0


def _costs() -> dict:
    """The measured costs shipped with hjdl (``hjdl/experiments/costs.json``; ``{}`` if absent)."""
    try:
        data = json.loads((_EXPERIMENTS_DIR / "costs.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _machine_text(costs: dict) -> str:
    m = costs.get("machine", {})
    load = m.get("load_average_during") or []
    dates = sorted(v.get("measured_utc", "")[:10] for e in costs.get("experiments", {}).values()
                   for v in e.values() if isinstance(v, dict) and v.get("measured_utc"))
    when = f", {dates[0]}" + (f" to {dates[-1]}" if dates and dates[-1] != dates[0] else "") if dates else ""
    busy = f", load average {min(load):.1f}-{max(load):.1f}" if load else ""
    return f"{m.get('cores', '?')} cores, {m.get('cpu', 'unknown CPU')}{busy}{when}"


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    if seconds < 3600:
        minutes, sec = divmod(int(round(seconds)), 60)
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(int(round(seconds / 60)), 60)
    return f"{hours}h{minutes:02d}m"


def _unit_costs(name: str, preset: str, costs: dict) -> tuple[float | None, str]:
    """Seconds per unit of experiment ``name`` at ``preset`` from the measurements, and their kind."""
    entry = costs.get("experiments", {}).get(name, {}).get(preset)
    if not isinstance(entry, dict) or not entry.get("units"):
        return None, ""
    return float(entry["seconds"]) / int(entry["units"]), str(entry.get("kind", "measured"))


def _preset_cell(name: str, n: int | None, preset: str, costs: dict) -> str:
    if n is None:
        return "? units"
    per_unit, kind = _unit_costs(name, preset, costs)
    text = f"{n} unit{'s' if n != 1 else ''}"
    if per_unit is None:
        return text
    mark = {"estimate": "~", "at least": ">="}.get(kind, "")
    return f"{text}, {mark}{_duration(per_unit * n)}"


def _print_estimate(exps: list, preset: str, jobs: int, executor: str, command: str) -> None:
    """The cost of this run from the shipped measurements, on stderr, before it starts."""
    from hjdl.experiments.units import estimate_wall

    costs = _costs()
    lines, unit_seconds, unknown, partial = [], [], [], False
    for exp in exps:
        try:
            n = len(exp.units(exp.config(preset), 0))
        except Exception:
            n = 1
        per_unit, kind = _unit_costs(exp.name, preset, costs)
        if per_unit is None:
            unknown.append(exp.name)
            continue
        partial = partial or kind == "at least"
        unit_seconds += [per_unit] * n
        mark = {"estimate": "~", "at least": ">="}.get(kind, "")
        lines.append(f"  {exp.name:<22} {n:>4} unit{'s' if n != 1 else ' '}  {mark}{_duration(per_unit * n)}"
                     + (f" ({kind})" if kind != "measured" else ""))
    if not unit_seconds:
        return
    total = sum(unit_seconds)
    wall = estimate_wall(unit_seconds, jobs)
    at_least = "at least " if partial else ""
    _emit(f"hjdl {command}: estimated cost of preset {preset!r}: {at_least}{_duration(total)} of compute, "
          f"{at_least}{_duration(wall)} of wall time with {jobs} {'Ray CPU' if executor == 'ray' else 'job'}"
          f"{'s' if jobs != 1 else ''} (measured on {_machine_text(costs)}; stored units are not counted):",
          sys.stderr)
    for line in lines:
        _emit(line, sys.stderr)
    if unknown:
        _emit(f"  not measured: {', '.join(unknown)}", sys.stderr)


# --------------------------------------------------------------------------------------------
# run / reproduce
# --------------------------------------------------------------------------------------------
def _resolve(names: Sequence[str] | None, preset: str) -> list:
    """The experiments to run (all when ``names`` is None), with ``preset`` checked for each."""
    from hjdl import experiments
    from hjdl.errors import UnknownNameError

    if names is None:
        selected = experiments.all_experiments()
    else:
        selected = []
        for name in names:
            try:
                exp = experiments.get(name)
            except UnknownNameError as exc:
                raise UsageError(str(exc)) from None
            if exp not in selected:
                selected.append(exp)
    known = sorted({p for e in experiments.all_experiments() for p in e.presets} | {"quick", "paper"})
    if not selected and preset not in known:
        raise UsageError(f"unknown preset {preset!r}; known presets: {', '.join(known)}")
    for exp in selected:
        if preset not in exp.presets:
            raise UsageError(
                f"unknown preset {preset!r} for experiment {exp.name!r}; "
                f"known presets: {', '.join(exp.presets)}"
            )
    return selected


def _save_figures(result, exp_dir: Path) -> dict[str, dict]:
    """Save the registered figures of ``result`` (PNG; animations as GIF) into ``exp_dir``;
    returns ``{figure: {"file": name in exp_dir, "caption": its caption or None}}``."""
    from hjdl._io import save_animation_atomic, save_figure_atomic
    from hjdl.plotting import figures_for
    from hjdl.plotting.style import DPI, caption_of

    saved: dict[str, dict] = {}
    for name, fig in figures_for(result).items():
        if isinstance(fig, list):  # animation frames
            filename = _safe_filename(name) + ".gif"
            save_animation_atomic(fig, exp_dir / filename)
        else:
            filename = _safe_filename(name) + ".png"
            save_figure_atomic(fig, exp_dir / filename, dpi=DPI)
        saved[name] = {"file": filename, "caption": caption_of(fig)}
    return saved


def _table_csv(table) -> str:
    """A result table as CSV text (numbers unformatted, full precision)."""
    import csv
    import io

    from hjdl.results import jsonable

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in jsonable(list(row))])
    return buf.getvalue()


class _Plan:
    """One experiment of a run: its config, its units and their records as they come in."""

    def __init__(self, exp, preset: str, seed: int, data_dir: str | None, model: str | None = None):
        from hjdl.experiments.units import Task

        self.exp, self.preset, self.seed = exp, preset, seed
        self.config = exp.config(preset)
        if data_dir is not None and "data_dir" in self.config:
            self.config["data_dir"] = data_dir
        if model is not None and "model" in self.config:
            self.config["model"] = str(Path(model).expanduser().resolve())
        self.error: str | None = None
        self.tasks: list = []
        try:
            self.tasks = [Task(exp, self.config, key, i, seed) for i, key in enumerate(exp.units(self.config, seed))]
        except Exception:
            self.error = "Listing the experiment's units failed:\n" + traceback.format_exc()
        self.records: list[dict | None] = [None] * len(self.tasks)
        self.reused = 0
        self.done = False

    @property
    def complete(self) -> bool:
        return all(r is not None for r in self.records)

    def result(self):
        """The assembled :class:`Result`, or a failed one naming every unit that raised."""
        from hjdl.results import Result
        from hjdl.experiments.registry import unit_label

        def failed(error: str) -> Any:
            return Result(name=self.exp.name, preset=self.preset, config=self.config, title=self.exp.title,
                          description=self.exp.description, seed=self.seed, error=error)

        if self.error is not None:
            return failed(self.error)
        bad = [(t, r) for t, r in zip(self.tasks, self.records) if r["status"] != "ok"]
        if bad:
            parts = [f"{len(bad)} of {len(self.tasks)} unit(s) failed (the others completed):"]
            for task, record in bad:
                parts += ["", f"unit {task.index} ({unit_label(task.unit)}):", record.get("error", "").rstrip()]
            return failed("\n".join(parts) + "\n")
        try:
            return self.exp.assemble(self.config, [r["payload"] for r in self.records], seed=self.seed,
                                     preset=self.preset)
        except Exception:
            return failed("Assembling the units' results failed:\n" + traceback.format_exc())

    def unit_meta(self) -> list[dict]:
        return [{"unit": t.unit, "status": r["status"], "seconds": round(float(r.get("seconds", 0.0)), 4),
                 "cpu_seconds": round(float(r.get("cpu_seconds", 0.0)), 4),
                 "reused": bool(r.get("reused"))} for t, r in zip(self.tasks, self.records)]


def _write_experiment(plan: _Plan, out: Path, env: dict, command: list[str]):
    """Assemble ``plan``'s result and write its folder (staged, then published as a whole)."""
    exp = plan.exp
    final_dir = out / exp.name
    _tidy_leftovers(out, exp.name)
    exp_dir = out / f".{exp.name}.staging-{os.getpid()}"
    _remove(exp_dir)
    exp_dir.mkdir(parents=True)
    try:
        result, figures = _write_into(plan, exp_dir, env, command)
        # the old report links into the folders this run replaces: it is rewritten at the end
        for stale in ("report.md", "report.html"):
            (out / stale).unlink(missing_ok=True)
        _publish(exp_dir, final_dir)
    except BaseException:  # interrupted: the previous run's folder stays as it was
        _remove(exp_dir)
        raise
    return result, figures


def _remove(path: Path) -> None:
    """Remove a folder tree (or a link or file) if present; errors are ignored."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0; on Windows, where ``os.kill`` would terminate
    it, every process counts as alive and nothing is tidied)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _tidy_leftovers(out: Path, name: str) -> None:
    """Staging and old folders left by a killed run (its process is gone): an old folder is put
    back when the experiment's folder is missing (killed between the two renames of
    :func:`_publish`), the rest is removed."""
    pattern = re.compile(rf"^\.{re.escape(name)}\.(staging|old)-(\d+)$")
    for entry in sorted(out.iterdir()) if out.is_dir() else ():
        hit = pattern.match(entry.name)
        if not hit or _pid_alive(int(hit.group(2))):
            continue
        final = out / name
        if hit.group(1) == "old" and not (final.exists() or final.is_symlink()):
            os.replace(entry, final)
        else:
            _remove(entry)


def _publish(staging: Path, final: Path) -> None:
    """Put the complete folder ``staging`` in the place of ``final``: the old folder is renamed
    aside, the new one renamed in, then the old one removed. An interrupt between the renames
    puts the old folder back; a folder published meanwhile by a concurrent run is set aside too."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")

    def roll_back():  # ``old`` exists only if this attempt set the folder aside
        if old.exists() and not (final.exists() or final.is_symlink()):
            os.replace(old, final)

    for _ in range(5):
        _remove(old)
        try:
            if final.exists() or final.is_symlink():
                os.replace(final, old)
            os.replace(staging, final)
        except OSError as exc:
            roll_back()
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and staging.exists():
                continue  # another run published in between: set its folder aside and retry
            raise
        except BaseException:
            roll_back()
            raise
        _remove(old)
        return
    raise OSError(f"could not replace {str(final)!r}: another process keeps writing it")


def _write_into(plan: _Plan, exp_dir: Path, env, command):
    """Assemble the experiment's result and write its files into the (fresh) folder ``exp_dir``."""
    from hjdl._io import atomic_write_json, atomic_write_text
    from hjdl.results import jsonable

    exp, preset, seed, config = plan.exp, plan.preset, plan.seed, plan.config
    started = _utc_now()
    t0 = time.perf_counter()
    result = plan.result()
    ran = not result.failed
    figures: dict[str, dict] = {}
    if ran:
        try:
            figures = _save_figures(result, exp_dir)
        except OSError:  # the disk, not the experiment: the previous folder must stay
            raise
        except Exception:
            result.error = "The experiment ran, but its figures failed:\n" + traceback.format_exc()
    units = plan.unit_meta()
    wall = time.perf_counter() - t0 + sum(u["seconds"] for u in units)

    atomic_write_json(exp_dir / "config.json", jsonable(result.config or config))
    if ran:
        try:
            atomic_write_json(exp_dir / "result.json", result.to_json_dict())
            for key, table in result.tables.items():  # every table also as CSV
                atomic_write_text(exp_dir / (_safe_filename(key) + ".csv"), _table_csv(table))
        except OSError:
            raise
        except Exception:
            result.error = (result.error or "") + "Writing result.json failed:\n" + traceback.format_exc()
    if result.failed:
        atomic_write_text(exp_dir / "error.txt", result.error or "")
    meta = {
        "experiment": exp.name,
        "title": exp.title,
        "preset": preset,
        "seed": seed,
        "status": "failed" if result.failed else "ok",
        "started_utc": started,
        "wall_seconds": round(wall, 4),
        "units": units,
        "figures": sorted(figures),
        "figure_files": figures,
        "reproduces": getattr(exp, "reproduces", ""),
        **env,
        "command": command,
    }
    atomic_write_json(exp_dir / "meta.json", jsonable(meta))
    return result, figures


def _output_folder(path: str, names: Sequence[str]) -> Path:
    """Create ``--out`` (and check that it is writable and that no experiment's folder name is
    taken by a file) before anything runs; a problem is a ``UsageError``."""
    expected = "expected a folder that can be created and written"
    if not path.strip():  # Path('') is the current folder: never write there by accident
        raise UsageError(f"--out: received an empty path {path!r}; {expected} (use --out . for the "
                         "current folder)")
    out = Path(path).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {path!r} is a file; {expected}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create {path!r} ({exc.strerror or exc}); {expected}") from None
    try:  # a real test of writing (os.access can say yes where creating fails, e.g. as root)
        os.rmdir(tempfile.mkdtemp(prefix=".hjdl-probe-", dir=out))
    except OSError as exc:
        raise UsageError(f"--out: cannot write in {path!r} ({exc.strerror or exc}); {expected}") from None
    for name in names:
        target = out / name
        if target.is_symlink():
            raise UsageError(f"--out: {str(target)!r} is a link, where experiment {name!r} writes its "
                             "folder (replaced as a whole on each run); remove it or choose another --out")
        if target.exists() and not target.is_dir():
            raise UsageError(f"--out: {str(target)!r} is a file, where experiment {name!r} "
                             "writes its folder; move it or choose another --out")
    return out


def _run_experiments(exps: list, args: argparse.Namespace, command: list[str]) -> int:
    _check_data_dir(args.data_dir)
    _check_model(getattr(args, "model", None), exps)
    if args.address is not None and args.executor != "ray":
        raise UsageError(f"--address {args.address!r} needs --executor ray (received --executor {args.executor})")
    jobs = args.jobs if args.jobs is not None else _default_jobs()
    if args.preset == "paper":
        _print_estimate(exps, args.preset, jobs, args.executor, args.command)
    session = None
    if args.executor == "ray":  # connect before anything is written: an unreachable address writes nothing
        from hjdl.experiments.units import RayUnavailable, connect_ray

        try:
            session = connect_ray(args.address, jobs)
        except RayUnavailable as exc:
            raise UsageError(str(exc)) from None
    try:
        out = _output_folder(args.out, [e.name for e in exps])
        with _OutLock(out, args.out, command):
            try:
                return _write_runs(exps, args, command, out, jobs, session)
            except WriteError as exc:
                _emit(f"hjdl {args.command}: error: {exc}", sys.stderr)
                return 1
    finally:
        if session is not None:
            session.close()


def _default_jobs() -> int:
    from hjdl.experiments.units import default_jobs

    return default_jobs()


def _check_model(model: str | None, exps: list) -> None:
    """``--model``: a checkpoint folder, for an experiment that reads one (config key ``model``)."""
    if model is None:
        return
    takers = [e.name for e in exps if "model" in e.config("quick")]
    if not takers:
        raise UsageError(f"--model: {', '.join(e.name for e in exps)} take(s) no model; it is read by "
                         "attention-entropy-hf (a Hugging Face checkpoint folder)")
    if not model.strip() or not Path(model).expanduser().is_dir():
        raise UsageError(f"--model: {model!r} is not a folder; expected a Hugging Face checkpoint folder "
                         "(config.json and weights, as written by save_pretrained)")


def _check_data_dir(data_dir: str | None) -> None:
    expected = ("expected the folder holding the MNIST IDX files (t10k-images-idx3-ubyte.gz, "
                "t10k-labels-idx1-ubyte.gz)")
    if data_dir is None:
        return
    if not data_dir.strip():  # Path('') is '.', and the experiments read '' as "not given"
        raise UsageError(f"--data-dir: received an empty path {data_dir!r}; {expected}, or leave "
                         "--data-dir out for the default")
    if not Path(data_dir).expanduser().is_dir():
        raise UsageError(f"--data-dir: {data_dir!r} is not a folder; {expected}")


def _describe_os_error(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{f' [{name}]' if name else ''}{where}"


class _OutLock:
    """An exclusive, non-blocking lock on ``DIR/.hjdl.lock`` for one ``run``/``reproduce``.

    ``fcntl.flock`` is released by the kernel when the process dies, so a killed run never
    leaves a stale lock; the file is removed on release (and a lock taken on a file removed in
    between is retaken). Without ``fcntl`` (Windows) no lock is taken."""

    NAME = ".hjdl.lock"

    def __init__(self, out: Path, given: str, command: list[str]):
        self.path, self.given, self.command, self.fd = out / self.NAME, given, command, None

    def __enter__(self) -> "_OutLock":
        try:
            import fcntl
        except ImportError:  # not POSIX: concurrent runs are not detected
            return self
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = b""
                with contextlib.suppress(OSError):
                    holder = os.pread(fd, 500, 0)
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                who = holder.decode("utf-8", "replace").strip() or "another hjdl process"
                raise UsageError(f"--out: {self.given!r} is being written by another run ({who}); "
                                 "wait for it to finish or choose another --out") from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"pid {os.getpid()}: {' '.join(self.command)}\n".encode(), 0)
                return self
            os.close(fd)  # the holder removed the file between our open and lock: retry
        raise UsageError(f"--out: could not lock {str(self.path)!r}; another run keeps replacing it")

    def __exit__(self, *exc_info) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # removed while still locked: a waiting opener retries
            os.close(self.fd)
            self.fd = None


def _write_runs(exps: list, args: argparse.Namespace, command: list[str], out: Path, jobs: int,
                session: Any = None) -> int:
    """Run the units of ``exps`` into ``out`` (locked; stored units reused unless ``--force``),
    write each experiment's folder as soon as its units are done, then the reports; an
    ``OSError`` while writing becomes a :class:`WriteError` naming what was kept."""
    from hjdl._io import UnitStore
    from hjdl._progress import Bar, stop_reason
    from hjdl.experiments.registry import unit_label
    from hjdl.experiments.units import key_text, run_units
    from hjdl.reporting import counts_line

    show_progress = not args.no_progress
    env = _environment()
    started = _utc_now()
    t0 = time.perf_counter()
    if not exps:
        _emit("hjdl: warning: no experiments registered; writing an empty report", sys.stderr)

    store = UnitStore(out)
    plans = [_Plan(exp, args.preset, args.seed, args.data_dir, getattr(args, "model", None)) for exp in exps]
    for plan in plans:
        for task in plan.tasks if not args.force else ():
            record, why = store.load(plan.exp.name, task.digest, key_text(task.key))
            if why is not None:
                _emit(f"hjdl {args.command}: warning: the stored result of {plan.exp.name} unit {task.index} "
                      f"({unit_label(task.unit)}) {why}; computing it again "
                      f"({store.path(plan.exp.name, task.digest)})", sys.stderr)
            if record is not None:
                plan.records[task.index] = {**record, "reused": True}
                plan.reused += 1
    todo = [t for p in plans for t, r in zip(p.tasks, p.records) if r is None]
    if args.executor == "ray" or jobs > 1:  # longest units first, so that the short ones fill in at the end
        costs = _costs()
        cost = {p.exp.name: _unit_costs(p.exp.name, args.preset, costs)[0] or 0.0 for p in plans}
        todo.sort(key=lambda t: -cost[t.experiment.name])
    n_units, n_reused = sum(len(p.tasks) for p in plans), sum(p.reused for p in plans)
    if n_reused:
        _emit(f"hjdl {args.command}: reusing {n_reused} of {n_units} unit(s) stored in "
              f"{str(store.root)!r} (--force recomputes them)", sys.stderr)

    written: dict[str, tuple] = {}

    def finish(plan: _Plan) -> None:
        try:
            written[plan.exp.name] = _write_experiment(plan, out, env, command)
        except OSError as exc:
            done = f"; {len(written)} experiment(s) before it were written, no report" if written else ""
            raise WriteError(f"writing the results of {plan.exp.name!r} failed: {_describe_os_error(exc)}; "
                             f"its previous folder in {str(out)!r} is kept as it was{done}") from None
        plan.done = True

    for plan in plans:
        if plan.complete:
            finish(plan)
    by_name = {p.exp.name: p for p in plans}
    serial = args.executor == "local" and (jobs == 1 or len(todo) == 1)
    bar = Bar(total=len(todo), desc=args.command, enabled=show_progress and bool(todo))
    units = run_units(todo, jobs=jobs, executor=args.executor, ray=session, progress=show_progress and serial)
    stopped_by: BaseException | None = None
    try:
        with contextlib.closing(units):
            for task, record in units:
                plan = by_name[task.experiment.name]
                record = {"key": task.key, **record}
                try:
                    store.save(plan.exp.name, task.digest, record)
                except OSError as exc:
                    raise WriteError(f"storing a unit of {plan.exp.name!r} failed: {_describe_os_error(exc)}; "
                                     f"the experiment folders in {str(out)!r} are kept as they were") from None
                plan.records[task.index] = record
                failed = "" if record.get("status") == "ok" else " (failed)"
                bar.advance(f"{plan.exp.name} {unit_label(task.unit)}{failed}")
                if plan.complete:
                    finish(plan)
    except BaseException as exc:
        stopped_by = exc
        raise
    finally:
        if all(p.done for p in plans):
            bar.close("done")
        elif isinstance(stopped_by, WriteError):
            bar.close("writing the results failed (see the error below)")
        else:
            bar.close(stop_reason(stopped_by) if stopped_by is not None else "the units stopped coming")
    results = [written[p.exp.name][0] for p in plans]
    for r in results:  # what the user must know about the data: on the terminal, not only in the report
        for notice in r.data_notices():
            _emit(f"hjdl {args.command}: notice: {r.name}: {notice}", sys.stderr)
    if args.command == "reproduce" and not getattr(args, "no_explorer", False):
        _write_explorer(out)
    rebuild = {"command": " ".join(command), "this run (UTC)": started,
               "this run's wall seconds": round(time.perf_counter() - t0, 2)}
    all_results, md_path, html_path = _write_report(out, rebuild)

    _emit(f"{len(results)} experiment(s) run: {counts_line(results, sep=', ')}")
    if len(all_results) > len(results):
        _emit(f"the report covers the {len(all_results)} experiment(s) in {str(out)!r}: "
              f"{counts_line(all_results, sep=', ')}")
    _emit("report written to:")
    _emit(f"  {html_path}")
    _emit(f"  {md_path}")
    failed = [r for r in results if r.failed]
    if failed:
        _emit(f"hjdl: {len(failed)} experiment(s) failed:", sys.stderr)
        for r in failed:
            _emit(f"  {r.name}: see {out / r.name / 'error.txt'}", sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------------
# the report of a run folder, and the explorer
# --------------------------------------------------------------------------------------------
EXPLORER_DIR = "explorer"


def _write_explorer(out: Path) -> None:
    """The browser explorer's self-contained export under ``out/explorer`` when hjdl[explore] is
    installed; any failure is a one-line notice (the run's results stand without it)."""
    import importlib.util

    if importlib.util.find_spec("panel") is None:
        _emit("hjdl reproduce: notice: the browser explorer was not written (pip install 'hjdl[explore]'; "
              "--no-explorer skips this)", sys.stderr)
        return
    try:
        from hjdl.explore import export_html

        export_html(out / EXPLORER_DIR)
    except Exception as exc:  # never fail the run for the explorer
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        _emit(f"hjdl reproduce: notice: the browser explorer was not written ({type(exc).__name__}"
              f"{': ' + text if text else ''})", sys.stderr)


def _registry_order() -> list[str]:
    """Experiment names in registration (= report) order, from the manifest when it is current."""
    if "hjdl.experiments" in sys.modules:
        from hjdl.experiments import names

        return names()
    return [row["name"] for row in _listing()[0]]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _load_experiment_folder(folder: Path, meta: dict):
    """The :class:`~hjdl.results.Result` stored in an experiment's folder (a failed one rebuilt
    from ``error.txt``), its figures ``{name: {"path", "caption"}}`` relative to the run folder."""
    from hjdl.results import Result

    name = folder.name
    result = None
    if meta.get("status") == "ok" and (folder / "result.json").is_file():
        try:
            result = Result.from_json_dict(_read_json(folder / "result.json"))
        except Exception as exc:  # a damaged file: shown as a failure, not a crash of the report
            error = f"{name}/result.json could not be read: {type(exc).__name__}: {exc}\n"
    else:
        error = ""
        with contextlib.suppress(OSError):
            error = (folder / "error.txt").read_text(encoding="utf-8", errors="replace")
        error = error or "The experiment failed (no error.txt was kept).\n"
    if result is None:
        config: Any = {}
        with contextlib.suppress(OSError, ValueError):
            config = _read_json(folder / "config.json")
        result = Result(name=name, preset=str(meta.get("preset", "")), config=config if isinstance(config, dict) else {},
                        title=str(meta.get("title", "")), seed=meta.get("seed"), error=error)
    figures: dict[str, dict] = {}
    files = meta.get("figure_files")
    if isinstance(files, dict):
        for fig, info in files.items():
            if isinstance(info, dict) and (folder / str(info.get("file", ""))).is_file():
                figures[fig] = {"path": f"{name}/{info['file']}", "caption": info.get("caption")}
    else:  # a folder written before captions were recorded
        for fig in meta.get("figures", []) or []:
            for ext in ("png", "gif"):
                if (folder / f"{_safe_filename(fig)}.{ext}").is_file():
                    figures[fig] = {"path": f"{name}/{_safe_filename(fig)}.{ext}", "caption": None}
                    break
    return result, figures


def _load_run_folder(out: Path) -> tuple[list, dict, dict, dict]:
    """Every experiment folder of ``out`` (one holding a readable ``meta.json``), in report
    order: results, figures, runs (per-experiment run info) and the newest ``meta.json``."""
    entries = []
    for folder in sorted(out.iterdir()) if out.is_dir() else ():
        if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            meta = _read_json(folder / "meta.json")
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict) or meta.get("experiment", folder.name) != folder.name:
            continue
        result, figures = _load_experiment_folder(folder, meta)
        entries.append((folder.name, result, figures, meta))
    order = {name: i for i, name in enumerate(_registry_order())} if entries else {}
    entries.sort(key=lambda e: (order.get(e[0], len(order)), e[0]))
    reproduces = {}
    if any(not e[3].get("reproduces") for e in entries):
        with contextlib.suppress(Exception):
            reproduces = {row["name"]: row.get("reproduces", "") for row in _listing()[0]}
    runs = {name: {"started_utc": m.get("started_utc"), "git_commit": m.get("git_commit"),
                   "git_dirty": m.get("git_dirty"), "wall_seconds": m.get("wall_seconds"),
                   "reproduces": m.get("reproduces") or reproduces.get(name, "")}
            for name, _, _, m in entries}
    newest = max((m for *_, m in entries), key=lambda m: str(m.get("started_utc", "")), default={})
    return [e[1] for e in entries], {e[0]: e[2] for e in entries}, runs, newest


def _write_report(out: Path, extra_meta: dict | None = None) -> tuple[list, Path, Path]:
    """(Re)write ``out/report.md`` and ``out/report.html`` from the experiment folders in ``out``
    (images embedded in the HTML); returns the results and both paths."""
    from hjdl._io import atomic_write_text
    from hjdl.reporting import html_report, markdown_report

    results, figures, runs, newest = _load_run_folder(out)
    meta = {"versions": newest.get("versions"), "machine": newest.get("machine"), "platform": newest.get("platform"),
            "hjdl": (newest.get("versions") or {}).get("hjdl"), **(extra_meta or {})}
    meta = {k: v for k, v in meta.items() if v is not None}
    images: dict[str, bytes] = {}
    for entries in figures.values():
        for info in entries.values():
            with contextlib.suppress(OSError):
                images[info["path"]] = (out / info["path"]).read_bytes()
    explorer = f"{EXPLORER_DIR}/index.html" if (out / EXPLORER_DIR / "index.html").is_file() else None
    md_path, html_path = out / "report.md", out / "report.html"
    try:
        atomic_write_text(md_path, markdown_report(results, figures, meta=meta, runs=runs, explorer=explorer))
        atomic_write_text(html_path, html_report(results, figures, meta=meta, runs=runs, images=images,
                                                 explorer=explorer))
    except OSError as exc:
        for stale in (md_path, html_path):  # never one report beside an older other
            stale.unlink(missing_ok=True)
        raise WriteError(f"writing the report failed: {_describe_os_error(exc)}; the experiment "
                         f"folders in {str(out)!r} are complete, the report is missing") from None
    return results, md_path, html_path


def _cmd_report(args: argparse.Namespace, command: list[str]) -> int:
    given = args.dir
    out = Path(given).expanduser().resolve()
    if not out.is_dir():
        raise UsageError(f"DIR: {given!r} is not a folder; expected a run folder written by 'hjdl run' or "
                         "'hjdl reproduce' (default runs/latest)")
    results = _load_run_folder(out)[0]
    if not results:
        raise UsageError(f"DIR: {given!r} holds no experiment folders (NAME/meta.json); expected a run folder "
                         "written by 'hjdl run' or 'hjdl reproduce'")
    with _OutLock(out, given, command):
        try:
            results, md_path, html_path = _write_report(out, {"command": " ".join(command)})
        except WriteError as exc:
            _emit(f"hjdl report: error: {exc}", sys.stderr)
            return 1
    _emit(f"{len(results)} experiment(s): {_counts_text(results)}")
    _emit("report written to:")
    _emit(f"  {html_path}")
    _emit(f"  {md_path}")
    return 0


def _counts_text(results: list) -> str:
    from hjdl.reporting import counts_line

    return counts_line(results, sep=", ")


def _cmd_run(args: argparse.Namespace, command: list[str]) -> int:
    return _run_experiments(_resolve([args.name], args.preset), args, command)


def _cmd_reproduce(args: argparse.Namespace, command: list[str]) -> int:
    return _run_experiments(_resolve(args.only, args.preset), args, command)


# --------------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------------
def _check_dict(check: Any) -> dict[str, Any]:
    if hasattr(check, "as_dict"):
        raw = dict(check.as_dict())
    elif dataclasses.is_dataclass(check):
        raw = dataclasses.asdict(check)
    else:
        raw = dict(check)
    head = {
        "name": raw.pop("name"),
        "measured": raw.pop("measured"),
        "tolerance": raw.pop("tolerance"),
        "passed": bool(raw.pop("passed")),
    }
    return {**head, **raw}


def _check_row(c: dict[str, Any]) -> list[str]:
    from hjdl.results import format_number as fmt

    if c.get("kind") == "order":
        measured = f"order {fmt(c['measured'])}"
        expected = c.get("expected")
        tolerance = f"|p - {fmt(expected)}| <= {fmt(c['tolerance'])}" if expected is not None else f"+-{fmt(c['tolerance'])}"
    else:
        measured = fmt(c["measured"])
        tolerance = f"<= {fmt(c['tolerance'])}"
    return [c["name"], measured, tolerance, str(c.get("tolerance_source", "")), "PASS" if c["passed"] else "FAIL"]


def _cmd_verify(args: argparse.Namespace, command: list[str]) -> int:
    import contextlib

    from hjdl.results import jsonable
    from hjdl.pde import verification

    try:
        # keep stdout clean for --json: anything the checks print goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            checks = verification.run_checks(quick=not args.full, progress=not args.json)
    except Exception:
        _emit("hjdl verify: the checks could not run:", sys.stderr)
        _emit(traceback.format_exc().rstrip(), sys.stderr)
        return 1
    rows = [_check_dict(c) for c in checks]
    if args.json:
        sys.stdout.write(json.dumps({"checks": jsonable(rows)}, indent=2, allow_nan=False) + "\n")
        sys.stdout.flush()
    else:
        table = _text_table(
            ("check", "measured", "tolerance", "tolerance from", "result"), [_check_row(c) for c in rows]
        )
        _emit(table)
        n_pass = sum(c["passed"] for c in rows)
        _emit(f"{n_pass}/{len(rows)} checks passed" + ("" if n_pass == len(rows) else "; FAILED: "
              + ", ".join(c["name"] for c in rows if not c["passed"])))
    return 0 if all(c["passed"] for c in rows) else 1


# --------------------------------------------------------------------------------------------
# parser and entry point
# --------------------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a whole number of at least 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a whole number of at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hjdl",
        description="The Hamilton-Jacobi theory of deep learning, executable: run the "
        "experiments, write the report, verify the core.",
    )
    parser.add_argument("--version", action="version", version=f"hjdl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("ls", help="list the experiments: what each reproduces of the paper, units and costs")
    p.add_argument("--refresh", action="store_true",
                   help="list from the experiment modules themselves (imports them all) and rewrite the "
                        "shipped list hjdl/experiments/manifest.json (for developers, after editing an "
                        "experiment)")
    p.set_defaults(handler=lambda a, c: _cmd_ls(a))

    def add_run_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--preset", default="quick", help="preset: quick (seconds) or paper (default: quick)")
        p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output folder (default: {DEFAULT_OUT})")
        p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
        p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
        p.add_argument("--data-dir", default=None, metavar="DIR",
                       help="folder with the MNIST IDX files (t10k-images-idx3-ubyte.gz, ...) for the "
                            "experiments that read MNIST (default: ../shared/data/mnist when present, "
                            "else scikit-learn's bundled digits with a notice); also the CIFAR-10 python "
                            "batches (data_batch_1..5, test_batch, or their cifar-10-batches-py folder) for "
                            "hessian-cifar, which runs nothing without them")
        p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                       help="units run at once: local processes (one torch thread each when N > 1), or "
                            "the CPUs of the local Ray instance (default: the number of cores this "
                            "process may use)")
        p.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="local: processes on this machine; ray: Ray tasks, on the cluster at --address "
                            "or on a local instance bound to 127.0.0.1 (needs pip install hjdl[ray]) "
                            "(default: local)")
        p.add_argument("--address", default=None, metavar="HOST:PORT",
                       help="with --executor ray: the head node of an existing Ray cluster "
                            "(default: start a local one)")
        p.add_argument("--force", action="store_true",
                       help="recompute every unit (by default the units stored in DIR/.units by an "
                            "earlier or interrupted run with the same experiment, config, seed and hjdl "
                            "version are reused)")

    p = sub.add_parser("run", help="run one experiment, write its folder and update its section of the report")
    p.add_argument("name", metavar="NAME", help="experiment name (see 'hjdl ls')")
    p.add_argument("--model", default=None, metavar="PATH",
                   help="a Hugging Face checkpoint folder for attention-entropy-hf (probe it instead of "
                        "training the small GPT-2; e.g. a saved distilgpt2)")
    add_run_options(p)
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser("reproduce", help="run every experiment (or --only some) and write the report")
    p.add_argument("--only", nargs="+", action="extend", metavar="NAME", help="run only these experiments")
    add_run_options(p)
    p.set_defaults(handler=_cmd_reproduce)

    p.add_argument("--no-explorer", action="store_true",
                   help="do not write the browser explorer's page (DIR/explorer/index.html, written when "
                        "hjdl[explore] is installed)")

    p = sub.add_parser("report", help="rebuild DIR/report.md and DIR/report.html from the experiment folders in DIR")
    p.add_argument("dir", metavar="DIR", nargs="?", default=DEFAULT_OUT,
                   help=f"a run folder written by 'hjdl run' or 'hjdl reproduce' (default: {DEFAULT_OUT})")
    p.set_defaults(handler=_cmd_report)

    p = sub.add_parser("verify", help="independent checks of the LSE <=> Hamilton-Jacobi correspondence")
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")
    p.add_argument("--full", action="store_true", help="the full (slower) checks instead of the quick ones")
    p.set_defaults(handler=_cmd_verify)
    from hjdl._cli_probe import add_probe_parser  # the probe command (Hugging Face checkpoints)
    add_probe_parser(sub)
    from hjdl._cli_explore import add_explore_parser  # the browser explorer (hjdl[explore])
    add_explore_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hjdl`` and ``python -m hjdl``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an argparse error (already printed)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return int(args.handler(args, ["hjdl", *argv]))
    except UsageError as exc:
        _emit(f"hjdl {args.command}: error: {exc}", sys.stderr)
        return 2
    except KeyboardInterrupt:
        _emit("hjdl: interrupted", sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. 'hjdl ls | head': the reader left; no traceback
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
