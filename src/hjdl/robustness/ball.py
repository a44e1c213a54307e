r"""The smallest ball holding a set of points (exact, float64), for the bound ``R²/eps`` (THEORY §6).

Why it enters: ``∇²f = Cov_π(W)/eps`` and for any centre ``c``,
``vᵀCov_π(W)v = Var_π(v·W) <= E_π (v·(W − c))² <= max_j |W_j − c|²`` for unit ``v``; the best
centre gives ``‖∇²f‖₂ <= R²/eps`` with ``R`` the radius of the minimum enclosing ball of the rows.

Method. The ball is the solution of the convex dual QP on the simplex

    maximise  D(λ) = Σ_j λ_j |p_j|² − |Σ_j λ_j p_j|²   over λ >= 0, Σ λ_j = 1,

with centre ``c = Σ λ_j p_j`` and ``R² = D(λ*)`` (the points are first shifted by their mean).
We (1) pick a small *core set* by Bădoiu–Clarkson iterations (farthest-point steps), (2) solve
the dual QP on the core set with SLSQP, (3) *polish*: the support ``S = {λ_j > 0}`` must be
equidistant from ``c`` inside its affine hull, a linear system solved exactly, and an active-set
loop drops support points with negative multipliers, (4) verify the KKT conditions on *all*
points (every point inside up to round-off, multipliers ``>= 0``); a point outside joins the core
set and the loop repeats. The result is exact up to floating-point round-off; :func:`enclosing_ball`
returns its KKT residuals so callers (and tests) can see it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize

from .._models import Record
from .._validation import as_tensor, check_finite
from ..errors import ConvergenceError, ShapeError

__all__ = ["Ball", "enclosing_ball"]


@dataclass(frozen=True, repr=False)
class Ball(Record):
    """Minimum enclosing ball: ``center`` (d,), ``radius``, the support indices and KKT residuals.

    ``max_outside``: ``max_j |p_j − c| − R`` (<= round-off); ``min_weight``: the smallest
    multiplier on the support (>= 0 at the optimum).
    """

    center: torch.Tensor
    radius: float
    support: tuple[int, ...]
    weights: tuple[float, ...]
    max_outside: float
    min_weight: float

    def _key_numbers(self) -> dict:
        return {"radius": self.radius, "dim": int(self.center.numel()), "support": len(self.support),
                "max_outside": self.max_outside}

    def summary(self) -> str:
        return (f"Ball of radius {self.radius:.6g} in {self.center.numel()}-D on {len(self.support)} support "
                f"point(s); KKT residuals: max outside {self.max_outside:.2g}, min weight {self.min_weight:.2g}")

    def _frame_columns(self) -> dict:
        return {"support": np.asarray(self.support, dtype=int), "weight": np.asarray(self.weights, dtype=float)}


def _circumcenter(P: np.ndarray, S: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Centre equidistant from the points ``P[S]`` inside their affine hull, and its λ on S."""
    p0 = P[S[0]]
    if len(S) == 1:
        return p0.copy(), np.ones(1)
    Q = P[S[1:]] - p0  # (k, d)
    G = Q @ Q.T
    rhs = 0.5 * np.einsum("ij,ij->i", Q, Q)
    mu, *_ = np.linalg.lstsq(G, rhs, rcond=None)
    lam = np.concatenate([[1.0 - mu.sum()], mu])
    return p0 + mu @ Q, lam


def _dual_qp(P: np.ndarray, idx: list[int], start: np.ndarray | None) -> np.ndarray:
    """SLSQP on the dual QP restricted to ``P[idx]``; returns λ on ``idx``."""
    X = P[idx]
    K = X @ X.T
    k = np.diag(K).copy()
    n = len(idx)
    lam0 = np.full(n, 1.0 / n) if start is None else start

    def obj(lam):  # minimise -D(λ) = λᵀKλ − kᵀλ
        Kl = K @ lam
        return lam @ Kl - k @ lam, 2 * Kl - k

    res = minimize(obj, lam0, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * n,
                   constraints=[{"type": "eq", "fun": lambda lam: lam.sum() - 1.0,
                                 "jac": lambda lam: np.ones_like(lam)}],
                   options={"ftol": 1e-16, "maxiter": 500})
    lam = np.clip(res.x, 0.0, None)
    return lam / lam.sum()


