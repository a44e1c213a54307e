"""Targets, data and the four estimators of the ``generalization-rate`` experiment (THEORY §7).

The minimax rate ``O(n^{−1/(d+2)})`` of the paper is stated for Lipschitz targets *at fixed t*:
the regression target is the viscosity solution ``u(x, t)`` of the HJ equation whose initial data
``g`` is 1-Lipschitz, ``u(x, t) = inf_y g(y) + |x − y|²/(4t)`` (Hopf–Lax, THEORY §3). The LSE
layer represents ``u`` through Hopf–Cole: ``û(x) = |x|²/(4t) − LSE_eps(W x + b)`` (atoms
``y_j = 2t W_j``, THEORY §2), so the network is trained on the convex function
``|x|²/(4t) − y``. The initial data are chosen so that the Hopf–Lax infimum has a closed form
(it commutes with a minimum, and each piece is an affine function, a cone or a ridge):

* ``min-affine``:  ``g = min_j a_j·(y − c_j)``, ``|a_j| = 1``  →  ``u = g(x) − t``;
* ``point-distance``: ``g = min_j |y − p_j|``  →  ``u = min_j H_t(|x − p_j|)``;
* ``kinks``: ``g = min_m c_m + |a_m·y − s_m|`` (V-shaped ridges at random places and heights)
  →  ``u = min_m c_m + H_t(|a_m·x − s_m|)``;
* ``smooth``: ``g = |y − c|²/2``  →  ``u = |x − c|²/(2(1 + 2t))``,

with ``H_t(r) = r²/(4t)`` for ``r ≤ 2t`` and ``r − t`` beyond (the Hopf–Lax solution of ``|y|``).
The first three are 1-Lipschitz with kinks at random places (the minimax class); the last is the
smooth control. Every random choice comes from a :class:`numpy.random.Generator` given by the caller.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from hjdl.training import lse_many, train_many

__all__ = ["TARGETS", "make_target", "huber", "knn_predict", "mlp_predict", "lse_fit_predict",
           "quadratic"]

TARGETS = ("min-affine", "point-distance", "kinks", "smooth")

def _pieces(name: str, d: int) -> int:
    """Number of pieces: ``4^d`` points (spacing about 1/4 in every d), ``6d`` planes or ridges."""
    return 4**d if name == "point-distance" else 6 * d


def huber(r: np.ndarray, t: float) -> np.ndarray:
    """``H_t(r) = inf_y |y| + (r − y)²/(4t)``: ``r²/(4t)`` for ``|r| ≤ 2t``, ``|r| − t`` beyond."""
    a = np.abs(r)
    return np.where(a <= 2 * t, a * a / (4 * t), a - t)


def _directions(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    a = rng.standard_normal((m, d))
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def make_target(name: str, d: int, t: float, rng: np.random.Generator):
    """``(g, u)``: the initial data and its Hopf–Lax solution at time ``t``, both ``(n, d) → (n,)``.

    ``g`` is returned for checking ``u`` against a brute-force infimum; the experiment uses ``u``.
    """
    if name == "smooth":
        c = rng.uniform(0, 1, d)
        return (lambda Y: 0.5 * ((Y - c) ** 2).sum(-1),
                lambda X: ((X - c) ** 2).sum(-1) / (2 * (1 + 2 * t)))
    m = _pieces(name, d)
    if name == "min-affine":
        a, c = _directions(rng, m, d), rng.uniform(0, 1, (m, d))
        g = lambda Y: np.min(Y @ a.T - (a * c).sum(-1), axis=-1)  # noqa: E731
        return g, (lambda X: g(X) - t)
    if name == "point-distance":
        p = rng.uniform(0, 1, (m, d))
        dist = lambda X: np.linalg.norm(X[:, None, :] - p[None], axis=-1)  # noqa: E731
        return (lambda Y: dist(Y).min(-1)), (lambda X: huber(dist(X), t).min(-1))
    if name == "kinks":
        a, q, h = _directions(rng, m, d), rng.uniform(0, 1, (m, d)), rng.uniform(0, 0.25, m)
        s = (a * q).sum(-1)
        return (lambda Y: np.min(h + np.abs(Y @ a.T - s), axis=-1),
                lambda X: np.min(h + huber(X @ a.T - s, t), axis=-1))
    raise KeyError(name)


def quadratic(X: np.ndarray, t: float) -> np.ndarray:
    """``|x|²/(4t)``, the Hopf–Cole quadratic the LSE layer is subtracted from."""
    return (X * X).sum(-1) / (4 * t)


def knn_k(n: int, d: int, scale: float, exponent: float | None = None) -> int:
    """``k = round(scale · n^{2/(d+2)})`` clipped to ``[1, n]`` (the rate-optimal choice for Lipschitz targets)."""
    e = 2.0 / (d + 2) if exponent is None else exponent
    return int(min(n, max(1, round(scale * n ** e))))


def knn_predict(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, k: int) -> np.ndarray:
    """k-nearest-neighbour regression (uniform weights, scikit-learn) of ``ytr`` at ``Xte``."""
    from sklearn.neighbors import KNeighborsRegressor

    return KNeighborsRegressor(n_neighbors=k).fit(Xtr, ytr).predict(Xte)


def mlp_predict(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, random_state: int) -> np.ndarray:
    """scikit-learn's ``MLPRegressor`` with its defaults (one hidden layer of 100 ReLU, Adam, 200
    epochs); its convergence warning at 200 epochs is expected and silenced."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPRegressor(random_state=random_state).fit(Xtr, ytr).predict(Xte)


def lse_fit_predict(Xtr, ytr, evals, widths_eps, t, steps, lr, init_rng):
    """Train one stack of Hopf–Cole LSE networks ``û = |x|²/(4t) − LSE_eps(W x + b)`` with
    :func:`hjdl.training.train_many` and predict on every evaluation set.

    ``Xtr`` ``(S, n, d)``, ``ytr`` ``(S, n)``: one training set per network; ``widths_eps``: one
    ``(N, eps)`` per network, all with the same ``N``; ``evals``: ``{name: (S, m, d) array}``.
    Initial atoms are ``N`` distinct training points of each network (drawn from ``init_rng``),
    ``W_j = x_j/(2t)``, ``b_j = −y_j − |x_j|²/(4t)``: at ``eps → 0`` the initial ``û`` is the
    Hopf–Lax interpolant ``min_j y_j + |x − x_j|²/(4t)``. Returns ``{name: (S, m) array}``.
    """
    S, n, d = Xtr.shape
    N = int(widths_eps[0][0])
    idx = np.stack([init_rng.choice(n, size=N, replace=False) for _ in range(S)])
    Xa = np.take_along_axis(Xtr, idx[..., None], axis=1)  # (S, N, d)
    ya = np.take_along_axis(ytr, idx, axis=1)
    W = torch.tensor(Xa / (2 * t))
    b = torch.tensor(-ya - quadratic(Xa, t))
    eps = torch.tensor([float(e) for _, e in widths_eps], dtype=torch.float64)
    target = torch.tensor(quadratic(Xtr, t) - ytr)
    res = train_many(W, b, eps, torch.tensor(Xtr), target, max_iter=steps, lr=lr)
    out = {}
    with torch.no_grad():
        for name, X in evals.items():
            f = lse_many(torch.tensor(X), res.weight, res.bias, res.eps).numpy()
            out[name] = quadratic(X, t) - f
    return out
