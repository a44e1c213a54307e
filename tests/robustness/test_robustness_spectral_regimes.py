"""Lanczos curvature engine vs a per-point float64 NumPy ``eigvalsh`` oracle across regimes
(particle / mixed / wave eps, N < d and N > d, an exactly degenerate top eigenvalue)."""

import numpy as np
import pytest
import torch

from hjdl.robustness import curvature


def _oracle(W, b, eps, x):
    """Per point, the two-pass centred covariance in extended precision (NumPy longdouble), then
    float64 ``eigvalsh``: accurate even where π is nearly one-hot."""
    out = np.empty(len(x))
    Wl = W.astype(np.longdouble)
    for i, xi in enumerate(x):  # the oracle loops over points on purpose
        z = (Wl @ xi + b) / eps
        p = np.exp(z - z.max())
        p /= p.sum()
        Wc = Wl - p @ Wl
        out[i] = np.linalg.eigvalsh(((Wc.T * p) @ Wc).astype(np.float64))[-1] / eps
    return out


@pytest.mark.parametrize("eps", [0.02, 0.05, 1.0, 10.0])
@pytest.mark.parametrize("N,d", [(128, 50), (30, 60)])
def test_lanczos_matches_eigvalsh_across_regimes(eps, N, d):
    rng = np.random.default_rng(N + d)
    W = rng.normal(size=(N, d)) / np.sqrt(d)
    b = 0.1 * rng.normal(size=N)
    x = rng.normal(size=(400, d))
    got = curvature(tuple(map(torch.from_numpy, (W, b))) + (eps,), torch.from_numpy(x),
                    method="lanczos").numpy()
    ref = _oracle(W, b, eps, x)
    # relative agreement above a floor of ~5 ulp of max|W_j|²/eps (the products' own rounding)
    floor = 1e-15 * float((W * W).sum(1).max()) / eps
    big = ref > floor
    assert big.mean() > 0.5
    assert np.all(np.abs(got[big] - ref[big]) <= 1e-10 * ref[big]), np.max(np.abs(got[big] / ref[big] - 1))
    assert np.all(np.abs(got[~big] - ref[~big]) <= floor)


def test_lanczos_degenerate_top_eigenvalue():
    # rows closed under negation, swapping axes 0/1 and flipping axis 0; points with x_0 = x_1 = 0
    # and b = 0 give symmetric Gibbs weights, so the (0, 1) block of Cov is a multiple of I and
    # (made dominant by the ±3e_0, ±3e_1 rows) the top eigenvalue is exactly double
    rng = np.random.default_rng(5)
    d = 30
    base = rng.normal(size=(5, d)) / np.sqrt(d)
    rows = [3 * np.eye(d)[0], -3 * np.eye(d)[0], 3 * np.eye(d)[1], -3 * np.eye(d)[1]]
    for v in base:
        for sw in (False, True):
            for f0 in (1, -1):
                for f1 in (1, -1):
                    w = v.copy()
                    if sw:
                        w[[0, 1]] = w[[1, 0]]
                    w[0] *= f0
                    w[1] *= f1
                    rows.append(w)
    W = np.array(rows)
    b = np.zeros(len(W))
    x = rng.normal(size=(200, d))
    x[:, :2] = 0
    for eps in (0.3, 1.0, 5.0):
        ref = _oracle(W, b, eps, x)
        got = curvature((torch.from_numpy(W), torch.from_numpy(b), eps), torch.from_numpy(x),
                        method="lanczos").numpy()
        assert np.all(np.abs(got - ref) <= 1e-10 * ref), np.max(np.abs(got / ref - 1))
    # the construction really is degenerate at the top
    z = W @ x[0]
    p = np.exp(z - z.max())
    p /= p.sum()
    Wc = W - p @ W
    ev = np.linalg.eigvalsh((Wc.T * p) @ Wc)
    assert abs(ev[-1] - ev[-2]) <= 1e-12 * ev[-1]
