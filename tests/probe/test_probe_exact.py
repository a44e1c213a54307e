"""probe_attention on the torch modules it reads, against a dense float64 reference written here.

The reference (``_reference``) takes the module's ``in_proj_weight`` / ``in_proj_bias`` by hand,
forms ``q·k/√d`` for every head, adds the float mask, puts ``-inf`` where the mask (in the
conventions spelled out in each case) forbids, and takes ``softmax`` and ``-Σ p log p`` divided by
``log`` of the number of keys left. It shares no code with hjdl.
"""

from __future__ import annotations

import math
import subprocess
import sys
import types

import pytest
import torch
from torch import nn

from hjdl.errors import InputError
from hjdl.nn.attention import GibbsAttention
from hjdl.probe import probe_attention

E, H, L, B = 16, 4, 7, 3
D = E // H


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _mha(dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    m = nn.MultiheadAttention(E, H, batch_first=True, dtype=dtype, **kw)
    with torch.no_grad():
        m.in_proj_bias.normal_(generator=_gen(seed + 1))
        m.in_proj_weight.mul_(3.0)                       # sharper heads: entropies spread over [0, 1]
    return m.eval()


def _x(*shape, seed=1, dtype=torch.float64):
    return torch.randn(*shape, generator=_gen(seed), dtype=torch.float64).to(dtype)


def _qk(m, xq, xk):
    """q, k by hand: (B, H, L, D) from in_proj_weight / in_proj_bias."""
    W, b = m.in_proj_weight.detach().double(), m.in_proj_bias.detach().double()
    q = xq.double() @ W[:E].T + b[:E]
    k = xk.double() @ W[E:2 * E].T + b[E:2 * E]
    split = lambda t: t.reshape(t.shape[0], t.shape[1], H, D).transpose(1, 2)
    return split(q), split(k)


def _reference(q, k, visible, bias=None, scale=None):
    """Normalised entropy (B, H, Q) and counts from q, k (float64), a bool (B, H, Q, K) visible mask."""
    scale = (1 / math.sqrt(q.shape[-1])) if scale is None else scale
    z = (q @ k.transpose(-1, -2)) * scale
    if bias is not None:
        z = z + bias
    z = z.masked_fill(~visible, -math.inf)
    p = torch.softmax(z, -1)
    n = visible.sum(-1)
    ent = -(torch.where(p > 0, p * torch.log(p), torch.zeros_like(p))).sum(-1)
    return torch.where(n > 1, ent / torch.log(n.clamp_min(2).double()), torch.full_like(ent, math.nan)), n


def _same(a, b, atol):
    a, b = a.double(), b.double()
    assert torch.equal(torch.isnan(a), torch.isnan(b)), (torch.isnan(a).sum(), torch.isnan(b).sum())
    err = float((torch.nan_to_num(a) - torch.nan_to_num(b)).abs().max())
    assert err <= atol, err


# -- the mask kinds --------------------------------------------------------------------------------
# each case: MHA keyword arguments, and the (B, H, Q, K) visible mask and bias the reference uses

_causal_bool = torch.ones(L, L, dtype=torch.bool).triu(1)           # True = not allowed
_pad = torch.zeros(B, L, dtype=torch.bool)
_pad[1, 5:] = True                                                   # True = padding
_pad[2, 2:] = True
_rand_bool = torch.rand(L, L, generator=_gen(7)) > 0.6
_rand_bool.fill_diagonal_(False)
_alibi = -0.3 * (torch.arange(L)[:, None] - torch.arange(L)[None, :]).abs().double()


def _finite_causal(value):
    return torch.zeros(L, L, dtype=torch.float64).masked_fill(_causal_bool, value)


CASES = {
    "causal_-inf": ({"attn_mask": _finite_causal(-math.inf)}, ~_causal_bool, None),
    "causal_-1e9": ({"attn_mask": _finite_causal(-1e9)}, ~_causal_bool, None),
    "causal_finfo_min": ({"attn_mask": _finite_causal(torch.finfo(torch.float64).min)}, ~_causal_bool, None),
    "causal_-1e4": ({"attn_mask": _finite_causal(-1e4)}, ~_causal_bool, None),
    "bool_mask": ({"attn_mask": _rand_bool}, ~_rand_bool, None),
    "padding_bool": ({"key_padding_mask": _pad}, ~_pad[:, None, None, :], None),
    "padding_float_-1e9": ({"key_padding_mask": torch.zeros(B, L, dtype=torch.float64).masked_fill(_pad, -1e9)},
                           ~_pad[:, None, None, :], None),
    "causal_and_padding": ({"attn_mask": _causal_bool, "key_padding_mask": _pad},
                           ~_causal_bool & ~_pad[:, None, None, :], None),
    "is_causal_with_mask": ({"attn_mask": _causal_bool, "is_causal": True}, ~_causal_bool, None),
    "alibi_bias_and_-1e9": ({"attn_mask": _alibi.masked_fill(_causal_bool, -1e9)}, ~_causal_bool, _alibi),
    "per_head_float": ({"attn_mask": (0.5 * _x(B * H, L, L, seed=9)).masked_fill(_causal_bool, -1e9)},
                       ~_causal_bool, (0.5 * _x(B * H, L, L, seed=9)).reshape(B, H, L, L)),
}


@pytest.mark.parametrize("keep_weights", [False, True], ids=["stream", "weights"])
@pytest.mark.parametrize("case", list(CASES))
def test_multihead_attention_every_mask_kind(case, keep_weights):
    kw, visible, bias = CASES[case]
    m, x = _mha(), _x(B, L, E)
    with torch.no_grad():            # as the probe runs it (grad=False): the same kernel is chosen
        ref_out = m(x, x, x, **kw)
    rec = probe_attention(m, {"query": x, "key": x, "value": x, **kw}, keep_weights=keep_weights, block_size=3)
    q, k = _qk(m, x, x)
    visible = visible.expand(B, H, L, L)
    expected, n = _reference(q, k, visible, bias)
    layer = rec.layers[0]
    _same(layer.normalized_entropy, expected, 1e-10)
    assert torch.equal(layer.visible.expand(B, H, L), n)
    assert torch.allclose(layer.head_normalized_entropy, torch.nanmean(expected.transpose(0, 1).reshape(H, -1), 1), atol=1e-10)
    if keep_weights:     # asked for weights, MHA takes its explicit-softmax kernel: equal up to rounding
        assert torch.allclose(rec.output[0], ref_out[0], atol=1e-12)
        assert torch.allclose(layer.weights.sum(-1), torch.ones(B, H, L, dtype=torch.float64))
    else:                # the call itself is untouched
        assert torch.equal(rec.output[0], ref_out[0]) and torch.equal(rec.output[1], ref_out[1])
        assert layer.weights is None


def test_masked_keys_counted_as_visible_would_be_detected():
    """The bug of the issue (finite masks read as visible) changes the numbers far beyond 1e-10."""
    m, x = _mha(), _x(B, L, E)
    mask = _finite_causal(-1e9)
    q, k = _qk(m, x, x)
    right, _ = _reference(q, k, (~_causal_bool).expand(B, H, L, L))
    p = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(D) + mask, -1)
    wrong = -(torch.where(p > 0, p * torch.log(p), torch.zeros_like(p))).sum(-1) / math.log(L)
    assert float((torch.nan_to_num(right) - wrong)[..., 1:].abs().max()) > 0.05
    got = probe_attention(m, (x, x, x, None, True, mask), keep_weights=False).layers[0].normalized_entropy
    _same(got, right, 1e-10)
    # a lower threshold makes -1e4 a bias again (documented knob): -1e4 keys then count as visible
    mask4 = _finite_causal(-1e4)
    low = probe_attention(m, (x, x, x, None, True, mask4), keep_weights=False, mask_threshold=-1e5)
    assert int(low.layers[0].visible.min()) == L


