"""Hopf–Cole far from the origin, and the LSE layer near the overflow threshold, against an
independent high-precision evaluation of the definitions (mpmath at 400 bits, exact inputs).

Far from the origin the affine form ``xᵀA⁻¹x/(4t) − LSE(x Wᵀ + b)`` subtracts two numbers of
size |x|²/(4t) to get one of size |x − y|²/(4t): hopf_cole must evaluate such points from the
differences ``x − y_j`` (its distance form), and so must the closed-form derivatives.
"""

import math

import numpy as np
import pytest
import torch

import hjdl

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp

F64 = torch.float64
U = np.finfo(np.float64).eps


def far_problem(X, anisotropic, seed=0, d=2, n=5, p=3):
    """Atoms and points around c = X·v, offsets of size h (the smallest the float spacing at |c|
    resolves well), values g of the size of the costs h²."""
    rng = np.random.default_rng(seed)
    v = np.array([0.6, 0.8]) if d == 2 else rng.normal(size=d) / math.sqrt(d)
    h = max(1.0, X * 1e-12)
    c = X * v
    y = c + h * rng.normal(size=(n, d))
    x = c + h * rng.normal(size=(p, d))
    g = h * h * rng.uniform(0, 0.25, size=n)
    A = None
    if anisotropic:
        M = rng.normal(size=(d, d))
        A = M @ M.T / d + 0.5 * np.eye(d)
        A = (A + A.T) / 2
    return x, y, g, A, h


def mp_reference(x, y, g, A, eps, t):
    """u, u_t, ∇u at each point from the definitions, in mpmath (the inputs are exact doubles),
    with the largest ``|g_j| + D_j/(4t)`` and ``D_j = (x − y_j)ᵀA⁻¹(x − y_j)`` over the atoms of
    non-negligible weight (the size of the terms a stable evaluation sums)."""
    mp.prec = 400
    d = y.shape[1]
    Ainv = mpmath.inverse(mpmath.matrix(np.eye(d).tolist() if A is None else A.tolist()))
    t = mpmath.mpf(t)
    eps = mpmath.mpf(eps)
    out = []
    for xp in x:
        deltas = [mpmath.matrix([mpmath.mpf(float(a)) - mpmath.mpf(float(b)) for a, b in zip(xp, yj)])
                  for yj in y]
        D = [(dl.T * Ainv * dl)[0] for dl in deltas]
        cost = [mpmath.mpf(float(gj)) + Dj / (4 * t) for gj, Dj in zip(g, D)]
        cmin = min(cost)
        if eps == 0:
            w = [mpmath.mpf(1) if cj == cmin else mpmath.mpf(0) for cj in cost]
            u = cmin
        else:
            w = [mpmath.exp(-(cj - cmin) / eps) for cj in cost]
            u = cmin - eps * mpmath.log(sum(w))
        total = sum(w)
        w = [wj / total for wj in w]
        ut = -sum(wj * Dj for wj, Dj in zip(w, D)) / (4 * t * t)
        mean_delta = sum((wj * dl for wj, dl in zip(w, deltas)), mpmath.matrix(d, 1))
        grad = Ainv * mean_delta / (2 * t)
        # the size of the terms that matter: atoms of non-negligible weight
        live = [j for j, wj in enumerate(w) if wj > mpmath.mpf(10) ** -40]
        out.append((u, ut, [grad[i] for i in range(d)],
                    max(abs(mpmath.mpf(float(g[j]))) + D[j] / (4 * t) for j in live),
                    max(D[j] for j in live)))
    return out


def data_of(y, g, A):
    return hjdl.InitialData(torch.tensor(y), torch.tensor(g), None if A is None else torch.tensor(A))


