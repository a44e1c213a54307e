"""The hj-highdim experiment on a tiny config: it runs, its claims are well formed, its figures
follow the figure rules."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hjdl.experiments import get

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plotting"))


def test_hj_highdim_tiny_run_and_figures():
    res = get("hj-highdim").run("quick", seed=0, dims=[2, 10], rate_N=[64, 128, 256, 512], rate_seeds=3,
                                collapse_eps=[1.0, 0.25, 0.0625], collapse_N=256, collapse_seeds=2,
                                lambdas=[1.0], hjb_budget=1024)
    kinds = {c.kind for c in res.claims}
    assert {"evidence", "theorem"} <= kinds
    hjb = res.tables["hjb"].rows[0]
    assert hjb[0] == 1.0 and abs(hjb[2] - hjb[6]) < 4 * hjb[3]          # value vs reference
    assert "0.17 %" in hjb[-1]                                            # the published figure, quoted
    pytest.importorskip("matplotlib")
    from figure_rules import figure_problems

    from hjdl.plotting.solver_plots import hj_highdim_figures
    figs = hj_highdim_figures(res)
    assert set(figs) == {"hj_rate", "hj_collapse", "hj_hjb"}
    for name, fig in figs.items():
        assert figure_problems(fig) == [], name


def test_hj_highdim_presets_declare_units():
    exp = get("hj-highdim")
    assert exp.has_units
    units = exp.units(exp.config("paper"), 0)
    assert {u["part"] for u in units} == {"rate", "collapse", "hjb"}
