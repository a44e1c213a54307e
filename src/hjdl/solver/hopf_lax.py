"""The inviscid limit ``eps = 0`` by optimisation (T4, Hopf–Lax), and the minimiser that the
importance sampler is centred on.

    u_0(x, t) = min_y c(y),    c(y) = g(y) + (x − y)ᵀA⁻¹(x − y)/(4t),    ∇u_0 = A⁻¹(x − y*)/(2t).

Batched L-BFGS from one or several starts per point, then Newton steps with the autograd
Hessian (exact for quadratic g). For convex ``g`` the tangent plane ``g(y) ≥ g(ŷ) + q·(y − ŷ)``,
``q = ∇g(ŷ)``, minimised in closed form against the quadratic, gives the lower bound
``g(ŷ) + q·(x − ŷ) − t qᵀAq`` (the Hopf formula's dual value at ``p = q``); the gap to the upper
bound ``c(ŷ)`` is ``t ∇c(ŷ)ᵀ A ∇c(ŷ)``, a certificate that vanishes exactly at the minimiser.
For non-convex ``g`` only ``c(ŷ)`` is a certain (upper) bound; several starts make a global
minimum likely, not certain, and the record says so.
"""

from __future__ import annotations

import math

import torch

from ..errors import ConvergenceError, InputError
from ._checks import apply, call_g


def cost(g, y, x, Cinv, t):
    """``g(y) + |C⁻¹(y − x)|²/(4t)`` row by row (P,)."""
    w = apply(y - x, Cinv)
    return call_g(g, y) + (w * w).sum(-1) / (4 * t)


def grad_hessian(g, y, x, Cinv, t, hessian=True):
    """Cost, gradient (P, d) and Hessian (P, d, d) of :func:`cost` by autograd."""
    with torch.enable_grad():
        yy = y.detach().clone().requires_grad_(True)
        c = cost(g, yy, x, Cinv, t)
        try:
            (gr,) = torch.autograd.grad(c.sum(), yy, create_graph=hessian)
        except RuntimeError as err:
            raise InputError(f"g: torch autograd cannot differentiate g ({err}); the Hopf–Lax "
                             "optimisation and the Laplace proposal need a differentiable g "
                             "(method='mc' or 'qmc' need none)") from None
        if not hessian:
            return c.detach(), gr.detach(), None
        rows = []
        for k in range(y.shape[1]):
            (r,) = torch.autograd.grad(gr[:, k].sum(), yy, retain_graph=True, allow_unused=True)
            rows.append(torch.zeros_like(yy) if r is None else r)
    H = torch.stack(rows, 1).detach()
    return c.detach(), gr.detach(), 0.5 * (H + H.transpose(1, 2))


def minimise(g, x, starts, Cinv, t, max_iter=400, newton=4):
    """Minimiser of :func:`cost` per point from ``starts`` (K, B, d); returns (y, c, grad, H,
    n_evals), the best start per point."""
    K, B, d = starts.shape
    xs = x.expand(K, B, d).reshape(-1, d)
    Y = starts.reshape(-1, d).detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS([Y], lr=1.0, max_iter=max_iter, tolerance_grad=1e-13,
                            tolerance_change=1e-16, history_size=30, line_search_fn="strong_wolfe")
    evals = [0]

    def closure():
        opt.zero_grad()
        with torch.enable_grad():
            loss = cost(g, Y, xs, Cinv, t).sum()
            loss.backward()
        evals[0] += Y.shape[0]
        return loss

    try:
        opt.step(closure)
    except RuntimeError as err:
        raise InputError(f"g: torch autograd cannot differentiate g ({err}); method='hopf-lax' "
                         "and the Laplace proposal need a differentiable g") from None
    with torch.no_grad():
        c = cost(g, Y.detach(), xs, Cinv, t).reshape(K, B)
    best = c.argmin(0)
    y = Y.detach().reshape(K, B, d)[best, torch.arange(B)]
    n = evals[0] + K * B
    c, gr, H = grad_hessian(g, y, x, Cinv, t)
    for _ in range(newton):  # Newton polish where the Hessian is positive definite and it helps
        Lh, info = torch.linalg.cholesky_ex(H)
        ok = info == 0
        if not bool(ok.any()):
            break
        step = torch.zeros_like(y)
        step[ok] = torch.cholesky_solve(gr[ok][..., None], Lh[ok])[..., 0]
        y_new = y - step
        c_new, gr_new, H_new = grad_hessian(g, y_new, x, Cinv, t)
        n += 2 * B
        better = ok & (c_new <= c)
        y = torch.where(better[:, None], y_new, y)
        c = torch.where(better, c_new, c)
        gr = torch.where(better[:, None], gr_new, gr)
        H = torch.where(better[:, None, None], H_new, H)
    if not bool(torch.isfinite(c).all()):
        raise ConvergenceError("hopf-lax: the minimisation of g(y) + |x - y|²/(4t) diverged "
                               "(g unbounded below along the search?)")
    return y, c, gr, H, n


def hopf_lax(g, x, t, A, C, Cinv, gen, convex: bool, starts: int):
    """``eps = 0``: (value, interval (B, 2), grad, info, n_evals)."""
    B, d = x.shape
    K = 1 if convex else starts
    st = [x]
    scales = (0.5, 1.0, 2.0, 4.0)
    for k in range(K - 1):
        Z = torch.randn(B, d, generator=gen, dtype=x.dtype, device=x.device)
        st.append(x + scales[k % 4] * math.sqrt(2 * t) * apply(Z, C))
    y, c, gr, _, n = minimise(g, x, torch.stack(st), Cinv, t)
    Ag = gr if A is None else gr @ A
    gap = t * (gr * Ag).sum(-1)
    lower = c - gap if convex else torch.full_like(c, -math.inf)
    interval = torch.stack([lower, c], -1)
    grad = apply(apply(x - y, Cinv), None if Cinv is None else (Cinv if Cinv.ndim == 1 else Cinv.T))
    info = {"minimiser": y, "duality_gap": gap if convex else None, "starts": K,
            "certified": bool(convex),
            "note": ("convex g: [lower, upper] is a duality-gap certificate" if convex else
                     f"g not declared convex: best of {K} L-BFGS starts; the upper bound is certain, "
                     "the global minimum is not")}
    return c, interval, grad / (2 * t), info, n
