"""Training many LSE layers of the same shape at once: stacked weights, one tensor program.

A sweep over eps, width, seed (e.g. ``scaling-trained``) trains ``S`` independent layers
``f_s(x) = LSE_{eps_s}(W_s x + b_s)`` (THEORY §2) with ``W`` of shape ``(S, N, d)`` and ``b`` of
shape ``(S, N)``. One step evaluates every network with one batched matrix product for the
logits (the bias as a column of ones), the kernel's :func:`~hjdl.core.kernel._lse_weights` (one row maximum and one
exponential pass giving both ``LSE_eps(z)``, bit for bit that of :func:`hjdl.lse`, and the Gibbs
weights ``π``, the gradient of LSE, THEORY §1) and one batched product for the gradients in ``W``
and ``b``, with no autograd graph; a group holding an ``eps = 0`` network (or an eps outside that
function's range) back-propagates the sum of the per-network losses through :func:`hjdl.lse`
instead. It applies full-batch Adam elementwise, the update of :class:`torch.optim.Adam`
(``weight_decay=0``, ``amsgrad=False``) written out so that the step count and the per-network
divergence checks are explicit. The per-network losses equal those of ``S`` separate runs of
:func:`hjdl.training.train` (``refine=None``, no early stopping) from the same initial weights up
to the rounding of the summation order (about 1e-12 relative in float64).

Two forms of the direct step: with numba installed (``pip install 'hjdl[fast]'``), float64 CPU
groups run the compiled fused step of :mod:`hjdl.training._fused` (blocks of input rows in the
vector lanes: per neuron, the logits, the running row maximum, a vectorised exponential and the
gradient sums run as straight loops over contiguous rows, never forming the ``(S, n, N)``
tensor; tasks of whole row blocks run in parallel on torch's thread count, see
:func:`hjdl._compiled.torch_threads`); float32 groups, other devices, and processes without
numba (or fork() children) run the torch step described in :func:`_train_group`. Both give the
same losses to ~1e-13 (float64).

Measured (``bench/bench_training_batched.py``, 32 networks of the ``scaling-trained`` paper
configuration, 100 steps, n = 4000, d = 2; the 2-core development machine, load 1-2, ratios
within one run): batched / HJRegressor loop 24-28x at N = 10, 15-21x at N = 100 and 21x at
N = 1000 with torch's two threads; 13.6x and 12.1x at N = 10 and 100 with one. The compiled
step costs 1.4 ns per logit at N = 100 and N = 1000 on one thread (0.7 on two), about half of
it the exponential; the one-network loop 9-17 ns at N >= 100 and 30-45 ns at N = 10.

Groups: the torch step holds ``(S_group, n, N)`` logits, so its groups have at most
``max_elements`` of them (``S_group · n · N``); the compiled step holds no logits, and its groups
bound its per-task gradient slots and, with one data set per network, its copy of the inputs
instead (usually all networks in one group, one call per step). The groups are independent, so
grouping does not change any number.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from dataclasses import dataclass

import torch

from .._compiled import LAUNCH_LOCK, forked, load, torch_threads
from .._progress import progress
from .._validation import as_tensor, check_finite
from ..core import lse
from ..core.kernel import _lse_weights, _lse_weights_accepts
from ..errors import ConvergenceError, InputError, ShapeError
from ._engine import _check_int, _check_real

__all__ = ["ManyResult", "lse_many", "train_many"]

#: use the compiled fused step (``_fused``, numba) for float64 CPU groups when numba is installed;
#: the tests switch it off to check the torch step on its own
USE_COMPILED = True
_KERNEL: object = False   # not yet looked up
_KERNEL_LOCK = LAUNCH_LOCK  # one compiled call at a time (hjdl._compiled)


def _compiled():
    """The compiled fused-step module, or ``None``: when numba is not installed (``pip install
    'hjdl[fast]'``) or in a fork() child (a parallel numba launch can hang there)."""
    global _KERNEL
    if forked() or not USE_COMPILED:
        return None
    if _KERNEL is False:
        _KERNEL = load("hjdl.training._fused")
    return _KERNEL


_MAX_ELEMENTS = 2**20  # logits per group (8 MiB in float64 per (S, n, N) tensor; larger groups measured slower at N = 100, n = 4000: cache)


@dataclass
class ManyResult:
    """Result of :func:`train_many` (``S`` networks, ``T`` Adam steps).

    Attributes:
        weight: ``(S, N, d)``, bias: ``(S, N)``: the trained parameters (detached).
        eps: ``(S,)`` the temperatures.
        loss: ``(S,)`` the final full-batch loss of each network (after the last step).
        loss_curve: ``(S, T)`` the loss of each network before each step (as
            :attr:`hjdl.training.TrainResult.loss_curve` without the final value).
        n_iter: ``T``.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    eps: torch.Tensor
    loss: torch.Tensor
    loss_curve: torch.Tensor
    n_iter: int


