"""The streaming entropy primitive hjdl.probe._stream.gibbs_entropy against a dense float64 oracle.

The oracle (``_dense``) is written here independently: full (B, H, Q, K) logits in float64,
``-inf`` on masked keys, ``torch.softmax``, ``-Σ p log p`` and the count of visible keys.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from hjdl.errors import InputError, ShapeError
from hjdl.probe._stream import additive_to_allowed, gibbs_entropy


def _randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def _dense(q, k, scale, allowed=None, bias=None, softcap=None):
    """Reference: float64, materialised, keys repeated per query head."""
    q, k = q.double(), k.double()
    H, Hk = q.shape[1], k.shape[1]
    k = k.repeat_interleave(H // Hk, dim=1)
    s = torch.as_tensor(scale, dtype=torch.float64).reshape(-1)
    s = s.expand(H) if s.numel() == 1 else s
    z = (q @ k.transpose(-1, -2)) * s[None, :, None, None]
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    if bias is not None:
        z = z + bias.double()
    if allowed is not None:
        z = z.masked_fill(~allowed, -math.inf)
    p = torch.softmax(z, -1)
    p = torch.nan_to_num(p, nan=0.0)                         # rows with no visible key
    plogp = torch.where(p > 0, p * torch.log(torch.where(p > 0, p, torch.ones_like(p))), torch.zeros_like(p))
    ent = -plogp.sum(-1)
    n = torch.isfinite(z).sum(-1)
    norm = torch.where(n > 1, ent / torch.log(n.clamp_min(2).double()), torch.full_like(ent, math.nan))
    return norm, n, p


def _close(a, b, atol):
    a, b = a.double(), b.double()
    assert torch.equal(torch.isnan(a), torch.isnan(b))
    assert torch.allclose(torch.nan_to_num(a), torch.nan_to_num(b), atol=atol, rtol=0), \
        float((torch.nan_to_num(a) - torch.nan_to_num(b)).abs().max())


B, H, Q, K, D = 2, 4, 7, 9, 5


def _masks():
    causal = torch.ones(Q, K, dtype=torch.bool).tril(K - Q)
    pad = torch.ones(B, 1, 1, K, dtype=torch.bool)
    pad[1, ..., :3] = False
    rnd = torch.rand(B, H, Q, K, generator=torch.Generator().manual_seed(5)) > 0.4
    rnd[..., 0, :] = False                                    # a query that sees nothing
    rnd[..., 1, :] = False
    rnd[..., 1, 2] = True                                     # one that sees one key
    return {"none": None, "causal": causal, "padding": pad, "causal_pad": causal & pad, "random": rnd}


@pytest.mark.parametrize("mask", list(_masks()))
def test_equals_dense_float64_reference_for_every_block_size(mask):
    q, k = _randn(B, H, Q, D), _randn(B, H, K, D, seed=1)
    allowed = _masks()[mask]
    bias = _randn(1, H, Q, K, seed=2)                          # an ALiBi-like finite bias
    scale = torch.tensor([0.3, 0.5, 1.0, 2.0], dtype=torch.float64)
    ref, n, p = _dense(q, k, scale, allowed, bias)
    outs = [gibbs_entropy(q, k, scale=scale, allowed=allowed, bias=bias, block_size=bs, keep_weights=True)
            for bs in (1, 3, 1000)]
    for out in outs:
        _close(out.normalized_entropy, ref, 1e-12)
        assert torch.equal(out.visible.expand(B, H, Q), n)
        assert torch.allclose(out.weights, p, atol=1e-14)
        assert torch.allclose(out.eps, 1 / scale)
    # identical across block sizes (same arithmetic per row)
    assert all(torch.equal(torch.nan_to_num(outs[0].normalized_entropy, 9.0), torch.nan_to_num(o.normalized_entropy, 9.0))
               for o in outs[1:])
    if mask == "random":
        assert torch.isnan(outs[0].normalized_entropy[..., :2]).all() and torch.equal(outs[0].weights[..., 0, :],
                                                                          torch.zeros(B, H, K, dtype=torch.float64))


def test_grouped_query_attention_equals_repeated_keys():
    q, k = _randn(B, 6, Q, D), _randn(B, 2, K, D, seed=3)
    explicit = k.repeat_interleave(3, dim=1)
    a = gibbs_entropy(q, k, scale=0.7, block_size=2, keep_weights=True)
    b = gibbs_entropy(q, explicit, scale=0.7, block_size=2, keep_weights=True)
    assert torch.allclose(a.normalized_entropy, b.normalized_entropy, atol=1e-14) and torch.allclose(a.weights, b.weights, atol=1e-15)
    _close(a.normalized_entropy, _dense(q, k, 0.7)[0], 1e-12)
    # the wrong grouping (h % Hk instead of h // G) gives other numbers: the check can fail
    wrong = k.repeat(1, 3, 1, 1)
    assert not torch.allclose(gibbs_entropy(q, wrong, scale=0.7).normalized_entropy, a.normalized_entropy, atol=1e-3)


def test_callable_masks_and_bias_equal_tensors_and_see_only_their_block():
    q, k = _randn(1, 2, 10, 4), _randn(1, 2, 10, 4, seed=1)
    window = 3
    i, j = torch.arange(10)[:, None], torch.arange(10)[None, :]
    full = (j <= i) & (j > i - window)
    slopes = torch.tensor([0.5, 0.25], dtype=torch.float64)[:, None, None]
    alibi = -slopes * (i - j).abs()
    seen = []

    def allowed(q0, q1):
        seen.append((q0, q1))
        r = torch.arange(q0, q1)[:, None]
        return (j <= r) & (j > r - window)

    out = gibbs_entropy(q, k, scale=0.5, allowed=allowed, bias=lambda q0, q1: alibi[:, q0:q1], block_size=4)
    assert seen == [(0, 4), (4, 8), (8, 10)]
    ref = _dense(q, k, 0.5, full, alibi)[0]
    _close(out.normalized_entropy, ref, 1e-12)
    assert out.visible[0, 0].tolist() == [1, 2, 3, 3, 3, 3, 3, 3, 3, 3]


def test_softcap_and_infinite_bias():
    q, k = 3 * _randn(B, H, Q, D), _randn(B, H, K, D, seed=1)
    bias = torch.zeros(B, 1, Q, K, dtype=torch.float64)
    bias[..., -2:] = -math.inf                              # -inf in a bias masks the key too
    out = gibbs_entropy(q, k, scale=1.0, bias=bias, softcap=2.0, block_size=3)
    ref, n, _ = _dense(q, k, 1.0, None, bias, softcap=2.0)
    _close(out.normalized_entropy, ref, 1e-12)
    assert int(out.visible.max()) == K - 2 and torch.equal(out.visible, n)
    assert not torch.allclose(out.normalized_entropy, gibbs_entropy(q, k, scale=1.0, bias=bias).normalized_entropy, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_accumulate_in_float32(dtype):
    # many keys and sharp-ish heads: a float16 / bfloat16 accumulation of Σ p log p is visibly off
    Kn = 2000
    q, k = _randn(1, 2, 8, 16, dtype=dtype), _randn(1, 2, Kn, 16, seed=1, dtype=dtype)
    out = gibbs_entropy(q, k, scale=0.25, block_size=3, keep_weights=True)
    assert out.normalized_entropy.dtype == torch.float32 and out.weights.dtype == dtype
    ref = _dense(q, k, 0.25)[0]                                # same rounded inputs, float64 maths
    _close(out.normalized_entropy, ref, 2e-6)
    # the same computation held in the half dtype fails this tolerance (what the upcast buys)
    z = (q @ k.transpose(-1, -2)) * torch.tensor(0.25, dtype=dtype)
    p = torch.softmax(z, -1)
    low = -(p * torch.log(p.clamp_min(torch.finfo(dtype).tiny))).sum(-1) / math.log(Kn)
    assert float((low.double() - ref).abs().max()) > 1e-4


class _Largest(TorchDispatchMode):
    """Records the largest number of elements of any tensor an op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else (out,)):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_peak_memory_is_one_block_not_the_full_weights():
    b, h, q_len, k_len, d = 2, 3, 64, 64, 8
    q, k = _randn(b, h, q_len, d, dtype=torch.float32), _randn(b, h, k_len, d, seed=1, dtype=torch.float32)
    causal = lambda q0, q1: torch.arange(k_len)[None, :] <= torch.arange(q0, q1)[:, None]
    full = b * h * q_len * k_len
    with _Largest() as m:
        gibbs_entropy(q, k, scale=0.3, allowed=causal, block_size=4)
    assert m.largest <= max(b * h * 4 * k_len, q.numel(), k.numel()) < full   # a block, or the inputs
    with _Largest() as m:                                       # the probe notices a full materialisation
        gibbs_entropy(q, k, scale=0.3, allowed=causal, block_size=4, keep_weights=True)
    assert m.largest == full
    with _Largest() as m:                                       # default block: ~32 MB, here all queries
        out = gibbs_entropy(q, k, scale=0.3)
    assert m.largest == full and out.normalized_entropy.shape == (b, h, q_len)


