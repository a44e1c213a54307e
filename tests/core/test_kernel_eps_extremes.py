"""The kernel at the edges of eps: values the input's dtype cannot hold, derivatives in eps at
0 and at 1e-300, and eps given as a 0-d array or as a tensor of zeros (issue 16).

Oracle: ``helpers.decimal_gibbs_lse``, a 50-digit evaluation of the definitions on the exact
values of ``z`` and the exact eps the user passed, rounded to the dtype of the result.
"""

import math

import numpy as np
import pytest
import torch

import hjdl
from hjdl._validation import EPS_MIXED, EPS_POSITIVE, EPS_ZERO, check_eps
from hjdl.errors import NonFiniteError, ShapeError
from helpers import assert_kernel_matches_oracle as assert_matches_oracle
from helpers import decimal_gibbs_lse

F64 = torch.float64
NINF = -math.inf


def sub(dtype, k=1):
    """``k`` times the smallest subnormal of ``dtype`` (gaps at the bottom of its range)."""
    info = torch.finfo(dtype)
    return k * float(info.tiny) * float(info.eps)


def rows_for(dtype):
    """Rows of logits in ``dtype``: ties, masked entries, a masked row, and gaps of a few
    subnormal units (where a tiny eps still gives non-trivial weights)."""
    rows = [[0.0, -1.0, 2.5, NINF], [0.5, 0.5, -3.0, 1.0], [NINF, NINF, NINF, NINF],
            [0.0, -sub(dtype, 1), -sub(dtype, 3), -sub(dtype, 20)], [-2.0, -2.0, -2.0, -2.0]]
    return torch.tensor(rows, dtype=dtype)


# eps values that round to 0, become subnormal, or overflow in the dtype (float16 holds normal
# numbers in [6.1e-5, 65504]; float32 and bfloat16 in [1.2e-38, 3.4e38])
EXTREME = [(torch.float16, e) for e in (1e-12, 1e-9, 1e-7, 3e-5, 7e4, 1e12)] + \
          [(torch.bfloat16, e) for e in (1e-39, 1e-44, 1e-50, 1e39, 1e300)] + \
          [(torch.float32, e) for e in (1e-39, 1e-44, 1e-46, 1e-300, 1e39, 1e300)]


@pytest.mark.parametrize("dtype,eps", EXTREME, ids=[f"{d}-{e:g}".replace("torch.", "") for d, e in EXTREME])
def test_eps_outside_the_dtypes_normal_range_gives_the_rounded_exact_answer(dtype, eps):
    # these gave NaN: eps rounded to 0 (0/0 at the maximum) or to inf in the input's dtype
    assert_matches_oracle(rows_for(dtype), eps)
    # the same eps as a tensor, and the 1e-12 promised by the README in float16
    assert_matches_oracle(rows_for(dtype), torch.tensor(eps, dtype=F64))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, F64])
def test_ordinary_eps_in_every_dtype(dtype):
    for eps in (0.0, 0.1, 1.0, 30.0):
        assert_matches_oracle(rows_for(dtype), eps)


def test_check_eps_mode_follows_the_converted_value():
    f16, f32 = torch.zeros(2, dtype=torch.float16), torch.zeros(2, dtype=torch.float32)
    e, mode = check_eps(1e-12, like=f16)  # would be 0 in float16: kept in float32, positive
    assert e.dtype == torch.float32 and float(e) > 0 and mode == EPS_POSITIVE
    e, mode = check_eps(0.5, like=f16)
    assert e.dtype == torch.float16 and mode == EPS_POSITIVE
    e, mode = check_eps(1e12, like=f16)  # would be inf in float16
    assert e.dtype == torch.float32 and math.isfinite(float(e))
    e, mode = check_eps(torch.tensor([0.0, 1e-45]), like=f32)  # 1e-45 is a float32 subnormal
    assert e.dtype == F64 and mode == EPS_MIXED and float(e[1]) == float(torch.tensor(1e-45))
    e, mode = check_eps(np.array([0.0, 0.0]), like=f32)
    assert e.dtype == torch.float32 and mode == EPS_ZERO
    e, mode = check_eps(5e-324, like=torch.zeros(1, dtype=F64))  # float64 subnormal: as it is
    assert e.dtype == F64 and float(e) == 5e-324 and mode == EPS_POSITIVE


