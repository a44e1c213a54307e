"""Probe Hugging Face ``transformers`` models through their own attention-function interface.

Since version 4.48 (and throughout version 5) every ``*Attention`` module of the architectures
we support hands its query, key, value, mask and temperature to a function looked up by name in
``transformers.AttentionInterface`` (``config._attn_implementation``: ``"eager"``, ``"sdpa"``,
...), and the model builds its masks with the function of the same name in
``transformers.masking_utils.AttentionMaskInterface``. :func:`probe_transformers` registers two
names, ``hjdl_probe_eager`` and ``hjdl_probe_sdpa``. Each one

* builds its mask with the wrapped backend's mask function, and calls the wrapped backend's
  attention function with the arguments it received, unchanged: the model's output is bit for bit
  the unprobed one (for GPT-2's ``reorder_and_upcast_attn`` under eager attention, the module's
  own upcast path is called, as the model does);
* on the side, hands the ``query`` and ``key`` it received, which are *after* any rotary
  embedding (the models apply RoPE before calling the function), to
  :func:`hjdl.probe._stream.gibbs_entropy`, with

  - the temperature the model passes (``eps = 1 / scaling``; ``scaling=None`` means
    ``head_dim ** -0.5``, as in both backends; GPT-2's ``scale_attn_weights`` and
    ``scale_attn_by_inverse_layer_idx`` are folded into the ``scaling`` it passes), and the
    ``softcap`` where the model gives one;
  - the keys the backend really lets each query see (THEORY §8): the mask it receives (a boolean
    mask, ``True`` = visible, under SDPA; an additive float mask, entries ``<= mask_threshold``
    masked and the others kept as a bias); with no mask, SDPA's own rule (causal when the query
    block has more than one row and ``is_causal``, from the call or the module, is true,
    otherwise every key) and eager's (every key). Sliding windows and padding are part of the
    mask the model builds for the backend, so they are read from it.

The model's attention implementation is switched for the call and restored afterwards, even when
the forward raises. The model runs in eval mode (dropout off, so the weights are the model's
deterministic Gibbs measure) and each module's ``training`` flag is restored afterwards; the
record says whether the model was in training mode (``was_training``).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import inspect
import math
import sys

import torch
from torch import nn

from ..errors import InputError
from ..nn.attention import MASK_THRESHOLD
from ._stream import additive_to_allowed, gibbs_entropy
from .attention import REGIME_BANDS, AttentionProbe, LayerProbe, _check_probe_args, regime

__all__ = ["probe_transformers", "SUPPORTED_ARCHITECTURES", "BACKENDS"]

#: Architectures tested against ``output_attentions=True`` (any model whose attention modules call
#: ``ALL_ATTENTION_FUNCTIONS.get_interface`` is probed the same way).
SUPPORTED_ARCHITECTURES: tuple[str, ...] = ("GPT-2", "BERT", "Llama", "Qwen2", "Mistral")

#: The attention backends that can be wrapped, and the name registered for each.
BACKENDS: dict[str, str] = {"eager": "hjdl_probe_eager", "sdpa": "hjdl_probe_sdpa"}

_SESSION: contextvars.ContextVar = contextvars.ContextVar("hjdl_probe_hf_session", default=None)
_REGISTERED = False


def _transformers():
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - the extra is part of the dev install
        raise InputError("model: probing a Hugging Face model needs the optional extra hjdl[hf] "
                         "(pip install 'hjdl[hf]')") from exc
    return transformers


def _register() -> None:
    """Register the two probe names in the attention and mask interfaces (once per process)."""
    global _REGISTERED
    if _REGISTERED:
        return
    _transformers()
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    for backend, name in BACKENDS.items():
        AttentionInterface.register(name, _make_attention(backend))

        def mask(*args, _backend=backend, **kwargs):  # the wrapped backend's mask, looked up at call time
            return ALL_MASK_ATTENTION_FUNCTIONS[_backend](*args, **kwargs)

        AttentionMaskInterface.register(name, mask)
    _REGISTERED = True


def _backend_function(module: nn.Module, backend: str):
    """The function the model would call for ``backend`` (its own ``eager_attention_forward``)."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    if backend == "sdpa":
        return ALL_ATTENTION_FUNCTIONS["sdpa"]
    if "eager" in ALL_ATTENTION_FUNCTIONS:  # a user override of eager wins, as in get_interface
        return ALL_ATTENTION_FUNCTIONS["eager"]
    fn = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    if fn is None:
        raise InputError(f"model: {type(module).__name__} ({type(module).__module__}) defines no "
                         f"eager_attention_forward to wrap; load the model with attn_implementation='sdpa'")
    return fn


