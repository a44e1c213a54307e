r"""Batched top eigenvalue of Gibbs covariances ``Cov_π(W) = AᵀA``, ``A = diag(√π)(W − 1μᵀ)``.

Two engines (inputs trusted; ``p`` ``(B, N)`` rows on the simplex, ``W`` ``(N, d)``):

* ``eigh``: form the smaller Gram matrix (``AᵀA`` if ``d <= N`` else ``AAᵀ``) for a chunk of
  points and call the batched symmetric eigensolver. Exact; cost ``B·N·min(N,d)²`` plus the
  batched eigensolver.
* ``lanczos``: the Lanczos process on ``v ↦ AᵀAv = Wᵀ(π ⊙ r) − μ Σ_j π_j r_j``,
  ``r = Wv − μ·v``, for all points at once (each step is two matrix products with ``W``).
  Two forms of the same process: the compiled kernel (``_lanczos_kernel``, numba; used for CPU
  tensors when numba is installed, in float64 whatever the input dtype) runs it chunk by chunk
  in cache, testing each point on its own; the batched torch form below (any device, the input
  dtype) tests all points together. Both test from step 12 every 4 steps; the rules and
  limitations below hold for both (on the same random starts they stop at the same points).

  *Start.* An independent random unit vector per point (a structured start, such as the
  direction from the mean to the top row, can be nearly orthogonal to one of a nearly
  degenerate top pair, and the process then stops at the lower one).

  *Ritz values.* The top Ritz value ``θ`` of the tridiagonal ``T_k`` is found by Laguerre's
  method on ``det(T_k − x)`` started above the spectrum (just above the previous test's θ where
  a Sturm count confirms that it is above, else at the Gershgorin bound), which converges
  monotonically for real-rooted polynomials; its residual is ``ρ = β_k |s_k|`` with
  ``s_k² = −1/d_k'(θ)`` (``d_i`` the LDLᵀ pivots of ``T_k − θ``). Round-off can stall Laguerre
  above the root, so every θ is certified by Sturm counts (no eigenvalue of ``T_k`` above
  ``θ(1+1e-12)``, one above ``θ(1−1e-12)``) and bisected where that fails.

  *Stopping.* Tests run from step 12, every 4 steps. ``|λ − θ| <= ρ²/δ`` (Kato–Temple), ``δ``
  the gap from θ to the rest of the spectrum; a point stops when ``ρ <= 1e-9 θ`` (float64;
  the same multiple of ``√u``, 2.3e-5, in float32) or when θ has stopped moving
  (``|Δθ| <= 50u θ``; with local re-orthogonalisation only, residuals much below ``√u θ`` are
  not observable, so converged points usually stop by this rule). Gaps are not bounded (no cheap rigorous bound exists at
  moderate eps), so the tests check the values against an extended-precision oracle across
  regimes, including exactly and nearly degenerate top eigenvalues. When at most 32 points
  (or 1 %) are left after a test, and for points still running after ``min(N, d)`` steps,
  ``eigh`` finishes them.

  *Limitations (measured; shared by single-vector Krylov methods such as ARPACK's).* (i) A
  cluster of top eigenvalues narrower than about ``1e-7`` relative, with the rest of the
  spectrum close behind, can stop unresolved: the value then lies inside the cluster, its error
  at most the cluster's width, which can exceed the top gap (a pair 1e-9 apart: most points;
  1e-7 apart: 1 % of points with spread 0.1 below; a gap of exactly 1e-5: 1 to 5 in 5000
  solves; wider gaps: none seen; a pair 1e-9 apart with
  a third eigenvalue 1e-8 below: errors up to 1e-8, below the second eigenvalue).
  (ii) A random start with an unusually small component along the top eigenvector can stop at
  the second eigenvalue. In crowded spectra with top gaps from 3e-5 to 1e-3 this happened in
  3 of 320,000 solves (error equal to the gap; a later review measured 10 of 80,000 with a
  3e-5 gap and the rest spread over 0.5 in d = 200); with a residual rule of ``1e-7`` it was 108,
  hence ``1e-9`` (about 20 % more steps). On random layers (the benchmark) it never happened.
  ``method="eigh"`` is exact.

  *Not used:* a float32 warm start (14 float32 Lanczos steps, then float64 from their Ritz
  vector) was 1.5–2× faster on random layers, but its float32 noise (~1e-7) hides the partner
  of a nearly degenerate top pair from the early float64 tests even when the rest of the
  spectrum is far below, where the float64 process resolves the pair (the ``split`` 1e-9 and
  1e-7 cases of the nearly degenerate test failed with errors of that size).

Accuracy when π is nearly one-hot: both engines centre on the top row ``t`` of each point,
``W_j − μ = (W_j − W_t) − δμ`` with ``δμ`` summed over the off-top weights, and the Lanczos
product subtracts the top column of the same ``W q`` (an exact zero); the uncentred
``E[WWᵀ] − μμᵀ`` loses all digits there.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._compiled import LAUNCH_LOCK, forked, load, torch_threads

__all__ = ["top_eig_cov"]

#: elements (points × neurons × dims) per chunk of the ``eigh`` engine
_CHUNK = 1 << 22


def _top_centring(p: torch.Tensor, W: torch.Tensor):
    """Per point: the top row ``t`` (arg-max of π), ``W_t`` and ``δμ = μ − W_t`` computed from
    the off-top weights, so that ``W_j − μ = (W_j − W_t) − δμ`` keeps its relative accuracy when
    π is concentrated (``1 − π_t`` far below machine epsilon); the plain ``p @ W − W_t`` cancels."""
    top = p.argmax(-1)
    p_off = p.clone()
    p_off[torch.arange(p.shape[0], device=p.device), top] = 0
    W_top = W[top]
    dmu = p_off @ W - p_off.sum(-1, keepdim=True) * W_top
    return top, W_top, dmu, p_off


def sqrt0(p: torch.Tensor) -> torch.Tensor:
    """``√max(p, 0)`` with a zero (not infinite) derivative where ``p <= 0`` (the robustness
    package's one safe square root). A Gibbs weight that underflowed to exactly 0 would otherwise
    give ``0 · ∞ = NaN`` gradients (its own derivative with respect to the logits is 0 there, so
    the chain rule is unchanged); so would a zero margin or curvature constant in the radii."""
    pos = p > 0
    return torch.where(pos, torch.where(pos, p, torch.ones_like(p)).sqrt(), torch.zeros_like(p))


def _top_eig_eigh(p: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    B, N = p.shape
    d = W.shape[1]
    out = torch.empty(B, dtype=p.dtype, device=p.device)
    step = max(1, _CHUNK // max(1, N * d))
    for s in range(0, B, step):  # chunks bound peak memory; each chunk is one batched call
        pc = p[s:s + step]
        _, W_top, dmu, _ = _top_centring(pc, W)
        A = ((W[None] - W_top[:, None, :]) - dmu[:, None, :]) * sqrt0(pc)[..., None]
        # per point in units of max|A| (no squares: they would underflow first), so that the
        # Gram matrix is never made of subnormal numbers (LAPACK's eigh fails to converge then)
        a = A.abs().amax(dim=(1, 2))
        a = torch.where(a > 0, a, torch.ones_like(a))
        A = A / a[:, None, None]
        G = A.transpose(1, 2) @ A if d <= N else A @ A.transpose(1, 2)
        out[s:s + step] = torch.linalg.eigvalsh(G)[:, -1] * a * a
    return out.clamp_min(0)


# Tridiagonal helpers: ``A`` (k, B) diagonals and ``B2`` (k-1, B) squared off-diagonals of B
# tridiagonals, one per column (rows contiguous: the recurrences run over k, vectorised over B).


def _laguerre_top(A, B2, x, lo, iters):
    """Laguerre's iteration on ``det(T − x)`` from ``x`` above the spectrum, for points still moving.

    Each point's iterates depend on that point alone, so finished points are dropped from the
    working set (compaction) without changing any point's result. A point stops when its step is
    <= 1e-15 relative or cannot be taken (a pivot sign lost to round-off); the caller certifies
    the result by Sturm counts.

    With ``d_i`` the LDLᵀ pivots of ``T − x``, ``p'/p = Σ d_i'/d_i`` and
    ``(log p)'' = Σ (d_i''/d_i − (d_i'/d_i)²)``, the derivatives by the pivot recurrence."""
    k, B = A.shape
    n = float(k)
    x = x.clone()
    act = torch.arange(B, device=A.device)   # columns of the working set in the full batch
    A_, B2_, x_, lo_ = A, B2, x, lo
    for _ in range(iters):
        ax = A_ - x_
        D, Q, Tq = torch.empty_like(ax), torch.empty_like(ax), torch.zeros_like(ax)
        minus1 = torch.full_like(x_, -1.0)
        D[0] = ax[0]
        torch.reciprocal(ax[0], out=Q[0]).neg_()               # d' = −1
        for i in range(1, k):  # recurrence over the Krylov dimension, vectorised over points
            r = B2_[i - 1] / D[i - 1]
            torch.sub(ax[i], r, out=D[i])
            d2 = torch.addcmul(Tq[i - 1], Q[i - 1], Q[i - 1], value=-2).mul_(r)
            torch.div(torch.addcmul(minus1, r, Q[i - 1]), D[i], out=Q[i])
            torch.div(d2, D[i], out=Tq[i])
        G = Q.sum(0)
        H = -torch.addcmul(Tq, Q, Q, value=-1).sum(0)           # G² − p''/p = −(log p)''
        above = (D < 0).all(0)  # x above the spectrum of every leading block <=> all pivots < 0
        disc = ((n - 1) * (n * H - G * G)).clamp_min(0)
        denom = G + torch.sqrt(disc)
        ok = above & torch.isfinite(denom) & (denom > 0)
        step = torch.where(ok, n / torch.where(ok, denom, torch.ones_like(denom)), torch.zeros_like(x_))
        x_new = torch.maximum(x_ - step, lo_)
        small = ok & ((x_ - x_new) <= 1e-15 * x_.abs())
        done = ~ok | small
        x_ = torch.where(ok, x_new, x_)
        x[act] = x_
        run = ~done
        m = int(run.sum())
        if m == 0:
            break
        if m < len(act):
            act, A_, B2_, x_, lo_ = act[run], A_[:, run], B2_[:, run], x_[run], lo_[run]
    return x


def _pivots(A, B2, sigma):
    """LDLᵀ pivots (k, B) of ``T − σ``; an exact zero pivot is replaced by ``−tiny`` (as LAPACK's
    bisection does), which keeps the Sturm count well defined."""
    As = A - sigma
    D = torch.empty_like(As)
    tiny = torch.finfo(A.dtype).tiny
    D[0] = As[0]
    for i in range(1, A.shape[0]):
        prev = D[i - 1].masked_fill_(D[i - 1] == 0, -tiny)
        torch.sub(As[i], B2[i - 1] / prev, out=D[i])
    return D


def _count_above(A, B2, sigma) -> torch.Tensor:
    """Number of eigenvalues of each tridiagonal above ``sigma`` (Sturm / Sylvester count: the
    negative LDLᵀ pivots of ``T − σ`` are the eigenvalues below ``σ``)."""
    return A.shape[0] - (_pivots(A, B2, sigma) < 0).sum(0)


def _top_ritz(A: torch.Tensor, B2: torch.Tensor, iters: int = 40, guess=None):
    """Largest eigenvalue ``θ`` of tridiagonals (``A`` (k, B) diagonals, ``B2`` (k−1, B) squared
    off-diagonals) and the squared last component of its unit eigenvector, by Laguerre's method
    from above, certified by Sturm counts (bisection where Laguerre stalled). Laguerre starts at
    ``guess`` where a Sturm count shows it lies above the spectrum, else at the Gershgorin bound."""
    k, B = A.shape
    beta = B2.sqrt()
    off = torch.zeros_like(A)
    if k > 1:
        off[:-1] += beta
        off[1:] += beta
    x = (A + off).amax(0)
    x = x + 1e-12 * x.abs() + 1e-300
    lo = A.amax(0)  # θ >= max α_i (Rayleigh quotients of unit vectors)
    if guess is not None:
        use = torch.isfinite(guess) & (guess < x) & (guess > lo)
        use &= _count_above(A, B2, torch.where(use, guess, x)) == 0
        x = torch.where(use, guess, x)
    upper = x.clone()
    x = _laguerre_top(A, B2, x, lo, iters)
    # Certify by Sturm counts that x is the top eigenvalue of T to 1e-12 relative; Laguerre can
    # stall above the root when round-off flips a pivot sign. Failures are bisected.
    tiny = torch.finfo(x.dtype).tiny
    good = (_count_above(A, B2, x * (1 + 1e-12) + tiny) == 0) & \
        (_count_above(A, B2, x * (1 - 1e-12) - tiny) >= 1)
    if not bool(good.all()):
        bad = (~good).nonzero().squeeze(-1)
        x[bad] = _bisect_top(A[:, bad], B2[:, bad], lo[bad], upper[bad])
    # derivative of the last pivot at θ gives the last eigenvector component: s_k² = −1/d_k'
    D = _pivots(A, B2, x)
    minus1 = torch.full_like(x, -1.0)
    d1 = minus1
    for i in range(1, k):
        d1 = torch.addcmul(minus1, B2[i - 1] / D[i - 1], d1 / D[i - 1])
    s2 = torch.where(torch.isfinite(d1) & (d1 < 0), -1.0 / d1, torch.zeros_like(d1)).clamp(0, 1)
    return x, s2


def _bisect_top(A, B2, lo, hi, rel: float = 1e-14) -> torch.Tensor:
    """Top eigenvalue of tridiagonals by bisection on Sturm counts in ``[lo, hi]`` (``lo <= θ <= hi``)."""
    lo, hi = lo.clone(), hi.clone()
    for _ in range(200):
        if bool(((hi - lo) <= rel * hi.abs()).all()):
            break
        mid = 0.5 * (lo + hi)
        has = _count_above(A, B2, mid) >= 1
        lo = torch.where(has, mid, lo)
        hi = torch.where(has, hi, mid)
    return hi


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise dot products of two ``(B, d)`` tensors (einsum: twice as fast as ``vecdot`` here)."""
    return torch.einsum("bd,bd->b", a, b)


class _GibbsCov:
    """The operator ``q ↦ AᵀA q = Cov_π(W) q`` for a batch of points.

    ``(W_j − μ)·q = (W q)_j − (W q)_t − δμ·q``: subtracting the top column of the same product
    makes the top row exactly zero (no cancellation when π is concentrated on it); and
    ``Aᵀ(π ⊙ r) = Wᵀ(π ⊙ r) − (W_t + δμ) Σ π r``, with ``Σ π r`` from the same matrix product
    (a column of ones appended to ``W``).
    """

    def __init__(self, p, W, top, dmu):
        self.p, self.W, self.dmu = p, W, dmu
        self.WT = W.T.contiguous()
        self.W1 = torch.cat([W, torch.ones_like(W[:, :1])], 1)  # r @ W1 = [Wᵀr, Σr]
        self.top = top[:, None]
        self.mu_c = W[top] + dmu

    def __call__(self, q):
        u = q @ self.WT                                                           # (b, N)
        c = u.gather(1, self.top) + _dot(self.dmu, q)[:, None]
        rw = u.sub_(c).mul_(self.p) @ self.W1
        return torch.addcmul(rw[:, :-1], self.mu_c, rw[:, -1:], value=-1)

    def take(self, keep):
        self.p, self.top, self.dmu, self.mu_c = (self.p[keep], self.top[keep], self.dmu[keep],
                                                 self.mu_c[keep])


def _lanczos_step(op, q, q_prev, beta_prev):
    """One Lanczos step with one local re-orthogonalisation: ``(α_k, w)`` with ``β_k = |w|``."""
    w = op(q)
    a = _dot(w, q)
    w.addcmul_(q, a[:, None], value=-1).addcmul_(q_prev, beta_prev[:, None], value=-1)
    c = _dot(w, q)
    w.addcmul_(q, c[:, None], value=-1)
    return a + c, w


def _next_vector(w, bn, floor):
    """``w/β`` (zero where ``β <= floor``: an invariant subspace was found, stop extending it)."""
    q = w.div_(bn.clamp_min(floor)[:, None])
    tiny = bn <= floor
    if bool(tiny.any()):
        q[tiny] = 0
    return q


#: Krylov dimension of the first convergence test, and the steps between tests
_FIRST_CHECK, _EVERY = 12, 4
#: float64 residual rule ``ρ <= _TOL θ`` and "stopped moving" rule ``|Δθ| <= _STILL u θ``
_TOL, _STILL = 1e-9, 50
#: at most this many (or 1 %) points left after a test are finished by ``eigh``
_TAIL = 32
#: largest N for which row distances come from an N × N table of differences
_DIST_TABLE = 1024


#: use the compiled kernel (``_lanczos_kernel``, numba) for CPU tensors when numba is installed;
#: the tests switch it off to check the torch engine on its own
USE_COMPILED = True
#: Krylov dimension of the compiled kernel's first test, and its steps between tests: as in the
#: torch engine (tests every other step stopped at the second eigenvalue of crowded spectra
#: more often, with the stopped-moving rule seeing a plateau; and saved no time)
_FIRST_CHECK_C, _EVERY_C = 12, 4
_KERNEL_LOCK = LAUNCH_LOCK  # one compiled call at a time (hjdl._compiled)
_KERNEL: object = False   # not yet looked up


def compiled_kernel():
    """The compiled Lanczos kernel module, or ``None``: when numba is not installed (the torch
    engine then runs; ``pip install 'hjdl[fast]'`` installs numba), and in a fork() child (a
    DataLoader worker, say): an OpenMP thread pool does not survive a fork, and numba's parallel
    launch hung there, so forked children run the torch engine."""
    global _KERNEL
    if forked():
        return None
    if _KERNEL is False:
        _KERNEL = load("hjdl.robustness._lanczos_kernel")
    return _KERNEL


def _unit_rows(W: torch.Tensor):
    """``(W / s, s)`` with ``s = max|W|`` (1 when W = 0): both engines work in these units."""
    s = W.abs().max()
    return W / torch.where(s > 0, s, torch.ones_like(s)), s


def _row_distances(W: torch.Tensor) -> torch.Tensor:
    """The ``N × N`` table of squared row distances, from differences (the expansion
    ``|W_j|² − 2W_j·W_t + |W_t|²`` cancels for rows close to each other)."""
    return torch.cdist(W, W, compute_mode="donot_use_mm_for_euclid_dist").square()


def _random_starts(B: int, d: int, seed: int, dtype, device) -> torch.Tensor:
    """An independent random start per point, the same for both engines (float32 draws: four
    times cheaper, as random); not normalised."""
    gen = torch.Generator(device=device).manual_seed(seed)
    return torch.randn(B, d, generator=gen, dtype=torch.float32, device=device).to(dtype)


def _top_eig_compiled(kernel, p: torch.Tensor, W: torch.Tensor, seed: int, stats: dict | None):
    """The Lanczos process by the compiled kernel, in float64 whatever the input dtype (the same
    random starts as the torch engine); points it flags are finished by ``eigh``."""
    B, N = p.shape
    d = W.shape[1]
    W64 = W.detach().to(torch.float64)
    Wn, s = _unit_rows(W64)
    Wn = Wn.contiguous()
    if N <= min(_DIST_TABLE, B):  # the table costs N²d: worth it for at least N points
        D2 = _row_distances(Wn)
    else:  # the kernel forms the distances to each point's top row from differences
        D2 = torch.empty(0, 0, dtype=torch.float64)
    R = _random_starts(B, d, seed, torch.float64, W64.device)
    P = p.detach().to(torch.float64).contiguous()
    out = np.empty(B)
    status = np.empty(B, dtype=np.int8)
    steps = np.empty(B, dtype=np.int64)
    # each kernel thread calls BLAS on its own chunk: BLAS must not start threads of its own
    # (OpenBLAS inside OpenMP threads oversubscribes and warns that it may hang)
    with torch_threads(), _KERNEL_LOCK, kernel.blas_controller().limit(limits=1, user_api="blas"):
        kernel.lanczos_top(P.numpy(), Wn.numpy(), D2.numpy(), R.numpy(), _TOL,
                           _STILL * torch.finfo(torch.float64).eps, _FIRST_CHECK_C,
                           _EVERY_C, out, status, steps)
    res = torch.from_numpy(out) * s * s  # in this order: s² alone can overflow
    left = torch.from_numpy(status == 0).nonzero().squeeze(-1)
    if len(left):
        res[left] = _top_eig_eigh(P[left], W64)
    if stats is not None:
        stats.update(point_steps=int(steps.sum()), eigh_points=len(left), engine="compiled")
    return res.clamp_min(0).to(p.dtype)


def _top_eig_lanczos(p: torch.Tensor, W: torch.Tensor, seed: int = 0,
                     stats: dict | None = None, compiled: bool | None = None) -> torch.Tensor:
    """``stats``, when given, receives ``point_steps`` (operator applications summed over points),
    ``eigh_points`` (points finished by ``eigh``) and ``engine`` (``"compiled"`` or ``"torch"``).
    ``compiled``: use the compiled kernel (``None``: where available, CPU tensors only)."""
    if compiled is None:
        compiled = USE_COMPILED and p.device.type == "cpu" and W.device.type == "cpu"
    if compiled:
        kernel = compiled_kernel()
        if kernel is not None:
            return _top_eig_compiled(kernel, p, W, seed, stats)
    B, N = p.shape
    d = W.shape[1]
    kmax = min(N, d)
    dtype, dev = p.dtype, p.device
    u = torch.finfo(dtype).eps
    # residual rule (module doc): _TOL in float64, the same multiple of √u in other precisions
    tol = _TOL * math.sqrt(u / torch.finfo(torch.float64).eps)
    still = _STILL * u                                        # "stopped moving" rule
    out = torch.empty(B, dtype=dtype, device=dev)
    p_in, W_in = p, W
    # scale-free units: W / max|W| and, per point, π / tr Cov (Cov is linear in π once δμ is
    # fixed), so that β² neither underflows nor overflows for tiny or huge covariances
    W, s = _unit_rows(W)
    top, W_top, dmu, p_off = _top_centring(p, W)
    m_off = p_off.sum(-1)
    # tr Cov = Σ_j π_j |W_j − W_t|² − |δμ|² (>= λ_max), from the off-top weights; the squared
    # distances between rows are formed from differences (their expansion |W_j|² − 2W_j·W_t +
    # |W_t|² cancels when weight sits on rows close to the top row), as an N × N table when small
    if N <= _DIST_TABLE:
        D2 = _row_distances(W)
        sq_off = (p_off * D2[top]).sum(-1)
    else:
        pW = dmu + m_off[:, None] * W_top                                          # p_off @ W
        sq_off = p_off @ (W * W).sum(1) - 2 * (pW * W_top).sum(-1) + m_off * (W_top * W_top).sum(-1)
    trace = (sq_off - (dmu * dmu).sum(-1)).clamp_min(0)
    unit = torch.where(trace > 0, trace, torch.ones_like(trace)).clamp_min(torch.finfo(dtype).tiny)
    p = p / unit[:, None]
    q = _random_starts(B, d, seed, dtype, dev)
    q = q / q.norm(dim=-1, keepdim=True)
    op = _GibbsCov(p, W, top, dmu)
    idx = torch.arange(B, device=dev)
    q_prev = torch.zeros_like(q)
    beta_prev = torch.zeros(B, dtype=dtype, device=dev)
    alphas: list[torch.Tensor] = []
    betas: list[torch.Tensor] = []
    theta_old = torch.full((B,), -math.inf, dtype=dtype, device=dev)
    point_steps = 0
    for k in range(1, kmax + 1):
        point_steps += len(idx)
        a, w = _lanczos_step(op, q, q_prev, beta_prev)
        bn = torch.linalg.vector_norm(w, dim=-1)
        alphas.append(a)
        betas.append(bn)
        if k == kmax or (k >= _FIRST_CHECK and (k - _FIRST_CHECK) % _EVERY == 0):
            A_ = torch.stack(alphas, 0)
            B2_ = torch.stack(betas[:-1], 0).square() if k > 1 else A_[:0]
            # Ritz values grow with k: Laguerre starts just above the last one where a Sturm
            # count confirms that this is above T's spectrum, which saves most of its steps
            theta, s2 = _top_ritz(A_, B2_, guess=theta_old * (1 + 1e-5))
            theta = torch.where(trace > 0, theta, torch.zeros_like(theta))
            rho = bn * s2.sqrt()
            conv = (rho <= tol * theta) | ((theta - theta_old).abs() <= still * theta.abs()) \
                | (rho <= 1e-15) | (trace == 0)
            # θ · unit · s · s in this order (s² alone can overflow)
            out[idx[conv]] = theta[conv] * unit[conv] * s * s
            keep = ~conv
            idx = idx[keep]
            if len(idx) <= max(_TAIL, B // 100):  # a few stragglers: eigh beats more tests
                break
            trace, unit = trace[keep], unit[keep]
            op.take(keep)
            q, q_prev, w, bn = q[keep], q_prev[keep], w[keep], bn[keep]
            alphas = [t[keep] for t in alphas]
            betas = [t[keep] for t in betas]
            theta_old = theta[keep]
        q_prev, q = q, _next_vector(w, bn, 1e-15)
        beta_prev = bn
    # stragglers, and points not converged within min(N, d) steps: finish exactly
    if len(idx):
        out[idx] = _top_eig_eigh(p_in[idx], W_in)
    if stats is not None:
        stats.update(point_steps=point_steps, eigh_points=len(idx), engine="torch")
    return out.clamp_min(0)


def top_eig_cov(p: torch.Tensor, W: torch.Tensor, method: str = "auto") -> torch.Tensor:
    """``λ_max(Cov_{p_b}(W))`` for each row ``p_b`` of ``p`` (``(B, N)``), ``W`` ``(N, d)`` → ``(B,)``.

    Rows are first shifted by their mean (a covariance does not see a common shift): a common
    offset much larger than the spread of the rows would otherwise cancel in every product.
    When autograd needs the result (``p`` or ``W`` requires grad), the differentiable ``eigh``
    engine is used whatever ``method`` says (Lanczos works in place and stops per point)."""
    W = W - W.mean(0)
    if torch.is_grad_enabled() and (p.requires_grad or W.requires_grad):
        method = "eigh"
    if method == "auto":
        method = "lanczos" if min(W.shape) > 24 else "eigh"
    if method == "lanczos":
        return _top_eig_lanczos(p, W)
    return _top_eig_eigh(p, W)
