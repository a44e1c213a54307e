"""The command line under failure: full disks, file-size limits, concurrent runs, empty paths.

Each test names the defect it guards against (issue 16, item 7).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import hjdl._io
import hjdl.experiments  # noqa: F401  (the real registrations happen before ours)
from hjdl import cli
from hjdl.experiments.registry import Claim, Result, Table, register, unregister
from hjdl.plotting import register_figures, style, unregister_figures

GOOD, SLOW = "zz-cli-rel-good", "zz-cli-rel-slow"
PRESETS = {"quick": {"n": 3, "data_dir": None}, "paper": {"n": 30, "data_dir": None}}
SEEN: dict = {}
GATE = {"started": threading.Event(), "release": threading.Event()}


def _good(config, *, seed, progress, data_dir=None):
    SEEN["data_dir"] = config.get("data_dir")
    x = np.random.default_rng(seed).normal(size=config["n"])
    return Result(name=GOOD, preset="", config=config,
                  tables={"values": Table("values", ["i", "x"], [[i, v] for i, v in enumerate(x)])},
                  series={"curve": {"x": np.arange(config["n"]), "y": x}},
                  claims=[Claim("x is finite", "np.isfinite", "all finite", "confirmed", "could be NaN")])


def _slow(config, *, seed, progress):
    GATE["started"].set()
    assert GATE["release"].wait(60), "the test never released the slow experiment"
    return Result(name=SLOW, preset="", config=config, claims=[])


@pytest.fixture
def dummies():
    register(GOOD, "Good", "Always works.", PRESETS)(_good)
    register(SLOW, "Slow", "Waits for the test.", PRESETS)(_slow)

    @register_figures(GOOD)
    def _figures(result):
        fig, (ax,) = style.new_figure()
        ax.plot(result.series["curve"]["x"], result.series["curve"]["y"])
        return {"curve": fig}

    SEEN.clear()
    yield
    for name in (GOOD, SLOW):
        unregister(name)
        unregister_figures(name)


def _tree(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _hidden(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".units")  # stored units stay


# ---------------------------------------------------------------------------------------------
# failed writes
@pytest.mark.parametrize("fail_on", ["figure", "result.json", "meta.json"])
def test_disk_full_is_one_line_and_keeps_the_previous_folder(cli_run, dummies, tmp_path, monkeypatch, fail_on):
    # Bug: an OSError while writing printed a 36-line traceback; a figure that could not be
    # saved (disk full) was recorded as a failed experiment whose folder replaced the good one.
    assert cli_run("run", GOOD, "--out", str(tmp_path), "--seed", "1", "--no-progress")[0] == 0
    before = _tree(tmp_path / GOOD)
    real_open = hjdl._io.atomic_open

    def full_disk(path, *args, **kwargs):
        name = Path(path).name
        if (fail_on == "figure" and name.endswith(".png")) or name == fail_on:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(hjdl._io, "atomic_open", full_disk)
    code, out, err = cli_run("run", GOOD, "--out", str(tmp_path), "--seed", "2", "--no-progress")
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "ENOSPC" in err and GOOD in err and "kept" in err
    assert _tree(tmp_path / GOOD) == before          # the previous good folder, byte for byte
    assert _hidden(tmp_path) == []                  # no staging folder, no lock file left


def test_report_write_failure_leaves_no_mixed_report(cli_run, dummies, tmp_path, monkeypatch):
    # Bug: a failure writing report.html after report.md left this run's report.md beside an
    # older report.html, and printed a traceback.
    assert cli_run("run", GOOD, "--out", str(tmp_path), "--seed", "1", "--no-progress")[0] == 0
    real_open = hjdl._io.atomic_open

    def full_disk(path, *args, **kwargs):
        if Path(path).name == "report.html":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(hjdl._io, "atomic_open", full_disk)
    code, _, err = cli_run("run", GOOD, "--out", str(tmp_path), "--seed", "2", "--no-progress")
    assert code == 1 and err.count("\n") == 1 and "report" in err and "Traceback" not in err
    assert not (tmp_path / "report.md").exists() and not (tmp_path / "report.html").exists()
    assert json.loads((tmp_path / GOOD / "meta.json").read_text())["seed"] == 2  # folder complete
    assert _hidden(tmp_path) == []


_FSIZE_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from hjdl import cli
    from hjdl.experiments.registry import Result, Table, register

    @register("zz-fsize", "Big table", "Writes a CSV larger than the limit.",
              {"quick": {"rows": 4000}, "paper": {"rows": 4000}})
    def big(config, *, seed, progress):
        x = np.random.default_rng(seed).normal(size=config["rows"])
        return Result("zz-fsize", "", config, claims=[],
                      tables={"t": Table("t", ["i", "x"], [[i, v] for i, v in enumerate(x)])})

    out = sys.argv[1]
    first = cli.main(["run", "zz-fsize", "--out", out, "--seed", "1", "--no-progress"])
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, hard))   # the CSV is ~90 kB
    second = cli.main(["run", "zz-fsize", "--out", out, "--seed", "2", "--no-progress"])
    print(json.dumps([first, second]))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_file_size_limit_is_one_line_and_keeps_the_previous_folder(tmp_path):
    # Bug: with a file-size limit the write failed with EFBIG deep inside and the command died
    # with a traceback (the real limit, in a child process: the kernel refuses the write).
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", _FSIZE_SCRIPT, str(out)], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    first, second = json.loads(proc.stdout.strip().splitlines()[-1])
    assert first == 0 and second == 1
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and "EFBIG" in errors[0] and "Traceback" not in proc.stderr, proc.stderr
    meta = json.loads((out / "zz-fsize" / "meta.json").read_text())
    assert meta["seed"] == 1 and (out / "zz-fsize" / "t.csv").stat().st_size > 32 * 1024
    assert _hidden(out) == []


# ---------------------------------------------------------------------------------------------
# concurrent runs
def test_concurrent_run_into_a_busy_folder_is_refused(cli_run, dummies, tmp_path):
    # Bug: `hjdl run` into the folder of a running `reproduce` replaced a folder that the
    # reproduce's report then described: one run's numbers beside another run's files.
    assert cli_run("run", GOOD, "--out", str(tmp_path), "--seed", "1", "--no-progress")[0] == 0
    GATE["started"].clear()
    GATE["release"].clear()
    codes = []
    first = threading.Thread(target=lambda: codes.append(cli.main(
        ["reproduce", "--only", SLOW, GOOD, "--out", str(tmp_path), "--seed", "5", "--no-progress",
             "--jobs", "1"])))
    first.start()
    try:
        assert GATE["started"].wait(60)
        code, out, err = cli_run("run", GOOD, "--out", str(tmp_path), "--seed", "9", "--no-progress")
        assert code == 2 and out == ""
        line = [ln for ln in err.splitlines() if "hjdl run" in ln]
        assert len(line) == 1 and "another run" in line[0] and "reproduce" in line[0], err
        assert json.loads((tmp_path / GOOD / "meta.json").read_text())["seed"] == 1  # untouched
    finally:
        GATE["release"].set()
        first.join(60)
    assert codes == [0]
    # the reproduce's report and folders are all from the reproduce (seed 5)
    for name in (SLOW, GOOD):
        assert json.loads((tmp_path / name / "meta.json").read_text())["seed"] == 5
    md = (tmp_path / "report.md").read_text()
    assert all(f"| {name} | quick | 5 |" in md for name in (SLOW, GOOD))
    assert _hidden(tmp_path) == []
    # once it is done the folder is free again
    assert cli_run("run", GOOD, "--out", str(tmp_path), "--seed", "9", "--no-progress")[0] == 0


def test_a_lock_file_left_by_a_killed_run_does_not_block(cli_run, dummies, tmp_path):
    # Bug guarded: a lock taken by creating a file would block forever after a SIGKILL; the
    # kernel releases the lock with the process, so a leftover file is no obstacle.
    (tmp_path / ".hjdl.lock").write_text("pid 999999: hjdl reproduce\n")
    assert cli_run("run", GOOD, "--out", str(tmp_path), "--no-progress")[0] == 0
    assert _hidden(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="the lock needs fcntl")
def test_lock_held_by_another_process_is_refused(cli_run, dummies, tmp_path):
    # the same refusal when the holder is a separate process (as with two `hjdl` commands)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import fcntl, os, sys
            fd = os.open({str(tmp_path / '.hjdl.lock')!r}, os.O_RDWR | os.O_CREAT)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, b"pid %d: hjdl reproduce --out x" % os.getpid())
            print("locked", flush=True)
            sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = cli_run("run", GOOD, "--out", str(tmp_path), "--no-progress")
        assert code == 2 and err.count("\n") == 1 and f"pid {holder.pid}" in err
        assert not (tmp_path / GOOD).exists()
    finally:
        holder.kill()
        holder.wait(30)
    assert cli_run("run", GOOD, "--out", str(tmp_path), "--no-progress")[0] == 0


# ---------------------------------------------------------------------------------------------
# empty paths
@pytest.mark.parametrize("value", ["", "   "])
def test_empty_out_is_refused(cli_run, dummies, tmp_path, monkeypatch, value):
    # Bug: --out '' resolved to the current folder and wrote there without a word.
    monkeypatch.chdir(tmp_path)
    code, out, err = cli_run("run", GOOD, "--out", value, "--no-progress")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--out" in err and "empty" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
    assert SEEN == {}  # nothing ran


@pytest.mark.parametrize("value", ["", " "])
def test_empty_data_dir_is_refused(cli_run, dummies, tmp_path, value):
    # Bug: --data-dir '' passed the check (Path('') is '.') and the experiments read '' as
    # "not given", silently falling back to the bundled digits.
    code, out, err = cli_run("run", GOOD, "--out", str(tmp_path / "o"), "--data-dir", value,
                          "--no-progress")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--data-dir" in err and "empty" in err and "Traceback" not in err
    assert SEEN == {} and not (tmp_path / "o").exists()
    # a real folder is still passed through
    assert cli_run("run", GOOD, "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path),
                "--no-progress")[0] == 0
    assert SEEN["data_dir"] == str(tmp_path)
