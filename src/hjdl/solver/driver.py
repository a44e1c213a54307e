"""``hjdl.solve``: the mesh-free viscous Hamilton–Jacobi solver (THEORY §3).

It solves ``u_t + ∇uᵀA∇u = eps tr(A∇²u)``, ``u(·, 0) = g`` through the Hopf–Cole formula

    u(x, t) = −eps log E[exp(−g(x + sqrt(2 eps t) A^{1/2} Z)/eps)],   Z ~ N(0, I_d),

(the heat semigroup of THEORY §3 applied to ``w = exp(−u/eps)``), and at ``eps = 0`` through the
Hopf–Lax formula ``u_0 = min_y g(y) + (x − y)ᵀA⁻¹(x − y)/(4t)`` (T4). No grid: the cost is
``budget`` evaluations of ``g`` per point whatever the dimension, and the Monte Carlo error bar
shrinks as ``budget^{-1/2}`` at fixed ``eps``.
"""

from __future__ import annotations

import math
import warnings

import torch

from ..core import CHUNK_ELEMENTS
from ..errors import InputError
from .._validation import check_choice, check_int
from ._checks import (
    METHODS,
    check_budget,
    check_g,
    check_metric,
    check_points,
    check_scalar_eps,
    check_scalar_time,
    check_tol,
    factors,
    make_generator,
)
from ._record import Solution, ToleranceWarning
from .hopf_lax import hopf_lax
from .importance import importance
from .montecarlo import monte_carlo, quasi_monte_carlo

#: ``method="auto"`` switches from plain Monte Carlo to importance sampling when the pilot's
#: effective sample size falls below this fraction of its atoms (the Gibbs weights collapse).
AUTO_ESS_FRACTION = 0.3
#: atoms in the pilot that ``method="auto"`` draws to decide
AUTO_PILOT = 1024
#: atoms (points × atoms × d) kept in ``Solution.atoms`` by default
KEEP_ATOMS = 1 << 23


