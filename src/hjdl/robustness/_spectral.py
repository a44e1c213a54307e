r"""Batched top eigenvalue of Gibbs covariances ``Cov_π(W) = AᵀA``, ``A = diag(√π)(W − 1μᵀ)``.

Two engines (inputs trusted; ``p`` ``(B, N)`` rows on the simplex, ``W`` ``(N, d)``):

* ``eigh``: form the smaller Gram matrix (``AᵀA`` if ``d <= N`` else ``AAᵀ``) for a chunk of
  points and call the batched symmetric eigensolver. Exact; cost ``B·N·min(N,d)²`` plus the
  batched eigensolver.
* ``lanczos``: the Lanczos process on ``v ↦ AᵀAv = Wᵀ(π ⊙ r) − μ Σ_j π_j r_j``,
  ``r = Wv − μ·v``, for all points at once (each step is two matrix products with ``W``).
  The top Ritz value ``θ`` of the tridiagonal ``T_k`` is found by Laguerre's method on
  ``det(T_k − x)`` started above the spectrum (Gershgorin), which converges monotonically for
  real-rooted polynomials; its residual is ``ρ = β_k |s_k|`` with ``s_k² = −1/d_k'(θ)`` (``d_i``
  the LDLᵀ pivots of ``T_k − θ``). A point stops when ``ρ <= tol·θ`` and its Ritz value has
  stopped moving (``|Δθ| <= 1e-15 θ``); then ``|λ_max − θ| <= ρ²/gap``. Points still running after
  ``min(N, d)`` steps are finished by ``eigh``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["top_eig_cov"]

#: elements (points × neurons × dims) per chunk of the ``eigh`` engine
_CHUNK = 1 << 22


def _top_eig_eigh(p: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    B, N = p.shape
    d = W.shape[1]
    out = torch.empty(B, dtype=p.dtype, device=p.device)
    step = max(1, _CHUNK // max(1, N * d))
    for s in range(0, B, step):  # chunks bound peak memory; each chunk is one batched call
        pc = p[s:s + step]
        mu = pc @ W
        A = (W[None] - mu[:, None, :]) * pc.clamp_min(0).sqrt()[..., None]  # (b, N, d)
        G = A.transpose(1, 2) @ A if d <= N else A @ A.transpose(1, 2)
        out[s:s + step] = torch.linalg.eigvalsh(G)[:, -1]
    return out.clamp_min(0)


def _top_ritz(alpha: torch.Tensor, beta: torch.Tensor, iters: int = 40):
    """Largest eigenvalue ``θ`` of tridiagonal ``T`` (diag ``alpha`` (B,k), off ``beta`` (B,k-1))
    and the squared last component of its unit eigenvector, by Laguerre's method from above."""
    B, k = alpha.shape
    b2 = beta * beta
    off = torch.zeros_like(alpha)
    if k > 1:
        off[:, :-1] += beta.abs()
        off[:, 1:] += beta.abs()
    x = (alpha + off).amax(-1)
    x = x + 1e-12 * x.abs() + 1e-300
    n = float(k)
    lo = alpha.amax(-1)  # θ >= max α_i (Rayleigh quotients of unit vectors)
    done = torch.zeros(B, dtype=torch.bool, device=alpha.device)
    for _ in range(iters):
        d = alpha[:, 0] - x
        d1 = -torch.ones_like(x)
        d2 = torch.zeros_like(x)
        above = d < 0  # x above the spectrum of every leading block <=> all pivots < 0
        G = d1 / d
        Hs = -(d1 / d) ** 2
        for i in range(1, k):  # recurrence over the Krylov dimension, vectorised over points
            r = b2[:, i - 1] / d
            nd = alpha[:, i] - x - r
            nd1 = -1 + r * d1 / d
            nd2 = r * (d2 / d - 2 * (d1 / d) ** 2)
            d, d1, d2 = nd, nd1, nd2
            above = above & (d < 0)
            q = d1 / d
            G = G + q
            Hs = Hs + d2 / d - q * q
        # G = p'/p, H = G² − p''/p = −(log p)''; Laguerre's step from above the largest root
        H = -Hs
        disc = ((n - 1) * (n * H - G * G)).clamp_min(0)
        denom = G + torch.sqrt(disc)
        ok = above & torch.isfinite(denom) & (denom > 0) & ~done
        step = torch.where(ok, n / torch.where(ok, denom, torch.ones_like(denom)), torch.zeros_like(x))
        x_new = torch.maximum(x - step, lo)
        done = done | ~ok | ((x - x_new) <= 1e-15 * x.abs())
        x = torch.where(ok, x_new, x)
        if bool(done.all()):
            break
    # derivative of the last pivot at θ gives the last eigenvector component: s_k² = −1/d_k'
    d = alpha[:, 0] - x
    d1 = -torch.ones_like(x)
    for i in range(1, k):
        safe = torch.where(d == 0, torch.full_like(d, -1e-300), d)
        r = b2[:, i - 1] / safe
        d, d1 = alpha[:, i] - x - r, -1 + r * d1 / safe
    s2 = torch.where(torch.isfinite(d1) & (d1 < 0), -1.0 / d1, torch.zeros_like(d1)).clamp(0, 1)
    return x, s2


