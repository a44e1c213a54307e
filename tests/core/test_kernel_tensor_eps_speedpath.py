"""The kernel's speed paths for a tensor of temperatures (one per network of a stacked batch).

* ``_row_top`` (one ``torch.max`` pass) gives the values of ``amax`` and the index of ``argmax``,
  ties, ``-inf`` rows and NaN included; ``_lse`` no longer calls ``argmax`` (counted with a
  ``TorchFunctionMode``, not timed);
* ``_lse_weights`` (LSE and the unnormalised Gibbs weights from one exponential pass, used by
  :func:`hjdl.training.train_many`) equals ``_lse`` bit for bit, and its weights equal SciPy's
  softmax (an independent float64 computation) and ``_gibbs`` to a few ulps;
* a tensor eps of shape ``(S, 1)`` gives, per network, the bits of a scalar eps (division by a
  broadcast tensor is the same IEEE division), and a shape ``(S, 1, 1)`` at the public boundary
  broadcasts against the output ``(S, n)`` to ``(S, S, n)``: S times the work (the "40x slower
  tensor eps" measured before was this shape, not a slow path of the kernel).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp, softmax
from torch.overrides import TorchFunctionMode

import hjdl
from hjdl._validation import EPS_POSITIVE
from hjdl.core.kernel import _gibbs, _lse, _lse_weights, _lse_weights_accepts, _row_top

DTYPES = [torch.float32, torch.float64]


def _logits(dtype, S=5, n=40, N=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(S, n, N, generator=g, dtype=torch.float64) * 3).to(dtype)
    z[0, 0, :3] = 5.0            # a three-way tie at the maximum
    z[1, 2, 4] = -torch.inf      # a masked neuron
    z[2, 3] = torch.arange(N, dtype=dtype) * -40.0  # rest far below the top
    return z


def _eps(dtype):
    return torch.tensor([0.01, 0.1, 1.0, 3.0, 1e3], dtype=dtype)[:, None, None]


@pytest.mark.parametrize("dtype", DTYPES + [torch.float16, torch.bfloat16])
def test_row_top_is_amax_and_first_argmax(dtype):
    z = torch.randint(-2, 3, (6, 50, 7)).to(dtype)  # many ties
    z[0, 0] = -torch.inf
    z[1, 1, 3] = torch.nan
    for dim in (-1, 1, 0):
        m, top = _row_top(z, dim)
        torch.testing.assert_close(m, z.amax(dim, keepdim=True), equal_nan=True, rtol=0, atol=0)
        assert torch.equal(top, z.argmax(dim, keepdim=True))


class _Calls(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def test_lse_takes_one_max_pass_not_amax_and_argmax():
    z, e = _logits(torch.float64), _eps(torch.float64)
    with _Calls() as calls:
        _lse(z, e, EPS_POSITIVE, -1, finite=True)
    assert "argmax" not in calls.names and calls.names.count("max") == 1, calls.names


@pytest.mark.parametrize("dtype", DTYPES)
def test_lse_weights_equal_lse_bit_for_bit_and_softmax(dtype):
    z, e = _logits(dtype), _eps(dtype)
    buf = torch.empty_like(z)
    before = z.clone()
    out, w, total = _lse_weights(z, e, -1, buf=buf)
    assert torch.equal(out, _lse(z, e, EPS_POSITIVE, -1, finite=True))
    assert w.data_ptr() == buf.data_ptr() and torch.equal(z, before)  # z intact, w in the buffer
    # independent oracle: SciPy in float64
    z64, e64 = z.double().numpy(), e.double().numpy()
    np.testing.assert_allclose(out.double().numpy(), e64 * logsumexp(z64 / e64, axis=-1, keepdims=True),
                               rtol=8 * torch.finfo(dtype).eps, atol=0)
    pi = (w / total)
    np.testing.assert_allclose(pi.double().numpy(), softmax(z64 / e64, axis=-1),
                               rtol=0, atol=8 * torch.finfo(dtype).eps)
    torch.testing.assert_close(pi, _gibbs(z, e, EPS_POSITIVE, -1), rtol=0, atol=4 * torch.finfo(dtype).eps)
    assert torch.all(w.amax(-1) == 1)  # the unnormalised weight of the maximum is exp(0)


def test_lse_weights_subnormal_rest_with_large_eps_takes_the_repair():
    # eps = 1e12 and a rest below the smallest normal number: T1's repair must be kept
    z = torch.tensor([[[0.0, -7.2e14]], [[0.0, -1.0]]], dtype=torch.float64)
    e = torch.tensor([1e12, 0.5], dtype=torch.float64)[:, None, None]
    out, _, _ = _lse_weights(z, e, -1)
    assert torch.equal(out, _lse(z, e, EPS_POSITIVE, -1, finite=True))
    assert float(out[0, 0, 0]) > 0  # 1e12 * e^-720 is normal although e^-720 is not


@pytest.mark.parametrize("case", ["zero", "subnormal", "huge", "half", "dtype-mismatch", "tracked"])
def test_lse_weights_declines_what_it_does_not_cover(case):
    z, e = _logits(torch.float32), _eps(torch.float32)
    if case == "zero":
        e = e.clone(); e[0] = 0.0
    elif case == "subnormal":
        e = e.clone(); e[0] = 1e-40
    elif case == "huge":
        e = e.clone(); e[0] = 1e37
    elif case == "half":
        z, e = z.half(), e.half()
    elif case == "dtype-mismatch":
        e = e.double()
    elif case == "tracked":
        z = z.requires_grad_()
    assert _lse_weights(z, e, -1) is None
    if case != "tracked":
        assert not _lse_weights_accepts(e, z.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_eps_per_network_equals_scalar_eps_bit_for_bit(dtype):
    z = _logits(dtype)
    eps = torch.tensor([0.01, 0.1, 1.0, 3.0, 1e3], dtype=dtype)
    out, p = hjdl.lse(z, eps[:, None]), hjdl.gibbs(z, eps[:, None])
    assert out.shape == z.shape[:2] and p.shape == z.shape
    for s in range(z.shape[0]):
        assert torch.equal(out[s], hjdl.lse(z[s], float(eps[s])))
        assert torch.equal(p[s], hjdl.gibbs(z[s], float(eps[s])))


def test_eps_of_shape_s11_broadcasts_against_the_output_not_the_logits():
    # documented semantics: eps broadcasts against z without the reduced axis, (S, n) here
    z = _logits(torch.float64, S=3, n=4)
    eps = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    assert hjdl.lse(z, eps[:, None, None]).shape == (3, 3, 4)
    assert hjdl.gibbs(z, eps[:, None, None]).shape == (3, 3, 4, 9)
    assert torch.equal(hjdl.lse(z, eps[:, None, None])[1, 1], hjdl.lse(z, eps[:, None])[1])
