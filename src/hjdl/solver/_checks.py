"""Validation of :func:`hjdl.solve`'s arguments and of what ``g`` returns (the public boundary)."""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import torch

from .._validation import as_tensor, check_eps, check_finite, check_int, check_spd, check_time
from ..errors import DomainError, InputError, NonFiniteError, NotPositiveDefiniteError, ShapeError

METHODS = ("auto", "mc", "qmc", "is", "hopf-lax")


def check_points(x) -> torch.Tensor:
    """``x`` as a finite floating tensor of shape (B, d) (a single point (d,) becomes (1, d))."""
    xt = as_tensor(x, "x")
    if xt.ndim == 1:
        xt = xt[None]
    if xt.ndim != 2 or xt.shape[1] == 0:
        raise ShapeError(f"x: expected points of shape (B, d) (or one point (d,)), received shape "
                         f"{tuple(as_tensor(x, 'x').shape)}")
    return check_finite(xt, "x")


def check_scalar_time(t, like) -> float:
    tt = check_time(t, like=like)
    if tt.ndim:
        raise DomainError(f"t: expected a single HJ time > 0, received shape {tuple(tt.shape)}")
    return float(tt)


def check_scalar_eps(eps, like) -> float:
    e, _ = check_eps(eps, like=like)
    if e.ndim:
        raise ShapeError(f"eps: expected a single viscosity >= 0, received shape {tuple(e.shape)}")
    return float(e)


def check_metric(A, d: int, like: torch.Tensor) -> torch.Tensor | None:
    """``A`` as a (d, d) SPD tensor, or None for the identity. Accepted: None, a positive number
    (``a·I``), a (d,) vector of positive numbers (a diagonal metric) or a (d, d) SPD matrix."""
    if A is None:
        return None
    if isinstance(A, numbers.Real) and not isinstance(A, bool):
        if not math.isfinite(float(A)) or float(A) <= 0:
            raise NotPositiveDefiniteError(
                f"A: a number means A·I and must be finite and > 0, received {A!r}")
        return torch.eye(d, dtype=like.dtype, device=like.device) * float(A)
    At = as_tensor(A, "A", dtype=like.dtype, device=like.device)
    if At.ndim == 1:
        if At.shape[0] != d:
            raise ShapeError(f"A: a vector is the diagonal of the metric and needs {d} entries, "
                             f"received shape {tuple(At.shape)}")
        check_finite(At, "A")
        if not bool((At > 0).all()):
            raise NotPositiveDefiniteError(
                f"A: a diagonal metric needs positive entries, received smallest {float(At.min()):.3g}")
        return torch.diag(At)
    if At.ndim == 0:
        return check_metric(float(At), d, like)
    return check_spd(At, d, "A")


def check_budget(budget) -> int:
    return check_int(budget, "budget", minimum=2,
                     hint="the number of atoms (samples) in the estimate, e.g. 2**16")


def check_tol(tol) -> float | None:
    if tol is None:
        return None
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (float(tol) > 0) \
            or not math.isfinite(float(tol)):
        raise InputError(f"tol: expected None or a finite error bar > 0, received {tol!r}")
    return float(tol)


def make_generator(seed, device) -> tuple[torch.Generator, int | None]:
    """A :class:`torch.Generator` from ``seed`` (an int, a Generator used as it is, or None for a
    fresh seed, which is recorded)."""
    if isinstance(seed, torch.Generator):
        return seed, None
    if seed is None:
        seed = int(torch.randint(0, 2**62, (), generator=torch.Generator().manual_seed(
            int.from_bytes(__import__("os").urandom(7), "little"))))
    seed = check_int(seed, "seed", minimum=0, hint="or a torch.Generator, or None for a fresh seed")
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen, seed


def check_g(g) -> None:
    if not callable(g):
        raise InputError(f"g: expected a callable taking (n, d) tensors to (n,) values, received "
                         f"{type(g).__name__}")


def call_g(g, y: torch.Tensor) -> torch.Tensor:
    """``g(y)`` for atoms ``y`` (n, d), checked: a tensor of shape (n,) (``(n, 1)`` is accepted),
    finite. Errors name g, the shape received, or the first bad value and its atom."""
    n = y.shape[0]
    out = g(y)
    if not isinstance(out, torch.Tensor):
        out = as_tensor(out, "g(y)")
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (n,):
        raise ShapeError(f"g: called on atoms of shape {tuple(y.shape)} it returned shape "
                         f"{tuple(out.shape)}; expected ({n},), one value per row")
    if not bool(torch.isfinite(out).all()):
        i = int((~torch.isfinite(out)).nonzero()[0, 0])
        atom = y[i].detach()
        shown = atom[:4].tolist()
        raise NonFiniteError(
            f"g: returned a non-finite value {float(out[i])} at atom {i} (first coordinates "
            f"{[round(v, 6) for v in shown]}{' ...' if atom.numel() > 4 else ''}); g must be finite "
            "wherever the heat kernel (or the proposal) puts mass")
    return out.to(y.dtype)


def apply(v: torch.Tensor, M: torch.Tensor | None) -> torch.Tensor:
    """``v Mᵀ`` row by row: ``M`` is None (the identity), a (d,) diagonal or a (d, d) matrix."""
    if M is None:
        return v
    return v * M if M.ndim == 1 else v @ M.T


class Factors(NamedTuple):
    """The metric's factors, computed once per solve: ``C Cᵀ = A`` (Cholesky), ``C⁻¹``, ``A⁻¹``
    and ``log det A``. None (and 0.0) for the identity; (d,) vectors for a diagonal A."""

    C: torch.Tensor | None
    Cinv: torch.Tensor | None
    Ainv: torch.Tensor | None
    logdet: float


def factors(A: torch.Tensor | None) -> Factors:
    """:class:`Factors` of ``A``: None for the identity, (d,) vectors for a diagonal A (so that a
    multiple of the identity costs O(d) per atom, not O(d²)), else the Cholesky factor."""
    if A is None:
        return Factors(None, None, None, 0.0)
    logdet = float(torch.linalg.slogdet(A)[1])
    diag = torch.diagonal(A)
    if bool((A == torch.diag(diag)).all()):
        c = torch.sqrt(diag)
        return Factors(c, 1.0 / c, 1.0 / diag, logdet)
    d = A.shape[0]
    C = torch.linalg.cholesky(A)
    Cinv = torch.linalg.solve_triangular(C, torch.eye(d, dtype=A.dtype, device=A.device), upper=False)
    return Factors(C, Cinv, Cinv.T @ Cinv, logdet)
