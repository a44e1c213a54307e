"""The grid solver of u_t + ∇uᵀA∇u = ε tr(A∇²u) against the closed-form Hopf–Cole value (§3).

Oracle: the normalised Hopf–Cole value ũ written out below in plain NumPy (not hjdl.core).
Theory used for tolerances: the Lax–Friedrichs scheme is first order with a smooth error
expansion e(h) = C₁h + C₂h² + …, so the local order p(h) = log₂(e(h)/e(h/2)) equals
1 + O(h): it tends to 1 and its distance from 1 roughly halves at each refinement.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import numpy as np
import pytest

from hjdl.errors import (
    DomainError,
    EpsilonError,
    HJError,
    NotPositiveDefiniteError,
    ShapeError,
    UnknownNameError,
)
import hjdl.pde
from hjdl.pde import grid_convergence, observed_order, solve_viscous_hj


from helpers import numpy_hopf_cole as hopf_cole  # noqa: E402  (the shared NumPy oracle)


T0, T1, EPS, HALF_WIDTH = 1.0, 1.25, 0.5, 1.2
ATOMS_2D = dict(y=[[-0.7, -0.4], [0.5, 0.2], [0.0, 0.8]], g=[0.0, 0.2, 0.4])
CASES = {
    "1d-single": dict(y=[[0.3]], g=[0.2], A=[[1.0]], res=(16, 32, 64, 128)),
    "1d-multi-A0.7": dict(y=[[-0.9], [0.1], [0.8]], g=[0.3, 0.0, 0.5], A=[[0.7]], res=(16, 32, 64, 128)),
    "2d-multi-iso": dict(**ATOMS_2D, A=np.eye(2), res=(8, 16, 32, 64)),
    "2d-multi-aniso": dict(**ATOMS_2D, A=[[1.0, 0.3], [0.3, 0.7]], res=(8, 16, 32, 64)),
}
STUDIES = [(name, "lax-friedrichs") for name in CASES] + [("2d-multi-aniso", "local-lax-friedrichs")]


@functools.lru_cache(maxsize=None)
def study(name, scheme="lax-friedrichs", normalized=True):
    c = CASES[name]
    d = len(c["y"][0])
    exact = lambda t, p: hopf_cole(p, t, c["y"], c["g"], c["A"], EPS, normalized)  # noqa: E731
    return grid_convergence(
        exact, c["A"], EPS, T0, T1, [-HALF_WIDTH] * d, [HALF_WIDTH] * d, c["res"], scheme=scheme
    )


def local_orders(errors):
    return np.log2(errors[:-1] / errors[1:])


@pytest.mark.parametrize("name,scheme", STUDIES)
def test_first_order_convergence_to_hopf_cole(name, scheme):
    rec = study(name, scheme)
    assert np.all(np.diff(rec.errors) < 0)
    fit = observed_order(rec.h[-3:], rec.errors[-3:])
    assert abs(fit.order - rec.expected_order) <= 0.2, (fit, rec.errors)
    # p(h) = 1 + O(h): the distance to 1 shrinks (by about 2) at every refinement.
    gap = np.abs(local_orders(rec.errors) - 1.0)
    assert np.all(gap[1:] < 0.7 * gap[:-1]), local_orders(rec.errors)
    assert rec.steps[-1] > rec.steps[0]


@pytest.mark.parametrize("name", ["1d-multi-A0.7", "2d-multi-aniso"])
def test_unnormalized_value_does_not_converge(name):
    """Negative control: without the log terms the value misses the PDE by −εd/(2t).

    Started from and held at the un-normalised value, the solver follows the true PDE; its
    error therefore tends to (εd/2) log(t1/t0) (less the boundary's influence), not to 0.
    """
    good = study(name)
    bad = study(name, normalized=False)
    d = len(CASES[name]["y"][0])
    plateau = EPS * d / 2 * np.log(T1 / T0)
    assert bad.order < 0.3, bad.errors
    assert bad.errors[-1] > 0.5 * plateau
    assert bad.errors[-1] > 5 * good.errors[-1]


def test_inviscid_single_atom_converges():
    # eps = 0: u = g + |x − y|²/(4t) is smooth, the monotone scheme is first order.
    exact = lambda t, p: 0.2 + ((p - 0.3) ** 2).sum(-1) / (4 * t)  # noqa: E731
    rec = grid_convergence(exact, [[1.0]], 0.0, T0, T1, [-1.2], [1.2], (16, 32, 64, 128))
    assert abs(rec.order - 1.0) <= 0.2, rec.errors


@pytest.mark.parametrize("A", [[[1.0]], [[1.0, 0.3], [0.3, 0.7]]])
def test_affine_data_are_exact(A):
    # u = aᵀx + b − t aᵀAa solves the PDE; p⁻ = p⁺ = a, so Ĥ = H(a) and the scheme is exact.
    A = np.asarray(A)
    d = A.shape[0]
    a = np.array([0.7, -1.3])[:d]
    exact = lambda t, *mesh: sum(a[k] * mesh[k] for k in range(d)) + 0.4 - t * a @ A @ a  # noqa: E731
    axes = tuple(np.linspace(-1.0, 1.0, 17) for _ in range(d))
    mesh = np.meshgrid(*axes, indexing="ij")
    u, steps = solve_viscous_hj(exact(0.0, *mesh), axes, A, 0.3, 0.0, 0.5, exact, return_steps=True)
    assert steps > 1
    np.testing.assert_allclose(u, exact(0.5, *mesh), rtol=0, atol=1e-12)


def test_lands_exactly_on_t1_and_zero_length_interval():
    axes = (np.linspace(-1, 1, 21),)
    calls = []

    def boundary(t, x):
        calls.append(t)
        return np.zeros_like(x)

    u, steps = solve_viscous_hj(np.zeros(21), axes, [[1.0]], 0.2, 0.1, 0.37, boundary, return_steps=True)
    assert calls[-1] == 0.37 and steps == len(set(calls[1:]))
    one = lambda t, x: 0 * x + 1  # noqa: E731
    u, steps = solve_viscous_hj(np.ones(21), axes, [[1.0]], 0.2, 0.5, 0.5, one, return_steps=True)
    assert steps == 0 and np.all(u == 1.0)


def test_observed_order_fits_power_law():
    h = np.array([0.4, 0.2, 0.1, 0.05])
    fit = observed_order(h, 3.0 * h**1.5)
    assert fit.order == pytest.approx(1.5, abs=1e-12) and fit.stderr == pytest.approx(0, abs=1e-12)
    noisy = observed_order(h, 3.0 * h * np.array([1.0, 1.1, 0.9, 1.05]))
    assert noisy.stderr > 0 and abs(noisy.order - 1) < 3 * noisy.stderr + 0.1
    assert np.isnan(observed_order([0.1, 0.05], [1.0, 0.5]).stderr)


GOOD = dict(u_init=np.zeros((5, 6)), axes=(np.linspace(0, 1, 5), np.linspace(0, 1, 6)), A=np.eye(2),
            eps=0.1, t0=0.0, t1=0.1, boundary=lambda t, x, y: 0 * x)


@pytest.mark.parametrize(
    "change,error,match",
    [
        (dict(A=[[1.0, 0.5], [0.5, -1.0]]), NotPositiveDefiniteError, "eigenvalues"),
        (dict(A=[[1.0, 0.5], [0.2, 1.0]]), NotPositiveDefiniteError, "symmetric"),
        (dict(A=np.eye(3)), ShapeError, r"A must be .*\(2, 2\).*\(3, 3\)"),
        (dict(u_init=np.zeros((6, 5))), ShapeError, r"u_init .*\(5, 6\).*\(6, 5\)"),
        (dict(eps=-0.1), EpsilonError, "eps must be .*>= 0.*-0.1"),
        (dict(eps=float("nan")), EpsilonError, "eps"),
        (dict(t1=-1.0), DomainError, "t1 must be >= t0"),
        (dict(cfl=1.5), DomainError, r"cfl must be in \(0, 1\]; got 1.5"),
        (dict(axes=(np.array([0, 0.1, 0.5, 0.6, 1.0]), np.linspace(0, 1, 6))), DomainError, "uniformly"),
        (dict(axes=np.linspace(0, 1, 5)), ShapeError, "tuple of 1-D"),
        (dict(scheme="godunov"), UnknownNameError, "lax-friedrichs"),
        (dict(boundary=lambda t, x, y: np.zeros(7)), ShapeError, "boundary"),
    ],
)
def test_bad_inputs_raise_hjdl_errors(change, error, match):
    kwargs = {**GOOD, **change}
    with pytest.raises(error, match=match) as info:
        solve_viscous_hj(**kwargs)
    assert isinstance(info.value, HJError) and isinstance(info.value, ValueError)


def test_bad_study_and_fit_inputs():
    exact = lambda t, p: p.sum(-1)  # noqa: E731
    with pytest.raises(DomainError, match="resolutions"):
        grid_convergence(exact, [[1.0]], 0.1, 0, 0.1, [0], [1], [8])
    with pytest.raises(DomainError, match="lows < highs"):
        grid_convergence(exact, [[1.0]], 0.1, 0, 0.1, [1], [0], [8, 16])
    with pytest.raises(DomainError, match="errors must be finite and > 0"):
        observed_order([0.1, 0.05], [1.0, 0.0])
    with pytest.raises(ShapeError, match="same length"):
        observed_order([0.1, 0.05, 0.025], [1.0, 0.5])


@pytest.mark.parametrize("module", ["grid", "montecarlo", "quadrature", "__init__"])
def test_solvers_are_independent_of_core_and_torch(module):
    source = Path(hjdl.pde.__file__).with_name(f"{module}.py").read_text()
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):  # resolve relative imports from hjdl.pde
            base = ["hjdl", "pde"][: 3 - node.level] if node.level else []
            names.add(".".join(base + ([node.module] if node.module else [])))
    assert not {n for n in names if n.startswith(("torch", "hjdl.core", "hjdl.pde.verification"))}