def _make_attention(backend: str):
    def attention(module, query, key, value, attention_mask, *args, **kwargs):
        session = _SESSION.get()
        if (backend == "eager" and getattr(module, "reorder_and_upcast_attn", False)
                and hasattr(module, "_upcast_and_reordered_attn")):
            # GPT-2 under eager attention takes this path instead of the interface
            out = module._upcast_and_reordered_attn(query, key, value, attention_mask)
            fn = None
        else:
            fn = _backend_function(module, backend)
            out = fn(module, query, key, value, attention_mask, *args, **kwargs)
        if session is not None:
            session.read(backend, fn, module, query, key, attention_mask, args, kwargs)
        return out

    attention.__name__ = f"hjdl_probe_{backend}"
    return attention


def _call_arguments(fn, module, query, key, attention_mask, args, kwargs) -> dict:
    """The keyword view of the call (positional extras bound through the wrapped function)."""
    if not args or fn is None:
        return dict(kwargs)
    try:
        bound = inspect.signature(fn).bind(module, query, key, None, attention_mask, *args, **kwargs)
    except TypeError:
        return dict(kwargs)
    out = dict(bound.arguments)
    out.update(out.pop("kwargs", {}) or {})
    return out


class _Session:
    """One probe call: where the records go and what the model-level inputs say."""

    def __init__(self, names, keep_weights, block_size, threshold, query_mask, bands):
        self.names = names
        self.keep_weights = keep_weights
        self.block_size = block_size
        self.threshold = threshold
        self.query_mask = query_mask
        self.bands = bands
        self.layers: list = []

    def read(self, backend, fn, module, query, key, attention_mask, args, kwargs) -> None:
        call = _call_arguments(fn, module, query, key, attention_mask, args, kwargs)
        for unsupported in ("position_bias", "s_aux", "sinks"):
            if call.get(unsupported) is not None:
                raise InputError(f"model: {type(module).__name__} passes {unsupported!r} to its attention "
                                 f"function, which the probe does not read; supported: "
                                 f"{', '.join(SUPPORTED_ARCHITECTURES)}")
        scaling = call.get("scaling")
        if scaling is None:
            scaling = query.shape[-1] ** -0.5
        softcap = call.get("softcap")
        Q, K = query.shape[2], key.shape[2]
        allowed = bias = None
        if attention_mask is None:
            if backend == "sdpa":
                is_causal = call.get("is_causal")
                is_causal = getattr(module, "is_causal", True) if is_causal is None else is_causal
                if Q > 1 and bool(is_causal):
                    if K > Q:  # SDPA drops the keys beyond the query block (prefill of a static cache)
                        key, K = key[:, :, :Q], Q
                    dev = query.device

                    def allowed(q0, q1, _K=K):
                        return (torch.arange(q0, q1, device=dev)[:, None]
                                >= torch.arange(_K, device=dev)[None, :])
        else:
            mask = attention_mask[..., :K] if attention_mask.shape[-1] > K else attention_mask
            if mask.dtype == torch.bool:
                if backend == "sdpa":
                    allowed = mask
                else:  # eager adds the mask: True counts as +1, nothing is hidden
                    bias = mask.to(query.dtype)
            else:
                allowed, bias = additive_to_allowed(mask, self.threshold)
                if not bool(bias.any()):
                    bias = None
        streamed = gibbs_entropy(query, key, scale=float(scaling), allowed=allowed, bias=bias,
                                 block_size=self.block_size, keep_weights=self.keep_weights,
                                 softcap=None if softcap is None else float(softcap))
        entropy = streamed.normalized_entropy
        qm = self.query_mask
        if qm is not None and qm.shape == (entropy.shape[0], entropy.shape[2]):
            entropy = entropy.masked_fill(~qm.to(entropy.device)[:, None, :], math.nan)
        H = entropy.shape[1]
        head = torch.nanmean(entropy.detach().transpose(0, 1).reshape(H, -1).float(), dim=1)
        self.layers.append(_layer_probe(
            name=self.names.get(id(module), type(module).__name__), kind=type(module).__name__,
            weights=streamed.weights, normalized_entropy=entropy, eps=streamed.eps, head_normalized_entropy=head,
            regime=[regime(float(v), self.bands) for v in head], layer=len(self.layers),
            visible=streamed.visible))


