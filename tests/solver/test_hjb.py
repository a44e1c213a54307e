"""The 100-d HJB of Han, Jentzen & E against an independent radial quadrature, the quadrature
itself against closed forms, and the calibration of the error bar over seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hjdl.solver.hjb import hjb_reference, hjb_solve
from hjdl.solver.reference import radial_reference

from test_solve import quadratic_exact

F64 = torch.float64


# --- the 100-d HJB against the independent radial quadrature -------------------------------------

@pytest.mark.parametrize("lam", [1.0, 10.0, 50.0])
def test_hjb_100d_against_radial_quadrature(lam):
    d = 100
    x = torch.zeros(2, d, dtype=F64)
    x[1, :4] = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=F64)
    sol = hjb_solve(lam, x, budget=2**12, seed=0)
    if lam == 50.0:
        assert sol.method == "is"                # plain Monte Carlo collapses there
    for b in range(2):
        ref, bound = hjb_reference(lam, float(x[b].norm()), d)
        assert bound < 1e-10
        err = abs(float(sol.value[b]) - ref)
        assert err < 4 * float(sol.stderr[b]) + bound, (lam, b, err, float(sol.stderr[b]))
        assert float(sol.stderr[b]) / ref < 2e-3


def test_radial_reference_noncentral_against_closed_form():
    # g = |y|²/2 + c in d = 100, x ≠ 0: exercises the noncentral density (Bessel) path
    d, eps, t, a = 100, 0.4, 0.7, 1.3
    x = np.zeros((1, d))
    x[0, :3] = [2.0, -1.0, 3.0]
    u, bound = radial_reference(lambda r2: r2 / 2 + 0.25, float(np.linalg.norm(x)), d, eps=eps, t=t, a=a)
    exact, _ = quadratic_exact(x, np.zeros(d), np.eye(d), 0.25, a * np.eye(d), t, eps)
    assert abs(u - exact[0]) < max(bound, 1e-10) and bound < 1e-9


# --- the error bar is calibrated -----------------------------------------------------------------

def test_stderr_coverage_over_seeds():
    d, lam = 10, 1.0
    ref, _ = hjb_reference(lam, 1.0, d)
    x = torch.zeros(1, d, dtype=F64)
    x[0, 0] = 1.0
    hits = []
    for s in range(120):
        sol = hjb_solve(lam, x, method="mc", budget=256, seed=s)
        hits.append(abs(float(sol.value[0]) - ref) <= 2 * float(sol.stderr[0]))
    cover = np.mean(hits)
    assert 0.87 <= cover <= 0.995, cover           # nominal 0.954; binomial sd 0.019 at 120 seeds


def test_qmc_stderr_coverage_over_seeds():
    d, lam = 6, 2.0
    ref, _ = hjb_reference(lam, 0.5, d)
    x = torch.zeros(1, d, dtype=F64)
    x[0, 0] = 0.5
    hits = [abs(float((s := hjb_solve(lam, x, method="qmc", budget=256, replicates=16, seed=k)).value[0]) - ref)
            <= 2 * float(s.stderr[0]) for k in range(40)]
    assert np.mean(hits) >= 0.8, np.mean(hits)     # t(15) 2-sigma coverage is ~0.94; sd 0.04 at 40 seeds


