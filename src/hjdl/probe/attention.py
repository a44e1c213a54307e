"""Probe the attention heads of any PyTorch model as Gibbs measures (THEORY §8).

:func:`probe_attention` attaches forward hooks to every ``torch.nn.MultiheadAttention`` and
:class:`hjdl.nn.attention.GibbsAttention` in a model, runs it once, and reads for each head the
Gibbs weights ``π = softmax(q·k / eps)``, the temperature ``eps`` (``√d_head`` for
``MultiheadAttention``), the entropy ``H(π)`` normalised by ``log`` of the number of keys the
query can see, and a regime by the authors' bands (THEORY §8):

* ``particle``: mean normalised entropy ``< 0.33`` (attention concentrated on few keys),
* ``mixed``: ``0.33 <= H/log n < 0.66``,
* ``wave``: ``>= 0.66`` (attention spread over many keys).

The model is not modified: a pre-hook asks the attention module for per-head weights
(``need_weights=True, average_attn_weights=False``) and the post-hook hands the caller back
exactly what it asked for (``None`` or head-averaged weights). Hooks are removed on exit. The
output equals the unprobed output up to rounding: asked for weights, ``MultiheadAttention``
evaluates through its explicit-softmax kernel instead of the fused one.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import torch
from torch import nn

from ..attribution.gibbs import PARTICLE_BELOW, WAVE_ABOVE
from ..core.kernel import _entropy
from .._validation import check_finite
from ..errors import InputError
from ..nn.attention import GibbsAttention, attention_allowed

__all__ = ["AttentionProbe", "LayerProbe", "probe_attention", "regime", "REGIME_BANDS"]

#: Upper edges of the ``particle`` and ``mixed`` bands of the normalised entropy (THEORY §8).
#: (particle below, wave at or above): the one definition lives in :mod:`hjdl.attribution`.
REGIME_BANDS: tuple[float, float] = (PARTICLE_BELOW, WAVE_ABOVE)

_MHA_ARGS = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask",
             "average_attn_weights", "is_causal")


def regime(normalised_entropy: float, bands: tuple[float, float] = REGIME_BANDS) -> str:
    """``"particle"`` below ``bands[0]``, ``"wave"`` at or above ``bands[1]``, else ``"mixed"``.

    >>> regime(0.1), regime(0.5), regime(0.9)
    ('particle', 'mixed', 'wave')
    """
    if isinstance(normalised_entropy, torch.Tensor) and normalised_entropy.numel() == 1:
        normalised_entropy = float(normalised_entropy)
    if isinstance(normalised_entropy, bool) or not isinstance(normalised_entropy, numbers.Real):
        raise InputError(f"normalised_entropy: expected a real number in [0, 1] (or NaN), received "
                         f"{normalised_entropy!r}")
    _check_bands(bands)
    if normalised_entropy != normalised_entropy:  # NaN: no query saw two keys
        return "undefined"
    if normalised_entropy < bands[0]:
        return "particle"
    return "wave" if normalised_entropy >= bands[1] else "mixed"


def _check_bands(bands) -> None:
    if not (isinstance(bands, (tuple, list)) and len(bands) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in bands)
            and 0 <= bands[0] <= bands[1] <= 1):
        raise InputError(f"bands: expected two thresholds 0 <= a <= b <= 1, received {bands!r}")


def _check_inputs(inputs) -> None:
    """``inputs`` is a tensor, a tuple / list or a dict; its floating tensors are finite."""
    if isinstance(inputs, dict):
        items = list(inputs.items())
    elif isinstance(inputs, (tuple, list)):
        items = [(f"inputs[{i}]", v) for i, v in enumerate(inputs)]
    elif isinstance(inputs, torch.Tensor):
        items = [("inputs", inputs)]
    else:
        raise InputError(f"inputs: expected a tensor (model(inputs)), a tuple / list (model(*inputs)) or a "
                         f"dict (model(**inputs)), received {type(inputs).__name__}")
    for name, v in items:
        if isinstance(v, torch.Tensor) and (v.is_floating_point() or v.is_complex()):
            check_finite(v, name if isinstance(inputs, torch.Tensor) else f"inputs[{name!r}]"
                         if isinstance(inputs, dict) else name)


@dataclass
class LayerProbe:
    """One attention module's call.

    Attributes:
        name: the module's qualified name in the model; kind: its class name.
        weights: ``(B, H, Q, K)`` Gibbs weights (``None`` when ``keep_weights=False``).
        entropy: ``(B, H, Q)`` entropy / log(visible keys) in ``[0, 1]``; ``NaN`` for a query
            that sees fewer than two keys (``log 1 = 0``).
        eps: ``(H,)`` temperatures; head_entropy: ``(H,)`` mean of ``entropy`` over batch and
            queries (NaN entries ignored); regime: one label per head.
    """

    name: str
    kind: str
    weights: torch.Tensor | None
    entropy: torch.Tensor
    eps: torch.Tensor
    head_entropy: torch.Tensor
    regime: list


@dataclass
class AttentionProbe:
    """What :func:`probe_attention` returns: ``layers`` in call order, and the model's output."""

    layers: list = field(default_factory=list)
    output: object = None

    def fractions(self) -> dict:
        """Fraction of heads (over all layers) in each regime."""
        labels = [r for layer in self.layers for r in layer.regime]
        n = max(len(labels), 1)
        return {k: labels.count(k) / n for k in ("particle", "mixed", "wave")}

    def head_entropies(self) -> torch.Tensor:
        """``(layers, heads)`` mean normalised entropy (layers with equal head counts)."""
        return torch.stack([layer.head_entropy for layer in self.layers])


