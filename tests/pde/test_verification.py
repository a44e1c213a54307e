"""`hjdl verify` checks pass on the implementation and fail on a perturbed one (they can fail)."""

import json
import math

import numpy as np
import pytest
import torch

import hjdl
from hjdl import core
from hjdl._validation import EPS_ZERO
from hjdl.core import derivatives as core_derivatives
from hjdl.core import kernel as core_kernel
from hjdl.core.initial_data import InitialData
from hjdl.pde import verification as V


@pytest.fixture(scope="module")
def rows():
    return V.run_checks(quick=True)


def test_every_check_passes(rows):
    failed = [(r.name, r.measured, r.tolerance) for r in rows if not r.passed]
    assert not failed
    names = " ".join(r.name for r in rows)
    for kind in ("grid solver 1-D", "grid solver 2-D", "autograd PDE residual", "Monte Carlo",
                 "tropical limit bound", "attention = Gibbs average", "Gauss-Hermite", "SciPy",
                 "heat-kernel density", "closed-form Hopf-Cole", "closed-form LSE-layer", "tie rule"):
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


# ----------------------------------------------------------------------------------------------
# core bugs that PDE residuals and semigroups cannot see: each must fail a row of `hjdl verify`

NEW_ROWS = ["normalization", "derivatives", "ties"]


def hopf_cole_with(constant):
    """core.hopf_cole whose normalised value is off by ``constant(eps, d, t, data)`` (a bug in
    the normalisation, as seen by every caller)."""
    real = core.hopf_cole

    def hopf_cole(x, data, eps, t=1.0, normalized=False, **kw):
        u = real(x, data, eps, t, normalized, **kw)
        if not normalized:
            return u
        e, tt = torch.as_tensor(eps, dtype=u.dtype), torch.as_tensor(t, dtype=u.dtype)
        return u + constant(e, data.dim, tt, data)
    return hopf_cole


def gibbs_with(tie_rule):
    """core.kernel._gibbs with the eps = 0 branch replaced (``"equal"`` keeps the right rule)."""
    real = core_kernel._gibbs

    def _gibbs(z, eps, mode, dim):
        if mode != EPS_ZERO or tie_rule == "equal":
            return real(z, eps, mode, dim)
        return torch.zeros_like(z).scatter(dim, z.detach().argmax(dim, keepdim=True), 1.0)  # first max
    return _gibbs


def moments_with(centred):
    """core.derivatives._moments, its covariance (last output) replaced by E[V Vᵀ] unless centred."""
    real = core_derivatives._moments

    def _moments(p, V, *args, **kwargs):
        out = real(p, V, *args, **kwargs)
        if centred or out[-1] is None:
            return out
        mean = p @ V
        return (*out[:-1], out[-1] + mean[..., :, None] * mean[..., None, :])  # E[VVᵀ] = Cov + μμᵀ
    return _moments


def _wrap(name, fn):
    real = getattr(core, name)
    return lambda monkeypatch: monkeypatch.setattr(core, name, fn(real))


NORM = ("normalization", "normalised Hopf-Cole value vs heat-kernel density")
DERIV_HC = ("derivatives", "closed-form Hopf-Cole grad, Hessian, u_t")
DERIV_LSE = ("derivatives", "closed-form LSE-layer grad, Hessian")
TIES = ("ties", "eps = 0 tie rule")

