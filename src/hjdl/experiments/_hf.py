"""Hugging Face helpers shared by the ``attention-entropy-hf`` experiment and its tests: a
character-level tokenizer, a tiny ``GPT2LMHeadModel`` built from a config (random weights, no
download), a trainer on the character corpus of :mod:`hjdl.experiments._text`, and head ablation
through a model's attention output projection.

``transformers`` and ``tokenizers`` are optional (``pip install hjdl[hf]``): they are imported
inside the functions, so importing this module never needs them.
"""

from __future__ import annotations

import contextlib
import numbers

import torch
from torch import nn

from .._progress import progress as _progress
from ..errors import InputError
from ._text import char_batch

__all__ = ["require_transformers", "char_tokenizer", "tiny_gpt2", "train_char_lm", "lm_loss",
           "out_projection", "ablate_hf_head", "HF_EXTRA"]

#: What to install when ``transformers`` is missing.
HF_EXTRA = "pip install hjdl[hf]"


def require_transformers():
    """The ``transformers`` module, or an :class:`~hjdl.errors.InputError` saying how to get it."""
    try:
        import transformers
    except ImportError:
        raise InputError(f"this needs the optional dependency transformers, which is not installed; "
                         f"{HF_EXTRA}") from None
    return transformers


def char_tokenizer(chars):
    """A ``PreTrainedTokenizerFast`` with one token per character of ``chars`` (plus ``[UNK]`` = 0).

    Every character, whitespace and newlines included, is its own token, so
    ``len(tok(text)["input_ids"]) == len(text)``; it saves and loads with ``save_pretrained`` /
    ``AutoTokenizer.from_pretrained``.

    >>> tok = char_tokenizer("ab ")
    >>> tok("ba a")["input_ids"], tok("bz")["input_ids"]
    ([3, 2, 1, 2], [3, 0])
    """
    require_transformers()
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    symbols = sorted(set(chars))
    if not symbols:
        raise InputError("chars: expected at least one character, received an empty sequence")
    vocab = {"[UNK]": 0, **{c: i + 1 for i, c in enumerate(symbols)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # one piece per char
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def tiny_gpt2(vocab_size: int, *, layers: int, heads: int, width: int, positions: int):
    """A randomly initialised ``GPT2LMHeadModel`` (no dropout, feed-forward 4 x width).

    Seed torch's global generator first for reproducible weights (``from_config`` uses it).
    """
    require_transformers()
    from transformers import GPT2Config, GPT2LMHeadModel

    if width % heads:
        raise InputError(f"width={width!r} must be a multiple of heads={heads!r} (GPT-2 splits the width "
                         "evenly over its heads)")
    config = GPT2Config(vocab_size=vocab_size, n_positions=positions, n_embd=width, n_layer=layers,
                        n_head=heads, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=None, eos_token_id=None)
    return GPT2LMHeadModel(config)


def lm_loss(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of ``model(input_ids=x).logits`` against ``y`` (same shape)."""
    logits = model(input_ids=x).logits
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))


def train_char_lm(model, data: torch.Tensor, *, steps: int, batch: int, length: int, lr: float,
                  generator: torch.Generator, progress: bool = False, desc: str = "train"):
    """Adam on random windows of the encoded corpus ``data``; returns ``model`` in eval mode."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr)
    for _ in _progress(range(steps), desc=desc, enabled=progress):
        x, y = char_batch(data, batch, length, generator)
        loss = lm_loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


_PROJECTIONS = ("c_proj", "o_proj", "out_proj")


def out_projection(attention: nn.Module):
    """``(weight, axis)`` of the output projection of a Hugging Face attention module: the
    projection's weight and the axis that indexes its *input* features (the concatenated heads),
    or ``None`` when the module has none that this knows.

    GPT-2's ``c_proj`` is a ``Conv1D`` computing ``x @ W + b`` with ``W`` of shape ``(in, out)``:
    axis 0 (rows). ``nn.Linear`` (``o_proj`` of Llama / Qwen2 / Mistral, ``out_proj`` of OPT,
    BART) computes ``x @ W.T + b`` with ``W`` of shape ``(out, in)``: axis 1 (columns).
    """
    for name in _PROJECTIONS:
        proj = getattr(attention, name, None)
        if isinstance(proj, nn.Linear):
            return proj.weight, 1
        if proj is not None and type(proj).__name__ == "Conv1D" and getattr(proj, "weight", None) is not None:
            return proj.weight, 0
    return None


@contextlib.contextmanager
def ablate_hf_head(attention: nn.Module, head: int, num_heads: int):
    r"""Remove head ``head`` of a Hugging Face attention module inside the ``with`` block.

    The output is ``W_o concat_h(π^h V^h) + b_o``; zeroing the ``d_head`` input features of
    ``W_o`` that read head ``h`` (rows of GPT-2's ``Conv1D``, columns of an ``nn.Linear``) removes
    exactly that head's term. The saved slice is written back on exit, bit for bit.
    """
    found = out_projection(attention)
    if found is None:
        raise InputError(f"attention: {type(attention).__name__} has no output projection named "
                         f"{', '.join(_PROJECTIONS)}; head ablation supports GPT-2 (Conv1D c_proj) and "
                         "nn.Linear o_proj / out_proj")
    weight, axis = found
    if isinstance(num_heads, bool) or not isinstance(num_heads, numbers.Integral) or num_heads < 1 \
            or weight.shape[axis] % num_heads:
        raise InputError(f"num_heads: expected a positive divisor of {weight.shape[axis]}, received {num_heads!r}")
    if isinstance(head, bool) or not isinstance(head, numbers.Integral) or not 0 <= head < num_heads:
        raise InputError(f"head: expected an integer in [0, {num_heads}), received {head!r}")
    d = weight.shape[axis] // num_heads
    block = weight.detach().narrow(axis, head * d, d)
    saved = block.clone()
    with torch.no_grad():
        block.zero_()
    try:
        yield attention
    finally:
        with torch.no_grad():
            block.copy_(saved)
