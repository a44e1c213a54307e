"""Certificates are honest: no attack or random perturbation inside a certified radius succeeds."""

import math

import numpy as np
import pytest
import torch

import hjdl
from hjdl.errors import InputError, UnknownNameError
from hjdl.robustness import attack, certify, radii_from_constants


def _heads(C, N, d, seed, spread=1.0):
    g = torch.Generator().manual_seed(seed)
    W = spread * torch.randn(C, N, d, generator=g, dtype=torch.float64)
    b = torch.randn(C, N, generator=g, dtype=torch.float64)
    return W, b, g


def _logits(W, b, eps, x):  # independent forward through the public kernel
    return torch.stack([hjdl.lse_layer(x, W[c], b[c], eps) for c in range(W.shape[0])], -1)


def test_radius_formulas_solve_their_equations():
    g = torch.Generator().manual_seed(0)
    m, G, beta = (torch.rand(200, generator=g, dtype=torch.float64) * 3 + 1e-3 for _ in range(3))
    L = G + torch.rand(200, generator=g, dtype=torch.float64) * 2
    r2, r1, r = radii_from_constants(m, G, beta, L)
    assert torch.allclose(m - G * r2 - 0.5 * beta * r2 ** 2, torch.zeros_like(m), atol=1e-12)
    assert torch.allclose(r1 * L, m, rtol=1e-14)
    assert bool((r >= r2 * (1 - 1e-14)).all()) and bool((r >= r1 * (1 - 1e-14)).all())
    # the combined radius is the root of m = ∫ min(G + βt, L) dt: integrate numerically
    t = torch.linspace(0, 1, 20001, dtype=torch.float64)[None, :] * r[:, None]
    integrand = torch.minimum(G[:, None] + beta[:, None] * t, L[:, None])
    integral = torch.trapezoid(integrand, t, dim=1)
    assert torch.allclose(integral, m, rtol=1e-7)
    # edge cases: β = 0 gives m/G, β = inf gives the first-order radius, m <= 0 gives 0
    r2, r1, r = radii_from_constants(torch.tensor([2.0, 2.0, -1.0]), torch.tensor([0.5, 0.5, 0.5]),
                                     torch.tensor([0.0, math.inf, 1.0]), torch.tensor([1.0, 1.0, 1.0]))
    assert r2.tolist() == [4.0, 0.0, 0.0] and r.tolist() == [4.0, 2.0, 0.0]


def test_affine_heads_certificate_is_exact_and_attack_reaches_it():
    """One neuron per head: f_c affine, curvature 0, the radius is the exact boundary distance."""
    W, b, g = _heads(2, 1, 3, 1)
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    cert = certify((W, b, 0.5), x)
    f = _logits(W, b, 0.5, x)
    w = (W[0, 0] - W[1, 0]).norm()
    exact = (f[:, 0] - f[:, 1]).abs() / w
    assert torch.allclose(cert.radius, exact, rtol=1e-12)
    assert torch.allclose(cert.radius_second_order, exact, rtol=1e-12)
    assert bool((attack((W, b, 0.5), x, radius=cert.radius * 1.001, steps=30).success).all())
    assert not bool(attack((W, b, 0.5), x, radius=cert.radius * 0.999, steps=30).success.any())


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("curv", ["one-sided", "two-sided"])
def test_no_attack_succeeds_inside_certified_radius_heads(seed, curv):
    rs = np.random.default_rng(seed)
    C, N, d = int(rs.integers(2, 5)), int(rs.integers(2, 9)), int(rs.integers(1, 6))
    eps = float(rs.choice([0.05, 0.3, 1.0, 4.0]))
    W, b, g = _heads(C, N, d, seed, spread=float(rs.uniform(0.3, 2)))
    x = torch.randn(40, d, generator=g, dtype=torch.float64)
    cert = certify((W, b, eps), x, curvature=curv, bound=str(rs.choice(["row-norm", "enclosing-ball"])))
    assert bool((cert.radius >= cert.radius_second_order * (1 - 1e-12)).all())
    assert bool((cert.radius >= cert.radius_first_order * (1 - 1e-12)).all())
    inside = 0.999 * cert.radius
    res = attack((W, b, eps), x, radius=inside, steps=60, restarts=3,
                 generator=torch.Generator().manual_seed(seed))
    assert not bool(res.success.any())
    # check with the independent forward that the attack points keep the prediction
    assert torch.equal(_logits(W, b, eps, res.x_adv).argmax(-1), cert.prediction)
    # random perturbations on the sphere of the certified radius keep it as well
    u = torch.randn(40, 64, d, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=-1, keepdim=True) * inside[:, None, None]
    pert = _logits(W, b, eps, (x[:, None, :] + u).reshape(-1, d)).reshape(40, 64, C)
    assert bool((pert.argmax(-1) == cert.prediction[:, None]).all())
    # and the attack does break points beyond the radius (its strength is checked exactly on
    # affine heads above; the gap here measures how conservative the certificate is)
    far = attack((W, b, eps), x, radius=3 * cert.radius + 1e-3, steps=60, restarts=2)
    assert bool(far.success.any())