BUGS = {  # bug: (the check's key and the row that must fail, the injection)
    # normalisation constants of the normalised value
    "log(2 pi eps t) for log(4 pi eps t)": (NORM, lambda mp: mp.setattr(core, "hopf_cole", hopf_cole_with(
        lambda eps, d, t, data: 0.5 * eps * d * (torch.log(2 * math.pi * eps * t) - torch.log(4 * math.pi * eps * t))))),
    "eps log det A for (eps/2) log det A": (NORM, lambda mp: mp.setattr(core, "hopf_cole", hopf_cole_with(
        lambda eps, d, t, data: 0.5 * eps * data.logdet()))),
    "eps d log(4 pi eps t) for (eps d/2) log(4 pi eps t)": (NORM, lambda mp: mp.setattr(
        core, "hopf_cole", hopf_cole_with(lambda eps, d, t, data: 0.5 * eps * d * torch.log(4 * math.pi * eps * t)))),
    "log det A doubled in InitialData": (NORM, lambda mp: mp.setattr(
        InitialData, "logdet", (lambda real: lambda self: 2 * real(self))(InitialData.logdet))),
    "normalised u_t with eps d/t for eps d/(2t)": (DERIV_HC, _wrap("hopf_cole_time_derivative", lambda real: (
        lambda x, data, eps, t=1.0, normalized=False: real(x, data, eps, t, normalized)
        + (eps * data.dim / (2 * t) if normalized else 0.0)))),
    "u_t with /(4t) for /(4t^2)": (DERIV_HC, _wrap("hopf_cole_time_derivative", lambda real: (
        lambda x, data, eps, t=1.0, normalized=False: real(x, data, eps, t) * t
        + (eps * data.dim / (2 * t) if normalized else 0.0)))),
    # eps = 0 tie rule
    "gibbs eps=0: first max takes all": (TIES, lambda mp: mp.setattr(
        core_kernel, "_gibbs", gibbs_with("first"))),
    "layer/Hopf-Cole weights eps=0: first max takes all": (TIES, lambda mp: mp.setattr(
        core_derivatives, "_gibbs", gibbs_with("first"))),
    "lse eps=0 gradient to one maximum": (TIES, lambda mp: mp.setattr(
        core_kernel, "_tropical_max", lambda z, dim: z.max(dim, keepdim=True).values)),
    # closed-form gradients and Hessians
    "hopf_cole_grad without 1/(2t)": (DERIV_HC, _wrap("hopf_cole_grad", lambda real: (
        lambda x, data, eps, t=1.0: real(x, data, eps, t) * (2 * t)))),
    "hopf_cole_hessian with Cov not divided by eps": (DERIV_HC, _wrap("hopf_cole_hessian", lambda real: (
        lambda x, data, eps, t=1.0: (lambda H, base: base + (H - base) * eps)(
            real(x, data, eps, t), data.metric_inverse() / (2 * t))))),
    "hopf_cole_hessian with A^-1 for A^-1/(2t)": (DERIV_HC, _wrap("hopf_cole_hessian", lambda real: (
        lambda x, data, eps, t=1.0: real(x, data, eps, t) - data.metric_inverse() / (2 * t)
        + data.metric_inverse()))),
    "lse_layer_grad with softmax(z) for softmax(z/eps)": (DERIV_LSE, _wrap("lse_layer_grad", lambda real: (
        lambda x, W, b, eps: real(x, W, b, 1.0 if float(eps) > 0 else eps)))),
    "lse_layer_hessian with Cov for Cov/eps": (DERIV_LSE, _wrap("lse_layer_hessian", lambda real: (
        lambda x, W, b, eps: real(x, W, b, eps) * eps))),
    "uncentred covariance E[WW^T] (Hopf-Cole Hessian)": (DERIV_HC, lambda mp: mp.setattr(
        core_derivatives, "_moments", moments_with(False))),
    "uncentred covariance E[WW^T] (layer Hessian)": (DERIV_LSE, lambda mp: mp.setattr(
        core_derivatives, "_moments", moments_with(False))),
}

CONTROLS = {  # the same injection machinery with the right formula must pass
    "normalization": lambda mp: mp.setattr(core, "hopf_cole", hopf_cole_with(lambda eps, d, t, data: 0.0)),
    "gibbs": lambda mp: (mp.setattr(core_kernel, "_gibbs", gibbs_with("equal")),
                         mp.setattr(core_derivatives, "_gibbs", gibbs_with("equal"))),
    "moments": lambda mp: mp.setattr(core_derivatives, "_moments", moments_with(True)),
}


@pytest.mark.parametrize("bug", BUGS)
def test_verify_catches_injected_core_bug(bug, monkeypatch):
    (key, row), inject = BUGS[bug]
    inject(monkeypatch)
    failed = [r.name for r in V.run_checks(quick=True, only=[key]) if not r.passed]
    assert any(name.startswith(row) for name in failed), f"hjdl verify did not catch: {bug}"


@pytest.mark.parametrize("control", CONTROLS)
def test_injection_of_the_right_formula_passes(control, monkeypatch):
    CONTROLS[control](monkeypatch)
    assert all(r.passed for r in V.run_checks(quick=True, only=NEW_ROWS))


def test_cli_verify_exits_non_zero_on_a_wrong_normalisation(monkeypatch, capsys):
    from hjdl.cli import main
    monkeypatch.setattr(V, "CHECKS", {k: V.CHECKS[k] for k in NEW_ROWS})
    assert main(["verify", "--json"]) == 0
    capsys.readouterr()
    BUGS["log(2 pi eps t) for log(4 pi eps t)"][1](monkeypatch)
    assert main(["verify", "--json"]) == 1
    checks = json.loads(capsys.readouterr().out)["checks"]
    assert [c["name"] for c in checks if not c["passed"]] == [
        "normalised Hopf-Cole value vs heat-kernel density (SciPy)"]
