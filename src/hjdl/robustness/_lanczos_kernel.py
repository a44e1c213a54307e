r"""Compiled form of the Lanczos curvature engine (numba; imported only when numba is installed).

The process, operator, tests and stopping rules are those of the batched torch engine in
``_spectral`` (read its module doc): the top-centred operator ``q ↦ AᵀAq``, one local
re-orthogonalisation per step, the top Ritz value by Laguerre's method certified by Sturm
counts, stop when ``ρ <= tol θ`` or ``|Δθ| <= still θ``. What changes is the schedule of the
work: the points are cut into chunks of ``_CHUNK`` rows, and each thread runs the whole process
for one chunk at a time, so that every array of a chunk stays in the core's cache. The two
matrix products of a step are BLAS calls on the chunk's active rows; the elementwise work
around them is one fused pass per row; each point is tested on its own, and a point that stops
is swapped out of the chunk's active rows (no batch-wide compaction). In eager torch the same
process reads and writes the whole batch a dozen times per step and runs the tridiagonal tests
as one small operation per Krylov index; those passes, not the products, dominated its time.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls: loaded now)
from numba import njit, prange
from threadpoolctl import ThreadpoolController

#: rows per chunk: the chunk's (rows × N) products and weights stay in a core's L2 cache
_CHUNK = 64
_TINY = 2.2250738585072014e-308
_CONTROLLER = None


def blas_controller() -> ThreadpoolController:
    """The BLAS libraries loaded in this process (found once: a lookup takes ~0.5 s); the caller
    limits them to one thread while the kernel's threads call them."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _count_above(a, b2, k, sigma):
    """Eigenvalues of the tridiagonal (diagonal ``a[:k]``, squared off-diagonal ``b2[:k-1]``)
    above ``sigma``: ``k`` less the negative LDLᵀ pivots of ``T − σ`` (Sturm / Sylvester); an
    exact zero pivot counts as ``−tiny``, as in LAPACK's bisection."""
    v = a[0] - sigma
    if v == 0.0:
        v = -_TINY
    neg = 1 if v < 0 else 0
    for i in range(1, k):
        v = (a[i] - sigma) - b2[i - 1] / v
        if v == 0.0:
            v = -_TINY
        if v < 0:
            neg += 1
    return k - neg


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _top_ritz(a, b2, k, guess):
    """Top eigenvalue θ of the tridiagonal ``T_k`` and the squared last component of its unit
    eigenvector (``_spectral._top_ritz`` for one point): Laguerre's method from above (from
    ``guess`` where a Sturm count puts it above the spectrum, else from the Gershgorin bound),
    certified by Sturm counts, bisection where that fails."""
    x = -np.inf
    lo = -np.inf
    for i in range(k):
        off = 0.0
        if i > 0:
            off += math.sqrt(b2[i - 1])
        if i < k - 1:
            off += math.sqrt(b2[i])
        x = max(x, a[i] + off)
        lo = max(lo, a[i])
    x = x + 1e-12 * abs(x) + 1e-300
    if math.isfinite(guess) and lo < guess < x and _count_above(a, b2, k, guess) == 0:
        x = guess
    upper = x
    n = float(k)
    for _ in range(40):
        D = a[0] - x
        inv = 1.0 / D                      # one division per index (the recurrence's latency)
        Q = -inv
        Tq = 0.0
        above = D < 0                      # x above the spectrum <=> every pivot negative
        G = Q
        Hs = -Q * Q
        for i in range(1, k):
            r = b2[i - 1] * inv
            D = (a[i] - x) - r
            inv = 1.0 / D
            d2 = (Tq - 2.0 * Q * Q) * r
            Q = (-1.0 + r * Q) * inv
            Tq = d2 * inv
            above = above and D < 0
            G += Q
            Hs += Tq - Q * Q
        disc = max((n - 1.0) * (n * (-Hs) - G * G), 0.0)
        den = G + math.sqrt(disc)
        if not (above and math.isfinite(den) and den > 0):
            break
        xn = max(x - n / den, lo)
        small = (x - xn) <= 1e-15 * abs(x)
        x = xn
        if small:
            break
    if not (_count_above(a, b2, k, x * (1 + 1e-12) + _TINY) == 0
            and _count_above(a, b2, k, x * (1 - 1e-12) - _TINY) >= 1):
        lo_, hi_ = lo, upper
        for _ in range(200):
            if hi_ - lo_ <= 1e-14 * abs(hi_):
                break
            mid = 0.5 * (lo_ + hi_)
            if _count_above(a, b2, k, mid) >= 1:
                lo_ = mid
            else:
                hi_ = mid
        x = hi_
    # s_k² = −1/d_k'(θ), from the derivative recurrence of the pivots of T − θ
    D = a[0] - x
    if D == 0.0:
        D = -_TINY
    d1 = -1.0
    for i in range(1, k):
        r = b2[i - 1] / D
        d1 = -1.0 + r * (d1 / D)
        D = (a[i] - x) - r
        if D == 0.0:
            D = -_TINY
    s2 = min(-1.0 / d1, 1.0) if (math.isfinite(d1) and d1 < 0) else 0.0
    return x, s2


