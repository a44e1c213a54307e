"""The foundation experiments run, carry claims, and their checks can fail."""

import json

import pytest

from hjdl.experiments import get, jsonable


@pytest.mark.parametrize("name", ["identity", "tropical-limit", "attention-identity"])
def test_quick_preset_runs_and_claims_hold(name):
    result = get(name).run("quick", seed=0)
    assert result.claims, "every experiment carries claims"
    assert all(c.verdict in ("confirmed", "identity") for c in result.claims), \
        [(c.statement, c.verdict, c.measured) for c in result.claims]
    json.dumps(jsonable(result.to_json_dict()))
    assert result.tables


def test_identity_claim_fails_when_bound_is_violated(monkeypatch):
    # a wrong Hopf-Lax value must flip the eps log N claim: the check could fail
    from hjdl.experiments import identity as mod
    real = mod.core.hopf_lax
    monkeypatch.setattr(mod.core, "hopf_lax", lambda *a, **k: real(*a, **k) + 1.0)
    res = get("identity").run("quick")
    assert any(c.verdict == "not confirmed" for c in res.claims)


def test_figures_render():
    from hjdl.plotting import figures_for
    for name in ("identity", "tropical-limit", "attention-identity"):
        figs = figures_for(get(name).run("quick"))
        assert figs and all(hasattr(f, "savefig") for f in figs.values())
