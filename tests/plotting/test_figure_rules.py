"""Every figure of every registered experiment follows the figure rules (``figure_rules.py``).

Each experiment runs once (its quick preset, seed 0, shrunk by the overrides in ``SMALL`` so the
module stays fast: the figures are drawn from the same series, only smaller), every figure that
``hjdl.plotting.figures_for`` returns is checked, and the test lists every broken rule. An
experiment without an entry in ``SMALL`` runs its plain quick preset, so a new experiment is
checked from the day it is registered.

Set ``HJDL_FIGURES_FULL=1`` to run the unshrunk quick presets instead and also draw every figure
to find text cut off at its edge (about 7 minutes on two loaded cores; the default shrunk runs
take 26 s of CPU).
"""

from __future__ import annotations

import os

import matplotlib
import pytest

from figure_rules import problems_of

matplotlib.use("Agg")

from hjdl.experiments import get, names  # noqa: E402
from hjdl.plotting import figures_for, style  # noqa: E402

#: config overrides (existing keys only) that shrink each quick preset to a second or two
SMALL: dict[str, dict] = {
    "attention-identity": {"trials": 4},
    "recovery": {"max_iter": 40, "refine_iter": 10, "n_points": 60},
    "hessian-mnist": {"n_train": 120, "n_test": 30, "max_iter": 10, "width": 16},
    "certified-accuracy": {"datasets": ["digits"], "n_train": 150, "n_test": 30, "max_iter": 15,
                           "pgd_steps": 3, "n_radii": 3, "eps": [0.3, 1.0]},
    "bifurcation-1d": {"n_anchors": 4, "n_scan": 4001},
    "bifurcation": {"n_anchors": 4, "max_checks": 2},
    "phase-synthetic": {"res": 24, "n_eps": 40},
    "phase-mnist": {"res": 24, "n_eps": 40},
    "phase-digits": {"res": 24, "n_eps": 40},
    "resnet-pmp": {"seeds": 2, "costate_depths": [4, 16], "conv_depths": [16, 32, 64],
                   "digits": {"depth": 3, "hidden": 16, "epochs": 2, "batch": 200, "adam_lr": 1e-2,
                              "rho": 1.0, "inner_steps": 1, "inner_lr": 1e-2, "head_lr": 1e-2}},
    "attention-entropy": {"seeds": 2, "d_model": 16, "ffn": 32, "batch": 16, "eval_batch": 32,
                          "recall": {"steps": 15, "pairs": 3, "n_keys": 6, "n_values": 6},
                          "chars": {"steps": 10, "length": 16, "max_chars": 5000}},
    "attention-entropy-hf": {"seeds": 2, "layers": 2, "width": 16, "length": 16, "steps": 15, "batch": 8,
                             "eval_batch": 16, "max_chars": 5000, "probe_length": 32, "probe_batch": 2,
                             "bootstrap": 50},
    "recurrent-gates": {"seeds": 2, "hidden": 8, "embed": 8, "steps": 10, "batch": 8, "length": 16,
                        "max_chars": 5000, "eval_length": 50},
    "robustness-synthetic": {"n_eps": 3, "n_points": 50, "n_pairs": 50, "n_ascent": 4, "ascent_steps": 10},
    "robustness-trained": {"n_train": 80, "n_test": 80, "max_iter": 40},
    # experiments added in this session (their keys as of this writing)
    "generalization-rate": {"sizes": [50, 100, 200], "seeds": 2, "steps": 30, "bootstrap": 50},
    "commutative-diagram": {"n_extra": {"1": [1024], "2": [128]}},
    "hallucination": {"seeds": 2, "n_test": 300, "bootstrap": 50, "map_res": 20},
    "double-descent": {"n_test": 100, "widths": [2, 8, 16, 32], "seeds": 2, "grid": 256},
}

#: experiments whose modules (and figures) other helpers are still writing in this session: their
#: failures are expected for now (xfail, not strict); the lead removes a name once its figures pass
PENDING: set[str] = set()   # experiments whose figures may still break the rules (xfail, not strict)

FULL = os.environ.get("HJDL_FIGURES_FULL") == "1"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _shipped():
    """The experiments hjdl ships (those the tests register, the runner tests' toys say, are not
    figures of ours, and are registered only if their module was collected first)."""
    return [n for n in names() if (get(n).run_unit_func or get(n).func).__module__.startswith("hjdl.")]


def _params():
    out = []
    for name in _shipped():
        marks = [pytest.mark.xfail(reason="figures still being written by another helper (issue 17)",
                                   strict=False)] if name in PENDING else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _params())
def test_every_figure_follows_the_rules(name):
    overrides = {} if FULL else SMALL.get(name, {})
    result = get(name).run("quick", seed=0, **overrides)
    assert result.error is None, result.error
    figures = figures_for(result)
    problems = []
    for key, fig in figures.items():
        problems += [f"{name}/{key}: {p}" for p in problems_of(fig, layout=FULL)]
        assert style.caption_of(fig) is not None
    assert problems == [], "\n".join(problems)


def test_small_overrides_name_registered_experiments():
    # a renamed experiment must not silently fall back to its full quick preset here
    assert set(SMALL) <= set(names()), sorted(set(SMALL) - set(names()))
