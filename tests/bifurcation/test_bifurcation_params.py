"""critical_points and continuation refuse bad parameters up front with hjdl errors naming the
argument (never a raw torch / NumPy exception, never a grid so large it would not finish), and a
singular Levenberg-Marquardt system in 3-D no longer escapes as torch's LinAlgError."""

import math

import numpy as np
import pytest
import torch

from hjdl.bifurcation import continuation, critical_points
from hjdl.bifurcation.critical import MAX_GRID_POINTS
from hjdl.errors import EpsilonError, InputError, ShapeError

W1 = torch.tensor([[-1.0], [0.0], [1.0]], dtype=torch.float64)
B1 = torch.tensor([-0.5, 0.0, -0.5], dtype=torch.float64)
BOX1 = [[-3.0, 3.0]]

NOT_COUNTS = [True, 2.0, "4", None, [3], math.nan, torch.tensor(3)]
NOT_REALS = [True, "0.1", None, math.nan, math.inf, -math.inf, [0.1], 1 + 1j]

CP_BAD = {
    "n_grid": [-1, 10**7, True, 2.5, "4", [3]],
    "n_fine": [-1, MAX_GRID_POINTS + 1, True, 2.5, "4"],
    "max_iter": [0, -3, 10**6, *NOT_COUNTS],
    "xtol": [0.0, -1e-9, 2.0, *NOT_REALS],
    "plateau_tol": [-1e-300, 1.0, 5.0, *NOT_REALS],
    "merge_tol": [0.0, -1e-7, 1.5, *NOT_REALS],
}


@pytest.mark.parametrize("name,value", [(k, v) for k, vs in CP_BAD.items() for v in vs])
def test_critical_points_refuses_bad_parameters(name, value):
    with pytest.raises(InputError, match=f"^{name}: "):
        critical_points(W1, B1, 0.1, BOX1, **{name: value})


CONT_BAD = {
    "n_anchors": [0, -1, 10**5, *NOT_COUNTS],
    "n_full": [0, -2, *NOT_COUNTS],
    "h_max": [0.0, 1e-6, -0.1, *NOT_REALS],
    "max_steps": [0, 10**7, *NOT_COUNTS],
    "plateau_tol": [-1.0, 1.0, *NOT_REALS],
    "n_seed": [0, 2, -5, MAX_GRID_POINTS + 1, *[v for v in NOT_COUNTS if v is not None]],
    "n_grid": [-1, 10**7, 2.5, "4"],
    "progress": [1, "yes", None],
}


@pytest.mark.parametrize("name,value", [(k, v) for k, vs in CONT_BAD.items() for v in vs])
def test_continuation_refuses_bad_parameters(name, value):
    with pytest.raises(InputError, match=f"^{name}: "):
        continuation(W1, B1, 0.05, 2.0, BOX1, **{name: value})


@pytest.mark.parametrize("bounds,error,match", [
    ([[1.0, 1.0]], InputError, "low < high"),
    ([[2.0, 1.0]], InputError, "low < high"),
    ([[-1e308, 1e308]], InputError, "width overflows"),
    ([[0.0, math.nan]], InputError, "bounds"),
    ([[0.0, 1.0, 2.0]], ShapeError, "bounds"),
    ("box", InputError, "bounds"),
    ([[0.0, 1.0 + 1j]], InputError, "bounds"),
])
def test_bad_boxes_are_refused(bounds, error, match):
    with pytest.raises(error, match=match):
        critical_points(W1, B1, 0.1, bounds)
    with pytest.raises(error, match=match):
        continuation(W1, B1, 0.05, 2.0, bounds)


def test_grids_beyond_the_limit_name_the_argument_and_the_limit():
    W = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    b = torch.zeros(4, dtype=torch.float64)
    with pytest.raises(InputError, match="n_grid: 200 points per axis in 3-D .*at most 158 per axis"):
        critical_points(W, b, 0.5, [[-1, 1]] * 3, n_grid=200)
    with pytest.raises(InputError, match="n_seed: 1000 points per axis in 3-D"):
        continuation(W, b, 0.1, 1.0, [[-1, 1]] * 3, n_seed=1000)


def test_starts_layer_and_eps_errors():
    with pytest.raises(ShapeError, match=r"starts: expected shape \(S, 1\)"):
        critical_points(W1, B1, 0.1, BOX1, starts=[[0.0, 1.0]])
    with pytest.raises(InputError, match="starts"):
        critical_points(W1, B1, 0.1, BOX1, starts=[[math.nan]])
    with pytest.raises(ShapeError, match="input dimension"):
        critical_points(torch.zeros(3, 0), torch.zeros(3), 0.1, torch.zeros(0, 2))
    with pytest.raises(ShapeError, match="input dimension"):
        continuation(torch.zeros(3, 0), torch.zeros(3), 0.1, 1.0, torch.zeros(0, 2))
    for bad in (0.0, -1.0, math.nan, math.inf, "0.1"):
        with pytest.raises(EpsilonError, match="eps"):
            critical_points(W1, B1, bad, BOX1)
        with pytest.raises(EpsilonError, match="eps_min"):
            continuation(W1, B1, bad, 2.0, BOX1)
    with pytest.raises(InputError, match="eps_min < eps_max"):
        continuation(W1, B1, 0.5, 0.5, BOX1)


def test_accepted_edge_values_run():
    # NumPy integers, a single start as a vector, n_grid = 0 with explicit starts
    cp = critical_points(W1, B1, 0.1, BOX1, n_grid=np.int64(0), n_fine=0, starts=[0.4])
    assert cp.counts()["maximum"] == 1
    dg = continuation(W1, B1, 0.05, 2.0, BOX1, n_anchors=np.int64(3), h_max=0.5, max_steps=1000)
    assert dg.counts([0.1])["maximum"].tolist() == [2]


def test_singular_damped_newton_system_in_3d_is_not_a_raw_error():
    # b = 0: the maximum sits at the origin, where the damped system became exactly singular and
    # torch.linalg.solve raised its LinAlgError (3-D and above use the batched solver)
    W = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    cp = critical_points(W, torch.zeros(4, dtype=torch.float64), 0.5, [[-1, 1]] * 3, n_grid=2, n_fine=0)
    assert cp.counts() == {"minimum": 0, "saddle": 0, "maximum": 1}
    assert float(cp.x.abs().max()) < 1e-12
