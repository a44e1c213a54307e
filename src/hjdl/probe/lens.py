"""Probe TransformerLens models (``TransformerBridge``, TransformerLens 4) as Gibbs measures.

TransformerLens 4 removed ``HookedTransformer`` / ``HookedTransformerConfig``; its models are
``TransformerBridge`` objects, either around a Hugging Face model or around TransformerLens'
own *native* attention (``TransformerBridge.boot_native(TransformerBridgeConfig(...))``, built
offline with random weights). :func:`probe_lens` reads both:

* **native attention** (``NativeAttention``): forward hooks capture the query and key
  projections as the module computes them, the module's own rotary embedding
  (``rotary.apply_rope``, the positions it was called with) turns them into the rotated ``q`` and
  ``k`` it scores, the temperature is the one the config gives (``eps = attn_scale`` when
  ``use_attn_scale`` and ``attn_scale > 0``, else ``sqrt(d_head)``; read from the module, which
  resolves the config once), the soft cap is ``attn_scores_soft_cap`` when it is enabled, and
  the mask is the module's own: its causal buffer combined with the ``attention_mask`` it
  received by its own ``_combine_attention_mask`` (2-D padding, 4-D boolean ``True`` = masked,
  4-D float: entries ``< -1`` masked and the others ignored, as the module does). Grouped
  query heads follow the module's ``repeat_interleave`` order. Nothing is recomputed through
  the bridge's hook points, so ``hook_q`` / ``hook_pattern`` fire once, as without the probe.
* **a bridge around a Hugging Face model**: its attention modules call the attention interface,
  and the bridge is probed as :func:`hjdl.probe.hf.probe_transformers` probes the model.

The model runs in eval mode (bridges are built in training mode) and every module's ``training``
flag is restored afterwards; ``was_training`` records the model's mode before the call.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import InputError
from ._stream import _threshold, gibbs_entropy
from .attention import REGIME_BANDS, AttentionProbe, _check_bands, _check_inputs, regime
from .hf import _check_block_size, _layer_probe, _query_mask, probe_transformers

__all__ = ["probe_lens"]


def _lens():
    try:
        from transformer_lens.model_bridge import TransformerBridge
        from transformer_lens.model_bridge.sources.native.model import NativeAttention
    except ImportError as exc:  # pragma: no cover - the extra is part of the dev install
        raise InputError("model: probing a TransformerLens model needs the optional extra hjdl[lens] "
                         "(TransformerLens >= 4, pip install 'hjdl[lens]')") from exc
    return TransformerBridge, NativeAttention


def _name(qualified: str) -> str:
    return qualified.replace("._original_component", "").replace("_original_component.", "")


def _call(model, inputs):
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def probe_lens(model: nn.Module, inputs, *, keep_weights: bool = True,
               bands: tuple[float, float] = REGIME_BANDS, grad: bool = False,
               block_size: int | None = None, mask_threshold: float = -1e4) -> AttentionProbe:
    r"""Run a TransformerLens ``TransformerBridge`` once and read every head as a Gibbs measure.

    For each attention call, head ``h``, query ``i``: ``π_ij = softmax_j(q_i·k_j / eps_h)`` over
    the keys ``i`` sees (``q``, ``k`` after the rotary embedding), and ``H(π_i) / log(visible)``
    (THEORY §8). See the module docstring for where each piece is read.

    Args:
        model: a ``transformer_lens.model_bridge.TransformerBridge``.
        inputs: tokens (``model(tokens)``), a tuple / list (``model(*inputs)``) or a dict
            (``model(**inputs)``, e.g. ``input`` and ``attention_mask``).
        keep_weights, bands, grad, block_size, mask_threshold: as in
            :func:`hjdl.probe.hf.probe_transformers` (``mask_threshold`` applies to bridges
            around Hugging Face models; native attention masks by its own rule).

    Returns:
        :class:`~hjdl.probe.attention.AttentionProbe`, one ``LayerProbe`` per attention call;
        ``entropy`` ``(B, H, Q)`` float32, NaN for queries seeing fewer than two keys and for
        padded positions of a 2-D ``attention_mask`` in dict inputs (left out of head means).

    Example:
        >>> import torch
        >>> from transformer_lens.model_bridge import TransformerBridge
        >>> from transformer_lens.config import TransformerBridgeConfig
        >>> from hjdl.probe.lens import probe_lens
        >>> cfg = TransformerBridgeConfig(d_model=16, n_layers=1, n_heads=2, d_head=8, n_ctx=8,
        ...                               d_vocab=20, act_fn="gelu", seed=0)
        >>> model = TransformerBridge.boot_native(cfg)
        >>> rec = probe_lens(model, torch.tensor([[1, 2, 3, 4]]))
        >>> tuple(rec.layers[0].entropy.shape), [round(e, 4) for e in rec.layers[0].eps.tolist()]
        ((1, 2, 4), [2.8284, 2.8284])
    """
    Bridge, NativeAttention = _lens()
    if not isinstance(model, Bridge):
        raise InputError(f"model: expected a TransformerLens TransformerBridge (TransformerLens >= 4 has no "
                         f"HookedTransformer), received {type(model).__name__}")
    natives = [(n, m) for n, m in model.named_modules() if isinstance(m, NativeAttention)]
    if not natives:
        return probe_transformers(model, inputs, keep_weights=keep_weights, bands=bands, grad=grad,
                                  block_size=block_size, mask_threshold=mask_threshold)
    _check_bands(bands)
    _check_inputs(inputs)
    _check_block_size(block_size)
    _threshold(mask_threshold)
    if not isinstance(keep_weights, bool):
        raise InputError(f"keep_weights: expected True or False, received {keep_weights!r}")
    query_mask = _query_mask(inputs)
    layers: list = []
    captured: dict[int, dict] = {}

    def capture(slot):
        def hook(_module, _args, out):
            captured[slot[0]][slot[1]] = out
        return hook

    def pre_hook(module, args, kwargs):
        captured[id(module)] = {"attention_mask": kwargs.get("attention_mask"),
                                "position_ids": kwargs.get("position_ids")}

    def post_hook(module, args, kwargs, output):
        seen = captured.pop(id(module))
        q, k = seen["q"], seen["k"]
        B, S = q.shape[0], q.shape[1]
        q = q.reshape(B, S, module.n_heads, module.d_head).transpose(1, 2)
        k = k.reshape(B, S, module.n_kv_heads, module.d_head).transpose(1, 2)
        if module.rotary is not None:
            q, k = module.rotary.apply_rope(q, k, position_ids=seen["position_ids"])
        if module.causal:
            hidden = module.causal_mask[:S, :S]
        else:
            hidden = torch.zeros(S, S, dtype=torch.bool, device=q.device)
        if seen["attention_mask"] is not None:
            hidden = module._combine_attention_mask(hidden, seen["attention_mask"], batch=B)
        cap = module.attn_scores_soft_cap
        streamed = gibbs_entropy(q, k, scale=1.0 / module.scale, allowed=~hidden, block_size=block_size,
                                 keep_weights=keep_weights, softcap=cap if cap > 0 else None)
        entropy = streamed.entropy
        if query_mask is not None and query_mask.shape == (B, S):
            entropy = entropy.masked_fill(~query_mask.to(entropy.device)[:, None, :], math.nan)
        H = entropy.shape[1]
        head = torch.nanmean(entropy.detach().transpose(0, 1).reshape(H, -1).float(), dim=1)
        layers.append(_layer_probe(
            name=names[id(module)], kind=type(module).__name__, weights=streamed.weights, entropy=entropy,
            eps=streamed.eps, head_entropy=head, regime=[regime(float(v), tuple(bands)) for v in head],
            layer=len(layers)))

    names = {id(m): _name(n) for n, m in natives}
    was_training = bool(model.training)
    modes = [(m, m.training) for m in model.modules()]
    handles = []
    try:
        model.eval()
        for _, m in natives:
            handles.append(m.register_forward_pre_hook(pre_hook, with_kwargs=True))
            handles.append(m.register_forward_hook(post_hook, with_kwargs=True))
            handles.append(m.q.register_forward_hook(capture((id(m), "q"))))
            handles.append(m.k.register_forward_hook(capture((id(m), "k"))))
        with torch.set_grad_enabled(grad):
            output = _call(model, inputs)
    finally:
        for h in handles:
            h.remove()
        for m, flag in modes:
            m.training = flag
    record = AttentionProbe(layers=layers, output=output)
    record.was_training = was_training
    return record
