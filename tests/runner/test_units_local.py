"""Units of work on the local executor: serial against processes, stored units reused, corrupt
ones recomputed, failing units isolated, and a run killed with SIGKILL resumed (issue 14, items
2 and 3).

The toys live in ``runner_toys`` (a plugin module registered on import, importable by the worker
processes); each unit appends a line to ``$HJDL_TOY_LOG`` when it runs, so a test can count
which units were computed.
"""

from __future__ import annotations

import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runner_toys  # noqa: F401  (registers the toys)
from hjdl.experiments import get
from hjdl.experiments.units import Task, key_text, unit_digest, unit_key

UNITS, FAILS, SLOW = runner_toys.UNITS, runner_toys.FAILS, runner_toys.SLOW
HERE = Path(__file__).resolve().parent


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "units.log"
    monkeypatch.setenv("HJDL_TOY_LOG", str(path))
    return path


def _ran(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _result(out: Path, name: str) -> dict:
    return json.loads((out / name / "result.json").read_text())


def _stored(out: Path, name: str) -> list[Path]:
    folder = out / ".units" / name
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def test_serial_and_two_processes_give_identical_results_and_failing_units_stay_apart(cli_run, tmp_path, log):
    # Bug guarded: a worker that seeds from anything but (seed, unit) (its pid, the order units
    # finish in, a shared generator), or an executor that reorders payloads before assembly.
    # And: a unit that raises fails its experiment only; the other units and experiments complete.
    names = [UNITS, FAILS, "identity", "tropical-limit"]
    serial, pool = tmp_path / "serial", tmp_path / "pool"
    assert cli_run("reproduce", "--only", *names, "--out", str(serial), "--seed", "3", "--jobs", "1",
                "--no-progress")[0] == 1
    code, _, err = cli_run("reproduce", "--only", *names, "--out", str(pool), "--seed", "3", "--jobs", "2")
    assert code == 1 and FAILS in err
    for name in (UNITS, "identity", "tropical-limit"):
        assert _result(serial, name) == _result(pool, name), name
    assert sorted(_ran(log)) == sorted([f"{name} {k}" for name in (UNITS, FAILS) for k in range(5)] * 2)
    # progress per unit, with an ETA, on stderr
    assert "12/12" in err and "ETA" in err
    # stderr is not a terminal here: one line per finished unit, no redrawing
    assert len([ln for ln in err.splitlines() if re.match(r"reproduce +\d+/12 \[", ln)]) == 12 and "\r" not in err
    meta = json.loads((pool / UNITS / "meta.json").read_text())
    assert [u["unit"] for u in meta["units"]] == [{"k": k} for k in range(5)]
    assert len(_stored(pool, UNITS)) == 5 and len(_stored(pool, "identity")) == 1
    # and the same as the library's serial Experiment.run, independently of the CLI
    direct = get(UNITS).run("quick", seed=3).to_json_dict()
    assert _result(pool, UNITS) == direct
    assert [row[0] for row in direct["tables"]["units"]["rows"]] == [0, 1, 2, 3, 4]

    error = (pool / FAILS / "error.txt").read_text()
    assert error.startswith("2 of 5 unit(s) failed (the others completed):")
    assert "unit 1 (k=1):" in error and "unit 3 (k=3):" in error and "deliberate failure of unit 3" in error
    assert "Traceback" in error
    records = [json.loads(p.read_text()) for p in _stored(pool, FAILS)]
    by_k = {r["key"]["unit"]["k"]: r for r in records}
    assert sorted(by_k) == [0, 1, 2, 3, 4]
    assert by_k[1]["status"] == "failed" and "deliberate failure of unit 1" in by_k[1]["error"]
    assert all(by_k[k]["status"] == "ok" for k in (0, 2, 4))
    meta = json.loads((pool / FAILS / "meta.json").read_text())
    assert meta["status"] == "failed" and [u["status"] for u in meta["units"]] == ["ok", "failed", "ok", "failed", "ok"]
    md = (pool / "report.md").read_text()
    assert "deliberate failure of unit 1" in md and "2 of 5 unit(s) failed" in md
    # a rerun computes only the failed units again (they fail again)
    log.unlink()
    assert cli_run("run", FAILS, "--out", str(pool), "--jobs", "1", "--no-progress", "--seed", "3")[0] == 1
    assert sorted(_ran(log)) == [f"{FAILS} 1", f"{FAILS} 3"]


def test_rerun_reuses_stored_units_and_force_recomputes(cli_run, tmp_path, log):
    out = tmp_path / "out"
    args = ("run", UNITS, "--out", str(out), "--jobs", "1", "--no-progress")
    assert cli_run(*args)[0] == 0
    first = _result(out, UNITS)
    assert len(_ran(log)) == 5
    code, _, err = cli_run(*args)
    assert code == 0 and "reusing 5 of 5 unit(s)" in err and "--force" in err
    assert len(_ran(log)) == 5 and _result(out, UNITS) == first  # nothing recomputed, same result
    code, _, err = cli_run(*args, "--force")
    assert code == 0 and "reusing" not in err
    assert len(_ran(log)) == 10 and _result(out, UNITS) == first


def test_another_config_or_seed_is_not_reused(cli_run, tmp_path, log):
    # Bug guarded: a stored unit keyed without its config (or seed) would be reused by a run of
    # another preset (same unit keys k = 0..4) and give the quick numbers in the paper result.
    out = tmp_path / "out"
    assert cli_run("run", UNITS, "--out", str(out), "--jobs", "1", "--no-progress")[0] == 0
    code, _, err = cli_run("run", UNITS, "--out", str(out), "--jobs", "1", "--no-progress", "--preset", "paper")
    assert code == 0 and "warning" not in err and "reusing" not in err  # other files, not a clash of names
    assert len(_ran(log)) == 5 + 8
    assert cli_run("run", UNITS, "--out", str(out), "--jobs", "1", "--no-progress", "--seed", "1")[0] == 0
    assert len(_ran(log)) == 5 + 8 + 5
    assert _result(out, UNITS) == get(UNITS).run("quick", seed=1).to_json_dict()
    # the digest changes with each part of the key
    base = unit_key(UNITS, {"n": 5}, {"k": 0}, 0, version="1")
    for other in (unit_key(UNITS, {"n": 6}, {"k": 0}, 0, version="1"), unit_key(UNITS, {"n": 5}, {"k": 1}, 0, version="1"),
                  unit_key(UNITS, {"n": 5}, {"k": 0}, 1, version="1"), unit_key(UNITS, {"n": 5}, {"k": 0}, 0, version="2"),
                  unit_key("other", {"n": 5}, {"k": 0}, 0, version="1")):
        assert unit_digest(other) != unit_digest(base)


def test_corrupt_stored_units_are_recomputed_with_a_warning(cli_run, tmp_path, log):
    out = tmp_path / "out"
    args = ("run", UNITS, "--out", str(out), "--jobs", "1", "--no-progress")
    assert cli_run(*args)[0] == 0
    first = _result(out, UNITS)
    exp = get(UNITS)
    config = exp.config("quick")
    paths = [out / ".units" / UNITS / f"{Task(exp, config, {'k': k}, k, 0).digest}.json" for k in range(5)]
    assert sorted(paths) == _stored(out, UNITS)
    paths[1].write_text('{"key": {"experiment": ')                  # cut short: not JSON
    paths[2].write_text(paths[0].read_text())                       # unit 0's record in unit 2's file
    tampered = json.loads(paths[3].read_text())
    tampered["payload"] = "not a dict"
    paths[3].write_text(json.dumps(tampered))
    log.unlink()
    code, _, err = cli_run(*args)
    assert code == 0, err
    assert sorted(_ran(log)) == [f"{UNITS} 1", f"{UNITS} 2", f"{UNITS} 3"]
    warnings = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(warnings) == 3, err
    assert "unit 1 (k=1) is not valid JSON" in warnings[0] and str(paths[1]) in warnings[0]
    assert "unit 2 (k=2) holds the key of another unit" in warnings[1]
    assert "unit 3 (k=3) holds no payload" in warnings[2]
    assert "reusing 2 of 5" in err
    assert _result(out, UNITS) == first
    assert json.loads(paths[2].read_text())["key"] == Task(exp, config, {"k": 2}, 2, 0).key  # rewritten


_KILLED_RUN = """
import sys
sys.path.insert(0, {here!r})
import runner_toys
from hjdl.cli import main
sys.exit(main(["run", runner_toys.SLOW, "--out", {out!r}, "--jobs", {jobs!r}, "--no-progress"]))
"""


def test_a_run_killed_with_sigkill_resumes_without_recomputing_finished_units(cli_run, tmp_path, log):
    out = tmp_path / "out"
    script = _KILLED_RUN.format(here=str(HERE), out=str(out), jobs="1")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_stored(out, SLOW)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no unit was stored within 120 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the command and its worker processes, at once
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    done_before = {json.loads(p.read_text())["key"]["unit"]["k"] for p in _stored(out, SLOW)}
    assert 2 <= len(done_before) < 6 and not (out / SLOW).exists()
    ran_before = _ran(log)
    code, _, err = cli_run("run", SLOW, "--out", str(out), "--jobs", "1", "--no-progress")  # the same command
    assert code == 0, err
    assert f"reusing {len(done_before)} of 6 unit(s)" in err
    ran_after = _ran(log)[len(ran_before):]
    # the finished units were not computed again; every other unit was, once
    assert sorted(ran_after) == sorted(f"{SLOW} {k}" for k in range(6) if k not in done_before)
    assert _result(out, SLOW) == get(SLOW).run("quick", seed=0).to_json_dict()
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".units"]


