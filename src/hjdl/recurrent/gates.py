"""LSTM and GRU gates as two-atom Gibbs weights (THEORY §1, §8).

``sigmoid(a) = π_1(a, 0)`` (the first Gibbs weight of the logits ``(a, 0)`` at eps = 1) and
``tanh(a) = π_+ − π_−`` for the logits ``(a, −a)``. :func:`lstm_gates` and :func:`gru_gates`
recompute every gate of a ``torch.nn.LSTM`` / ``torch.nn.GRU`` from the module's own weights
through :func:`hjdl.gibbs`, run the recurrence with them, and return the hidden states (to be
compared with the module's) and each gate's Gibbs entropy ``H(π)/log 2 ∈ [0, 1]``: near 0 a
gate is particle-like (saturated, a hard switch), near 1 wave-like (undecided, ≈ 1/2).

Gate names: LSTM ``input, forget, cell, output`` (``cell`` is the tanh candidate ``g``) and
``state`` (the tanh of the cell state in ``h = o ⊙ tanh(c)``); GRU ``reset, update, new``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .._validation import as_tensor, check_finite
from ..core import gibbs
from ..core.kernel import _entropy
from ..errors import InputError, ShapeError

__all__ = ["GateRecord", "lstm_gates", "gru_gates", "gibbs_sigmoid", "gibbs_tanh"]

_LOG2 = 0.6931471805599453


def gibbs_sigmoid(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sigmoid(a), H/log 2)`` from the two-atom Gibbs weights of the logits ``(a, 0)``.

    >>> import torch
    >>> s, h = gibbs_sigmoid(torch.tensor([0.0, 30.0]))
    >>> s.tolist(), [round(v, 6) for v in h.tolist()]
    ([0.5, 1.0], [1.0, 0.0])
    """
    a = check_finite(as_tensor(a, "a"), "a")
    p = gibbs(torch.stack([a, torch.zeros_like(a)], -1), 1.0)
    return p[..., 0], _entropy(p, -1) / _LOG2


