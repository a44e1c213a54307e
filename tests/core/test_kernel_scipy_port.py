"""``lse`` and ``gibbs`` on the situations SciPy's own ``logsumexp``/``softmax`` tests exercise.

The cases follow the themes of ``scipy/special/tests/test_logsumexp.py`` (empty input, large
and tiny summands, masked ``-inf`` entries, huge spreads within a row, axes, dtypes, results
close to zero, no write-back, softmax fixtures), restated here for ``eps = 1`` and, where the
temperature matters, for other eps. References: :func:`scipy.special.logsumexp` and
:func:`scipy.special.softmax` (eps = 1), and a 50-digit :mod:`decimal` evaluation of the
definitions (``helpers.decimal_gibbs_lse``). Accuracy is checked as a relative error wherever
the answer is non-zero. Where hjdl deliberately differs from SciPy (``+inf`` and NaN inputs are
refused instead of propagated; no ``b`` weights or ``return_sign``), the test says so.
"""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp, softmax

import hjdl
from hjdl.errors import NonFiniteError
from helpers import decimal_gibbs_lse

F64 = torch.float64
U64 = float(torch.finfo(F64).eps)
U32 = float(torch.finfo(torch.float32).eps)


def rel_err(got, ref):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(got - ref) / np.abs(ref)))


def assert_close_relative(got, ref, dtype, cond=4.0):
    """``|got − ref| <= cond·u·|ref|``, plus two units of the subnormal range (where no dtype
    keeps relative accuracy). ``cond`` is the condition number of the problem in units of u:
    for ``exp(s)`` with ``s`` rounded, about ``|s|``."""
    info = torch.finfo(dtype)
    err = abs(float(got) - ref)
    assert err <= cond * float(info.eps) * abs(ref) + 2 * float(info.tiny) * float(info.eps), (got, ref)


def test_empty_axis_is_the_empty_sum():
    # SciPy: logsumexp([]) = -inf. Also along an axis, for eps = 0 and a tensor eps.
    assert hjdl.lse(torch.tensor([], dtype=F64), 1.0).item() == -math.inf
    assert logsumexp(np.array([])) == -np.inf
    out = hjdl.lse(torch.zeros(2, 0, 3, dtype=F64), 1.0, dim=1)
    assert out.shape == (2, 3) and bool((out == -math.inf).all())
    out = hjdl.lse(torch.zeros(2, 0), torch.tensor([[0.0], [1.0], [2.0]]))
    assert out.shape == (3, 2) and bool((out == -math.inf).all())


def test_large_summands_do_not_overflow():
    # exp(199) is far from overflow in float64, so the naive log(sum(exp)) is a fair reference
    a = np.arange(200.0)
    naive = math.log(math.fsum(math.exp(v) for v in a))
    got = float(hjdl.lse(torch.from_numpy(a), 1.0))
    assert abs(got - naive) <= 4 * U64 * naive
    assert abs(got - logsumexp(a)) <= 4 * U64 * naive
    # summands whose exponentials overflow: two equal large entries, and 1000 equal ones
    for dtype in (torch.float32, F64):
        got = hjdl.lse(torch.tensor([1000.0, 1000.0], dtype=dtype), 1.0)
        assert got.dtype == dtype
        assert rel_err(got.double(), 1000 + math.log(2)) <= 2 * float(torch.finfo(dtype).eps)
    got = float(hjdl.lse(torch.full((1000,), 10000.0, dtype=F64), 1.0))
    assert rel_err(got, 10000 + math.log(1000)) <= 2 * U64


def test_many_tiny_summands_along_each_axis():
    # log of a sum of 10^5 terms of 1e-40: exp(lse) must equal the sum to rounding of the sum
    n = 100_000
    x = np.full(n, 1e-40)
    logx = torch.from_numpy(np.log(np.stack([x, x])))
    total = math.fsum(x)
    assert rel_err(math.exp(float(hjdl.lse(logx.reshape(-1), 1.0))), 2 * total) <= 1e-12
    assert rel_err(torch.exp(hjdl.lse(logx, 1.0, dim=1)), [total, total]) <= 1e-12
    assert rel_err(torch.exp(hjdl.lse(logx, 1.0, dim=0)), 2 * x) <= 1e-14


