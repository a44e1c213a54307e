"""The minimum enclosing ball against brute force and an independent primal optimisation."""

import itertools

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from hjdl.errors import NonFiniteError, ShapeError
from hjdl.robustness import enclosing_ball


def _brute_force(P):
    """Smallest ball through every subset of <= d+1 points (circumcentre) that holds all points."""
    n, d = P.shape
    best = np.inf
    for k in range(1, d + 2):
        for S in itertools.combinations(range(n), k):
            Q = P[list(S)]
            A = Q[1:] - Q[0]
            if k > 1:
                G = A @ A.T
                if abs(np.linalg.det(G)) < 1e-12:
                    continue
                mu = np.linalg.solve(G, 0.5 * (A * A).sum(1))
                c = Q[0] + mu @ A
            else:
                c = Q[0]
            r = np.sqrt(((Q - c) ** 2).sum(1)).max()
            if np.sqrt(((P - c) ** 2).sum(1)).max() <= r * (1 + 1e-12) + 1e-12:
                best = min(best, r)
    return best


@pytest.mark.parametrize("seed,d,n", [(0, 2, 9), (1, 2, 12), (2, 3, 9), (3, 3, 11), (4, 1, 7)])
def test_matches_brute_force(seed, d, n):
    P = np.random.default_rng(seed).normal(size=(n, d))
    ball = enclosing_ball(torch.from_numpy(P))
    assert abs(ball.radius - _brute_force(P)) <= 1e-12 * (1 + ball.radius)
    assert ball.max_outside <= 1e-12 and ball.min_weight >= -1e-12


@pytest.mark.parametrize("seed,n,d", [(0, 40, 8), (1, 128, 20), (2, 30, 50)])
def test_matches_primal_optimisation_in_high_dimension(seed, n, d):
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(n, d)) + rng.normal(size=d)
    ball = enclosing_ball(torch.from_numpy(P))
    c = ball.center.numpy()
    assert np.sqrt(((P - c) ** 2).sum(1)).max() <= ball.radius * (1 + 1e-12)
    # independent: minimise t over (c, t) with |p_j − c|² <= t (SLSQP from the mean)
    z0 = np.concatenate([P.mean(0), [((P - P.mean(0)) ** 2).sum(1).max()]])
    res = minimize(lambda z: z[-1], z0, jac=lambda z: np.eye(d + 1)[-1], method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda z: z[-1] - ((P - z[:-1]) ** 2).sum(1),
                                 "jac": lambda z: np.hstack([2 * (P - z[:-1]), np.ones((n, 1))])}],
                   options={"ftol": 1e-14, "maxiter": 1000})
    r_primal = np.sqrt(((P - res.x[:-1]) ** 2).sum(1).max())
    assert ball.radius <= r_primal * (1 + 1e-12)           # ours is optimal
    assert ball.radius >= r_primal * (1 - 1e-6)            # and agrees with the optimiser


def test_known_configurations():
    # regular simplex: vertices e_i of R^n, R = sqrt((n − 1)/n)
    n = 7
    ball = enclosing_ball(torch.eye(n, dtype=torch.float64))
    assert abs(ball.radius - np.sqrt((n - 1) / n)) < 1e-13
    # one point, duplicates, collinear points (the two extremes decide)
    assert enclosing_ball(torch.tensor([[1.0, 2.0]])).radius == 0.0
    dup = torch.tensor([[1.0, 0.0]] * 5 + [[3.0, 0.0]] * 4, dtype=torch.float64)
    assert abs(enclosing_ball(dup).radius - 1.0) < 1e-13
    line = torch.linspace(-2, 5, 30, dtype=torch.float64)[:, None] * torch.tensor([[1.0, 2.0, -1.0]],
                                                                                   dtype=torch.float64)
    assert abs(enclosing_ball(line).radius - 3.5 * np.sqrt(6)) < 1e-12
    # points on a sphere around c: R is the sphere's radius when they surround c
    rng = np.random.default_rng(5)
    U = rng.normal(size=(60, 4))
    U = 2.5 * U / np.linalg.norm(U, axis=1, keepdims=True) + 1.0
    assert abs(enclosing_ball(torch.from_numpy(U)).radius - 2.5) < 1e-12


def test_errors():
    with pytest.raises(ShapeError, match="points"):
        enclosing_ball(torch.zeros(0, 3))
    with pytest.raises(NonFiniteError, match="points"):
        enclosing_ball(torch.tensor([[0.0, float("inf")]]))


@pytest.mark.parametrize("s", [1e-160, 1e154, 1e160])
def test_ball_scales_with_the_points(s):
    # squared distances of such points over/underflow float64; the ball must scale exactly
    P = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = enclosing_ball(P)
    got = enclosing_ball(P * s)
    assert abs(got.radius / (ref.radius * s) - 1) <= 1e-12
    assert float((got.center / s - ref.center).abs().max()) <= 1e-12 * ref.radius
    assert got.max_outside <= 1e-12 * got.radius


def test_ball_of_rows_near_a_sphere_far_from_the_origin():
    # offset 1e6 leaves the centred rows accurate to ~1e-10 only: the optimality test must not
    # demand more (it raised ConvergenceError), and the bound uses the largest distance found
    from hjdl.robustness import curvature, curvature_bound
    for seed in range(40):
        rng = np.random.default_rng(seed)
        S = rng.standard_normal((7, 3))
        S /= np.linalg.norm(S, axis=1, keepdims=True)
        P = S + 1e6
        ball = enclosing_ball(torch.tensor(P))
        ref = _brute_force(S)
        assert abs(ball.radius - ref) <= 1e-8 and ball.max_outside <= 1e-8
    W = torch.tensor(P)
    b = torch.zeros(7, dtype=torch.float64)
    x = torch.randn(50, 3, dtype=torch.float64) * 1e-6
    assert bool((curvature((W, b, 1.0), x) <= curvature_bound((W, b, 1.0))).all())
