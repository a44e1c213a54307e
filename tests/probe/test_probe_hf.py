"""Hugging Face probe (hjdl.probe.hf) against the models' own ``output_attentions=True``.

The oracle shares no code with the probe: an eager copy of the model returns its softmax weights,
and this file computes ``-Σ p log p / log(visible)`` from them with ``visible`` counted from the
mask the test itself describes (causal, padding, sliding window, custom 4-D). Tiny random
configs, no download.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

transformers = pytest.importorskip("transformers")

from hjdl.errors import InputError  # noqa: E402
from hjdl.probe.hf import BACKENDS, probe_transformers  # noqa: E402

V, L, W = 48, 7, 3  # vocabulary, sequence length, sliding window


def _gpt2(**extra):
    cfg = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=V, n_positions=32,
                                  initializer_range=0.4, bos_token_id=0, eos_token_id=0, **extra)
    return transformers.GPT2LMHeadModel(cfg)


def _bert():
    cfg = transformers.BertConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=32, initializer_range=0.4,
                                  pad_token_id=0)
    return transformers.BertModel(cfg, add_pooling_layer=False)


_DECODER = dict(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=64, initializer_range=0.4, pad_token_id=0,
                bos_token_id=0, eos_token_id=0)


def _llama():
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(**_DECODER))


def _qwen2():  # layer 0 full attention, layer 1 sliding window W (max_window_layers=1)
    cfg = transformers.Qwen2Config(**_DECODER, use_sliding_window=True, sliding_window=W, max_window_layers=1)
    return transformers.Qwen2ForCausalLM(cfg)


def _mistral():
    return transformers.MistralForCausalLM(transformers.MistralConfig(**_DECODER, sliding_window=W))


ARCHS = {"gpt2": _gpt2, "bert": _bert, "llama": _llama, "qwen2": _qwen2, "mistral": _mistral}


def _window(model, layer: int):
    """Sliding window of a layer, from the config (None = full attention)."""
    cfg = model.config
    types = getattr(cfg, "layer_types", None)
    if types is not None:
        return cfg.sliding_window if types[layer] == "sliding_attention" else None
    return getattr(cfg, "sliding_window", None)


def _visible(model, layer: int, pad: torch.Tensor) -> torch.Tensor:
    """(B, 1, Q, K) bool: which keys each query sees, from the test's own description."""
    B, n = pad.shape
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    seen = torch.ones(n, n, dtype=torch.bool)
    if model.config.model_type != "bert":
        seen = j <= i
        w = _window(model, layer)
        if w is not None:
            seen = seen & (j > i - w)
    return seen[None, None] & pad.bool()[:, None, None, :]


def _oracle_entropy(p: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    p = p.double()
    n = visible.sum(-1).double().expand(p.shape[:-1])
    h = -torch.xlogy(p, p).sum(-1)
    return torch.where(n > 1, h / torch.log(n.clamp(min=2)), torch.full_like(h, math.nan))


def _eager_attentions(model, inputs):
    ref = copy.deepcopy(model).eval()
    ref.set_attn_implementation("eager")
    with torch.no_grad():
        out = ref(**inputs, output_attentions=True)
    return out.attentions


def _inputs(pad: bool, B: int = 2):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, V, (B, L), generator=g)
    mask = torch.ones(B, L, dtype=torch.long)
    if pad:
        mask[1, :3] = 0  # left padding: real queries of a causal model must not see the padded keys
        ids[1, :3] = 0
    return {"input_ids": ids, "attention_mask": mask}


def _model(arch: str, backend: str):
    torch.manual_seed(0)
    m = ARCHS[arch]().eval()
    m.set_attn_implementation(backend)
    return m


def _assert_close_nan(a, b, atol):
    a, b = a.double(), b.double()
    assert torch.equal(a.isnan(), b.isnan())
    assert torch.allclose(torch.nan_to_num(a), torch.nan_to_num(b), atol=atol, rtol=0), \
        float((a - b).abs().nan_to_num().max())