def solve(g, x, *, t=1.0, eps, A=None, method: str = "auto", budget: int = 1 << 16, seed=None,
          tol: float | None = None, replicates: int = 16, g_convex: bool = False, starts: int = 8,
          keep_atoms: int | None = None, chunk: int | None = None) -> Solution:
    r"""Solve ``u_t + ∇uᵀA∇u = eps·tr(A∇²u)``, ``u(·, 0) = g``, at points ``x`` and time ``t``.

    Mesh-free: by Hopf–Cole ``u = −eps log E[exp(−g(x + sqrt(2 eps t) A^{1/2} Z)/eps)]``
    (THEORY §3), estimated from ``budget`` atoms per point; at ``eps = 0`` by the Hopf–Lax
    minimisation (T4). The atoms of an estimate form an :class:`~hjdl.InitialData` whose
    (normalised) discrete Hopf–Cole value at ``x`` is the estimate: the solution is an LSE layer.

    Args:
        g: the initial data, a callable mapping a tensor ``(n, d)`` to values ``(n,)``; it must
            be finite where the heat kernel puts mass, and differentiable by torch autograd for
            ``"is"`` and ``"hopf-lax"``.
        x: points ``(B, d)`` (or one point ``(d,)``). Outputs follow its dtype and device.
        t: HJ time ``> 0``.
        eps: viscosity ``>= 0`` (``0``: Hopf–Lax).
        A: metric: None (identity), a positive number ``a`` (``a·I``), a ``(d,)`` positive
            diagonal or a ``(d, d)`` symmetric positive definite matrix.
        method: ``"mc"`` (Monte Carlo over the heat kernel), ``"qmc"`` (scrambled Sobol in
            ``replicates`` independent replicates; the error bar is their spread), ``"is"``
            (importance sampling at the Hopf–Lax minimiser: Laplace, then adaptive Gaussian /
            Student-t), ``"hopf-lax"`` (``eps = 0`` only) or ``"auto"``: ``"hopf-lax"`` at
            ``eps = 0``; else a pilot of 1024 heat-kernel atoms, ``"mc"`` if its effective sample
            size is at least 30 % of the pilot at every point, ``"is"`` otherwise. The choice and
            the reason are recorded.
        budget: atoms in the final estimate per point (pilots and adaptation come on top and are
            counted in ``n_evals``).
        seed: an int, a :class:`torch.Generator`, or None (a fresh seed, recorded in ``info``).
        tol: an error bar (one standard error, absolute) the caller needs; if the budget does not
            reach it a :class:`ToleranceWarning` gives the achieved error bar and the budget that
            would reach it.
        replicates: scramblings for ``"qmc"``.
        g_convex: the caller asserts that ``g`` is convex: ``"hopf-lax"`` then returns a
            duality-gap certificate and uses one start; otherwise ``starts`` starts and no
            lower bound.
        keep_atoms: keep ``Solution.atoms`` while points × atoms × d is at most this (default
            ``2**23``); 0 never keeps them.
        chunk: elements (points × atoms × d) per chunk; bounds the memory (default
            :data:`hjdl.CHUNK_ELEMENTS`).

    Returns:
        :class:`Solution` (value, stderr, interval, grad, grad_stderr, atoms, method, reason,
        ess, n_samples, n_evals, info).

    Example (the 100-dimensional HJB of Han, Jentzen & E at ``λ = 1``, see :mod:`hjdl.solver.hjb`):
        >>> import torch, hjdl
        >>> g = lambda y: torch.log((1 + (y * y).sum(-1)) / 2)
        >>> sol = hjdl.solve(g, torch.zeros(1, 100, dtype=torch.float64), t=1.0, eps=1.0,
        ...                  budget=2**14, seed=0)
        >>> sol.method, round(float(sol.value[0]), 2), float(sol.stderr[0]) < 0.01
        ('mc', 4.59, True)
    """
    check_g(g)
    xt = check_points(x)
    B, d = xt.shape
    tt = check_scalar_time(t, xt)
    e = check_scalar_eps(eps, xt)
    Am = check_metric(A, d, xt)
    method = check_choice(method, METHODS, "method", "solver method")
    N = check_budget(budget)
    tol_ = check_tol(tol)
    R = check_int(replicates, "replicates", minimum=2)
    K = check_int(starts, "starts", minimum=1)
    limit = KEEP_ATOMS if keep_atoms is None else check_int(keep_atoms, "keep_atoms", minimum=0)
    ch = CHUNK_ELEMENTS if chunk is None else check_int(chunk, "chunk", minimum=1)
    gen, seed_used = make_generator(seed, xt.device)
    if e == 0 and method not in ("auto", "hopf-lax"):
        raise InputError(f"method: {method!r} samples the heat kernel of covariance 2·eps·t·A, "
                         "which is degenerate at eps = 0; use method='hopf-lax' (or 'auto')")
    if e > 0 and method == "hopf-lax":
        raise InputError(f"method: 'hopf-lax' is the eps = 0 limit, received eps = {e}; use "
                         "'mc', 'qmc', 'is' or 'auto' for eps > 0")
    fac = factors(Am)
    C, Cinv, Ainv = fac.C, fac.Cinv, fac.Ainv
    keep = B * N * d <= limit
    info: dict = {"seed": seed_used}
    n_evals = 0
    reason = f"method={method!r} requested"
    if method == "auto":
        if e == 0:
            method, reason = "hopf-lax", "eps = 0: the Hopf–Lax minimisation (T4)"
        else:
            n0 = min(N, AUTO_PILOT)
            *_, ess0, _ = monte_carlo(g, xt, e, tt, C, Ainv, n0, gen, ch, False)
            n_evals += B * n0
            frac = float(ess0.min()) / n0
            info["pilot_ess_fraction"] = frac
            if frac >= AUTO_ESS_FRACTION:
                method = "mc"
                reason = (f"pilot of {n0} heat-kernel atoms: ESS/N = {frac:.3g} >= {AUTO_ESS_FRACTION} "
                          "at every point, plain Monte Carlo is efficient")
            else:
                method = "is"
                reason = (f"pilot of {n0} heat-kernel atoms: ESS/N = {frac:.3g} < {AUTO_ESS_FRACTION} "
                          "(the Gibbs weights collapse): importance sampling at the Hopf–Lax minimiser")
    nan = torch.full((B,), math.nan, dtype=xt.dtype, device=xt.device)
    if method == "hopf-lax":
        value, interval, grad, hl_info, n = hopf_lax(g, xt, tt, Am, C, Cinv, gen, bool(g_convex), K)
        info.update(hl_info)
        sol = Solution(value=value, stderr=nan, interval=interval, grad=grad,
                       grad_stderr=torch.full_like(grad, math.nan), make_atoms=lambda: None, method=method,
                       reason=reason, ess=torch.ones_like(value), n_samples=0, n_evals=n_evals + n,
                       eps=e, t=tt, info=info)
        if tol_ is not None:
            width = float((interval[:, 1] - interval[:, 0]).max())
            if not width <= 2 * tol_:
                warnings.warn(f"hjdl.solve: the Hopf–Lax interval has width {width:.3g} > 2·tol = "
                              f"{2 * tol_:.3g} ({hl_info['note']})", ToleranceWarning, stacklevel=2)
        return sol
    if method == "mc":
        value, stderr, grad, grad_se, ess, stream = monte_carlo(g, xt, e, tt, C, Ainv, N, gen, ch, keep)
        n_samples = N
    elif method == "qmc":
        value, stderr, grad, grad_se, ess, stream, m = quasi_monte_carlo(g, xt, e, tt, C, Ainv, N, gen, ch,
                                                                         keep, R)
        n_samples = R * 2 ** m
        info.update({"replicates": R, "per_replicate": 2 ** m})
    else:  # "is"
        value, stderr, grad, grad_se, ess, stream, is_info, n = importance(g, xt, e, tt, Am, fac, N,
                                                                         gen, ch, keep)
        n_samples = N
        n_evals += n - B * N
        info.update(is_info)
    n_evals += B * n_samples
    interval = torch.stack([value - 2 * stderr, value + 2 * stderr], -1)
    info["bias_estimate"] = stderr * stderr / (2 * e)  # second order: E[−eps log W̄] − u
    if tol_ is not None:
        worst = float(stderr.max())
        if not worst <= tol_:
            need = int(math.ceil(n_samples * (worst / tol_) ** 2))
            warnings.warn(f"hjdl.solve: budget={n_samples} atoms give an error bar of {worst:.3g} "
                          f"(max over points, method {method!r}), above tol={tol_:.3g}; about {need} "
                          "atoms would reach it (the error bar shrinks as budget^-1/2)",
                          ToleranceWarning, stacklevel=2)
    return Solution(value=value, stderr=stderr, interval=interval, grad=grad, grad_stderr=grad_se,
                    make_atoms=lambda: stream.atoms(xt, e, tt, Am, fac), method=method, reason=reason, ess=ess, n_samples=n_samples,
                    n_evals=n_evals, eps=e, t=tt, info=info)
