"""Per-head Gibbs entropy of attention, streamed over blocks of queries (THEORY §8).

The one primitive every probe adapter (torch modules, Hugging Face, TransformerLens) hands its
``q`` and ``k`` to. For head ``h`` and query ``i`` the Gibbs weights are

    ``π_ij = softmax_j(z_ij)``,  ``z_ij = scale_h · q_i·k_j (+ bias_ij)`` over the visible keys,

(with an optional soft cap ``z ← c · tanh(z / c)`` applied before the bias), the head
temperature is ``eps_h = 1 / scale_h`` and the normalised entropy is ``H(π_i) / log n_i`` with
``n_i`` the number of keys query ``i`` really sees. Queries are processed ``block_size`` at a
time, so the ``(B, H, Q, K)`` weights are never held unless asked for (``keep_weights=True``);
the extra peak memory is a few ``(B, H, block_size, K)`` blocks in the working dtype.

The weights are :func:`hjdl.core.kernel._gibbs` and the entropy :func:`hjdl.core.kernel._entropy`
(the one place of each formula, STYLE.md practice 1); half-precision inputs are upcast per block
and accumulated in float32.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

from .._validation import EPS_POSITIVE, check_finite, check_no_nan
from ..core.kernel import _entropy, _gibbs
from ..errors import InputError, ShapeError
from ..nn.attention import MASK_THRESHOLD

__all__ = ["StreamedHeads", "gibbs_entropy", "additive_to_allowed", "DEFAULT_BLOCK_BYTES"]

#: Target size of one ``(B, H, block, K)`` block of logits when ``block_size`` is not given.
DEFAULT_BLOCK_BYTES = 4 * 2 ** 20


@dataclass
class StreamedHeads:
    """What :func:`gibbs_entropy` returns.

    Attributes:
        normalized_entropy: ``(B, H, Q)`` ``H(π) / log(visible)`` in the working dtype (float32; float64 for
            float64 inputs); ``NaN`` where a query sees fewer than two keys.
        visible: ``(B, H, Q)`` int64 number of keys each query sees (may be an expanded view).
        weights: ``(B, H, Q, K)`` Gibbs weights in the input dtype when ``keep_weights``, else None.
        eps: ``(H,)`` head temperatures ``1 / scale`` (working dtype).
    """

    normalized_entropy: torch.Tensor
    visible: torch.Tensor
    weights: torch.Tensor | None
    eps: torch.Tensor


def additive_to_allowed(mask: torch.Tensor, threshold: float = MASK_THRESHOLD) -> tuple[torch.Tensor, torch.Tensor]:
    """Split an additive float mask into ``(allowed, bias)``.

    An entry ``<= threshold`` (or ``-inf``) is *masked*: libraries write "masked" as ``-inf``,
    ``torch.finfo(dtype).min`` (Hugging Face), ``-1e9`` or ``-1e4`` (the original BERT code,
    ``(1 - mask) * -10000``). Such a key gets weight ``exp(-1e4)`` ≈ 0 in the model, yet counting
    it in ``log(visible keys)`` would bias the normalised entropy (by 0.2–0.3 on short rows).
    Entries above the threshold are a real bias (ALiBi, relative positions) and are kept;
    ``bias`` is ``mask`` with the masked entries set to 0, so it is finite.

    Args:
        mask: floating tensor, no NaN or ``+inf``.
        threshold: finite real number; entries ``<= threshold`` are masked.

    Returns:
        ``allowed`` (bool, ``True`` = visible) and ``bias`` (``mask``'s dtype), both ``mask``'s shape.

    >>> import torch
    >>> allowed, bias = additive_to_allowed(torch.tensor([0.0, -2.0, -1e4, -1e9, -float("inf")]))
    >>> allowed.tolist(), bias.tolist()
    ([True, True, False, False, False], [0.0, -2.0, 0.0, 0.0, 0.0])
    """
    if not isinstance(mask, torch.Tensor) or not mask.is_floating_point():
        what = f"a tensor of dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise InputError(f"mask: expected a floating additive mask (0 = visible, large negative = masked), "
                         f"received {what}")
    threshold = _threshold(threshold)
    check_no_nan(mask, "mask")
    allowed = mask > threshold
    return allowed, torch.where(allowed, mask, torch.zeros((), dtype=mask.dtype, device=mask.device))


def _threshold(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"mask_threshold: expected a finite real number (additive mask entries at or below "
                         f"it count as masked, e.g. -1e4), received {value!r}")
    return float(value)


def _check_qk(q, k) -> tuple[int, int, int, int, int, int]:
    for name, t in (("q", q), ("k", k)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            what = f"a tensor of dtype {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise InputError(f"{name}: expected a floating tensor, received {what}")
    if q.ndim != 4:
        raise ShapeError(f"q: expected shape (batch, heads, queries, head_dim), received {tuple(q.shape)}")
    if k.ndim != 4:
        raise ShapeError(f"k: expected shape (batch, kv_heads, keys, head_dim), received {tuple(k.shape)}")
    B, H, Q, D = q.shape
    Bk, Hk, K, Dk = k.shape
    if Bk != B or Dk != D:
        raise ShapeError(f"k: expected shape ({B}, kv_heads, keys, {D}) to match q {tuple(q.shape)}, "
                         f"received {tuple(k.shape)}")
    if Hk == 0 or H % Hk:
        raise ShapeError(f"k: expected a number of key heads dividing the {H} query heads (grouped-query "
                         f"attention), received {Hk}")
    return B, H, Q, K, D, Hk


def _scale(scale, H: int, dtype, device) -> torch.Tensor:
    if isinstance(scale, torch.Tensor):
        if scale.ndim > 1 or (scale.ndim == 1 and scale.shape[0] not in (1, H)):
            raise ShapeError(f"scale: expected a number or ({H},) per-head values, received shape "
                             f"{tuple(scale.shape)}")
        s = scale.to(device=device, dtype=dtype).reshape(-1).expand(H)   # a learned scale keeps its graph
    elif isinstance(scale, numbers.Real) and not isinstance(scale, bool):
        s = torch.full((H,), float(scale), dtype=dtype, device=device)
    else:
        raise InputError(f"scale: expected a number or a ({H},) tensor of per-head values, received "
                         f"{type(scale).__name__}")
    if not bool((torch.isfinite(s.detach()) & (s.detach() > 0)).all()):
        raise InputError(f"scale: expected finite values > 0 (the temperature is 1/scale), received "
                         f"{s.detach().tolist()}")
    return s


def _check_broadcast(t, name: str, target: tuple, bool_ok: bool) -> None:
    if not isinstance(t, torch.Tensor) or (t.dtype == torch.bool) != bool_ok or \
            not (bool_ok or t.is_floating_point()):
        want = "a bool tensor (True = visible)" if bool_ok else "a floating tensor"
        what = f"a tensor of dtype {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
        raise InputError(f"{name}: expected {want} broadcastable to {target} or a callable "
                         f"(q0, q1) -> block, received {what}")
    try:
        ok = torch.broadcast_shapes(t.shape, target) == torch.Size(target) and t.ndim <= 4
    except RuntimeError:
        ok = False
    if not ok:
        raise ShapeError(f"{name}: expected a shape broadcastable to (B, H, Q, K) = {target}, received "
                         f"{tuple(t.shape)}")


def _rows(t: torch.Tensor, q0: int, q1: int) -> torch.Tensor:
    """Rows ``q0:q1`` (the query axis, -2) of a tensor broadcastable to ``(B, H, Q, K)``."""
    if t.ndim < 2 or t.shape[-2] == 1:
        return t
    return t[..., q0:q1, :]


def _block(spec, q0: int, q1: int, name: str, target: tuple, bool_ok: bool) -> torch.Tensor | None:
    if spec is None:
        return None
    if callable(spec) and not isinstance(spec, torch.Tensor):
        out = spec(q0, q1)
        _check_broadcast(out, f"{name}({q0}, {q1})", target, bool_ok)
        return out
    return _rows(spec, q0, q1)


def gibbs_entropy(q: torch.Tensor, k: torch.Tensor, *, scale, allowed=None, bias=None,
                  block_size: int | None = None, keep_weights: bool = False,
                  softcap: float | None = None) -> StreamedHeads:
    r"""Normalised Gibbs entropy of every attention head, computed block by block over queries.

    ``z = scale_h · q·k`` (``softcap``: ``z ← c·tanh(z/c)``), ``z ← z + bias``, masked keys get
    ``-inf``; ``π = softmax(z)`` and ``entropy = H(π) / log(visible)`` (THEORY §8).

    Args:
        q: ``(B, H, Q, D)`` queries (after any rotary embedding).
        k: ``(B, Hk, K, D)`` keys, ``H % Hk == 0``: query head ``h`` reads key head
            ``h // (H // Hk)`` (grouped-query attention; ``k`` is never repeated).
        scale: a number or ``(H,)`` values ``> 0``; the head temperature is ``eps = 1/scale``.
        allowed: None (every key visible), a bool tensor broadcastable to ``(B, H, Q, K)``
            (``True`` = visible), or a callable ``allowed(q0, q1)`` returning a bool tensor
            broadcastable to ``(B, H, q1 - q0, K)``, so that causal or sliding-window masks are
            built one block at a time.
        bias: None, a float tensor broadcastable to ``(B, H, Q, K)`` (ALiBi, the finite part of an
            additive mask, see :func:`additive_to_allowed`) or a callable ``(q0, q1)`` as
            ``allowed``. A ``-inf`` bias entry also masks its key.
        block_size: queries per block (``>= 1``); default: about 4 MB of float32 logits per block.
        keep_weights: also return the ``(B, H, Q, K)`` weights, in the input dtype.
        softcap: a number ``> 0`` (Gemma-2's attention logit soft-capping), or None.

    Returns:
        :class:`StreamedHeads`. The work is done in float32 for float16 / bfloat16 inputs (upcast
        one block at a time) and in the input dtype otherwise. With autograd enabled and inputs
        that require gradients, each block's graph is kept (memory is then not bounded).

    Example:
        >>> import torch
        >>> q = torch.randn(2, 4, 6, 8); k = torch.randn(2, 2, 6, 8)     # 4 query heads, 2 key heads
        >>> causal = lambda q0, q1: torch.ones(q1 - q0, 6, dtype=torch.bool).tril(q0)
        >>> out = gibbs_entropy(q, k, scale=8 ** -0.5, allowed=causal, block_size=2)
        >>> out.normalized_entropy.shape, out.visible[0, 0].tolist(), bool(out.normalized_entropy[..., 0].isnan().all())
        (torch.Size([2, 4, 6]), [1, 2, 3, 4, 5, 6], True)
    """
    B, H, Q, K, D, Hk = _check_qk(q, k)
    work = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else torch.promote_types(q.dtype, k.dtype)
    if work in (torch.float16, torch.bfloat16):
        work = torch.float32
    target = (B, H, Q, K)
    s = _scale(scale, H, work, q.device)
    if softcap is not None and (isinstance(softcap, bool) or not isinstance(softcap, numbers.Real)
                                or not (math.isfinite(softcap) and softcap > 0)):
        raise InputError(f"softcap: expected None or a finite number > 0, received {softcap!r}")
    if block_size is None:
        per_row = max(B * H * K * torch.finfo(work).bits // 8, 1)
        block_size = max(1, DEFAULT_BLOCK_BYTES // per_row)
    elif isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or block_size < 1:
        raise InputError(f"block_size: expected None or an integer >= 1 (queries per block), received "
                         f"{block_size!r}")
    block_size = int(block_size)
    for spec, name, bool_ok in ((allowed, "allowed", True), (bias, "bias", False)):
        if spec is not None and (isinstance(spec, torch.Tensor) or not callable(spec)):
            _check_broadcast(spec, name, target, bool_ok)
    if isinstance(bias, torch.Tensor):
        check_no_nan(bias, "bias")
    check_finite(q, "q")
    check_finite(k, "k")

    G = H // Hk
    kw = k.to(work)                                        # (B, Hk, K, D): the size of the input
    sg = s.reshape(1, Hk, G, 1, 1)
    one = torch.ones((), dtype=work, device=q.device)
    entropy = torch.empty(B, H, Q, dtype=work, device=q.device)
    visible = torch.empty(B, H, Q, dtype=torch.int64, device=q.device)
    weights = torch.empty(B, H, Q, K, dtype=q.dtype, device=q.device) if keep_weights else None
    parts = []
    for q0 in range(0, Q, block_size):
        q1 = min(q0 + block_size, Q)
        qb = q[:, :, q0:q1].to(work).reshape(B, Hk, G, q1 - q0, D)
        z = torch.einsum("bhgqd,bhkd->bhgqk", qb, kw) * sg
        if softcap is not None:
            z = torch.tanh(z / softcap) * softcap
        z = z.reshape(B, H, q1 - q0, K)
        b = _block(bias, q0, q1, "bias", (B, H, q1 - q0, K), False)
        if b is not None:
            z = z + b.to(work)
        a = _block(allowed, q0, q1, "allowed", (B, H, q1 - q0, K), True)
        if a is not None:
            z = z.masked_fill(~a, -torch.inf)
        # the keys each query really sees: from the masks (broadcast, often (1, 1, q, K)), not
        # from a pass over z; a -inf bias entry hides its key too
        seen = a
        if b is not None and bool(torch.isneginf(b).any()):
            seen = ~torch.isneginf(b) if seen is None else seen & ~torch.isneginf(b)
        n = (torch.full((1, 1, q1 - q0), K, dtype=torch.int64, device=q.device) if seen is None
             else seen.sum(-1, dtype=torch.int64)).expand(B, H, q1 - q0)
        p = _gibbs(z, one, EPS_POSITIVE, -1) if K else z
        ent = _entropy(p, -1)
        ok = n > 1
        logn = torch.log(torch.where(ok, n, 2).to(work))
        ent = torch.where(ok, ent / logn, torch.full_like(ent, torch.nan))
        if ent.requires_grad:
            parts.append(ent)
        else:
            entropy[:, :, q0:q1] = ent
        visible[:, :, q0:q1] = n
        if keep_weights:
            weights[:, :, q0:q1] = p.detach().to(q.dtype)
    if parts:
        entropy = torch.cat(parts, dim=2)
    return StreamedHeads(normalized_entropy=entropy, visible=visible, weights=weights, eps=(1.0 / s).detach())