def gibbs_tanh(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tanh(a), H/log 2)`` with ``tanh(a) = π_+ − π_−`` for the logits ``(a, −a)``."""
    a = check_finite(as_tensor(a, "a"), "a")
    p = gibbs(torch.stack([a, -a], -1), 1.0)
    return p[..., 0] - p[..., 1], _entropy(p, -1) / _LOG2


@dataclass
class GateRecord:
    """Recomputed recurrence of one LSTM / GRU.

    Attributes:
        output: ``(B, T, H)`` last-layer hidden states (batch-first, whatever the module uses).
        h_n: ``(layers, B, H)`` final hidden states.
        c_n: ``(layers, B, H)`` final cell states for an LSTM, else ``None``.
        gates: per layer, ``{name: (B, T, H)}`` gate values.
        entropy: per layer, ``{name: (B, T, H)}`` normalised two-atom entropies.
    """

    kind: str
    output: torch.Tensor
    h_n: torch.Tensor
    c_n: torch.Tensor | None
    gates: list = field(default_factory=list)
    entropy: list = field(default_factory=list)


def _prepare(module, cls, x, name):
    if not isinstance(module, cls):
        raise InputError(f"{name}: expected torch.nn.{cls.__name__}, received {type(module).__name__}")
    if module.bidirectional or getattr(module, "proj_size", 0):
        raise InputError(f"{name}: bidirectional modules and proj_size > 0 are not supported")
    w = module.weight_ih_l0
    if not w.is_floating_point():
        raise InputError(f"{name}: expected floating parameters, received dtype {w.dtype}")
    x = as_tensor(x, "x", device=w.device)
    if x.ndim not in (2, 3) or x.shape[-1] != module.input_size:
        raise ShapeError(f"x: expected shape (batch, time, {module.input_size}) "
                         f"(or (time, batch, ...) if not batch_first, or unbatched (time, ...)), "
                         f"received {tuple(x.shape)}")
    check_finite(x, "x")
    x = x.to(torch.promote_types(x.dtype, w.dtype))  # evaluated in the common dtype
    unbatched = x.ndim == 2
    xb = x.unsqueeze(0) if unbatched else (x if module.batch_first else x.transpose(0, 1))
    return xb, unbatched


def _state(value, name, module, batch, unbatched, like):
    """An initial state ``(layers, B, H)`` (``(layers, H)`` for unbatched input), finite."""
    want = (module.num_layers, module.hidden_size) if unbatched else (module.num_layers, batch, module.hidden_size)
    t = as_tensor(value, name, device=like.device)
    if tuple(t.shape) != want:
        raise ShapeError(f"{name}: expected shape {want} (layers, {'' if unbatched else 'batch, '}hidden_size), "
                         f"received {tuple(t.shape)}")
    check_finite(t, name)
    t = t.to(like.dtype)
    return t.unsqueeze(1) if unbatched else t


def _weights(module, layer, dtype):
    w_ih, w_hh = getattr(module, f"weight_ih_l{layer}"), getattr(module, f"weight_hh_l{layer}")
    if module.bias:
        b_ih, b_hh = getattr(module, f"bias_ih_l{layer}"), getattr(module, f"bias_hh_l{layer}")
    else:
        b_ih, b_hh = torch.zeros_like(w_ih[:, 0]), torch.zeros_like(w_hh[:, 0])
    return tuple(p.to(dtype) for p in (w_ih, w_hh, b_ih, b_hh))


def _stack(values, like):
    """Stack per-step ``(B, H)`` tensors on axis 1; ``(B, 0, H)`` for an empty sequence."""
    return torch.stack(values, 1) if values else like.new_zeros(like.shape[0], 0, like.shape[-1])


def lstm_gates(lstm: nn.LSTM, x: torch.Tensor, hx=None) -> GateRecord:
    r"""Re-run ``lstm`` on ``x`` with every gate computed through :func:`hjdl.gibbs`.

    ``i, f, o = π_1(a, 0)``, ``g = π_+ − π_−`` of ``(a, −a)``, ``c' = f c + i g``,
    ``h' = o (π_+ − π_−)(c')`` with ``a = W_ih x + b_ih + W_hh h + b_hh`` (PyTorch's order
    ``i, f, g, o``). Inputs and ``hx = (h_0, c_0)`` as ``torch.nn.LSTM`` (finite; evaluated in
    the common dtype of ``x`` and the module). An empty sequence (``time = 0``) gives empty
    outputs and gates, and ``h_n, c_n = hx``.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0); lstm = torch.nn.LSTM(3, 4, batch_first=True)
        >>> x = torch.randn(2, 5, 3)
        >>> rec = lstm_gates(lstm, x)
        >>> bool(torch.allclose(rec.output, lstm(x)[0], atol=1e-6)), sorted(rec.gates[0])
        (True, ['cell', 'forget', 'input', 'output', 'state'])
    """
    xb, unbatched = _prepare(lstm, nn.LSTM, x, "lstm")
    B, T, Hd = xb.shape[0], xb.shape[1], lstm.hidden_size
    if hx is None:
        h0 = c0 = xb.new_zeros(lstm.num_layers, B, Hd)
    else:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise InputError(f"hx: expected a pair (h_0, c_0) as torch.nn.LSTM takes, received {type(hx).__name__}")
        h0 = _state(hx[0], "hx[0]", lstm, B, unbatched, xb)
        c0 = _state(hx[1], "hx[1]", lstm, B, unbatched, xb)
    rec = GateRecord("lstm", xb, [], [])
    layer_in, h_n, c_n = xb, [], []
    with torch.no_grad():
        for layer in range(lstm.num_layers):
            w_ih, w_hh, b_ih, b_hh = _weights(lstm, layer, xb.dtype)
            pre_x = layer_in @ w_ih.T + b_ih
            h, c = h0[layer], c0[layer]
            outs, vals, ents = [], {k: [] for k in ("input", "forget", "cell", "output", "state")}, None
            ents = {k: [] for k in vals}
            for t in range(T):
                a = pre_x[:, t] + h @ w_hh.T + b_hh
                ai, af, ag, ao = a.chunk(4, -1)
                (i, hi), (f, hf), (g, hg), (o, ho) = (gibbs_sigmoid(ai), gibbs_sigmoid(af),
                                                      gibbs_tanh(ag), gibbs_sigmoid(ao))
                c = f * c + i * g
                tc, hc = gibbs_tanh(c)
                h = o * tc
                outs.append(h)
                for k, v, e in (("input", i, hi), ("forget", f, hf), ("cell", g, hg), ("output", o, ho),
                                ("state", tc, hc)):
                    vals[k].append(v)
                    ents[k].append(e)
            layer_in = _stack(outs, h)
            h_n.append(h)
            c_n.append(c)
            rec.gates.append({k: _stack(v, h) for k, v in vals.items()})
            rec.entropy.append({k: _stack(v, h) for k, v in ents.items()})
    rec.output, rec.h_n, rec.c_n = layer_in, torch.stack(h_n), torch.stack(c_n)
    if unbatched:
        rec.output, rec.h_n, rec.c_n = rec.output[0], rec.h_n[:, 0], rec.c_n[:, 0]
    return rec


def gru_gates(gru: nn.GRU, x: torch.Tensor, hx=None) -> GateRecord:
    r"""Re-run ``gru`` on ``x`` with every gate computed through :func:`hjdl.gibbs`.

    ``r, z = π_1(a, 0)``, ``n = (π_+ − π_−)(W_in x + b_in + r ⊙ (W_hn h + b_hn))``,
    ``h' = (1 − z) n + z h`` (PyTorch's order ``r, z, n``). Inputs and ``hx = h_0`` as
    ``torch.nn.GRU``, checked and evaluated as in :func:`lstm_gates`.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0); gru = torch.nn.GRU(3, 4, num_layers=2)
        >>> x = torch.randn(5, 2, 3)                     # (time, batch, features)
        >>> rec = gru_gates(gru, x)
        >>> bool(torch.allclose(rec.output, gru(x)[0].transpose(0, 1), atol=1e-6))
        True
    """
    xb, unbatched = _prepare(gru, nn.GRU, x, "gru")
    B, T, Hd = xb.shape[0], xb.shape[1], gru.hidden_size
    h0 = xb.new_zeros(gru.num_layers, B, Hd) if hx is None else _state(hx, "hx", gru, B, unbatched, xb)
    rec = GateRecord("gru", xb, [], None)
    layer_in, h_n = xb, []
    with torch.no_grad():
        for layer in range(gru.num_layers):
            w_ih, w_hh, b_ih, b_hh = _weights(gru, layer, xb.dtype)
            pre_x = layer_in @ w_ih.T + b_ih
            h = h0[layer]
            outs = []
            vals = {k: [] for k in ("reset", "update", "new")}
            ents = {k: [] for k in vals}
            for t in range(T):
                xr, xz, xn = pre_x[:, t].chunk(3, -1)
                hr, hz, hn = (h @ w_hh.T + b_hh).chunk(3, -1)
                (r, er), (z, ez) = gibbs_sigmoid(xr + hr), gibbs_sigmoid(xz + hz)
                n, en = gibbs_tanh(xn + r * hn)
                h = (1 - z) * n + z * h
                outs.append(h)
                for k, v, e in (("reset", r, er), ("update", z, ez), ("new", n, en)):
                    vals[k].append(v)
                    ents[k].append(e)
            layer_in = _stack(outs, h)
            h_n.append(h)
            rec.gates.append({k: _stack(v, h) for k, v in vals.items()})
            rec.entropy.append({k: _stack(v, h) for k, v in ents.items()})
    rec.output, rec.h_n = layer_in, torch.stack(h_n)
    if unbatched:
        rec.output, rec.h_n = rec.output[0], rec.h_n[:, 0]
    return rec
