"""The foundation experiments run, carry claims, and their checks can fail."""

import json

import pytest

from helpers import assert_claims

from hjdl.experiments import THEOREM, get, jsonable


T = THEOREM
#: verdicts of the seed-0 quick run, claim by claim
EXPECTED = {
    "identity": ["identity", T, T],
    "tropical-limit": [T, T, T],
    "attention-identity": ["identity"],
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_quick_preset_runs_and_pins_verdicts(name):
    result = get(name).run("quick", seed=0)
    assert_claims(result, EXPECTED[name])
    assert not any(c.is_evidence for c in result.claims)  # theorems and identities only: no evidence
    json.dumps(jsonable(result.to_json_dict()))
    assert result.tables


def test_identity_error_is_read_as_a_number(monkeypatch):
    # an LSE layer off by 0.5 writes "5.00e-01": the identity must fail (a text test for "e-" passed it)
    from hjdl.experiments import identity as mod
    real = mod.core.lse_layer
    monkeypatch.setattr(mod.core, "lse_layer", lambda *a, **k: real(*a, **k) + 0.5)
    res = get("identity").run("quick")
    assert res.claims[0].verdict == "not confirmed" and res.claims[0].kind == "identity"
    assert "5.00e-01" in res.claims[0].measured


def test_identity_claim_fails_when_bound_is_violated(monkeypatch):
    # a wrong Hopf-Lax value must flip the eps log N claim: the check could fail
    from hjdl.experiments import identity as mod
    real = mod.core.hopf_lax
    monkeypatch.setattr(mod.core, "hopf_lax", lambda *a, **k: real(*a, **k) + 1.0)
    res = get("identity").run("quick")
    assert [c.verdict for c in res.claims] == ["identity", THEOREM, "not confirmed"]


def test_figures_render():
    from hjdl.plotting import figures_for
    for name in ("identity", "tropical-limit", "attention-identity"):
        figs = figures_for(get(name).run("quick"))
        assert figs and all(hasattr(f, "savefig") for f in figs.values())