@pytest.mark.parametrize("backend", ["eager", "sdpa"])
@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("pad", [False, True], ids=["nopad", "pad"])
def test_entropy_equals_output_attentions(arch, backend, pad):
    model = _model(arch, backend)
    inputs = _inputs(pad)
    with torch.no_grad():
        plain = model(**inputs)
    rec = probe_transformers(model, inputs)
    attns = _eager_attentions(model, inputs)
    assert len(rec.layers) == len(attns) == model.config.num_hidden_layers
    key = "last_hidden_state" if arch == "bert" else "logits"
    assert torch.allclose(rec.output[key], plain[key], atol=1e-6, rtol=0)  # output unchanged
    assert model.config._attn_implementation == backend                     # backend restored
    for i, (layer, p) in enumerate(zip(rec.layers, attns)):
        vis = _visible(model, i, inputs["attention_mask"])
        want = _oracle_entropy(p, vis)
        want = want.masked_fill(inputs["attention_mask"][:, None, :] == 0, math.nan)  # padded queries
        _assert_close_nan(layer.normalized_entropy, want, 1e-5)
        real = inputs["attention_mask"].bool()[:, None, :, None]   # padded query rows: no claim
        _assert_close_nan(layer.weights.masked_fill(~vis, 0) * real, p * real, 1e-5)
        real_q = inputs["attention_mask"].bool()[:, None, :].expand(want.shape)
        assert torch.equal(layer.visible.expand(want.shape)[real_q], vis.sum(-1).expand(want.shape)[real_q])
        head = torch.nanmean(want.transpose(0, 1).reshape(want.shape[1], -1), dim=1)
        assert torch.allclose(layer.head_normalized_entropy.double(), head, atol=1e-5)
        assert layer.eps.tolist() == pytest.approx([math.sqrt(32 / 4)] * 4)
        assert getattr(layer, "layer", i) == i and layer.kind.endswith("Attention")  # `layer`: once LayerProbe has it


def test_sliding_window_changes_the_visible_keys():
    """Layer 1 of Qwen2 (window 3) normalises by min(i + 1, 3); layer 0 by i + 1."""
    model = _model("qwen2", "sdpa")
    inputs = _inputs(False, B=1)
    rec = probe_transformers(model, inputs, keep_weights=True)
    for i, w in ((0, None), (1, W)):
        support = (rec.layers[i].weights[0, 0] > 0).sum(-1).tolist()
        want = [q + 1 if w is None else min(q + 1, w) for q in range(L)]
        assert support == want


def _custom_mask(kind: str):
    """A (2, 1, L, L) 4-D mask: causal, some past keys hidden, the diagonal always visible."""
    g = torch.Generator().manual_seed(3)
    keep = (torch.rand(2, 1, L, L, generator=g) > 0.4) | torch.eye(L, dtype=torch.bool)
    keep &= torch.ones(L, L, dtype=torch.bool).tril()
    if kind == "bool":
        return keep, keep
    fill = {"minus1e9": -1e9, "finfo": torch.finfo(torch.float32).min, "minus1e4": -1e4}[kind]
    return torch.where(keep, 0.0, fill), keep


@pytest.mark.parametrize("backend,kind", [("sdpa", "bool"), ("sdpa", "minus1e9"), ("sdpa", "finfo"),
                                          ("eager", "minus1e9"), ("eager", "finfo"), ("eager", "minus1e4")])
def test_custom_4d_masks(backend, kind):
    model = _model("llama", backend)
    mask, keep = _custom_mask(kind)
    ids = torch.randint(1, V, (2, L), generator=torch.Generator().manual_seed(4))
    rec = probe_transformers(model, {"input_ids": ids, "attention_mask": mask})
    float_mask = mask if mask.is_floating_point() else torch.where(keep, 0.0, -1e9)
    attns = _eager_attentions(model, {"input_ids": ids, "attention_mask": float_mask})
    for layer, p in zip(rec.layers, attns):
        _assert_close_nan(layer.normalized_entropy, _oracle_entropy(p, keep), 1e-5)


def test_eager_reads_a_boolean_mask_as_the_backend_does():
    """Eager attention *adds* the mask it is given: a 4-D bool mask is a +1 bias, every key visible.

    The probe reports what the backend computes (here: nothing hidden), not what was meant.
    """
    model = _model("llama", "eager")
    _, keep = _custom_mask("bool")
    ids = torch.randint(1, V, (2, L), generator=torch.Generator().manual_seed(4))
    rec = probe_transformers(model, {"input_ids": ids, "attention_mask": keep})
    attns = _eager_attentions(model, {"input_ids": ids, "attention_mask": keep})
    for layer, p in zip(rec.layers, attns):
        _assert_close_nan(layer.normalized_entropy, _oracle_entropy(p, torch.ones_like(keep)), 1e-5)


