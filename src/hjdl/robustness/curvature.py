r"""Input Hessians, their spectral norms, and the eps-controlled curvature bounds (THEORY §6, T6).

For an LSE head ``f(x) = a LSE_eps(Wx + b) + o`` with Gibbs weights ``π(x)``:

    ∇²f(x) = a Cov_π(W) / eps = a Wᵀ(diag π − ππᵀ)W / eps = a AᵀA / eps,
    A = diag(√π)(W − 1 E_πWᵀ)            (N × d, rank <= min(N − 1, d)),

so ``‖∇²f(x)‖₂ = |a| σ_max(A)² / eps`` and (T6) ``‖∇²f‖₂ <= |a| max_j |W_j|² / eps`` (the paper's
corollary, "row-norm") and ``<= |a| R² / eps`` with ``R`` the radius of the smallest ball holding
the rows ("enclosing-ball", sharper: ``R <= max_j |W_j|``). Raising eps lowers both bounds,
hence the largest curvature over all x; the curvature at one fixed x need not fall (it can rise
while eps brings more rows into play).
At ``eps = 0`` the Hessian is 0 almost everywhere (a measure on the power-diagram boundaries) and
the bounds are ``inf``.
"""

from __future__ import annotations

import math

import torch

from ..core.derivatives import lse_layer_hessian
from .._validation import check_choice
from ..errors import InputError, ShapeError
from ._model import GenericModel, LSEHeads, as_model, prepare_points
from ._spectral import top_eig_cov
from .ball import enclosing_ball

__all__ = ["input_hessian", "curvature", "curvature_bound", "BOUND_KINDS", "CURVATURE_METHODS"]

#: Names accepted by :func:`curvature_bound` ``kind``.
BOUND_KINDS = ("row-norm", "enclosing-ball")
#: Names accepted by :func:`curvature` ``method``.
CURVATURE_METHODS = ("auto", "eigh", "lanczos")


def _generic_hessian(model: GenericModel, xt: torch.Tensor) -> torch.Tensor:
    """``(B, C, d, d)`` by ``torch.func`` (forward-over-reverse under ``vmap``); modules that
    ``vmap`` cannot trace (data-dependent checks) fall back to double backward, one pass per
    output and input axis (a loop over axes, never over points: the points are independent)."""
    from torch.func import hessian, vmap

    def f(v):
        return model.forward(v[None])[0]

    try:
        return vmap(hessian(f))(xt)
    except (RuntimeError, ShapeError):  # untraceable under vmap (or x unusable: re-raised below)
        pass
    # keep the graph to the caller's x when it requires grad (the Hessian is then differentiable)
    keep = torch.is_grad_enabled() and xt.requires_grad
    x = xt if keep else xt.detach().requires_grad_(True)
    with torch.enable_grad():
        out = model.forward(x)  # (B, C)
        rows = []
        for c in range(out.shape[1]):
            (g,) = torch.autograd.grad(out[:, c].sum(), x, create_graph=True)
            cols = []
            for i in range(x.shape[1]):
                (h,) = torch.autograd.grad(g[:, i].sum(), x, retain_graph=True, allow_unused=True,
                                           create_graph=keep)
                cols.append(torch.zeros_like(x) if h is None else h)
            rows.append(torch.stack(cols, dim=1))  # (B, d, d)
    H = torch.stack(rows, dim=1)
    return H if keep else H.detach()