def _polish(P: np.ndarray, S: list[int]) -> tuple[np.ndarray, float, list[int], np.ndarray]:
    """Active-set loop: circumcentre of S, dropping points with negative multipliers."""
    S = list(S)
    while True:
        c, lam = _circumcenter(P, S)
        if lam.min() >= -1e-12 or len(S) == 1:
            r = float(np.sqrt(((P[S] - c) ** 2).sum(-1).max()))
            return c, r, S, lam
        S.pop(int(np.argmin(lam)))


def _mev_numpy(P: np.ndarray, max_rounds: int = 50, noise: float = 0.0
               ) -> tuple[np.ndarray, float, list[int], np.ndarray]:
    """``noise``: absolute uncertainty of the coordinates (from shifting them), which the
    inside test must allow for (a loop asking for more accuracy than the data has never ends)."""
    n = P.shape[0]
    # (1) Bădoiu–Clarkson: a few farthest-point steps collect candidate support points
    c = P.mean(0)
    core = {int(np.argmax(((P - c) ** 2).sum(-1)))}
    for i in range(1, min(4 * P.shape[1] + 8, 200)):
        far = int(np.argmax(((P - c) ** 2).sum(-1)))
        core.add(far)
        c = c + (P[far] - c) / (i + 1)
    core = sorted(core)
    scale2 = float(((P - P.mean(0)) ** 2).sum(-1).max()) or 1.0
    for _ in range(max_rounds):
        lam = _dual_qp(P, core, None)
        S = [core[i] for i in np.flatnonzero(lam > 1e-10 * lam.max())]
        c, r, S, lam_S = _polish(P, S)
        d2 = ((P - c) ** 2).sum(-1)
        outside = np.flatnonzero(d2 > r * r + 1e-12 * scale2 + 4 * np.sqrt(scale2) * noise)
        if outside.size == 0:
            return c, r, S, lam_S
        # add the farthest violators and try again
        order = outside[np.argsort(-d2[outside])][: max(1, P.shape[1])]
        core = sorted(set(core) | set(int(i) for i in order) | set(S))
        if len(core) >= n:
            core = list(range(n))
    raise ConvergenceError("enclosing_ball: the core-set loop did not converge; "
                           "points may be degenerate (report this input)")


def enclosing_ball(points) -> Ball:
    r"""The minimum enclosing ball of the rows of ``points`` (``(N, d)``), exact up to round-off.

    Computed in float64 by a core-set loop over the dual QP (see the module docstring); the
    KKT residuals are returned (``max_outside`` ~ 1e-16 · scale, ``min_weight >= 0``).
    The centre is returned in ``points``' dtype and device.

    Example:
        >>> import torch
        >>> ball = enclosing_ball(torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 0.5]]))
        >>> round(ball.radius, 12), ball.center.tolist()
        (1.0, [1.0, 0.0])
    """
    P_t = as_tensor(points, "points")
    if P_t.ndim != 2 or P_t.shape[0] == 0 or P_t.shape[1] == 0:
        raise ShapeError(f"points: expected a non-empty (N, d) matrix, received shape {tuple(P_t.shape)}")
    check_finite(P_t, "points")
    P = P_t.detach().cpu().to(torch.float64).numpy()
    shift = P.mean(0)
    Pc = P - shift
    # solve in units of the largest coordinate: squared distances of huge (or tiny) points
    # would overflow (or underflow) float64; the ball scales with the points
    scale = float(np.abs(Pc).max())
    if scale == 0.0:
        c, r, S, lam = np.zeros(P.shape[1]), 0.0, [0], np.ones(1)
    else:
        Pc = Pc / scale
        # the shift by the mean rounds each coordinate to about u·max|P|
        noise = 4 * np.finfo(np.float64).eps * float(np.abs(P).max()) / scale * np.sqrt(P.shape[1])
        c, r, S, lam = _mev_numpy(Pc, noise=noise)
    d = np.sqrt(((Pc - c) ** 2).sum(-1))
    scale = scale or 1.0
    center = torch.from_numpy(c * scale + shift).to(dtype=P_t.dtype, device=P_t.device)
    return Ball(center, float(r) * scale, tuple(int(i) for i in S), tuple(float(v) for v in lam),
                float(d.max() - r) * scale, float(lam.min()))
