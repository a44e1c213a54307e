"""Attention as a Gibbs (Hopf–Cole) average, and a transformer block of HJ pieces (THEORY §8).

Row ``i`` of ``softmax(QKᵀ/√d_k) V`` is ``E_π[v]`` with ``π = gibbs(q_i·k_1, …, q_i·k_n; eps)``
and ``eps = √d_k``: the query is the point, the keys are the atoms. :class:`GibbsAttention`
is multi-head attention written through :func:`hjdl.gibbs` with a per-head temperature that
can be set or learned; with ``eps = √d_head`` and the same weights it equals
``torch.nn.MultiheadAttention``. :class:`LSETransformerBlock` puts it in a pre-LayerNorm
block whose feed-forward part is one LSE layer per output unit (T3).
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from .._validation import EPS_POSITIVE, as_tensor, check_dtype, check_eps, check_finite, check_no_nan
from ..core import InitialData, hopf_cole, to_initial_data
from ..core.kernel import _entropy, _gibbs, _lse
from ..errors import EpsilonError, InputError, ShapeError

__all__ = ["GibbsAttention", "LSETransformerBlock", "attention_allowed", "MASK_THRESHOLD"]

#: An additive (float) mask entry at or below this value hides its key. Libraries write "masked"
#: as ``-inf``, ``torch.finfo(dtype).min`` (Hugging Face), ``-1e9`` or ``-1e4`` (the original BERT
#: code, ``(1 - mask) * -10000``): such a key gets weight ``exp(-1e4) = 0`` in the model, and it must
#: not count among the keys a query sees (``log`` of that count normalises the entropy). Entries
#: above it are a real bias (ALiBi, relative positions). The probe's ``mask_threshold`` defaults to it.
MASK_THRESHOLD: float = -1e4


def _int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name}: expected a positive integer, received {value!r}")
    return int(value)


def attention_allowed(batch: int, heads: int, queries: int, keys: int, attn_mask=None,
                      key_padding_mask=None, is_causal: bool = False, device=None) -> torch.Tensor | None:
    """Which keys each query may see, as a bool tensor broadcasting to ``(B, H, Q, K)``.

    ``torch.nn.MultiheadAttention`` conventions: a bool mask is ``True`` where attention is
    *not* allowed; a float mask is added to the scores, and an entry ``<= MASK_THRESHOLD``
    (``-1e4``; ``-inf``, ``-1e9``, ``finfo.min``) forbids. ``attn_mask`` is
    ``(Q, K)`` or ``(B·H, Q, K)``; ``key_padding_mask`` is ``(B, K)``. ``is_causal`` without a
    mask means key ``j`` is visible to query ``i`` iff ``j <= i``. ``None`` when all are visible.
    """
    allowed = None
    if attn_mask is not None:
        _check_mask(attn_mask, "attn_mask", [(queries, keys), (batch * heads, queries, keys)])
    if key_padding_mask is not None:
        _check_mask(key_padding_mask, "key_padding_mask", [(batch, keys)])

    def _ok(mask):
        return ~mask if mask.dtype == torch.bool else mask > MASK_THRESHOLD

    if attn_mask is not None:
        a = _ok(attn_mask)
        if a.ndim == 3:
            a = a.reshape(batch, heads, queries, keys)
        allowed = a
    elif is_causal:
        allowed = torch.ones(queries, keys, dtype=torch.bool, device=device).tril()
    if key_padding_mask is not None:
        k = _ok(key_padding_mask)[:, None, None, :]
        allowed = k if allowed is None else allowed & k
    return allowed


def _check_mask(mask, name: str, shapes: list) -> None:
    """A mask is a bool tensor (``True`` = not allowed) or a floating one (added; ``-inf`` forbids)
    of one of ``shapes``; NaN and ``+inf`` entries are refused."""
    if not isinstance(mask, torch.Tensor) or not (mask.dtype == torch.bool or mask.is_floating_point()):
        what = f"a tensor of dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise InputError(f"{name}: expected a bool tensor (True = not allowed) or a floating tensor "
                         f"(added to the scores, -inf forbids), received {what}")
    if tuple(mask.shape) not in shapes:
        listing = " or ".join(str(s) for s in shapes)
        raise ShapeError(f"{name}: expected shape {listing}, received {tuple(mask.shape)}")
    if mask.is_floating_point():
        check_no_nan(mask, name)


class GibbsAttention(nn.Module):
    r"""Multi-head attention with exposed Gibbs weights, entropies and per-head temperatures.

    For head ``h``: ``q = x W_q^h``, ``k = x W_k^h``, ``v = x W_v^h`` (``d_head = E/H``),
    ``π^h_{ij} = gibbs(q_i·k_·; eps_h)_j = softmax(q_i·k_j / eps_h)`` and
    ``out_i = W_o concat_h Σ_j π^h_{ij} v_j`` (THEORY §8). Masked keys get logit ``-inf``
    (weight 0); a query with no visible key gets all-zero weights (``MultiheadAttention``
    returns NaN there). A float ``attn_mask`` is added to the scaled scores ``q·k/eps_h`` (as
    ``MultiheadAttention`` adds it to ``q·k/√d_head``).

    Args:
        embed_dim: ``E``.
        num_heads: ``H`` (must divide ``E``).
        eps: per-head temperature, a number or ``(H,)`` values ``>= 0`` (``0`` = hard arg-max
            attention); default ``√d_head``, which makes the module equal to
            ``torch.nn.MultiheadAttention`` with the same weights.
        learn_eps: learn ``eps_h = exp(log_eps_h)`` (must start > 0).
        bias: biases on the projections. batch_first: ``(B, L, E)`` inputs (default) or ``(L, B, E)``.

    Parameters have ``MultiheadAttention``'s names (``in_proj_weight (3E, E)``,
    ``in_proj_bias``, ``out_proj``); :meth:`from_torch` copies them.

    ``forward(query, key=None, value=None, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)`` follows
    ``MultiheadAttention.forward`` and returns ``(output, weights)``; ``weights`` is
    ``(B, H, Q, K)`` (or averaged over heads to ``(B, Q, K)``), ``None`` if not requested.

    Example:
        >>> import torch
        >>> from hjdl.nn.attention import GibbsAttention
        >>> _ = torch.manual_seed(0); mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        >>> att = GibbsAttention.from_torch(mha)
        >>> x = torch.randn(3, 5, 8)
        >>> bool(torch.allclose(att(x, x, x)[0], mha(x, x, x)[0], atol=1e-6))
        True
        >>> att.normalized_entropy(x).shape   # (batch, heads, queries), H / log(keys)
        torch.Size([3, 2, 5])
    """

    def __init__(self, embed_dim: int, num_heads: int, eps=None, learn_eps: bool = False, bias: bool = True,
                 batch_first: bool = True, *, dtype: torch.dtype | None = None, device=None) -> None:
        super().__init__()
        self.embed_dim = _int(embed_dim, "embed_dim")
        self.num_heads = _int(num_heads, "num_heads")
        if self.embed_dim % self.num_heads:
            raise InputError(f"num_heads: expected a divisor of embed_dim={self.embed_dim}, received {num_heads!r}")
        self.head_dim = self.embed_dim // self.num_heads
        self.batch_first = bool(batch_first)
        self.learn_eps = bool(learn_eps)
        kw = {"dtype": check_dtype(dtype), "device": device}
        E = self.embed_dim
        self.in_proj_weight = nn.Parameter(torch.empty(3 * E, E, **kw))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * E, **kw)) if bias else None
        self.out_proj = nn.Linear(E, E, bias=bias, **kw)
        like = self.in_proj_weight.detach()
        if isinstance(eps, (list, tuple)):
            eps = as_tensor(eps, "eps")
        e, mode = check_eps(math.sqrt(self.head_dim) if eps is None else eps, like=like)
        if e.ndim > 1 or (e.ndim == 1 and e.shape[0] not in (1, self.num_heads)):
            raise EpsilonError(f"eps: expected a number or {self.num_heads} per-head values, "
                               f"received shape {tuple(e.shape)}")
        e = e.expand(self.num_heads).clone() if e.ndim else e.repeat(self.num_heads)
        if self.learn_eps:
            if mode != EPS_POSITIVE:
                raise EpsilonError("eps: a learnable eps must start > 0 (it is exp(log_eps)), received "
                                   f"{e.tolist()}; use learn_eps=False for hard (eps = 0) attention")
            self.log_eps = nn.Parameter(torch.log(e))
        else:
            self.register_buffer("eps_buffer", e)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention, eps=None, learn_eps: bool = False) -> "GibbsAttention":
        """A :class:`GibbsAttention` with the weights of ``mha`` (same q/k/v/out projections)."""
        if not isinstance(mha, nn.MultiheadAttention):
            raise InputError(f"mha: expected torch.nn.MultiheadAttention, received {type(mha).__name__}")
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.dropout:
            raise InputError("mha: only MultiheadAttention with kdim = vdim = embed_dim, no add_bias_kv and "
                             "dropout = 0 is supported")
        w = mha.in_proj_weight
        out = cls(mha.embed_dim, mha.num_heads, eps, learn_eps, bias=mha.in_proj_bias is not None,
                  batch_first=mha.batch_first, dtype=w.dtype, device=w.device)
        with torch.no_grad():
            out.in_proj_weight.copy_(w)
            out.out_proj.weight.copy_(mha.out_proj.weight)
            if mha.in_proj_bias is not None:
                out.in_proj_bias.copy_(mha.in_proj_bias)
                out.out_proj.bias.copy_(mha.out_proj.bias)
        return out

    # -- temperature -------------------------------------------------------------------------
    @property
    def eps(self) -> torch.Tensor:
        """Per-head temperatures ``(H,)`` (differentiable when learned)."""
        return torch.exp(self.log_eps) if self.learn_eps else self.eps_buffer

    # -- the Gibbs weights -------------------------------------------------------------------
    def _batched(self, t, name):
        t = as_tensor(t, name, device=self.in_proj_weight.device)
        if t.ndim not in (2, 3) or t.shape[-1] != self.embed_dim:
            raise ShapeError(f"{name}: expected shape (batch, length, {self.embed_dim}) "
                             f"{'(batch_first)' if self.batch_first else '(length, batch, E)'} or "
                             f"(length, {self.embed_dim}), received {tuple(t.shape)}")
        check_finite(t, name)
        if t.ndim == 2:
            return t.unsqueeze(0), True
        return (t if self.batch_first else t.transpose(0, 1)), False

    def _project(self, query, key, value):
        E, H, D = self.embed_dim, self.num_heads, self.head_dim
        w, b = self.in_proj_weight.to(query.dtype), self.in_proj_bias
        b = None if b is None else b.to(query.dtype)
        bs = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if query is key and key is value:
            qkv = nn.functional.linear(query, w, b)
            q, k, v = qkv.chunk(3, -1)
        else:
            q = nn.functional.linear(query, w[:E], bs[0])
            k = nn.functional.linear(key, w[E:2 * E], bs[1])
            v = nn.functional.linear(value, w[2 * E:], bs[2])
        split = lambda t: t.reshape(t.shape[0], t.shape[1], H, D).transpose(1, 2)
        return split(q), split(k), split(v)

    def _weights(self, q, k, attn_mask, key_padding_mask, is_causal):
        B, H, Q, _ = q.shape
        K = k.shape[2]
        scores = q @ k.transpose(-1, -2)                               # (B, H, Q, K): q_i·k_j
        allowed = attention_allowed(B, H, Q, K, attn_mask, key_padding_mask, is_causal, q.device)
        eps_h = self.eps.to(scores.dtype)[:, None, None]
        additive = []                                                  # float masks, added as MHA adds both
        if attn_mask is not None and attn_mask.dtype != torch.bool:
            additive.append(attn_mask.reshape(B, H, Q, K) if attn_mask.ndim == 3 else attn_mask)
        if key_padding_mask is not None and key_padding_mask.dtype != torch.bool:
            additive.append(key_padding_mask[:, None, None, :])
        for am in additive:  # masked entries (<= MASK_THRESHOLD) become -inf below through ``allowed``
            am = am.to(scores.dtype)
            scores = scores + torch.where(am > MASK_THRESHOLD, am, torch.zeros_like(am)) * eps_h
        if allowed is not None:
            scores = scores.masked_fill(~allowed, -torch.inf)
        if K == 0:  # no key to attend to: the all-masked convention (zero weights)
            return scores
        eps = self.eps.to(scores.dtype)
        mode = EPS_POSITIVE if bool((eps > 0).all()) else ("zero" if bool((eps == 0).all()) else "mixed")
        return _gibbs(scores, eps[:, None, None], mode, -1)

    def _inputs(self, query, key, value):
        """``query``, ``key``, ``value`` checked (finite, ``E`` wide, equal batch sizes, as many
        values as keys), batch-first, in the common floating dtype of the inputs and weights."""
        key = query if key is None else key
        value = key if value is None else value
        q_in, unbatched = self._batched(query, "query")
        k_in, k_unb = (q_in, unbatched) if key is query else self._batched(key, "key")
        v_in, v_unb = (k_in, k_unb) if value is key else self._batched(value, "value")
        if k_unb != unbatched or v_unb != unbatched:
            raise ShapeError("query, key, value: expected all batched (3-D) or all unbatched (2-D), "
                             f"received {q_in.ndim - unbatched}-D, {k_in.ndim - k_unb}-D, "
                             f"{v_in.ndim - v_unb}-D")
        if k_in.shape[0] != q_in.shape[0] or v_in.shape[0] != q_in.shape[0]:
            raise ShapeError(f"key, value: expected the batch size of query ({q_in.shape[0]}), received "
                             f"{k_in.shape[0]} and {v_in.shape[0]}")
        if v_in.shape[1] != k_in.shape[1]:
            raise ShapeError(f"value: expected one value per key ({k_in.shape[1]} keys), received "
                             f"{v_in.shape[1]}")
        dtype = torch.promote_types(self.in_proj_weight.dtype, q_in.dtype)
        for t in (k_in, v_in):
            dtype = torch.promote_types(dtype, t.dtype)
        same_k, same_v = k_in is q_in, v_in is k_in
        q_in = q_in.to(dtype)
        k_in = q_in if same_k else k_in.to(dtype)
        v_in = k_in if same_v else v_in.to(dtype)
        return q_in, k_in, v_in, unbatched

    @staticmethod
    def _padding(key_padding_mask, unbatched):
        """MultiheadAttention takes a ``(K,)`` padding mask for unbatched input."""
        if unbatched and isinstance(key_padding_mask, torch.Tensor) and key_padding_mask.ndim == 1:
            return key_padding_mask.unsqueeze(0)
        return key_padding_mask

    def gibbs_weights(self, query, key=None, attn_mask=None, key_padding_mask=None,
                      is_causal: bool = False) -> torch.Tensor:
        """``π = softmax(q·k / eps)`` per head: ``(B, H, Q, K)`` (``(H, Q, K)`` for unbatched input)."""
        q_in, k_in, _, unbatched = self._inputs(query, key, None)
        q, k, _ = self._project(q_in, k_in, k_in)
        w = self._weights(q, k, attn_mask, self._padding(key_padding_mask, unbatched), is_causal)
        return w[0] if unbatched else w

    def entropy(self, query, key=None, attn_mask=None, key_padding_mask=None,
                is_causal: bool = False) -> torch.Tensor:
        """Gibbs entropy ``H(π)`` per query, in nats: ``(B, H, Q)`` (``(H, Q)`` unbatched).

        Masked keys carry zero weight and add nothing; see :meth:`normalized_entropy` for
        ``H / log(visible keys)``.
        """
        return _entropy(self.gibbs_weights(query, key, attn_mask, key_padding_mask, is_causal), -1)

    def normalized_entropy(self, query, key=None, attn_mask=None, key_padding_mask=None,
                           is_causal: bool = False) -> torch.Tensor:
        """Gibbs entropy per query normalised by ``log`` of its number of visible keys, in ``[0, 1]``.

        ``(B, H, Q)``; ``NaN`` for a query that sees fewer than two keys (``log 1 = 0``).
        """
        w = self.gibbs_weights(query, key, attn_mask, key_padding_mask, is_causal)
        q_in, k_in, _, unbatched = self._inputs(query, key, None)
        B, Q, K = q_in.shape[0], q_in.shape[1], k_in.shape[1]
        allowed = attention_allowed(B, self.num_heads, Q, K, attn_mask,
                                    self._padding(key_padding_mask, unbatched), is_causal, w.device)
        if allowed is None:
            visible = torch.full(w.shape[:-1], K, device=w.device)
        else:
            visible = allowed.expand(B, self.num_heads, Q, K).sum(-1)
            if w.ndim == 3:
                visible = visible[0]
        logn = torch.log(visible.to(w.dtype))
        return torch.where(visible > 1, _entropy(w, -1) / torch.where(visible > 1, logn, torch.ones_like(logn)),
                           torch.full_like(logn, torch.nan))

    def forward(self, query, key=None, value=None, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        """``(output, weights)`` as ``torch.nn.MultiheadAttention.forward`` (see the class docstring)."""
        q_in, k_in, v_in, unbatched = self._inputs(query, key, value)
        q, k, v = self._project(q_in, k_in, v_in)
        w = self._weights(q, k, attn_mask, self._padding(key_padding_mask, unbatched), is_causal)
        heads = (w @ v).transpose(1, 2).reshape(q_in.shape[0], q_in.shape[1], self.embed_dim)
        o = self.out_proj
        out = nn.functional.linear(heads, o.weight.to(heads.dtype), None if o.bias is None else o.bias.to(heads.dtype))
        if unbatched:
            out, w = out[0], w[0]
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, (w.mean(-3) if average_attn_weights else w)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"eps={[round(float(e), 4) for e in self.eps.detach()]}, learn_eps={self.learn_eps}")


class LSETransformerBlock(nn.Module):
    r"""Pre-LayerNorm transformer block of HJ pieces (THEORY §8).

    ``y = x + Attn(LN₁(x))``, ``out = y + F(LN₂(y))`` with :class:`GibbsAttention` and the LSE
    feed-forward ``F(z)_k = LSE_eps(W_k z + b_k) = eps log Σ_j exp((W_{kj}·z + b_{kj})/eps)``:
    one LSE layer of ``width`` atoms per output unit ``k``. By T3 each unit is
    ``|z|²/(4t) − u_k(z, t)`` with ``u_k`` the Hopf–Cole value of the atoms
    ``y_{kj} = 2t W_{kj}``, ``g_{kj} = −b_{kj} − t|W_{kj}|²`` (:meth:`ffn_identity_error`).

    Args:
        d_model: model width ``E``.
        num_heads: attention heads.
        width: atoms per feed-forward unit ``N``.
        eps: feed-forward temperature ``> 0``.
        attn_eps: attention temperatures (default √d_head).
        causal: apply a causal mask in every call.
        t: HJ time of the T3 reading (a gauge).

    Shapes: ``(B, L, E) → (B, L, E)``.

    Example:
        >>> import torch
        >>> from hjdl.nn.attention import LSETransformerBlock
        >>> _ = torch.manual_seed(0); block = LSETransformerBlock(8, 2, width=4, causal=True)
        >>> x = torch.randn(2, 5, 8)
        >>> block(x).shape
        torch.Size([2, 5, 8])
        >>> float(block.ffn_identity_error(x.double())) < 1e-10
        True
    """

    def __init__(self, d_model: int, num_heads: int, width: int = 8, eps: float = 1.0, attn_eps=None,
                 causal: bool = False, t: float = 1.0, *, dtype: torch.dtype | None = None, device=None) -> None:
        super().__init__()
        self.d_model = _int(d_model, "d_model")
        self.width = _int(width, "width")
        kw = {"dtype": check_dtype(dtype), "device": device}
        like = torch.empty((), **kw)
        e, mode = check_eps(eps, like=like)
        if mode != EPS_POSITIVE or e.ndim:
            raise EpsilonError(f"eps: expected one number > 0 for the feed-forward, received {eps!r}")
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not (math.isfinite(t) and t > 0):
            raise InputError(f"t: expected a finite HJ time > 0, received {t!r}")
        self.t = float(t)
        self.causal = bool(causal)
        self.register_buffer("eps_ffn", e.clone())
        self.norm1 = nn.LayerNorm(self.d_model, **kw)
        self.attn = GibbsAttention(self.d_model, num_heads, attn_eps, batch_first=True, **kw)
        self.norm2 = nn.LayerNorm(self.d_model, **kw)
        bound = 1.0 / math.sqrt(self.d_model)
        self.ffn_weight = nn.Parameter(torch.empty(self.d_model, self.width, self.d_model, **kw).uniform_(-bound, bound))
        self.ffn_bias = nn.Parameter(torch.empty(self.d_model, self.width, **kw).uniform_(-bound, bound))

    def ffn(self, z: torch.Tensor) -> torch.Tensor:
        """``F(z)_k = LSE_eps(W_k z + b_k)``: ``(..., E) → (..., E)``."""
        W, b = self.ffn_weight.to(z.dtype), self.ffn_bias.to(z.dtype)
        logits = torch.einsum("...d,knd->...kn", z, W) + b
        e = self.eps_ffn.to(logits.dtype)
        return _lse(logits, e, EPS_POSITIVE, -1, finite=True).squeeze(-1)

    def forward(self, x: torch.Tensor, key_padding_mask=None) -> torch.Tensor:
        """``(B, L, E) → (B, L, E)``; ``x`` finite, evaluated in the common dtype of ``x`` and the
        parameters. ``L = 0`` gives an empty output."""
        x = as_tensor(x, "x", device=self.ffn_weight.device)
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ShapeError(f"x: expected shape (batch, length, {self.d_model}), received {tuple(x.shape)}")
        check_finite(x, "x")
        x = x.to(torch.promote_types(x.dtype, self.ffn_weight.dtype))
        z = self._norm(self.norm1, x)
        y = x + self.attn(z, z, z, key_padding_mask=key_padding_mask, need_weights=False,
                          is_causal=self.causal)[0]
        return y + self.ffn(self._norm(self.norm2, y))

    @staticmethod
    def _norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
        """``norm(x)`` in ``x``'s dtype."""
        return nn.functional.layer_norm(x, norm.normalized_shape, norm.weight.to(x.dtype),
                                        norm.bias.to(x.dtype), norm.eps)

    def initial_data(self, unit: int, dtype: torch.dtype | None = None) -> InitialData:
        """The HJ initial data (atoms, values) of feed-forward unit ``unit`` (T3, time ``self.t``)."""
        if isinstance(unit, bool) or not isinstance(unit, numbers.Integral) or not 0 <= unit < self.d_model:
            raise InputError(f"unit: expected an integer in [0, {self.d_model}), received {unit!r}")
        W, b = self.ffn_weight[unit].detach(), self.ffn_bias[unit].detach()
        if dtype is not None:
            W, b = W.to(dtype), b.to(dtype)
        return to_initial_data(W, b, t=self.t)

    def ffn_identity_error(self, z: torch.Tensor) -> torch.Tensor:
        r"""``max_k |F(z)_k − (|z|²/(4t) − u_k(z, t))|`` with ``u_k`` from :func:`hjdl.hopf_cole`.

        Computed from the atoms of each unit (a second route through the initial data).
        """
        z = as_tensor(z, "z")
        if z.ndim == 0 or z.shape[-1] != self.d_model:
            raise ShapeError(f"z: expected shape (..., {self.d_model}), received {tuple(z.shape)}")
        with torch.no_grad():
            f = self.ffn(z)
            quad = (z ** 2).sum(-1) / (4 * self.t)
            errs = []
            for k in range(self.d_model):
                data = self.initial_data(k, z.dtype)
                u = hopf_cole(z, data, float(self.eps_ffn), t=self.t)
                errs.append((f[..., k] - (quad - u)).abs().max())
        return torch.stack(errs).max()
