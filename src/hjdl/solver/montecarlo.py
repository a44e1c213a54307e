"""Monte Carlo and randomised quasi-Monte Carlo over the heat kernel (THEORY §3, semigroup).

``exp(−u(x, t)/eps) = E[exp(−g(x + sqrt(2 eps t) C Z)/eps)]`` with ``Z`` standard normal and
``C Cᵀ = A`` (Cholesky). The same normals serve every point of the batch (common random numbers).
``"qmc"`` takes the normals from scrambled Sobol points (SciPy's ``scipy.stats.qmc.Sobol``,
inverse normal CDF) in ``R`` independently scrambled replicates; the spread of the replicate
means gives the error bar (a plain Sobol estimate has none).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import apply, call_g
from ._estimate import Stream, combine_replicates


def chunk_size(B: int, d: int, chunk: int) -> int:
    """Atoms per chunk so that a chunk of points × atoms × d stays under ``chunk`` elements."""
    return max(1, chunk // max(1, B * d))


def _heat_chunk(g, x, Z, sigma, C, Ainv, eps, t, stream):
    delta = sigma * apply(Z, C)                 # (n, d), shared by all points
    B, d = x.shape
    y = (x[:, None, :] + delta[None]).reshape(-1, d)
    ell = -call_g(g, y).reshape(B, -1) / eps
    v = -apply(delta, Ainv) / (2 * t)
    stream.add(ell, v[None], delta[None] if stream.keep else None)


def monte_carlo(g, x, eps, t, C, Ainv, N, gen, chunk, keep):
    """Plain Monte Carlo with ``N`` atoms: (value, stderr, grad, grad_se, ess, stream)."""
    B, d = x.shape
    sigma = math.sqrt(2 * eps * t)
    stream = Stream(keep)
    step = chunk_size(B, d, chunk)
    for n0 in range(0, N, step):
        n = min(step, N - n0)
        Z = torch.randn(n, d, generator=gen, dtype=x.dtype, device=x.device)
        _heat_chunk(g, x, Z, sigma, C, Ainv, eps, t, stream)
    return (*stream.estimate(eps), stream)


def sobol_normals(d: int, m: int, seed: int, dtype, device) -> torch.Tensor:
    """``2**m`` scrambled Sobol points in ``d`` dimensions mapped to standard normals."""
    from scipy.special import ndtri
    from scipy.stats import qmc

    u = qmc.Sobol(d, scramble=True, seed=np.random.default_rng(seed)).random_base2(m)
    u = np.clip(u, 1e-16, 1 - 1e-16)
    return torch.as_tensor(ndtri(u), dtype=dtype, device=device)


def quasi_monte_carlo(g, x, eps, t, C, Ainv, N, gen, chunk, keep, replicates):
    """``replicates`` scrambled Sobol sets of ``2**m`` points each, ``2**m <= N / replicates``."""
    B, d = x.shape
    sigma = math.sqrt(2 * eps * t)
    m = max(1, int(math.floor(math.log2(max(2, N // replicates)))))
    step = chunk_size(B, d, chunk)
    streams = []
    for _ in range(replicates):
        seed = int(torch.randint(0, 2**31 - 1, (), generator=gen))
        Zall = sobol_normals(d, m, seed, x.dtype, x.device)
        stream = Stream(keep)
        for n0 in range(0, Zall.shape[0], step):
            _heat_chunk(g, x, Zall[n0:n0 + step], sigma, C, Ainv, eps, t, stream)
        streams.append(stream)
    value, stderr, grad, grad_se, ess = combine_replicates(streams, eps)
    merged = Stream(keep)
    merged.kept = [k for s in streams for k in s.kept]
    merged.n = sum(s.n for s in streams)
    return value, stderr, grad, grad_se, ess, merged, m
