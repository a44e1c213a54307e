"""Input checks of normalization and InitialData.to, and the eps = 0 Hessians under autograd."""

import math

import numpy as np
import pytest
import torch

import hjdl
from hjdl.core import normalization
from hjdl.errors import DomainError, EpsilonError, InputError, NonFiniteError, ShapeError

F64 = torch.float64


def test_normalization_of_numbers_is_the_formula():
    # (eps d/2) log(4π eps t) + (eps/2) log det A, from math
    got = normalization(0.3, 2, 1.5, 0.25)
    assert got.dtype == F64 and got.shape == ()
    assert float(got) == pytest.approx(0.3 * 2 / 2 * math.log(4 * math.pi * 0.3 * 1.5) + 0.3 / 2 * 0.25,
                                       rel=1e-15)
    assert float(normalization(0.0, 3, 2.0)) == 0.0
    # tensors broadcast and keep their dtype
    e = torch.tensor([0.0, 0.5], dtype=torch.float32)
    out = normalization(e, 1, torch.tensor([[1.0], [2.0]], dtype=torch.float32))
    assert out.shape == (2, 2) and out.dtype == torch.float32
    assert float(out[1, 1]) == pytest.approx(0.25 * math.log(4 * math.pi), rel=1e-6)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(eps=-1.0), EpsilonError, "eps"),
    (dict(eps=math.nan), EpsilonError, "eps"),
    (dict(eps="a"), EpsilonError, "eps"),
    (dict(d=0), InputError, "d"),
    (dict(d=2.5), InputError, "d"),
    (dict(d=True), InputError, "d"),
    (dict(t=0.0), DomainError, "t"),
    (dict(t=-1.0), DomainError, "t"),
    (dict(logdet_A=math.inf), NonFiniteError, "logdet_A"),
    (dict(logdet_A=[1.0, 2.0]), ShapeError, "logdet_A"),
    (dict(eps=torch.ones(3), t=torch.ones(2)), ShapeError, "t"),
])
def test_normalization_refuses_bad_input_naming_it(kwargs, error, match):
    args = dict(eps=0.5, d=2, t=1.0, logdet_A=0.0)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        normalization(**args)


def test_initial_data_to_integer_or_complex_dtypes_is_refused():
    data = hjdl.InitialData([[0.5, 1.5]], [0.25])
    for dtype in (int, torch.int64, torch.int32, torch.bool, torch.complex128):
        with pytest.raises(InputError, match="floating dtype"):
            data.to(dtype)
    with pytest.raises(InputError, match="InitialData.to"):
        data.to("not a device")
    moved = data.to(torch.float32)
    assert moved.dtype == torch.float32 and torch.equal(moved.y, torch.tensor([[0.5, 1.5]]))


def test_eps_zero_hessians_stay_in_the_graph_with_zero_gradient():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 3, generator=g, dtype=F64, requires_grad=True)
    b = torch.randn(5, generator=g, dtype=F64)
    x = torch.randn(4, 3, generator=g, dtype=F64, requires_grad=True)
    H = hjdl.lse_layer_hessian(x, W, b, 0.0)
    assert torch.equal(H.detach(), torch.zeros(4, 3, 3, dtype=F64))
    gx, gW = torch.autograd.grad(H.sum(), (x, W))
    assert torch.equal(gx, torch.zeros_like(x)) and torch.equal(gW, torch.zeros_like(W))
    data = hjdl.to_initial_data(W.detach(), b, t=0.5)
    Hu = hjdl.hopf_cole_hessian(x, data, 0.0, t=0.5)
    assert torch.allclose(Hu.detach(), torch.eye(3, dtype=F64).expand(4, 3, 3))  # A⁻¹/(2t)
    (gx2,) = torch.autograd.grad(Hu.sum(), x)
    assert torch.equal(gx2, torch.zeros_like(x))