def test_additive_bias_above_threshold_is_kept():
    """A finite bias (-2 on some keys) changes the weights but not the visible count."""
    model = _model("llama", "sdpa")
    _, keep = _custom_mask("bool")
    bias = torch.where(keep, torch.where(torch.arange(L) % 2 == 0, -2.0, 0.0), -1e9)
    ids = torch.randint(1, V, (2, L), generator=torch.Generator().manual_seed(4))
    rec = probe_transformers(model, {"input_ids": ids, "attention_mask": bias})
    attns = _eager_attentions(model, {"input_ids": ids, "attention_mask": bias})
    for layer, p in zip(rec.layers, attns):
        _assert_close_nan(layer.normalized_entropy, _oracle_entropy(p, keep), 1e-5)


def test_gpt2_temperature_read_from_the_model():
    """scale_attn_weights=False and scale_attn_by_inverse_layer_idx: eps = layer + 1 (not sqrt(d))."""
    torch.manual_seed(0)
    model = _gpt2(scale_attn_weights=False, scale_attn_by_inverse_layer_idx=True).eval()
    inputs = _inputs(False)
    rec = probe_transformers(model, inputs)
    assert [layer.eps.tolist() for layer in rec.layers] == [[1.0] * 4, [2.0] * 4]
    for i, (layer, p) in enumerate(zip(rec.layers, _eager_attentions(model, inputs))):
        _assert_close_nan(layer.normalized_entropy, _oracle_entropy(p, _visible(model, i, inputs["attention_mask"])), 1e-5)


def test_gpt2_reorder_and_upcast_path():
    """Under eager attention GPT-2 calls its own float32 upcast path; the probe calls it too
    (bfloat16, where plain eager attention would round differently)."""
    torch.manual_seed(0)
    model = _gpt2(reorder_and_upcast_attn=True).eval().to(torch.bfloat16)
    model.set_attn_implementation("eager")
    inputs = _inputs(True)
    with torch.no_grad():
        plain = model(**inputs).logits
    rec = probe_transformers(model, inputs)
    assert torch.equal(rec.output.logits, plain)
    for i, (layer, p) in enumerate(zip(rec.layers, _eager_attentions(model, inputs))):
        want = _oracle_entropy(p, _visible(model, i, inputs["attention_mask"]))
        want = want.masked_fill(inputs["attention_mask"][:, None, :] == 0, math.nan)
        _assert_close_nan(layer.normalized_entropy, want, 0.02)  # the oracle's weights are rounded to bfloat16


@pytest.mark.parametrize("backend", ["eager", "sdpa"])
def test_output_bitwise_and_streaming_agrees(backend):
    model = _model("mistral", backend)
    inputs = _inputs(True)
    with torch.no_grad():
        plain = model(**inputs).logits
    full = probe_transformers(model, inputs, keep_weights=True)
    streamed = probe_transformers(model, inputs, keep_weights=False, block_size=2)
    assert torch.equal(full.output.logits, plain)
    for a, b in zip(full.layers, streamed.layers):
        assert b.weights is None and a.weights.shape == (2, 4, L, L)
        _assert_close_nan(a.normalized_entropy, b.normalized_entropy, 1e-6)
        assert torch.allclose(a.head_normalized_entropy, b.head_normalized_entropy, atol=1e-6)


def test_training_mode_restored_and_dropout_off():
    torch.manual_seed(0)
    model = _gpt2(attn_pdrop=0.5, resid_pdrop=0.5, embd_pdrop=0.5)
    model.train()
    model.transformer.h[1].eval()  # a mixed state must come back as it was
    before = {n: m.training for n, m in model.named_modules()}
    inputs = _inputs(False)
    a = probe_transformers(model, inputs)
    b = probe_transformers(model, inputs)
    assert a.was_training is True
    assert {n: m.training for n, m in model.named_modules()} == before
    assert probe_transformers(model.eval(), inputs).was_training is False
    for x, y in zip(a.layers, b.layers):
        assert torch.equal(x.normalized_entropy.nan_to_num(), y.normalized_entropy.nan_to_num())   # deterministic: eval mode
        assert torch.allclose(x.weights.sum(-1), torch.ones(()), atol=1e-6)