def _layer_probe(**values) -> LayerProbe:
    known = {f.name for f in dataclasses.fields(LayerProbe)}
    return LayerProbe(**{k: v for k, v in values.items() if k in known})


def _configs(model: nn.Module) -> list:
    """Every ``PretrainedConfig`` reachable from the model's modules (and their sub-configs)."""
    from transformers import PretrainedConfig

    found: dict[int, object] = {}
    todo = [m.config for m in model.modules() if isinstance(getattr(m, "config", None), PretrainedConfig)]
    while todo:
        cfg = todo.pop()
        if id(cfg) in found:
            continue
        found[id(cfg)] = cfg
        for key in getattr(cfg, "sub_configs", {}) or {}:
            sub = getattr(cfg, key, None)
            if isinstance(sub, PretrainedConfig):
                todo.append(sub)
    return list(found.values())


def _unsupported(model: nn.Module, why: str) -> InputError:
    return InputError(f"model: {type(model).__name__} {why}; the probe reads Hugging Face models whose "
                      f"attention goes through transformers.AttentionInterface (tested: "
                      f"{', '.join(SUPPORTED_ARCHITECTURES)}), TransformerLens bridges, "
                      f"torch.nn.MultiheadAttention and GibbsAttention")


def _check_model(model: nn.Module) -> list:
    if not isinstance(model, nn.Module):
        raise InputError(f"model: expected a torch.nn.Module, received {type(model).__name__}")
    transformers = _transformers()
    pretrained = [m for m in model.modules() if isinstance(m, transformers.PreTrainedModel)]
    if not pretrained:
        raise _unsupported(model, "is not a Hugging Face PreTrainedModel and contains none")
    for m in pretrained:
        if not type(m)._can_set_attn_implementation():
            raise _unsupported(m, "does not route its attention through the attention interface")
    configs = _configs(model)
    for cfg in configs:
        impl = cfg._attn_implementation
        if impl is not None and impl not in BACKENDS and impl not in BACKENDS.values():
            raise InputError(f"model: attention implementation {impl!r} cannot be probed; supported: "
                             f"{', '.join(repr(b) for b in BACKENDS)} (load the model with "
                             f"attn_implementation='sdpa' or call model.set_attn_implementation('sdpa'))")
    return configs


@contextlib.contextmanager
def _probing(model: nn.Module, configs: list):
    """Eval mode and the probe backends for the duration; everything restored on exit."""
    modes = [(m, m.training) for m in model.modules()]
    impls = [(cfg, cfg._attn_implementation_internal) for cfg in configs]
    try:
        model.eval()
        for cfg, impl in impls:
            backend = "eager" if impl is None else impl
            cfg._attn_implementation_internal = BACKENDS.get(backend, backend)
        yield
    finally:
        for cfg, impl in impls:
            cfg._attn_implementation_internal = impl
        for m, flag in modes:
            m.training = flag


def _query_mask(inputs):
    """The 2-D padding mask of the inputs (``True`` = real token), if they carry one."""
    if isinstance(inputs, dict):
        m = inputs.get("attention_mask")
        if isinstance(m, torch.Tensor) and m.ndim == 2:
            return m.bool() if m.dtype == torch.bool else m != 0
    return None


