"""TransformerLens probe (hjdl.probe.lens) against the model's own ``hook_pattern``.

Tiny TL-native bridges built offline (``TransformerBridge.boot_native``); the oracle is the
pattern TransformerLens caches with ``run_with_cache``, and this file computes
``-Σ p log p / log(visible)`` from it with ``visible`` counted from the causal and padding masks
it builds itself.
"""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("transformer_lens")
from transformer_lens.config import TransformerBridgeConfig  # noqa: E402
from transformer_lens.model_bridge import TransformerBridge  # noqa: E402

from hjdl.errors import InputError  # noqa: E402
from hjdl.probe.lens import probe_lens  # noqa: E402

S, VOCAB = 7, 40


def _bridge(**extra):
    base = dict(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=64, n_ctx=16, d_vocab=VOCAB, act_fn="gelu",
                seed=0, initializer_range=0.5)
    base.update(extra)
    return TransformerBridge.boot_native(TransformerBridgeConfig(**base))


CASES = {
    "standard": {},
    "rotary-gqa": {"positional_embedding_type": "rotary", "n_key_value_heads": 2},
    "attn-scale": {"use_attn_scale": True, "attn_scale": 4.0},
    "softcap": {"attn_scores_soft_cap": 1.5, "positional_embedding_type": "rotary"},
}


def _oracle(p, pad):
    vis = torch.ones(S, S, dtype=torch.bool).tril()[None, None] & pad.bool()[:, None, None, :]
    p = p.double()
    n = vis.sum(-1).double()
    h = -torch.xlogy(p, p).sum(-1)
    ent = torch.where(n > 1, h / torch.log(n.clamp(min=2)), torch.full_like(h, math.nan))
    return ent.masked_fill(~pad.bool()[:, None, :], math.nan)


def _close(a, b, atol):
    assert torch.equal(a.isnan(), b.isnan())
    assert torch.allclose(a.double().nan_to_num(), b.double().nan_to_num(), atol=atol, rtol=0)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("padded", [False, True], ids=["nopad", "pad"])
def test_entropy_equals_hook_pattern(case, padded):
    model = _bridge(**CASES[case])
    toks = torch.randint(0, VOCAB, (2, S), generator=torch.Generator().manual_seed(2))
    pad = torch.ones(2, S, dtype=torch.long)
    if padded:
        pad[1, :3] = 0  # left padding: real queries must not see the padded keys
    model.eval()
    logits, cache = model.run_with_cache(toks, attention_mask=pad)
    model.train()
    rec = probe_lens(model, {"input": toks, "attention_mask": pad})
    assert rec.was_training is True and model.training and all(m.training for m in model.modules())
    assert torch.equal(rec.output, logits)
    assert len(rec.layers) == 2
    scale = 4.0 if case == "attn-scale" else math.sqrt(8)
    for i, layer in enumerate(rec.layers):
        p = cache[f"blocks.{i}.attn.hook_pattern"]
        _close(layer.normalized_entropy, _oracle(p, pad), 1e-5)
        real = pad.bool()[:, None, :, None]
        _close(layer.weights * real, p * real, 1e-5)
        assert layer.eps.tolist() == pytest.approx([scale] * 4)
        assert layer.name == f"blocks.{i}.attn"


def test_streaming_agrees_and_is_deterministic():
    model = _bridge(**CASES["rotary-gqa"])
    toks = torch.randint(0, VOCAB, (2, S), generator=torch.Generator().manual_seed(5))
    a = probe_lens(model, toks)
    b = probe_lens(model, toks, keep_weights=False, block_size=2)
    for x, y in zip(a.layers, b.layers):
        assert y.weights is None
        _close(x.normalized_entropy, y.normalized_entropy, 1e-6)


def test_rejects_other_models():
    with pytest.raises(InputError, match="TransformerBridge.*Linear"):
        probe_lens(torch.nn.Linear(2, 2), torch.zeros(1, 2))
    with pytest.raises(InputError, match="block_size"):
        probe_lens(_bridge(), torch.zeros(1, S, dtype=torch.long), block_size=-1)


def _hf_bridge(arch: str):
    """A bridge around a tiny Hugging Face model (TransformerLens reimplements its attention and
    passes the pre-softmax scores through hook_attn_scores)."""
    transformers = pytest.importorskip("transformers")
    from transformer_lens.model_bridge.sources._bridge_builder import build_bridge_from_module

    torch.manual_seed(0)
    if arch == "GPT2LMHeadModel":
        cfg = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=VOCAB, n_positions=32,
                                      initializer_range=0.4, bos_token_id=0, eos_token_id=0)
        hf = transformers.GPT2LMHeadModel(cfg)
    else:
        cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=4, num_key_value_heads=2, initializer_range=0.4,
                                       bos_token_id=0, eos_token_id=0, pad_token_id=0)
        hf = transformers.LlamaForCausalLM(cfg)
    return build_bridge_from_module(hf.eval(), arch, hf_config=hf.config)


@pytest.mark.parametrize("arch", ["GPT2LMHeadModel", "LlamaForCausalLM"])
def test_bridge_around_hf_model(arch):
    model = _hf_bridge(arch)
    toks = torch.randint(0, VOCAB, (2, S), generator=torch.Generator().manual_seed(2))
    pad = torch.ones(2, S, dtype=torch.long)
    pad[1, :3] = 0
    model.eval()
    logits, cache = model.run_with_cache(toks, attention_mask=pad)
    rec = probe_lens(model, {"input": toks, "attention_mask": pad})
    assert torch.equal(rec.output, logits) and len(rec.layers) == 2
    for i, layer in enumerate(rec.layers):
        p = cache[f"blocks.{i}.attn.hook_pattern"]
        _close(layer.normalized_entropy, _oracle(p, pad), 1e-5)
        assert layer.eps.tolist() == pytest.approx([math.sqrt(8)] * 4)
    streamed = probe_lens(model, {"input": toks, "attention_mask": pad}, keep_weights=False, block_size=3)
    for a, b in zip(rec.layers, streamed.layers):
        _close(a.normalized_entropy, b.normalized_entropy, 1e-6)


def test_probe_attention_dispatches_bridges_to_the_lens_probe(monkeypatch):
    """``hjdl.probe.probe_attention`` recognises a TransformerLens 4 ``TransformerBridge`` and
    hands it to :func:`probe_lens` (with a broken dispatch it says 'nothing to probe')."""
    from hjdl.probe import probe_attention
    import hjdl.probe.lens as lens

    model = _bridge()
    toks = torch.randint(0, VOCAB, (1, S), generator=torch.Generator().manual_seed(3))
    seen = []
    real = lens.probe_lens
    monkeypatch.setattr(lens, "probe_lens", lambda *a, **k: seen.append(k) or real(*a, **k))
    rec = probe_attention(model, toks, keep_weights=False, block_size=3)
    assert len(seen) == 1 and seen[0]["block_size"] == 3 and seen[0]["keep_weights"] is False
    direct = probe_lens(model, toks)
    for x, y in zip(rec.layers, direct.layers):
        _close(x.normalized_entropy, y.normalized_entropy, 1e-6)
