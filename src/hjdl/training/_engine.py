"""The optimisation loop shared by the estimators: Adam warm start, then optional L-BFGS.

Deterministic given the module's initial state and ``generator`` (mini-batch order). Every loss
is checked: a non-finite value raises :class:`~hjdl.errors.ConvergenceError` naming the step
and the last finite loss, so a model full of NaN is never returned.
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from .._progress import Bar, progress
from .._validation import as_tensor, check_finite
from ..errors import ConvergenceError, InputError, ShapeError

__all__ = ["TrainResult", "train"]


@dataclass
class TrainResult:
    loss: float
    loss_curve: list[float] = field(default_factory=list)
    n_iter: int = 0
    refine_iter: int = 0
    stopped_early: bool = False
    validation_curve: list[float] = field(default_factory=list)
    best_iter: int | None = None


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"{name}: expected an integer >= {minimum}, received {value!r}")
    return int(value)


def _check_real(value, name, *, positive=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or (
            positive and value <= 0) or value < 0:
        raise InputError(f"{name}: expected a finite number {'> 0' if positive else '>= 0'}, received {value!r}")
    return float(value)


_LABELS = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _check_data(module, loss_fn, X, y):
    """``X`` (finite, in the dtype of the module's parameters) and ``y`` (its own dtype: integer
    labels, or finite reals), with as many rows as each other, and at least one."""
    if not isinstance(module, nn.Module):
        raise InputError(f"module: expected a torch.nn.Module, received {type(module).__name__}")
    if not callable(loss_fn):
        raise InputError(f"loss_fn: expected a callable (prediction, target) -> scalar, received {loss_fn!r}")
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise InputError(f"module: {type(module).__name__} has no trainable parameters")
    Xt = as_tensor(X, "X", device=params[0].device)
    if params[0].is_floating_point() and Xt.dtype != params[0].dtype:
        Xt = Xt.to(params[0].dtype)
    check_finite(Xt, "X")
    yt = y
    if not isinstance(y, torch.Tensor):
        arr = np.asarray(y) if not isinstance(y, (str, bytes)) else np.asarray([], dtype=object)
        if arr.dtype.kind not in "fiu" or arr.ndim == 0:
            raise InputError(f"y: expected a tensor or array of targets, received {type(y).__name__}")
        yt = torch.as_tensor(arr)
    if not (yt.is_floating_point() or yt.dtype in _LABELS):
        raise InputError(f"y: expected real targets (floating) or integer labels, received dtype {yt.dtype}")
    if yt.is_floating_point():
        check_finite(yt, "y")
    if Xt.ndim == 0 or yt.ndim == 0 or Xt.shape[0] != yt.shape[0] or Xt.shape[0] == 0:
        raise ShapeError(f"X, y: expected the same number (>= 1) of samples along the first axis, received "
                         f"shapes {tuple(Xt.shape)} and {tuple(yt.shape)}")
    return params, Xt, yt.to(Xt.device)


def _scalar_loss(loss) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.is_floating_point():
        raise InputError("loss_fn: expected a real scalar tensor, received "
                         f"{type(loss).__name__} of shape {tuple(getattr(loss, 'shape', ()))}")
    return loss.reshape(())


def _forward(module, X, step):
    """``module(X)``; on the first step a torch shape / dtype refusal is re-raised as
    :class:`~hjdl.errors.ShapeError` naming ``X`` (the module's own input contract)."""
    if step:
        return module(X)
    try:
        return module(X)
    except RuntimeError as exc:
        raise ShapeError(f"X: {type(module).__name__} cannot evaluate X of shape {tuple(X.shape)} and dtype "
                         f"{X.dtype} ({exc})") from None


def _improved(value: float, best: float, tol: float) -> bool:
    """``value`` beats ``best`` by more than ``tol · max(1, |best|)``; the first value always does
    (``best = inf``: ``inf − tol·inf`` is NaN, and every comparison with NaN is false, so before
    this rule the first ``n_iter_no_change`` steps always counted as "no improvement" and Adam
    stopped after exactly ``n_iter_no_change`` steps)."""
    return math.isinf(best) or value < best - tol * max(1.0, abs(best))


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
          desc: str = "fit", validation: tuple | None = None,
          penalty: Callable[[], torch.Tensor] | None = None, solver: str = "adam") -> TrainResult:
    """Minimise ``loss_fn(module(X_batch), y_batch)`` in place.

    Adam (``max_iter`` steps, full batch unless ``batch_size``), stopping early once the best
    full-batch loss has not improved by more than ``tol · max(1, |best|)`` for
    ``n_iter_no_change`` steps (full batch only); then ``refine="lbfgs"`` runs
    :class:`torch.optim.LBFGS` (strong-Wolfe line search) for up to ``refine_iter`` iterations on
    the full batch, kept only if it lowers the loss.

    ``validation=(X_val, y_val)`` switches the stopping rule to the validation loss (as
    scikit-learn's ``early_stopping``): after every Adam step the validation loss
    ``loss_fn(module(X_val), y_val)`` is recorded; training stops once it has not improved by
    more than ``tol · max(1, |best|)`` for ``n_iter_no_change`` steps, and the parameters of the
    best validation loss are restored (``best_iter``: the number of Adam steps they had taken).
    The L-BFGS refinement is then kept only if it lowers both the training and the validation
    loss. ``penalty()`` (e.g. weight decay) is added to the training objective; the recorded
    ``loss`` and ``loss_curve`` are the objective (loss + penalty), the validation curve is the
    plain loss.

    ``solver="lbfgs"`` replaces Adam by full-batch L-BFGS (:func:`_lbfgs`: SciPy's L-BFGS-B on
    the flattened parameters, the exact gradient from autograd, ``max_iter`` iterations), with
    the same stopping rules (``tol``, ``n_iter_no_change``, ``validation``) checked once per
    iteration; ``refine`` and ``batch_size`` do not apply to it.

    ``X`` is converted to the dtype of the module's parameters and must be finite; ``y`` keeps its
    dtype (integer class labels or finite real targets); both have ``n >= 1`` rows. Bad arguments
    raise :class:`~hjdl.errors.InputError` naming the argument.
    """
    params, X, y = _check_data(module, loss_fn, X, y)
    _check_int(max_iter, "max_iter", 0)
    lr = _check_real(lr, "lr")
    _check_real(tol, "tol", positive=False)
    _check_int(n_iter_no_change, "n_iter_no_change", 1)
    _check_int(refine_iter, "refine_iter", 0)
    if batch_size is not None:
        _check_int(batch_size, "batch_size", 1)
    if refine not in (None, "lbfgs"):
        raise InputError(f"refine: expected 'lbfgs' or None, received {refine!r}")
    if solver not in ("adam", "lbfgs"):
        raise InputError(f"solver: expected 'adam' or 'lbfgs', received {solver!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise InputError(f"generator: expected a torch.Generator or None, received {type(generator).__name__}")
    if penalty is not None and not callable(penalty):
        raise InputError(f"penalty: expected a callable () -> scalar tensor or None, received {penalty!r}")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise InputError(f"validation: expected a pair (X_val, y_val) or None, received {type(validation).__name__}")
        _, Xv, yv = _check_data(module, loss_fn, *validation)
    n = X.shape[0]
    full = batch_size is None or batch_size >= n

    def objective(pred, target):
        loss = _scalar_loss(loss_fn(pred, target))
        return loss if penalty is None else loss + _scalar_loss(penalty())

    def val_loss():
        with torch.no_grad():
            return float(_scalar_loss(loss_fn(module(Xv), yv)))

    if solver == "lbfgs":
        bar = Bar(total=max_iter, desc=desc, enabled=verbose)
        result = _lbfgs(module, params, objective, X, y, max_iter=max_iter, tol=tol,
                        n_iter_no_change=n_iter_no_change,
                        val_loss=val_loss if validation is not None else None, bar=bar)
        if not bar.live:
            bar.advance(f"L-BFGS, loss {result.loss:.6g}", n=result.n_iter)
        bar.close(stopped=False)
        return result
    val_curve: list[float] = []
    best_state, best_iter = None, None
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
        loss = objective(_forward(module, xb, step), yb)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise _diverged("Adam", step, value, last)
        loss.backward()
        opt.step()
        curve.append(value)
        last = value
        if validation is not None:
            watched = val_loss()
            val_curve.append(watched)
            if not math.isfinite(watched):
                raise _diverged("Adam (validation loss)", step, watched, last)
            if _improved(watched, best, tol):
                best, since_best = watched, 0
                best_state, best_iter = copy.deepcopy(module.state_dict()), step + 1
            else:
                since_best += 1
                if since_best >= n_iter_no_change:
                    stopped = True
                    break
        elif full:
            if _improved(value, best, tol):
                best, since_best = value, 0
            else:
                since_best += 1
                if since_best >= n_iter_no_change:
                    stopped = True
                    break
    n_iter = step + 1 if max_iter > 0 else 0
    if best_state is not None:
        module.load_state_dict(best_state)  # the parameters of the best validation loss
    with torch.no_grad():
        final = float(objective(module(X), y))
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
            value = objective(module(X), y)
            counter[0] += 1
            if value.requires_grad:
                value.backward()
            return value

        try:
            lbfgs.step(closure)
            with torch.no_grad():
                refined = float(objective(module(X), y))
        except ConvergenceError:
            raise
        except (RuntimeError, ValueError):  # a non-finite line search: keep the Adam solution
            refined = math.inf
        better_val = validation is None or (math.isfinite(refined) and val_loss() <= best)
        if math.isfinite(refined) and refined <= final and better_val:
            final, n_refine = refined, counter[0]
            curve.append(refined)
        else:
            module.load_state_dict(saved)
    for p in params:
        if not bool(torch.isfinite(p).all()):
            raise ConvergenceError(f"training produced non-finite parameters; last finite loss {last}")
    return TrainResult(final, curve, n_iter, n_refine, stopped, val_curve, best_iter)


def _lbfgs(module, params, objective, X, y, *, max_iter, tol, n_iter_no_change, val_loss, bar) -> TrainResult:
    """Full-batch L-BFGS (SciPy's L-BFGS-B, float64 flat parameter vector, autograd's exact
    gradient). After every iteration the monitored loss (``val_loss()`` if given, else the
    training objective) is compared with its best; ``n_iter_no_change`` iterations without an
    improvement of more than ``tol · max(1, |best|)`` stop the run and the best iterate is
    restored (with validation; without, the last iterate is kept, L-BFGS being monotone)."""
    from scipy.optimize import minimize

    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    dtype, device = params[0].dtype, params[0].device

    def load(x):
        v = torch.as_tensor(x, dtype=dtype, device=device)
        with torch.no_grad():
            for p, chunk, shape in zip(params, torch.split(v, sizes), shapes):
                p.copy_(chunk.view(shape))

    last: list = [None]

    def value_and_grad(x):
        load(x)
        loss = objective(module(X), y)
        value = float(loss.detach())
        if not math.isfinite(value):
            return math.inf, np.zeros_like(x)  # the line search backs off from non-finite values
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        g = torch.cat([(torch.zeros_like(p) if gr is None else gr).reshape(-1) for p, gr in zip(params, grads)])
        last[0] = value
        return value, g.detach().cpu().numpy().astype(np.float64)

    x0 = torch.cat([p.detach().reshape(-1) for p in params]).cpu().numpy().astype(np.float64)
    first, _ = value_and_grad(x0)
    if not math.isfinite(first):
        raise _diverged("L-BFGS", 0, first, None)
    curve: list[float] = []
    val_curve: list[float] = []
    state = {"best": math.inf, "since": 0, "x": None, "iter": None, "stopped": False}

    def callback(intermediate_result):
        x, fun = intermediate_result.x, float(intermediate_result.fun)
        curve.append(fun)
        if bar.live:  # elsewhere one line at the end (below), not one per iteration
            bar.advance()
        if val_loss is not None:
            load(x)
            watched = val_loss()
            val_curve.append(watched)
        else:
            watched = fun
        if _improved(watched, state["best"], tol):
            state.update(best=watched, since=0, x=np.array(x, copy=True), iter=len(curve))
        else:
            state["since"] += 1
            if state["since"] >= n_iter_no_change:
                state["stopped"] = True
                raise StopIteration

    result = None
    if max_iter > 0:
        with _one_blas_thread():
            result = minimize(value_and_grad, x0, jac=True, method="L-BFGS-B", callback=callback,
                              options={"maxiter": max_iter, "maxfun": 2 * max_iter + 20,
                                       "ftol": 0.0, "gtol": 1e-10})
    if val_loss is not None and state["x"] is not None:
        load(state["x"])
    elif result is not None:
        load(result.x)
    else:
        load(x0)
    with torch.no_grad():
        final = float(objective(module(X), y))
    if not math.isfinite(final):
        raise _diverged("L-BFGS (final evaluation)", len(curve), final, last[0])
    return TrainResult(final, curve, len(curve), 0, state["stopped"], val_curve,
                       state["iter"] if val_loss is not None else None)


def _one_blas_thread():
    """One BLAS thread for SciPy's L-BFGS-B update (vectors of the parameters' length): measured
    on the project's loaded 2-core machine, OpenBLAS's default two threads made it 2.4 ms per
    iteration on iris (about half the fit), one thread made it negligible."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
