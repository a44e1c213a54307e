"""Certificates against independent oracles (docs/theory.md §6).

* the curvature constant ``β`` (and ``L``, ``G``, the margin) that :func:`certify` uses equals
  the published bound for its mode, computed here in NumPy from the rows alone (maximum row
  norm, and enclosing-ball radii known in closed form);
* the certified radius is the root of the published equation with those constants;
* where the exact distance to the decision boundary is known (affine heads, a head at its point
  of largest curvature) the radius equals it, and in 1-D and 2-D, where the distance is found by
  root finding along rays, the radius never exceeds it.

None of the oracles calls hjdl: logits, Gibbs weights and LSE are NumPy/SciPy.
"""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq, minimize_scalar
from scipy.special import logsumexp, softmax

from hjdl.robustness import certify, curvature_bound

# ------------------------------------------------------------------------------------------
# independent NumPy model: f_c(x) = a_c eps_c log Σ_j exp((W_cj·x + b_cj)/eps_c) + o_c


class NumpyHeads:
    def __init__(self, W, b, eps, scale, offset):
        self.W, self.b = np.asarray(W, float), np.asarray(b, float)
        C = self.W.shape[0]
        self.eps = np.broadcast_to(np.asarray(eps, float), (C,)).copy()
        self.a = np.broadcast_to(np.asarray(scale, float), (C,)).copy()
        self.o = np.broadcast_to(np.asarray(offset, float), (C,)).copy()

    def model(self, single=False):
        """The same heads as hjdl receives them (a dict of tensors)."""
        W, b = torch.from_numpy(self.W), torch.from_numpy(self.b)
        if single:
            return {"W": W[0], "b": b[0], "eps": float(self.eps[0]), "scale": float(self.a[0]),
                    "offset": float(self.o[0])}
        return {"W": W, "b": b, "eps": torch.from_numpy(self.eps), "scale": torch.from_numpy(self.a),
                "offset": torch.from_numpy(self.o)}

    def f(self, x):
        """``(..., d) → (..., C)``."""
        z = np.einsum("...d,cnd->...cn", x, self.W) + self.b
        return self.a * self.eps * logsumexp(z / self.eps[:, None], axis=-1) + self.o

    def grad(self, x):
        """``∇f_c = a_c Σ_j π_cj W_cj``: ``(d,) → (C, d)``."""
        z = np.einsum("d,cnd->cn", x, self.W) + self.b
        pi = softmax(z / self.eps[:, None], axis=-1)
        return self.a[:, None] * np.einsum("cn,cnd->cd", pi, self.W)


def ball_radius_closed_form(P):
    """Minimum enclosing ball radius of 1, 2 or 3 points, in closed form: one point 0, two
    points half their distance, three points half the longest side when the triangle is right
    or obtuse, else the circumradius abc / (4 area)."""
    P = np.asarray(P, float)
    if len(P) == 1:
        return 0.0
    if len(P) == 2:
        return 0.5 * float(np.linalg.norm(P[0] - P[1]))
    assert len(P) == 3
    a, b, c = sorted(float(np.linalg.norm(P[i] - P[j])) for i, j in ((0, 1), (1, 2), (0, 2)))
    if c * c >= a * a + b * b:
        return c / 2
    s = (a + b + c) / 2
    area = math.sqrt(s * (s - a) * (s - b) * (s - c))
    return a * b * c / (4 * area)


def rows_in_known_ball(rng, N, d, center, R):
    """N >= 2 rows whose minimum enclosing ball is exactly (center, R): an antipodal pair on the
    sphere (no ball of radius < R holds two points 2R apart) and the others inside it."""
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    inner = rng.normal(size=(N - 2, d))
    inner *= (R * rng.uniform(0, 0.95, size=(N - 2, 1))) / np.linalg.norm(inner, axis=1, keepdims=True)
    P = np.vstack([center + R * u, center - R * u, center + inner])
    return P[rng.permutation(N)], R