def _eps_of(module) -> torch.Tensor:
    if isinstance(module, GibbsAttention):
        return module.eps.detach().clone()
    head_dim = module.embed_dim // module.num_heads
    return torch.full((module.num_heads,), math.sqrt(head_dim), dtype=module.in_proj_weight.dtype)


def probe_attention(model: nn.Module, inputs, *, keep_weights: bool = True,
                    bands: tuple[float, float] = REGIME_BANDS, grad: bool = False) -> AttentionProbe:
    r"""Run ``model`` once and read every attention head as a Gibbs measure.

    Args:
        model: any ``nn.Module`` containing ``torch.nn.MultiheadAttention`` or
            :class:`~hjdl.nn.attention.GibbsAttention` modules (used unchanged).
        inputs: a tensor (``model(inputs)``), a tuple/list (``model(*inputs)``) or a dict
            (``model(**inputs)``); its floating tensors must be finite.
        keep_weights: keep the ``(B, H, Q, K)`` maps (set False to save memory).
        bands: regime thresholds on the normalised entropy (default ``(0.33, 0.66)``).
        grad: run with autograd enabled (default: ``torch.no_grad``).

    Returns:
        :class:`AttentionProbe`; ``layers`` has one entry per attention *call*, in call order.
        Masks (``attn_mask``, ``key_padding_mask``, ``is_causal``) are honoured: the entropy of a
        query is normalised by ``log`` of the number of keys it can see.

    Example:
        >>> import torch
        >>> from hjdl.probe import probe_attention
        >>> _ = torch.manual_seed(0)
        >>> layer = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
        >>> rec = probe_attention(layer, torch.randn(2, 6, 16))
        >>> rec.layers[0].weights.shape, rec.layers[0].entropy.shape, rec.layers[0].eps.tolist()
        (torch.Size([2, 4, 6, 6]), torch.Size([2, 4, 6]), [2.0, 2.0, 2.0, 2.0])
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model: expected a torch.nn.Module, received {type(model).__name__}")
    _check_bands(bands)
    _check_inputs(inputs)
    targets = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.MultiheadAttention, GibbsAttention))]
    if not targets:
        raise InputError(f"model: no torch.nn.MultiheadAttention or GibbsAttention found in "
                         f"{type(model).__name__}; nothing to probe")
    record = AttentionProbe()
    pending: dict[int, dict] = {}

    def pre_hook(module, args, kwargs):
        bound = dict(zip(_MHA_ARGS, args))
        bound.update(kwargs)
        pending[id(module)] = {"need": bound.get("need_weights", True),
                               "average": bound.get("average_attn_weights", True),
                               "attn_mask": bound.get("attn_mask"),
                               "key_padding_mask": bound.get("key_padding_mask"),
                               "is_causal": bool(bound.get("is_causal", False))}
        bound["need_weights"] = True
        bound["average_attn_weights"] = False
        if isinstance(module, nn.MultiheadAttention):
            bound["is_causal"] = False  # MHA's is_causal is only a hint next to an explicit mask
        return (), bound

    def post_hook(module, args, kwargs, output):
        info = pending.pop(id(module))
        out, w = output
        w_b = w.unsqueeze(0) if w.ndim == 3 else w                         # (B, H, Q, K)
        B, H, Q, K = w_b.shape
        allowed = attention_allowed(B, H, Q, K, info["attn_mask"], info["key_padding_mask"],
                                    info["is_causal"] and info["attn_mask"] is None, w.device)
        if allowed is None:
            visible = torch.full((1, 1, Q), K, device=w.device)
        else:
            visible = allowed.sum(-1)
        logn = torch.log(visible.to(w_b.dtype))
        ok = visible > 1
        ent = torch.where(ok, _entropy(w_b.detach(), -1) / torch.where(ok, logn, torch.ones_like(logn)),
                          torch.full_like(logn, torch.nan)).expand(B, H, Q)
        head = torch.nanmean(ent.transpose(0, 1).reshape(H, -1).float(), dim=1).to(ent.dtype)
        record.layers.append(LayerProbe(
            name=names[id(module)], kind=type(module).__name__,
            weights=w_b.detach() if keep_weights else None, entropy=ent, eps=_eps_of(module),
            head_entropy=head, regime=[regime(float(v), tuple(bands)) for v in head]))
        if not info["need"]:
            return out, None
        return out, (w.mean(-3) if info["average"] else w)

    names = {id(m): n for n, m in targets}
    handles = []
    try:
        for _, m in targets:
            handles.append(m.register_forward_pre_hook(pre_hook, with_kwargs=True))
            handles.append(m.register_forward_hook(post_hook, with_kwargs=True))
        with torch.set_grad_enabled(grad):
            if isinstance(inputs, dict):
                record.output = model(**inputs)
            elif isinstance(inputs, (tuple, list)):
                record.output = model(*inputs)
            else:
                record.output = model(inputs)
    finally:
        for h in handles:
            h.remove()
    return record