def test_masked_entries_and_masked_rows():
    ninf = -math.inf
    assert hjdl.lse(torch.tensor([ninf], dtype=F64), 1.0).item() == ninf
    assert hjdl.lse(torch.tensor([ninf, ninf], dtype=F64), 1.0).item() == ninf
    # a masked entry drops out of the sum exactly
    z = torch.tensor([[0.5, ninf, -1.0], [ninf, 2.0, ninf]], dtype=F64)
    ref = logsumexp(z.numpy(), axis=1)
    assert torch.equal(hjdl.lse(z, 1.0)[1], torch.tensor(2.0, dtype=F64))
    assert rel_err(hjdl.lse(z, 1.0), ref) <= 2 * U64
    p = hjdl.gibbs(z, 1.0)
    assert p[0, 1] == 0 and torch.equal(p[1], torch.tensor([0.0, 1.0, 0.0], dtype=F64))


def test_infinite_and_nan_inputs_are_refused_not_propagated():
    # SciPy returns inf / nan for these; hjdl refuses them and names the argument
    for bad in (math.inf, math.nan):
        with pytest.raises(NonFiniteError, match="z"):
            hjdl.lse(torch.tensor([0.0, bad]), 1.0)
        with pytest.raises(NonFiniteError, match="z"):
            hjdl.gibbs(torch.tensor([0.0, bad]), 1.0)


def test_huge_spread_within_a_row():
    # the small entry must not disturb the large one (its term is exp(-1e10) = 0)
    z = torch.tensor([[1e10, 1e-10], [-1e10, -math.inf]], dtype=F64)
    assert torch.equal(hjdl.lse(z, 1.0), torch.tensor([1e10, -1e10], dtype=F64))
    # spreads of the full float64 range, at several temperatures
    z = torch.tensor([1e300, -1e300, 0.0, 1e-300], dtype=F64)
    for eps in (1e-300, 1.0, 1e12, 1e300):
        ref = decimal_gibbs_lse(z.tolist(), eps)[0]
        assert rel_err(float(hjdl.lse(z, eps)), ref) <= 2 * U64


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_every_axis_against_scipy(dim):
    rng = np.random.default_rng(7)
    a = rng.normal(size=(3, 4, 5)) * 10
    got = hjdl.lse(torch.from_numpy(a), 1.0, dim=dim).numpy()
    ref = logsumexp(a, axis=dim)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=4 * U64, atol=0)
    np.testing.assert_allclose(hjdl.gibbs(torch.from_numpy(a), 1.0, dim=dim).numpy(),
                               softmax(a, axis=dim), rtol=1e-13, atol=0)
    assert hjdl.lse(torch.ones(1, 2, 3, 4), 1.0, dim=2).shape == (1, 2, 4)


def test_array_likes_and_integers_become_float64():
    assert hjdl.lse([1000, 1000], 1.0).dtype == F64
    assert rel_err(hjdl.lse([1000, 1000], 1.0), 1000 + math.log(2)) <= 2 * U64
    assert rel_err(hjdl.lse(np.array([2, 1], dtype=np.int32), 1.0), logsumexp([2.0, 1.0])) <= 2 * U64


@pytest.mark.parametrize("gap", [1.0, 20.0, 37.0, 40.0, 100.0, 700.0, 740.0, 800.0])
@pytest.mark.parametrize("eps", [1.0, 1e-3, 7.5, 1e12, 1e300])
def test_results_close_to_the_maximum_keep_relative_accuracy(gap, eps):
    # LSE_eps(0, −gap·eps) = eps·log1p(e^{−gap}): tiny next to the maximum 0. A difference of
    # nearly equal numbers returned 0.0 at gap 40 (answer 4.2e-18) and 3e-8 relative error at 20.
    # For a large eps the answer stays a normal number where e^{−gap} itself is subnormal
    # (gap 740: 7 bits left) or 0 (gap 800): eps = 1e300 needs every digit of it.
    z = torch.tensor([0.0, -gap * eps], dtype=F64)
    ref = decimal_gibbs_lse(z.tolist(), eps)[0]
    got = float(hjdl.lse(z, eps))
    assert_close_relative(got, ref, F64, cond=4 + gap)  # s = −gap is rounded once (eps ≠ 1)
    if eps == 1.0 and gap < 700:
        assert rel_err(got, math.log1p(math.exp(-gap))) <= 4 * U64
        assert rel_err(got, logsumexp([0.0, -gap])) <= 4 * U64  # SciPy's gh-18295 case


