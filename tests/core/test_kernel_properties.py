"""Property test of the kernel over dtypes, shapes, masked entries, ties and extreme eps.

For every floating dtype, logits anywhere in the dtype's finite range (with ``-inf`` entries and
repeated values), and eps from 0 through 1e-300 and 1e-12 to 1e12 and 1e308; logits spread at random or at
gaps of up to 800 eps below the maximum (one per call or one
per row, zero and positive mixed): ``lse``, ``gibbs`` and ``entropy`` never return NaN and match
a 50-digit evaluation of the definitions rounded to the dtype, within tolerances from the error
analysis of the kernel (``helpers.assert_kernel_matches_oracle``).
"""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import assert_kernel_matches_oracle

# the largest finite logits drawn per dtype (near the top of each range)
F32 = lambda x: float(torch.tensor(x, dtype=torch.float32))  # noqa: E731 (representable bound)
RANGE = {torch.float16: (16, 65504.0), torch.bfloat16: (32, F32(3e38)),
         torch.float32: (32, F32(3.4e38)), torch.float64: (64, 1.7e308)}
EDGE_EPS = [0.0, 5e-324, 1e-300, 1e-45, 1e-40, 1e-12, 1e-7, 1e-3, 1.0, 7e4, 1e12, 1e39, 1e300, 1e307, 1e308]


def eps_values():
    return st.one_of(st.sampled_from(EDGE_EPS), st.floats(1e-12, 1e12), st.floats(1e-300, 1e300))


@st.composite
def cases(draw):
    dtype = draw(st.sampled_from(list(RANGE)))
    width, top = RANGE[dtype]
    rows, n = draw(st.integers(1, 3)), draw(st.integers(0, 6))
    per_row = draw(st.booleans())
    eps = draw(st.lists(eps_values(), min_size=rows, max_size=rows)) if per_row else draw(eps_values())
    if draw(st.booleans()):
        value = st.one_of(st.floats(-top, top, width=width),
                          st.sampled_from([0.0, 1.0, -1.0, 0.5, -math.inf]))  # ties and masks
        z = draw(st.lists(st.lists(value, min_size=n, max_size=n), min_size=rows, max_size=rows))
    else:  # gaps of 0 to 800 eps below a maximum of 0 or ±top: results just above the maximum
        z = []
        for i in range(rows):
            e = eps[i] if per_row else eps
            m = draw(st.sampled_from([0.0, top, -top]))
            z.append([m - e * g for g in draw(st.lists(st.floats(0, 800), min_size=n, max_size=n))])
    z = torch.tensor(z, dtype=torch.float64).reshape(rows, n).to(dtype)
    z = torch.where(torch.isnan(z) | (z == math.inf), torch.full_like(z, -math.inf), z)
    eps = torch.tensor(eps, dtype=torch.float64) if per_row else eps
    return z, eps, draw(st.sampled_from([-1, 0]))


@settings(max_examples=250, deadline=None)
@given(cases())
def test_lse_gibbs_entropy_match_the_decimal_oracle(case):
    z, eps, dim = case
    if dim == 0:  # the same rows, reduced along the first axis
        z = z.T.contiguous()
    assert_kernel_matches_oracle(z, eps, dim=dim)