def random_heads(seed, C, N, d, *, signs=(1.0, -1.0)):
    """Heads with known enclosing radii, far from the origin (so ball and row-norm differ),
    different eps, scales of both signs and offsets; returns (NumpyHeads, R per head)."""
    rng = np.random.default_rng(seed)
    W, Rs = [], []
    for c in range(C):
        if N <= 3 and d >= 2:  # closed-form 2- and 3-point balls (acute triangles included)
            P = rng.normal(size=(N, d)) + 3 * rng.normal(size=d)
            W.append(P)
            Rs.append(ball_radius_closed_form(P))
        else:
            P, R = rows_in_known_ball(rng, N, d, 3 * rng.normal(size=d), rng.uniform(0.3, 2.0))
            W.append(P)
            Rs.append(R)
    b = rng.normal(size=(C, N))
    eps = rng.choice([0.05, 0.3, 1.0, 2.5], size=C)
    scale = rng.uniform(0.5, 2.0, size=C) * rng.choice(signs, size=C)
    offset = rng.normal(size=C)
    return NumpyHeads(np.stack(W), b, eps, scale, offset), np.array(Rs)


def published_beta(h, R, c, r, curvature):
    """THEORY §6 for the margin f_c − f_r: κ_k = R_k²/eps_k; two-sided β = |a_c|κ_c + |a_r|κ_r;
    one-sided (only the concave parts of the margin count) max(−a_c,0)κ_c + max(a_r,0)κ_r."""
    kappa = R ** 2 / h.eps
    if curvature == "two-sided":
        return abs(h.a[c]) * kappa[c] + abs(h.a[r]) * kappa[r]
    return max(-h.a[c], 0.0) * kappa[c] + max(h.a[r], 0.0) * kappa[r]


def pair_lipschitz(h, c, r):
    """max_{j,k} |a_c W_cj − a_r W_rk| (brute force over all pairs of rows)."""
    A, B = h.a[c] * h.W[c], h.a[r] * h.W[r]
    return max(float(np.linalg.norm(p - q)) for p in A for q in B)


def drop(t, G, beta, L):
    """∫₀ᵗ min(G + βs, L) ds, written out piecewise."""
    if beta == 0 or G + beta * t <= L:
        return G * t + 0.5 * beta * t * t
    s = (L - G) / beta
    return G * s + 0.5 * beta * s * s + L * (t - s)


def published_radius(m, G, beta, L):
    """The root of m = ∫₀ʳ min(G + βs, L) ds (brentq on a bracket that doubles)."""
    if m <= 0:
        return 0.0
    hi = 1.0
    while drop(hi, G, beta, L) < m:
        hi *= 2
    return brentq(lambda t: drop(t, G, beta, L) - m, 0.0, hi, xtol=1e-15, rtol=1e-14)


def _x(rng, B, d):
    return torch.from_numpy(3 * rng.normal(size=(B, d)))


# ------------------------------------------------------------------------------------------
# 1. β is the published constant for its mode (and L, G, the margin are what they say)


CASES = [(0, 3, 2, 2), (1, 4, 3, 3), (2, 3, 3, 2), (3, 2, 6, 3), (4, 4, 8, 4), (5, 3, 5, 1)]


