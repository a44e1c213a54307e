"""The LSE kernel against SciPy, autograd and the inequalities of THEORY §1."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax

import hjdl
from hjdl.errors import EpsilonError, InputError, NonFiniteError, ShapeError
from helpers import tol

EPS_VALUES = [1e-12, 1e-6, 0.05, 1.0, 7.5, 1e6, 1e12]


@pytest.mark.parametrize("eps", EPS_VALUES)
def test_lse_matches_scipy_float64(eps):
    z = np.random.default_rng(0).normal(size=(6, 9)) * 3
    ref = eps * logsumexp(z / eps, axis=1)
    got = hjdl.lse(z, eps).numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(hjdl.gibbs(z, eps).numpy(), softmax(z / eps, axis=1), rtol=1e-10, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), rows=st.integers(1, 5),
       eps=st.one_of(st.just(0.0), st.floats(1e-12, 1e12)), seed=st.integers(0, 10_000))
def test_tropical_bound_and_duality(n, rows, eps, seed):
    z = torch.from_numpy(np.random.default_rng(seed).normal(size=(rows, n)) * 5)
    f = hjdl.lse(z, eps)
    m = z.max(-1).values
    # T1: max z <= LSE <= max z + eps log N (tolerance: rounding of the result's magnitude)
    slack = tol(torch.float64, float(f.abs().max()))
    assert torch.all(f >= m - slack)
    assert torch.all(f <= m + eps * math.log(n) + slack)
    # T2: LSE = <pi, z> + eps H(pi)
    p = hjdl.gibbs(z, eps)
    assert torch.allclose(p.sum(-1), torch.ones(rows, dtype=torch.float64))
    dual = (p * z).sum(-1) + eps * hjdl.entropy(p)
    assert torch.allclose(f, dual, rtol=1e-9, atol=slack * 4)


def test_gibbs_is_autograd_gradient_of_lse(dtype):
    z = torch.randn(4, 7, dtype=dtype, generator=torch.Generator().manual_seed(3)).requires_grad_()
    for eps in (0.3, 2.0):
        (g,) = torch.autograd.grad(hjdl.lse(z, eps).sum(), z)
        assert torch.allclose(g, hjdl.gibbs(z.detach(), eps), atol=tol(dtype))
        assert g.dtype == dtype


def test_eps_zero_is_exact_max_with_tie_rule():
    z = torch.tensor([[1.0, 3.0, 3.0, -2.0], [0.0, -1.0, 5.0, 4.0]], dtype=torch.float64, requires_grad=True)
    f = hjdl.lse(z, 0.0)
    assert torch.equal(f, torch.tensor([3.0, 5.0], dtype=torch.float64))
    (g,) = torch.autograd.grad(f.sum(), z)
    p = hjdl.gibbs(z.detach(), 0)
    expected = torch.tensor([[0, 0.5, 0.5, 0], [0, 0, 1, 0]], dtype=torch.float64)
    assert torch.equal(p, expected) and torch.equal(g, expected)
    # the tie rule is the eps -> 0+ limit of the softmax
    assert torch.allclose(hjdl.gibbs(z.detach(), 1e-9), expected)


def test_neg_inf_entries_and_rows():
    ninf = -math.inf
    z = torch.tensor([[ninf, ninf, ninf], [0.0, ninf, 1.0]], dtype=torch.float64, requires_grad=True)
    for eps in (0.0, 0.5):
        f = hjdl.lse(z, eps)
        assert f[0] == ninf and torch.isfinite(f[1])
        (g,) = torch.autograd.grad(f.sum(), z)  # the -inf row contributes finite (zero) gradients
        assert torch.all(torch.isfinite(g)) and torch.all(g[0] == 0) and g[1, 1] == 0
        assert math.isclose(float(g[1].sum()), 1.0)
        p = hjdl.gibbs(z.detach(), eps)
        assert torch.all(p[0] == 0) and p[1, 1] == 0 and math.isclose(float(p[1].sum()), 1.0)
    ref = 0.5 * logsumexp(np.array([0.0, 1.0]) / 0.5)
    assert math.isclose(float(hjdl.lse(z.detach(), 0.5)[1]), ref, rel_tol=1e-14)


def test_tensor_eps_vectorises_over_temperatures():
    z = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    eps = torch.tensor([0.0, 0.1, 1.0, 10.0], dtype=torch.float64)[:, None]  # (4, 1) vs output (5,)
    out = hjdl.lse(z, eps)
    assert out.shape == (4, 5)
    for k, e in enumerate(eps[:, 0].tolist()):
        assert torch.allclose(out[k], hjdl.lse(z, e), rtol=1e-14, atol=1e-14)
    # reduction over a middle axis with a per-column eps
    z3 = torch.randn(2, 6, 3, dtype=torch.float64)
    e3 = torch.tensor([0.0, 0.5, 2.0], dtype=torch.float64)
    got = hjdl.lse(z3, e3, dim=1)
    for j in range(3):
        assert torch.allclose(got[:, j], hjdl.lse(z3[:, :, j], float(e3[j])))


def test_dtype_and_input_conversion():
    assert hjdl.lse([1.0, 2.0], 1.0).dtype == torch.float64
    assert hjdl.lse(np.array([1.0, 2.0], dtype=np.float32), 1.0).dtype == torch.float32
    assert hjdl.lse(torch.tensor([1.0, 2.0]), 1.0).dtype == torch.float32
    assert hjdl.lse(np.array([1, 2]), 1.0).dtype == torch.float64


def test_gradcheck_float64():
    z = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: hjdl.lse(v, 0.7), (z,))
    assert torch.autograd.gradgradcheck(lambda v: hjdl.lse(v, 0.7), (z,))
    assert torch.autograd.gradcheck(lambda v: hjdl.entropy(hjdl.gibbs(v, 0.4)), (z,))


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "abc", True, None, [-1.0, 1.0]])
def test_bad_eps_is_named(bad):
    with pytest.raises(EpsilonError, match="eps"):
        hjdl.lse(torch.zeros(3), bad)


def test_bad_z_and_dim():
    with pytest.raises(NonFiniteError, match="z"):
        hjdl.lse(torch.tensor([0.0, math.nan]), 1.0)
    with pytest.raises(NonFiniteError, match=r"\+inf"):
        hjdl.lse(torch.tensor([0.0, math.inf]), 1.0)
    with pytest.raises(ShapeError, match="dim"):
        hjdl.lse(torch.zeros(2, 3), 1.0, dim=2)
    with pytest.raises(InputError, match="z"):
        hjdl.lse("not numbers", 1.0)
    with pytest.raises(ShapeError, match="eps"):
        hjdl.lse(torch.zeros(4, 3), torch.ones(3))
    with pytest.raises(InputError, match="p"):
        hjdl.entropy(torch.tensor([0.5, -0.5]))
    assert issubclass(EpsilonError, ValueError)


def test_empty_inputs_are_defined():
    # the empty sum is log 0 = -inf (the tropical zero); no weights; zero entropy
    for eps in (0.0, 0.5):
        out = hjdl.lse(torch.zeros(3, 0, dtype=torch.float64), eps)
        assert out.shape == (3,) and torch.all(out == -math.inf)
        assert hjdl.gibbs(torch.zeros(3, 0), eps).shape == (3, 0)
    h = hjdl.entropy(torch.zeros(2, 0))
    assert torch.equal(h, torch.zeros(2)) and not torch.signbit(h).any()


@pytest.mark.parametrize("dtype,eps", [(torch.float64, 1e-308), (torch.float64, 1e-310),
                                       (torch.float32, 1e-38), (torch.float32, 1e-44)])
def test_eps_so_small_that_z_over_eps_overflows(dtype, eps):
    # z/eps overflows here; the kernel shifts by the row maximum first, so lse is the maximum
    # (T1: max z <= LSE <= max z + eps log N) and gibbs the one-hot weights, never NaN
    z = torch.tensor([[1.0, 2.0, -3.0], [0.5, -torch.inf, 0.25]], dtype=dtype, requires_grad=True)
    out = hjdl.lse(z, eps)
    assert torch.equal(out.detach(), torch.tensor([2.0, 0.5], dtype=dtype))
    p = hjdl.gibbs(z.detach(), eps)
    assert torch.equal(p, torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=dtype))
    (g,) = torch.autograd.grad(out.sum(), z)
    assert torch.equal(g, p)


@pytest.mark.parametrize("eps", [1e-12, 1e-15, 1e-300])
def test_lse_gradient_stays_exact_when_z_over_eps_is_huge(eps):
    # the backward pass of logsumexp works at the scale of its inputs: with z/eps ~ 1e12 it
    # rounded to 3e-5 (eps 1e-12) or gave [1, 1, 0] (eps 1e-300); the shift keeps it exact
    z = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(hjdl.lse(z, eps), z)
    assert torch.equal(g, torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))


def test_eps_gradient_with_masked_entries_is_the_entropy():
    # d LSE/d eps = H(π) (T2); a -inf entry gave 0 · inf = NaN in the eps gradient
    e = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    z = torch.tensor([[0.3, -torch.inf, 1.0], [-torch.inf, -torch.inf, -torch.inf]],
                     dtype=torch.float64)
    out = hjdl.lse(z, e)
    (g,) = torch.autograd.grad(out[0], e)
    assert abs(float(g) - float(hjdl.entropy(hjdl.gibbs(z[0], 0.7)))) <= 1e-15
    (g2,) = torch.autograd.grad(hjdl.gibbs(z, e)[0, 0], e)
    assert torch.isfinite(g2)


def test_tropical_gibbs_stays_in_the_graph_with_zero_gradient():
    z = torch.randn(3, 4, requires_grad=True)
    hjdl.gibbs(z, 0).sum().backward()
    assert torch.equal(z.grad, torch.zeros(3, 4))
