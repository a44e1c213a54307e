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
* **a bridge around a Hugging Face model** (``boot_transformers`` or ``build_bridge_from_module``;
  tested: GPT-2, Llama): TransformerLens recomputes attention itself (rotated ``q``, ``k``, the
  HF module's scaling, soft cap, its causal / padding mask) and passes the pre-softmax logits
  through ``hook_attn_scores``. A forward hook on that hook point reads the logits the softmax
  receives (after any user hook); entries ``<= mask_threshold`` (``finfo.min``, ``-inf``) are
  masked and the rest are the logits, streamed through :func:`~hjdl.probe._stream.gibbs_entropy`
  as a bias. ``eps`` is ``1 / scaling`` of the wrapped HF module (``sqrt(d_head)`` if it has
  none); the entropies do not depend on it.
* other bridges whose attention delegates to the Hugging Face module are handed to
  :func:`hjdl.probe.hf.probe_transformers` (the attention interface).

The model runs in eval mode (bridges are built in training mode) and every module's ``training``
flag is restored afterwards; ``was_training`` records whether any module was in training mode.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import InputError
from ..nn.attention import MASK_THRESHOLD
from ._stream import additive_to_allowed, gibbs_entropy
from .attention import REGIME_BANDS, AttentionProbe, _check_probe_args, regime
from .hf import _layer_probe, _query_mask, probe_transformers

__all__ = ["probe_lens"]


def _lens():
    try:
        from transformer_lens.model_bridge import TransformerBridge
        from transformer_lens.model_bridge.generalized_components.attention import AttentionBridge
        from transformer_lens.model_bridge.sources.native.model import NativeAttention
    except ImportError as exc:  # pragma: no cover - the extra is part of the dev install
        raise InputError("model: probing a TransformerLens model needs the optional extra hjdl[lens] "
                         "(TransformerLens >= 4, pip install 'hjdl[lens]')") from exc
    return TransformerBridge, NativeAttention, AttentionBridge


def _scores_bridges(model, AttentionBridge) -> list:
    """Bridge attention components that compute the scores themselves and pass the pre-softmax
    logits (scaled, soft-capped, masked) through ``hook_attn_scores`` (the generic
    ``AttentionBridge`` fires that hook after the fact with the pattern, so it is not one)."""
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, AttentionBridge) and type(m).forward is not AttentionBridge.forward
            and isinstance(getattr(m, "hook_attn_scores", None), nn.Module)]


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
               block_size: int | None = None, mask_threshold: float = MASK_THRESHOLD) -> AttentionProbe:
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
        >>> tuple(rec.layers[0].normalized_entropy.shape), [round(e, 4) for e in rec.layers[0].eps.tolist()]
        ((1, 2, 4), [2.8284, 2.8284])
    """
    Bridge, NativeAttention, AttentionBridge = _lens()
    if not isinstance(model, Bridge):
        raise InputError(f"model: expected a TransformerLens TransformerBridge (TransformerLens >= 4 has no "
                         f"HookedTransformer), received {type(model).__name__}")
    natives = [(n, m) for n, m in model.named_modules() if isinstance(m, NativeAttention)]
    scored = _scores_bridges(model, AttentionBridge)
    if not natives and not scored:
        return probe_transformers(model, inputs, keep_weights=keep_weights, bands=bands, grad=grad,
                                  block_size=block_size, mask_threshold=mask_threshold)
    threshold = _check_probe_args(inputs, keep_weights, bands, block_size, mask_threshold)
    query_mask = _query_mask(inputs)
    layers: list = []
    captured: dict[int, dict] = {}

    def record(module, streamed, eps):
        entropy = streamed.normalized_entropy
        B, H, Q = entropy.shape
        if query_mask is not None and query_mask.shape == (B, Q):
            entropy = entropy.masked_fill(~query_mask.to(entropy.device)[:, None, :], math.nan)
        head = torch.nanmean(entropy.detach().transpose(0, 1).reshape(H, -1).float(), dim=1)
        layers.append(_layer_probe(
            name=names[id(module)], kind=type(module).__name__, weights=streamed.weights, normalized_entropy=entropy,
            eps=eps, head_normalized_entropy=head, regime=[regime(float(v), tuple(bands)) for v in head],
            layer=len(layers), visible=streamed.visible))

    def scores_hook(bridge):
        def hook(_module, _args, scores):
            # the logits the softmax receives: z = 0·0 + bias reproduces them exactly
            allowed, bias = additive_to_allowed(scores, threshold)
            B, H, Q, K = scores.shape
            streamed = gibbs_entropy(scores.new_zeros(B, H, Q, 1), scores.new_zeros(B, 1, K, 1), scale=1.0,
                                     allowed=allowed, bias=bias, block_size=block_size,
                                     keep_weights=keep_weights)
            scaling = getattr(bridge.original_component, "scaling", None)
            d_head = getattr(model.cfg, "d_head", None)
            if scaling is None and d_head:
                scaling = d_head ** -0.5
            eps = (torch.full((H,), 1.0 / float(scaling), dtype=streamed.normalized_entropy.dtype)
                   if scaling else torch.full((H,), math.nan, dtype=streamed.normalized_entropy.dtype))
            record(bridge, streamed, eps)
        return hook

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
        record(module, streamed, streamed.eps)

    names = {id(m): _name(n) for n, m in natives + scored}
    was_training = any(m.training for m in model.modules())
    modes = [(m, m.training) for m in model.modules()]
    handles = []
    try:
        model.eval()
        for _, m in natives:
            handles.append(m.register_forward_pre_hook(pre_hook, with_kwargs=True))
            handles.append(m.register_forward_hook(post_hook, with_kwargs=True))
            handles.append(m.q.register_forward_hook(capture((id(m), "q"))))
            handles.append(m.k.register_forward_hook(capture((id(m), "k"))))
        for _, m in scored:
            handles.append(m.hook_attn_scores.register_forward_hook(scores_hook(m)))
        with torch.set_grad_enabled(grad):
            output = _call(model, inputs)
    finally:
        for h in handles:
            h.remove()
        for m, flag in modes:
            m.training = flag
    return AttentionProbe(layers=layers, output=output, was_training=was_training)
