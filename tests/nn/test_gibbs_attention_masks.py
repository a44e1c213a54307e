"""GibbsAttention with finite additive masks: a key masked by -1e4, -1e9 or finfo.min is hidden,
as by -inf or a bool mask; compared with torch.nn.MultiheadAttention (an independent kernel) and
with the entropy written out here from the visible keys."""

from __future__ import annotations

import math

import pytest
import torch

from hjdl.nn.attention import GibbsAttention, attention_allowed

E, H, B, L = 8, 2, 2, 5


def _pair():
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64)
    return mha, GibbsAttention.from_torch(mha)


def _pad(value):
    m = torch.zeros(B, L, dtype=torch.float64)
    m[0, 3:] = value
    m[1, 1:2] = value
    return m


@pytest.mark.parametrize("value", [-1e4, -1e9, torch.finfo(torch.float64).min, -math.inf])
def test_float_key_padding_mask_matches_mha_and_counts_only_visible_keys(value):
    mha, gibbs = _pair()
    x = torch.randn(B, L, E, dtype=torch.float64)
    pad = _pad(value)
    _, w_ref = mha(x, x, x, key_padding_mask=pad, need_weights=True, average_attn_weights=False)
    w = gibbs.gibbs_weights(x, key_padding_mask=pad)
    assert torch.allclose(w, w_ref, atol=1e-12)
    visible = (pad > -1e4).sum(-1).double()[:, None, None]            # 2 and 4 keys
    expected = -torch.xlogy(w_ref, w_ref).sum(-1) / torch.log(visible)
    assert torch.allclose(gibbs.normalized_entropy(x, key_padding_mask=pad), expected, atol=1e-12)


def test_float_attn_mask_finite_large_negative_is_hidden():
    mha, gibbs = _pair()
    x = torch.randn(B, L, E, dtype=torch.float64)
    am = torch.zeros(L, L, dtype=torch.float64)
    am[:, 0] = -1e9
    am[2, 1] = -0.5                                                     # a real bias stays a bias
    _, w_ref = mha(x, x, x, attn_mask=am, need_weights=True, average_attn_weights=False)
    assert torch.allclose(gibbs.gibbs_weights(x, attn_mask=am), w_ref, atol=1e-12)
    ent = gibbs.normalized_entropy(x, attn_mask=am)
    assert torch.allclose(ent, -torch.xlogy(w_ref, w_ref).sum(-1) / math.log(L - 1), atol=1e-12)


def test_attention_allowed_threshold():
    am = torch.tensor([[0.0, -2.0, -1e4, -1e9]])
    allowed = attention_allowed(1, 1, 1, 4, attn_mask=am)
    assert allowed.reshape(-1).tolist() == [True, True, False, False]


def test_float_key_padding_bias_above_the_threshold_is_added_like_mha():
    mha, gibbs = _pair()
    x = torch.randn(B, L, E, dtype=torch.float64)
    pad = _pad(-0.7)                                                    # a bias, not a mask
    _, w_ref = mha(x, x, x, key_padding_mask=pad, need_weights=True, average_attn_weights=False)
    assert torch.allclose(gibbs.gibbs_weights(x, key_padding_mask=pad), w_ref, atol=1e-12)
    assert torch.allclose(gibbs.normalized_entropy(x, key_padding_mask=pad),
                          -torch.xlogy(w_ref, w_ref).sum(-1) / math.log(L), atol=1e-12)
