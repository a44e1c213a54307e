"""LSTM / GRU gates as Gibbs weights (THEORY §1) and the LQ / Riccati co-state (THEORY §8)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hjdl.control.lq import LinearStateSpace, lq_costate, riccati
from hjdl.errors import DomainError, InputError, ShapeError
from hjdl.recurrent import gibbs_sigmoid, gibbs_tanh, gru_gates, lstm_gates


def test_two_atom_identities_against_torch():
    a = torch.linspace(-30, 30, 241, dtype=torch.float64)
    s, hs = gibbs_sigmoid(a)
    t, ht = gibbs_tanh(a)
    assert torch.allclose(s, torch.sigmoid(a), atol=1e-15, rtol=0)
    assert torch.allclose(t, torch.tanh(a), atol=1e-15, rtol=0)
    # binary entropy of (σ, 1−σ) in bits, computed independently
    p = torch.sigmoid(a).numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        bits = -np.nan_to_num(p * np.log2(p)) - np.nan_to_num((1 - p) * np.log2(1 - p))
    assert np.allclose(hs.numpy(), bits, atol=1e-12)
    assert float(ht[120]) == pytest.approx(1.0) and float(ht[0]) < 1e-20


@pytest.mark.parametrize("batch_first", [True, False])
def test_lstm_hidden_states_recomputed_through_gibbs(batch_first):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, num_layers=2, batch_first=batch_first, dtype=torch.float64)
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    x = x if batch_first else x.transpose(0, 1)
    h0 = torch.randn(2, 4, 5, dtype=torch.float64)
    c0 = torch.randn(2, 4, 5, dtype=torch.float64)
    out, (h_n, c_n) = lstm(x, (h0, c0))
    rec = lstm_gates(lstm, x, (h0, c0))
    out_bf = out if batch_first else out.transpose(0, 1)
    assert torch.allclose(rec.output, out_bf, atol=1e-12)
    assert torch.allclose(rec.h_n, h_n, atol=1e-12) and torch.allclose(rec.c_n, c_n, atol=1e-12)
    for ents in rec.entropy:
        for v in ents.values():
            assert bool((v >= 0).all()) and bool((v <= 1 + 1e-12).all())
    # unbatched
    u = x[0] if batch_first else x[:, 0]
    assert torch.allclose(lstm_gates(lstm, u).output, lstm(u)[0], atol=1e-12)


def test_gru_hidden_states_recomputed_through_gibbs():
    torch.manual_seed(1)
    gru = torch.nn.GRU(3, 4, num_layers=2, batch_first=True, dtype=torch.float64)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    h0 = torch.randn(2, 3, 4, dtype=torch.float64)
    out, h_n = gru(x, h0)
    rec = gru_gates(gru, x, h0)
    assert torch.allclose(rec.output, out, atol=1e-12) and torch.allclose(rec.h_n, h_n, atol=1e-12)
    assert set(rec.gates[0]) == {"reset", "update", "new"}


def test_gate_errors():
    with pytest.raises(InputError, match="lstm"):
        lstm_gates(torch.nn.GRU(2, 2), torch.zeros(1, 3, 2))
    with pytest.raises(InputError, match="bidirectional"):
        lstm_gates(torch.nn.LSTM(2, 2, bidirectional=True), torch.zeros(1, 3, 2))
    with pytest.raises(ShapeError, match="x: expected shape"):
        gru_gates(torch.nn.GRU(2, 2), torch.zeros(1, 3, 5))


def _ssm():
    return LinearStateSpace(4, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def _autograd_adjoints(ssm, u, r, rho=0.0):
    states = [torch.zeros(u.shape[0], 4, dtype=torch.float64, requires_grad=True)]
    drive = u @ ssm.B.T
    for k in range(u.shape[1]):
        nxt = ssm.a * states[-1] + drive[:, k]
        nxt.retain_grad()
        states.append(nxt)
    y = torch.stack(states[1:], 1) @ ssm.C.T
    loss = 0.5 * ((y - r) ** 2).sum() + 0.5 * rho * (u ** 2).sum()
    loss.backward()
    return torch.stack([s.grad for s in states], 1)


def test_lq_costate_of_fixed_inputs_equals_backprop():
    ssm = _ssm()
    g = torch.Generator().manual_seed(1)
    u = torch.randn(3, 9, 2, dtype=torch.float64, generator=g)
    r = torch.randn(3, 9, 3, dtype=torch.float64, generator=g)
    rec = lq_costate(ssm, u, r)
    auto = _autograd_adjoints(ssm, u, r)
    assert torch.allclose(rec.adjoints, auto, atol=1e-12)
    assert torch.allclose(rec.costates, -auto, atol=1e-12)


def test_riccati_optimum_matches_least_squares_and_backprop():
    ssm, rho = _ssm(), 0.3
    g = torch.Generator().manual_seed(2)
    r = torch.randn(2, 8, 3, dtype=torch.float64, generator=g)
    rec = riccati(ssm, r, rho)
    # oracle 1: the loss is a least-squares problem in the stacked inputs; solve it with NumPy
    T, m = 8, 2
    with torch.no_grad():
        G = torch.autograd.functional.jacobian(lambda v: ssm(v.reshape(1, T, m)).reshape(-1),
                                               torch.zeros(T * m, dtype=torch.float64)).numpy()
    for b in range(2):
        lhs = np.vstack([G, np.sqrt(rho) * np.eye(T * m)])
        rhs = np.concatenate([r[b].reshape(-1).numpy(), np.zeros(T * m)])
        u_ls = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
        assert np.allclose(rec.inputs[b].reshape(-1).numpy(), u_ls, atol=1e-10)
    # oracle 2: backprop's adjoint at the optimal inputs equals 𝒫_k x_k + σ_k of the Riccati equation
    auto = _autograd_adjoints(ssm, rec.inputs, r, rho)
    assert torch.allclose(rec.adjoints, auto, atol=1e-12)
    # P is the Riccati (not the Lyapunov) solution: it differs from the fixed-input recursion
    fixed = lq_costate(ssm, rec.inputs, r)
    assert float((fixed.P - rec.P).abs().max()) > 1e-3
    assert torch.allclose(fixed.adjoints, rec.adjoints, atol=1e-12)  # same co-state, two routes


def test_lq_errors():
    ssm = _ssm()
    with pytest.raises(DomainError, match="rho"):
        riccati(ssm, torch.zeros(1, 3, 3), 0.0)
    with pytest.raises(ShapeError, match="target"):
        lq_costate(ssm, torch.zeros(1, 3, 2), torch.zeros(1, 4, 3))
    with pytest.raises(ShapeError, match="u: expected"):
        ssm(torch.zeros(1, 3, 5))


# -- input checks (issue 16, item 5) ---------------------------------------------------------
def _lstm(batch_first=True, layers=2):
    torch.manual_seed(0)
    return torch.nn.LSTM(3, 4, num_layers=layers, batch_first=batch_first)


def _gru():
    torch.manual_seed(1)
    return torch.nn.GRU(3, 4)


_X = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(2))
_SSM = LinearStateSpace(3, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
_U, _R = torch.ones(1, 4, 2, dtype=torch.float64), torch.zeros(1, 4, 2, dtype=torch.float64)

BAD_GATES = [
    ("lstm-nan", lambda: lstm_gates(_lstm(), _X * np.nan), "x"),
    ("lstm-complex", lambda: lstm_gates(_lstm(), _X.to(torch.complex64)), "x"),
    ("lstm-width", lambda: lstm_gates(_lstm(), _X[..., :2]), "x"),
    ("lstm-hx-shape", lambda: lstm_gates(_lstm(), _X, (torch.zeros(2, 2, 4), torch.zeros(2, 3, 4))), "hx[1]"),
    ("lstm-hx-single", lambda: lstm_gates(_lstm(), _X, torch.zeros(2, 2, 4)), "hx"),
    ("lstm-hx-nan", lambda: lstm_gates(_lstm(), _X, (torch.full((2, 2, 4), np.nan), torch.zeros(2, 2, 4))), "hx[0]"),
    ("gru-hx-shape", lambda: gru_gates(_gru(), _X.transpose(0, 1), torch.zeros(2, 4)), "hx"),
    ("gru-string", lambda: gru_gates(_gru(), "abc"), "x"),
    ("lq-u-nan", lambda: lq_costate(_SSM, _U * np.nan, _R), "u"),
    ("lq-x0-nan", lambda: lq_costate(_SSM, _U, _R, x0=torch.full((1, 3), np.nan)), "x0"),
    ("lq-target-nan", lambda: lq_costate(_SSM, _U, _R * np.nan), "target"),
    ("riccati-x0-inf", lambda: riccati(_SSM, _R, rho=0.1, x0=torch.full((1, 3), np.inf)), "x0"),
    ("ssm-dtype-int", lambda: LinearStateSpace(3, 2, 2, dtype=torch.int64), "dtype"),
]


@pytest.mark.parametrize("make, word", [r[1:] for r in BAD_GATES], ids=[r[0] for r in BAD_GATES])
def test_recurrent_and_lq_bad_input_raise_hjdl_errors(make, word):
    with pytest.raises(InputError) as info:
        make()
    assert word in str(info.value)


def test_lstm_and_gru_gates_with_an_empty_sequence_return_the_initial_state():
    lstm, gru = _lstm(), _gru()
    h0 = torch.randn(2, 2, 4, generator=torch.Generator().manual_seed(3))
    c0 = torch.randn(2, 2, 4, generator=torch.Generator().manual_seed(4))
    rec = lstm_gates(lstm, torch.zeros(2, 0, 3), (h0, c0))
    assert rec.output.shape == (2, 0, 4) and rec.gates[1]["forget"].shape == (2, 0, 4)
    assert torch.equal(rec.h_n, h0) and torch.equal(rec.c_n, c0)   # no step taken
    rec = gru_gates(gru, torch.zeros(0, 2, 3), h0[:1])
    assert rec.output.shape == (2, 0, 4) and torch.equal(rec.h_n, h0[:1])


def test_lstm_gates_of_float64_input_match_the_float64_module():
    lstm = _lstm()
    x = _X.double()
    rec = lstm_gates(lstm, x)               # float32 module, float64 input: evaluated in float64
    ref, (h, c) = lstm.double()(x)
    assert rec.output.dtype == torch.float64
    torch.testing.assert_close(rec.output, ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(rec.c_n, c, atol=1e-12, rtol=0)


def test_riccati_over_zero_steps_is_empty_and_keeps_x0():
    x0 = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    rec = riccati(_SSM, _R[:, :0], rho=0.1, x0=x0)
    assert rec.inputs.shape == (1, 0, 2) and rec.gains.shape == (0, 2, 3) and rec.offsets.shape == (1, 0, 2)
    assert torch.equal(rec.states[:, 0], x0) and rec.states.shape == (1, 1, 3)
    # the co-state at k = 0 with nothing downstream: λ_0 = 𝒫_0 x_0 + σ_0 = 0
    assert torch.equal(rec.adjoints, torch.zeros(1, 1, 3, dtype=torch.float64))
