"""The run folder's report: one section per experiment folder, rebuilt by 'hjdl run' and 'hjdl report',
captioned figures embedded (a copied report.html is complete), data notices on the terminal, the explorer."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import hjdl.experiments  # noqa: F401  (the real registrations happen before ours)
from hjdl.results import Claim, Result
from hjdl.experiments.registry import register, unregister
from hjdl.plotting import register_figures, style, unregister_figures

A, B, DATA = "zz-rep-a", "zz-rep-b", "zz-rep-data"
PRESETS = {"quick": {"n": 3}, "paper": {"n": 30}}


def _exp(name):
    def run(config, *, seed, progress):
        x = np.random.default_rng(seed).normal(size=config["n"])
        return Result(name, "", config, series={"curve": {"y": x.tolist()}},
                      claims=[Claim("mean is finite", "sum", f"{x.mean():.3f}", "theorem (sanity check)",
                                    "finite sums", kind="theorem")])
    return run


@pytest.fixture
def experiments():
    register(A, "Experiment A", "First.", PRESETS, reproduces="Fig. 7")(_exp(A))
    register(B, "Experiment B", "Second.", PRESETS)(_exp(B))
    register(DATA, "Needs data", "Falls back.", PRESETS)(
        lambda config, *, seed, progress: Result(DATA, "", config, claims=[],
                                                 notices=["MNIST not found in /nowhere; ran on the bundled digits"]))

    def figures(result):
        fig, (ax,) = style.new_figure()
        ax.plot(result.series["curve"]["y"])
        ax.set_xlabel("index")
        ax.set_ylabel("value (a.u.)")
        style.set_caption(fig, f"The values drawn by {result.name}, in order.")
        fig2, (ax2,) = style.new_figure()
        ax2.plot([0, 1])
        return {"values": fig, "line": fig2}  # the second has no caption

    for name in (A, B):
        register_figures(name)(figures)
    yield
    for name in (A, B, DATA):
        unregister(name)
        unregister_figures(name)


def _sections(md):
    return [line for line in md.splitlines() if line.startswith("## ") and "(`" in line]


def test_run_updates_its_section_of_the_folders_report(experiments, tmp_path, cli_run):
    assert cli_run("reproduce", "--only", A, B, "--out", str(tmp_path), "--no-progress", "--jobs", "1",
                "--no-explorer")[0] == 0
    md = (tmp_path / "report.md").read_text()
    assert _sections(md) == ["## Experiment A (`zz-rep-a`)", "## Experiment B (`zz-rep-b`)"]
    # a later run of one experiment replaces its section; the other stays, from its own run
    code, out, _ = cli_run("run", A, "--out", str(tmp_path), "--no-progress", "--seed", "4")
    assert code == 0 and "the report covers the 2 experiment(s)" in out
    md = (tmp_path / "report.md").read_text()
    assert _sections(md) == ["## Experiment A (`zz-rep-a`)", "## Experiment B (`zz-rep-b`)"]
    assert f"| {A} | quick | 4 |" in md and f"| {B} | quick | 0 |" in md
    assert "Reproduces: Fig. 7 of the paper." in md
    assert "*Figure 1.* The values drawn by zz-rep-a, in order." in md
    assert "*Figure 2.* Experiment A: line." in md  # no caption: never the bare file name


def test_report_command_rebuilds_the_report(experiments, tmp_path, cli_run):
    assert cli_run("run", B, "--out", str(tmp_path), "--no-progress")[0] == 0
    before = (tmp_path / "report.html").read_text()
    (tmp_path / "report.md").unlink()
    (tmp_path / "report.html").unlink()
    code, out, err = cli_run("report", str(tmp_path))
    assert code == 0, err
    assert str(tmp_path / "report.html") in out and "1 experiment(s)" in out
    after = (tmp_path / "report.html").read_text()
    section = lambda page: page.split(f'<section id="exp-{B}">')[1].split("</section>")[0]  # noqa: E731
    assert section(after) == section(before)
    # a failed experiment is rebuilt from its error.txt
    (tmp_path / B / "result.json").unlink()
    meta = json.loads((tmp_path / B / "meta.json").read_text())
    (tmp_path / B / "meta.json").write_text(json.dumps({**meta, "status": "failed"}))
    (tmp_path / B / "error.txt").write_text("Traceback: something broke\n")
    assert cli_run("report", str(tmp_path))[0] == 0
    assert "something broke" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("kind", ["missing", "empty", "file"])
def test_report_command_refuses_a_folder_without_runs(tmp_path, kind, cli_run):
    target = {"missing": tmp_path / "nope", "empty": tmp_path, "file": tmp_path / "f"}[kind]
    if kind == "file":
        target.write_text("x")
    code, out, err = cli_run("report", str(target))
    assert code == 2 and out == "" and err.count("\n") == 1 and "DIR" in err
    assert not (tmp_path / "report.md").exists()


def test_data_notices_reach_the_terminal(experiments, tmp_path, cli_run):
    code, out, err = cli_run("run", DATA, "--out", str(tmp_path), "--no-progress")
    assert code == 0
    assert f"hjdl run: notice: {DATA}: MNIST not found in /nowhere; ran on the bundled digits" in err
    md = (tmp_path / "report.md").read_text()
    assert "**Data notices:**" in md.split("## Contents")[0]


def test_reproduce_writes_the_explorer_or_says_why_not(experiments, tmp_path, monkeypatch, cli_run):
    import importlib.util
    import sys
    import types

    # a stand-in for hjdl.explore (the real export is tested with the explorer): the command's
    # side of the contract is export_html(DIR / "explorer") and a notice on any failure
    fake = types.ModuleType("hjdl.explore")
    monkeypatch.setitem(sys.modules, "hjdl.explore", fake)
    calls = []

    def fake_export(out_dir):
        calls.append(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "index.html").write_text("<html></html>")
        return out_dir / "index.html"

    monkeypatch.setattr(fake, "export_html", fake_export, raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "panel" else real_find_spec(name, *a))
    assert cli_run("reproduce", "--only", B, "--out", str(tmp_path), "--no-progress")[0] == 0
    assert calls == [tmp_path.resolve() / "explorer"]
    assert '<a href="explorer/index.html">' in (tmp_path / "report.html").read_text()
    # --no-explorer skips it
    assert cli_run("reproduce", "--only", B, "--out", str(tmp_path), "--no-progress", "--no-explorer")[0] == 0
    assert len(calls) == 1

    def broken(out_dir):
        raise RuntimeError("bokeh exploded\nsecond line")

    monkeypatch.setattr(fake, "export_html", broken)
    code, _, err = cli_run("reproduce", "--only", B, "--out", str(tmp_path / "two"), "--no-progress")
    assert code == 0  # never fails the run
    notice = [ln for ln in err.splitlines() if "explorer" in ln]
    assert notice == ["hjdl reproduce: notice: the browser explorer was not written (RuntimeError: bokeh exploded)"]

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "panel" else real_find_spec(name, *a))
    code, _, err = cli_run("reproduce", "--only", B, "--out", str(tmp_path / "three"), "--no-progress")
    assert code == 0 and "pip install 'hjdl[explore]'" in err


def _chromium():
    """Playwright's sync API and a Chromium binary, or a reason to skip."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright): cannot open the report in a browser")
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or ""):
        if path and shutil.which(path):
            return sync_playwright, path
    pytest.skip("no Chromium binary at /usr/bin/chromium: cannot open the report in a browser")