def test_cross_attention_unbatched_seq_first_bias_kv_and_zero_attn():
    """Layouts and MHA options the stream path must rebuild, against MHA's own weights."""
    torch.manual_seed(3)
    for kw in ({"batch_first": False}, {"add_bias_kv": True}, {"add_zero_attn": True},
               {"kdim": 5, "vdim": 6}):
        bf = kw.pop("batch_first", True)
        m = nn.MultiheadAttention(E, H, batch_first=bf, dtype=torch.float64, **kw).eval()
        kd = kw.get("kdim", E)
        xq, xk, xv = _x(B, 4, E), _x(B, 6, kd, seed=2), _x(B, 6, kw.get("vdim", E), seed=3)
        if not bf:
            xq, xk, xv = xq.transpose(0, 1), xk.transpose(0, 1), xv.transpose(0, 1)
        pad = torch.zeros(B, 6, dtype=torch.bool)
        pad[0, 4:] = True
        args = {"query": xq, "key": xk, "value": xv, "key_padding_mask": pad}
        a = probe_attention(m, args, keep_weights=False, block_size=2).layers[0]
        b = probe_attention(m, args, keep_weights=True).layers[0]
        extra = int(kw.get("add_bias_kv", False)) + int(kw.get("add_zero_attn", False))
        assert b.weights.shape == (B, H, 4, 6 + extra)
        _same(a.normalized_entropy, b.normalized_entropy, 1e-12)
        assert int(a.visible[0].max()) == 4 + extra and int(a.visible[1].max()) == 6 + extra
    m = _mha()
    u = _x(5, E)                                         # unbatched (L, E) with a (L,) padding mask
    pad1 = torch.tensor([False, False, False, True, True])
    rec = probe_attention(m, {"query": u, "key": u, "value": u, "key_padding_mask": pad1}, keep_weights=False)
    q, k = _qk(m, u[None], u[None])
    _same(rec.layers[0].normalized_entropy, _reference(q, k, (~pad1).expand(1, H, 5, 5))[0], 1e-10)


