"""An experiment without declared units is one unit whose payload is its result's JSON: the
result assembled from that payload must be the result itself, and its figures must draw from it
(the figure functions read only what survives JSON: tables, series as lists, claims, notes)."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest

from hjdl.experiments import get
from hjdl.plotting import figures_for

CHEAP = ["identity", "tropical-limit", "intrinsic-dimension", "phase-synthetic"]


@pytest.mark.parametrize("name", CHEAP)
def test_the_payload_of_a_whole_experiment_round_trips(name):
    exp = get(name)
    assert not exp.has_units and exp.units(exp.config("quick"), 0) == [{}]
    direct = exp.run("quick", seed=1)
    config = exp.config("quick")
    payload = exp.run_unit(config, {}, seed=1)
    assert json.loads(json.dumps(payload, allow_nan=True)) is not None  # plain JSON (NaN allowed)
    back = exp.assemble(config, [payload], seed=1, preset="quick")
    assert json.dumps(back.to_json_dict(finite=False), allow_nan=True) == \
        json.dumps(direct.to_json_dict(finite=False), allow_nan=True)
    assert back.tables.keys() == direct.tables.keys()  # the order of the report's tables too
    try:
        assert sorted(figures_for(back)) == sorted(figures_for(direct)) != []
    finally:
        plt.close("all")
