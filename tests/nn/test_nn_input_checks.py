"""Input checks of the ``hjdl.nn`` modules (issue 16, item 5): bad input raises an hjdl error
naming the user's argument; legal edge cases (empty sequences, other dtypes) give the value of an
independent computation."""

from __future__ import annotations

import math

import pytest
import torch

from hjdl.errors import HJError, InputError, NonFiniteError, ShapeError
from hjdl.nn import GibbsAttention, LSELayer, LSENetwork, LSETransformerBlock, MaxAffine, SoftplusLayer

NAN = float("nan")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _att():
    torch.manual_seed(0)
    return GibbsAttention(4, 2)


X = torch.randn(2, 3, 4, generator=_gen(1))

# (id, callable, expected error class, a word the message must contain)
BAD = [
    ("attn-nan-query", lambda: _att()(X * NAN), NonFiniteError, "query"),
    ("attn-inf-key", lambda: _att()(X, X.clone().fill_(math.inf), X), NonFiniteError, "key"),
    ("attn-nan-value", lambda: _att()(X, X, X.clone().fill_(NAN)), NonFiniteError, "value"),
    ("attn-complex", lambda: _att()(X.to(torch.complex64)), InputError, "query"),
    ("attn-kv-lengths", lambda: _att()(X, torch.randn(2, 5, 4), torch.randn(2, 4, 4)), ShapeError, "value"),
    ("attn-batch", lambda: _att()(X, torch.randn(3, 5, 4), torch.randn(3, 5, 4)), ShapeError, "batch"),
    ("attn-width", lambda: _att()(torch.randn(2, 3, 5)), ShapeError, "query"),
    ("attn-mask-shape", lambda: _att()(X, attn_mask=torch.zeros(3, 2, dtype=torch.bool)), ShapeError, "attn_mask"),
    ("attn-mask-int", lambda: _att()(X, attn_mask=torch.zeros(3, 3, dtype=torch.int64)), InputError, "attn_mask"),
    ("attn-mask-nan", lambda: _att()(X, attn_mask=torch.full((3, 3), NAN)), NonFiniteError, "attn_mask"),
    ("attn-mask-list", lambda: _att()(X, attn_mask=[[0.0] * 3] * 3), InputError, "attn_mask"),
    ("attn-kpm-int", lambda: _att()(X, key_padding_mask=torch.zeros(2, 3, dtype=torch.int64)), InputError,
     "key_padding_mask"),
    ("attn-kpm-shape", lambda: _att()(X, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool)), ShapeError,
     "key_padding_mask"),
    ("attn-dtype-int", lambda: GibbsAttention(4, 2, dtype=torch.int64), InputError, "dtype"),
    ("attn-dtype-complex", lambda: GibbsAttention(4, 2, dtype=torch.complex64), InputError, "dtype"),
    ("block-nan", lambda: LSETransformerBlock(4, 2)(X * NAN), NonFiniteError, "x"),
    ("block-width", lambda: LSETransformerBlock(4, 2)(torch.randn(2, 3, 5)), ShapeError, "x"),
    ("block-dtype-int", lambda: LSETransformerBlock(4, 2, dtype=torch.int32), InputError, "dtype"),
    ("block-dtype-word", lambda: LSETransformerBlock(4, 2, dtype="int8"), InputError, "dtype"),
    ("network-width", lambda: LSENetwork(3, hidden=(4,), width=2)(torch.zeros(5, 2)), ShapeError, "x"),
    ("network-width-nohidden", lambda: LSENetwork(3, width=2)(torch.zeros(5, 2)), ShapeError,
     "LSENetwork(in_features=3)"),
    ("network-nan", lambda: LSENetwork(2, hidden=(4,), width=2)(torch.full((5, 2), NAN)), NonFiniteError, "x"),
    ("softplus-width", lambda: SoftplusLayer(3, 2)(torch.zeros(4, 2)), ShapeError, "h"),
    ("softplus-nan", lambda: SoftplusLayer(3, 2)(torch.full((4, 3), NAN)), NonFiniteError, "h"),
    ("softplus-complex", lambda: SoftplusLayer(3, 2)(torch.zeros(4, 3, dtype=torch.complex64)), InputError, "h"),
    ("softplus-string", lambda: SoftplusLayer(3, 2)("abc"), InputError, "h"),
    ("layer-dtype-int", lambda: LSELayer(2, 3, dtype=torch.int64), InputError, "dtype"),
    ("layer-dtype-bool", lambda: LSELayer(2, 3, dtype=torch.bool), InputError, "dtype"),
    ("layer-nan", lambda: LSELayer(2, 3)(torch.full((4, 2), NAN)), NonFiniteError, "x"),
    ("maxaffine-dtype-complex", lambda: MaxAffine(2, 3, dtype=torch.complex128), InputError, "dtype"),
    ("network-dtype-int", lambda: LSENetwork(2, width=3, dtype=torch.int16), InputError, "dtype"),
    ("from-weights-nan", lambda: MaxAffine.from_weights(torch.tensor([[NAN, 1.0]]), torch.zeros(1)),
     NonFiniteError, "weight"),
    ("from-weights-bias-inf", lambda: MaxAffine.from_weights(torch.ones(2, 1), torch.tensor([0.0, math.inf])),
     NonFiniteError, "bias"),
    ("from-weights-bias-shape", lambda: MaxAffine.from_weights(torch.ones(2, 1), torch.zeros(3)), ShapeError, "bias"),
    ("from-weights-1d", lambda: MaxAffine.from_weights(torch.ones(2), torch.zeros(2)), ShapeError, "weight"),
    ("from-weights-empty", lambda: MaxAffine.from_weights(torch.ones(0, 2), torch.zeros(0)), ShapeError, "weight"),
]