def test_other_entries_follow_the_kernel_in_float16():
    z = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float16)
    for eps in (1e-12, 1e12):
        for out in (hjdl.softplus_eps(z, eps), hjdl.oplus(z, z.flip(0), eps), hjdl.sigmoid_eps(z, eps),
                    hjdl.tanh_eps(z, eps), hjdl.maxplus_matmul(z[None], z[:, None], eps)):
            assert out.dtype == torch.float16 and not torch.isnan(out).any()
    assert torch.equal(hjdl.softplus_eps(z, 1e-12), torch.relu(z))
    assert torch.equal(hjdl.sigmoid_eps(z, 1e-12), torch.tensor([0.0, 0.5, 1.0], dtype=torch.float16))
    assert torch.equal(hjdl.tanh_eps(z, 1e12), torch.zeros(3, dtype=torch.float16))


# ----------------------------------------------------------------------------------------------
# derivatives in eps


def entropy_ref(row, eps):
    return decimal_gibbs_lse(row, eps)[2]


@pytest.mark.parametrize("eps0", [0.0, 1e-300, 1e-200])
def test_eps_derivative_at_and_near_zero_is_log_of_the_number_of_ties(eps0):
    # d LSE/d eps = H(π) (T2) → log k as eps → 0+. At eps = 0 asking for it raised ("does not
    # require grad"); at eps = 1e-300 it was NaN (0 · inf in the backward of z/eps)
    z = torch.tensor([[1.0, 1.0, 1.0, 0.0], [2.0, -1.0, NINF, 2.0], [0.0, -5.0, -7.0, -9.0],
                      [NINF, NINF, NINF, NINF]], dtype=F64)
    for shape in ((), (4,)):
        e = torch.full(shape, eps0, dtype=F64, requires_grad=True)
        (g,) = torch.autograd.grad(hjdl.lse(z, e).sum(), e)
        expected = math.log(3) + math.log(2) + 0.0 + 0.0  # the masked row: constant -inf
        assert torch.isfinite(g).all()
        if shape:
            assert torch.allclose(g, torch.tensor([math.log(3), math.log(2), 0.0, 0.0], dtype=F64),
                                  rtol=0, atol=1e-15)
        else:
            assert abs(float(g) - expected) <= 1e-15
    # the one-sided limit against a finite difference quotient (gaps of at least 1: e^{-1/h} ~ 0)
    h = 1e-3
    fd = (hjdl.lse(z[:3], h) - hjdl.lse(z[:3], 0.0)) / h
    assert torch.allclose(fd, torch.tensor([math.log(3), math.log(2), 0.0], dtype=F64), atol=1e-12)


def test_eps_derivative_with_mixed_zero_and_positive_eps():
    z = torch.tensor([[0.3, 0.3, -1.0], [0.2, -0.4, 1.1]], dtype=F64)
    e = torch.tensor([0.0, 0.7], dtype=F64, requires_grad=True)
    out = hjdl.lse(z, e)
    assert float(out[0].detach()) == 0.3
    (g,) = torch.autograd.grad(out.sum(), e)
    assert abs(float(g[0]) - math.log(2)) <= 1e-15
    assert abs(float(g[1]) - entropy_ref(z[1].tolist(), 0.7)) <= 1e-15


def test_eps_derivatives_pass_gradcheck_jointly_with_z():
    z = torch.tensor([[0.3, -0.2, 1.0, 0.4], [2.0, 1.5, -1.0, 0.0]], dtype=F64, requires_grad=True)
    for e0 in (torch.tensor(0.37, dtype=F64), torch.tensor([0.5, 2.0], dtype=F64)):
        e = e0.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda a, b: hjdl.lse(a, b), (z, e))
        assert torch.autograd.gradgradcheck(lambda a, b: hjdl.lse(a, b), (z, e))
        assert torch.autograd.gradcheck(lambda a, b: hjdl.gibbs(a, b), (z, e))
    # float32 at the bottom of its range: a finite derivative, the entropy
    z32 = torch.tensor([0.0, 0.0, -1.0])
    e = torch.tensor(1e-38, requires_grad=True)
    (g,) = torch.autograd.grad(hjdl.lse(z32, e), e)
    assert abs(float(g) - math.log(2)) <= 1e-6


