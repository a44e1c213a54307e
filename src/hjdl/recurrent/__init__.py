"""Recurrent networks through the HJ lens (THEORY §1, §8): LSTM / GRU gates as two-atom Gibbs
weights, recomputed from a module's own weights through :func:`hjdl.gibbs`. The linear
state-space / Riccati co-state lives in :mod:`hjdl.control.lq` (it is an optimal-control fact)."""

from .gates import GateRecord, gibbs_sigmoid, gibbs_tanh, gru_gates, lstm_gates

__all__ = ["lstm_gates", "gru_gates", "GateRecord", "gibbs_sigmoid", "gibbs_tanh"]