def probe_transformers(model: nn.Module, inputs, *, keep_weights: bool = True,
                       bands: tuple[float, float] = REGIME_BANDS, grad: bool = False,
                       block_size: int | None = None, mask_threshold: float = MASK_THRESHOLD) -> AttentionProbe:
    r"""Run a Hugging Face model once and read every attention head as a Gibbs measure.

    For each attention call, head ``h`` and query ``i``: ``π_ij = softmax_j(scaling · q_i·k_j +
    mask_ij)`` over the keys ``i`` sees, ``eps_h = 1/scaling`` and the entropy
    ``H(π_i) / log(visible keys)`` (THEORY §8), with ``q`` and ``k`` exactly as the model hands
    them to its attention backend (after rotary embeddings). See the module docstring for how the
    backend is wrapped and how masks are read.

    Args:
        model: a ``transformers`` model (or a module containing one) whose attention
            implementation is ``"eager"`` or ``"sdpa"``.
        inputs: a dict (``model(**inputs)``, e.g. ``input_ids`` and ``attention_mask``), a tuple /
            list (``model(*inputs)``) or a tensor (``model(inputs)``).
        keep_weights: keep the ``(B, H, Q, K)`` weights (False: entropies are accumulated over
            blocks of queries and the weights are never materialised).
        bands: regime thresholds on the normalised entropy.
        grad: run with autograd enabled.
        block_size: queries per block (default: about 4 MB of logits per block).
        mask_threshold: additive-mask entries at or below it count as masked (default ``-1e4``).

    Returns:
        :class:`~hjdl.probe.attention.AttentionProbe`: one ``LayerProbe`` per attention call in
        call order (``layer`` its index). ``entropy`` is ``(B, H, Q)`` float32 (float64 for a
        float64 model); ``NaN`` for a query that sees fewer than two keys and for the *padded*
        query positions (``inputs["attention_mask"] == 0``), which are left out of
        ``head_entropy`` (the ``nanmean`` over batch and queries). ``eps`` is ``(H,)``.
        ``visible`` is ``(B, H, Q)``, the keys each query
        sees. ``output`` is the model's output, ``was_training`` whether any module was in
        training mode before the call.

    Raises:
        InputError: not a Hugging Face model, a model whose attention does not go through the
            attention interface, a backend other than eager / SDPA, bad arguments.

    Example:
        >>> import torch, transformers
        >>> from hjdl.probe.hf import probe_transformers
        >>> _ = torch.manual_seed(0)
        >>> cfg = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=16, vocab_size=50, n_positions=16)
        >>> model = transformers.GPT2LMHeadModel(cfg)
        >>> rec = probe_transformers(model, {"input_ids": torch.randint(0, 50, (2, 5))})
        >>> len(rec.layers), tuple(rec.layers[0].normalized_entropy.shape), rec.layers[0].eps.tolist()
        (2, (2, 4, 5), [2.0, 2.0, 2.0, 2.0])
        >>> model.config._attn_implementation
        'sdpa'
    """
    configs = _check_model(model)
    threshold = _check_probe_args(inputs, keep_weights, bands, block_size, mask_threshold)
    _register()
    was_training = any(m.training for m in model.modules())
    names = {id(m): n for n, m in model.named_modules()}
    session = _Session(names, keep_weights, block_size, threshold, _query_mask(inputs), tuple(bands))
    token = _SESSION.set(session)
    try:
        with _probing(model, configs), torch.set_grad_enabled(grad):
            if isinstance(inputs, dict):
                output = model(**inputs)
            elif isinstance(inputs, (tuple, list)):
                output = model(*inputs)
            else:
                output = model(inputs)
    finally:
        _SESSION.reset(token)
    if not session.layers:
        raise _unsupported(model, "made no call to its attention function during the forward")
    return AttentionProbe(layers=session.layers, output=output, was_training=was_training)