def test_gibbs_eps_derivative_at_zero_and_tiny_eps_is_finite_and_zero():
    # π is flat in eps as eps → 0+ (every derivative of e^{−gap/eps} vanishes)
    z = torch.tensor([[1.0, 1.0, 0.0, NINF], [0.5, -0.5, 0.25, 0.0]], dtype=F64, requires_grad=True)
    c = torch.arange(4.0, dtype=F64)
    for eps0 in (0.0, 1e-300):
        e = torch.tensor(eps0, dtype=F64, requires_grad=True)
        p = hjdl.gibbs(z, e)
        assert torch.isfinite(p).all()
        gz, ge = torch.autograd.grad((p * c).sum(), (z, e))
        assert float(ge) == 0.0 and torch.isfinite(gz).all()
        if eps0 == 0:  # the tie rule is piecewise constant in z
            assert torch.equal(gz, torch.zeros_like(gz))
        else:  # ∂π_i/∂z_j = π_i(δ_ij − π_j)/eps: 0.5·(0 − 0.5)/1e-300 on the tied pair
            assert torch.allclose(gz[0], torch.tensor([-0.25e300, 0.25e300, 0, 0], dtype=F64), rtol=1e-14)
    # and at a regular eps: dπ/deps = −π (s − ⟨π, s⟩)/eps with s = z/eps (closed form)
    e = torch.tensor(0.4, dtype=F64, requires_grad=True)
    zz = z.detach()[1]
    (ge,) = torch.autograd.grad(hjdl.gibbs(zz, e)[2], e)
    p = torch.softmax(zz / 0.4, -1)
    s = zz / 0.4
    assert abs(float(ge) - float(-p[2] * (s[2] - (p * s).sum()) / 0.4)) <= 1e-14


def test_tropical_gibbs_with_masked_entries_has_no_nan_under_autograd():
    z = torch.tensor([0.0, NINF, 0.0], requires_grad=True)
    p = hjdl.gibbs(z, 0)
    assert torch.equal(p.detach(), torch.tensor([0.5, 0.0, 0.5]))  # was [0.5, nan, 0.5]
    p.sum().backward()
    assert torch.equal(z.grad, torch.zeros(3))


# ----------------------------------------------------------------------------------------------
# shapes and argument names


def test_zero_d_array_eps_behaves_like_a_number():
    # a 0-d NumPy eps came back with shape (1,)
    z = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    cases = [lambda e: hjdl.lse(z, e), lambda e: hjdl.lse(z[0, 0], e), lambda e: hjdl.gibbs(z, e),
             lambda e: hjdl.gibbs(z[0, 0], e), lambda e: hjdl.oplus(1.0, 2.0, e),
             lambda e: hjdl.softplus_eps(1.0, e), lambda e: hjdl.sigmoid_eps(1.0, e),
             lambda e: hjdl.tanh_eps(z, e), lambda e: hjdl.maxplus_matmul(z, z, e)]
    for fn in cases:
        for number in (0.0, 0.5):
            ref = fn(number)
            for wrapped in (np.array(number), np.array(number, dtype=np.float32),
                            np.array(number, dtype=np.longdouble), torch.tensor(number)):
                got = fn(wrapped)
                assert got.shape == ref.shape and torch.allclose(got, ref), (fn, wrapped)


def test_a_tensor_of_zero_eps_broadcasts_like_a_positive_one():
    z = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    for fn in (hjdl.lse, hjdl.gibbs):
        zero, pos = fn(z, torch.zeros(4, 1)), fn(z, torch.ones(4, 1))
        assert zero.shape == pos.shape
        assert torch.equal(zero[2], fn(z, 0.0))
    assert hjdl.gibbs(torch.tensor(3.0), 0.5).shape == ()  # a single logit: weight 1