@pytest.mark.parametrize("seed,C,N,d", CASES)
@pytest.mark.parametrize("curv", ["one-sided", "two-sided"])
@pytest.mark.parametrize("bound", ["enclosing-ball", "row-norm"])
def test_classification_constants_are_the_published_ones(seed, C, N, d, curv, bound):
    h, R_ball = random_heads(seed, C, N, d)
    R = R_ball if bound == "enclosing-ball" else np.linalg.norm(h.W, axis=-1).max(-1)
    assert bound == "row-norm" or (R_ball < 0.9 * np.linalg.norm(h.W, axis=-1).max(-1)).all()
    # the published per-head bound |a_c| R_c² / eps_c
    assert np.allclose(curvature_bound(h.model(), bound).numpy(), np.abs(h.a) * R ** 2 / h.eps,
                       rtol=1e-10, atol=0)
    x = _x(np.random.default_rng(seed + 100), 30, d)
    cert = certify(h.model(), x, curvature=curv, bound=bound)
    f = h.f(x.numpy())
    for i in range(x.shape[0]):
        c, r = int(cert.prediction[i]), int(cert.rival[i])
        assert c == int(np.argmax(f[i])) and r != c
        beta = published_beta(h, R, c, r, curv)
        assert math.isclose(float(cert.beta[i]), beta, rel_tol=1e-10, abs_tol=1e-300)
        assert math.isclose(float(cert.lipschitz[i]), pair_lipschitz(h, c, r), rel_tol=1e-12)
        g = h.grad(x[i].numpy())
        assert math.isclose(float(cert.grad_norm[i]), float(np.linalg.norm(g[c] - g[r])),
                            rel_tol=1e-9, abs_tol=1e-12)
        m = f[i, c] - f[i, r]
        # the margin less a round-off allowance: a few ulps below the exact one, never above
        assert m - 1e-10 * (1 + abs(f[i]).max()) <= float(cert.margin[i]) <= m + 1e-12 * abs(f[i]).max()


