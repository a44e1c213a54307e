"""Tropical semiring and activation identities against torch's own activations and brute force."""

import math

import numpy as np
import pytest
import torch

import hjdl
from hjdl.errors import ShapeError


def test_oplus_limits_and_associativity():
    a, b, c = (torch.randn(50, dtype=torch.float64, generator=torch.Generator().manual_seed(s)) for s in (1, 2, 3))
    assert torch.equal(hjdl.oplus(a, b, 0), torch.maximum(a, b))
    for eps in (0.1, 1.0):
        left = hjdl.oplus(hjdl.oplus(a, b, eps), c, eps)
        right = hjdl.oplus(a, hjdl.oplus(b, c, eps), eps)
        assert torch.allclose(left, right, atol=1e-13)
        assert torch.allclose(hjdl.oplus(a, b, eps), eps * torch.logaddexp(a / eps, b / eps), atol=1e-13)
    assert torch.equal(hjdl.otimes(a, b), a + b)


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_maxplus_matmul_brute_force(eps):
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(4, 6)), rng.normal(size=(6, 3))
    A[0, 2] = -np.inf  # tropical zero
    ref = np.empty((4, 3))
    for i in range(4):
        for k in range(3):
            vals = A[i] + B[:, k]
            ref[i, k] = vals.max() if eps == 0 else eps * np.log(np.sum(np.exp(vals / eps)))
    assert np.allclose(hjdl.maxplus_matmul(A, B, eps).numpy(), ref, atol=1e-12)
    with pytest.raises(ShapeError):
        hjdl.maxplus_matmul(A, B.T)


def test_activation_identities():
    z = torch.linspace(-3, 3, 601, dtype=torch.float64)
    for eps in (1.0, 0.1, 1e-4):
        sp = hjdl.softplus_eps(z, eps)
        ref = eps * np.logaddexp(0.0, z.numpy() / eps)  # independent float64 NumPy reference
        assert np.allclose(sp.numpy(), ref, rtol=1e-14, atol=1e-15)
        gap = (sp - torch.relu(z)).max()
        assert 0 <= gap <= eps * math.log(2) + 1e-15
        assert torch.allclose(hjdl.sigmoid_eps(z, eps), torch.sigmoid(z / eps), atol=1e-14)
        assert torch.allclose(hjdl.tanh_eps(z, eps), torch.tanh(z / eps), atol=1e-12)
    assert torch.equal(hjdl.softplus_eps(z, 0), torch.relu(z))
    assert torch.equal(hjdl.tanh_eps(z, 0), torch.sign(z))
    assert torch.equal(hjdl.sigmoid_eps(torch.tensor([-1.0, 0.0, 2.0]), 0), torch.tensor([0.0, 0.5, 1.0]))


def test_softplus_keeps_relative_accuracy_far_below_zero():
    # softplus_eps(z) = eps log1p(e^{z/eps}) is tiny for z << 0: through LSE_eps(z, 0) it read
    # 0.0 at z/eps = -40 (answer 4.2e-18); compare with the decimal-free closed form
    for eps in (1.0, 0.01, 3.0):
        for r in (-20.0, -40.0, -300.0, -700.0):
            z = torch.tensor(r * eps, dtype=torch.float64)
            ref = eps * math.log1p(math.exp(float(z) / eps))
            got = float(hjdl.softplus_eps(z, eps))
            assert abs(got - ref) <= (4 + abs(r)) * 2.2e-16 * ref, (eps, r, got, ref)
