"""GibbsAttention against torch.nn.MultiheadAttention, the attention probe, the LSE block (THEORY §8)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from hjdl.errors import EpsilonError, InputError, ShapeError
from hjdl.nn.attention import GibbsAttention, LSETransformerBlock
from hjdl.probe import probe_attention, regime

E, H = 12, 3


def _mha(batch_first=True, seed=0):
    torch.manual_seed(seed)
    m = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, dtype=torch.float64)
    with torch.no_grad():  # non-zero biases so they are exercised
        m.in_proj_bias.normal_()
        m.out_proj.bias.normal_()
    return m


def _x(*shape, seed=1):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("batch_first", [True, False])
def test_equals_multihead_attention_self_and_cross(batch_first):
    mha = _mha(batch_first)
    att = GibbsAttention.from_torch(mha)
    assert torch.allclose(att.eps, torch.full((H,), math.sqrt(E // H), dtype=torch.float64))
    q, kv = (_x(2, 5, E), _x(2, 7, E, seed=2)) if batch_first else (_x(5, 2, E), _x(7, 2, E, seed=2))
    for args in ((q, q, q), (q, kv, kv)):
        o1, w1 = att(*args, average_attn_weights=False)
        o2, w2 = mha(*args, average_attn_weights=False)
        assert torch.allclose(o1, o2, atol=1e-12) and torch.allclose(w1, w2, atol=1e-12)
        assert torch.allclose(att(*args)[1], mha(*args)[1], atol=1e-12)   # head-averaged


def test_equals_multihead_attention_with_masks_and_unbatched():
    mha, x = _mha(), _x(2, 6, E)
    att = GibbsAttention.from_torch(mha)
    causal_float = torch.nn.Transformer.generate_square_subsequent_mask(6, dtype=torch.float64)
    causal_bool = torch.ones(6, 6, dtype=torch.bool).triu(1)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    per_head = torch.zeros(2 * H, 6, 6, dtype=torch.float64).normal_(generator=torch.Generator().manual_seed(3))
    for kw in ({"attn_mask": causal_float}, {"attn_mask": causal_bool}, {"key_padding_mask": pad},
               {"attn_mask": causal_bool, "key_padding_mask": pad}, {"attn_mask": per_head}):
        o1, w1 = att(x, x, x, average_attn_weights=False, **kw)
        o2, w2 = mha(x, x, x, average_attn_weights=False, **kw)
        assert torch.allclose(o1, o2, atol=1e-12), kw
        assert torch.allclose(w1, w2, atol=1e-12), kw
    o1, w1 = att(x, x, x, is_causal=True, average_attn_weights=False)
    o2, _ = mha(x, x, x, attn_mask=causal_bool)
    assert torch.allclose(o1, o2, atol=1e-12) and float(w1.detach().triu(1).abs().max()) == 0.0
    u = x[0]
    assert torch.allclose(att(u, u, u)[0], mha(u, u, u)[0], atol=1e-12)


def test_weights_are_softmax_at_temperature_and_hard_limit():
    x = _x(1, 4, E)
    att = GibbsAttention(E, H, eps=[0.5, 2.0, 0.0], dtype=torch.float64)
    with torch.no_grad():
        q, k, _ = att._project(x, x, x)
        w = att.gibbs_weights(x)
    scores = (q @ k.transpose(-1, -2)).numpy()
    for h, eps in enumerate([0.5, 2.0]):   # independent softmax in NumPy
        ref = np.exp(scores[:, h] / eps - logsumexp(scores[:, h] / eps, axis=-1, keepdims=True))
        assert np.allclose(w[:, h].numpy(), ref, atol=1e-13)
    hard = w[:, 2]
    assert torch.equal(hard.argmax(-1), torch.from_numpy(scores[:, 2].argmax(-1)))
    assert torch.allclose(hard.max(-1).values, torch.ones(1, 4, dtype=torch.float64))
    ent = att.normalized_entropy(x).detach()
    assert ent.shape == (1, H, 4) and float(ent[:, 2].abs().max()) == 0.0
    assert bool((ent[:, 0] <= 1 + 1e-12).all()) and bool((ent >= 0).all())


def test_learned_eps_receives_gradients_and_state_dict_round_trip():
    att = GibbsAttention(E, H, learn_eps=True, dtype=torch.float64)
    x = _x(2, 5, E)
    att(x)[0].square().sum().backward()
    assert att.log_eps.grad is not None and att.log_eps.grad.shape == (H,)
    other = GibbsAttention(E, H, learn_eps=True, dtype=torch.float64)
    other.load_state_dict(att.state_dict())
    assert torch.equal(other(x)[0], att(x)[0])


def test_bad_arguments_are_named():
    with pytest.raises(InputError, match="num_heads"):
        GibbsAttention(10, 3)
    with pytest.raises(EpsilonError, match="eps"):
        GibbsAttention(E, H, eps=-1.0)
    with pytest.raises(EpsilonError, match="learnable"):
        GibbsAttention(E, H, eps=0.0, learn_eps=True)
    with pytest.raises(ShapeError, match="query"):
        GibbsAttention(E, H)(torch.zeros(2, 3, E + 1))
    with pytest.raises(InputError, match="model"):
        probe_attention(torch.nn.Linear(3, 3), torch.zeros(1, 3))
    with pytest.raises(InputError, match="bands"):
        probe_attention(_mha(), (_x(1, 2, E),) * 3, bands=(0.7, 0.2))


class _TwoCalls(torch.nn.Module):
    """One MHA called twice (call order), one GibbsAttention, a caller that asks for no weights."""

    def __init__(self):
        super().__init__()
        self.a = _mha(seed=4)
        self.b = GibbsAttention(E, H, eps=[0.3, 1.0, 3.0], dtype=torch.float64)

    def forward(self, x, mask=None):
        y = x + self.a(x, x, x, need_weights=False, attn_mask=mask)[0]
        y = y + self.b(y, y, y, attn_mask=mask)[0]
        w = self.a(y, y, y)[1]   # the caller uses head-averaged weights: must be unchanged
        return y + w.sum(), w


def test_probe_records_every_call_in_order_and_leaves_the_model_unchanged():
    model, x = _TwoCalls(), _x(2, 5, E)
    mask = torch.ones(5, 5, dtype=torch.bool).triu(1)
    ref_out, ref_w = model(x, mask)
    rec = probe_attention(model, (x, mask))
    out, w = rec.output
    # equal up to rounding: asked for weights, MultiheadAttention takes its explicit-softmax kernel
    assert torch.allclose(out, ref_out, atol=1e-13) and torch.allclose(w, ref_w, atol=1e-14)
    assert [layer.name for layer in rec.layers] == ["a", "b", "a"]
    assert [layer.kind for layer in rec.layers] == ["MultiheadAttention", "GibbsAttention", "MultiheadAttention"]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    # oracle for the weights: call the modules directly
    direct = model.a(x, x, x, attn_mask=mask, average_attn_weights=False)[1]
    assert torch.allclose(rec.layers[0].weights, direct, atol=1e-14)
    assert torch.allclose(rec.layers[1].eps, torch.tensor([0.3, 1.0, 3.0], dtype=torch.float64))
    assert torch.allclose(rec.layers[0].eps, torch.full((H,), 2.0, dtype=torch.float64))
    # entropy normalised by log(visible keys) = log(i + 1); the first query sees one key: NaN
    p = direct.detach().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        H_np = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0).sum(-1)
        expected = H_np / np.log(np.arange(1, 6))
    ent = rec.layers[0].normalized_entropy.numpy()
    assert np.isnan(ent[..., 0]).all()
    assert np.allclose(ent[..., 1:], expected[..., 1:], atol=1e-12)
    assert np.allclose(rec.layers[0].head_normalized_entropy.numpy(), np.nanmean(expected[..., 1:], axis=(0, 2)))
    assert rec.layers[0].regime == [regime(v) for v in rec.layers[0].head_normalized_entropy.tolist()]


def test_probe_regimes_follow_temperature_and_padding():
    # tiny eps -> particle heads, huge eps -> wave heads (falsifiable: the bands could be misordered)
    torch.manual_seed(0)
    att = GibbsAttention(E, H, eps=[1e-3, 1.0, 1e3], dtype=torch.float64)
    x = _x(3, 8, E)
    pad = torch.zeros(3, 8, dtype=torch.bool)
    pad[1, 5:] = True
    rec = probe_attention(att, {"query": x, "key": x, "value": x, "key_padding_mask": pad})
    layer = rec.layers[0]
    assert layer.regime[0] == "particle" and layer.regime[2] == "wave"
    assert float(layer.weights[1, :, :, 5:].abs().max()) == 0.0
    assert float(layer.normalized_entropy[:, 2].min()) > 0.99   # near-uniform over the 8 (or 5) visible keys
    assert rec.fractions()["particle"] == pytest.approx(1 / 3)


def test_lse_block_equals_its_definition():
    torch.manual_seed(0)
    block = LSETransformerBlock(E, H, width=5, eps=0.7, causal=True, t=0.8, dtype=torch.float64)
    mha = _mha()
    block.attn = GibbsAttention.from_torch(mha)   # same weights; oracle uses nn.MultiheadAttention
    x = _x(2, 6, E)
    mask = torch.ones(6, 6, dtype=torch.bool).triu(1)
    with torch.no_grad():
        z = block.norm1(x)
        y = x + mha(z, z, z, attn_mask=mask)[0]
        z2 = block.norm2(y).numpy()
        W, b = block.ffn_weight.numpy(), block.ffn_bias.numpy()
        logits = np.einsum("bld,knd->blkn", z2, W) + b
        ffn = 0.7 * logsumexp(logits / 0.7, axis=-1)
        expected = y.numpy() + ffn
        assert np.allclose(block(x).numpy(), expected, atol=1e-12)
        # T3 per unit, u_k from its definition over the atoms y = 2tW, g = −b − t|W|²
        t = 0.8
        atoms, values = 2 * t * W, -b - t * (W ** 2).sum(-1)
        d2 = ((z2[:, :, None, None, :] - atoms[None, None]) ** 2).sum(-1)
        u = -0.7 * logsumexp(-(values + d2 / (4 * t)) / 0.7, axis=-1)
        assert np.allclose(block.ffn(torch.from_numpy(z2)).numpy(),
                           (z2 ** 2).sum(-1)[..., None] / (4 * t) - u, atol=1e-12)
    assert float(block.ffn_identity_error(torch.from_numpy(z2))) < 1e-12
    with pytest.raises(ShapeError, match="x: expected shape"):
        block(torch.zeros(2, 3))
    with pytest.raises(EpsilonError, match="eps"):
        LSETransformerBlock(E, H, eps=0.0)


def test_probe_reads_gibbs_attention_inside_lse_blocks_with_causal_flag():
    torch.manual_seed(0)
    model = torch.nn.Sequential(LSETransformerBlock(E, H, width=3, causal=True, dtype=torch.float64),
                                LSETransformerBlock(E, H, width=3, attn_eps=[0.5, 1.0, 4.0], causal=True,
                                                    dtype=torch.float64))
    x = _x(2, 5, E)
    rec = probe_attention(model, x)
    assert [layer.name for layer in rec.layers] == ["0.attn", "1.attn"]
    assert torch.allclose(rec.layers[1].eps, torch.tensor([0.5, 1.0, 4.0], dtype=torch.float64))
    for layer in rec.layers:
        assert float(layer.weights.triu(1).abs().max()) == 0.0          # causal
        assert torch.allclose(layer.weights.sum(-1), torch.ones(2, H, 5, dtype=torch.float64))
        assert torch.isnan(layer.normalized_entropy[..., 0]).all() and not torch.isnan(layer.normalized_entropy[..., 1:]).any()
    # the probe's per-query entropy equals the module's own entropy method (two code paths)
    z = model[0].norm1(x)
    own = model[0].attn.normalized_entropy(z, is_causal=True).detach()
    assert torch.allclose(rec.layers[0].normalized_entropy[..., 1:], own[..., 1:], atol=1e-12)
    assert torch.allclose(rec.output, model(x).detach(), atol=1e-13)


def test_gibbs_attention_gradcheck():
    torch.manual_seed(0)
    att = GibbsAttention(4, 2, learn_eps=True, dtype=torch.float64)
    x = _x(1, 3, 4).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: att(v, v, v, is_causal=True)[0], (x,))
    assert torch.autograd.gradcheck(lambda le: torch.func.functional_call(
        att, {"log_eps": le}, (x.detach(),))[0], (att.log_eps.detach().clone().requires_grad_(True),))