@pytest.mark.parametrize("seed", range(4))
def test_no_attack_succeeds_inside_certified_radius_regression(seed):
    g = torch.Generator().manual_seed(seed)
    N, d = 6 + seed, 3
    W = torch.randn(N, d, generator=g, dtype=torch.float64)
    b = torch.randn(N, generator=g, dtype=torch.float64)
    a = -1.0 if seed % 2 else 1.0  # negative output weight: the concave side needs β
    model = {"W": W, "b": b, "eps": 0.3, "scale": a}
    x = 2 * torch.randn(60, d, generator=g, dtype=torch.float64)
    thr = float(a * hjdl.lse_layer(x, W, b, 0.3).median())
    cert = certify(model, x, threshold=thr)
    res = attack(model, x, radius=0.999 * cert.radius, steps=80, restarts=3, threshold=thr)
    pos = cert.radius > 0  # the median point sits on the threshold (margin 0, radius 0)
    assert int(pos.sum()) >= 58
    assert not bool(res.success[pos].any())
    side = torch.sign(a * hjdl.lse_layer(res.x_adv, W, b, 0.3) - thr)
    assert torch.equal(side.long()[pos], cert.prediction[pos])
    # one-sided is sound and never smaller than THEORY's two-sided certificate
    two = certify(model, x, threshold=thr, curvature="two-sided")
    assert bool((cert.radius >= two.radius * (1 - 1e-12)).all())
    assert torch.allclose(cert.slack(), torch.zeros_like(cert.margin), atol=1e-10)


def test_second_order_beats_first_order_somewhere_and_eps_helps():
    W, b, g = _heads(3, 6, 4, 11, spread=1.0)
    x = torch.randn(200, 4, generator=g, dtype=torch.float64)
    c_small = certify((W, b, 0.05), x)
    c_large = certify((W, b, 2.0), x)
    assert float((c_large.radius_second_order > c_large.radius_first_order).double().mean()) > 0.3
    # β ∝ 1/eps: at a fixed point the curvature bound shrinks as eps grows
    assert float(c_large.beta.max()) < float(c_small.beta.min())


def test_correct_generic_and_errors():
    W, b, g = _heads(3, 4, 2, 5)
    x = torch.randn(10, 2, generator=g, dtype=torch.float64)
    pred = _logits(W, b, 1.0, x).argmax(-1)
    cert = certify((W, b, 1.0), x, y=pred)
    assert bool(cert.correct.all())
    wrong = certify((W, b, 1.0), x, y=(pred + 1) % 3)
    assert not bool(wrong.certified(0.0).any())
    from hjdl.nn import LSENetwork
    deep = LSENetwork(2, hidden=(4,), width=3, out_features=3, eps=0.5, dtype=torch.float64)
    dc = certify(deep, x)
    assert not dc.available and bool(torch.isnan(dc.radius).all()) and "unavailable" in dc.reason
    assert attack(deep, x, radius=0.1, steps=3).x_adv.shape == x.shape
    with pytest.raises(UnknownNameError, match="one-sided"):
        certify((W, b, 1.0), x, curvature="both")
    with pytest.raises(InputError, match="y"):
        certify((W, b, 1.0), x, y=torch.full((10,), 7))
    with pytest.raises(InputError, match="radius"):
        attack((W, b, 1.0), x, radius=-1.0)
    with pytest.raises(InputError, match="threshold"):
        certify((W, b, 1.0), x, threshold=float("nan"))


