"""Importance sampling at the Hopf–Lax minimiser, made adaptive (THEORY §3).

As ``eps → 0``, or for steep ``g``, the Gibbs weights of heat-kernel atoms collapse: the tilted
law ``∝ K(x − y) e^{−g(y)/eps}`` sits near the minimiser ``y*`` of
``c(y) = g(y) + |x − y|²_{A⁻¹}/(4t)``, far (in units of ``sqrt(eps)``) from ``x``. The proposal
is a Gaussian scale mixture ``q(y) = Σ_k α_k N(y; μ, s_k² Σ)`` with fixed scales ``s_k`` (``SCALES``):

1. Start: per point the better (by a pilot's effective sample size) of the Laplace fit (``μ = y*``,
   ``Σ = eps ∇²c(y*)⁻¹`` by autograd, Hessian eigenvalues floored so that no direction is wider than
   twice the heat kernel's spread; ``α`` all on ``s = 1``) and the heat kernel itself. The Laplace
   fit is exact for quadratic ``g``: every weight is then equal and the estimate exact to rounding.
2. Rounds, while a pilot's ``ESS/n < 1/2``: annealed EM. The pilot's log-weights ``ℓ`` are tempered
   to ``β ℓ`` with the largest ``β <= 1`` that keeps a fifth of the pilot effective (a law between
   proposal and target); one EM step of the scale mixture on those weights gives ``μ``, ``α`` and
   a scalar rescaling of ``Σ``; the shape of ``Σ`` moves to the weighted covariance only by
   ``ess/(ess + d²)`` (a d×d covariance from ``ess`` atoms is noise unless ``ess ≫ d²``). The scales matter in high
   dimension: a Gaussian's radius has relative spread ``1/sqrt(2d)`` and cannot follow a target
   whose radius is spread wider (the 100-d HJB at ``λ = 50``); the mixture can.
3. The proposal with the best pilot ESS is used for the ``budget`` atoms of the estimate.

Each weight ``e^{ℓ} = K(x − y) e^{−g(y)/eps} / q(y)`` (``K`` the normalised heat kernel of
covariance ``2 eps t A``) is unbiased for ``exp(−u/eps)`` whatever the proposal. If autograd
cannot differentiate ``g``, the start is the heat kernel alone.
"""

from __future__ import annotations

import math

import torch

from ..core import gibbs, lse, normalization
from ._checks import apply, call_g
from ._estimate import Stream
from .hopf_lax import minimise
from .montecarlo import chunk_size

#: the fixed scales ``s_k`` of the mixture (log-spaced; relative spacing below 1/sqrt(2·100))
SCALES = tuple(math.exp(v) for v in torch.linspace(math.log(0.5), math.log(2.0), 25).tolist())
_ONE = SCALES.index(min(SCALES, key=lambda s: abs(s - 1.0)))


class Proposal:
    """Per-point scale mixtures: mean (B, d), base covariance (B, d, d), weights (B, K)."""

    def __init__(self, mu, cov, alpha):
        B, d = mu.shape
        self.mu = mu
        S = 0.5 * (cov + cov.transpose(1, 2))
        jitter = 1e-13 * S.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-300)
        self.L = torch.linalg.cholesky(S + jitter[:, None, None] * torch.eye(d, dtype=S.dtype, device=S.device))
        self.logdet = 2 * torch.log(torch.diagonal(self.L, dim1=1, dim2=2)).sum(-1)
        self.alpha = alpha
        self.s = torch.tensor(SCALES, dtype=mu.dtype, device=mu.device)

    @classmethod
    def gaussian(cls, mu, cov):
        alpha = torch.zeros(mu.shape[0], len(SCALES), dtype=mu.dtype, device=mu.device)
        alpha[:, _ONE] = 1.0
        out = cls(mu, cov / SCALES[_ONE] ** 2, alpha)
        return out

    def cov(self):
        return self.L @ self.L.transpose(1, 2)

    def log_components(self, r2):
        """``log α_k + log N(y; μ, s_k² Σ)`` (B, n, K) from ``r2 = |L⁻¹(y − μ)|²`` (B, n)."""
        d = self.mu.shape[1]
        s2 = self.s * self.s
        with torch.no_grad():
            la = torch.log(self.alpha)
        return (la[:, None, :] - d * torch.log(self.s) - r2[..., None] / (2 * s2)
                - 0.5 * self.logdet[:, None, None] - 0.5 * d * math.log(2 * math.pi))

    def sample(self, n, gen):
        """Atoms (B, n, d), ``log q`` (B, n) and the component terms (B, n, K)."""
        B, d = self.mu.shape
        Z = torch.randn(n, d, generator=gen, dtype=self.mu.dtype, device=self.mu.device)
        U = torch.rand(B, n, generator=gen, dtype=self.mu.dtype, device=self.mu.device)
        cdf = torch.cumsum(self.alpha, -1)
        k = torch.searchsorted(cdf / cdf[:, -1:], U).clamp_max(len(SCALES) - 1)   # (B, n)
        s = self.s[k]                                                               # (B, n)
        y = self.mu[:, None, :] + s[..., None] * torch.einsum("bij,nj->bni", self.L, Z)
        comp = self.log_components(s * s * (Z * Z).sum(-1)[None])
        return y, lse(comp, 1.0), comp