def test_gibbs_attention_finite_masks_and_temperatures():
    torch.manual_seed(0)
    att = GibbsAttention(E, H, eps=[0.5, 1.0, 2.0, 8.0], dtype=torch.float64).eval()
    x = _x(B, L, E)
    mask = _alibi.masked_fill(_causal_bool, torch.finfo(torch.float64).min)
    # (a bool padding mask: GibbsAttention does not add a float key_padding_mask to the scores)
    args = {"query": x, "key": x, "value": x, "attn_mask": mask, "key_padding_mask": _pad}
    with torch.no_grad():
        ref_out = att(**args)
    stream = probe_attention(att, args, keep_weights=False, block_size=2)
    kept = probe_attention(att, args, keep_weights=True)
    assert torch.equal(stream.output[0], ref_out[0])
    q, k = _qk(att, x, x)
    eps = torch.tensor([0.5, 1.0, 2.0, 8.0], dtype=torch.float64)[None, :, None, None]
    visible = (~_causal_bool & ~_pad[:, None, None, :]).expand(B, H, L, L)
    expected, _ = _reference(q, k, visible, _alibi, scale=1 / eps)
    _same(stream.layers[0].normalized_entropy, expected, 1e-10)
    _same(kept.layers[0].normalized_entropy, expected, 1e-10)
    # hard heads (eps = 0) are read from the module's weights: entropy 0 where the maximum is unique
    hard = GibbsAttention(E, H, eps=[0.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    r = probe_attention(hard, x, keep_weights=False).layers[0]
    assert float(r.normalized_entropy[:, 0].abs().max()) == 0.0 and r.normalized_entropy.shape == (B, H, L)


# -- nn.TransformerEncoder: the nested-tensor fast path ------------------------------------------------


def _encoder(nested=True, norm_first=False, seed=0):
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(E, H, 32, dropout=0.2, batch_first=True, norm_first=norm_first,
                                       dtype=torch.float64)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=nested and not norm_first)  # pre-LN: no nested path
    with torch.no_grad():
        for lay in enc.layers:
            lay.self_attn.in_proj_weight.mul_(3.0)
            lay.self_attn.in_proj_bias.normal_(generator=_gen(seed + 2))
    return enc.eval()


def _encoder_reference(enc, x, pad):
    """Per layer: the input computed layer by layer (dense path), then the entropy by hand."""
    out, h = [], x
    visible = (~pad[:, None, None, :]).expand(B, H, L, L)
    with torch.no_grad():
        for layer in enc.layers:
            z = layer.norm1(h) if layer.norm_first else h
            q, k = _qk(layer.self_attn, z, z)
            ent, _ = _reference(q, k, visible)
            out.append(ent.masked_fill(pad[:, None, :], math.nan))   # padding positions are not queries
            h = layer(h, src_key_padding_mask=pad)
    return out


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_nested_fast_path(norm_first):
    enc = _encoder(norm_first=norm_first)
    x = _x(B, L, E)
    with torch.no_grad():
        ref = enc(x, src_key_padding_mask=_pad)
    if not norm_first:   # the nested path ran: padding positions of the output are exactly 0
        assert float(ref[_pad].abs().max()) == 0.0 and enc.use_nested_tensor
    for keep in (False, True):
        rec = probe_attention(enc, {"src": x, "src_key_padding_mask": _pad}, keep_weights=keep, block_size=4)
        assert torch.equal(rec.output, ref)                               # bit for bit
        assert [layer.name for layer in rec.layers] == ["layers.0", "layers.1"]
        assert [layer.layer for layer in rec.layers] == [0, 1]
        for got, expected in zip(rec.layers, _encoder_reference(enc, x, _pad)):
            _same(got.normalized_entropy, expected, 1e-9)
        if keep:
            w = rec.layers[0].weights
            assert float(w[1, :, :, 5:].abs().max()) == 0.0
    # the same model without the nested path reads the same numbers
    plain = _encoder(nested=False, norm_first=norm_first)
    rec2 = probe_attention(plain, {"src": x, "src_key_padding_mask": _pad}, keep_weights=False)
    for a, b in zip(rec.layers, rec2.layers):
        _same(a.normalized_entropy, b.normalized_entropy, 1e-9)


def test_transformer_encoder_layer_fused_fast_path_output_is_bitwise_unchanged():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, H, 32, batch_first=True, dtype=torch.float64).eval()
    x = _x(B, L, E)
    causal = nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    with torch.no_grad():
        ref = layer(x)
        ref_c = layer(x, src_mask=causal, is_causal=True)
    assert torch.equal(probe_attention(layer, x, keep_weights=False).output, ref)
    rec = probe_attention(layer, {"src": x, "src_mask": causal, "is_causal": True}, keep_weights=False)
    assert torch.equal(rec.output, ref_c)
    q, k = _qk(layer.self_attn, x, x)
    _same(rec.layers[0].normalized_entropy, _reference(q, k, (~_causal_bool).expand(B, H, L, L))[0], 1e-10)


