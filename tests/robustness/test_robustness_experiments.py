"""The robustness experiments run, register, make their claims and figures (tiny configs)."""

import pytest

from hjdl.experiments import certified_accuracy, hessian_mnist, robustness_synthetic, robustness_trained  # noqa: F401
from hjdl.experiments import get
from hjdl.plotting import robustness as _figs  # noqa: F401
from hjdl.plotting import figures_for

TINY = {
    "robustness-synthetic": {"n_eps": 3, "n_points": 40, "n_ascent": 2, "ascent_steps": 3},
    "robustness-trained": {"eps": [0.2, 1.0], "n_train": 60, "n_test": 40, "max_iter": 30},
    "hessian-mnist": {"eps": [0.3, 3.0], "n_train": 80, "n_test": 30, "max_iter": 5, "width": 16},
    "certified-accuracy": {"eps": [0.3], "n_train": 120, "n_test": 30, "max_iter": 20, "n_radii": 3,
                           "pgd_steps": 3},
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_experiment_runs_with_falsifiable_claims(name):
    res = get(name).run("quick", seed=0, **TINY[name])
    assert res.tables and res.claims
    evidence = [c for c in res.claims if c.kind == "evidence"]
    assert evidence
    # the soundness / bound claims hold even on tiny runs
    assert evidence[0].verdict == "confirmed", evidence[0].measured
    figs = figures_for(res)
    assert figs
