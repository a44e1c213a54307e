"""The continuous limit: the discrete co-state converges to the adjoint ODE (THEORY §8).

With a smooth control ``θ(t)`` sampled at the layer times ``t_l = l h`` (``h = T/L``), the
ResNet is forward Euler for ``ẋ = f(x, θ(t))`` and its co-state (:func:`hjdl.control.costate`)
is the matching scheme for the adjoint equation

    ṗ = −(∂f/∂x)ᵀ p,      p(T) = −∇Φ(x(T)),

so ``max_l |p_l − p(t_l)| = O(h)`` (order 1). :func:`adjoint_ode` solves the ODE pair
independently of the discrete recursion: NumPy vector field, SciPy ``solve_ivp`` (DOP853,
tight tolerances), forward for ``x`` then backward for ``(x, p)`` jointly.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.integrate import solve_ivp

from .._validation import as_tensor, check_finite
from ..errors import ConvergenceError, DomainError, InputError, NonFiniteError, ShapeError
from .costate import costate, terminal_costate
from .resnet import ResidualNet, _positive_int

__all__ = ["AdjointSolution", "ConvergenceRecord", "adjoint_ode", "adjoint_convergence"]


@dataclass
class AdjointSolution:
    """``x(T)``, and the co-state ``p(t)`` at requested times (``(len(times), B, d)``)."""

    x_final: np.ndarray
    times: np.ndarray
    costates: np.ndarray


@dataclass
class ConvergenceRecord:
    """Errors of the discrete co-state against the adjoint ODE, one per depth, and the fitted order."""

    depths: list
    steps: list
    errors: list
    order: float


def _theta_numpy(theta, t, d=None):
    """``θ(t) = (W1 (m, d), b1 (m,), W2 (d, m), b2 (d,))`` as finite float64 arrays; shapes are
    checked when ``d`` is given (once, before solving)."""
    parts = theta(float(t))
    if not isinstance(parts, (tuple, list)) or len(parts) != 4:
        raise InputError("theta: expected theta(t) to return (W1, b1, W2, b2), received "
                         f"{type(parts).__name__}")
    names = ("W1", "b1", "W2", "b2")
    out = [as_tensor(v.detach() if isinstance(v, torch.Tensor) else v, f"theta({t:g}).{n}",
                     dtype=torch.float64).cpu().numpy() for v, n in zip(parts, names)]
    for v, n in zip(out, names):
        if not np.isfinite(v).all():
            raise NonFiniteError(f"theta({t:g}).{n}: contains NaN or infinite entries; accepted: finite numbers")
    if d is not None:
        m = out[0].shape[0] if out[0].ndim == 2 else -1
        want = ((m, d), (m,), (d, m), (d,))
        for v, n, w in zip(out, names, want):
            if m < 1 or v.shape != w:
                raise ShapeError(f"theta(t).{n}: expected shape {w if m >= 1 else '(m, ' + str(d) + ')'} "
                                 f"for x0 of dimension d = {d} (W1 (m, d), b1 (m,), W2 (d, m), "
                                 f"b2 (d,)), received {v.shape}; check x0's width against theta")
    return out


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise DomainError(f"{name}: expected a finite number > 0, received {value!r}")
    return float(value)


def adjoint_ode(theta: Callable[[float], tuple], x0, loss: Callable, horizon: float = 1.0,
                times: Sequence[float] | None = None, rtol: float = 1e-12, atol: float = 1e-12) -> AdjointSolution:
    r"""Solve ``ẋ = f(x, θ(t))``, then ``ṗ = −(∂f/∂x)ᵀp`` backward from ``p(T) = −∇Φ(x(T))``.

    ``f(x, θ) = W2 tanh(W1 x + b1) + b2`` as in :class:`ResidualNet`, evaluated in NumPy;
    ``∂f/∂x = W2 diag(1 − tanh²) W1``. ``∇Φ`` is taken by autograd at ``x(T)``.

    Args:
        theta: ``θ(t) -> (W1 (m, d), b1 (m,), W2 (d, m), b2 (d,))``.
        x0: initial states ``(B, d)``.
        loss: ``Φ``, final states ``(B, d)`` (float64 tensor) to a scalar.
        horizon: ``T > 0``.
        times: where to report ``p`` (default ``[0]``).

    Example:
        >>> import numpy as np, torch
        >>> theta = lambda t: (np.eye(1), np.zeros(1), np.eye(1), np.zeros(1))
        >>> sol = adjoint_ode(theta, [[0.0]], lambda x: x.sum())   # x stays 0, ṗ = −p
        >>> round(float(sol.costates[0, 0, 0]), 6)   # p(0) = −e^{T}
        -2.718282
    """
    if not callable(theta):
        raise InputError(f"theta: expected a callable t -> (W1, b1, W2, b2), received {theta!r}")
    if not callable(loss):
        raise InputError(f"loss: expected a callable mapping the final state to a scalar, received {loss!r}")
    x0t = check_finite(as_tensor(x0, "x0", dtype=torch.float64), "x0")
    if x0t.ndim != 2 or x0t.shape[1] == 0:
        raise ShapeError(f"x0: expected shape (B, d) with d >= 1, received {tuple(x0t.shape)}")
    B, d = x0t.shape
    T = _positive(horizon, "horizon")
    rtol, atol = _positive(rtol, "rtol"), _positive(atol, "atol")
    times_t = check_finite(as_tensor([0.0] if times is None else times, "times", dtype=torch.float64), "times")
    if times_t.ndim != 1 or bool(((times_t < 0) | (times_t > T)).any()):
        raise DomainError(f"times: expected a 1-D sequence of times in [0, horizon = {T:g}], received "
                          f"{times_t.tolist() if times_t.numel() <= 6 else tuple(times_t.shape)}")
    times = times_t.numpy()
    _theta_numpy(theta, 0.0, d)

    def f_and_a(t, x):
        W1, b1, W2, b2 = _theta_numpy(theta, t)
        a = np.tanh(x @ W1.T + b1)
        return a @ W2.T + b2, a, W1, W2

    def forward(t, y):
        return f_and_a(t, y.reshape(B, d))[0].ravel()

    fwd = solve_ivp(forward, (0.0, T), x0t.numpy().ravel(), method="DOP853", rtol=rtol, atol=atol)
    if not fwd.success:
        raise ConvergenceError(f"adjoint_ode: forward solve failed: {fwd.message}")
    xT = fwd.y[:, -1].reshape(B, d)
    _, pT = terminal_costate(loss, torch.from_numpy(xT.copy()), (B,))

    def backward(t, y):
        x, p = y[:B * d].reshape(B, d), y[B * d:].reshape(B, d)
        fx, a, W1, W2 = f_and_a(t, x)
        jt_p = ((p @ W2) * (1 - a ** 2)) @ W1          # (∂f/∂x)ᵀ p, row-wise
        return np.concatenate([fx.ravel(), -jt_p.ravel()])

    y_T = np.concatenate([xT.ravel(), pT.numpy().ravel()])
    bwd = solve_ivp(backward, (T, 0.0), y_T, method="DOP853", rtol=rtol, atol=atol, dense_output=True)
    if not bwd.success:
        raise ConvergenceError(f"adjoint_ode: backward solve failed: {bwd.message}")
    P = np.stack([bwd.sol(t)[B * d:].reshape(B, d) for t in times])
    return AdjointSolution(xT, times, P)


def adjoint_convergence(theta: Callable[[float], tuple], x0, loss: Callable, depths: Sequence[int],
                        dim: int, hidden: int | None = None, horizon: float = 1.0) -> ConvergenceRecord:
    r"""``max_l |p_l − p(t_l)|`` of :func:`costate` against :func:`adjoint_ode` for each depth.

    The order is the least-squares slope of ``log error`` against ``log h``; forward Euler
    predicts 1.

    Example:
        >>> import numpy as np
        >>> theta = lambda t: (np.eye(1) * np.cos(t), np.zeros(1), np.eye(1), np.zeros(1) + 0.3)
        >>> rec = adjoint_convergence(theta, [[0.5]], lambda x: (x ** 2).sum(), [16, 32, 64], dim=1)
        >>> 0.9 < rec.order < 1.1
        True
    """
    given = depths
    try:
        depths = [] if isinstance(depths, (str, bytes)) else list(depths)
    except TypeError:
        depths = []
    if len(depths) < 2 or any(isinstance(L, bool) or not isinstance(L, numbers.Integral) or L < 1 for L in depths):
        raise InputError(f"depths: expected at least two integers >= 1, received {given!r}")
    depths = [int(L) for L in depths]
    dim = _positive_int(dim, "dim")
    x0t = check_finite(as_tensor(x0, "x0", dtype=torch.float64), "x0")
    if x0t.ndim == 0 or x0t.shape[-1] != dim:
        raise ShapeError(f"x0: expected shape (..., {dim}) (dim = {dim}), received {tuple(x0t.shape)}")
    errors, steps = [], []
    for L in depths:
        net = ResidualNet.from_function(theta, dim, L, horizon, hidden, dtype=torch.float64)
        rec = costate(net, x0t, loss)
        ref = adjoint_ode(theta, x0t, loss, horizon, times=net.times().numpy())
        errors.append(float(np.abs(rec.costates.numpy() - ref.costates).max()))
        steps.append(net.step)
    order = float(np.polyfit(np.log(steps), np.log(errors), 1)[0])
    return ConvergenceRecord(depths, steps, errors, order)