@njit(cache=True, parallel=True, error_model="numpy", fastmath={"contract", "reassoc"})
def lanczos_top(P, W, D2, R, tol, still, first, every, out, status, steps):
    """``out[b] = λ_max(Cov_{P_b}(W))`` for the rows of ``P`` ``(B, N)`` (``W`` in scaled units,
    mean-centred; ``D2`` its table of squared row distances, or empty to form them from
    differences), from the start ``R[b]`` (normalised here). ``status[b]``: 1 where a stopping
    rule ended the process, 0 where it ran ``min(N, d)`` steps without (``out[b]`` is then NaN
    and the caller finishes the point with ``eigh``); ``steps[b]``: operator applications."""
    B, N = P.shape
    d = W.shape[1]
    kmax = min(N, d)
    table = D2.shape[0] == N    # else (an empty D2) the row distances come from differences
    WT = np.ascontiguousarray(W.T)
    nch = (B + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        b0 = ch * _CHUNK
        n = min(_CHUNK, B - b0)
        idx = np.empty(n, dtype=np.int64)
        top = np.empty(n, dtype=np.int64)
        pl = np.empty((n, N))
        dmu = np.empty((n, d))
        muc = np.empty((n, d))
        scale = np.empty(n)
        q = np.empty((n, d))
        qp = np.zeros((n, d))
        y = np.empty((n, d))
        U = np.empty((n, N))
        ssum = np.empty(n)
        al = np.empty((n, kmax))
        b2 = np.empty((n, kmax))
        bn = np.empty(n)
        beta = np.zeros(n)
        theta_old = np.empty(n)
        rho_old = np.zeros(n)
        na = 0
        # per point: the top row t, δμ = Σ_{j≠t} π_j (W_j − W_t) (the off-top weights times W
        # by one product: no cancellation when π sits on the top row), tr Cov = Σ_{j≠t} π_j
        # |W_j − W_t|² − |δμ|² from the table of squared row distances, and π / tr Cov
        for i in range(n):
            p = P[b0 + i]
            t = 0
            for j in range(1, N):
                if p[j] > p[t]:
                    t = j
            top[i] = t
            pl[i, :] = p
            pl[i, t] = 0.0
        np.dot(pl, W, dmu)
        for i in range(n):
            b = b0 + i
            t = top[i]
            pn = pl[i]
            wt = W[t]
            m_off = 0.0
            sq = 0.0
            if table:
                d2t = D2[t]
                for j in range(N):
                    m_off += pn[j]
                    sq += pn[j] * d2t[j]
            else:                       # no table (large N): the distances from differences
                for j in range(N):
                    pj = pn[j]
                    m_off += pj
                    if pj != 0.0:
                        wj = W[j]
                        s = 0.0
                        for m in range(d):
                            v = wj[m] - wt[m]
                            s += v * v
                        sq += pj * s
            dm = dmu[i]
            dd = 0.0
            for m in range(d):
                v = dm[m] - m_off * wt[m]
                dm[m] = v
                dd += v * v
            trace = sq - dd
            steps[b] = 0
            if not trace > 0:           # a one-hot π (or rounding): Cov = 0
                out[b] = 0.0
                status[b] = 1
                continue
            # this point takes active slot na (na <= i: rows move down, never over unread ones)
            unit = max(trace, _TINY)
            p = P[b]
            pa = pl[na]
            for j in range(N):
                pa[j] = p[j] / unit
            da = dmu[na]
            mc = muc[na]
            rb = R[b]
            qa = q[na]
            rn = 0.0
            for m in range(d):
                da[m] = dm[m]
                mc[m] = wt[m] + dm[m]
                rn += rb[m] * rb[m]
            rn = 1.0 / math.sqrt(rn)
            for m in range(d):
                qa[m] = rb[m] * rn
            idx[na] = b
            top[na] = t
            scale[na] = unit
            theta_old[na] = -np.inf
            na += 1
        for k in range(1, kmax + 1):
            if na == 0:
                break
            # r = π ⊙ ((W − 1W_t) q − δμ·q): the top column of the same product is exactly 0
            np.dot(q[:na], WT, U[:na])
            for i in range(na):
                ui = U[i]
                pi = pl[i]
                dm = dmu[i]
                qi = q[i]
                dq = 0.0
                for m in range(d):
                    dq += dm[m] * qi[m]
                c = ui[top[i]] + dq
                s = 0.0
                for j in range(N):
                    r = (ui[j] - c) * pi[j]
                    ui[j] = r
                    s += r
                ssum[i] = s
            np.dot(U[:na], W, y[:na])
            for i in range(na):
                yi = y[i]
                qi = q[i]
                qpi = qp[i]
                mc = muc[i]
                s = ssum[i]
                a = 0.0
                for m in range(d):
                    v = yi[m] - mc[m] * s              # Aᵀ(π ⊙ r) = Wᵀ(π ⊙ r) − μ Σ π r
                    yi[m] = v
                    a += v * qi[m]
                c = 0.0
                for m in range(d):
                    v = yi[m] - a * qi[m] - beta[i] * qpi[m]
                    yi[m] = v
                    c += v * qi[m]
                nn = 0.0
                for m in range(d):
                    v = yi[m] - c * qi[m]                # local re-orthogonalisation
                    yi[m] = v
                    nn += v * v
                bn[i] = math.sqrt(nn)
                al[i, k - 1] = a + c
                b2[i, k - 1] = nn
            if k == kmax or (k >= first and (k - first) % every == 0):
                i = 0
                while i < na:
                    # above the new Ritz value as a rule (θ_old is that close to an eigenvalue)
                    theta, s2 = _top_ritz(al[i], b2[i], k, theta_old[i] + 2.0 * rho_old[i])
                    rho = bn[i] * math.sqrt(s2)
                    if rho <= tol * theta or abs(theta - theta_old[i]) <= still * abs(theta) \
                            or rho <= 1e-15:
                        b = idx[i]
                        out[b] = theta * scale[i]
                        status[b] = 1
                        steps[b] = k
                        na -= 1
                        if i < na:                     # the last active row takes this slot
                            idx[i] = idx[na]
                            top[i] = top[na]
                            scale[i] = scale[na]
                            theta_old[i] = theta_old[na]
                            rho_old[i] = rho_old[na]
                            bn[i] = bn[na]
                            beta[i] = beta[na]
                            pl[i, :] = pl[na, :]
                            dmu[i, :] = dmu[na, :]
                            muc[i, :] = muc[na, :]
                            q[i, :] = q[na, :]
                            qp[i, :] = qp[na, :]
                            y[i, :] = y[na, :]
                            al[i, :k] = al[na, :k]
                            b2[i, :k] = b2[na, :k]
                    else:
                        theta_old[i] = theta
                        rho_old[i] = rho
                        i += 1
            if k == kmax:
                for i in range(na):                    # not stopped within min(N, d) steps
                    out[idx[i]] = np.nan
                    status[idx[i]] = 0
                    steps[idx[i]] = k
                break
            for i in range(na):
                inv = 1.0 / bn[i] if bn[i] > 1e-15 else 0.0   # β = 0: invariant subspace found
                qi = q[i]
                qpi = qp[i]
                yi = y[i]
                for m in range(d):
                    qpi[m] = qi[m]
                    qi[m] = yi[m] * inv
                beta[i] = bn[i]