def test_additive_to_allowed_thresholds():
    m = torch.tensor([0.0, -3.0, -1e4 + 1, -1e4, -1e9, torch.finfo(torch.float32).min, -math.inf])
    allowed, bias = additive_to_allowed(m)
    assert allowed.tolist() == [True, True, True, False, False, False, False]
    assert bias.tolist() == [0.0, -3.0, -1e4 + 1, 0.0, 0.0, 0.0, 0.0]
    allowed, _ = additive_to_allowed(m, threshold=-10.0)
    assert allowed.tolist() == [True, True, False, False, False, False, False]
    for bad, match in ((torch.tensor([0.0, math.nan]), "mask"), (torch.zeros(2, dtype=torch.bool), "mask")):
        with pytest.raises(InputError, match=match):
            additive_to_allowed(bad)
    with pytest.raises(InputError, match="mask_threshold"):
        additive_to_allowed(m, threshold=math.inf)


def test_bad_inputs_name_the_argument():
    q, k = _randn(1, 4, 3, 2), _randn(1, 2, 5, 2)
    cases = [
        (dict(q=q[0], k=k), ShapeError, "q: expected shape"),
        (dict(q=q, k=k[0]), ShapeError, "k: expected shape"),
        (dict(q=q, k=_randn(1, 3, 5, 2)), ShapeError, "k: expected a number of key heads dividing the 4"),
        (dict(q=q, k=_randn(1, 2, 5, 3)), ShapeError, "k: expected shape"),
        (dict(q=q.long(), k=k), InputError, "q: expected a floating"),
        (dict(q=q, k=k, block_size=0), InputError, "block_size: .*received 0"),
        (dict(q=q, k=k, block_size=2.5), InputError, "block_size"),
        (dict(q=q, k=k, scale=-1.0), InputError, "scale: expected finite values > 0"),
        (dict(q=q, k=k, scale=torch.ones(3)), ShapeError, "scale: expected a number or \\(4,\\)"),
        (dict(q=q, k=k, allowed=torch.ones(3, 5)), InputError, "allowed: expected a bool"),
        (dict(q=q, k=k, allowed=torch.ones(4, 5, dtype=torch.bool)), ShapeError, "allowed: expected a shape"),
        (dict(q=q, k=k, allowed=lambda a, b: torch.ones(9, 5, dtype=torch.bool)), ShapeError, "allowed\\(0, 3\\)"),
        (dict(q=q, k=k, bias=torch.ones(3, 5, dtype=torch.bool)), InputError, "bias: expected a floating"),
        (dict(q=q, k=k, softcap=0.0), InputError, "softcap"),
        (dict(q=q * math.nan, k=k), InputError, "q: contains NaN"),
    ]
    for kw, err, match in cases:
        kw.setdefault("scale", 1.0)
        with pytest.raises(err, match=match):
            gibbs_entropy(**kw)


def test_gradients_flow_through_blocks():
    q = _randn(1, 2, 5, 3).requires_grad_(True)
    k = _randn(1, 2, 5, 3, seed=1)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    f = lambda v: torch.nan_to_num(gibbs_entropy(v, k, scale=0.8, allowed=causal, block_size=2).normalized_entropy).sum()
    assert torch.autograd.gradcheck(f, (q,))