@pytest.mark.parametrize("argv, words", [
    (["--jobs", "0"], ["--jobs", "'0'", "at least 1"]),
    (["--address", "127.0.0.1:6379"], ["--address", "--executor ray"]),
    (["--executor", "dask"], ["'dask'", "local", "ray"]),
])
def test_bad_runner_options_are_one_line_exit_2(cli_run, tmp_path, argv, words):
    out = tmp_path / "out"
    code, stdout, err = cli_run("run", UNITS, "--out", str(out), *argv)
    assert code == 2 and stdout == "" and err.count("\n") == 1, err
    for word in words:
        assert word in err
    assert not out.exists()


def test_stored_key_text_is_canonical():
    key = unit_key(UNITS, {"b": 1, "a": [1.5, float("nan")]}, {"k": 0}, 2)
    assert key_text(key) == key_text(json.loads(json.dumps(key)))


def test_a_record_gives_the_units_cpu_time_apart_from_its_wall_time():
    # Bug guarded: cpu_seconds taken from the wall clock (then a unit that waits would look as
    # costly as one that computes, and timings taken on a shared machine could not be told apart
    # from the work), or not recorded at all.
    from hjdl.experiments.registry import Experiment, Result
    from hjdl.experiments.units import execute

    def waits(config, *, seed, progress):
        time.sleep(0.3)
        return Result("zz-wait", "", config)

    def computes(config, *, seed, progress):
        t0 = time.process_time()
        x = 0
        while time.process_time() - t0 < 0.3:
            x += 1
        return Result("zz-compute", "", config)

    wait = execute(Experiment("zz-wait", "W", "", {"quick": {}, "paper": {}}, waits), {}, {}, 0)
    work = execute(Experiment("zz-compute", "C", "", {"quick": {}, "paper": {}}, computes), {}, {}, 0)
    assert wait["seconds"] >= 0.3 and wait["cpu_seconds"] < 0.15
    assert work["cpu_seconds"] >= 0.3


def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and uses pgrep (Linux)")
def test_workers_stop_when_the_run_is_killed(tmp_path, log):
    # Bug guarded: a run stopped by SIGKILL (or SIGTERM) left its worker processes computing
    # their units as orphans (seen on a paper run: two workers 11 minutes into their units),
    # beside the rerun that resumes it.
    out = tmp_path / "out"
    script = _KILLED_RUN.format(here=str(HERE), out=str(out), jobs="2")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    errors = tmp_path / "stderr.txt"
    with open(errors, "wb") as err:  # a file, not a pipe: orphaned workers would hold a pipe open
        proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_ran(log)) < 1 or len(_children(proc.pid)) < 2:
            assert proc.poll() is None, errors.read_text()
            assert time.monotonic() < deadline, "the workers did not start within 120 s"
            time.sleep(0.05)
        workers = _children(proc.pid)
        proc.kill()  # the command only: its workers are left to notice
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in workers if _alive(p)], "worker processes outlived the killed run"
    finally:
        try:  # whatever is left of the command's session
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
