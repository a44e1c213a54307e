"""Weighted-sample estimates of the Hopf–Cole value, streamed over chunks of atoms.

Every method draws atoms ``y_j`` and log-weights ``ℓ_j`` with ``E[e^{ℓ_j}] = w(x, t)``, the heat
solution ``w = exp(−u/eps)`` (plain Monte Carlo: ``ℓ_j = −g(y_j)/eps``; importance sampling adds
``log K(x − y_j) − log q(y_j)``). Then (THEORY §3)

    u ≈ −eps log (1/N) Σ_j e^{ℓ_j},     ∇u ≈ Σ_j π_j v_j,   π = softmax(ℓ),  v_j = −A⁻¹(y_j − x)/(2t),

with the standard error of the value by the delta method, ``eps·sqrt((N Σπ_j² − 1)/(N − 1))``
(the relative standard error of the mean of ``e^{ℓ}``), and of the gradient by the usual
self-normalised estimate ``Σ_j π_j² (v_j − v̄)²``. The log-sum-exp and the weights are the core
kernels (:func:`hjdl.lse`, :func:`hjdl.gibbs`); chunks are joined by the associativity of LSE.
"""

from __future__ import annotations

import math

import torch

from ..core import InitialData, gibbs, lse, normalization
from ..core.solution import _sq_dists


class Stream:
    """Accumulates chunks of log-weights ``ℓ`` (B, n) and velocities ``v`` (B or 1, n, d)."""

    def __init__(self, keep: bool):
        self.keep = keep
        self.parts = []      # per chunk: (lse (B,), Σp·v (B,d), Σp² (B,), Σp²v (B,d), Σp²v² (B,d))
        self.kept = []       # per chunk: (ℓ, delta) when atoms are kept
        self.n = 0

    def add(self, ell: torch.Tensor, v: torch.Tensor, delta: torch.Tensor | None = None) -> None:
        p = gibbs(ell, 1.0)                       # (B, n)
        p2 = p * p
        self.parts.append((lse(ell, 1.0), torch.einsum("bn,bnd->bd", p, v.expand(p.shape[0], -1, -1)),
                           p2.sum(-1), torch.einsum("bn,bnd->bd", p2, v.expand(p.shape[0], -1, -1)),
                           torch.einsum("bn,bnd->bd", p2, (v * v).expand(p.shape[0], -1, -1))))
        if self.keep:
            self.kept.append((ell, delta))
        self.n += ell.shape[1]

    def totals(self):
        """``(log Σ e^ℓ, Σπ v, Σπ², Σπ² v, Σπ² v²)`` over all chunks."""
        a = torch.stack([q[0] for q in self.parts], -1)          # (B, K)
        s = gibbs(a, 1.0)                                         # share of each chunk
        s2 = s * s
        out = [lse(a, 1.0), torch.einsum("bk,kbd->bd", s, torch.stack([q[1] for q in self.parts]))]
        out.append((s2 * torch.stack([q[2] for q in self.parts], -1)).sum(-1))
        for i in (3, 4):
            out.append(torch.einsum("bk,kbd->bd", s2, torch.stack([q[i] for q in self.parts])))
        return out

    def estimate(self, eps: float):
        """value, stderr, grad, grad_stderr, ess from all chunks."""
        log_sum, mean_v, sum_p2, sum_p2v, sum_p2v2 = self.totals()
        N = self.n
        value = 0.0 - eps * (log_sum - math.log(N))
        stderr = eps * torch.sqrt(((N * sum_p2 - 1) / max(N - 1, 1)).clamp_min(0))
        var_v = (sum_p2v2 - 2 * mean_v * sum_p2v + mean_v * mean_v * sum_p2[:, None]).clamp_min(0)
        return value, stderr, mean_v, torch.sqrt(var_v), 1.0 / sum_p2

    def atoms(self, x: torch.Tensor, eps: float, t: float, A: torch.Tensor | None, fac) -> tuple | None:
        """One :class:`InitialData` per point whose normalised Hopf–Cole value at that point is
        the estimate: ``K(x − y_j) e^{−g̃_j/eps} = e^{ℓ_j}/N`` with ``K`` the heat kernel of
        covariance ``2 eps t A``, i.e. ``g̃_j = −eps ℓ_j + eps log N − |y_j − x|²_{A⁻¹}/(4t) − n``
        where ``n`` is :func:`hjdl.normalization` (``fac``: the solver's ``Factors`` of ``A``)."""
        if not self.keep:
            return None
        ell = torch.cat([k[0] for k in self.kept], 1)
        delta = torch.cat([k[1].expand(ell.shape[0], -1, -1) for k in self.kept], 1)
        B, N, d = delta.shape
        L = None if fac.Cinv is None else (torch.diag(fac.Cinv) if fac.Cinv.ndim == 1 else fac.Cinv)
        s = torch.tensor(0.5 / math.sqrt(t), dtype=x.dtype, device=x.device)
        norm = float(normalization(eps, d, t, fac.logdet))
        out = []
        for b in range(B):
            y = x[b] + delta[b]
            D = _sq_dists(x[b:b + 1], y, L, s)[0]
            g_t = -eps * ell[b] + eps * math.log(N) - D - norm
            out.append(InitialData(y, g_t, A))
        return tuple(out)


def combine_replicates(streams: list, eps: float):
    """Value and error bar from ``R`` independent replicates of equal size (randomised QMC):
    the mean of ``e^ℓ`` over all atoms, and the standard error of the replicate means."""
    tots = [s.totals() for s in streams]
    R = len(streams)
    n = streams[0].n
    a = torch.stack([tt[0] for tt in tots], -1)                   # log Σ_r per replicate (B, R)
    value = 0.0 - eps * (lse(a, 1.0) - math.log(R * n))
    share = gibbs(a, 1.0)                                         # W̄_r / (R W̄)
    rel = torch.sqrt(((R * share - 1) ** 2).sum(-1) / (R - 1) / R)
    grads = torch.stack([tt[1] for tt in tots], 1)                # (B, R, d)
    grad = torch.einsum("br,brd->bd", share, grads)
    grad_se = torch.sqrt((share[..., None] ** 2 * (grads - grad[:, None]) ** 2).sum(1) * R / (R - 1))
    ess = 1.0 / torch.stack([tt[2] * sh * sh for tt, sh in zip(tots, share.unbind(-1))], -1).sum(-1)
    return value, eps * rel, grad, grad_se, ess
