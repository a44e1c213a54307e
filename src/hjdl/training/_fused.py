r"""Compiled fused step of :func:`hjdl.training.train_many` (numba; imported only when numba is
installed, ``pip install 'hjdl[fast]'``).

One call evaluates, for ``S`` LSE layers in float64, the per-network losses and the gradients
in ``Q = [W, b]^T`` (shape ``(S, d + 1, N)``) that the torch step of ``batched._train_group``
forms with two batched products and :func:`~hjdl.core.kernel._lse_weights`, but without ever
holding the ``(S, n, N)`` logits. For network ``s``, row ``i`` and neuron ``j``, with logits
``z_j = [x_i, 1]·Q[s, :, j]``:

    m = max_j z_j (first maximum ``t``),  w_j = exp((z_j − m)/eps_s) (w_t = 1 exactly),
    rest = Σ_{j≠t} w_j,  f = m + eps_s log1p(rest),  r = f − y_i,
    L_s += r²/n,  G[s, :, j] += c [x_i, 1] w_j  with  c = 2r/(n (1 + rest)),

the formulas of ``_lse_weights`` (THEORY §1: the gradient of LSE is π = w/(1 + rest)).

Layout (rows in the vector lanes). The inputs come transposed, ``(D, n)``, and the rows are
taken ``width`` at a time (:func:`layout`: ``width × N`` weights stay within the core's cache).
Each pass runs over one neuron at a time and, inside it, over the block's rows, so that every
inner loop is one straight, vectorised loop over contiguous rows, whatever ``N`` is: (1) the
logits with the running row maximum and its first index, (2) the weights with :func:`_expn` and
the running ``rest``, (3) per row ``log1p`` (:func:`_log1p`), the residual and ``c``, (4) the
gradient sums over the block's rows. The exponential and ``log1p`` are written out here
(polynomials on reduced arguments, the exponent built from its bits) because numba calls libm's
scalar ones, which no loop vectorises.

The work is split into (network, row range) tasks run by ``prange``: a task takes a whole
number of ``_BLOCK`` = 512 rows (:func:`layout`) and sweeps them ``width`` rows at a time (the
last sweep partial), with private gradient and loss slots summed afterwards in a fixed order;
tasks and sweeps depend only on ``n`` and ``N``, so the result depends neither on the thread
count nor on how networks are grouped.

Differences from the torch step, all at rounding level: ``(z − m)·(1/eps)`` instead of
``(z − m)/eps`` (one ulp of the exponent's argument), the products' summation order, and
:func:`_expn` / :func:`_log1p` (below; within 4e-16 and 4.5e-16 relative of ``np.exp`` and
``np.log1p`` on their domains, tested; the largest seen, over millions of arguments, 3.3e-16
and 4.4e-16, 1.5 and 2 ulp).

A non-finite parameter, logit (a NaN from ``inf − inf`` included) or target gives a NaN loss
for that network, as the torch step's NaNs do, so the caller's divergence check names it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

#: a task's rows are a multiple of this, at least ``_TASK_LOGITS`` logits' worth (:func:`layout`)
_BLOCK = 512
#: logits per task (about 0.1-0.3 ms of work: the per-task buffers are then ~1 % of its time)
_TASK_LOGITS = 2 ** 18
#: bytes of the ``width × N`` weight buffer of a task (half of a 1 MiB level-2 cache)
_BUFFER_BYTES = 2 ** 19

_LOG2E = 1.4426950408889634
_LN2HI = 6.93147180369123816490e-01  # ln 2 rounded to 32 significant bits: k·LN2HI is exact
_LN2LO = 1.90821492927058770002e-10  # ln 2 − LN2HI
_TWO_M54 = 2.0 ** -54
#: below this the exponential is < 2^-1076, which rounds to 0 (the smallest subnormal is 2^-1074)
_CLAMP = -746.0
_ONE_BITS = 0x3FF0000000000000       # the bits of 1.0
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # the bits of √½
_MANTISSA = (1 << 52) - 1

_FLAGS = dict(cache=True, error_model="numpy", fastmath={"contract"})


def _bitcast(source, target, name, doc):
    """A numba intrinsic reinterpreting the bits of a ``source`` scalar as a ``target`` one (a
    register move, no memory; vectorises)."""

    def cast(typingctx, x):
        if x != source:
            return None

        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = doc
    return intrinsic(cast)


_as_float = _bitcast(types.int64, types.float64, "_as_float", "The float64 whose bits are the int64 given.")
_as_bits = _bitcast(types.float64, types.int64, "_as_bits", "The int64 holding the bits of the float64 given.")


@njit(**_FLAGS)
def _expn(x):
    """``exp(x)`` for finite ``x <= 0``, inlined into vectorised loops (numba's ``np.exp`` is a
    scalar libm call). Cody–Waite reduction ``x = k ln2 + r`` with ``k = round(x/ln2)`` and
    ``|r| <= ln2/2``, ``exp(r)`` by its degree-12 Taylor polynomial (truncation < 3e-17), and
    ``2^k`` built from its bits as ``2^(k+54) · 2^-54``: the last product rounds once, so results
    below ``2^-1022`` are the gradually underflowed subnormals and below ``2^-1075`` exactly 0
    (``x < -745.13``), as ``np.exp``; NaN gives NaN (a NaN logit, from ``inf − inf`` in its
    products, must poison the row's loss as in the torch step, not weigh 0). No ``reassoc``
    flag: it would fold the two-part reduction into one and lose ~1e-13."""
    c = _CLAMP if x < _CLAMP else x  # NaN stays NaN
    k = math.floor(c * _LOG2E + 0.5)
    r = (c - k * _LN2HI) - k * _LN2LO
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
        1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (
            1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600))))))))))))
    e = (p * _as_float((np.int64(k) + 1077) << 52)) * _TWO_M54
    return e if x == x else x  # a select: the int64 of a NaN k (undefined) is never used


@njit(**_FLAGS)
def _log1p(x):
    """``log1p(x)`` for finite ``x >= 0``, inlined into vectorised loops. ``u = 1 + x`` rounded,
    with its rounding error ``c`` exact (``1 + x = u + c``; two cases by which term is larger);
    ``u = 2^k · m`` with ``m`` in ``[√½, √2)`` read from the bits; ``log m = 2 atanh(s)``,
    ``s = (m − 1)/(m + 1)`` (``|s| <= 0.172``), by its odd series to ``s^23`` (truncation
    < 1e-19); then ``log1p(x) = k ln2 + log m + c/u`` with the two-part ``ln2``."""
    u = 1.0 + x
    c = (1.0 - (u - x)) if u > 2.0 else (x - (u - 1.0))
    bits = _as_bits(u) + (_ONE_BITS - _SQRT_HALF_BITS)
    k = float((bits >> 52) - 1023)
    f = _as_float((bits & _MANTISSA) + _SQRT_HALF_BITS) - 1.0
    s = f / (2.0 + f)
    z = s * s
    p = 1.0 / 3 + z * (1.0 / 5 + z * (1.0 / 7 + z * (1.0 / 9 + z * (1.0 / 11 + z * (
        1.0 / 13 + z * (1.0 / 15 + z * (1.0 / 17 + z * (1.0 / 19 + z * (1.0 / 21 + z * (1.0 / 23))))))))))
    return k * _LN2HI + ((2.0 * s + (2.0 * s) * (z * p) + k * _LN2LO) + c / u)


@njit(**_FLAGS)
def exp_neg(a, out):
    """``out[j] = exp(a[j])`` for finite ``a[j] <= 0`` by :func:`_expn` (for the tests)."""
    for j in range(a.size):
        out[j] = _expn(a[j])


@njit(**_FLAGS)
def log1p_nonneg(a, out):
    """``out[j] = log1p(a[j])`` for finite ``a[j] >= 0`` by :func:`_log1p` (for the tests)."""
    for j in range(a.size):
        out[j] = _log1p(a[j])


def layout(N):
    """``(rows, width)`` for width-``N`` networks: rows per task (a multiple of ``_BLOCK``, at
    least ``_TASK_LOGITS`` logits' worth) and rows per block (a multiple of 8 from 16 to 256,
    the largest whose ``width × N`` float64 weights fit in ``_BUFFER_BYTES``; past N = 4096 the
    16-row floor holds ``128 N`` bytes per running task). Measured at n = 4000 on one thread
    (load 2.6): 16 rows cost 2.5x the time of 256 at N = 10 and 1.9x at N = 100, and 1.5x the
    time of 64 at N = 1000 (256 there: 1.05x)."""
    rows = _BLOCK * max(1, -(-_TASK_LOGITS // (_BLOCK * N)))
    width = min(256, max(16, _BUFFER_BYTES // (8 * N) // 8 * 8))
    return rows, width


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _sums3(G, j, cx, w, B):
    """``G[k, j] += Σ_i cx[k, i] w[i]`` for ``k = 0, 1, 2`` (the ``d = 2`` case: one pass over
    ``w`` for the three sums; reassociated, i.e. vectorised partial sums)."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    c0, c1, c2 = cx[0], cx[1], cx[2]
    for i in range(B):
        wi = w[i]
        a0 += c0[i] * wi
        a1 += c1[i] * wi
        a2 += c2[i] * wi
    G[0, j] += a0
    G[1, j] += a1
    G[2, j] += a2


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _dot(a, b, B):
    """``Σ_{i<B} a[i] b[i]`` (reassociated, i.e. vectorised partial sums)."""
    acc = 0.0
    for i in range(B):
        acc += a[i] * b[i]
    return acc


@njit(**_FLAGS)
def _rows(Xt, Q, qmax, e, y, s, lo, hi, n, G, buf, m, top, rest, cx):
    """Rows ``lo..hi-1`` of network ``s`` (``Xt``: its ``(D, n)`` inputs, ``y``: its targets):
    adds their gradient into ``G`` ((D, N)) and returns their summed squared residuals (NaN when
    a logit is not finite: an overflow in its products, ±inf or ``inf − inf``; fused
    multiply-adds can turn the exact but unrepresentable ``−1e310 + 1e310`` into ``−inf``, which
    would otherwise weigh 0). ``buf`` ((N, width)) holds the logits, then the weights; ``qmax``
    ((D,)) is ``max_j |Q[s, k, j]|``, which bounds the logits' terms.

    Every inner loop runs over the block's rows and vectorises (the three-sum and ``d = 2``
    branches measured 1.4 against 2.0 ns per logit at N = 100 for a generic loop over ``k``)."""
    D, N = Q.shape[1], Q.shape[2]
    B = hi - lo
    inv = 1.0 / e
    for i in range(B):
        m[i] = -np.inf
        top[i] = 0
        rest[i] = 0.0
    x0 = Xt[0, lo:hi]
    x1 = Xt[min(1, D - 1), lo:hi]
    for j in range(N):  # (1) logits, running maximum and its first index
        z = buf[j]
        qb = Q[s, D - 1, j]
        if D == 3:  # d = 2 (the paper's sweeps): one pass
            q0 = Q[s, 0, j]
            q1 = Q[s, 1, j]
            for i in range(B):
                zi = qb + x0[i] * q0 + x1[i] * q1
                z[i] = zi
                above = zi > m[i]
                top[i] = j if above else top[i]
                m[i] = zi if above else m[i]
        else:
            for i in range(B):
                z[i] = qb
            for k in range(D - 1):
                qk = Q[s, k, j]
                xk = Xt[k, lo:hi]
                for i in range(B):
                    z[i] += xk[i] * qk
            for i in range(B):
                zi = z[i]  # one load: reading z[i] twice kept this loop scalar (4x slower)
                above = zi > m[i]
                top[i] = j if above else top[i]
                m[i] = zi if above else m[i]
    for i in range(B):
        if not (abs(m[i]) < np.inf):
            return np.nan
    # a logit can overflow only where Σ_k max|x_k| max|q_k| reaches the float range: there
    # (rarely, inputs or weights beyond ~1e150) every logit is checked, 0·z being NaN for ±inf
    largest = qmax[D - 1]
    for k in range(D - 1):
        xk = Xt[k, lo:hi]
        big = 0.0
        for i in range(B):
            a = abs(xk[i])
            big = a if a > big else big
        largest += big * qmax[k]
    if not (largest < 1e307):
        for j in range(N):
            z = buf[j]
            for i in range(B):
                rest[i] += z[i] * 0.0
        for i in range(B):
            if rest[i] != 0.0:
                return np.nan
            rest[i] = 0.0
    for j in range(N):  # (2) weights (w_t = exp(0) = 1 exactly) and the rest of their sum
        w = buf[j]
        for i in range(B):
            wi = _expn((w[i] - m[i]) * inv)
            w[i] = wi
            rest[i] += 0.0 if top[i] == j else wi
    loss = 0.0
    for i in range(B):  # (3) LSE, residual and the row coefficients c [x_i, 1]
        r = m[i] + e * _log1p(rest[i]) - y[lo + i]
        loss += r * r
        c = 2.0 * r / (n * (1.0 + rest[i]))
        for k in range(D):
            cx[k, i] = c * Xt[k, lo + i]
    for j in range(N):  # (4) gradient sums
        if D == 3:
            _sums3(G, j, cx, buf[j], B)
        else:
            for k in range(D):
                G[k, j] += _dot(cx[k], buf[j], B)
    return loss


@njit(parallel=True, **_FLAGS)
def fused_step(Xt, Q, eps, y, G, loss, rows, width):
    """Losses ``loss`` ((S,)) and gradients ``G`` ((S, D, N)) of the ``S`` networks at ``Q``.

    ``Xt``: ``(1 or S, D, n)`` inputs, transposed, with a last row of ones; ``Q``: ``(S, D, N)``;
    ``eps``: ``(S,)`` normal positive temperatures; ``y``: ``(1 or S, n)``; ``rows``: rows per
    task and ``width``: rows per block, both from :func:`layout`. Arrays C-contiguous
    float64."""
    S, D, N = Q.shape
    n = Xt.shape[2]
    nb = (n + rows - 1) // rows
    parts = np.zeros((S * nb, D, N))
    sums = np.zeros(S * nb)
    ok = np.ones(S, dtype=np.bool_)
    qmax = np.zeros((S, D))
    for s in range(S):
        for k in range(D):
            for j in range(N):
                if not (abs(Q[s, k, j]) < np.inf):
                    ok[s] = False
                qmax[s, k] = max(qmax[s, k], abs(Q[s, k, j]))
    for t in prange(S * nb):
        s = t // nb
        b = t - s * nb
        if ok[s]:
            buf = np.empty((N, width))
            m = np.empty(width)
            top = np.empty(width, dtype=np.int64)
            rest = np.empty(width)
            cx = np.empty((D, width))
            Xs = Xt[s if Xt.shape[0] > 1 else 0]
            ys = y[s if y.shape[0] > 1 else 0]
            hi = min(n, (b + 1) * rows)
            acc = 0.0
            for lo in range(b * rows, hi, width):
                acc += _rows(Xs, Q, qmax[s], eps[s], ys, s, lo, min(hi, lo + width), n, parts[t], buf, m, top, rest, cx)
            sums[t] = acc
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
