"""The experiment registry: claims, tables, results, registration and lookup."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from hjdl.errors import InputError, UnknownNameError
from hjdl.experiments import registry
from hjdl.experiments.registry import (
    Claim,
    Experiment,
    Result,
    Table,
    all_experiments,
    format_number,
    get,
    jsonable,
    names,
    register,
    unregister,
)

QUICK = {"n": 3, "eps": [1.0, 0.5]}
PAPER = {"n": 50, "eps": [1.0, 0.5, 0.1]}


@pytest.fixture
def toy():
    """A registered toy experiment, removed afterwards."""
    calls = []

    @register("zz-toy", title="Toy", description="A toy experiment.", presets={"quick": QUICK, "paper": PAPER})
    def _toy(config, *, seed, progress):
        calls.append((config, seed, progress))
        return Result(name="", preset="", config={}, notes=["note"])

    yield calls
    unregister("zz-toy")


# --- Claim -------------------------------------------------------------------------------------
def test_claim_accepts_every_verdict():
    kinds = {"identity": "identity", registry.THEOREM: "theorem"}
    for verdict in registry.VERDICTS:
        c = Claim("s", "c", "m", verdict, "w")
        assert c.verdict == verdict
        assert c.kind == kinds.get(verdict, "evidence")
        assert c.is_evidence == (verdict in registry.EVIDENCE_VERDICTS)
    assert registry.THEOREM == "theorem (sanity check)" and "inconclusive" in registry.EVIDENCE_VERDICTS


def test_failed_sanity_checks_and_identities_are_not_evidence():
    # a failed theorem check or identity is "not confirmed" but keeps its kind (a bug, not a finding)
    for kind in ("theorem", "identity"):
        c = Claim("s", "c", "m", "not confirmed", "w", kind=kind)
        assert c.kind == kind and not c.is_evidence
    for verdict in ("confirmed", "inconclusive", "partly"):
        with pytest.raises(InputError, match="not evidence"):
            Claim("s", "c", "m", verdict, "w", kind="theorem")


def test_claim_round_trips_its_rival():
    c = Claim("slope -1/d", "fit", "-0.5 [-0.6, -0.4]", "confirmed", "w", rival="slope -2/d")
    back = Claim(**json.loads(json.dumps(c.to_json_dict())))
    assert back == c and back.rival == "slope -2/d"
    assert Claim("s", "c", "m", "partly", "w").rival == ""  # older results (no rival) still load
    with pytest.raises(InputError, match="rival"):
        Claim("s", "c", "m", "confirmed", "w", rival=None)


# --- verdict helpers ----------------------------------------------------------------------------
@pytest.mark.parametrize("ci, expected, rivals, tol, verdict", [
    ((0.30, 2.04), 1.0, [0.0, 2.0], 0.0, "inconclusive"),     # the audit's exponent 1.17
    ((0.80, 1.20), 1.0, [0.0, 2.0], 0.0, "confirmed"),
    ((1.50, 1.90), 1.0, [0.0, 2.0], 0.0, "not confirmed"),    # misses 1/d, covers neither rival
    ((1.05, 1.90), 1.0, [2.0], 0.0, "not confirmed"),         # just misses the expected value
    ((1.05, 1.80), 1.0, [2.0], 0.1, "confirmed"),             # ... inside the stated tolerance
    ((1.05, 1.95), 1.0, [2.0], 0.1, "inconclusive"),          # ... which widens towards the rival too
    ((-0.4, -0.1), (-math.inf, 0.0), [0.0], 0.0, "confirmed"),  # one-sided: a negative effect
    ((-0.4, 0.1), (-math.inf, 0.0), [0.0], 0.0, "inconclusive"),
    ((0.1, 0.4), (-math.inf, 0.0), [0.0], 0.0, "not confirmed"),
    ((-0.01, 0.05), (-0.02, math.inf), [(-math.inf, -0.02)], 0.0, "confirmed"),   # non-inferiority
    ((-0.05, 0.05), (-0.02, math.inf), [(-math.inf, -0.02)], 0.0, "inconclusive"),
    ((-math.inf, math.inf), 1.0, [0.0], 0.0, "inconclusive"),  # one seed: no spread measured
])
def test_interval_verdict(ci, expected, rivals, tol, verdict):
    assert registry.interval_verdict(ci, expected, rivals, tol) == verdict
    assert registry.interval_verdict(ci[::-1], expected, rivals, tol) == verdict  # order-free


def test_seed_interval_matches_scipy():
    from scipy import stats
    xs = [0.3, 0.9, 0.4, 0.75, 0.5]
    mean, (lo, hi) = registry.seed_interval(xs)
    ref = stats.t.interval(0.95, len(xs) - 1, loc=np.mean(xs), scale=stats.sem(xs))
    assert mean == pytest.approx(np.mean(xs), abs=1e-15)
    assert (lo, hi) == pytest.approx(ref, abs=1e-12)
    assert registry.seed_interval([2.0]) == (2.0, (-math.inf, math.inf))
    with pytest.raises(InputError, match="empty"):
        registry.seed_interval([])


def test_identity_and_theorem_verdicts_read_numbers():
    assert registry.identity_verdict(3e-16) == "identity"
    assert registry.identity_verdict(5.0e-01) == "not confirmed"   # the audit's "5.0e-01" contains "e-"
    assert registry.identity_verdict(2e-10) == "not confirmed"
    assert registry.identity_verdict(float("nan")) == "not confirmed"
    assert registry.theorem_verdict(True) == registry.THEOREM
    assert registry.theorem_verdict(False) == "not confirmed"


def test_combine_verdicts():
    c = registry.combine_verdicts
    assert c(["confirmed", "confirmed"]) == "confirmed"
    assert c(["confirmed", "inconclusive"]) == "partly"
    assert c(["confirmed", "not confirmed"]) == "partly"
    assert c(["inconclusive", "not confirmed"]) == "not confirmed"
    assert c(["inconclusive", "inconclusive"]) == "inconclusive"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(verdict="maybe"), "verdict='maybe'"),
        (dict(kind="opinion"), "kind='opinion'"),
        (dict(kind="identity", verdict="confirmed"), "not evidence"),
        (dict(statement=""), "statement"),
        (dict(why="  "), "why"),
    ],
)
def test_claim_rejects_bad_values(kwargs, match):
    base = dict(statement="s", check="c", measured="m", verdict="confirmed", why="w")
    with pytest.raises(InputError, match=match):
        Claim(**{**base, **kwargs})


def test_claim_formats_numeric_measured():
    assert Claim("s", "c", 1.5e-12, "confirmed", "w").measured == "1.50e-12"


# --- Table -------------------------------------------------------------------------------------
def test_format_number_is_compact():
    assert format_number(0.123456) == "0.1235"
    assert format_number(1.5e-12) == "1.50e-12"
    assert format_number(3.0e7) == "3.00e+07"
    assert format_number(0.0) == "0"
    assert format_number(7) == "7"
    assert format_number(np.float32(0.25)) == "0.25"
    assert format_number(torch.tensor(2.0, dtype=torch.float64)) == "2"
    assert format_number(float("nan")) == "nan"
    assert format_number(-math.inf) == "-inf"
    assert format_number(None) == ""
    assert format_number("text") == "text"
    assert format_number(0.5, ".3e") == "5.000e-01"
    assert format_number(np.array([0.5, 1e-9])) == "[0.5, 1.00e-09]"


def test_table_markdown_and_html():
    t = Table("errors", ["eps", "error", "method|x"], [[0.5, 1e-17, "a|b"], [np.float64(0.1), None, "c<d"]])
    md = t.to_markdown().splitlines()
    assert md[0] == "| eps | error | method\\|x |"
    assert md[1] == "| ---: | ---: | --- |"
    assert md[2] == "| 0.5 | 1.00e-17 | a\\|b |"
    assert md[3] == "| 0.1 |  | c<d |"
    h = t.to_html()
    assert h.startswith("<table>") and h.endswith("</table>")
    assert "<th>method|x</th>" in h and "c&lt;d" in h and '<td class="num">1.00e-17</td>' in h
    assert "| 5.0e-01 |" in t.to_markdown(".1e")


def test_table_rejects_ragged_rows():
    with pytest.raises(InputError, match="row 1 has 1 cells, expected 2"):
        Table("t", ["a", "b"], [[1, 2], [3]])


# --- Result ------------------------------------------------------------------------------------
def test_result_to_json_is_strict_json_and_round_trips():
    r = Result(
        name="x",
        preset="quick",
        config={"eps": (1.0, 0.5), "dtype": torch.float64},
        tables={"t": Table("t", ["a"], [[np.float32(1.5)], [float("nan")]])},
        series={"curve": {"x": np.linspace(0, 1, 3), "y": torch.tensor([1.0, float("nan"), math.inf])}},
        claims=[Claim("s", "c", "m", "partly", "w"), Claim("id", "algebra", "0", "identity", "exact")],
        notes=["n"],
        summary="sum",
        seed=3,
    )
    d = r.to_json_dict()
    text = json.dumps(d, allow_nan=False)  # no NaN/inf may survive
    back = json.loads(text)
    assert back["series"]["curve"]["x"] == [0.0, 0.5, 1.0]
    assert back["series"]["curve"]["y"] == [1.0, None, "inf"]
    assert back["tables"]["t"]["rows"] == [[1.5], [None]]
    assert back["config"] == {"eps": [1.0, 0.5], "dtype": "torch.float64"}
    assert back["claims"][1]["kind"] == "identity"
    again = Result.from_json_dict(back)
    assert again.claims == r.claims and again.tables["t"].columns == ["a"] and again.seed == 3


def test_result_validates_members():
    with pytest.raises(InputError, match="tables"):
        Result("x", "quick", {}, tables={"t": [[1]]})
    with pytest.raises(InputError, match="claims"):
        Result("x", "quick", {}, claims=["confirmed"])


def test_jsonable_handles_containers():
    assert jsonable({1: {2, 1}, "t": np.int64(4), "b": np.bool_(True)}) == {"1": [1, 2], "t": 4, "b": True}


# --- registry ----------------------------------------------------------------------------------
def test_register_and_run_merges_preset_and_overrides(toy):
    assert "zz-toy" in names()
    exp = get("zz-toy")
    assert isinstance(exp, Experiment) and exp in all_experiments()
    r = exp.run("quick", seed=5, n=7)
    config, seed, progress = toy[-1]
    assert config == {"n": 7, "eps": [1.0, 0.5]} and seed == 5 and progress is False
    assert (r.name, r.preset, r.seed, r.title) == ("zz-toy", "quick", 5, "Toy")
    assert r.config == config
    assert exp.presets["quick"]["n"] == 3  # the preset itself is not mutated
    exp.run("paper")
    assert toy[-1][0]["n"] == 50
    assert get("zz_toy") is exp  # '_' and '-' are interchangeable


def test_unknown_name_lists_known_names(toy):
    with pytest.raises(UnknownNameError) as info:
        get("zz-toi")
    message = str(info.value)
    assert "'zz-toi'" in message and "zz-toy" in message and "did you mean" in message
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)


def test_unknown_preset_and_override_list_known(toy):
    with pytest.raises(InputError, match=r"unknown preset 'fast'.*quick, paper"):
        get("zz-toy").run("fast")
    with pytest.raises(InputError, match=r"unknown config key\(s\) \['m'\].*n, eps"):
        get("zz-toy").run("quick", m=1)
    with pytest.raises(InputError, match="seed"):
        get("zz-toy").run("quick", seed=1.5)


def test_register_rejects_bad_definitions(toy):
    presets = {"quick": {}, "paper": {}}
    with pytest.raises(InputError, match="already registered"):
        register("zz-toy", "t", "d", presets)
    with pytest.raises(InputError, match="lower-case"):
        register("Bad Name", "t", "d", presets)
    with pytest.raises(InputError, match="'quick', 'paper'"):
        register("zz-nopaper", "t", "d", {"quick": {}})
    assert "zz-nopaper" not in names()


def test_experiment_must_return_a_result():
    register("zz-wrong", "t", "d", {"quick": {}, "paper": {}})(lambda config, *, seed, progress: {"x": 1})
    try:
        with pytest.raises(InputError, match="must return hjdl.experiments.Result"):
            get("zz-wrong").run()
    finally:
        unregister("zz-wrong")
    assert "zz-wrong" not in names()


def test_every_registered_experiment_is_well_formed():
    """Table-driven: each real experiment has both presets, a title and a description."""
    import hjdl.experiments  # noqa: F401  (registers the experiment modules)

    for exp in all_experiments():
        assert {"quick", "paper"} <= set(exp.presets), exp.name
        assert exp.title and exp.description, exp.name


def test_result_name_must_match_the_experiment():
    register("zz-named", "t", "d", {"quick": {}, "paper": {}})(
        lambda config, *, seed, progress: Result("someone-else", "", config)
    )
    try:
        with pytest.raises(InputError, match="'someone-else'"):
            get("zz-named").run()
    finally:
        unregister("zz-named")


def test_experiment_claims_declare_their_kind_and_rival():
    """Static, over every experiment module: a claim whose verdict comes from theorem_verdict or
    identity_verdict passes the matching kind (else a failed check would count as evidence), and
    every other claim (evidence) names its rival."""
    import ast
    from pathlib import Path

    import hjdl.experiments as pkg

    kinds = {"theorem_verdict": "theorem", "identity_verdict": "identity"}
    checked = 0
    for path in sorted(Path(pkg.__file__).parent.glob("*.py")):
        if path.name == "registry.py":  # Claim(**stored) rebuilds results; no claim is made there
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Claim"):
                continue
            checked += 1
            keywords = {k.arg: k.value for k in node.keywords}
            helper = [a.func.id for a in node.args
                      if isinstance(a, ast.Call) and getattr(a.func, "id", None) in kinds]
            where = f"{path.name}:{node.lineno}"
            if helper:
                kind = keywords.get("kind")
                assert isinstance(kind, ast.Constant) and kind.value == kinds[helper[0]], where
            else:
                assert "rival" in keywords, f"{where}: an evidence claim names no rival"
    assert checked >= 30


def test_derived_seeds():
    assert registry.derived_seeds("x", 0, 3) == [0, 1, 2]
    assert registry.derived_seeds("x", 4, np.int64(2)) == [4000, 4001]
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(InputError, match=r"x: seeds="):
            registry.derived_seeds("x", 0, bad)


# --- units of work -------------------------------------------------------------------------------
def _units(config, seed):
    return [{"k": k} for k in range(config["n"])]


def _run_unit(config, unit, *, seed, progress):
    rng = np.random.default_rng([seed, unit["k"]])  # randomness from (seed, unit) only
    return {"k": unit["k"], "draw": rng.normal(), "arr": np.arange(unit["k"] + 1) * 0.5, "nan": float("nan")}


def _assemble(config, payloads, *, seed):
    rows = [[p["k"], p["draw"], p["nan"]] for p in payloads]
    return Result(name="", preset="", config={}, tables=[Table("draws", ["k", "draw", "nan"], rows)])


@pytest.fixture
def toy_units():
    @register("zz-units", title="Units", description="A toy with units.", presets={"quick": {"n": 3}, "paper": {"n": 5}},
              units=_units, run_unit=_run_unit, assemble=_assemble)
    def _whole(config, *, seed, progress):  # not called by hjdl
        raise AssertionError("hjdl ran the decorated function of an experiment with units")

    yield get("zz-units")
    unregister("zz-units")


def test_units_run_serially_and_assemble_in_order(toy_units):
    assert toy_units.has_units and toy_units.units({"n": 3}, 0) == [{"k": 0}, {"k": 1}, {"k": 2}]
    result = toy_units.run("quick", seed=4)
    assert (result.name, result.preset, result.seed, result.config) == ("zz-units", "quick", 4, {"n": 3})
    rows = result.tables["draws"].rows
    assert [r[0] for r in rows] == [0, 1, 2]
    # each draw comes from (seed, unit) only: recomputed independently here
    assert [r[1] for r in rows] == [float(np.random.default_rng([4, k]).normal()) for k in range(3)]
    # the payload is what JSON reads back (arrays as lists, NaN kept)
    payload = toy_units.run_unit({"n": 3}, {"k": 2}, seed=4)
    assert payload["arr"] == [0.0, 0.5, 1.0] and math.isnan(payload["nan"])


def test_experiment_without_units_is_one_unit_whose_payload_is_its_result(toy):
    exp = get("zz-toy")
    assert not exp.has_units and exp.units(QUICK, 0) == [{}]
    payload = exp.run_unit(exp.config("quick"), {}, seed=3)
    back = exp.assemble(exp.config("quick"), [payload], seed=3, preset="quick")
    direct = exp.run("quick", seed=3)
    assert back.to_json_dict() == direct.to_json_dict()


def test_units_must_be_declared_together_and_payloads_must_be_json():
    with pytest.raises(InputError, match="without run_unit, assemble"):
        register("zz-half", "t", "d", {"quick": {}, "paper": {}}, units=_units)
    assert "zz-half" not in names()

    @register("zz-bad", "t", "d", {"quick": {"n": 1}, "paper": {"n": 1}}, units=_units,
              run_unit=lambda c, u, *, seed, progress: {"x": object()}, assemble=_assemble)
    def _f(config, *, seed, progress):
        pass

    try:
        with pytest.raises(InputError, match=r"'zz-bad', unit \{'k': 0\}: the payload is not JSON"):
            get("zz-bad").run("quick")
    finally:
        unregister("zz-bad")


def test_unit_keys_must_be_distinct_json_dicts():
    @register("zz-dup", "t", "d", {"quick": {}, "paper": {}}, units=lambda c, s: [{"a": 1}, {"a": 1}],
              run_unit=_run_unit, assemble=_assemble)
    def _f(config, *, seed, progress):
        pass

    try:
        with pytest.raises(InputError, match="listed twice"):
            get("zz-dup").units({}, 0)
    finally:
        unregister("zz-dup")


def test_result_round_trip_is_lossless_with_finite_false():
    r = Result("zz", "quick", {"eps": (0.1, 1.0)}, tables=[Table("t", ["a", "b"], [[np.float64("nan"), np.inf]])],
               series={"s": {"x": np.arange(3.0), "y": torch.tensor([1.0, -math.inf])}},
               claims=[Claim("s", "c", "m", "identity", "w")], notes=["n"], summary="sum", title="T",
               description="D", seed=7, error=None)
    text = json.dumps(r.to_json_dict(finite=False), allow_nan=True)
    back = Result.from_json_dict(json.loads(text))
    assert json.dumps(back.to_json_dict(finite=False), allow_nan=True) == text
    assert math.isnan(back.tables["t"].rows[0][0]) and back.tables["t"].rows[0][1] == math.inf
    assert back.claims[0].kind == "identity" and back.series["s"]["x"] == [0.0, 1.0, 2.0]


def test_register_records_what_the_experiment_reproduces():
    presets = {"quick": {}, "paper": {}}
    register("zz-fig", "t", "d", presets, reproduces=" Fig. 3 ")(lambda config, *, seed, progress: Result("", "", {}))
    try:
        assert get("zz-fig").reproduces == "Fig. 3"
        with pytest.raises(InputError, match=r"reproduces=3.*'Fig. 3'"):
            register("zz-fig2", "t", "d", presets, reproduces=3)
        assert "zz-fig2" not in names()
    finally:
        unregister("zz-fig")
    register("zz-nofig", "t", "d", presets)(lambda config, *, seed, progress: Result("", "", {}))
    try:
        assert get("zz-nofig").reproduces == ""
    finally:
        unregister("zz-nofig")