def test_attack_points_stay_inside_the_ball_near_float_resolution():
    # float32 pixel-scale inputs: x + δ rounds, and could land up to 7 % outside the ball
    g = torch.Generator().manual_seed(0)
    W, b = torch.randn(3, 30, generator=g), torch.randn(3, generator=g)
    x = torch.rand(8, 30, generator=g) * 255
    for r in (1e-3, 1e-4, 1e-5):
        res = attack((W, b, 0.1), x, radius=r, steps=20)
        assert bool((res.distance <= r).all())
        assert bool(((res.x_adv - x).norm(dim=-1) <= r).all())


def test_certified_side_is_right_when_the_logits_cancel():
    # float32, |x| ~ 1000 nearly orthogonal to the rows: the float32 logits are off by ~1e-5,
    # more than a few ulps of f; the round-off allowance must cover the dot products too.
    # A certified side must then be the side in exact arithmetic on the same float32 data.
    gen = torch.Generator().manual_seed(3)
    bad = checked = 0
    for _ in range(40):
        d, N, eps = 30, 5, 0.05
        W = torch.randn(N, d, generator=gen)
        b = (0.01 * torch.randn(N, generator=gen)).float()
        u = torch.randn(d, generator=gen)
        u = u - W.T @ torch.linalg.lstsq(W.T, u[:, None]).solution[:, 0]
        u = u / u.norm()
        x = (1000 * u[None, :] + 1e-3 * torch.randn(64, d, generator=gen)).float()
        W64, b64, x64 = W.double(), b.double(), x.double()
        f_exact = eps * torch.logsumexp((x64 @ W64.T + b64) / eps, dim=-1)
        thr = float(f_exact.median())
        cert = certify((W, b, eps), x, threshold=thr)
        ok = cert.radius > 0
        checked += int(ok.sum())
        bad += int((ok & (torch.sign(f_exact - thr) != cert.prediction.double())).sum())
    assert bad == 0


@pytest.mark.parametrize("dtype,eps", [(torch.float64, 1e-308), (torch.float32, 1e-38)])
def test_tiny_eps_gives_the_tropical_answers_not_nan(dtype, eps):
    # (W x + b)/eps overflows: Gibbs weights are one-hot, the Hessian 0, margins finite
    g = torch.Generator().manual_seed(0)
    W = torch.randn(7, 3, generator=g).to(dtype)
    b = torch.randn(7, generator=g).to(dtype)
    x = torch.randn(5, 3, generator=g).to(dtype)
    from hjdl.robustness import curvature, input_hessian
    assert torch.equal(curvature((W, b, eps), x), torch.zeros(5, dtype=dtype))
    assert not bool(input_hessian((W, b, eps), x).isnan().any())
    c = certify((W, b, eps), x)
    f = (x @ W.T + b).amax(-1)   # the eps -> 0 limit of the layer
    assert bool(torch.isfinite(c.margin).all()) and bool(torch.isfinite(c.radius).all())
    assert torch.equal(c.prediction, torch.where(f > 0, 1, -1))
    a = attack((W, b, eps), x, radius=0.1)
    assert bool(torch.isfinite(a.margin).all())


def test_attack_refuses_one_per_class_head_like_certify():
    W, b = torch.randn(1, 4, 3), torch.randn(1, 4)
    for fn in (lambda: attack((W, b, 0.5), torch.zeros(2, 3), radius=0.1),
               lambda: certify((W, b, 0.5), torch.zeros(2, 3))):
        with pytest.raises(InputError, match="at least 2 classes"):
            fn()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_models_compute_in_float32(dtype):
    from hjdl.robustness import curvature
    g = torch.Generator().manual_seed(1)
    W, b, x = torch.randn(7, 3, generator=g), torch.randn(7, generator=g), torch.randn(4, 3, generator=g)
    got = curvature((W.to(dtype), b.to(dtype), 0.5), x.to(dtype))
    ref = curvature((W.to(dtype).double(), b.to(dtype).double(), 0.5), x.to(dtype).double())
    assert got.dtype == torch.float32
    assert float((got.double() - ref).abs().max()) <= 1e-5 * float(ref.abs().max())
    assert certify((W.to(dtype), b.to(dtype), 0.5), x.to(dtype)).radius.dtype == torch.float32


