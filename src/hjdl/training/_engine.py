"""The optimisation loop shared by the estimators: Adam warm start, then optional L-BFGS.

Deterministic given the module's initial state and ``generator`` (mini-batch order). Every loss
is checked: a non-finite value raises :class:`~hjdl.errors.ConvergenceError` naming the step
and the last finite loss, so a model full of NaN is never returned.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .._progress import progress
from ..errors import ConvergenceError

__all__ = ["TrainResult", "train"]


@dataclass
class TrainResult:
    loss: float
    loss_curve: list[float] = field(default_factory=list)
    n_iter: int = 0
    refine_iter: int = 0
    stopped_early: bool = False


def _diverged(stage: str, step: int, value: float, last: float | None) -> ConvergenceError:
    last_text = "none (the first loss was already non-finite)" if last is None else f"{last:.6g}"
    return ConvergenceError(
        f"training diverged: non-finite loss {value} at {stage} step {step}; last finite loss "
        f"{last_text}. Likely fixes: a smaller lr, a larger eps, or standardised inputs/targets")


def train(module: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
          X: torch.Tensor, y: torch.Tensor, *, max_iter: int = 3000, lr: float = 1e-2,
          tol: float = 1e-7, n_iter_no_change: int = 100, refine: str | None = "lbfgs",
          refine_iter: int = 100, batch_size: int | None = None,
          generator: torch.Generator | None = None, verbose: bool = False,
          desc: str = "fit") -> TrainResult:
    """Minimise ``loss_fn(module(X_batch), y_batch)`` in place.

    Adam (``max_iter`` steps, full batch unless ``batch_size``), stopping early once the best
    full-batch loss has not improved by more than ``tol · max(1, |best|)`` for
    ``n_iter_no_change`` steps (full batch only); then ``refine="lbfgs"`` runs
    :class:`torch.optim.LBFGS` (strong-Wolfe line search) for up to ``refine_iter`` iterations on
    the full batch, kept only if it lowers the loss.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    n = X.shape[0]
    full = batch_size is None or batch_size >= n
    opt = torch.optim.Adam(params, lr=lr)
    curve: list[float] = []
    last: float | None = None
    best, since_best, stopped = math.inf, 0, False
    perm, pos = None, n
    step = 0
    for step in progress(range(max_iter), desc=desc, enabled=verbose):
        if full:
            xb, yb = X, y
        else:
            if pos + batch_size > n:
                perm, pos = torch.randperm(n, generator=generator), 0
            idx = perm[pos:pos + batch_size]
            pos += batch_size
            xb, yb = X[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(module(xb), yb)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise _diverged("Adam", step, value, last)
        loss.backward()
        opt.step()
        curve.append(value)
        last = value
        if full:
            if value < best - tol * max(1.0, abs(best)):
                best, since_best = value, 0
            else:
                since_best += 1
                if since_best >= n_iter_no_change:
                    stopped = True
                    break
    n_iter = step + 1 if max_iter > 0 else 0
    with torch.no_grad():
        final = float(loss_fn(module(X), y))
    if not math.isfinite(final):
        raise _diverged("Adam (final evaluation)", n_iter, final, last)
    n_refine = 0
    if refine == "lbfgs" and refine_iter > 0:
        saved = copy.deepcopy(module.state_dict())
        lbfgs = torch.optim.LBFGS(params, lr=1.0, max_iter=refine_iter, history_size=20,
                                  tolerance_grad=1e-12, tolerance_change=1e-14,
                                  line_search_fn="strong_wolfe")
        counter = [0]

        def closure():
            lbfgs.zero_grad(set_to_none=True)
            value = loss_fn(module(X), y)
            counter[0] += 1
            if value.requires_grad:
                value.backward()
            return value

        try:
            lbfgs.step(closure)
            with torch.no_grad():
                refined = float(loss_fn(module(X), y))
        except ConvergenceError:
            raise
        except (RuntimeError, ValueError):  # a non-finite line search: keep the Adam solution
            refined = math.inf
        if math.isfinite(refined) and refined <= final:
            final, n_refine = refined, counter[0]
            curve.append(refined)
        else:
            module.load_state_dict(saved)
    for p in params:
        if not bool(torch.isfinite(p).all()):
            raise ConvergenceError(f"training produced non-finite parameters; last finite loss {last}")
    return TrainResult(final, curve, n_iter, n_refine, stopped)
