"""Offline data for the architecture experiments: a character corpus from the Python standard
library's docstrings, an associative-recall task, and a tiny causal transformer built from
``torch.nn.TransformerEncoderLayer`` (so the probe reads ``torch.nn.MultiheadAttention``)."""

from __future__ import annotations

import importlib

import torch
from torch import nn

#: Fixed list of standard-library modules whose docstrings (module, classes, functions) form the corpus.
CORPUS_MODULES = ("json", "collections", "functools", "itertools", "textwrap", "string", "heapq",
                  "bisect", "fractions", "statistics", "difflib", "shlex", "argparse", "calendar")


def stdlib_corpus(max_chars: int | None = None) -> str:
    """Docstrings of :data:`CORPUS_MODULES` joined in a fixed order (deterministic per Python version)."""
    parts = []
    for name in CORPUS_MODULES:
        mod = importlib.import_module(name)
        docs = [mod.__doc__ or ""]
        for attr in sorted(dir(mod)):
            obj = getattr(mod, attr, None)
            if attr.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            docs.append(getattr(obj, "__doc__", None) or "")
        parts.extend(d for d in docs if d)
    text = "\n\n".join(parts)
    text = "".join(c for c in text if c.isascii() and (c.isprintable() or c == "\n"))
    return text[:max_chars] if max_chars else text


def encode(text: str) -> tuple[torch.Tensor, list[str]]:
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([index[c] for c in text], dtype=torch.long), vocab


def char_batch(data: torch.Tensor, batch: int, length: int, g: torch.Generator):
    starts = torch.randint(0, len(data) - length - 1, (batch,), generator=g)
    idx = starts[:, None] + torch.arange(length + 1)
    seq = data[idx]
    return seq[:, :-1], seq[:, 1:]


def recall_batch(batch: int, pairs: int, n_keys: int, n_values: int, g: torch.Generator):
    """Associative recall: ``k1 v1 … kP vP q`` → the value stored with key ``q``.

    Tokens: keys ``0 … n_keys−1``, values ``n_keys … n_keys+n_values−1``. Keys in a sequence are
    distinct. Returns ``(tokens (batch, 2P+1), target (batch,))``.
    """
    keys = torch.argsort(torch.rand(batch, n_keys, generator=g), 1)[:, :pairs]
    values = torch.randint(0, n_values, (batch, pairs), generator=g) + n_keys
    pick = torch.randint(0, pairs, (batch,), generator=g)
    seq = torch.stack([keys, values], 2).reshape(batch, 2 * pairs)
    query = keys[torch.arange(batch), pick]
    return torch.cat([seq, query[:, None]], 1), values[torch.arange(batch), pick]


class TinyTransformer(nn.Module):
    """Token + position embeddings, causal pre-LN ``TransformerEncoderLayer`` blocks, a linear read-out."""

    def __init__(self, vocab: int, d_model: int, heads: int, layers: int, max_len: int, ffn: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(max_len, d_model) * 0.1)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, heads, ffn, dropout=0.0, batch_first=True, norm_first=True)
            for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        L = tokens.shape[1]
        x = self.embed(tokens) + self.pos[:L]
        mask = torch.ones(L, L, dtype=torch.bool, device=tokens.device).triu(1)
        for block in self.blocks:
            x = block(x, src_mask=mask)
        return self.out(self.norm(x))


class single_thread:
    """Run tiny models on one intra-op thread (threads only add overhead at these sizes); the
    previous setting is restored on exit."""

    def __enter__(self):
        self.previous = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)
        return False
