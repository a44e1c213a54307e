"""Probe the attention heads of any PyTorch model as Gibbs measures (THEORY §8).

:func:`probe_attention` reads every ``torch.nn.MultiheadAttention``,
:class:`hjdl.nn.attention.GibbsAttention` and ``torch.nn.TransformerEncoderLayer`` of a model
during one forward pass, and for each head the Gibbs weights ``π = softmax(q·k / eps)``, the
temperature ``eps`` (``√d_head`` for ``MultiheadAttention``), the entropy ``H(π)`` normalised
by ``log`` of the number of keys the query really sees, and a regime by the authors' bands
(THEORY §8):

* ``particle``: mean normalised entropy ``< 0.33`` (attention concentrated on few keys),
* ``mixed``: ``0.33 <= H/log n < 0.66``,
* ``wave``: ``>= 0.66`` (attention spread over many keys).

Hugging Face ``transformers`` models and TransformerLens models (``TransformerBridge`` in TransformerLens 4, ``HookedTransformer`` before) are
handed to their adapters (:mod:`hjdl.probe.hf`, :mod:`hjdl.probe.lens`).

How the modules are read. The probe wraps each module's ``forward`` for the duration of the call
(no forward hooks: a hook would switch ``TransformerEncoderLayer`` off its fused fast path). The
wrapper calls the original ``forward`` with the arguments it received, then recomputes ``q`` and
``k`` from the module's own projection weights (``in_proj_weight`` / ``q_proj_weight``, biases,
``bias_k``, ``add_zero_attn``; the self-attention input of a ``TransformerEncoderLayer`` is its
``src``, or ``norm1(src)`` with ``norm_first``) and streams them through
:func:`hjdl.probe._stream.gibbs_entropy`, so the model's output is bit for bit the unprobed one.
With ``keep_weights=True``, ``MultiheadAttention`` and ``GibbsAttention`` are instead asked for
their per-head weights (``need_weights=True, average_attn_weights=False``; the caller receives
what it asked for): the output then equals the unprobed one up to rounding (the explicit-softmax
kernel replaces the fused one).

Masks are read exactly, in torch's conventions: a bool ``attn_mask`` is ``True`` where attention
is *not* allowed, a bool ``key_padding_mask`` is ``True`` at padding; a float mask is added to
the scores, and an entry ``<= mask_threshold`` (default ``-1e4``; ``-inf``, ``-1e9``,
``finfo.min``) counts as masked, the others as a bias (:func:`~hjdl.probe._stream.additive_to_allowed`).
``is_causal`` without a mask means key ``j`` is visible to query ``i`` iff ``j <= i``; with a mask,
the mask is read. ``nn.TransformerEncoder``'s nested-tensor fast path (eval mode, a padding mask)
hands its layers a nested tensor: the probe reads the sequence lengths from it.

Dropout. The probe runs the model in eval mode (dropout off: the weights are the model's
deterministic Gibbs measure, rows sum to one and two calls agree) and restores every submodule's
``training`` flag afterwards, also when the forward raises; ``AttentionProbe.was_training`` says
whether any module was in training mode.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import numbers
from dataclasses import dataclass, field

import torch
from torch import nn

from ..attribution.gibbs import PARTICLE_BELOW, WAVE_ABOVE
from ..core.kernel import _entropy
from .._validation import check_no_nan
from ..errors import InputError
from ..nn.attention import MASK_THRESHOLD, GibbsAttention
from ._stream import _rows, _threshold, additive_to_allowed, gibbs_entropy

__all__ = ["AttentionProbe", "LayerProbe", "probe_attention", "regime", "REGIME_BANDS", "SUPPORTED"]

#: Upper edges of the ``particle`` and ``mixed`` bands of the normalised entropy (THEORY §8).
#: (particle below, wave at or above): the one definition lives in :mod:`hjdl.attribution`.
REGIME_BANDS: tuple[float, float] = (PARTICLE_BELOW, WAVE_ABOVE)

#: What :func:`probe_attention` can read (named in the error for a model with nothing to probe).
SUPPORTED: tuple[str, ...] = (
    "torch.nn.MultiheadAttention", "hjdl.nn.GibbsAttention",
    "torch.nn.TransformerEncoder / TransformerEncoderLayer (incl. the nested-tensor fast path)",
    "Hugging Face transformers models (GPT-2, BERT, Llama, Qwen2, Mistral, ... with eager or SDPA attention)",
    "TransformerLens TransformerBridge (TransformerLens 4)")


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
    """``inputs`` is a tensor, a tuple / list or a dict; its floating tensors have no NaN or ``+inf``
    (``-inf`` is how an additive mask says "masked")."""
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
        if isinstance(v, torch.Tensor) and not v.is_nested and (v.is_floating_point() or v.is_complex()):
            check_no_nan(v, name if isinstance(inputs, torch.Tensor) else f"inputs[{name!r}]"
                         if isinstance(inputs, dict) else name)


@dataclass
class LayerProbe:
    """One attention module's call.

    Names mean one thing across hjdl: ``entropy`` is the Gibbs entropy ``H(π)`` in nats (as in
    :class:`hjdl.attribution.Attribution`), ``normalized_entropy`` is ``H(π) / log(visible keys)``.

    Attributes:
        name: the module's qualified name in the model; kind: its class name.
        weights: ``(B, H, Q, K)`` Gibbs weights (``None`` when ``keep_weights=False``).
        normalized_entropy: ``(B, H, Q)`` ``H(π) / log(visible keys)`` in ``[0, 1]`` (float32,
            float64 for a float64 model); ``NaN`` for a query that sees fewer than two keys
            (``log 1 = 0``) and for the padding positions of a ``TransformerEncoderLayer``.
        eps: ``(H,)`` temperatures.
        head_normalized_entropy: ``(H,)`` mean of ``normalized_entropy`` over batch and queries
            (NaN entries ignored; NaN if every entry is).
        regime: one label per head (:func:`regime` of ``head_normalized_entropy``).
        layer: index of this call in the record (call order).
        visible: ``(B, H, Q)`` number of keys each query sees (may be an expanded view), or None.

    Derived (properties): ``entropy`` ``(B, H, Q)`` and ``head_entropy`` ``(H,)``, the same in nats.
    """

    name: str
    kind: str
    weights: torch.Tensor | None
    normalized_entropy: torch.Tensor
    eps: torch.Tensor
    head_normalized_entropy: torch.Tensor
    regime: list
    layer: int = 0
    visible: torch.Tensor | None = None

    @property
    def entropy(self) -> torch.Tensor:
        """``(B, H, Q)`` Gibbs entropy ``H(π)`` in nats: ``normalized_entropy · log(visible keys)``;
        0 for a query that sees exactly one key, NaN for padding positions that see more."""
        if self.visible is None:
            raise InputError(f"{self.name}: entropy in nats needs the visible-key counts, which this "
                             f"record lacks; use normalized_entropy")
        ne = self.normalized_entropy
        n = self.visible.to(ne.device)
        logn = torch.log(n.clamp_min(1).to(ne.dtype))
        return torch.where(n == 1, torch.zeros_like(ne), ne * logn)

    @property
    def head_entropy(self) -> torch.Tensor:
        """``(H,)`` mean of :attr:`entropy` (nats) over batch and queries, NaN entries ignored."""
        e = self.entropy.detach()
        return torch.nanmean(e.transpose(0, 1).reshape(e.shape[1], -1), dim=1)


@dataclass
class AttentionProbe:
    """What :func:`probe_attention` returns: ``layers`` in call order, the model's output, and
    ``was_training``: whether the model (any submodule) was in training mode before the call
    (the probe runs it in eval mode and restores the flags)."""

    layers: list = field(default_factory=list)
    output: object = None
    was_training: bool = False

    def fractions(self) -> dict:
        """Fraction of heads (over all layers) in each regime."""
        labels = [r for layer in self.layers for r in layer.regime]
        n = max(len(labels), 1)
        return {k: labels.count(k) / n for k in ("particle", "mixed", "wave")}

    def head_normalized_entropies(self) -> torch.Tensor:
        """``(layers, heads)`` mean normalised entropy ``H/log n`` (layers with equal head counts)."""
        return torch.stack([layer.head_normalized_entropy for layer in self.layers])

    def head_entropies(self) -> torch.Tensor:
        """``(layers, heads)`` mean entropy ``H`` in nats (layers with equal head counts)."""
        return torch.stack([layer.head_entropy for layer in self.layers])


# ----------------------------------------------------------------------------------------------
# masks in torch's conventions -> (allowed, bias) callables over blocks of queries


class _Masks:
    """The keys a call lets each query see, as parts broadcastable to ``(B, H, Q, K)``."""

    def __init__(self, B: int, H: int, Q: int, K: int, threshold: float):
        self.shape = (B, H, Q, K)
        self.threshold = threshold
        self.allowed: list = []      # bool tensors (True = visible) or ("causal",)
        self.bias: list = []

    def _four(self, m: torch.Tensor) -> torch.Tensor:
        B, H, Q, K = self.shape
        return m.reshape(B, H, Q, m.shape[-1]) if m.ndim == 3 else m

    def add_torch(self, mask, *, padding: bool) -> None:
        """A torch mask: bool ``True`` = not allowed / padding, or float added to the scores."""
        if mask is None:
            return
        m = mask[:, None, None, :] if padding else self._four(mask)
        if m.dtype == torch.bool:
            self.allowed.append(~m)
        else:
            a, b = additive_to_allowed(m, self.threshold)
            self.allowed.append(a)
            if bool((b != 0).any()):
                self.bias.append(b)

    def add_causal(self) -> None:
        self.allowed.append("causal")

    def pad_keys(self, extra: int) -> None:
        """Keys appended by ``bias_k`` / ``add_zero_attn``: visible, no bias (torch pads with 0)."""
        if not extra:
            return
        self.allowed = [a if isinstance(a, str) else nn.functional.pad(a, (0, extra), value=True)
                        for a in self.allowed]
        self.bias = [nn.functional.pad(b, (0, extra), value=0.0) for b in self.bias]
        B, H, Q, K = self.shape
        self.shape = (B, H, Q, K + extra)

    def allowed_fn(self):
        if not self.allowed:
            return None
        K = self.shape[-1]

        def allowed(q0: int, q1: int) -> torch.Tensor:
            out = None
            for a in self.allowed:
                if isinstance(a, str):
                    dev = next((t.device for t in self.allowed if isinstance(t, torch.Tensor)), None)
                    part = torch.arange(K, device=dev)[None, :] <= torch.arange(q0, q1, device=dev)[:, None]
                else:
                    part = _rows(a, q0, q1)
                out = part if out is None else out & part
            return out
        return allowed

    def bias_fn(self):
        if not self.bias:
            return None

        def bias(q0: int, q1: int) -> torch.Tensor:
            out = None
            for b in self.bias:
                part = _rows(b, q0, q1)
                out = part if out is None else out + part
            return out
        return bias

    def visible(self, device) -> torch.Tensor:
        """``(B, H, Q)`` visible-key counts (materialises the mask; used with kept weights)."""
        B, H, Q, K = self.shape
        fn = self.allowed_fn()
        if fn is None:
            return torch.full((B, H, Q), K, dtype=torch.int64, device=device)
        return fn(0, Q).to(device).expand(B, H, Q, K).sum(-1)


# ----------------------------------------------------------------------------------------------
# reading q and k from the supported modules


def _mha_qk(m: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor):
    """``q (B, H, Q, D)``, ``k (B, H, K', D)`` as ``F.multi_head_attention_forward`` builds them
    (``query``, ``key`` batch-first), and the number of keys it appends (``bias_k``, zero key)."""
    E, H = m.embed_dim, m.num_heads
    D = E // H
    if m._qkv_same_embed_dim:
        wq, wk = m.in_proj_weight[:E], m.in_proj_weight[E:2 * E]
    else:
        wq, wk = m.q_proj_weight, m.k_proj_weight
    b = m.in_proj_bias
    q = nn.functional.linear(query, wq, None if b is None else b[:E])
    k = nn.functional.linear(key, wk, None if b is None else b[E:2 * E])
    B, extra = q.shape[0], 0
    if m.bias_k is not None:
        k = torch.cat([k, m.bias_k.reshape(1, 1, E).to(k.dtype).expand(B, 1, E)], dim=1)
        extra += 1
    q = q.reshape(B, q.shape[1], H, D).transpose(1, 2)
    k = k.reshape(B, k.shape[1], H, D).transpose(1, 2)
    if m.add_zero_attn:
        k = torch.cat([k, k.new_zeros(B, H, 1, D)], dim=2)
        extra += 1
    return q, k, extra


def _eps_of(module) -> torch.Tensor:
    if isinstance(module, GibbsAttention):
        return module.eps.detach().clone()
    if isinstance(module, nn.TransformerEncoderLayer):
        module = module.self_attn
    head_dim = module.embed_dim // module.num_heads
    return torch.full((module.num_heads,), math.sqrt(head_dim), dtype=module.out_proj.weight.dtype)


def _batch_first(t: torch.Tensor, batch_first: bool) -> tuple[torch.Tensor, bool]:
    """``(B, L, E)`` and whether the input was unbatched ``(L, E)``."""
    if t.ndim == 2:
        return t.unsqueeze(0), True
    return (t if batch_first else t.transpose(0, 1)), False


def _unpad(src: torch.Tensor):
    """A nested ``(B, *, E)`` tensor as a zero-padded dense one and its ``(B, L)`` padding mask."""
    lengths = torch.tensor([t.shape[0] for t in src.unbind()], device=src.device)
    dense = src.to_padded_tensor(0.0)
    return dense, torch.arange(dense.shape[1], device=src.device)[None, :] >= lengths[:, None]


class _Session:
    """Collects one :class:`LayerProbe` per call of a wrapped module."""

    def __init__(self, names, keep_weights, block_size, threshold, bands):
        self.names, self.keep, self.block, self.threshold, self.bands = (
            names, keep_weights, block_size, threshold, tuple(bands))
        self.layers: list[LayerProbe] = []

    def add(self, module, entropy, visible, weights) -> None:
        H = entropy.shape[1]
        head = torch.nanmean(entropy.detach().transpose(0, 1).reshape(H, -1), dim=1)
        self.layers.append(LayerProbe(
            name=self.names[id(module)], kind=type(module).__name__, weights=weights, normalized_entropy=entropy,
            eps=_eps_of(module), head_normalized_entropy=head, regime=[regime(float(v), self.bands) for v in head],
            layer=len(self.layers), visible=visible))

    def stream(self, module, q, k, scale, masks: _Masks, query_padding=None) -> None:
        out = gibbs_entropy(q, k, scale=scale, allowed=masks.allowed_fn(), bias=masks.bias_fn(),
                            block_size=self.block, keep_weights=self.keep)
        entropy = out.normalized_entropy
        if query_padding is not None:
            entropy = entropy.masked_fill(query_padding[:, None, :], torch.nan)
        self.add(module, entropy, out.visible, out.weights)

    def from_weights(self, module, w: torch.Tensor, masks: _Masks) -> None:
        """Entropy of the weights a module returned (``keep_weights=True``), accumulated in float32
        (float64 for float64 weights)."""
        w = w.unsqueeze(0) if w.ndim == 3 else w
        wd = w.detach() if not torch.is_grad_enabled() else w
        work = wd.float() if wd.dtype in (torch.float16, torch.bfloat16) else wd
        visible = masks.visible(w.device)
        ok = visible > 1
        logn = torch.log(torch.where(ok, visible, 2).to(work.dtype))
        entropy = torch.where(ok, _entropy(work, -1) / logn, torch.full_like(logn, torch.nan))
        self.add(module, entropy, visible, w.detach())

    # -- the three module kinds ----------------------------------------------------------------
    def mha(self, m: nn.MultiheadAttention, a: dict, weights=None) -> None:
        query, key = a["query"], a["key"]
        if query.is_nested or key.is_nested:
            raise InputError(f"inputs: {self.names[id(m)]} (MultiheadAttention) was called with a nested "
                             f"tensor; probe the enclosing nn.TransformerEncoder(Layer) instead")
        q_in, unbatched = _batch_first(query, m.batch_first)
        k_in, _ = _batch_first(key, m.batch_first)
        q, k, extra = _mha_qk(m, q_in, k_in)
        masks = self._masks(q.shape[0], m.num_heads, q.shape[2], k_in.shape[1], a["attn_mask"],
                            a["key_padding_mask"], a["is_causal"], unbatched)
        masks.pad_keys(extra)
        if weights is not None:
            return self.from_weights(m, weights, masks)
        self.stream(m, q, k, 1.0 / math.sqrt(m.embed_dim // m.num_heads), masks)

    def gibbs(self, m: GibbsAttention, a: dict, weights=None) -> None:
        q_in, k_in, _, unbatched = m._inputs(a["query"], a["key"], None)
        B, Q, K = q_in.shape[0], q_in.shape[1], k_in.shape[1]
        masks = self._masks(B, m.num_heads, Q, K, a["attn_mask"], a["key_padding_mask"], a["is_causal"],
                            unbatched)
        eps = m.eps                                         # learned: the graph is kept under grad=True
        if weights is None and not bool((eps.detach() > 0).all()):   # hard (eps = 0) heads: read the weights
            weights = m.gibbs_weights(a["query"], a["key"], a["attn_mask"],
                                      m._padding(a["key_padding_mask"], unbatched), a["is_causal"])
        if weights is not None:
            return self.from_weights(m, weights, masks)
        q, k, _ = m._project(q_in, k_in, k_in)
        self.stream(m, q, k, 1.0 / eps, masks)

    def encoder_layer(self, layer: nn.TransformerEncoderLayer, a: dict) -> None:
        src, kpm = a["src"], a["src_key_padding_mask"]
        m = layer.self_attn
        if src.is_nested:               # nn.TransformerEncoder's fast path: lengths from the tensor
            src, kpm = _unpad(src)
            batch_first = True
        else:
            batch_first = m.batch_first
        x = layer.norm1(src) if layer.norm_first else src
        x_in, unbatched = _batch_first(x, batch_first)
        q, k, extra = _mha_qk(m, x_in, x_in)
        B, L = x_in.shape[0], x_in.shape[1]
        masks = self._masks(B, m.num_heads, L, L, a["src_mask"], kpm, a["is_causal"], unbatched)
        masks.pad_keys(extra)
        pad = None
        if kpm is not None:             # a padding position is not a query of the sequence
            kp = kpm.reshape(1, -1) if kpm.ndim == 1 else kpm
            pad = kp if kp.dtype == torch.bool else ~additive_to_allowed(kp, self.threshold)[0]
        self.stream(layer, q, k, 1.0 / math.sqrt(m.embed_dim // m.num_heads), masks, pad)

    def _masks(self, B, H, Q, K, attn_mask, key_padding_mask, is_causal, unbatched) -> _Masks:
        masks = _Masks(B, H, Q, K, self.threshold)
        if unbatched and isinstance(key_padding_mask, torch.Tensor) and key_padding_mask.ndim == 1:
            key_padding_mask = key_padding_mask.unsqueeze(0)
        if attn_mask is not None:
            masks.add_torch(attn_mask, padding=False)
        elif is_causal:
            masks.add_causal()
        masks.add_torch(key_padding_mask, padding=True)
        return masks


def _check_probe_args(inputs, keep_weights, bands, block_size, mask_threshold) -> float:
    """The arguments every probe (torch modules, Hugging Face, TransformerLens) shares, checked
    in one place; returns the mask threshold as a float."""
    _check_bands(bands)
    _check_inputs(inputs)
    if not isinstance(keep_weights, bool):
        raise InputError(f"keep_weights: expected True or False, received {keep_weights!r}")
    if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral)
                                   or block_size < 1):
        raise InputError(f"block_size: expected None or an integer >= 1 (queries per block), received "
                         f"{block_size!r}")
    return _threshold(mask_threshold)


def _framework(model) -> str | None:
    """``"hf"`` or ``"lens"`` from the class hierarchy (no import of either library)."""
    for cls in type(model).__mro__:
        mod = getattr(cls, "__module__", "") or ""
        if cls.__name__ == "PreTrainedModel" and mod.split(".")[0] == "transformers":
            return "hf"
        if cls.__name__ in ("TransformerBridge", "HookedTransformer") and mod.split(".")[0] == "transformer_lens":
            return "lens"
    return None


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Every module in eval mode for the block; each one's ``training`` flag restored after it
    (also on an exception). Yields whether any module was training."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield any(t for _, t in flags)
    finally:
        for m, t in flags:
            m.training = t


@contextlib.contextmanager
def _wrapped(targets, session: _Session):
    """Replace each target's ``forward`` (an instance attribute) by one that calls the original with
    the same arguments and hands them to ``session``; the originals are restored on exit."""
    saved = []

    def wrap(module):
        original = module.forward
        signature = inspect.signature(original)

        def forward(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            a = dict(bound.arguments)
            if isinstance(module, nn.TransformerEncoderLayer):
                out = original(*args, **kwargs)
                session.encoder_layer(module, a)
                return out
            if not session.keep:
                out = original(*args, **kwargs)
                (session.mha if isinstance(module, nn.MultiheadAttention) else session.gibbs)(module, a)
                return out
            call = dict(a, need_weights=True, average_attn_weights=False)
            if isinstance(module, nn.MultiheadAttention):
                call["is_causal"] = False   # a hint next to the explicit mask MHA needs with it
            out, w = original(**call)
            (session.mha if isinstance(module, nn.MultiheadAttention) else session.gibbs)(module, a, w)
            if not a["need_weights"]:
                return out, None
            return out, (w.mean(-3) if a["average_attn_weights"] else w)

        return forward

    try:
        for module in targets:
            saved.append((module, module.__dict__.get("forward")))
            module.forward = wrap(module)
        yield
    finally:
        for module, previous in saved:
            if previous is None:
                del module.forward
            else:
                module.forward = previous


def _targets(model: nn.Module) -> list:
    """The modules read, in ``named_modules`` order: every TransformerEncoderLayer, every
    GibbsAttention, and every MultiheadAttention that is not the ``self_attn`` of one of them."""
    layers = [m for m in model.modules() if isinstance(m, nn.TransformerEncoderLayer)]
    inner = {id(layer.self_attn) for layer in layers}
    return [m for m in model.modules()
            if isinstance(m, (nn.TransformerEncoderLayer, GibbsAttention))
            or (isinstance(m, nn.MultiheadAttention) and id(m) not in inner)]


def _unsupported(model) -> InputError:
    return InputError(f"model: found nothing to probe in {type(model).__name__} (no attention module the "
                      f"probe can read); supported: " + "; ".join(SUPPORTED))


def probe_attention(model: nn.Module, inputs, *, keep_weights: bool = True,
                    bands: tuple[float, float] = REGIME_BANDS, grad: bool = False,
                    block_size: int | None = None, mask_threshold: float = MASK_THRESHOLD) -> AttentionProbe:
    r"""Run ``model`` once and read every attention head as a Gibbs measure.

    Args:
        model: an ``nn.Module`` containing ``torch.nn.MultiheadAttention``,
            :class:`~hjdl.nn.attention.GibbsAttention` or ``torch.nn.TransformerEncoderLayer``
            modules (used unchanged), a Hugging Face ``transformers`` model (handed to
            :func:`hjdl.probe.hf.probe_transformers`) or a TransformerLens ``TransformerBridge``
            (handed to :func:`hjdl.probe.lens.probe_lens`), with the same arguments.
        inputs: a tensor (``model(inputs)``), a tuple/list (``model(*inputs)``) or a dict
            (``model(**inputs)``); its floating tensors have no NaN or ``+inf`` (``-inf`` masks).
        keep_weights: keep the ``(B, H, Q, K)`` maps. False: ``q`` and ``k`` are recomputed from
            the module's weights and the entropy is accumulated over blocks of ``block_size``
            queries; the maps are never materialised.
        bands: regime thresholds on the normalised entropy (default ``(0.33, 0.66)``).
        grad: run with autograd enabled (default: ``torch.no_grad``).
        block_size: queries per block (default: about 4 MB of logits per block).
        mask_threshold: float-mask entries at or below it count as masked (default ``-1e4``).

    Returns:
        :class:`AttentionProbe`; ``layers`` has one entry per attention *call*, in call order
        (``LayerProbe.layer``). The entropy of a query is normalised by ``log`` of the number of
        keys it sees (see the module docstring for the mask conventions). The model runs in eval
        mode and its ``training`` flags are restored (``was_training`` records them); entropies
        of float16 / bfloat16 models are accumulated in float32.

    Raises:
        InputError: a model with nothing to probe (the message lists what is supported), bad
            ``inputs``, ``bands``, ``block_size`` or ``mask_threshold``.

    Example:
        >>> import torch
        >>> from hjdl.probe import probe_attention
        >>> _ = torch.manual_seed(0)
        >>> layer = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
        >>> rec = probe_attention(layer, torch.randn(2, 6, 16))
        >>> rec.layers[0].weights.shape, rec.layers[0].normalized_entropy.shape, rec.layers[0].eps.tolist()
        (torch.Size([2, 4, 6, 6]), torch.Size([2, 4, 6]), [2.0, 2.0, 2.0, 2.0])
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model: expected a torch.nn.Module, received {type(model).__name__}")
    kind = _framework(model)
    if kind is not None:
        kw = dict(keep_weights=keep_weights, bands=bands, grad=grad, block_size=block_size,
                  mask_threshold=mask_threshold)
        if kind == "hf":
            from .hf import probe_transformers
            return probe_transformers(model, inputs, **kw)
        from .lens import probe_lens
        return probe_lens(model, inputs, **kw)
    threshold = _check_probe_args(inputs, keep_weights, bands, block_size, mask_threshold)
    targets = _targets(model)
    if not targets:
        raise _unsupported(model)
    session = _Session({id(m): n for n, m in model.named_modules()}, keep_weights, block_size, threshold, bands)
    record = AttentionProbe()
    with _eval_mode(model) as was_training, _wrapped(targets, session), torch.set_grad_enabled(grad):
        record.was_training = was_training
        if isinstance(inputs, dict):
            record.output = model(**inputs)
        elif isinstance(inputs, (tuple, list)):
            record.output = model(*inputs)
        else:
            record.output = model(inputs)
    record.layers = session.layers
    return record