def test_near_zero_results_with_ties_several_terms_and_float32():
    # several small terms: log1p of their sum; ties count e^0 = 1 each
    z = torch.tensor([0.0, -40.0, -41.0, -45.0, -math.inf], dtype=F64)
    assert rel_err(float(hjdl.lse(z, 1.0)), decimal_gibbs_lse(z.tolist(), 1.0)[0]) <= 4 * U64
    z = torch.tensor([-1e-3, 0.0, 0.0, -50.0], dtype=F64)
    assert rel_err(float(hjdl.lse(z, 0.5)), decimal_gibbs_lse(z.tolist(), 0.5)[0]) <= 4 * U64
    for gap in (5.0, 20.0, 60.0, 80.0, 100.0):  # e^-100 is subnormal in float32: atol there
        z = torch.tensor([0.0, -gap], dtype=torch.float32)
        ref = decimal_gibbs_lse(z.tolist(), 1.0)[0]
        assert_close_relative(hjdl.lse(z, 1.0), ref, torch.float32)
    z = torch.tensor([0.0, -1e8], dtype=torch.float32)  # eps·e^-100 is normal again in float32
    assert_close_relative(hjdl.lse(z, 1e6), decimal_gibbs_lse(z.tolist(), 1e6)[0], torch.float32, 104)
    # batched rows, reduced along the first axis
    z = torch.tensor([[0.0, 3.0], [-30.0, 3.0 - 60.0]], dtype=F64)
    got = hjdl.lse(z, 1.0, dim=0)
    ref = [decimal_gibbs_lse([0.0, -30.0], 1.0)[0], decimal_gibbs_lse([3.0, -57.0], 1.0)[0]]
    assert rel_err(got, ref) <= 4 * U64


def test_inputs_are_not_written_to():
    # the kernel updates temporaries in place; the caller's tensor (and a NumPy array sharing its
    # memory) must come back unchanged
    a = np.array([[5.0, 4.0, -math.inf], [1.0, 2.0, 3.0]])
    keep = a.copy()
    t = torch.from_numpy(a)
    for eps in (0.0, 0.5, 1.0, torch.tensor([0.0, 2.0], dtype=F64)):
        hjdl.lse(a, eps)
        hjdl.lse(t, eps)
        hjdl.gibbs(a, eps)
        hjdl.gibbs(t, eps)
    np.testing.assert_array_equal(a, keep)


def test_softmax_fixtures():
    # dominated entries, equal entries, and the two-point closed form
    assert torch.equal(hjdl.gibbs(torch.tensor([1000.0, 0.0, 0.0, 0.0], dtype=F64), 1.0),
                       torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=F64))
    assert torch.equal(hjdl.gibbs(torch.tensor([1.0, 1.0], dtype=F64), 1.0),
                       torch.tensor([0.5, 0.5], dtype=F64))
    assert rel_err(hjdl.gibbs(torch.tensor([0.0, 1.0], dtype=F64), 1.0),
                   np.array([1.0, math.e]) / (1 + math.e)) <= 4 * U64
    # against the decimal oracle, and invariant under a common shift
    x = torch.arange(4, dtype=F64)
    ref = decimal_gibbs_lse(x.tolist(), 1.0)[1]
    assert rel_err(hjdl.gibbs(x, 1.0), ref) <= 1e-14
    assert rel_err(hjdl.gibbs(x + 100, 1.0), ref) <= 1e-14
    rows = [decimal_gibbs_lse([0.0, 1.0], 1.0)[1], decimal_gibbs_lse([2.0, 3.0], 1.0)[1]]
    assert rel_err(hjdl.gibbs(x.reshape(2, 2), 1.0), rows) <= 1e-14  # per row of the last axis


def test_softmax_tiny_weights_keep_relative_accuracy_on_either_axis():
    # weights down to 1e-185 (one underflows to exactly 0) keep their relative accuracy
    x = torch.tensor([[-25.0, 0.0, 25.0, 50.0], [1.0, 325.0, 749.0, 750.0]], dtype=F64)
    ref = np.array([decimal_gibbs_lse(row, 1.0)[1] for row in x.tolist()])
    got = hjdl.gibbs(x, 1.0).numpy()
    assert got[1, 0] == 0 and ref[1, 0] < 1e-300
    nz = ref > 1e-300
    assert rel_err(got[nz], ref[nz]) <= 1e-13
    assert rel_err(hjdl.gibbs(x.T, 1.0, dim=0).numpy().T[nz], ref[nz]) <= 1e-13
    np.testing.assert_allclose(got, softmax(x.numpy(), axis=1), rtol=1e-13, atol=0)