def _keep_graph(out: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
    """A result that does not depend on ``x`` (eps = 0 heads: piecewise linear, zero Hessian)
    still joins the graph when ``x`` requires grad, with gradient 0, so that ``backward()``
    works as for any other model."""
    if torch.is_grad_enabled() and xt.requires_grad and not out.requires_grad:
        return out + 0 * xt.sum()
    return out


def input_hessian(model, x) -> torch.Tensor:
    r"""The exact input Hessian ``∇²_x f`` for a batch of points (THEORY §6).

    LSE layers and per-class heads: closed form ``a_c Cov_{π_c}(W_c)/eps_c``
    (:func:`hjdl.lse_layer_hessian`); any other differentiable module (deep ``LSENetwork`` s
    included): ``torch.func.hessian`` under ``vmap`` (double backward when the module cannot be
    traced). Differentiable in ``x`` (the model's parameters are read as constants).

    Args:
        model: any form of :func:`hjdl.robustness.as_model` (an ``LSELayer``, ``(W, b, eps)``,
            per-class heads, an ``LSENetwork``, a fitted ``HJRegressor`` / ``HJClassifier``, or
            any differentiable module: Hessians by autodiff then).
        x: ``(d,)`` or ``(B, d)``, finite.

    Returns:
        ``(B, d, d)`` for a scalar model, ``(B, C, d, d)`` for ``C`` outputs (the batch axis is
        dropped for a single point).

    Example:
        >>> import torch
        >>> W, b = torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), torch.zeros(2)
        >>> input_hessian((W, b, 0.5), torch.zeros(2))   # Var(±1)/eps on the first axis
        tensor([[2., 0.],
                [0., 0.]])
    """
    m = as_model(model)
    xt, squeeze, m = prepare_points(x, m)
    if isinstance(m, LSEHeads):
        H = torch.stack([m.scale[c] * lse_layer_hessian(xt, m.W[c], m.b[c], m.eps[c])
                         for c in range(m.n_classes)], dim=1)  # a loop over heads, not points
        single = m.single
    else:
        H = _generic_hessian(m, xt)
        single = m.is_single(xt)
    H = _keep_graph(H[:, 0] if single else H, xt)
    return H[0] if squeeze else H


def _check_method(method: str) -> str:
    return check_choice(method, CURVATURE_METHODS, "method", "curvature method")


def curvature(model, x, *, method: str = "auto") -> torch.Tensor:
    r"""Spectral norms ``‖∇²_x f(x)‖₂`` for a batch, without a per-point loop (THEORY §6).

    LSE heads use the low-rank factor ``A = diag(√π)(W − 1 E_πWᵀ)``:
    ``‖∇²f‖₂ = |a| σ_max(A)²/eps``, computed for the whole batch at once, either exactly by a
    batched symmetric eigensolver on the smaller Gram matrix (``AᵀA`` or ``AAᵀ``,
    ``method="eigh"``) or by batched Lanczos on ``v ↦ AᵀAv`` (``method="lanczos"``: two matrix
    products with ``W`` per step for all points at once, run until every point's top Ritz value
    has converged, at most ``min(N, d)`` steps; points that do not converge fall back to
    ``eigh``; on the CPU with numba installed, ``pip install 'hjdl[fast]'``, a compiled kernel
    runs the same process about three times faster, in float64 whatever the input dtype). Lanczos values agree with ``eigh`` to 1e-10 relative in float64 when the top
    eigenvalue is at least ~1e-5 (relative) above the next. A cluster of top eigenvalues
    narrower than about 1e-7 (relative) can be reported unresolved, the value then lying inside
    the cluster (error at most its width); rarely (1 in 10⁴ to 10⁵ solves in crowded test
    spectra) a random start stops at the second eigenvalue, with an error at most the top gap
    (see ``hjdl.robustness._spectral``); ``"eigh"`` is exact. The ``eigh`` engine works on
    chunks of points sized to bound memory (one point per chunk once ``N·d`` exceeds 4M).
    ``"auto"`` uses Lanczos when ``min(N, d) > 24``. Differentiable in ``x``: when ``x`` requires grad, LSE heads use the
    ``eigh`` engine whatever ``method`` says (heads with eps = 0 give zeros with zero gradient).
    The model's parameters are read detached (constants): for a curvature that is
    differentiable in ``W``, ``b`` or eps use :func:`hjdl.lse_layer_hessian`. Other modules:
    the ``torch.func`` Hessian and its largest ``|eigenvalue|``.

    Returns:
        ``(B,)`` for a scalar model, ``(B, C)`` per head (batch axis dropped for one point), in
        the promoted dtype of ``x`` and an LSE model's parameters (a generic module's dtype).

    Example:
        >>> import torch
        >>> W, b = torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), torch.zeros(2)
        >>> curvature((W, b, 0.5), torch.tensor([[0.0, 0.0], [0.5, 0.0]])).round(decimals=4)
        tensor([2.0000, 0.8399])
    """
    _check_method(method)
    m = as_model(model)
    xt, squeeze, m = prepare_points(x, m)
    if isinstance(m, LSEHeads):
        p = m.gibbs(xt)  # (B, C, N)
        cols = []
        for c in range(m.n_classes):  # heads, not points
            e = float(m.eps[c])
            if e == 0.0:
                cols.append(torch.zeros(xt.shape[0], dtype=xt.dtype, device=xt.device))
                continue
            lam = top_eig_cov(p[:, c], m.W[c], method=method)
            cols.append(m.scale[c].abs() * lam / m.eps[c])
        out = torch.stack(cols, dim=1)
        single = m.single
    else:
        H = _generic_hessian(m, xt)
        H = 0.5 * (H + H.transpose(-1, -2))
        if H.dtype in (torch.float16, torch.bfloat16):  # no half-precision eigensolver
            H = H.float()
        out = torch.linalg.eigvalsh(H).abs().amax(-1)
        single = m.is_single(xt)
    out = _keep_graph(out[:, 0] if single else out, xt)
    return out[0] if squeeze else out


def _check_kind(kind: str) -> str:
    return check_choice(kind, BOUND_KINDS, "kind", "curvature bound")


def head_radii(m: LSEHeads, kind: str) -> torch.Tensor:
    """Per head: ``max_j |W_cj|`` (row-norm) or the enclosing-ball radius ``R_c``, ``(C,)``."""
    key = ("radii", kind)
    if key not in m._cache:
        if kind == "row-norm":
            r = m.W.norm(dim=-1).amax(-1)
        else:
            # the largest distance from the centre found (radius plus its KKT residual, >= 0):
            # a bound even where the data carry less accuracy than the ball's optimality test
            balls = [enclosing_ball(m.W[c]) for c in range(m.n_classes)]
            r = torch.tensor([bl.radius + max(bl.max_outside, 0.0) for bl in balls],
                             dtype=m.dtype, device=m.W.device)
            # the ball at 0 of radius max_j |W_j| holds the rows too: never report a larger one
            # (the residual above can exceed it by rounding when the minimum ball is that one)
            r = torch.minimum(r, head_radii(m, "row-norm"))
        m._cache[key] = r
    return m._cache[key]


def head_bounds(m: LSEHeads, kind: str) -> torch.Tensor:
    """``κ_c = R_c²/eps_c`` (no output weight), ``inf`` where ``eps_c = 0``; shape ``(C,)``."""
    r = head_radii(m, kind)
    safe = torch.where(m.eps > 0, m.eps, torch.ones_like(m.eps))
    k = (r / safe.sqrt()) ** 2  # (R/√eps)²: R² alone can overflow (or underflow) where R²/eps does not
    return torch.where(m.eps > 0, k, torch.full_like(k, math.inf))


def curvature_bound(model, kind: str = "enclosing-ball") -> torch.Tensor:
    r"""A bound on ``‖∇²_x f(x)‖₂`` valid for *every* ``x`` (T6, THEORY §6).

    ``kind="row-norm"``: ``|a| max_j |W_j|² / eps`` (the paper's corollary);
    ``kind="enclosing-ball"``: ``|a| R² / eps`` with ``R`` the radius of the minimum enclosing
    ball of the rows (:func:`enclosing_ball`, exact) — never larger, since the ball centred at
    0 with radius ``max_j |W_j|`` holds the rows. ``inf`` at ``eps = 0``.

    Args:
        model: an LSE layer or per-class heads (see :func:`hjdl.robustness.as_model`); a generic
            module has no derived bound and raises :class:`~hjdl.errors.InputError`.
        kind: ``"row-norm"`` or ``"enclosing-ball"``.

    Returns:
        a 0-d tensor (one layer) or ``(C,)`` (per-class heads).

    Example:
        >>> import torch
        >>> W = torch.tensor([[2.0, 0.0], [3.0, 0.0]])   # rows far from 0, close to each other
        >>> b = torch.zeros(2)
        >>> curvature_bound((W, b, 1.0), "row-norm"), curvature_bound((W, b, 1.0), "enclosing-ball")
        (tensor(9.), tensor(0.2500))
    """
    _check_kind(kind)
    m = as_model(model)
    if not isinstance(m, LSEHeads):
        raise InputError("model: no sound curvature bound is derived for a generic module (deep "
                         "networks included, THEORY §6); pass an LSE layer or per-class LSE heads")
    out = m.scale.abs() * head_bounds(m, kind)
    out = torch.where(m.scale == 0, torch.zeros_like(out), out)
    return out[0] if m.single else out