def log_kernel_peak(eps, d, t, logdet):
    """``log K(0) = −n/eps`` for the heat kernel ``K`` of covariance ``2 eps t A``, with ``n`` the
    normalisation :func:`hjdl.normalization` (``eps > 0``)."""
    return -float(normalization(eps, d, t, logdet)) / eps


def _weights(g, x, y, logq, eps, t, Cinv, log_k0):
    """Log-weights ``log K(x − y) − g(y)/eps − log q(y)`` (B, n) and ``y − x`` (B, n, d), with
    ``log K(x − y) = log K(0) − |C⁻¹(y − x)|²/(4 t eps)`` and ``log_k0`` from :func:`log_kernel_peak`."""
    B, n, d = y.shape
    delta = y - x[:, None, :]
    w = apply(delta, Cinv)
    logK = log_k0 - (w * w).sum(-1) / (4 * t * eps)
    gv = call_g(g, y.reshape(-1, d)).reshape(B, n)
    return logK - gv / eps - logq, delta


def _ess_frac(ell):
    p = gibbs(ell, 1.0)
    return 1.0 / (p * p).sum(-1) / ell.shape[-1]


def _tempered_beta(ell, target):
    """Per point the largest ``β <= 1`` with ``ESS(softmax(β ℓ)) >= target · n`` (bisection)."""
    lo = torch.zeros(ell.shape[0], dtype=ell.dtype, device=ell.device)
    hi = torch.ones_like(lo)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        good = _ess_frac(ell * mid[:, None]) >= target
        lo, hi = torch.where(good, mid, lo), torch.where(good, hi, mid)
    return torch.where(_ess_frac(ell) >= target, torch.ones_like(lo), lo)


def _em_step(prop, y, comp, ell, d, keep=0.2):
    """One annealed EM step of the scale mixture on the tempered pilot weights."""
    beta = _tempered_beta(ell, keep)
    p = gibbs(ell * beta[:, None], 1.0)                     # (B, n)
    ess = 1.0 / (p * p).sum(-1)
    resp = gibbs(comp, 1.0)                                 # (B, n, K)
    pr = p[..., None] * resp                                       # (B, n, K)
    inv_s2 = 1.0 / (prop.s * prop.s)
    wy = (pr * inv_s2).sum(-1)                                     # (B, n)
    mu = torch.einsum("bn,bnd->bd", wy, y) / wy.sum(-1, keepdim=True)
    dev = y - mu[:, None, :]
    S = torch.einsum("bn,bni,bnj->bij", wy, dev, dev)
    # a d×d covariance from ~ess atoms is noisy (eigenvalues off by factors (1 ± sqrt(d/ess))²):
    # keep the current shape rescaled by the scalar EM step, and move towards the empirical
    # shape by ess/(ess + d²) only
    w = torch.linalg.solve_triangular(prop.L, dev.transpose(1, 2), upper=False)     # (B, d, n)
    c = (wy * (w * w).sum(1)).sum(-1) / d                                            # (B,)
    rho = (ess / (ess + d * d))[:, None, None]
    S = rho * S + (1 - rho) * c[:, None, None] * prop.cov()
    alpha = pr.sum(1)
    alpha = 0.9 * alpha / alpha.sum(-1, keepdim=True) + 0.1 / alpha.shape[-1]   # defensive floor
    return Proposal(mu, S, alpha)