# -- dropout / training mode ------------------------------------------------------------------------


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.TransformerEncoderLayer(E, H, 32, dropout=0.5, batch_first=True, dtype=torch.float64)
        self.mha = nn.MultiheadAttention(E, H, dropout=0.5, batch_first=True, dtype=torch.float64)
        self.drop = nn.Dropout(0.5)

    def forward(self, x, fail=False):
        y = self.drop(self.enc(x))
        if fail:
            raise RuntimeError("boom")
        return self.mha(y, y, y)[0]


@pytest.mark.parametrize("keep_weights", [False, True])
def test_training_mode_policy_eval_then_restore(keep_weights):
    net = _Net().train()
    net.enc.linear1.eval()                               # a mixed state must come back exactly
    flags = {n: m.training for n, m in net.named_modules()}
    x = _x(2, L, E)
    a = probe_attention(net, x, keep_weights=keep_weights)
    b = probe_attention(net, x, keep_weights=keep_weights)
    assert a.was_training and {n: m.training for n, m in net.named_modules()} == flags
    for la, lb in zip(a.layers, b.layers):
        assert torch.equal(la.normalized_entropy, lb.normalized_entropy)
        if keep_weights:
            assert torch.allclose(la.weights.sum(-1), torch.ones_like(la.weights[..., 0]), atol=1e-12)
    assert torch.equal(a.output, b.output)
    with torch.no_grad():                               # the output is the eval-mode output
        net.eval()
        assert torch.allclose(a.output, net(x), atol=1e-12)
    net.train()
    assert not probe_attention(net.eval(), x).was_training
    net.train()
    with pytest.raises(RuntimeError, match="boom"):
        probe_attention(net, (x, True))
    assert net.training and net.enc.self_attn.training
    assert all("forward" not in m.__dict__ for m in net.modules())    # wrappers removed on error too


# -- streaming vs kept weights; half precision -------------------------------------------------------