@pytest.mark.parametrize("make, error, word", [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_input_raises_an_hjdl_error_naming_the_argument(make, error, word):
    with pytest.raises(error) as info:
        make()
    assert isinstance(info.value, (HJError, ValueError))
    assert word in str(info.value)


@pytest.mark.parametrize("name, dtype", [("float32", torch.float32), ("torch.float64", torch.float64),
                                         ("float16", torch.float16)])
def test_dtype_given_by_name_is_converted(name, dtype):
    for module in (LSELayer(2, 3, dtype=name), MaxAffine(2, 3, dtype=name), SoftplusLayer(2, 3, dtype=name),
                   LSENetwork(2, hidden=(3,), width=2, dtype=name), GibbsAttention(4, 2, dtype=name),
                   LSETransformerBlock(4, 2, dtype=name)):
        assert {p.dtype for p in module.parameters()} == {dtype}


def test_attention_with_no_keys_gives_zero_weights_and_the_output_bias():
    att = _att()
    with torch.no_grad():
        att.out_proj.bias.copy_(torch.arange(4.0))
    out, w = att(X, torch.zeros(2, 0, 4), torch.zeros(2, 0, 4))
    assert w.shape == (2, 3, 0)
    # zero weights: the heads read nothing, W_o · 0 + b_o = b_o (the all-masked convention)
    torch.testing.assert_close(out, torch.arange(4.0).expand(2, 3, 4))


def test_attention_and_block_with_an_empty_sequence_give_an_empty_output():
    out, w = _att()(torch.zeros(2, 0, 4))
    assert out.shape == (2, 0, 4) and w.shape == (2, 0, 0)
    assert LSETransformerBlock(4, 2)(torch.zeros(3, 0, 4)).shape == (3, 0, 4)


def test_attention_evaluates_float64_input_in_float64_like_torch():
    torch.manual_seed(3)
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)  # d_head = 4: eps = 2 exactly in float32
    att = GibbsAttention.from_torch(mha)                       # float32 parameters
    x = torch.randn(2, 5, 8, dtype=torch.float64, generator=_gen(4))
    out, _ = att(x)
    ref, _ = mha.double()(x, x, x)                             # torch's own kernel, float64 weights
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)


def test_attention_float_mask_of_another_dtype_equals_torch():
    torch.manual_seed(5)
    mha = torch.nn.MultiheadAttention(4, 2, batch_first=True)
    att = GibbsAttention.from_torch(mha)
    mask = torch.randn(3, 3, dtype=torch.float64, generator=_gen(6))
    ours, _ = att(X, attn_mask=mask)
    ref, _ = mha(X, X, X, attn_mask=mask.float())
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


def test_unbatched_key_padding_mask_of_shape_K_as_torch():
    torch.manual_seed(7)
    mha = torch.nn.MultiheadAttention(4, 2, batch_first=True)
    att = GibbsAttention.from_torch(mha)
    kpm = torch.tensor([False, True, False])
    ours, _ = att(X[0], key_padding_mask=kpm)
    ref, _ = mha(X[0], X[0], X[0], key_padding_mask=kpm)
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


def test_block_evaluates_float64_input_like_the_float64_block():
    torch.manual_seed(8)
    block = LSETransformerBlock(8, 2, width=3)  # d_head = 4: the attention eps = 2 is exact in float32
    x = torch.randn(2, 5, 8, dtype=torch.float64, generator=_gen(9))
    out = block(x)
    ref = block.double()(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)


def test_softplus_layer_float64_input_against_torch_softplus():
    layer = SoftplusLayer(3, 2, eps=0.25, generator=_gen(10))      # float32 parameters
    h = torch.randn(6, 3, dtype=torch.float64, generator=_gen(11))
    W, b = layer.weight.detach().double(), layer.bias.detach().double()
    ref = torch.nn.functional.softplus(h @ W.T + b, beta=4.0)       # eps log(1 + e^{z/eps})
    out = layer(h)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)


def test_network_accepts_numpy_and_integer_input():
    net = LSENetwork(2, hidden=(3,), width=2, dtype=torch.float64, generator=_gen(12))
    xi = torch.tensor([[1, 2], [3, -4]])
    torch.testing.assert_close(net(xi), net(xi.double()))
    torch.testing.assert_close(net(xi.numpy()), net(xi.double()))


def test_from_weights_takes_the_common_dtype():
    m = MaxAffine.from_weights(torch.tensor([[1.0], [-1.0]], dtype=torch.float64), torch.zeros(2))
    assert m.weight.dtype == torch.float64 and m.bias.dtype == torch.float64
    torch.testing.assert_close(m(torch.tensor([[-3.0]], dtype=torch.float64)), torch.tensor([3.0], dtype=torch.float64))
