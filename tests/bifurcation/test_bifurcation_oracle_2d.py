"""2-D critical-point counts of the paper's 16-atom two-cluster configuration against an oracle
that shares no code with hjdl.bifurcation.

The oracle differentiates ``H(x; eps) = hjdl.entropy(hjdl.gibbs(W x + b, eps))`` by torch
autograd (no closed-form gradient or Hessian), seeds at the strict local minima of ``|∇H|²`` on a
dense grid that extends 10 % beyond the box, refines every seed with ``scipy.optimize.root`` on
the autograd gradient (autograd Hessian as Jacobian), keeps converged, non-degenerate roots
inside the box and classifies them by the signs of the autograd Hessian's eigenvalues (NumPy).
Its counts are compared with ``continuation(...).counts`` between every pair of consecutive
events, and its points one by one with ``critical_points``.
"""

import functools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import root

import hjdl
from hjdl.bifurcation import continuation, critical_points
from hjdl.experiments.bifurcation import PRESETS_2D, two_clusters

KINDS = ("minimum", "saddle", "maximum")
QUICK = PRESETS_2D["quick"]          # eps in [0.05, 6.3], box [-3, 3]², 6 anchors, 2 full searches
BOX = np.array(QUICK["bounds"], dtype=float)
N_GRID = 401                         # 0.018 per cell; the counts are unchanged from 301 cells up


def _layer():
    y, g = two_clusters(QUICK["n_per_cluster"], QUICK["seed"])
    return hjdl.from_initial_data(hjdl.InitialData(torch.from_numpy(y), torch.from_numpy(g)), QUICK["t"])


W, B = _layer()


def _grad_hess(eps, X):
    """∇H (P, 2) and ∇²H (P, 2, 2) at the rows of X by autograd through the public kernel
    (H of each row depends on that row only, so derivatives of the sum are per-point)."""
    X = torch.as_tensor(np.asarray(X), dtype=torch.float64).detach().requires_grad_(True)
    H = hjdl.entropy(hjdl.gibbs(X @ W.T + B, eps))
    (g,) = torch.autograd.grad(H.sum(), X, create_graph=True)
    rows = [torch.autograd.grad(g[:, i].sum(), X, retain_graph=True)[0] for i in range(X.shape[1])]
    return g.detach().numpy(), torch.stack(rows, 1).detach().numpy()


@functools.lru_cache(maxsize=None)
def oracle(eps: float):
    """Critical points inside BOX as a list of (x, eigenvalues of ∇²H)."""
    lo, hi = BOX[:, 0], BOX[:, 1]
    width = hi - lo
    axes = [np.linspace(a - 0.1 * w, c + 0.1 * w, N_GRID) for a, c, w in zip(lo, hi, width)]
    P = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    X = torch.tensor(P, requires_grad=True)
    (g,) = torch.autograd.grad(hjdl.entropy(hjdl.gibbs(X @ W.T + B, eps)).sum(), X)
    G = (g**2).sum(-1).numpy().reshape(N_GRID, N_GRID)
    centre = G[1:-1, 1:-1]
    strict_min = np.ones_like(centre, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                strict_min &= centre < G[1 + di:N_GRID - 1 + di, 1 + dj:N_GRID - 1 + dj]
    seeds = P.reshape(N_GRID, N_GRID, 2)[1:-1, 1:-1][strict_min]
    # most grid minima of |∇H|² lie on exponentially flat ground far from any critical point:
    # keep those whose Newton step is within a few cells (a root that close has a short step)
    gs, hs = _grad_hess(eps, seeds)
    steps = np.array([np.linalg.norm(np.linalg.lstsq(h, v, rcond=None)[0]) for h, v in zip(hs, gs)])
    cell = (axes[0][1] - axes[0][0])
    seeds = seeds[steps < 5 * cell]

    def gradient_and_jacobian(x):
        if not np.all(np.isfinite(x)) or np.abs(x).max() > 1e6:   # root() wandered off
            return np.full(2, 1e3), np.eye(2)
        gx, hx = _grad_hess(eps, x[None])
        return gx[0], hx[0]

    found = []
    for s in seeds:
        x = root(gradient_and_jacobian, s, jac=True, method="hybr", options={"xtol": 1e-13}).x
        gx, hx = gradient_and_jacobian(x)
        lam = np.linalg.eigvalsh(hx)
        newton = np.linalg.norm(np.linalg.lstsq(hx, gx, rcond=None)[0])
        converged = newton < 1e-9 * np.linalg.norm(width) and np.abs(lam).min() > 1e-9 * np.abs(lam).max()
        inside = bool(np.all(x >= lo) and np.all(x <= hi))
        if converged and inside and not any(np.linalg.norm(x - f[0]) < 1e-6 for f in found):
            found.append((x, lam))
    return found


def _counts(points):
    out = dict.fromkeys(KINDS, 0)
    for _, lam in points:
        out[KINDS[int((lam < 0).sum())]] += 1
    return out


@pytest.fixture(scope="module")
def diagram():
    return continuation(W, B, *QUICK["eps_range"], BOX.tolist(), n_anchors=QUICK["n_anchors"],
                        n_full=QUICK["n_full"])


def _probes(dg):
    """Geometric midpoints between consecutive events, and two probes just inside the ends."""
    ev = sorted({dg.eps_min, dg.eps_max, *(e for e, _, _ in dg.events())})
    mids = [math.sqrt(a * c) for a, c in zip(ev[:-1], ev[1:]) if c / a > 1.002]
    a, c = dg.eps_min, dg.eps_max
    return sorted(set(mids) | {a * (c / a) ** 0.002, c * (a / c) ** 0.002})


def test_continuation_counts_match_the_autograd_oracle(diagram):
    probes = _probes(diagram)
    assert len(probes) >= 6 and len(diagram.folds) >= 3   # the configuration has events to check
    seen = set()
    for eps in probes:
        ref = _counts(oracle(eps))
        got = {k: int(v[0]) for k, v in diagram.counts(eps).items()}
        assert got == ref, (eps, got, ref)
        seen.add(tuple(ref.values()))
    assert len(seen) >= 5          # the counts really change across the range


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_critical_points_match_the_oracle_point_by_point(eps):
    cp = critical_points(W, B, eps, BOX.tolist())
    ref = oracle(eps)
    assert cp.x.shape[0] == len(ref), (eps, cp.counts(), _counts(ref))
    for x, lam in ref:
        d = np.linalg.norm(cp.x.numpy() - x, axis=1)
        j = int(d.argmin())
        assert d[j] < 1e-7, (eps, x, cp.x)
        assert KINDS[int(cp.kind[j])] == KINDS[int((lam < 0).sum())]
        np.testing.assert_allclose(np.sort(cp.eigenvalues[j].numpy()), lam, rtol=1e-8,
                                   atol=1e-10 * np.abs(lam).max())