def _top_eig_lanczos(p: torch.Tensor, W: torch.Tensor, tol: float = 1e-6,
                     first_check: int = 12, every: int = 6, seed: int = 0) -> torch.Tensor:
    B, N = p.shape
    d = W.shape[1]
    kmax = min(N, d)
    dtype, dev = p.dtype, p.device
    out = torch.empty(B, dtype=dtype, device=dev)
    idx = torch.arange(B, device=dev)
    mu = p @ W
    trace = (p @ (W * W).sum(1) - (mu * mu).sum(-1)).clamp_min(0)  # tr Cov >= λ_max
    gen = torch.Generator(device=dev).manual_seed(seed)
    q = torch.randn(B, d, generator=gen, dtype=dtype, device=dev)
    q = q / q.norm(dim=-1, keepdim=True)
    q_prev = torch.zeros_like(q)
    beta_prev = torch.zeros(B, dtype=dtype, device=dev)
    alphas: list[torch.Tensor] = []
    betas: list[torch.Tensor] = []
    theta_old = torch.full((B,), -math.inf, dtype=dtype, device=dev)
    # augmented factors fold the centring into the products: [q, −μ·q] [Wᵀ; 1ᵀ] = (W − 1μᵀ) q
    # and (π ⊙ r)[W, 1] = (Wᵀ(π ⊙ r), Σ π r)
    ones = torch.ones(1, N, dtype=dtype, device=dev)
    W_in = torch.cat([W.T, ones], 0)        # (d + 1, N)
    W_out = torch.cat([W, ones.T], 1)       # (N, d + 1)
    for k in range(1, kmax + 1):
        r = (torch.cat([q, -(mu * q).sum(-1, keepdim=True)], 1) @ W_in).mul_(p)   # π ⊙ (W − μ)q
        o = r @ W_out
        w = o[:, :d] - mu * o[:, d:]                                              # AᵀA q
        a = (w * q).sum(-1)
        w = w - a[:, None] * q - beta_prev[:, None] * q_prev
        c = (w * q).sum(-1)                                # one local re-orthogonalisation
        w = w - c[:, None] * q
        a = a + c
        bn = w.norm(dim=-1)
        alphas.append(a)
        betas.append(bn)
        if k == kmax or (k >= first_check and (k - first_check) % every == 0):
            A_ = torch.stack(alphas, 1)
            B_ = torch.stack(betas[:-1], 1) if k > 1 else A_[:, :0]
            theta, s2 = _top_ritz(A_, B_)
            theta = torch.where(trace > 0, theta, torch.zeros_like(theta))
            rho = bn * s2.sqrt()
            conv = (rho <= tol * theta) | ((theta - theta_old).abs() <= 1e-14 * theta.abs()) \
                | (rho <= 1e-15 * trace) | (trace == 0)
            out[idx[conv]] = theta[conv]
            keep = ~conv
            if not bool(keep.any()):
                return out.clamp_min(0)
            idx, p, mu, trace = idx[keep], p[keep], mu[keep], trace[keep]
            q, q_prev, w, bn = q[keep], q_prev[keep], w[keep], bn[keep]
            alphas = [t[keep] for t in alphas]
            betas = [t[keep] for t in betas]
            theta_old = theta[keep]
        tiny = bn <= 1e-15 * trace  # invariant subspace found: stop extending it
        q_prev, q = q, torch.where(tiny[:, None], torch.zeros_like(w), w / torch.where(
            tiny, torch.ones_like(bn), bn)[:, None])
        beta_prev = bn
    # not converged within min(N, d) steps (loss of orthogonality): finish exactly
    out[idx] = _top_eig_eigh(p, W)
    return out.clamp_min(0)


def top_eig_cov(p: torch.Tensor, W: torch.Tensor, method: str = "auto") -> torch.Tensor:
    """``λ_max(Cov_{p_b}(W))`` for each row ``p_b`` of ``p`` (``(B, N)``), ``W`` ``(N, d)`` → ``(B,)``."""
    if method == "auto":
        method = "lanczos" if min(W.shape) > 24 else "eigh"
    if method == "lanczos":
        return _top_eig_lanczos(p, W)
    return _top_eig_eigh(p, W)