def _pick(better, a, b):
    """Per point ``a`` where ``better`` else ``b``."""
    return Proposal(torch.where(better[:, None], a.mu, b.mu), torch.where(better[:, None, None], a.cov(), b.cov()),
                    torch.where(better[:, None], a.alpha, b.alpha))


def fit_proposal(g, x, eps, t, A, fac, gen, budget, rounds=30):
    """The adapted proposal, a record of how it was found, and the number of g evaluations
    (``fac``: the :class:`~hjdl.solver._checks.Factors` of ``A``)."""
    B, d = x.shape
    Cinv = fac.Cinv
    log_k0 = log_kernel_peak(eps, d, t, fac.logdet)
    Amat = torch.eye(d, dtype=x.dtype, device=x.device) if A is None else A
    n_p = min(budget, max(1024, 20 * d))
    info = {"laplace": True}
    n_evals = 0

    def pilot(prop):
        nonlocal n_evals
        y, logq, comp = prop.sample(n_p, gen)
        ell, _ = _weights(g, x, y, logq, eps, t, Cinv, log_k0)
        n_evals += B * n_p
        return y, comp, ell

    heat = Proposal.gaussian(x.clone(), (2 * eps * t * Amat).expand(B, d, d).clone())
    y, comp, ell = pilot(heat)
    best, frac, start = heat, _ess_frac(ell), ["heat kernel"] * B
    cur, cur_pilot = heat, (y, comp, ell)
    try:
        mu, _, _, H, n = minimise(g, x, x[None], Cinv, t)
        n_evals += n
        lam, Q = torch.linalg.eigh(H)
        lam = lam.clamp_min(1.0 / (4 * t * float(torch.linalg.eigvalsh(Amat).max())))
        lap = Proposal.gaussian(mu, eps * (Q / lam[:, None, :]) @ Q.transpose(1, 2))
        y, comp, ell = pilot(lap)
        f = _ess_frac(ell)
        better = f > frac
        best, frac = _pick(better, lap, best), torch.where(better, f, frac)
        start = ["Laplace" if bool(b) else s for b, s in zip(better, start)]
        cur = best
        cur_pilot = None
    except Exception as err:  # g not differentiable by autograd: the heat kernel alone
        from ..errors import NonFiniteError, ShapeError
        if isinstance(err, (NonFiniteError, ShapeError)):
            raise
        info["laplace"] = False
        info["laplace_failed"] = str(err).split(";")[0]
    history = [float(frac.mean())]
    for r in range(rounds):
        if float(frac.min()) >= 0.5:
            break
        if cur_pilot is None:
            cur_pilot = pilot(cur)
        y, comp, ell = cur_pilot
        f = _ess_frac(ell)
        better = f > frac
        if bool(better.any()):
            best, frac = _pick(better, cur, best), torch.where(better, f, frac)
        history.append(float(frac.mean()))
        if r == 0:  # leave the one-hot start: half the weight on every scale
            cur = Proposal(cur.mu, cur.cov(), 0.5 * cur.alpha + 0.5 / len(SCALES))
            cur_pilot = None
            continue
        cur = _em_step(cur, y, comp, ell, d)
        cur_pilot = None
    info.update({"start": start, "pilot": n_p, "rounds": len(history) - 1,
                 "pilot_ess_fraction": history})
    return best, info, n_evals


def importance(g, x, eps, t, A, fac, N, gen, chunk, keep):
    """(value, stderr, grad, grad_se, ess, stream, info, n_evals); ``fac``: the
    :class:`~hjdl.solver._checks.Factors` of ``A``."""
    B, d = x.shape
    prop, info, n_evals = fit_proposal(g, x, eps, t, A, fac, gen, N)
    log_k0 = log_kernel_peak(eps, d, t, fac.logdet)
    stream = Stream(keep)
    step = chunk_size(B, d * 2, chunk)
    for n0 in range(0, N, step):
        n = min(step, N - n0)
        y, logq, _ = prop.sample(n, gen)
        ell, delta = _weights(g, x, y, logq, eps, t, fac.Cinv, log_k0)
        v = -apply(delta, fac.Ainv) / (2 * t)
        stream.add(ell, v, delta if keep else None)
    n_evals += B * N
    return (*stream.estimate(eps), stream, info, n_evals)
