"""``hjdl --help`` and ``hjdl ls`` start without torch; ``ls`` reads a manifest kept equal to the registry.

The check is on what is imported (``sys.modules`` in a fresh interpreter), not on a timing: importing
torch is what made the commands take seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import hjdl.cli as cli

_HEAVY = ("torch", "numpy", "scipy", "matplotlib", "hjdl.experiments", "hjdl.core")


def _fresh(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["ls"], ["run", "--help"], ["reproduce", "--help"], ["--version"]])
def test_help_and_ls_do_not_import_torch(argv):
    res = _fresh(
        "import contextlib, io, json, sys\n"
        "from hjdl.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    code = main({argv!r})\n"
        f"print(json.dumps({{'code': code, 'out': buf.getvalue(), 'heavy': [m for m in {_HEAVY!r} if m in sys.modules]}}))\n"
    )
    assert res["code"] == 0
    assert res["heavy"] == [], f"hjdl {' '.join(argv)} imported {res['heavy']}"
    if argv == ["ls"]:
        assert "identity" in res["out"] and "Thm 4.1" in res["out"]


def test_shipped_manifest_equals_the_registry():
    """The list ``hjdl ls`` prints without importing the experiments is the registry's own."""
    shipped = json.loads(cli._MANIFEST.read_text(encoding="utf-8"))
    live = cli._manifest_data()
    hint = "the shipped experiment list is stale: run 'hjdl ls --refresh' and commit src/hjdl/experiments/manifest.json"
    # toy experiments registered by other tests in this process are not shipped
    builtin = [row for row in live["experiments"] if row["module"].startswith("hjdl.")]
    assert shipped["experiments"] == builtin, hint
    assert shipped["modules"] == live["modules"], hint


def test_ls_shows_what_each_experiment_reproduces(capsys):
    import hjdl.experiments as ex

    assert cli.main(["ls"]) == 0
    out = capsys.readouterr().out
    for exp in ex.all_experiments():
        line = next(ln for ln in out.splitlines() if ln.startswith(exp.name + " "))
        assert (exp.reproduces or "-") in line, line


def test_a_stale_manifest_is_not_used(tmp_path):
    """A manifest made from other experiment modules is ignored: ls falls back to the registry."""
    stale = tmp_path / "manifest.json"
    stale.write_text(json.dumps({"version": 1, "modules": ["identity"],
                                 "experiments": [{"name": "ghost", "title": "stale", "reproduces": "",
                                                  "module": "x", "presets": {"quick": {"units": 1}}}]}))
    res = _fresh(
        "import contextlib, io, json, sys\n"
        "from pathlib import Path\n"
        "import hjdl.cli as cli\n"
        f"cli._MANIFEST = Path({str(stale)!r})\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    code = cli.main(['ls'])\n"
        "print(json.dumps({'code': code, 'out': buf.getvalue()}))\n"
    )
    assert res["code"] == 0 and "ghost" not in res["out"] and "identity" in res["out"]


def test_ls_survives_a_closed_pipe():
    proc = subprocess.run(f"{sys.executable} -m hjdl ls | head -1", shell=True, capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.startswith("name") and "Traceback" not in proc.stderr, proc.stderr
