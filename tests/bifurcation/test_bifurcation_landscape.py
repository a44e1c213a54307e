"""entropy_landscape() against autograd, and critical_points() against a dense 1-D scan."""

import math

import numpy as np
import pytest
import torch

import hjdl
from hjdl.bifurcation import MAXIMUM, MINIMUM, critical_points, entropy_landscape
from hjdl.errors import EpsilonError, InputError, ShapeError


def _autograd_H(W, b):
    """H by autograd through the public kernel (an independent route to the derivatives)."""
    def H(x, log_eps):
        return hjdl.entropy(hjdl.gibbs(x @ W.T + b, torch.exp(log_eps)))
    return H


@pytest.mark.parametrize("eps", [0.05, 0.6, 4.0])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_gradient_hessian_and_eps_derivative_match_autograd(eps, d):
    g = torch.Generator().manual_seed(10 * d)
    W = torch.randn(7, d, generator=g, dtype=torch.float64)
    b = torch.randn(7, generator=g, dtype=torch.float64)
    x = torch.randn(5, d, generator=g, dtype=torch.float64)
    L = entropy_landscape(x, W, b, eps, with_eps_derivative=True)
    Hf = _autograd_H(W, b)
    le = torch.tensor(math.log(eps), dtype=torch.float64)
    for i in range(5):
        xi = x[i]
        H = Hf(xi, le)
        gr = torch.func.grad(Hf, argnums=0)(xi, le)
        he = torch.func.hessian(Hf, argnums=0)(xi, le)
        de = torch.func.jacfwd(torch.func.grad(Hf, argnums=0), argnums=1)(xi, le)
        scale = 1 + float(he.abs().max())
        assert abs(float(H - L.H[i])) < 1e-13
        assert torch.allclose(gr, L.grad[i], atol=1e-12 * scale)
        assert torch.allclose(he, L.hess[i], atol=1e-11 * scale)
        assert torch.allclose(de, L.d_grad_dlog_eps[i], atol=1e-11 * scale)


def test_particle_regime_keeps_relative_accuracy():
    # 1 − π_top ≈ e^{-40}: the gradient is ~1e-16; compare with a float64 log-space oracle
    W = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    b = torch.zeros(2, dtype=torch.float64)
    x = torch.tensor([[-2.0]], dtype=torch.float64)
    eps = 0.05
    L = entropy_landscape(x, W, b, eps)
    # two neurons: H = h(p), p = sigmoid(Δ/eps), Δ = z2 − z1 = x; dH/dx = −p(1−p) Δ/eps²
    D = -2.0
    p = 1 / (1 + math.exp(-D / eps))
    ref = -p * (1 - p) * D / eps**2
    assert abs(float(L.grad[0, 0]) / ref - 1) < 1e-12


def test_critical_points_match_dense_scan_1d():
    y = np.array([-2.6, -1.5, -0.4, 0.7, 1.7, 2.7])[:, None]
    W, b = hjdl.from_initial_data(hjdl.InitialData(y, np.zeros(6)), 0.5)
    xs = torch.linspace(-4, 4, 40001, dtype=torch.float64)[:, None]
    for eps in (0.05, 0.2, 0.45, 1.5):
        cp = critical_points(W, b, eps, [[-4.0, 4.0]])
        # oracle: strict local extrema of H on a dense grid (public kernel, float64)
        H = hjdl.entropy(hjdl.gibbs(xs @ W.T + b, eps)).numpy()
        dH = np.sign(np.diff(H))
        nz = dH[dH != 0]
        n_max = int(np.sum((nz[:-1] > 0) & (nz[1:] < 0)))
        n_min = int(np.sum((nz[:-1] < 0) & (nz[1:] > 0)))
        c = cp.counts()
        assert (c["minimum"], c["maximum"]) == (n_min, n_max), (eps, c, n_min, n_max)
        assert float(cp.grad_norm.max()) < 1e-10
        # a maximum has H above, a minimum below, its neighbours
        for xk, k in zip(cp.x[:, 0].tolist(), cp.kind.tolist()):
            h0, hl, hr = hjdl.entropy(hjdl.gibbs(torch.tensor([[xk], [xk - 1e-3], [xk + 1e-3]],
                                                              dtype=torch.float64) @ W.T + b, eps))
            assert (k == MAXIMUM and h0 > max(hl, hr)) or (k == MINIMUM and h0 < min(hl, hr))


def test_critical_points_2d_types_by_perturbation():
    g = torch.Generator().manual_seed(3)
    y = torch.randn(6, 2, generator=g, dtype=torch.float64)
    W, b = hjdl.from_initial_data(hjdl.InitialData(y, torch.zeros(6, dtype=torch.float64)), 1.0)
    cp = critical_points(W, b, 0.3, [[-3, 3], [-3, 3]])
    assert cp.x.shape[0] >= 1
    ang = torch.linspace(0, 2 * math.pi, 33, dtype=torch.float64)[:-1]
    ring = 1e-3 * torch.stack([ang.cos(), ang.sin()], -1)
    for xk, k in zip(cp.x, cp.kind.tolist()):
        h0 = hjdl.entropy(hjdl.gibbs(xk @ W.T + b, 0.3))
        hr = hjdl.entropy(hjdl.gibbs((xk + ring) @ W.T + b, 0.3))
        above, below = bool((hr > h0).all()), bool((hr < h0).all())
        assert {0: above, 2: below, 1: not above and not below}[k]


def test_plateaus_are_not_reported():
    # |x| > ~18: the second Gibbs weight underflows (gap/eps > 700): an exact-zero plateau
    W = torch.tensor([[-1.0], [1.0]], dtype=torch.float64)
    b = torch.zeros(2, dtype=torch.float64)
    cp = critical_points(W, b, 0.05, [[-20.0, 20.0]])
    assert cp.counts() == {"minimum": 0, "saddle": 0, "maximum": 1}
    assert cp.n_plateau > 0 and abs(float(cp.x[0, 0])) < 1e-10


def test_landscape_errors():
    W, b = torch.ones(3, 2), torch.zeros(3)
    with pytest.raises(EpsilonError, match="eps > 0"):
        entropy_landscape(torch.zeros(1, 2), W, b, 0.0)
    with pytest.raises(ShapeError, match="x"):
        entropy_landscape(torch.zeros(1, 3), W, b, 0.1)
    with pytest.raises(ShapeError, match="bounds"):
        critical_points(W, b, 0.1, [[0, 1]])
    with pytest.raises(InputError, match="low < high"):
        critical_points(W, b, 0.1, [[0, 1], [2, 1]])
