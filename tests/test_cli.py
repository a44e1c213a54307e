"""The hjdl command line, against tiny experiments registered by the tests themselves."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

import hjdl.experiments  # noqa: F401  (the real registrations happen before ours)
from hjdl import cli
from hjdl._version import __version__
from hjdl.experiments.registry import Claim, Result, Table, register, unregister
from hjdl.pde import verification
from hjdl.pde.verification import Check
from hjdl.plotting import register_figures, style, unregister_figures

OK, BROKEN, BADFIG = "zz-cli-ok", "zz-cli-broken", "zz-cli-badfig"
PRESETS = {"quick": {"n": 3}, "paper": {"n": 30}}


def _ok(config, *, seed, progress):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=config["n"])
    return Result(
        name=OK,
        preset="",
        config=config,
        tables={"values": Table("values", ["i", "x"], [[i, v] for i, v in enumerate(x)] + [[99, np.nan]])},
        series={"curve": {"x": np.arange(config["n"]), "y": x}},
        claims=[
            Claim("sum of weights is 1", "algebra", "0", "identity", "holds by construction"),
            Claim("x is finite", "np.isfinite", "all finite", "confirmed", "could have been NaN"),
        ],
        notes=["a note"],
    )


def _broken(config, *, seed, progress):
    raise RuntimeError("deliberate failure in the experiment")


class _ExplodingFigure(Figure):
    def savefig(self, fname, **kwargs):
        fname.write(b"\x89PNG partial")
        raise RuntimeError("savefig exploded")


@pytest.fixture
def dummies():
    register(OK, "OK experiment", "Always works.", PRESETS)(_ok)
    register(BROKEN, "Broken experiment", "Always raises.", PRESETS)(_broken)
    register(BADFIG, "Bad figure", "Works, but its figure cannot be saved.", PRESETS)(
        lambda config, *, seed, progress: Result(BADFIG, "", config, claims=[])
    )

    @register_figures(OK)
    def _ok_figures(result):
        fig, (ax,) = style.new_figure()
        s = result.series["curve"]
        ax.plot(s["x"], s["y"], label="x")
        style.finish([ax])
        return {"curve plot": fig}

    register_figures(BADFIG)(lambda result: {"bad": _ExplodingFigure()})
    yield
    for name in (OK, BROKEN, BADFIG):
        unregister(name)
        unregister_figures(name)


def test_version(cli_run):
    code, out, _ = cli_run("--version")
    assert code == 0 and out.strip() == f"hjdl {__version__}"


def test_python_dash_m_hjdl():
    proc = subprocess.run(
        [sys.executable, "-m", "hjdl", "--version"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"hjdl {__version__}"


def test_ls(dummies, cli_run):
    code, out, _ = cli_run("ls")
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith(OK))
    assert "OK experiment" in line and line.count("1 unit") == 2  # quick and paper: one unit each


def test_run_writes_everything(dummies, tmp_path, cli_run):
    out_dir = tmp_path / "out"
    code, out, err = cli_run("run", OK, "--out", str(out_dir), "--seed", "7")
    assert code == 0, err
    exp = out_dir / OK
    result = json.loads((exp / "result.json").read_text())
    assert result["name"] == OK and result["seed"] == 7 and result["preset"] == "quick"
    assert result["tables"]["values"]["rows"][-1] == [99, None]  # NaN -> null
    assert json.loads((exp / "config.json").read_text()) == {"n": 3}
    meta = json.loads((exp / "meta.json").read_text())
    assert meta["seed"] == 7 and meta["preset"] == "quick" and meta["status"] == "ok"
    assert set(meta["versions"]) >= {"python", "torch", "numpy", "scipy", "matplotlib", "hjdl"}
    assert "git_commit" in meta and meta["wall_seconds"] >= 0 and meta["started_utc"].endswith("+00:00")
    assert (exp / "curve_plot.png").read_bytes()[:4] == b"\x89PNG"
    assert not (exp / "error.txt").exists()
    md = (out_dir / "report.md").read_text()
    assert md.splitlines()[2].startswith("**Verdicts:**") and "## Contents" in md and "## Claims ledger" in md
    assert f"![curve plot]({OK}/curve_plot.png)" in md
    assert "*Figure 1.* OK experiment: curve plot." in md  # no caption set: the title and the figure's name
    page = (out_dir / "report.html").read_text()
    png = base64.b64encode((exp / "curve_plot.png").read_bytes()).decode()
    assert f'src="data:image/png;base64,{png}"' in page and f'src="{OK}/' not in page  # embedded
    # stdout names both reports by absolute path; progress goes to stderr
    assert str((out_dir / "report.html").resolve()) in out and str((out_dir / "report.md").resolve()) in out
    assert "[" in err and "1/1" in err
    assert not list(out_dir.rglob("*.tmp"))


def test_reproduce_records_failures_and_continues(dummies, tmp_path, cli_run):
    code, out, err = cli_run(
        "reproduce", "--only", BROKEN, OK, BADFIG, "--out", str(tmp_path), "--no-progress", "--jobs", "1"
    )
    assert code == 1
    assert "deliberate failure" in (tmp_path / BROKEN / "error.txt").read_text()
    assert not (tmp_path / BROKEN / "result.json").exists()
    assert json.loads((tmp_path / BROKEN / "meta.json").read_text())["status"] == "failed"
    assert (tmp_path / OK / "result.json").exists()  # ran after the failure
    # a figure whose savefig raises leaves no PNG and no temporary file, and counts as a failure
    assert not (tmp_path / BADFIG / "bad.png").exists()
    assert "savefig exploded" in (tmp_path / BADFIG / "error.txt").read_text()
    assert not list(tmp_path.rglob("*.tmp"))
    md = (tmp_path / "report.md").read_text()
    assert md.splitlines()[2].startswith("**Verdicts:**") and "## Claims ledger" in md
    assert "deliberate failure" in md and "2 experiments failed" in md
    assert md.index(f"(`{OK}`)") < md.index(f"(`{BROKEN}`)")  # registration (= report) order
    assert BROKEN in err and "error.txt" in err and err.count("\n") <= 4  # no traceback spam
    # a later successful run removes the stale error file
    assert cli_run("run", OK, "--out", str(tmp_path), "--no-progress")[0] == 0
    assert not (tmp_path / OK / "error.txt").exists()


@pytest.mark.parametrize(
    "argv, names",
    [
        (["run", "no-such-experiment"], ["'no-such-experiment'", OK]),
        (["run", OK, "--preset", "huge"], ["'huge'", "quick", "paper"]),
        (["reproduce", "--only", "nope"], ["'nope'", OK]),
        (["reproduce", "--preset", "huge", "--only", OK], ["'huge'", "quick, paper"]),
        (["run", OK, "--seed", "abc"], ["'abc'"]),
        (["frobnicate"], ["'frobnicate'", "run", "reproduce"]),
    ],
)
def test_bad_arguments_are_one_line_exit_2(dummies, tmp_path, argv, names, cli_run):
    code, out, err = cli_run(*argv, "--out", str(tmp_path)) if argv[0] != "frobnicate" else cli_run(*argv)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err and out == ""
    for name in names:
        assert name in err
    assert not (tmp_path / "report.md").exists()


CHECKS = [
    Check("autograd PDE residual", 1e-13, 1e-10, "float64 rounding", True),
    Check("grid solver 1-D", 1.97, 0.2, "scheme is 2nd order", True, kind="order", expected=2.0),
    Check("Monte Carlo semigroup", float("nan"), 4.0, "4 standard errors", False, detail="x"),
]


@pytest.fixture
def fake_checks(monkeypatch):
    calls = []

    def run_checks(quick=True, progress=False):
        calls.append((quick, progress))
        print("chatter that must not reach stdout")
        return list(CHECKS)

    monkeypatch.setattr(verification, "run_checks", run_checks)
    return calls


def test_verify_json(fake_checks, cli_run):
    code, out, err = cli_run("verify", "--json")
    assert code == 1 and fake_checks == [(True, False)]
    data = json.loads(out)  # stdout is exactly one JSON document
    assert list(data) == ["checks"] and len(data["checks"]) == 3
    first = data["checks"][0]
    assert list(first)[:4] == ["name", "measured", "tolerance", "passed"]
    assert first["passed"] is True and first["tolerance_source"] == "float64 rounding"
    assert data["checks"][2]["measured"] is None and data["checks"][2]["passed"] is False
    assert "chatter" in err


def test_verify_table_and_exit_codes(fake_checks, monkeypatch, cli_run):
    code, out, _ = cli_run("verify", "--full")
    assert code == 1 and fake_checks == [(False, True)]
    for text in ("autograd PDE residual", "order 1.97", "|p - 2| <= 0.2", "4 standard errors", "PASS", "FAIL"):
        assert text in out
    assert "2/3 checks passed" in out
    monkeypatch.setattr(verification, "run_checks", lambda quick, progress: CHECKS[:2])
    assert cli_run("verify")[0] == 0
    code, out, _ = cli_run("verify", "--json")
    assert code == 0 and all(c["passed"] for c in json.loads(out)["checks"])


def test_verify_crash_is_reported(monkeypatch, cli_run):
    def boom(quick, progress):
        raise NotImplementedError("not yet")

    monkeypatch.setattr(verification, "run_checks", boom)
    code, out, err = cli_run("verify", "--json")
    assert code == 1 and out == "" and "not yet" in err


ANIM = "zz-cli-anim"


def test_animation_frames_become_a_gif_and_data_dir_is_passed(tmp_path, cli_run):
    seen = {}

    def _anim(config, *, seed, progress):
        seen["data_dir"] = config["data_dir"]
        return Result(ANIM, "", config, claims=[])

    register(ANIM, "Animated", "Frames.", {"quick": {"data_dir": None}, "paper": {"data_dir": None}})(_anim)

    def _frames(result):
        frames = []
        for k in range(3):
            fig, (ax,) = style.new_figure()
            ax.plot([0, 1], [0, k])
            frames.append(fig)
        return {"movie": frames}

    register_figures(ANIM)(_frames)
    try:
        code, _, _ = cli_run("run", ANIM, "--out", str(tmp_path), "--no-progress",
                          "--data-dir", str(tmp_path))
        assert code == 0 and seen["data_dir"] == str(tmp_path)
        from PIL import Image
        with Image.open(tmp_path / ANIM / "movie.gif") as gif:
            assert gif.n_frames == 3
        assert 'src="data:image/gif;base64,R0lGOD' in (tmp_path / "report.html").read_text()  # GIF89a, embedded
        code, _, err = cli_run("run", ANIM, "--out", str(tmp_path), "--data-dir", str(tmp_path / "nope"))
        assert code == 2 and "--data-dir" in err and "nope" in err
    finally:
        unregister(ANIM)
        unregister_figures(ANIM)


@pytest.mark.parametrize("kind", ["out is a file", "experiment folder is a file", "cannot create"])
def test_unusable_out_is_one_line_exit_2(dummies, tmp_path, kind, cli_run):
    if kind == "out is a file":
        target = tmp_path / "afile"
        target.write_text("x")
    elif kind == "experiment folder is a file":
        target = tmp_path
        (tmp_path / OK).write_text("x")
    else:
        (tmp_path / "blocker").write_text("x")
        target = tmp_path / "blocker" / "sub"  # a folder under a file cannot be made
    code, out, err = cli_run("run", OK, "--out", str(target), "--no-progress")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err and "--out" in err


def test_interrupted_run_keeps_the_previous_folder_whole(dummies, tmp_path, monkeypatch, cli_run):
    # an interrupt after the figures but before the JSON files had left a folder mixing two runs
    assert cli_run("run", OK, "--out", str(tmp_path), "--seed", "1", "--no-progress")[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / OK).iterdir()}
    import hjdl._io

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hjdl._io, "atomic_write_json", interrupt)
    code, _, err = cli_run("run", OK, "--out", str(tmp_path), "--seed", "2", "--no-progress")
    assert code == 130 and "interrupted" in err
    after = {p.name: p.read_bytes() for p in (tmp_path / OK).iterdir()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != ".units") == []
    monkeypatch.undo()
    # a completed run replaces the folder as a whole (no file survives from the earlier run)
    (tmp_path / OK / "stray.txt").write_text("from an older version")
    assert cli_run("run", OK, "--out", str(tmp_path), "--seed", "3", "--no-progress")[0] == 0
    assert not (tmp_path / OK / "stray.txt").exists()
    assert json.loads((tmp_path / OK / "meta.json").read_text())["seed"] == 3


def test_interrupt_between_the_renames_puts_the_old_folder_back(dummies, tmp_path, monkeypatch, cli_run):
    import os

    assert cli_run("run", OK, "--out", str(tmp_path), "--seed", "1", "--no-progress")[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / OK).iterdir()}
    real_replace, calls = cli.os.replace, []

    def flaky(src, dst):
        calls.append((src, dst))
        if str(src).endswith(f"{OK}.staging-{os.getpid()}"):  # the old folder is aside already
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(cli.os, "replace", flaky)
    assert cli_run("run", OK, "--out", str(tmp_path), "--seed", "2", "--no-progress")[0] == 130
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in (tmp_path / OK).iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != ".units"] == []
    # the old report linked into the folder being replaced: it is gone rather than stale
    assert not (tmp_path / "report.md").exists()
    assert any(str(d).endswith(f".{OK}.old-{os.getpid()}") for _, d in calls)  # it was aside


def test_leftovers_of_a_killed_run_are_tidied_and_links_refused(dummies, tmp_path, cli_run):
    import os

    dead = 2 ** 22 + 12345  # beyond the default pid range: no such process
    while True:
        try:
            os.kill(dead, 0)
            dead += 1
        except ProcessLookupError:
            break
    old = tmp_path / f".{OK}.old-{dead}"  # killed between the renames: the folder is aside
    old.mkdir()
    (old / "meta.json").write_text("{}")
    (tmp_path / f".{OK}.staging-{dead}").mkdir()
    assert cli_run("run", OK, "--out", str(tmp_path), "--no-progress")[0] == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != ".units"] == []
    assert json.loads((tmp_path / OK / "meta.json").read_text())["status"] == "ok"
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    (link_dir / OK).symlink_to(tmp_path / "nowhere")  # a dangling link where the folder goes
    code, out, err = cli_run("run", OK, "--out", str(link_dir), "--no-progress")
    assert code == 2 and err.count("\n") == 1 and "link" in err and "Traceback" not in err
