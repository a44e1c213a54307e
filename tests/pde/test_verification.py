"""`hjdl verify` checks pass on the implementation and fail on a perturbed one (they can fail)."""

import json

import numpy as np
import pytest
import torch

import hjdl
from hjdl import core
from hjdl.pde import verification as V


@pytest.fixture(scope="module")
def rows():
    return V.run_checks(quick=True)


def test_every_check_passes(rows):
    failed = [(r.name, r.measured, r.tolerance) for r in rows if not r.passed]
    assert not failed
    names = " ".join(r.name for r in rows)
    for kind in ("grid solver 1-D", "grid solver 2-D", "autograd PDE residual", "Monte Carlo",
                 "tropical limit bound", "attention = Gibbs average", "Gauss-Hermite", "SciPy"):
        assert kind in names


def test_grid_order_rows_report_first_order(rows):
    orders = [r for r in rows if r.kind == "order" and r.name.startswith("grid solver")]
    assert len(orders) == 2 and all(r.expected == 1.0 and 0.75 <= r.measured <= 1.25 for r in orders)


def test_identity_check_catches_a_wrong_formula(monkeypatch):
    real = core.hopf_cole
    monkeypatch.setattr(core, "hopf_cole", lambda x, data, eps, t=1.0, **kw: real(x, data, eps, t, **kw) + 1e-9)
    assert not V.check_identity(True)[0].passed


def test_grid_and_monte_carlo_checks_catch_the_unnormalised_value(monkeypatch):
    # the raw sum (no heat-kernel factor) does not solve the PDE: both solvers must notice
    monkeypatch.setattr(V, "_hjdl_normalized", lambda data, eps: (
        lambda t, p: core.hopf_cole(torch.from_numpy(np.asarray(p, float)), data, eps, t=t).numpy()))
    assert not all(r.passed for r in V.check_grid_solver(True))
    assert not V.check_monte_carlo(True)[0].passed


def test_attention_check_catches_a_wrong_temperature(monkeypatch):
    real = core.lse
    monkeypatch.setattr(core, "lse", lambda z, eps, dim=-1: real(z, 1.1 * eps, dim))
    assert not V.check_attention(True)[0].passed


def test_unknown_check_is_named():
    with pytest.raises(hjdl.errors.UnknownNameError, match="nope"):
        V.run_checks(only=["nope"])


def test_cli_verify_json(capsys):
    from hjdl.cli import main
    code = main(["verify", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and all(set(c) >= {"name", "measured", "tolerance", "passed"} for c in out["checks"])