def test_errors_name_the_users_arguments():
    with pytest.raises(NonFiniteError, match="^z: "):
        hjdl.softplus_eps(torch.tensor([0.0, math.nan]), 1.0)  # named 'a' (oplus's) before
    with pytest.raises(NonFiniteError, match="^b: "):
        hjdl.oplus(0.0, math.nan, 1.0)
    for fn in (hjdl.sigmoid_eps, hjdl.tanh_eps, hjdl.softplus_eps):
        with pytest.raises(ShapeError, match=r"^eps: .*shape of z"):  # RuntimeError for sigmoid
            fn(torch.zeros(3), torch.ones(2))
    with pytest.raises(ShapeError, match=r"^eps: .*a and b"):
        hjdl.oplus(torch.zeros(3), 1.0, torch.ones(2))
    with pytest.raises(NonFiniteError, match="^p: "):
        hjdl.entropy(torch.tensor([0.5, math.inf]))


@pytest.mark.parametrize("dtype,big", [(torch.float16, 6e4), (torch.bfloat16, 3e38),
                                       (torch.float32, 3e38), (F64, 1.7e308)])
def test_gaps_and_eps_log_n_beyond_the_range_where_the_result_is_not(dtype, big):
    # z − m = −2·big overflows, yet with eps = big/5 its weight is e^{-10}; and eps·log 4
    # overflows for eps ≈ big while m + eps·log 4 (m = −big) does not
    z = torch.tensor([[big, -big, 0.0, -big], [-big, -big, -big, -big]], dtype=dtype)
    for eps in (float(torch.tensor(big / 5, dtype=dtype)), float(torch.tensor(big, dtype=dtype))):
        assert_matches_oracle(z, eps)
        assert torch.isfinite(hjdl.lse(z, eps)[1])


def test_half_precision_is_computed_in_float32_and_rounded_once():
    # eps = 0.1 .. 50 on two tied float16 logits: eps·log 2 correctly rounded to float16. With
    # eps first rounded to float16 (relative error up to 2^-11), 78 of these 400 were off by an ulp
    z = torch.zeros(2, dtype=torch.float16)
    for e in np.linspace(0.1, 50, 400).tolist():
        ref = torch.tensor(e * math.log(2), dtype=F64).to(torch.float16)
        assert hjdl.lse(z, e) == ref, e
    # the entropy of 10^4 float16 weights (a float16 sum drifted by 6 ulps)
    p = torch.rand(10_000, generator=torch.Generator().manual_seed(0), dtype=F64)
    p = (p / p.sum()).to(torch.float16)
    q = p.double()
    ref = float(-(q * torch.log(torch.where(q > 0, q, torch.ones_like(q)))).sum())
    assert abs(float(hjdl.entropy(p)) - ref) <= 2 * 2.0 ** -11 * ref
    # a private caller (maxplus_matmul) passing a float16 eps: the gap 1.2e5 overflows float16
    A = torch.tensor([[6e4, -6e4]], dtype=torch.float16)
    got = hjdl.maxplus_matmul(A, torch.zeros(2, 1, dtype=torch.float16), 12000.0)
    ref = decimal_gibbs_lse([6e4, -6e4], 12000.0)[0]
    assert got.dtype == torch.float16 and abs(float(got) - ref) <= 2.0 ** -11 * ref  # not 6e4
    # ... and 9999 weights e^-18 = 1.5e-8 each, below float16's smallest subnormal (6e-8)
    A = torch.tensor([[0.0] + [-18.0] * 9999], dtype=torch.float16)
    got = hjdl.maxplus_matmul(A, torch.zeros(10_000, 1, dtype=torch.float16), 1.0)
    ref = math.log1p(9999 * math.exp(-18))  # 1.5e-4
    assert abs(float(got) - ref) <= 2.0 ** -11 * ref  # not 0


def test_a_huge_and_a_subnormal_eps_side_by_side():
    # halving every eps for the huge one's sake turned 5e-324 into 0 (NaN weights); found by the
    # property test
    z = torch.tensor([[0.0, -1e-323], [0.0, 0.0]], dtype=F64)
    assert_matches_oracle(z, torch.tensor([5e-324, 1e307], dtype=F64))
    assert_matches_oracle(z.to(torch.float16), torch.tensor([5e-324, 1e307], dtype=F64))