@pytest.mark.parametrize("seed,N,d", [(0, 2, 2), (1, 3, 2), (2, 6, 3), (3, 5, 1)])
@pytest.mark.parametrize("curv", ["one-sided", "two-sided"])
@pytest.mark.parametrize("bound", ["enclosing-ball", "row-norm"])
def test_regression_constants_are_the_published_ones(seed, N, d, curv, bound):
    for sign in (1.0, -1.0):
        h, R_ball = random_heads(seed, 1, N, d, signs=(sign,))
        R = (R_ball if bound == "enclosing-ball" else np.linalg.norm(h.W[0], axis=-1).max())
        R = float(np.asarray(R).reshape(-1)[0])
        kappa = R ** 2 / h.eps[0]
        x = _x(np.random.default_rng(seed), 40, d)
        f = h.f(x.numpy())[:, 0]
        thr = float(np.median(f))
        cert = certify(h.model(single=True), x, threshold=thr, curvature=curv, bound=bound)
        assert math.isclose(float(curvature_bound(h.model(single=True), bound)), abs(h.a[0]) * kappa,
                            rel_tol=1e-10)
        side = np.where(f > thr, 1.0, -1.0)
        want = abs(h.a[0]) * kappa if curv == "two-sided" else np.maximum(-side * h.a[0], 0) * kappa
        assert np.allclose(cert.beta.numpy(), want, rtol=1e-10, atol=0)
        assert np.allclose(cert.lipschitz.numpy(), abs(h.a[0]) * np.linalg.norm(h.W[0], axis=-1).max(),
                           rtol=1e-12)
        G = np.array([np.linalg.norm(h.grad(xi)[0]) for xi in x.numpy()])
        assert np.allclose(cert.grad_norm.numpy(), G, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed,C,N,d", CASES[:4])
@pytest.mark.parametrize("curv", ["one-sided", "two-sided"])
def test_radius_is_the_root_of_the_published_equation(seed, C, N, d, curv):
    """Per rival: r_c' = root of m = ∫₀ʳ min(G + βt, L) with the NumPy constants; the certified
    radius is the smallest, and the second-order radius is (−G + √(G² + 2βm))/β."""
    h, R = random_heads(seed, C, N, d)
    x = _x(np.random.default_rng(seed + 7), 25, d)
    cert = certify(h.model(), x, curvature=curv)
    f = h.f(x.numpy())
    checked = 0
    for i in range(x.shape[0]):
        c = int(np.argmax(f[i]))
        g = h.grad(x[i].numpy())
        radii, second = [], []
        for r in range(C):
            if r == c:
                continue
            m, G = f[i, c] - f[i, r], float(np.linalg.norm(g[c] - g[r]))
            beta, L = published_beta(h, R, c, r, curv), pair_lipschitz(h, c, r)
            radii.append(published_radius(m, G, beta, L))
            second.append(m / G if beta == 0 else (-G + math.sqrt(G * G + 2 * beta * m)) / beta)
        if min(f[i, c] - f[i, r] for r in range(C) if r != c) < 1e-6:
            continue  # on the boundary: the round-off allowance dominates
        checked += 1
        assert math.isclose(float(cert.radius[i]), min(radii), rel_tol=1e-8)
        assert math.isclose(float(cert.radius_second_order[i]), min(second), rel_tol=1e-8)
    assert checked >= 20


# ------------------------------------------------------------------------------------------
# 2. radii against the exact distance to the decision boundary


def test_affine_heads_radius_is_the_exact_distance():
    """One row per head (or identical rows with different biases): every f_c is affine at any
    eps (down to 1e-8 here), R_c = 0, β = 0 in both modes with the enclosing ball, and the
    distance to the decision boundary is min over rivals of (f_c − f_c')/|∇f_c − ∇f_c'| (the
    set where c loses is a union of half-spaces). All three radii equal it."""
    rng = np.random.default_rng(0)
    C, d = 4, 3
    for rows in (1, 3):
        W = np.repeat(rng.normal(size=(C, 1, d)), rows, axis=1)
        h = NumpyHeads(W, rng.normal(size=(C, rows)), np.array([1e-8, 0.1, 1.0, 3.0]),
                       rng.uniform(0.5, 2, size=C) * rng.choice([-1, 1], size=C), rng.normal(size=C))
        x = _x(rng, 40, d)
        f = h.f(x.numpy())
        A = h.a[:, None] * W[:, 0]              # ∇f_c
        c = f.argmax(-1)
        exact = np.array([min((f[i, c[i]] - f[i, k]) / np.linalg.norm(A[c[i]] - A[k])
                              for k in range(C) if k != c[i]) for i in range(len(x))])
        for curv in ("one-sided", "two-sided"):
            cert = certify(h.model(), x, curvature=curv)
            assert float(cert.beta.abs().max()) <= 1e-12
            for got in (cert.radius, cert.radius_second_order, cert.radius_first_order):
                assert np.allclose(got.numpy(), exact, rtol=1e-9, atol=1e-12)
            # row-norm: β = |W|²/eps > 0 makes the second-order radius short of the distance,
            # but L = G here (one gradient per head), so the first-order and combined radii
            # are still exact
            loose = certify(h.model(), x, curvature=curv, bound="row-norm")
            assert (loose.radius_second_order.numpy() <= exact * (1 + 1e-12)).all()
            assert (loose.radius_second_order.numpy() < 0.99 * exact).any()
            for got in (loose.radius, loose.radius_first_order):
                assert np.allclose(got.numpy(), exact, rtol=1e-9, atol=1e-12)
    # regression: one affine head against a threshold
    hr = NumpyHeads(rng.normal(size=(1, 1, d)), rng.normal(size=(1, 1)), 0.5, -1.5, 0.2)
    x = _x(rng, 40, d)
    f = hr.f(x.numpy())[:, 0]
    thr = float(np.median(f)) + 0.1
    exact = np.abs(f - thr) / (1.5 * np.linalg.norm(hr.W[0, 0]))
    cert = certify(hr.model(single=True), x, threshold=thr, curvature="two-sided")
    assert np.allclose(cert.radius.numpy(), exact, rtol=1e-9, atol=1e-12)


def _decision_margin(h, single, thr, pred):
    """m(points) > 0 while the decision at the points is still ``pred`` (exact NumPy)."""
    def m(P):
        f = h.f(P)
        if single:
            return pred * (f[..., 0] - thr)
        rival = np.delete(f, pred, axis=-1).max(-1)
        return f[..., pred] - rival
    return m


def _first_crossing(g, T, n):
    """Smallest t in [0, T] with g(t) <= 0 (dense grid, then brentq on the first sign change);
    inf when the grid finds none. g takes an array of t."""
    t = np.linspace(0.0, T, n)
    v = g(t)
    hit = np.flatnonzero(v <= 0)
    if hit.size == 0:
        return math.inf
    k = hit[0]
    if k == 0 or v[k] == 0:
        return float(t[k])
    return brentq(lambda s: float(g(np.array([s]))[0]), t[k - 1], t[k], xtol=1e-15, rtol=1e-14)


def exact_distance_1d(m, x0, T, n=20001):
    return min(_first_crossing(lambda t, s=s: m((x0 + s * t)[:, None]), T, n) for s in (1.0, -1.0))


def exact_distance_2d(m, x0, T, rays=180, n=300):
    """Dense polar search: the first crossing along each of ``rays`` directions, then the best
    direction refined by a bounded 1-D minimisation over the angle (an upper bound on the
    distance, within ~1e-10 relative of it)."""
    theta = np.linspace(0, 2 * np.pi, rays, endpoint=False)
    U = np.stack([np.cos(theta), np.sin(theta)], -1)
    t = np.linspace(0.0, T, n)
    V = m(x0 + t[None, :, None] * U[:, None, :])            # (rays, n)

    def along(th, n_fine=3 * n):
        u = np.array([math.cos(th), math.sin(th)])
        return _first_crossing(lambda s: m(x0 + s[:, None] * u), T, n_fine)

    hits = [(np.flatnonzero(row <= 0)[:1]) for row in V]
    cand = [(t[h[0]], k) for k, h in enumerate(hits) if h.size]
    if not cand:
        return math.inf
    best = min(along(theta[k]) for _, k in sorted(cand)[:8])
    k0 = sorted(cand)[0][1]
    step = 2 * np.pi / rays
    res = minimize_scalar(lambda th: min(along(th), 10 * T), bounds=(theta[k0] - step, theta[k0] + step),
                          method="bounded", options={"xatol": 1e-12})
    return min(best, float(res.fun))


def _lse_cases():
    """(name, heads, single, threshold) in 1-D and 2-D: convex and concave regression heads,
    classification heads with scales of both signs, small and large eps."""
    rng = np.random.default_rng(5)
    out = []
    for d in (1, 2):
        for eps in (0.1, 1.0):
            h1 = NumpyHeads(rng.normal(size=(1, 5, d)), rng.normal(size=(1, 5)), eps, 1.0, 0.0)
            h2 = NumpyHeads(rng.normal(size=(1, 5, d)), rng.normal(size=(1, 5)), eps, -1.0, 0.0)
            h3 = NumpyHeads(rng.normal(size=(3, 4, d)), rng.normal(size=(3, 4)), eps,
                            np.array([1.0, -0.7, 1.3]), np.zeros(3))
            out += [(f"convex-{d}d-{eps}", h1, True), (f"concave-{d}d-{eps}", h2, True),
                    (f"heads-{d}d-{eps}", h3, False)]
    return out


def _taylor_upper(h, single, thr, pred, x0):
    """An upper bound on the distance to the boundary (a check of the root finder, from the
    other side): along u = −∇m/G, m(x + tu) <= m − G t + β₂t²/2 with β₂ the two-sided row-norm
    bound of m's Hessian, so the decision changes by t = 2m/(G + √(G² − 2β₂m)) when that is
    real; the smallest such t over the rivals (inf when none is real)."""
    rho2 = (np.linalg.norm(h.W, axis=-1).max(-1) ** 2) / h.eps * np.abs(h.a)   # (C,)
    f, g = h.f(x0), h.grad(x0)
    if single:
        pairs = [(pred * (f[0] - thr), pred * g[0], rho2[0])]
    else:
        pairs = [(f[pred] - f[r], g[pred] - g[r], rho2[pred] + rho2[r])
                 for r in range(len(f)) if r != pred]
    best = math.inf
    for m, gm, beta2 in pairs:
        G = float(np.linalg.norm(gm))
        if G * G > 2 * beta2 * m:
            best = min(best, 2 * m / (G + math.sqrt(G * G - 2 * beta2 * m)))
    return best


@pytest.mark.parametrize("name,h,single", _lse_cases(), ids=[c[0] for c in _lse_cases()])
def test_certified_radius_never_exceeds_exact_boundary_distance(name, h, single):
    d = h.W.shape[-1]
    rng = np.random.default_rng(len(name))
    B = 40 if d == 1 else 8
    x = rng.normal(size=(B, d)) * 1.5
    thr = float(np.median(h.f(x)[:, 0])) if single else 0.0
    certs = [certify(h.model(single=single), torch.from_numpy(x), threshold=thr, curvature=curv)
             for curv in ("one-sided", "two-sided")]
    assert torch.equal(certs[0].prediction, certs[1].prediction)
    worst = 0.0
    for i in range(B):
        r = max(float(c.radius[i]) for c in certs)   # one-sided >= two-sided: test the larger
        if r == 0:
            continue
        pred = int(certs[0].prediction[i])
        m = _decision_margin(h, single, thr, pred)
        assert m(x[i][None])[0] > 0
        upper = _taylor_upper(h, single, thr, pred, x[i])
        T = 1.01 * min(4 * r, upper) if math.isfinite(min(4 * r, upper)) else 50.0
        dist = exact_distance_1d(m, x[i], T, n=4001) if d == 1 else exact_distance_2d(m, x[i], T)
        assert r <= dist * (1 + 1e-9), (i, r, dist)
        if math.isfinite(upper):  # (real at 0 to 4 points per case here)
            assert dist <= upper * (1 + 1e-9), (i, dist, upper)
        worst = max(worst, r / dist)
    assert worst > 0.3  # the certificate is not vacuous on these points


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("eps", [0.05, 1.0])
def test_radius_is_tight_at_the_point_of_largest_curvature(d, eps):
    """A head whose curvature bound is attained: rows ±e₁ (R = 1) give f₁ = eps log(2 cosh(x₁/eps))
    with f₁''(0) = 1/eps = R²/eps, against a constant rival head. At x = 0, G = 0 and the
    margin is c, the decision changes at |x₁| = eps acosh(exp(c/eps)) (closed form), and the
    certified radius √(2c eps) tends to it as c → 0: ratio 1 − O(c/eps). A β too small by any
    factor overshoots the boundary, a β k times too large gives ratio 1/√k."""
    e1 = np.zeros(d)
    e1[0] = 1.0
    for c in (1e-3 * eps, 1e-2 * eps):
        W = np.stack([np.stack([np.zeros(d), np.zeros(d)]), np.stack([e1, -e1])])  # (2, 2, d)
        b = np.array([[c, c], [0.0, 0.0]])                 # f₀ = c + eps log 2
        h = NumpyHeads(W, b, eps, 1.0, 0.0)
        exact = eps * math.acosh(math.exp(c / eps))
        x0 = np.zeros(d)
        m = _decision_margin(h, False, 0.0, 0)
        found = exact_distance_1d(m, x0, 4 * exact) if d == 1 else exact_distance_2d(m, x0, 4 * exact)
        assert math.isclose(found, exact, rel_tol=1e-9)
        for curv in ("one-sided", "two-sided"):
            cert = certify(h.model(), torch.from_numpy(x0[None]), curvature=curv)
            assert float(cert.beta[0]) == pytest.approx(1 / eps, rel=1e-12)
            ratio = float(cert.radius[0]) / exact
            assert 1 - c / eps <= ratio <= 1, ratio
    # the regression form of the same head (concave side: a = −1 needs the curvature)
    hr = NumpyHeads(np.stack([e1, -e1])[None], np.zeros((1, 2)), eps, -1.0, 0.0)
    c = 1e-3 * eps
    thr = -eps * math.log(2) - c
    cert = certify(hr.model(single=True), torch.zeros(1, d, dtype=torch.float64), threshold=thr)
    exact = eps * math.acosh(math.exp(c / eps))
    assert 1 - c / eps <= float(cert.radius[0]) / exact <= 1