@pytest.mark.parametrize("X", [1e2, 1e4, 1e8, 1e150, 1e154])  # 1e2: cancellation of ~9 bits
@pytest.mark.parametrize("anisotropic", [False, True])
@pytest.mark.parametrize("eps", [0.0, 1e-12, 1.0, 1e12])
def test_hopf_cole_far_from_the_origin_matches_mpmath(X, anisotropic, eps):
    x, y, g, A, h = far_problem(X, anisotropic)
    t = 0.7
    data = data_of(y, g, A)
    xt = torch.tensor(x)
    ref = mp_reference(x, y, g, A, eps, t)
    u = hjdl.hopf_cole(xt, data, eps, t=t)
    ut = hjdl.hopf_cole_time_derivative(xt, data, eps, t=t)
    grad = hjdl.hopf_cole_grad(xt, data, eps, t=t)
    lax = hjdl.hopf_lax(xt, data, t=t)
    ref0 = mp_reference(x, y, g, A, 0.0, t) if eps else ref
    for i, (u_ref, ut_ref, grad_ref, cost_scale, D_max) in enumerate(ref):
        # rounding of the distance form: a few ulps of the costs (and of eps log N)
        scale = float(cost_scale) + eps * math.log(len(y))
        assert abs(float(u[i]) - float(u_ref)) <= 64 * U * scale, (i, float(u[i]), float(u_ref))
        assert abs(float(ut[i]) - float(ut_ref)) <= 64 * U * float(D_max) / (4 * t * t)
        g_scale = math.sqrt(float(D_max)) / t * (1 if A is None else float(np.abs(np.linalg.inv(A)).max()) * 4)
        for k in range(len(grad_ref)):
            assert abs(float(grad[i, k]) - float(grad_ref[k])) <= 256 * U * g_scale
        assert abs(float(lax[i]) - float(ref0[i][0])) <= 64 * U * float(ref0[i][3])


# At eps = 1e12 and costs ~1e276 the kernel's second derivative is off (hjdl.lse's autograd Hessian
# of [0, −1e300] at eps = 1e12 is 1e-12 instead of 0: its branch for a subnormal sum of the
# non-top terms has no log1p); the value and first derivatives are right.
KERNEL_HESSIAN = pytest.mark.xfail(reason="kernel: second derivative 1/eps in the eps > 1, "
                                          "subnormal-rest branch of _viscous_lse", strict=False)


@pytest.mark.parametrize("X", [1e4, 1e8, 1e150, 1e154])
@pytest.mark.parametrize("anisotropic", [False, True])
@pytest.mark.parametrize("eps", [1e-12, 1.0, pytest.param(1e12, marks=KERNEL_HESSIAN)])
def test_pde_residual_far_from_the_origin(X, anisotropic, eps):
    x, y, g, A, h = far_problem(X, anisotropic, seed=1)
    t = 0.7
    data = data_of(y, g, A)
    r = hjdl.pde_residual(torch.tensor(x), data, eps, t=t)
    # the residual's terms: u_t and |∇u|²_A are O(D/t²), eps tr(A∇²u) is O(eps d/t + D/t²)
    D_max = max(float(v[4]) for v in mp_reference(x, y, g, A, eps, t))
    lam = 1.0 if A is None else float(np.linalg.eigvalsh(A).max() / np.linalg.eigvalsh(A).min())
    scale = lam * D_max / (t * t) + eps * len(x[0]) / t
    assert torch.isfinite(r).all()
    assert float(r.abs().max()) <= 1e-9 * scale


def test_points_near_and_far_in_one_call_match_separate_calls():
    # one batch mixing points that take the affine form and points that take the distances
    x, y, g, A, _ = far_problem(1e8, True)
    near = np.random.default_rng(3).normal(size=(4, 2))
    data = data_of(np.vstack([y, near]), np.concatenate([g, np.zeros(4)]), A)
    pts = torch.tensor(np.vstack([near, x]))
    both = hjdl.hopf_cole(pts, data, 0.3)
    for i in range(pts.shape[0]):
        assert float(both[i]) == float(hjdl.hopf_cole(pts[i:i + 1], data, 0.3)[0])
    ref = mp_reference(pts.numpy(), data.y.numpy(), data.g.numpy(), A, 0.3, 1.0)
    for i, v in enumerate(ref):
        assert abs(float(both[i]) - float(v[0])) <= 64 * U * (float(v[3]) + 0.3 * math.log(9))


