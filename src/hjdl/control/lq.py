"""A linear state-space layer with a quadratic loss is a linear-quadratic control problem (THEORY §8).

Layer (diagonal recurrence, input and output maps), batch-first::

    x_{k+1} = a ⊙ x_k + B u_k,      y_k = C x_{k+1},      k = 0 … T−1,

loss ``L = ½ Σ_k |y_k − r_k|² + ½ ρ Σ_k |u_k|²`` (summed over the batch). The part of the loss
that depends on the state ``x_k`` (its own output ``½|C x_k − r_{k−1}|²`` for ``k >= 1``, and
everything downstream) is quadratic, ``V_k(x) = ½ xᵀ𝒫_k x + σ_kᵀx + const``, so the co-state is
affine in the state: ``λ_k = ∂L/∂x_k = 𝒫_k x_k + σ_k`` (backprop's adjoint; the PMP co-state is
``p_k = −λ_k``). Writing ``J_k`` for the downstream part only (``J_k = ½xᵀP_kx + s_kᵀx + …``),
``𝒫_k = P_k + Q``, ``σ_k = s_k − Cᵀr_{k−1}`` for ``k >= 1`` and ``𝒫_0 = P_0``, ``σ_0 = s_0``;
with ``Q = CᵀC``, ``M = Q + P_{k+1}``, ``ŝ = s_{k+1} − Cᵀr_k``, ``P_T = 0``, ``s_T = 0``:

* inputs fixed (:func:`lq_costate`): ``P_k = AᵀMA``, ``s_k = Aᵀ(M B u_k + ŝ)`` (the Riccati
  equation without control: a Lyapunov recursion), exact for any inputs;
* inputs optimal (:func:`riccati`): ``G = ρI + BᵀMB``, ``K = G⁻¹BᵀMA``, ``κ = G⁻¹Bᵀŝ``,
  ``P_k = AᵀM(A − BK)`` (the discrete Riccati equation), ``s_k = Aᵀ(ŝ − MBκ)``,
  ``u_k = −K_k x_k − κ_k``. At these inputs backprop's adjoint again equals ``𝒫_k x_k + σ_k``
  (envelope theorem: ``∂L/∂u = 0``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
from torch import nn

from .._validation import as_tensor, check_dtype, check_finite
from ..errors import DomainError, InputError, ShapeError

__all__ = ["LinearStateSpace", "LQRecord", "lq_costate", "riccati"]


class LinearStateSpace(nn.Module):
    r"""``x_{k+1} = a ⊙ x_k + B u_k``, ``y_k = C x_{k+1}``: ``u (batch, T, m) → y (batch, T, q)``.

    Args:
        state_dim: ``n``, the size of the state ``x``; ``a`` is initialised in ``(0.5, 0.95)``.
        input_dim: ``m``, the size of the input ``u``.
        output_dim: ``q``, the size of the output ``y``.

    Example:
        >>> import torch
        >>> ssm = LinearStateSpace(4, 2, 3, generator=torch.Generator().manual_seed(0))
        >>> ssm(torch.zeros(5, 7, 2)).shape
        torch.Size([5, 7, 3])
    """

    def __init__(self, state_dim: int, input_dim: int, output_dim: int, *, dtype=None, device=None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        for v, name in ((state_dim, "state_dim"), (input_dim, "input_dim"), (output_dim, "output_dim")):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise InputError(f"{name}: expected a positive integer, received {v!r}")
        state_dim, input_dim, output_dim = int(state_dim), int(input_dim), int(output_dim)
        kw = {"dtype": check_dtype(dtype), "device": device}
        self.a = nn.Parameter(torch.empty(state_dim, **kw).uniform_(0.5, 0.95, generator=generator))
        self.B = nn.Parameter(torch.empty(state_dim, input_dim, **kw).normal_(generator=generator) / math.sqrt(input_dim))
        self.C = nn.Parameter(torch.empty(output_dim, state_dim, **kw).normal_(generator=generator) / math.sqrt(state_dim))

    def _check(self, u, x0):
        ut = as_tensor(u, "u", dtype=self.a.dtype, device=self.a.device)
        if ut.ndim != 3 or ut.shape[-1] != self.B.shape[1]:
            raise ShapeError(f"u: expected shape (batch, T, {self.B.shape[1]}), received {tuple(ut.shape)}")
        check_finite(ut, "u")
        if x0 is None:
            x0 = ut.new_zeros(ut.shape[0], self.a.shape[0])
        x0 = as_tensor(x0, "x0", dtype=self.a.dtype, device=self.a.device)
        if tuple(x0.shape) != (ut.shape[0], self.a.shape[0]):
            raise ShapeError(f"x0: expected shape ({ut.shape[0]}, {self.a.shape[0]}), received {tuple(x0.shape)}")
        return ut, check_finite(x0, "x0")

    def trajectory(self, u, x0=None) -> torch.Tensor:
        """States ``x_0 … x_T``: ``(batch, T + 1, n)``."""
        ut, x = self._check(u, x0)
        drive = ut @ self.B.T
        states = [x]
        for k in range(ut.shape[1]):
            states.append(self.a * states[-1] + drive[:, k])
        return torch.stack(states, 1)

    def forward(self, u, x0=None) -> torch.Tensor:
        """Outputs ``y_k = C x_{k+1}``: ``(batch, T, q)``."""
        return self.trajectory(u, x0)[:, 1:] @ self.C.T

    def loss(self, u, target, x0=None, rho: float = 0.0) -> torch.Tensor:
        """``½ Σ |y_k − r_k|² + ½ ρ Σ |u_k|²`` (summed over batch and time)."""
        y = self(u, x0)
        return 0.5 * ((y - target) ** 2).sum() + 0.5 * rho * (as_tensor(u, "u", dtype=y.dtype) ** 2).sum()


@dataclass
class LQRecord:
    """``states (B, T+1, n)``, ``P = 𝒫 (T+1, n, n)``, ``s = σ (B, T+1, n)``, ``adjoints = 𝒫 x + σ``,
    ``costates = −adjoints`` (PMP sign), ``inputs (B, T, m)`` (the optimal ones for :func:`riccati`),
    ``gains K (T, m, n)`` and ``offsets κ (B, T, m)`` (only for :func:`riccati`)."""

    states: torch.Tensor
    P: torch.Tensor
    s: torch.Tensor
    adjoints: torch.Tensor
    inputs: torch.Tensor
    gains: torch.Tensor | None = None
    offsets: torch.Tensor | None = None

    @property
    def costates(self) -> torch.Tensor:
        return -self.adjoints


def _finish(P, s, Q, C, r, states):
    """``𝒫_k = P_k + Q``, ``σ_k = s_k − Cᵀr_{k−1}`` for ``k >= 1``; adjoints ``𝒫 x + σ``."""
    Pt, st = torch.stack(P), torch.stack(s, 1)
    Pt = torch.cat([Pt[:1], Pt[1:] + Q], 0)
    st = torch.cat([st[:, :1], st[:, 1:] - r @ C], 1)
    return Pt, st, torch.einsum("kij,bkj->bki", Pt, states) + st


def _target(ssm, target, batch, T):
    r = check_finite(as_tensor(target, "target", dtype=ssm.a.dtype, device=ssm.a.device), "target")
    q = ssm.C.shape[0]
    if r.ndim != 3 or r.shape[-1] != q or (batch is not None and tuple(r.shape[:2]) != (batch, T)):
        want = f"({batch}, {T}, {q})" if batch is not None else f"(batch, T, {q})"
        raise ShapeError(f"target: expected shape {want}, received {tuple(r.shape)}")
    return r


def lq_costate(ssm: LinearStateSpace, u, target, x0=None) -> LQRecord:
    r"""Co-states of fixed inputs from the quadratic cost-to-go: ``λ_k = 𝒫_k x_k + σ_k``.

    ``P_k = A(Q + P_{k+1})A``, ``s_k = A[(Q + P_{k+1})B u_k + s_{k+1} − Cᵀ r_k]`` (``A = diag a``).

    Example:
        >>> import torch
        >>> ssm = LinearStateSpace(3, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> u, r = torch.ones(1, 4, 2, dtype=torch.float64), torch.zeros(1, 4, 2, dtype=torch.float64)
        >>> rec = lq_costate(ssm, u, r)
        >>> rec.adjoints.shape, rec.P.shape
        (torch.Size([1, 5, 3]), torch.Size([5, 3, 3]))
    """
    if not isinstance(ssm, LinearStateSpace):
        raise InputError(f"ssm: expected hjdl.control.LinearStateSpace, received {type(ssm).__name__}")
    with torch.no_grad():
        ut, x0t = ssm._check(u, x0)
        Bn, T = ut.shape[:2]
        r = _target(ssm, target, Bn, T)
        a, Bm, C = ssm.a.detach(), ssm.B.detach(), ssm.C.detach()
        A, Q = torch.diag(a), C.T @ C
        n = a.shape[0]
        P = [None] * (T + 1)
        s = [None] * (T + 1)
        P[T], s[T] = Q.new_zeros(n, n), ut.new_zeros(Bn, n)
        for k in range(T - 1, -1, -1):
            M = Q + P[k + 1]
            s_hat = s[k + 1] - r[:, k] @ C
            P[k] = A @ M @ A
            s[k] = (ut[:, k] @ Bm.T @ M + s_hat) @ A
        states = ssm.trajectory(ut, x0t).detach()
        Pt, st, adj = _finish(P, s, Q, C, r, states)
    return LQRecord(states, Pt, st, adj, ut)


def riccati(ssm: LinearStateSpace, target, rho: float, x0=None) -> LQRecord:
    r"""The optimal inputs of the LQ tracking problem by the discrete Riccati equation.

    Minimises ``L(u) = ½ Σ|y_k − r_k|² + ½ρ Σ|u_k|²`` over the inputs; ``ρ > 0``. Returns the
    optimal inputs ``u_k = −K_k x_k − κ_k`` and the co-states ``λ_k = 𝒫_k x_k + σ_k`` (module
    docstring for the recursion).

    Example:
        >>> import torch
        >>> ssm = LinearStateSpace(3, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> r = torch.ones(1, 6, 2, dtype=torch.float64)
        >>> rec = riccati(ssm, r, rho=0.1)
        >>> u = rec.inputs.clone().requires_grad_(True)
        >>> g, = torch.autograd.grad(ssm.loss(u, r, rho=0.1), u)   # optimal: zero gradient
        >>> float(g.abs().max()) < 1e-10
        True
    """
    if not isinstance(ssm, LinearStateSpace):
        raise InputError(f"ssm: expected hjdl.control.LinearStateSpace, received {type(ssm).__name__}")
    if isinstance(rho, bool) or not isinstance(rho, numbers.Real) or not (math.isfinite(rho) and rho > 0):
        raise DomainError(f"rho: expected a finite control cost > 0, received {rho!r}")
    with torch.no_grad():
        r = _target(ssm, target, None, None)
        Bn, T = r.shape[:2]
        a, Bm, C = ssm.a.detach(), ssm.B.detach(), ssm.C.detach()
        n, m = Bm.shape
        x0t = r.new_zeros(Bn, n) if x0 is None else as_tensor(x0, "x0", dtype=r.dtype, device=r.device)
        if tuple(x0t.shape) != (Bn, n):
            raise ShapeError(f"x0: expected shape ({Bn}, {n}), received {tuple(x0t.shape)}")
        check_finite(x0t, "x0")
        A, Q, I = torch.diag(a), C.T @ C, torch.eye(m, dtype=r.dtype, device=r.device)
        P = [None] * (T + 1)
        s = [None] * (T + 1)
        K = [None] * T
        kap = [None] * T
        P[T], s[T] = Q.new_zeros(n, n), r.new_zeros(Bn, n)
        for k in range(T - 1, -1, -1):
            M = Q + P[k + 1]
            s_hat = s[k + 1] - r[:, k] @ C
            G = rho * I + Bm.T @ M @ Bm
            K[k] = torch.linalg.solve(G, Bm.T @ M @ A)
            kap[k] = torch.linalg.solve(G, (s_hat @ Bm).T).T
            P[k] = A @ M @ (A - Bm @ K[k])
            s[k] = (s_hat - kap[k] @ Bm.T @ M) @ A
        x, us = x0t, []
        for k in range(T):
            uk = -(x @ K[k].T) - kap[k]
            us.append(uk)
            x = a * x + uk @ Bm.T
        u = torch.stack(us, 1) if T else r.new_zeros(Bn, 0, m)   # T = 0: no inputs to choose
        states = ssm.trajectory(u, x0t).detach()
        Pt, st, adj = _finish(P, s, Q, C, r, states)
        gains = torch.stack(K) if T else r.new_zeros(0, m, n)
    return LQRecord(states, Pt, st, adj, u, gains, torch.stack(kap, 1) if T else r.new_zeros(Bn, 0, m))
