"""hjdl.solve against independent references: quadratic closed forms, the radial quadrature of the
100-d HJB, calibration of the error bar over seeds, the gradient against autograd, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import hjdl
from hjdl.errors import DomainError, EpsilonError, InputError, NonFiniteError, NotPositiveDefiniteError, ShapeError
from hjdl.solver import ToleranceWarning
from hjdl.solver.hjb import hjb_solve, hjb_terminal

F64 = torch.float64


def _spd(d, seed, cond=4.0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q @ np.diag(np.linspace(1.0, cond, d)) @ Q.T


def quadratic(a, Q, c):
    """g(y) = ½ (y − a)ᵀQ(y − a) + c as a torch callable."""
    a_t, Q_t = torch.as_tensor(a, dtype=F64), torch.as_tensor(Q, dtype=F64)
    return lambda y: 0.5 * (((y - a_t) @ Q_t) * (y - a_t)).sum(-1) + c


def quadratic_exact(x, a, Q, c, A, t, eps):
    """Closed form (NumPy): u = c + ½(x−a)ᵀ(Q⁻¹ + 2tA)⁻¹(x−a) + (eps/2) log det(I + 2tAQ);
    ∇u = (Q⁻¹ + 2tA)⁻¹(x − a)."""
    M = np.linalg.inv(np.linalg.inv(Q) + 2 * t * A)
    dx = np.asarray(x) - a
    u = c + 0.5 * np.einsum("bi,ij,bj->b", dx, M, dx)
    if eps > 0:
        u = u + 0.5 * eps * np.linalg.slogdet(np.eye(len(a)) + 2 * t * A @ Q)[1]
    return u, dx @ M


def _problem(d, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=d)
    Q = _spd(d, seed + 1, cond=3.0)
    A = _spd(d, seed + 2, cond=2.0)
    x = rng.normal(size=(3, d))
    return a, Q, A, x


# --- quadratic g: exact references in any d and eps ----------------------------------------------

@pytest.mark.parametrize("d", [1, 5, 12])
def test_hopf_lax_quadratic_certified_to_1e10(d):
    a, Q, A, x = _problem(d)
    sol = hjdl.solve(quadratic(a, Q, 0.7), torch.tensor(x), t=0.8, eps=0.0, A=torch.tensor(A),
                     g_convex=True)
    u, grad = quadratic_exact(x, a, Q, 0.7, A, 0.8, 0.0)
    assert sol.method == "hopf-lax" and sol.info["certified"]
    assert np.abs(sol.value.numpy() - u).max() < 1e-10
    lo, hi = sol.interval[:, 0].numpy(), sol.interval[:, 1].numpy()
    assert np.all(lo <= u + 1e-12) and np.all(u <= hi + 1e-12) and np.all(hi - lo < 1e-10)
    assert np.abs(sol.grad.numpy() - grad).max() < 1e-8


def test_hopf_lax_nonconvex_multistart_says_so():
    g = lambda y: torch.cos(3 * y[:, 0]) + 0.1 * (y * y).sum(-1)   # non-convex, many local minima
    sol = hjdl.solve(g, torch.tensor([[2.0, 0.0]], dtype=F64), t=1.0, eps=0, seed=0, starts=16)
    assert not sol.info["certified"] and "not" in sol.info["note"]
    assert sol.interval[0, 0] == -math.inf
    # brute force on a fine grid of y (independent): min_y g(y) + |x − y|²/4
    ys = torch.linspace(-6, 6, 4001, dtype=F64)
    Y = torch.stack(torch.meshgrid(ys, torch.linspace(-1, 1, 201, dtype=F64), indexing="ij"), -1).reshape(-1, 2)
    brute = float((g(Y) + ((Y - torch.tensor([2.0, 0.0], dtype=F64)) ** 2).sum(-1) / 4).min())
    assert float(sol.value[0]) <= brute + 1e-6 and float(sol.value[0]) > brute - 1e-4


@pytest.mark.parametrize("d,eps", [(3, 0.3), (20, 1.7)])
def test_importance_sampling_is_exact_for_quadratic_g(d, eps):
    a, Q, A, x = _problem(d, seed=3)
    sol = hjdl.solve(quadratic(a, Q, -0.2), torch.tensor(x), t=0.6, eps=eps, A=torch.tensor(A),
                     method="is", budget=512, seed=1)
    u, grad = quadratic_exact(x, a, Q, -0.2, A, 0.6, eps)
    assert sol.info["start"] == ["Laplace"] * 3
    assert np.abs(sol.value.numpy() - u).max() < 1e-10        # every weight equal: no variance
    assert float(sol.stderr.max()) < 1e-7                      # sqrt of rounding in N·Σπ² − 1
    assert np.all(np.abs(sol.grad.numpy() - grad) < 5 * sol.grad_stderr.numpy() + 1e-9)


@pytest.mark.parametrize("method", ["mc", "qmc"])
@pytest.mark.parametrize("d", [4, 50])
def test_random_methods_quadratic_within_error_bar(method, d):
    a, Q, A, x = _problem(d, seed=5)
    eps = 2.0
    sol = hjdl.solve(quadratic(a, 0.05 * Q, 0.1), torch.tensor(x), t=0.5, eps=eps, A=torch.tensor(A),
                     method=method, budget=2**13, seed=2)
    u, grad = quadratic_exact(x, a, 0.05 * Q, 0.1, A, 0.5, eps)
    err = np.abs(sol.value.numpy() - u)
    assert np.all(err < 4 * sol.stderr.numpy()), (err, sol.stderr)
    assert float(sol.stderr.max()) < 0.05
    assert np.all(np.abs(sol.grad.numpy() - grad) < 5 * sol.grad_stderr.numpy() + 1e-12)


# --- the gradient ------------------------------------------------------------------------------

def test_grad_is_the_gradient_of_the_lse_layer_of_the_atoms():
    a, Q, A, x = _problem(3, seed=7)
    for method in ("mc", "qmc", "is"):
        sol = hjdl.solve(quadratic(a, Q, 0.0), torch.tensor(x), t=0.9, eps=0.8, A=torch.tensor(A),
                         method=method, budget=1024, seed=3)
        for b in range(3):
            xb = torch.tensor(x[b], requires_grad=True)
            v = hjdl.hopf_cole(xb, sol.atoms[b], 0.8, 0.9, normalized=True)  # core's code path
            (gv,) = torch.autograd.grad(v, xb)
            assert abs(float(v.detach()) - float(sol.value[b])) < 1e-10
            assert torch.allclose(gv, sol.grad[b], atol=1e-9, rtol=1e-9)


def test_grad_against_autograd_of_value():
    d, eps, t = 3, 2.0, 1.0
    a, Q, A, x = _problem(d, seed=11)
    Q = 0.2 * Q
    g = quadratic(a, Q, 0.0)
    xt = torch.tensor(x[:1], requires_grad=True)
    exact_u = lambda z: (0.5 * (z - torch.tensor(a)) @ torch.linalg.inv(torch.linalg.inv(torch.tensor(Q))
                                                                      + 2 * t * torch.tensor(A))
                         @ (z - torch.tensor(a)).T).diagonal()
    (auto_exact,) = torch.autograd.grad(exact_u(xt).sum(), xt)   # autograd of the exact value
    sol = hjdl.solve(g, x[:1], t=t, eps=eps, A=A, method="mc", budget=2**15, seed=4)
    assert float(sol.ess[0]) > 0.3 * 2**15            # a regime where both error bars are sound
    assert torch.all((sol.grad - auto_exact).abs() < 5 * sol.grad_stderr)
    # autograd through the Monte Carlo value itself (reparameterised atoms): E_π ∇g
    C = torch.linalg.cholesky(torch.tensor(A))
    Z = torch.randn(2**15, d, generator=torch.Generator().manual_seed(4), dtype=F64)
    val = -eps * (torch.logsumexp(-g(xt + math.sqrt(2 * eps * t) * Z @ C.T) / eps, 0) - math.log(Z.shape[0]))
    (auto_mc,) = torch.autograd.grad(val, xt)
    assert abs(float(val) - float(sol.value[0])) < 1e-12           # same atoms, same value
    assert torch.all((sol.grad - auto_mc).abs() < 10 * sol.grad_stderr)   # two estimators' errors
    sol0 = hjdl.solve(g, x[:1], t=t, eps=0, A=A, g_convex=True)
    (auto0,) = torch.autograd.grad(exact_u(xt).sum(), xt)
    assert torch.allclose(sol0.grad, auto0, atol=1e-8)


# --- vectorisation, chunking, seeds, auto ---------------------------------------------------------

def test_batch_equals_single_points_and_chunking():
    g = hjb_terminal
    x = torch.randn(4, 7, generator=torch.Generator().manual_seed(0), dtype=F64)
    big = 1 << 24
    sol = hjdl.solve(g, x, t=1.0, eps=0.5, method="mc", budget=1000, seed=9, chunk=big)
    for b in range(4):
        one = hjdl.solve(g, x[b:b + 1], t=1.0, eps=0.5, method="mc", budget=1000, seed=9, chunk=big)
        assert abs(float(one.value[0]) - float(sol.value[b])) < 1e-12
    small = hjdl.solve(g, x, t=1.0, eps=0.5, method="mc", budget=1000, seed=9, chunk=64)
    assert torch.all((small.value - sol.value).abs() < 4 * (small.stderr + sol.stderr))
    for b in range(4):
        assert abs(float(hjdl.hopf_cole(x[b], small.atoms[b], 0.5, 1.0, normalized=True)) - float(small.value[b])) < 1e-10


def test_seed_reproducible_and_generator_and_dtype():
    x = torch.zeros(2, 5, dtype=torch.float32)
    a = hjdl.solve(hjb_terminal, x, t=1.0, eps=1.0, budget=500, seed=3)
    b = hjdl.solve(hjb_terminal, x, t=1.0, eps=1.0, budget=500, seed=torch.Generator().manual_seed(3))
    assert torch.equal(a.value, b.value) and a.value.dtype == torch.float32
    c = hjdl.solve(hjb_terminal, x, t=1.0, eps=1.0, budget=500)
    assert isinstance(c.info["seed"], int)


def test_auto_records_its_choice():
    x = torch.zeros(1, 20, dtype=F64)
    easy = hjb_solve(1.0, x, budget=1024, seed=0)
    hard = hjb_solve(200.0, x, budget=1024, seed=0)
    zero = hjdl.solve(hjb_terminal, x[:, :3], t=1.0, eps=0)
    assert easy.method == "mc" and "ESS" in easy.reason
    assert hard.method == "is" and "collapse" in hard.reason
    assert zero.method == "hopf-lax" and "eps = 0" in zero.reason


# --- bad input ---------------------------------------------------------------------------------

def test_bad_g_named():
    x = torch.zeros(2, 3, dtype=F64)
    with pytest.raises(ShapeError, match=r"g: .*returned shape \(\d+, 2\)"):
        hjdl.solve(lambda y: y[:, :2], x, t=1.0, eps=1.0, budget=16, seed=0)
    with pytest.raises(NonFiniteError, match=r"g: .*nan"):
        hjdl.solve(lambda y: torch.where(y[:, 0] > 0, torch.nan, 0.0), x, t=1.0, eps=1.0, budget=64, seed=0)
    with pytest.raises(NonFiniteError, match=r"g: .*inf"):
        hjdl.solve(lambda y: torch.log(y[:, 0] * 0), x, t=1.0, eps=1.0, budget=16, seed=0)
    with pytest.raises(InputError, match="g: expected a callable"):
        hjdl.solve(3.0, x, t=1.0, eps=1.0)


def test_bad_arguments():
    x = torch.zeros(2, 3, dtype=F64)
    with pytest.raises(DomainError, match="t:"):
        hjdl.solve(hjb_terminal, x, t=0.0, eps=1.0)
    with pytest.raises(DomainError, match="t:"):
        hjdl.solve(hjb_terminal, x, t=-1.0, eps=1.0)
    with pytest.raises(EpsilonError, match="eps"):
        hjdl.solve(hjb_terminal, x, t=1.0, eps=-0.1)
    with pytest.raises(NotPositiveDefiniteError, match="A:"):
        hjdl.solve(hjb_terminal, x, t=1.0, eps=1.0, A=torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=F64)))
    with pytest.raises(NotPositiveDefiniteError, match="A:"):
        hjdl.solve(hjb_terminal, x, t=1.0, eps=1.0, A=torch.tensor([[1.0, 2, 0], [0, 1, 0], [0, 0, 1]], dtype=F64))
    with pytest.raises(NotPositiveDefiniteError, match="A:"):
        hjdl.solve(hjb_terminal, x, t=1.0, eps=1.0, A=-2.0)
    with pytest.raises(ShapeError, match="A:"):
        hjdl.solve(hjb_terminal, x, t=1.0, eps=1.0, A=torch.ones(4, dtype=F64))
    with pytest.raises(ShapeError, match="x:"):
        hjdl.solve(hjb_terminal, torch.zeros(2, 3, 4), t=1.0, eps=1.0)
    with pytest.raises(InputError, match="method"):
        hjdl.solve(hjb_terminal, x, t=1.0, eps=1.0, method="pinn")
    with pytest.raises(InputError, match="hopf-lax"):
        hjdl.solve(hjb_terminal, x, t=1.0, eps=0.0, method="mc")
    with pytest.raises(InputError, match="budget"):
        hjdl.solve(hjb_terminal, x, t=1.0, eps=1.0, budget=1)


def test_tolerance_warning_gives_achieved_error_bar():
    x = torch.zeros(1, 10, dtype=F64)
    with pytest.warns(ToleranceWarning, match=r"error bar of [0-9.e-]+ .*above tol=1e-06.*atoms would reach it"):
        hjb_solve(1.0, x, method="mc", budget=256, seed=0, tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hjb_solve(1.0, x, method="mc", budget=256, seed=0, tol=1.0)


def test_duality_gap_certificate_brackets_an_unconverged_minimiser(monkeypatch):
    # stop the optimiser early: the certificate must still bracket the exact value, with a gap
    import functools

    import hjdl.solver.hopf_lax as hl

    monkeypatch.setattr(hl, "minimise", functools.partial(hl.minimise, max_iter=2, newton=0))
    a, Q, A, x = _problem(6, seed=13)
    Q = _spd(6, 99, cond=200.0)
    sol = hjdl.solve(quadratic(a, Q, 0.0), torch.tensor(x), t=1.0, eps=0, A=torch.tensor(A), g_convex=True)
    u, _ = quadratic_exact(x, a, Q, 0.0, A, 1.0, 0.0)
    lo, hi = sol.interval[:, 0].numpy(), sol.interval[:, 1].numpy()
    assert np.all(lo <= u + 1e-12) and np.all(u <= hi + 1e-12)
    assert np.all(hi - lo > 1e-8)                   # not converged: a real gap, still valid


@pytest.mark.parametrize("A_form", ["vector", "number"])
@pytest.mark.parametrize("method", ["mc", "is"])
def test_diagonal_metric_forms(A_form, method):
    # a diagonal A given as a (d,) vector or a number takes the O(d) path: value and grad
    d, eps, t = 6, 1.5, 0.7
    rng = np.random.default_rng(21)
    diag = rng.uniform(0.5, 2.0, d) if A_form == "vector" else np.full(d, 1.7)
    A_arg = torch.tensor(diag) if A_form == "vector" else 1.7
    a, Q, _, x = _problem(d, seed=21)
    Q = 0.1 * Q
    sol = hjdl.solve(quadratic(a, Q, 0.3), torch.tensor(x), t=t, eps=eps, A=A_arg, method=method,
                     budget=2**13, seed=5)
    u, grad = quadratic_exact(x, a, Q, 0.3, np.diag(diag), t, eps)
    assert np.all(np.abs(sol.value.numpy() - u) < 4 * sol.stderr.numpy() + 1e-10)
    assert np.all(np.abs(sol.grad.numpy() - grad) < 5 * sol.grad_stderr.numpy() + 1e-9)