def test_autograd_through_a_mixed_batch_is_finite_and_matches_the_closed_form():
    # the far points' affine values (|y|² overflows at 1e155: NaN logits) must not reach the graph
    x, y, g, A, _ = far_problem(1e155, False)
    near = np.random.default_rng(4).normal(size=(3, 2))
    data = data_of(np.vstack([y, near]), np.concatenate([g, np.zeros(3)]), None)
    pts = torch.tensor(np.vstack([near, x]), requires_grad=True)
    u = hjdl.hopf_cole(pts, data, 0.5)
    (gx,) = torch.autograd.grad(u.sum(), pts)
    closed = hjdl.hopf_cole_grad(pts.detach(), data, 0.5)
    assert torch.isfinite(gx).all()
    assert torch.allclose(gx, closed, rtol=1e-12, atol=1e-12 * float(closed[:3].abs().max()))


# ----------------------------------------------------------------------------------------------
# the LSE layer: logits formed before dividing by eps


@pytest.mark.parametrize("eps", [1e-12, 1e-3, 1.0])
def test_lse_layer_does_not_overflow_when_logit_over_eps_does(eps):
    # logit / eps = 1e309 overflows; the logit itself (1e297) does not
    W = torch.tensor([[1e297], [0.0]], dtype=F64)
    b = torch.zeros(2, dtype=F64)
    x = torch.tensor([[1.0], [-1.0]], dtype=F64)
    out = hjdl.lse_layer(x, W, b, eps)
    assert float(out[0]) == 1e297  # eps log(1 + e^{-1e297/eps}) vanishes
    assert float(out[1]) == eps * math.log1p(math.exp(-1e297 / eps)) or float(out[1]) == 0.0
    # the same through hopf_cole: u = |x − y|²/(4t) with |x||y|/(2t eps) = 5e309
    data = hjdl.InitialData(torch.tensor([[1e150]], dtype=F64), torch.zeros(1, dtype=F64))
    u = hjdl.hopf_cole(torch.tensor([[1e148]], dtype=F64), data, eps)
    assert abs(float(u[0]) - (1e150 - 1e148) ** 2 / 4) <= 1e-14 * (1e150 - 1e148) ** 2 / 4


def test_lse_layer_when_a_partial_sum_of_the_product_overflows():
    # z = [1e300·1e9 − 1e300·1e9, −1] = [0, −1]: the product's partial sum 1e309 overflows
    x = torch.tensor([[1e300, 1e300]], dtype=F64)
    W = torch.tensor([[1e9, -1e9], [0.0, 0.0]], dtype=F64)
    b = torch.tensor([0.0, -1.0], dtype=F64)
    assert float(hjdl.lse_layer(x, W, b, 1.0)[0]) == pytest.approx(math.log1p(math.exp(-1)), rel=1e-15)
    assert float(hjdl.lse_layer(x, W, b, 0.0)[0]) == 0.0
    xr = x.clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(hjdl.lse_layer(xr, W, b, 1.0).sum(), xr)
    p0 = 1 / (1 + math.exp(-1))  # ∇f = E_π W
    assert torch.allclose(gx, torch.tensor([[p0 * 1e9, -p0 * 1e9]], dtype=F64), rtol=1e-14)


def test_lse_layer_result_close_to_zero_keeps_its_relative_accuracy():
    # LSE([0, −40]) = log1p(e^{−40}) = 4.2e−18 (the top term is left out of the sum)
    x = torch.tensor([[1.0]], dtype=F64)
    W = torch.tensor([[0.0], [-40.0]], dtype=F64)
    out = hjdl.lse_layer(x, W, torch.zeros(2, dtype=F64), 1.0)
    assert float(out[0]) == pytest.approx(math.log1p(math.exp(-40)), rel=1e-14, abs=0)