def lse_many(X: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    r"""``S`` LSE layers at once: ``out[s, i] = LSE_{eps_s}(W_s x_i + b_s)`` (THEORY §2).

    ``X`` is ``(n, d)`` (shared by the networks) or ``(S, n, d)`` (one data set per network);
    ``weight`` ``(S, N, d)``, ``bias`` ``(S, N)``, ``eps`` ``(S,)``. Returns ``(S, n)``. Internal:
    arguments are trusted (see :func:`train_many` for the checked entry point).

    Example:
        >>> import torch, hjdl
        >>> W, b = torch.randn(3, 5, 2, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
        >>> X, eps = torch.randn(7, 2, dtype=torch.float64), torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
        >>> out = lse_many(X, W, b, eps)
        >>> bool(torch.allclose(out[1], hjdl.lse_layer(X, W[1], b[1], 0.2)))
        True
    """
    z = torch.matmul(X, weight.transpose(-1, -2)) + bias[:, None, :]  # (S, n, N)
    return lse(z, eps[:, None])


def _stacked(value, name, ndim, like=None):
    t = as_tensor(value, name, device=None if like is None else like.device)
    if like is not None and t.dtype != like.dtype:
        t = t.to(like.dtype)
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.ndim not in ndim:
        raise ShapeError(f"{name}: expected {' or '.join(f'{k}-d' for k in ndim)}, received shape {tuple(t.shape)}")
    check_finite(t, name)
    return t


def _check(weight, bias, eps, X, y):
    W = _stacked(weight, "weight", (3,))
    S, N, d = W.shape
    b = _stacked(bias, "bias", (2,), W)
    if tuple(b.shape) != (S, N):
        raise ShapeError(f"bias: expected shape (S, N) = {(S, N)} matching weight {tuple(W.shape)}, "
                         f"received {tuple(b.shape)}")
    if isinstance(eps, numbers.Real) and not isinstance(eps, bool):
        e = torch.full((S,), float(eps), dtype=W.dtype, device=W.device)
    else:
        e = _stacked(eps, "eps", (0, 1), W).reshape(-1)
        if e.numel() == 1:
            e = e.expand(S).clone()
    if tuple(e.shape) != (S,):
        raise ShapeError(f"eps: expected a number or shape (S,) = ({S},), received shape {tuple(e.shape)}")
    if bool((e < 0).any()):
        raise InputError(f"eps: expected temperatures >= 0, received {e.tolist()}")
    Xt = _stacked(X, "X", (2, 3), W)
    if Xt.shape[-1] != d or (Xt.ndim == 3 and Xt.shape[0] != S):
        raise ShapeError(f"X: expected (n, d) or (S, n, d) with S = {S}, d = {d}, received {tuple(Xt.shape)}")
    n = Xt.shape[-2]
    yt = _stacked(y, "y", (1, 2), W)
    if yt.shape[-1] != n or n == 0 or (yt.ndim == 2 and yt.shape[0] != S):
        raise ShapeError(f"y: expected (n,) or (S, n) with n = {n} >= 1 and S = {S} matching X "
                         f"{tuple(Xt.shape)}, received {tuple(yt.shape)}")
    return W, b, e, Xt, yt


def _adam(p, g, m, v, k, lr, b1, b2, adam_eps):
    """One step of :class:`torch.optim.Adam` (single-tensor form, no weight decay), in place."""
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    denom = (v.sqrt() / math.sqrt(1 - b2**k)).add_(adam_eps)
    p.addcdiv_(m, denom, value=-lr / (1 - b1**k))


def _diverged(index, step, value, last):
    last_text = "none (the first loss was already non-finite)" if last is None else f"{last:.6g}"
    return ConvergenceError(
        f"training diverged: network {index} has a non-finite loss {value} at Adam step {step}; its last "
        f"finite loss {last_text}. Likely fixes: a smaller lr, a larger eps, or standardised inputs/targets")


def _direct(e, dtype) -> bool:
    """Whether the step needs no autograd: every eps > 0 and within ``_lse_weights``' range."""
    return bool((e > 0).all()) and _lse_weights_accepts(e, dtype)


def _kernel_for(e, dtype, device):
    """The compiled fused-step module when it runs the step of networks with temperatures ``e``
    (float64 on the CPU, on the direct path, numba installed), else ``None``."""
    if dtype != torch.float64 or device.type != "cpu" or not _direct(e, dtype):
        return None
    return _compiled()


def _train_group(W, b, e, X, y, steps, lr, b1, b2, adam_eps, offset, bar):
    """Adam on ``Q = [W, b]^T`` of shape ``(S, d + 1, N)`` (Adam acts elementwise, so one tensor
    for both is the same update as two; this layout makes both batched products below read
    contiguous rows: 1.5 and 0.5 ms instead of 2.3 and 1.6 ms at 26 × 4000 × 10, one thread). Per step, for temperatures the kernel's
    :func:`~hjdl.core.kernel._lse_weights` accepts (every eps > 0 and normal): one batched
    product for the logits ``z = [x, 1] Q`` (into a reused buffer), one row maximum and one
    exponential pass giving ``f = LSE_eps(z)`` and the unnormalised Gibbs weights ``w``
    (``π = w / total``), and one batched product for both gradients,

        ∂L_s/∂Q_s = Σ_i (2 r_si / n) [x_i, 1]^T π_si = (c_s ⊙ [x, 1])^T w_s,   c_si = 2 r_si / (n total_si),

    (THEORY §1: the gradient of LSE is π; no autograd graph; the normalisation is folded into
    the row coefficients ``c``). Otherwise (an eps = 0 network, or an eps outside that range)
    autograd back-propagates the sum of the per-network losses through :func:`hjdl.lse`.
    Float64 CPU groups on the direct path run the same step fused in the compiled kernel
    (:func:`hjdl.training._fused.fused_step`, numba) when it is available, with numba limited
    to torch's thread count; float32 and other devices keep the torch step."""
    S, N, d = W.shape
    n = X.shape[-2]
    Q = torch.cat([W, b[..., None]], -1).transpose(1, 2).contiguous()
    direct = _direct(e, Q.dtype)
    kernel = _kernel_for(e, Q.dtype, Q.device)
    Q.requires_grad_(not direct)
    m, v = torch.zeros_like(Q), torch.zeros_like(Q)
    curve = torch.empty((S, steps), dtype=Q.dtype, device=Q.device)
    if kernel is not None:
        Xs = X.reshape(-1, n, d)
        Xt = torch.empty((Xs.shape[0], d + 1, n), dtype=X.dtype)  # [x, 1] transposed: one copy
        Xt[:, :d] = Xs.transpose(1, 2)
        Xt[:, d] = 1.0
        Xt_np = Xt.numpy()
        y_np, e_np, Q_np = y.reshape(-1, n).contiguous().numpy(), e.contiguous().numpy(), Q.numpy()
        rows, width = kernel.layout(N)
        G = torch.empty_like(Q)
        losses = torch.empty(S, dtype=Q.dtype)
        G_np, l_np = G.numpy(), losses.numpy()

        def fused():  # losses into ``losses``, gradients into ``G``, at the current ``Q``
            with _KERNEL_LOCK:
                kernel.fused_step(Xt_np, Q_np, e_np, y_np, G_np, l_np, rows, width)
    elif direct:
        Xa = torch.cat([X, torch.ones_like(X[..., :1])], -1).expand(S, n, d + 1).contiguous()
        Xt = Xa.transpose(1, 2).contiguous()  # (S, d + 1, n)
        z = torch.empty((S, n, N), dtype=Q.dtype, device=Q.device)
        w_buf, A, G = torch.empty_like(z), torch.empty_like(Xt), torch.empty_like(Q)
        e3 = e[:, None, None]
    with torch_threads() if kernel is not None else contextlib.nullcontext():
        for k in range(1, steps + 1):
            if kernel is not None:
                fused()
            elif direct:
                with torch.no_grad():
                    torch.bmm(Xa, Q, out=z)
                    f, w, total = _lse_weights(z, e3, -1, buf=w_buf)
                    r = f[..., 0] - y
                    losses = (r * r).mean(-1)
                    c = r.mul_(2.0 / n).div_(total[..., 0])
                    torch.bmm(torch.mul(Xt, c[:, None, :], out=A), w, out=G)
            else:
                Q.grad = None
                losses = ((lse_many(X, Q[:, :d].transpose(1, 2), Q[:, d], e) - y) ** 2).mean(-1)  # (S,)
            detached = losses.detach()
            if not bool(torch.isfinite(detached).all()):
                s = int(torch.nonzero(~torch.isfinite(detached))[0, 0])
                raise _diverged(offset + s, k - 1, float(detached[s]), float(curve[s, k - 2]) if k > 1 else None)
            curve[:, k - 1] = detached
            if not direct:
                losses.sum().backward()
                G = Q.grad
            with torch.no_grad():
                _adam(Q, G, m, v, k, lr, b1, b2, adam_eps)
            bar.update(S) if bar is not None else None
        if kernel is not None:  # the final losses: one more step's losses (its gradient unused)
            fused()
            final = losses.clone()
    Q = Q.detach()
    W, b = Q[:, :d].transpose(1, 2).contiguous(), Q[:, d].contiguous()
    if kernel is None:
        with torch.no_grad():
            final = ((lse_many(X, W, b, e) - y) ** 2).mean(-1)
    if not bool(torch.isfinite(final).all()):
        s = int(torch.nonzero(~torch.isfinite(final))[0, 0])
        raise _diverged(offset + s, steps, float(final[s]), float(curve[s, -1]) if steps else None)
    return W, b, final, curve


def train_many(weight, bias, eps, X, y, *, max_iter: int = 3000, lr: float = 1e-2,
               betas: tuple[float, float] = (0.9, 0.999), adam_eps: float = 1e-8,
               max_elements: int = _MAX_ELEMENTS, verbose: bool = False,
               desc: str = "train_many") -> ManyResult:
    r"""Train ``S`` LSE layers ``f_s(x) = LSE_{eps_s}(W_s x + b_s)`` on the mean squared error, together.

    Each network minimises ``L_s = mean_i (f_s(x_i) − y_i)²`` by ``max_iter`` full-batch Adam
    steps (``torch.optim.Adam(lr, betas, eps=adam_eps)``), from the initial weights given (they
    are not modified). There is no early stopping: every network takes ``max_iter`` steps.

    Args:
        weight: ``(S, N, d)`` initial weights.
        bias: ``(S, N)`` initial biases.
        eps: a number ``>= 0`` or ``(S,)`` per-network temperatures.
        X: ``(n, d)`` inputs shared by all networks, or ``(S, n, d)`` one data set per network.
        y: ``(n,)`` or ``(S, n)`` targets. All finite, converted to the dtype of ``weight``
            (float64 runs the compiled step where numba is installed; float32 the torch step).
        max_iter: Adam steps; lr, betas, adam_eps: Adam's hyper-parameters.
        max_elements: networks are trained in groups (at least one network each) whose largest
            array has at most this many elements: the torch step's logits ``S_group · n · N``,
            or, for the compiled step (it holds no logits), its per-task gradient slots
            ``S_group · ⌈n / rows⌉ · (d + 1) · N`` and, with one data set per network, its
            transposed inputs ``S_group · (d + 1) · n``. Groups change no number.
        verbose: a progress bar over network-steps.

    Returns:
        :class:`ManyResult`. A non-finite loss raises :class:`~hjdl.errors.ConvergenceError`
        naming the network (its index in ``0..S-1``), the step and its last finite loss.

    Example:
        >>> import torch
        >>> from hjdl.training import train_many
        >>> g = torch.Generator().manual_seed(0)
        >>> X = torch.rand(64, 1, generator=g, dtype=torch.float64) * 4 - 2
        >>> W0 = torch.rand(3, 4, 1, generator=g, dtype=torch.float64) - 0.5
        >>> res = train_many(W0, torch.zeros(3, 4, dtype=torch.float64), [0.05, 0.1, 0.2], X, X[:, 0].abs(),
        ...                  max_iter=200, lr=0.05)
        >>> res.loss_curve.shape, bool((res.loss < res.loss_curve[:, 0]).all())
        (torch.Size([3, 200]), True)
    """
    W, b, e, Xt, yt = _check(weight, bias, eps, X, y)
    steps = _check_int(max_iter, "max_iter", 0)
    lr = _check_real(lr, "lr")
    adam_eps = _check_real(adam_eps, "adam_eps", positive=False)
    _check_int(max_elements, "max_elements", 1)
    if (not isinstance(betas, (tuple, list)) or len(betas) != 2
            or not all(isinstance(x, numbers.Real) and not isinstance(x, bool) and 0 <= x < 1 for x in betas)):
        raise InputError(f"betas: expected two numbers in [0, 1), received {betas!r}")
    b1, b2 = float(betas[0]), float(betas[1])
    S, N, _ = W.shape
    n = Xt.shape[-2]
    kernel = _kernel_for(e, W.dtype, W.device)
    if kernel is not None:  # no logits held: the per-task gradient slots, and per-network inputs
        per_network = max(-(-n // kernel.layout(N)[0]) * (W.shape[-1] + 1) * N,
                          (W.shape[-1] + 1) * n if Xt.ndim == 3 else 0)
    else:  # the (S_group, n, N) logits
        per_network = n * N
    group = max(1, max_elements // max(1, per_network))
    outs = []
    bar = None
    if verbose:
        bar = progress(range(S * steps), desc=desc, enabled=True)
        it = iter(bar)
        bar = _Ticker(it)
    for lo in range(0, S, group):
        hi = min(S, lo + group)
        Xg = Xt[lo:hi] if Xt.ndim == 3 else Xt
        yg = yt[lo:hi] if yt.ndim == 2 else yt
        outs.append(_train_group(W[lo:hi], b[lo:hi], e[lo:hi], Xg, yg, steps, lr, b1, b2, adam_eps, lo, bar))
    if bar is not None:
        bar.close()
    Wf, bf, final, curve = (torch.cat(parts) for parts in zip(*outs))
    return ManyResult(Wf, bf, e, final, curve, steps)


class _Ticker:
    """Advances a :func:`hjdl._progress.progress` iterator by ``k`` items."""

    def __init__(self, it):
        self._it = it

    def update(self, k):
        for _ in range(k):
            next(self._it, None)

    def close(self):
        for _ in self._it:
            pass