def test_radii_never_nan_when_constants_overflow():
    r2, r1, r = radii_from_constants(torch.tensor(1.0), torch.tensor(math.inf), torch.tensor(1.0),
                                     torch.tensor(math.inf))
    assert float(r2) == float(r1) == float(r) == 0.0
    r2, r1, r = radii_from_constants(torch.tensor(1e308, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64),
                                     torch.tensor(1.0, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64))
    assert abs(float(r2) / (math.sqrt(2) * 1e154) - 1) <= 1e-12  # ≈ √(2m/β) for G ≪ √(βm)
    assert abs(float(r1) - 5e307) <= 1e295 and float(r) >= float(r1)


def test_labels_of_the_wrong_kind_are_input_errors():
    W, b = torch.randn(3, 4, 2), torch.randn(3, 4)
    for y in (["a"] * 5, [1.5] * 5, torch.ones(5, dtype=torch.bool)):
        with pytest.raises(InputError, match="y:"):
            certify((W, b, 0.5), torch.zeros(5, 2), y=y)


def test_overflowing_outputs_are_refused_not_nan():
    from hjdl.errors import NonFiniteError
    W, b = torch.randn(7, 3, dtype=torch.float64), torch.zeros(7, dtype=torch.float64)
    with pytest.raises(NonFiniteError, match="overflow"):
        certify((W, b, 1.7e308), torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(NonFiniteError, match="overflow"):
        attack((W, b, 1.7e308), torch.zeros(2, 3, dtype=torch.float64), radius=0.1)


@pytest.mark.parametrize("labels", [(1, 2, 3), ("cat", "dog", "owl")])
def test_fitted_classifier_takes_labels_from_its_classes(labels):
    # y was read as a head index: labels {1, 2} certified correct points as wrong, a radius-0
    # attack "broke" them, and a valid label was refused
    from sklearn.datasets import make_blobs

    from hjdl.training import HJClassifier

    X, k = make_blobs(n_samples=90, centers=3, n_features=2, random_state=0)
    y = np.array(labels, dtype=object)[k] if isinstance(labels[0], str) else np.array(labels)[k]
    clf = HJClassifier(width=4, eps=0.5, max_iter=150, random_state=0).fit(X, y)
    pred = clf.predict(X)
    cert = certify(clf, torch.tensor(X), y=y)
    assert np.array_equal(cert.correct.numpy(), pred == y)  # against sklearn's own predict
    assert np.array_equal(cert.classes[cert.prediction.numpy()], pred)
    assert cert.correct.float().mean() > 0.8
    res = attack(clf, torch.tensor(X), y=y, radius=0.0, steps=2)
    assert not bool(res.success[torch.from_numpy(pred == y)].any())
    with pytest.raises(InputError, match=r"y: labels \['zebra'\]|y: labels \[9\]"):
        certify(clf, torch.tensor(X[:2]), y=[y[0], "zebra" if isinstance(labels[0], str) else 9])


def test_attack_option_and_module_errors_are_hjdl_errors():
    from hjdl.errors import NonFiniteError, ShapeError
    from hjdl.robustness import curvature, input_hessian

    W, b, g = _heads(3, 4, 2, 8)
    x = torch.randn(4, 2, generator=g, dtype=torch.float64)
    for bad in (math.inf, math.nan, 0.0, True):
        with pytest.raises(InputError, match="step_size"):
            attack((W, b, 1.0), x, radius=0.5, step_size=bad)
    for bad in (123, "seed", np.random.default_rng(0)):
        with pytest.raises(InputError, match="generator"):
            attack((W, b, 1.0), x, radius=0.5, restarts=2, generator=bad)
    with pytest.raises(UnknownNameError, match="bound: "):
        certify((W, b, 1.0), x, bound="ball")
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    for call in (lambda: input_hessian(net, x), lambda: curvature(net, x), lambda: certify(net, x),
                 lambda: attack(net, x, radius=0.1, steps=2)):
        with pytest.raises(ShapeError, match=r"x: the model could not be evaluated on points of shape"):
            call()
    nan_net = lambda z: torch.full((z.shape[0], 2), math.nan, dtype=z.dtype)  # noqa: E731
    with pytest.raises(NonFiniteError):
        certify(nan_net, x)


def test_radius_gradients_are_finite_and_match_finite_differences():
    # each head was also paired with itself (G = 0, margin 0): hypot(0, √0) has a NaN derivative,
    # which reached every point's radius gradient through the masked pair
    W, b, g = _heads(4, 6, 3, 21)
    x0 = torch.randn(6, 3, generator=g, dtype=torch.float64)
    x = x0.clone().requires_grad_(True)
    cert = certify((W, b, 0.7), x)
    (grad,) = torch.autograd.grad(cert.radius.sum() + cert.radius_second_order.sum(), x)
    assert torch.isfinite(grad).all()
    h = 1e-6
    for i in range(x0.shape[0]):
        for k in range(3):
            e = torch.zeros_like(x0)
            e[i, k] = h
            up, dn = certify((W, b, 0.7), x0 + e), certify((W, b, 0.7), x0 - e)
            if bool((up.rival != dn.rival).any()):
                continue  # the binding rival switched: not differentiable there
            fd = ((up.radius + up.radius_second_order) - (dn.radius + dn.radius_second_order))[i] / (2 * h)
            assert abs(float(grad[i, k] - fd)) <= 1e-6 * (1 + abs(float(fd)))


def test_slack_is_the_margin_at_an_infinite_radius():
    # a convex head above the threshold at its minimum never drops: radius inf, slack m (was NaN)
    W, b = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    cert = certify((W, b, 0.5), torch.zeros(1, 2, dtype=torch.float64), threshold=0.1)
    assert math.isinf(float(cert.radius[0]))
    assert float(cert.slack()[0]) == float(cert.margin[0]) > 0


def test_rival_is_never_the_predicted_class():
    # constant heads (W = 0): every rival is unreachable (radius inf); the argmin over all-inf
    # radii picked class 0, the prediction itself, and reported its margin (−5e-14) not 1
    W = torch.zeros(3, 4, 2, dtype=torch.float64)
    b = torch.zeros(3, 4, dtype=torch.float64)
    b[0] += 1.0
    b[2] += 0.5
    cert = certify((W, b, 0.5), torch.zeros(2, 2, dtype=torch.float64))
    assert cert.prediction.tolist() == [0, 0] and cert.rival.tolist() == [2, 2]
    assert torch.isinf(cert.radius).all()
    assert torch.allclose(cert.margin, torch.full((2,), 0.5, dtype=torch.float64), atol=1e-12)


# ------------------------------------------------------------------------------------------
# bad input is refused by hjdl errors naming the argument (issue: radii accepted NaN)


@pytest.mark.parametrize("arg,value,match", [
    (0, math.nan, "margin: contains NaN"), (0, math.inf, "margin: contains infinite"),
    (1, math.nan, "grad_norm: contains NaN"), (1, -1.0, "grad_norm: .* must be >= 0"),
    (2, math.nan, "beta: contains NaN"), (2, -0.5, "beta: .* must be >= 0"),
    (3, math.nan, "lipschitz: contains NaN"), (3, -2.0, "lipschitz: .* must be >= 0"),
    (3, 0.5, "lipschitz: .* >= grad_norm"),
    (1, torch.tensor([1.0, 2.0, -3.0]), "grad_norm: .* >= 0"),
    (0, torch.ones(3, dtype=torch.bool), "margin: expected real numbers"),
    (2, torch.ones(3, dtype=torch.complex128), "beta: complex"),
    (0, "abc", "margin: expected a tensor"), (1, None, "grad_norm:"), (3, object(), "lipschitz:"),
])
def test_radii_from_constants_refuses_bad_constants(arg, value, match):
    from hjdl.errors import HJError
    args = [1.0, 1.0, 2.0, 3.0]
    args[arg] = value
    with pytest.raises(HJError, match=match) as info:
        radii_from_constants(*args)
    assert isinstance(info.value, ValueError)


def test_radii_from_constants_takes_numbers_and_arrays_and_broadcasts():
    from hjdl.errors import ShapeError
    r2, r1, r = radii_from_constants(1.0, 1.0, 2.0, 3.0)   # Python numbers (were a TypeError)
    assert r2.dtype == torch.float64
    assert math.isclose(float(r2), (math.sqrt(5) - 1) / 2, rel_tol=1e-15)
    assert math.isclose(float(r1), 1 / 3, rel_tol=1e-15)
    got = radii_from_constants(np.array([1.0, 2.0]), 1.0, torch.tensor(0.0, dtype=torch.float32), 1.0)
    assert torch.allclose(got[0], torch.tensor([1.0, 2.0], dtype=torch.float64), rtol=1e-15)
    # +inf is a legal (unbounded) constant; the margin may be <= 0 (radius 0)
    r2, r1, r = radii_from_constants(torch.tensor([1.0, -1.0]), 1.0, math.inf, math.inf)
    assert r2.tolist() == [0.0, 0.0] and r1.tolist() == [0.0, 0.0]
    with pytest.raises(ShapeError, match="margin, grad_norm, beta, lipschitz"):
        radii_from_constants(torch.ones(2), torch.ones(3), 1.0, 2.0)
    # float32 constants keep their dtype; G equal to L up to round-off is not refused
    L = torch.tensor([1.0], dtype=torch.float32)
    assert radii_from_constants(L, L * (1 + 1e-7), L, L)[0].dtype == torch.float32


def test_attack_refuses_step_counts_it_cannot_run():
    W, b = torch.randn(3, 4, 2, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    x = torch.randn(2, 2, dtype=torch.float64)
    for name, kw in (("steps", {"steps": 2 ** 70}), ("restarts", {"restarts": 10 ** 9}),
                     ("steps", {"steps": 0}), ("steps", {"steps": 2.0})):
        with pytest.raises(InputError, match=f"{name}: expected an integer"):
            attack((W, b, 1.0), x, radius=0.1, **kw)


def _bad_points():
    x = torch.randn(5, 2, dtype=torch.float64)
    return [x * math.nan, x * math.inf, torch.zeros(0, 2, dtype=torch.float64), torch.randn(5, 3),
            torch.randn(2, 5, 2), torch.tensor(1.0), x.to(torch.complex128), "x", None,
            [[0.0, 1.0], [1.0]], torch.zeros(5, 0), np.array([["a", "b"]], dtype=object)]


def _bad_models():
    W1, b1 = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    W, b = torch.randn(3, 4, 2, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    return [(W1 * math.nan, b1, 0.5), (W1.to(torch.complex128), b1, 0.5),
            (torch.zeros(0, 2), torch.zeros(0), 0.5),
            (torch.ones(2), torch.ones(1), 0.5), (W1, torch.ones(3), 0.5), (W1, b1, math.nan),
            (W1, b1, -1.0), (W1, b1, "a"), (W, b, torch.ones(5)), "abc", None, 3, (W1, b1, 0.5, 1),
            {"W": W1}, {"W": W, "b": b, "eps": 0.5, "scale": math.nan},
            {"W": W, "b": b, "eps": 0.5, "scale": torch.ones(2)}, (W1, b1)]


def _entries(model, x):
    from hjdl.robustness import curvature, curvature_bound, input_hessian
    return [lambda: certify(model, x), lambda: certify(model, x, y=[0] * 5),
            lambda: curvature(model, x), lambda: input_hessian(model, x),
            lambda: attack(model, x, radius=0.1, steps=2), lambda: curvature_bound(model)]


def test_every_public_entry_refuses_bad_models_and_points_with_hjdl_errors():
    """Each entry of hjdl.robustness, on bad points for a good model and on bad models: an
    HJError (a ValueError) or a finite answer, never a raw torch / NumPy exception."""
    from hjdl.errors import HJError
    good = (torch.randn(3, 4, 2, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64), 0.5)
    x = torch.randn(5, 2, dtype=torch.float64)
    cases = [(good, bx) for bx in _bad_points()] + [(bm, x) for bm in _bad_models()]
    for model, pts in cases:
        for k, call in enumerate(_entries(model, pts)):
            if k == 5 and model is good:
                continue  # curvature_bound does not take points
            try:
                out = call()
            except HJError as err:
                assert isinstance(err, ValueError)
                continue
            tensors = [out] if isinstance(out, torch.Tensor) else \
                [v for v in vars(out).values() if isinstance(v, torch.Tensor)]
            assert all(bool(torch.isfinite(t.double()).all()) for t in tensors if t.is_floating_point()), \
                (k, model, pts)
