"""Input Hessians, curvature and the eps-controlled bounds (THEORY §6) against independent oracles."""

import numpy as np
import pytest
import torch

import hjdl
from hjdl.errors import EpsilonError, HJError, InputError, NonFiniteError, ShapeError, UnknownNameError
from hjdl.robustness import curvature, curvature_bound, input_hessian

from helpers import tol


def _layer(N, d, seed, dtype=torch.float64, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    W = scale * torch.randn(N, d, generator=g, dtype=dtype)
    b = torch.randn(N, generator=g, dtype=dtype)
    return W, b


def _autograd_hessians(W, b, eps, x):
    """Independent oracle: autograd Hessian of hjdl.lse_layer, one point at a time."""
    return torch.stack([torch.autograd.functional.hessian(lambda v: hjdl.lse_layer(v, W, b, eps), xi)
                        for xi in x])


@pytest.mark.parametrize("N,d,eps", [(7, 3, 0.3), (4, 9, 1.7), (12, 5, 0.05)])
def test_input_hessian_matches_autograd(N, d, eps, dtype):
    W, b = _layer(N, d, N + d, dtype)
    x = torch.randn(6, d, generator=torch.Generator().manual_seed(1), dtype=dtype)
    H = input_hessian((W, b, eps), x)
    ref = _autograd_hessians(W, b, eps, x)
    assert H.shape == (6, d, d) and H.dtype == dtype
    scale = float(W.norm(dim=1).max() ** 2 / eps)
    assert torch.allclose(H, ref, atol=tol(dtype, scale, 256), rtol=0)


def test_heads_hessian_gradient_and_scale_match_autograd():
    g = torch.Generator().manual_seed(3)
    C, N, d = 3, 5, 4
    W = torch.randn(C, N, d, generator=g, dtype=torch.float64)
    b = torch.randn(C, N, generator=g, dtype=torch.float64)
    eps = torch.tensor([0.2, 0.7, 1.5], dtype=torch.float64)
    a = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    model = {"W": W, "b": b, "eps": eps, "scale": a}
    x = torch.randn(4, d, generator=g, dtype=torch.float64)

    def f(v):
        return torch.stack([a[c] * hjdl.lse_layer(v, W[c], b[c], float(eps[c])) for c in range(C)])

    H = input_hessian(model, x)
    ref = torch.stack([torch.autograd.functional.jacobian(lambda v: torch.autograd.functional.jacobian(
        f, v, create_graph=True), xi) for xi in x])
    assert H.shape == (4, C, d, d)
    assert torch.allclose(H, ref, atol=1e-11, rtol=0)
    # spectral norms: NumPy eigvalsh of the autograd Hessians (independent)
    spec = np.abs(np.linalg.eigvalsh(ref.numpy())).max(-1)
    assert np.allclose(curvature(model, x).numpy(), spec, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("method", ["eigh", "lanczos", "auto"])
@pytest.mark.parametrize("N,d", [(40, 30), (20, 45), (64, 8)])
def test_curvature_matches_float64_numpy_loop(method, N, d):
    """Batched low-rank curvature = per-point NumPy spectral norm of the centred covariance."""
    W, b = _layer(N, d, 7, scale=1 / np.sqrt(d))
    x = torch.randn(300, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for eps in (0.2, 1.0):
        got = curvature((W, b, eps), x, method=method).numpy()
        Wn, bn, xn = W.numpy(), b.numpy(), x.numpy()
        ref = np.empty(len(xn))
        for i, xi in enumerate(xn):  # the oracle loops on purpose
            z = (Wn @ xi + bn) / eps
            p = np.exp(z - z.max())
            p /= p.sum()
            Wc = Wn - p @ Wn
            ref[i] = np.linalg.norm((Wc.T * p) @ Wc / eps, 2)
        assert np.allclose(got, ref, rtol=1e-10, atol=0), np.abs(got / ref - 1).max()


def test_bounds_hold_and_ball_bound_is_attained_for_two_rows():
    # two rows: π splits equally where z_1 = z_2, Cov = |W_1 − W_2|²/4 = R² exactly
    W = torch.tensor([[3.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
    b = torch.tensor([0.0, 0.5], dtype=torch.float64)
    eps = 0.4
    # a point with W_1·x + b_1 = W_2·x + b_2: (2, 2)·x = 0.5
    x = torch.tensor([[0.125, 0.125]], dtype=torch.float64)
    c = curvature((W, b, eps), x)
    ball = curvature_bound((W, b, eps), "enclosing-ball")
    row = curvature_bound((W, b, eps), "row-norm")
    assert abs(float(ball) - 2.0 / eps) < 1e-12          # R² = |W1 − W2|²/4 = 2
    assert abs(float(row) - 10.0 / eps) < 1e-12
    assert abs(float(c[0]) - float(ball)) < 1e-12         # attained: the bound is sharp


@pytest.mark.parametrize("seed", range(4))
def test_curvature_never_exceeds_bounds_on_random_layers(seed):
    g = torch.Generator().manual_seed(100 + seed)
    N, d = int(torch.randint(2, 30, (1,), generator=g)), int(torch.randint(1, 12, (1,), generator=g))
    W = torch.randn(N, d, generator=g, dtype=torch.float64) + 2 * torch.randn(d, generator=g, dtype=torch.float64)
    b = torch.randn(N, generator=g, dtype=torch.float64)
    eps = float(torch.rand((), generator=g, dtype=torch.float64) * 3 + 0.01)
    # points spread widely plus points on pairwise ties (where the curvature is largest)
    x = 3 * torch.randn(400, d, generator=g, dtype=torch.float64)
    c = curvature((W, b, eps), x)
    ball, row = curvature_bound((W, b, eps)), curvature_bound((W, b, eps), "row-norm")
    assert float(c.max()) <= float(ball) * (1 + 1e-12)
    assert float(ball) <= float(row) * (1 + 1e-12)


def test_eps_controls_curvature_monotonically():
    W, b = _layer(10, 3, 5)
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    bounds = [float(curvature_bound((W, b, e))) for e in (0.1, 0.5, 2.0)]
    assert bounds[0] > bounds[1] > bounds[2]
    assert abs(bounds[0] * 0.1 - bounds[2] * 2.0) < 1e-10  # exactly ∝ 1/eps
    # eps = 0: Hessian 0 almost everywhere, bound infinite
    assert float(curvature((W, b, 0.0), x).abs().max()) == 0.0
    assert float(curvature_bound((W, b, 0.0))) == float("inf")


def test_nn_modules_and_generic_path():
    from hjdl.nn import LSELayer, LSENetwork

    g = torch.Generator().manual_seed(0)
    layer = LSELayer(3, 6, eps=0.3, dtype=torch.float64, generator=g)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    triple = (layer.weight.detach(), layer.bias.detach(), 0.3)
    assert torch.allclose(curvature(layer, x), curvature(triple, x), rtol=1e-12, atol=0)
    heads = LSENetwork(3, width=4, eps=0.5, out_features=3, dtype=torch.float64, generator=g)
    H = input_hessian(heads, x)
    assert H.shape == (5, 3, 3, 3)
    # deep network: torch.func path vs autograd per point
    deep = LSENetwork(3, hidden=(5,), width=4, eps=0.5, out_features=1, dtype=torch.float64, generator=g)
    Hd = input_hessian(deep, x)
    ref = torch.stack([torch.autograd.functional.hessian(lambda v: deep(v[None])[0], xi) for xi in x])
    assert torch.allclose(Hd, ref, atol=1e-12, rtol=0)
    cd = curvature(deep, x)
    assert torch.allclose(cd, torch.linalg.eigvalsh(ref).abs().amax(-1), atol=1e-12, rtol=0)
    with pytest.raises(InputError, match="generic"):
        curvature_bound(deep)


def test_errors_are_clear():
    W, b = _layer(4, 2, 0)
    with pytest.raises(NonFiniteError, match="x"):
        curvature((W, b, 1.0), torch.tensor([[0.0, float("nan")]], dtype=torch.float64))
    with pytest.raises(EpsilonError, match="eps"):
        curvature((W, b), torch.zeros(1, 2))
    with pytest.raises(EpsilonError, match="eps"):
        curvature((W, b, None), torch.zeros(1, 2))
    with pytest.raises(EpsilonError):
        curvature((W, b, -1.0), torch.zeros(1, 2))
    with pytest.raises(ShapeError, match="empty"):
        curvature((W, b, 1.0), torch.zeros(0, 2))
    with pytest.raises(ShapeError, match="x"):
        curvature((W, b, 1.0), torch.zeros(3, 5))
    with pytest.raises(UnknownNameError, match="enclosing-ball"):
        curvature_bound((W, b, 1.0), "frobenius")
    with pytest.raises(UnknownNameError, match="lanczos"):
        curvature((W, b, 1.0), torch.zeros(1, 2), method="power")

    class NoEps:
        weight, bias = W, b

    with pytest.raises(EpsilonError, match="NoEps"):
        curvature(NoEps(), torch.zeros(1, 2))
    with pytest.raises(HJError):
        input_hessian((W, b, 1.0), torch.zeros(2, 2, 2))


def test_lanczos_degenerate_and_float32_cases():
    g = torch.Generator().manual_seed(9)
    W = torch.randn(60, 40, generator=g, dtype=torch.float64)
    b = torch.randn(60, generator=g, dtype=torch.float64)
    x = torch.randn(100, 40, generator=g, dtype=torch.float64)
    # eps so small that π is one-hot in float64: the covariance (and curvature) is exactly 0
    assert float(curvature((W, b, 1e-6), x, method="lanczos").abs().max()) == 0.0
    # fewer neurons than dimensions (rank N − 1) and float32 inputs
    c64 = curvature((W[:3], b[:3], 0.5), x, method="lanczos")
    assert torch.allclose(c64, curvature((W[:3], b[:3], 0.5), x, method="eigh"), rtol=1e-10, atol=1e-14)
    c32 = curvature((W.float(), b.float(), 0.5), x.float(), method="lanczos")
    ref = curvature((W, b, 0.5), x, method="eigh")
    assert c32.dtype == torch.float32
    scale = float(W.norm(dim=1).max() ** 2 / 0.5)  # the T6 bound sets the error scale
    assert float((c32.double() - ref).abs().max()) <= tol(torch.float32, scale, 256)


def _explicit_top_eig(W, b, eps, x):
    """Independent differentiable oracle: λ_max of Σ_j π_j (W_j − μ)(W_j − μ)ᵀ, formed explicitly
    (no square roots), by autograd through ``eigvalsh``."""
    p = torch.softmax((x @ W.T + b) / eps, dim=-1)
    A0 = W[None] - (p @ W)[:, None, :]
    C = torch.einsum("bn,bni,bnj->bij", p, A0, A0)
    return torch.linalg.eigvalsh(C)[:, -1] / eps


@pytest.mark.parametrize("method", ["eigh", "lanczos", "auto"])
@pytest.mark.parametrize("N,d", [(40, 8), (64, 30)])
def test_curvature_gradient_is_finite_where_gibbs_weights_underflow(method, N, d):
    # near ties of two rows far from the origin at small eps, most Gibbs weights are exactly 0:
    # the eigh engine's √π had an infinite derivative there (NaN gradients); Lanczos, which works
    # in place, raised a raw torch error. Values and gradients must match autograd through an
    # explicit covariance.
    g = torch.Generator().manual_seed(N)
    W = torch.randn(N, d, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=1, keepdim=True)
    b = torch.zeros(N, dtype=torch.float64)
    i, j = torch.randperm(N, generator=g)[:12].view(2, 6)
    eps = 0.05
    x0 = 100 * (W[i] + W[j]) + 0.01 * torch.randn(6, d, generator=g, dtype=torch.float64)
    assert bool((torch.softmax(x0 @ W.T / eps, -1) == 0).any())
    x = x0.clone().requires_grad_(True)
    c = curvature((W, b, eps), x, method=method)
    (grad,) = torch.autograd.grad(c.sum(), x)
    xr = x0.clone().requires_grad_(True)
    ref = _explicit_top_eig(W, b, eps, xr)
    (gref,) = torch.autograd.grad(ref.sum(), xr)
    floor = 1e-13 / eps  # the oracle's own rounding: max_j |W_j|² = 1
    assert float(ref.detach().max()) > 1e4 * floor  # some points mix rows: non-trivial values
    assert torch.isfinite(grad).all()
    assert torch.allclose(c.detach(), ref.detach(), rtol=1e-10, atol=floor)
    assert torch.allclose(grad, gref, rtol=1e-6, atol=1e-8 * float(gref.abs().max()))


def test_generic_and_tropical_results_stay_differentiable_in_x():
    # a module vmap cannot trace fell back to double backward and returned a detached Hessian;
    # eps = 0 heads returned constants, so backward() raised a raw torch error
    from hjdl.nn import LSENetwork, MaxAffine

    net = LSENetwork(3, hidden=(4,), width=4, out_features=1, eps=0.5, dtype=torch.float64)
    x0 = torch.randn(4, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x = x0.clone().requires_grad_(True)
    H = input_hessian(net, x)
    (g,) = torch.autograd.grad(H[:, 0, 0].sum(), x)
    h = 1e-5
    for k in range(3):
        e = torch.zeros_like(x0)
        e[:, k] = h
        fd = (input_hessian(net, x0 + e)[:, 0, 0] - input_hessian(net, x0 - e)[:, 0, 0]) / (2 * h)
        assert torch.allclose(g[:, k], fd, rtol=1e-5, atol=1e-7)
    for model in (MaxAffine(3, 4, dtype=torch.float64), (torch.randn(2, 4, 3, dtype=torch.float64),
                                                         torch.zeros(2, 4, dtype=torch.float64), 0.0)):
        x.grad = None
        c = curvature(model, x)
        c.sum().backward()
        assert float(c.detach().abs().max()) == 0.0 and float(x.grad.abs().max()) == 0.0


def test_enclosing_ball_bound_is_never_above_the_row_norm_bound():
    # unit rows around the origin: the minimum ball is the unit ball, and its radius plus the
    # solver's residual came out 1 + 2e-16 (a ball bound larger than the row-norm bound)
    for seed in range(40):
        g = torch.Generator().manual_seed(seed)
        W = torch.randn(40, 8, generator=g, dtype=torch.float64)
        W = W / W.norm(dim=1, keepdim=True)
        b = torch.zeros(40, dtype=torch.float64)
        ball = curvature_bound((W, b, 0.3), "enclosing-ball")
        row = curvature_bound((W, b, 0.3), "row-norm")
        assert float(ball) <= float(row)
        # independent value: points on the unit sphere whose hull holds 0 have R = 1 exactly
        assert abs(float(ball) * 0.3 - 1) <= 1e-12
