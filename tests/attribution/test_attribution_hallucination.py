"""hallucination_report(): T1 sharpened bound vs measured excess, gap, radius, edge cases."""

import math

import numpy as np
import pytest
import torch

import hjdl
from hjdl.attribution import GibbsAverager, hallucination_report
from hjdl.errors import InputError


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.5, 5.0])
def test_bound_holds_and_matches_oracles(eps):
    g = torch.Generator().manual_seed(11)
    W = torch.randn(7, 2, generator=g, dtype=torch.float64)
    b = torch.randn(7, generator=g, dtype=torch.float64)
    x = 3 * torch.randn(200, 2, generator=g, dtype=torch.float64)
    r = hallucination_report((W, b, eps), x, t=0.5)
    z = (x @ W.T + b).numpy()
    zs = np.sort(z, 1)
    assert np.allclose(r.gap.numpy(), zs[:, -1] - zs[:, -2], atol=1e-14)
    excess = hjdl.lse_layer(x, W, b, eps).numpy() - zs[:, -1]
    assert np.allclose(r.excess.numpy(), excess, atol=1e-13)
    assert bool(r.bound_holds.all())
    assert bool((r.excess >= 0).all()) and bool((r.excess <= math.log(7) * eps + 1e-13).all())  # T1
    atoms = (2 * 0.5 * W).numpy()
    dist = np.sqrt(((x.numpy()[:, None] - atoms[None]) ** 2).sum(-1)).min(1)
    assert np.allclose(r.nearest_atom_distance.numpy(), dist, atol=1e-12)
    assert r.diffusion_radius == pytest.approx(math.sqrt(2 * eps * 0.5))
    assert torch.equal(r.outside_radius, r.nearest_atom_distance > r.diffusion_radius)
    if eps > 0:
        assert np.allclose(r.ratio.numpy(), (zs[:, -1] - zs[:, -2]) / (eps * math.log(7)))


def test_bound_is_tight_for_two_neurons():
    # N = 2: f − max z = eps log(1 + e^{−Δ/eps}) exactly, so the bound is attained
    W = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    r = hallucination_report((W, torch.zeros(2, dtype=torch.float64), 0.3), torch.linspace(-2, 2, 9)[:, None].double())
    assert torch.allclose(r.excess, r.bound, atol=1e-15)


def test_averager_and_lone_atom():
    y = np.array([[0.0, 0.0], [3.0, 0.0]])
    m = GibbsAverager(y, np.array([0.0, 1.0]), 0.02, t=1.0)
    r = hallucination_report(m, np.array([[0.1, 0.0], [1.5, 2.0], [10.0, 0.0]]))
    assert r.outside_radius.tolist() == [False, True, True]
    assert r.extrapolated.tolist() == [True, False, True]
    r1 = hallucination_report((torch.ones(1, 1), torch.zeros(1), 0.5), torch.ones(2, 1))
    assert bool(torch.isinf(r1.gap).all()) and bool((r1.bound == 0).all()) and bool(r1.bound_holds.all())
    with pytest.raises(InputError, match="extrapolation_ratio"):
        hallucination_report(m, np.zeros((1, 2)), extrapolation_ratio=-1)