def test_keep_weights_false_and_true_agree_float32():
    m = _mha(dtype=torch.float32)
    x = _x(B, L, E, dtype=torch.float32)
    for kw in ({}, {"attn_mask": _finite_causal(-1e9).float()}, {"key_padding_mask": _pad},
               {"attn_mask": _causal_bool, "key_padding_mask": _pad}):
        args = {"query": x, "key": x, "value": x, **kw}
        a = probe_attention(m, args, keep_weights=False, block_size=2).layers[0]
        b = probe_attention(m, args, keep_weights=True).layers[0]
        _same(a.normalized_entropy, b.normalized_entropy, 1e-6)
        assert a.normalized_entropy.dtype == torch.float32 and torch.allclose(a.head_normalized_entropy, b.head_normalized_entropy, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_models_accumulate_in_float32(dtype):
    m = _mha(dtype=torch.float32).to(dtype)
    x = _x(B, L, E, dtype=dtype)
    mask = _finite_causal(torch.finfo(dtype).min).to(dtype)             # Hugging Face's "masked"
    rec = probe_attention(m, {"query": x, "key": x, "value": x, "attn_mask": mask}, keep_weights=False)
    ent = rec.layers[0].normalized_entropy
    assert ent.dtype == torch.float32
    # reference from the same rounded q, k (computed in the model's dtype), softmax in float64
    W, b = m.in_proj_weight.detach(), m.in_proj_bias.detach()
    q = nn.functional.linear(x, W[:E], b[:E]).reshape(B, L, H, D).transpose(1, 2)
    k = nn.functional.linear(x, W[E:2 * E], b[E:2 * E]).reshape(B, L, H, D).transpose(1, 2)
    _same(ent, _reference(q.double(), k.double(), (~_causal_bool).expand(B, H, L, L))[0], 2e-5)
    # kept weights (the module's own, in its dtype): their entropy is summed in float32, not in
    # the model's dtype (a float16 / bfloat16 sum is off by ~1e-3 here)
    kept = probe_attention(m, {"query": x, "key": x, "value": x, "attn_mask": mask}, keep_weights=True).layers[0]
    assert kept.normalized_entropy.dtype == torch.float32 and kept.weights.dtype == dtype
    w = kept.weights.double()
    n = torch.arange(1, L + 1, dtype=torch.float64)
    own = -(torch.where(w > 0, w * torch.log(w), torch.zeros_like(w))).sum(-1) / torch.log(n)
    _same(kept.normalized_entropy, own.masked_fill(n == 1, math.nan), 1e-6)


def test_grad_flows_through_the_streamed_entropy():
    m, x = _mha(), _x(2, L, E)
    rec = probe_attention(m, (x, x, x, None, True, _causal_bool), keep_weights=False, grad=True, block_size=3)
    total = torch.nansum(rec.layers[0].normalized_entropy)
    total.backward()
    assert m.in_proj_weight.grad is not None and float(m.in_proj_weight.grad.abs().sum()) > 0


# -- dispatch and errors ------------------------------------------------------------------------------


def _fake_class(module: str, name: str):
    base = type(name, (nn.Module,), {"forward": lambda self, x: x})
    base.__module__ = module
    return type("Child", (base,), {})


def test_dispatch_to_hugging_face_and_transformer_lens(monkeypatch):
    calls = []
    fake = lambda tag: (lambda model, inputs, **kw: calls.append((tag, model, inputs, kw)) or tag)
    import hjdl.probe.hf as hf
    monkeypatch.setattr(hf, "probe_transformers", fake("hf"))
    lens = types.ModuleType("hjdl.probe.lens")
    lens.probe_lens = fake("lens")
    monkeypatch.setitem(sys.modules, "hjdl.probe.lens", lens)
    import hjdl.probe as pkg
    monkeypatch.setattr(pkg, "lens", lens, raising=False)
    hf_model = _fake_class("transformers.modeling_utils", "PreTrainedModel")()
    lens_model = _fake_class("transformer_lens.HookedTransformer", "HookedTransformer")()
    kw = dict(keep_weights=False, bands=(0.2, 0.7), grad=True, block_size=5, mask_threshold=-1e6)
    assert probe_attention(hf_model, {"input_ids": 1}, **kw) == "hf"
    assert probe_attention(lens_model, "text", **kw) == "lens"
    assert calls == [("hf", hf_model, {"input_ids": 1}, kw), ("lens", lens_model, "text", kw)]
    # a look-alike name from another package is not dispatched
    other = _fake_class("mypackage.models", "PreTrainedModel")()
    with pytest.raises(InputError, match="Child"):
        probe_attention(other, torch.zeros(1))


def test_nothing_to_probe_names_the_class_and_the_supported_models():
    with pytest.raises(InputError) as err:
        probe_attention(nn.Sequential(nn.Linear(3, 3)), torch.zeros(1, 3))
    msg = str(err.value)
    for word in ("Sequential", "MultiheadAttention", "GibbsAttention", "TransformerEncoder", "GPT-2", "BERT",
                 "Llama", "TransformerBridge"):
        assert word in msg, word
    m, x = _mha(), _x(1, 3, E)
    for kw, match in (({"block_size": 0}, "block_size"), ({"mask_threshold": math.nan}, "mask_threshold"),
                      ({"keep_weights": "yes"}, "keep_weights")):
        with pytest.raises(InputError, match=match):
            probe_attention(m, (x, x, x), **kw)


def test_import_hjdl_does_not_import_transformers():
    code = "import sys, hjdl, hjdl.probe; print('transformers' in sys.modules, 'transformer_lens' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_learned_temperature_receives_a_gradient_through_the_probe():
    torch.manual_seed(0)
    att = GibbsAttention(E, H, learn_eps=True, dtype=torch.float64)
    x = _x(2, L, E)
    rec = probe_attention(att, x, keep_weights=False, grad=True, block_size=2)
    torch.nansum(rec.layers[0].normalized_entropy).backward()
    assert att.log_eps.grad is not None and bool((att.log_eps.grad != 0).all())


def test_streaming_probe_allocates_no_full_weights_tensor():
    """Largest tensor any op produces (the tracker of test_probe_stream): the fused encoder path never
    shows a (B, H, L, L) tensor, and the streaming probe adds none; keep_weights=True does (detected)."""
    from test_probe_stream import _Largest
    torch.manual_seed(0)
    b, h, n, e = 2, 4, 64, 16
    layer = nn.TransformerEncoderLayer(e, h, 32, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2).eval()
    x = torch.randn(b, n, e)
    pad = torch.zeros(b, n, dtype=torch.bool)
    pad[1, 40:] = True
    full = b * h * n * n
    for model, inp in ((layer.eval(), x), (enc, {"src": x, "src_key_padding_mask": pad})):
        with torch.no_grad(), _Largest() as m:
            model(**inp) if isinstance(inp, dict) else model(inp)
        base = m.largest
        with _Largest() as m:
            probe_attention(model, inp, keep_weights=False, block_size=4)
        assert m.largest <= max(base, b * h * 4 * n) < full
        with _Largest() as m:
            probe_attention(model, inp, keep_weights=True, block_size=4)
        assert m.largest == full


def test_entropy_names_mean_one_thing_nats_and_normalised():
    """``entropy`` is H(π) in nats (as Attribution.entropy and LSELayer.entropy), ``normalized_entropy``
    is H/log(visible keys): both against a dense float64 softmax written here (issue 17 B)."""
    m, x = _mha(), _x(B, L, E)
    kw = {"attn_mask": _causal_bool}
    rec = probe_attention(m, {"query": x, "key": x, "value": x, **kw}, block_size=3)
    q, k = _qk(m, x, x)
    z = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    p = torch.softmax(z.masked_fill(_causal_bool, -math.inf), -1)
    nats = -(p * torch.log(torch.where(p > 0, p, torch.ones_like(p)))).sum(-1)          # (B, H, L)
    layer = rec.layers[0]
    assert torch.allclose(layer.entropy, nats, atol=1e-10)                              # 0 at the first query
    assert torch.allclose(layer.head_entropy, nats.transpose(0, 1).reshape(H, -1).mean(1), atol=1e-10)
    n = (~_causal_bool).sum(-1).to(torch.float64)
    norm = torch.where(n > 1, nats / torch.log(n.clamp_min(2)), torch.full_like(nats, math.nan))
    _same(layer.normalized_entropy, norm, 1e-10)
    assert not torch.allclose(layer.entropy[..., 2:], layer.normalized_entropy[..., 2:])   # they differ
    assert torch.allclose(rec.head_entropies()[0], layer.head_entropy)
    g = GibbsAttention(E, H, batch_first=True).double()
    w = g.gibbs_weights(x, attn_mask=_causal_bool)
    own = -(w * torch.log(torch.where(w > 0, w, torch.ones_like(w)))).sum(-1)
    assert torch.allclose(g.entropy(x, attn_mask=_causal_bool), own, atol=1e-12)
    assert torch.allclose(g.normalized_entropy(x, attn_mask=_causal_bool)[..., 1:], (own / torch.log(n))[..., 1:],
                          atol=1e-12)
