"""Head ablation: remove one attention head's contribution, restore it on exit."""

from __future__ import annotations

import contextlib
import numbers

import torch
from torch import nn

from ..errors import InputError
from ..nn.attention import GibbsAttention

__all__ = ["ablate_head"]


@contextlib.contextmanager
def ablate_head(module, head: int):
    r"""Zero head ``head`` of a ``MultiheadAttention`` / ``GibbsAttention`` inside the ``with`` block.

    The output is ``W_o concat_h(π^h V^h) + b_o``; zeroing the ``d_head`` columns of ``W_o``
    that read head ``h`` removes exactly that head's term. The weights are restored on exit.

    Example:
        >>> import torch
        >>> mha = torch.nn.MultiheadAttention(4, 2, batch_first=True)
        >>> with ablate_head(mha, 1):
        ...     float(mha.out_proj.weight.detach()[:, 2:].abs().sum())
        0.0
    """
    if not isinstance(module, (nn.MultiheadAttention, GibbsAttention)):
        raise InputError(f"module: expected MultiheadAttention or GibbsAttention, received {type(module).__name__}")
    if isinstance(head, bool) or not isinstance(head, numbers.Integral) or not 0 <= head < module.num_heads:
        raise InputError(f"head: expected an integer in [0, {module.num_heads}), received {head!r}")
    d = module.embed_dim // module.num_heads
    w = module.out_proj.weight
    saved = w.detach()[:, head * d:(head + 1) * d].clone()
    with torch.no_grad():
        w[:, head * d:(head + 1) * d] = 0
    try:
        yield module
    finally:
        with torch.no_grad():
            w[:, head * d:(head + 1) * d] = saved