def test_backend_and_modes_restored_on_exception():
    model = _model("llama", "sdpa")
    model.train()
    with pytest.raises(IndexError):  # a token outside the vocabulary fails inside the forward
        probe_transformers(model, {"input_ids": torch.full((1, L), V + 5)})
    assert model.config._attn_implementation == "sdpa" and model.training
    assert all(m.training for m in model.modules())
    with pytest.raises(InputError, match="block_size"):
        probe_transformers(model, _inputs(False), block_size=0)
    assert model.config._attn_implementation == "sdpa"


def test_save_and_reload_then_probe(tmp_path):
    model = _model("llama", "sdpa")
    inputs = _inputs(True)
    first = probe_transformers(model, inputs)
    model.save_pretrained(tmp_path)
    assert "hjdl" not in (tmp_path / "config.json").read_text()
    again = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, attn_implementation="eager")
    second = probe_transformers(again, inputs)
    assert again.config._attn_implementation == "eager"
    for a, b in zip(first.layers, second.layers):
        _assert_close_nan(a.normalized_entropy, b.normalized_entropy, 1e-5)


def test_bfloat16_against_float32():
    model = _model("llama", "sdpa")
    inputs = _inputs(True)
    f32 = probe_transformers(model, inputs)
    bf16 = probe_transformers(copy.deepcopy(model).to(torch.bfloat16), inputs)
    for a, b in zip(f32.layers, bf16.layers):
        assert b.normalized_entropy.dtype == torch.float32 and b.weights.dtype == torch.bfloat16
        # bfloat16 keeps 8 bits of mantissa: q, k and the hidden states are rounded at ~4e-3 relative
        _assert_close_nan(a.normalized_entropy, b.normalized_entropy, 0.05)
        assert torch.allclose(a.head_normalized_entropy, b.head_normalized_entropy, atol=0.02)


def test_unsupported_models_are_refused():
    with pytest.raises(InputError, match="Linear.*GPT-2, BERT, Llama, Qwen2, Mistral"):
        probe_transformers(torch.nn.Linear(3, 3), torch.zeros(1, 3))
    model = _model("gpt2", "sdpa")
    model.config._attn_implementation_internal = "flash_attention_2"
    with pytest.raises(InputError, match="flash_attention_2.*'eager', 'sdpa'"):
        probe_transformers(model, _inputs(False))
    assert model.config._attn_implementation == "flash_attention_2"
    model.config._attn_implementation_internal = "sdpa"
    with pytest.raises(InputError, match="mask_threshold"):
        probe_transformers(model, _inputs(False), mask_threshold=float("nan"))


def test_registered_names_delegate_when_not_probing():
    """Outside a probe the registered backends are plain pass-throughs (no record, same output)."""
    model = _model("gpt2", "eager")
    inputs = _inputs(True)
    probe_transformers(model, inputs)  # registers the names
    with torch.no_grad():
        plain = model(**inputs).logits
        model.config._attn_implementation_internal = BACKENDS["eager"]
        wrapped = model(**inputs).logits
        model.config._attn_implementation_internal = "eager"
    assert torch.equal(plain, wrapped)


def test_probe_attention_dispatches_here():
    """hjdl.probe.probe_attention hands a Hugging Face model to probe_transformers."""
    from hjdl.probe import probe_attention

    model = _model("mistral", "sdpa")
    inputs = _inputs(True)
    a = probe_attention(model, inputs, keep_weights=False)
    b = probe_transformers(model, inputs, keep_weights=False)
    assert [x.name for x in a.layers] == [y.name for y in b.layers] == ["model.layers.0.self_attn",
                                                                       "model.layers.1.self_attn"]
    for x, y in zip(a.layers, b.layers):
        _assert_close_nan(x.normalized_entropy, y.normalized_entropy, 0)


def test_grad_flows_to_the_query_projection():
    """grad=True: the entropy is a differentiable function of the weights (through the post-RoPE q)."""
    model = _model("llama", "sdpa")
    rec = probe_transformers(model, _inputs(False), grad=True, keep_weights=False)
    rec.layers[1].normalized_entropy.nansum().backward()
    assert model.model.layers[1].self_attn.q_proj.weight.grad.abs().sum() > 0
    assert model.model.layers[1].self_attn.v_proj.weight.grad is None  # v never enters the entropy
