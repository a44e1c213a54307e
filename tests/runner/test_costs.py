"""Cost of experiments: ``hjdl ls`` shows units and measured cost per preset; ``reproduce --preset
paper`` prints its estimate before it starts; the shipped measurements cover every experiment
(issue 14, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import runner_toys  # noqa: F401  (registers the toys)
from hjdl import cli
from hjdl.experiments import all_experiments
from hjdl.experiments.units import estimate_wall

UNITS, FAILS = runner_toys.UNITS, runner_toys.FAILS
COSTS = Path(cli.__file__).parent / "experiments" / "costs.json"

FAKE = {
    "machine": {"cores": 2, "cpu": "Test CPU", "load_average_during": [1.0, 3.0]},
    "experiments": {
        UNITS: {"quick": {"units": 5, "seconds": 2.0, "kind": "measured", "measured_utc": "2026-01-02T00:00:00+00:00"},
                "paper": {"units": 8, "seconds": 800.0, "kind": "estimate", "measured_utc": "2026-01-02T00:00:00+00:00"}},
        FAILS: {"paper": {"units": 5, "seconds": 7200.0, "kind": "at least"}},
    },
}


def test_ls_shows_units_and_cost_per_preset(cli_run, monkeypatch):
    monkeypatch.setattr(cli, "_costs", lambda: FAKE)
    code, out, _ = cli_run("ls")
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith(UNITS + " "))
    assert "5 units, 2.0s" in line and "8 units, ~13m20s" in line
    assert ">=2h00m" in next(ln for ln in out.splitlines() if ln.startswith(FAILS + " "))
    assert "2 cores, Test CPU, load average 1.0-3.0, 2026-01-02" in out


def test_reproduce_paper_prints_its_estimate_before_it_starts(cli_run, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "_costs", lambda: FAKE)

    def no_run(*args, **kwargs):  # the estimate comes before anything runs or is written
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_output_folder", no_run)
    code, out, err = cli_run("reproduce", "--preset", "paper", "--only", UNITS, FAILS, "identity",
                          "--jobs", "2", "--out", str(tmp_path / "out"))
    assert code == 130 and out == ""
    head, *rows = err.splitlines()[:4]
    # 8 units of 100 s and 5 of 1440 s on two workers, longest first: one worker runs three of
    # 1440 s, the other two of 1440 s and all eight of 100 s (2880 + 800 < 4320)
    wall = estimate_wall([100.0] * 8 + [1440.0] * 5, 2)
    assert wall == 3 * 1440
    assert f"at least {cli._duration(800 + 7200)} of compute" in head
    assert f"at least {cli._duration(wall)} of wall time with 2 jobs" in head
    assert "2 cores, Test CPU" in head
    assert UNITS in rows[0] and "~13m20s (estimate)" in rows[0]
    assert FAILS in rows[1] and ">=2h00m (at least)" in rows[1]
    assert "not measured: identity" in rows[2]


def test_the_quick_preset_prints_no_estimate(cli_run, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "_costs", lambda: FAKE)
    code, _, err = cli_run("run", UNITS, "--jobs", "1", "--no-progress", "--out", str(tmp_path))
    assert code == 0 and "estimated" not in err


def test_shipped_costs_cover_every_experiment():
    data = json.loads(COSTS.read_text())
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    builtin = [e.name for e in all_experiments() if e.module.startswith("hjdl.")]
    for name in builtin:
        entry = data["experiments"].get(name, {})
        assert entry.get("quick", {}).get("kind") == "measured", name
        assert entry.get("paper", {}).get("kind") in ("measured", "estimate", "at least"), name
        for preset in ("quick", "paper"):
            assert entry[preset]["units"] >= 1 and entry[preset]["seconds"] >= 0 and entry[preset]["measured_utc"]


@pytest.mark.parametrize("seconds, text", [(3.25, "3.2s"), (42, "42s"), (125, "2m05s"), (7500, "2h05m")])
def test_duration_text(seconds, text):
    assert cli._duration(seconds) == text