def test_a_copied_report_opens_complete_in_chromium_offline(experiments, tmp_path, cli_run):
    sync_playwright, chromium = _chromium()
    run = tmp_path / "run"
    assert cli_run("reproduce", "--only", A, B, "--out", str(run), "--no-progress", "--jobs", "1",
                "--no-explorer")[0] == 0
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    shutil.copy(run / "report.html", alone / "report.html")  # the page alone, without the figure files
    requested = []
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        except Exception as exc:  # e.g. missing system libraries in a minimal container
            pytest.skip(f"Chromium at {chromium} did not start: {str(exc).splitlines()[0]}")
        try:
            page = browser.new_page()

            def block(route):
                requested.append(route.request.url)
                if route.request.url.startswith(("data:", "file://" + str(alone / "report.html"))):
                    return route.continue_()
                return route.abort()

            page.route("**/*", block)
            page.goto((alone / "report.html").as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.complete, e.naturalWidth, e.src.slice(0, 22)])")
            captions = page.eval_on_selector_all("figcaption", "els => els.map(e => e.textContent)")
            title = page.title()
        finally:
            browser.close()
    assert title == "hjdl report"
    assert len(images) == 4 and all(done and width > 0 for done, width, _ in images), images
    assert all(src.startswith("data:image/png;base64") for *_, src in images)
    assert "Figure 1. The values drawn by zz-rep-a, in order." in captions
    blocked = [u for u in requested if not u.startswith(("data:", "file://"))]
    assert blocked == [], blocked  # nothing was fetched from anywhere
