r"""Compiled fused step of :func:`hjdl.training.train_many` (numba; imported only when numba is
installed, ``pip install 'hjdl[fast]'``).

One call evaluates, for ``S`` LSE layers in float64, the per-network losses and the gradients
in ``Q = [W, b]^T`` (shape ``(S, d + 1, N)``) that the torch step of ``batched._train_group``
forms with two batched products and :func:`~hjdl.core.kernel._lse_weights`, but without ever
holding the ``(S, n, N)`` logits: per network ``s`` and row ``i`` the ``N`` logits
``z_j = [x_i, 1]·Q[s, :, j]`` go into a row buffer (in the cache), then

    m = max_j z_j (first maximum ``t``),  w_j = exp((z_j − m)/eps_s) (w_t = 1 exactly),
    rest = Σ_{j≠t} w_j,  f = m + eps_s log1p(rest),  r = f − y_i,
    L_s += r²/n,  G[s, :, j] += c [x_i, 1] w_j  with  c = 2r/(n (1 + rest)),

the formulas of ``_lse_weights`` (THEORY §1: the gradient of LSE is π = w/(1 + rest)). The
work is split into (network, block of ``_BLOCK`` rows) tasks run by ``prange`` with private
gradient and loss slots, summed afterwards in a fixed order: the result depends neither on the
thread count nor on how networks are grouped.

Differences from the torch step, all at rounding level: ``(z − m)·(1/eps)`` instead of
``(z − m)/eps`` (one ulp of the exponent's argument), the products' summation order, and the
exponential :func:`_exp_neg` (below; at most 2.5e-16 relative from ``np.exp`` on its domain).

A non-finite parameter, logit maximum or target gives a NaN loss for that network (the torch
step's NaNs propagate the same way), so the caller's divergence check names it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: rows per task: a task's gradient slot is ``(d + 1) × N``, its row buffers ``N`` long
_BLOCK = 512

_LOG2E = 1.4426950408889634
_LN2HI = 6.93147180369123816490e-01  # ln 2 rounded to 32 significant bits: k·LN2HI is exact
_LN2LO = 1.90821492927058770002e-10  # ln 2 − LN2HI
_TWO_M54 = 2.0 ** -54
#: below this the exponential is < 2^-1076, which rounds to 0 (the smallest subnormal is 2^-1074)
_CLAMP = -746.0


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _exp_neg(a, out, ibuf):
    """``out[j] = exp(a[j])`` for ``a[j] <= 0`` (finite), vectorisable (numba's ``np.exp`` is a
    scalar libm call). Cody–Waite reduction ``a = k ln2 + r`` with ``k = round(a/ln2)`` and
    ``|r| <= ln2/2``, ``exp(r)`` by its degree-12 Taylor polynomial (truncation < 3e-17), and
    ``2^k`` built from its bits in ``ibuf`` (int64, viewed as float64) as ``2^(k+54) · 2^-54``:
    the last product rounds once, so results below ``2^-1022`` are the gradually underflowed
    subnormals and below ``2^-1075`` exactly 0 (``a < -745.13``), as ``np.exp``. No
    ``reassoc`` flag: it would fold the two-part reduction into one and lose ~1e-13."""
    fb = ibuf.view(np.float64)
    for j in range(a.size):
        x = a[j]
        x = x if x > _CLAMP else _CLAMP
        k = math.floor(x * _LOG2E + 0.5)
        r = (x - k * _LN2HI) - k * _LN2LO
        p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
            1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (
                1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600))))))))))))
        ibuf[j] = (np.int64(k) + 1077) << 52
        out[j] = (p * fb[j]) * _TWO_M54


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _sum(w):
    """``Σ w`` (reassociated: vectorised partial sums)."""
    acc = 0.0
    for j in range(w.size):
        acc += w[j]
    return acc


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _task(Xa, Q, eps, y, s, xs, ys, lo, hi, n, G, z, w, ibuf):
    """Rows ``lo..hi-1`` of network ``s``: adds their gradient into ``G`` ((D, N)) and returns
    their summed squared residuals (NaN when a row maximum is not finite)."""
    D, N = Q.shape[1], Q.shape[2]
    e = eps[s]
    inv = 1.0 / e
    loss = 0.0
    for i in range(lo, hi):
        for j in range(N):
            z[j] = Q[s, D - 1, j]
        for k in range(D - 1):
            xk = Xa[xs, i, k]
            for j in range(N):
                z[j] += xk * Q[s, k, j]
        m = -np.inf
        for j in range(N):
            m = z[j] if z[j] > m else m
        if not (abs(m) < np.inf):
            return np.nan
        top = 0
        while z[top] != m:
            top += 1
        for j in range(N):
            z[j] = (z[j] - m) * inv
        _exp_neg(z, w, ibuf)
        w[top] = 0.0
        rest = _sum(w)
        w[top] = 1.0
        r = m + e * math.log1p(rest) - y[ys, i]
        loss += r * r
        c = 2.0 * r / (n * (1.0 + rest))
        for k in range(D):
            ck = c * Xa[xs, i, k]
            for j in range(N):
                G[k, j] += ck * w[j]
    return loss

@njit(cache=True, parallel=True, error_model="numpy", fastmath={"contract"})
def fused_step(Xa, Q, eps, y, G, loss):
    """Losses ``loss`` ((S,)) and gradients ``G`` ((S, D, N)) of the ``S`` networks at ``Q``.

    ``Xa``: ``(1 or S, n, D)`` inputs with a last column of ones; ``Q``: ``(S, D, N)``; ``eps``:
    ``(S,)`` normal positive temperatures; ``y``: ``(1 or S, n)``. All C-contiguous float64."""
    S, D, N = Q.shape
    n = Xa.shape[1]
    nb = (n + _BLOCK - 1) // _BLOCK
    parts = np.zeros((S * nb, D, N))
    sums = np.zeros(S * nb)
    ok = np.ones(S, dtype=np.bool_)
    for s in range(S):
        for k in range(D):
            for j in range(N):
                if not (abs(Q[s, k, j]) < np.inf):
                    ok[s] = False
    for t in prange(S * nb):
        s = t // nb
        b = t - s * nb
        if ok[s]:
            z = np.empty(N)
            w = np.empty(N)
            ibuf = np.empty(N, dtype=np.int64)
            lo = b * _BLOCK
            hi = min(n, lo + _BLOCK)
            xs = s if Xa.shape[0] > 1 else 0
            ys = s if y.shape[0] > 1 else 0
            sums[t] = _task(Xa, Q, eps, y, s, xs, ys, lo, hi, n, parts[t], z, w, ibuf)
    for s in prange(S):
        if not ok[s]:
            loss[s] = np.nan
            continue
        acc = 0.0
        for b in range(nb):
            acc += sums[s * nb + b]
        loss[s] = acc / n
        for k in range(D):
            for j in range(N):
                g = 0.0
                for b in range(nb):
                    g += parts[s * nb + b, k, j]
                G[s, k, j] = g
