"""The tropical (max-plus) semiring and its Maslov deformation, and the activation identities.

Maslov addition ``a ⊕_eps b = eps log(e^{a/eps} + e^{b/eps})`` is the two-term LSE; it tends to
``max(a, b)`` as ``eps → 0`` (THEORY §1, T1). Multiplication is ordinary ``+``. The activation
identities of THEORY §1 are LSE / Gibbs weights of two logits:

* ``softplus_eps(z) = eps log(1 + e^{z/eps}) = LSE_eps(z, 0)`` → ``ReLU`` (gap ``<= eps log 2``),
* ``sigmoid(z / eps) = π_1(z, 0)``,
* ``tanh(z / eps) = π_+ − π_−`` for logits ``(z, −z)``.

SiLU and GELU have no exact identity of this kind (the paper lists them as open).
"""

from __future__ import annotations

import torch

from .._validation import as_tensor, check_eps, check_no_nan, common
from ..errors import ShapeError
from .kernel import _gibbs_checked, _lse, _lse_checked, _prepare

__all__ = ["oplus", "otimes", "maxplus_matmul", "softplus_eps", "sigmoid_eps", "tanh_eps"]

_BLOCK = 1 << 22  # elements of the (rows, inner, cols) block formed by maxplus_matmul


def _pair(a, b, names=("a", "b")):
    at, bt = as_tensor(a, names[0]), as_tensor(b, names[1])
    check_no_nan(at, names[0])
    check_no_nan(bt, names[1])
    at, bt = common(at, bt, names=names)
    try:
        at, bt = torch.broadcast_tensors(at, bt)
    except RuntimeError:
        raise ShapeError(f"{names[0]} and {names[1]}: shapes {tuple(at.shape)} and "
                         f"{tuple(bt.shape)} do not broadcast") from None
    return at, bt


def oplus(a, b, eps) -> torch.Tensor:
    """Maslov (tropical) addition ``a ⊕_eps b = LSE_eps(a, b)``, elementwise with broadcasting.

    ``eps = 0`` gives exactly ``max(a, b)``; ``-inf`` is the additive zero.

    Example:
        >>> import hjdl
        >>> float(hjdl.oplus(1.0, 2.0, eps=0))
        2.0
    """
    at, bt = _pair(a, b)
    pair = torch.stack([at, bt], dim=-1)
    return _lse_checked(*_prepare(pair, eps, -1, out_desc="the broadcast shape of a and b"))


def otimes(a, b) -> torch.Tensor:
    """Tropical multiplication: ordinary addition ``a + b`` (the unit is 0)."""
    at, bt = _pair(a, b)
    return at + bt


def maxplus_matmul(A, B, eps=0.0) -> torch.Tensor:
    """Max-plus matrix product ``(A ⊗ B)_ik = ⊕_j (A_ij + B_jk)``, deformed by ``eps``.

    ``eps = 0``: ``max_j (A_ij + B_jk)``; ``eps > 0``: ``LSE_eps`` over ``j``. Shapes
    ``(..., I, J) ⊗ (J, K) → (..., I, K)``; entries may be ``-inf`` (the tropical zero).
    Computed in row blocks so that the ``(I, J, K)`` intermediate stays below ``2**22`` elements.

    Example:
        >>> import torch, hjdl
        >>> hjdl.maxplus_matmul(torch.tensor([[0., 1.]]), torch.tensor([[2.], [0.]]))
        tensor([[2.]])
    """
    At, Bt = as_tensor(A, "A"), as_tensor(B, "B")
    check_no_nan(At, "A")
    check_no_nan(Bt, "B")
    At, Bt = common(At, Bt, names=("A", "B"))
    if At.ndim < 2 or Bt.ndim != 2 or At.shape[-1] != Bt.shape[0]:
        raise ShapeError(f"A, B: expected shapes (..., I, J) and (J, K), received "
                         f"{tuple(At.shape)} and {tuple(Bt.shape)}")
    e, mode = check_eps(eps, like=At)
    if e.ndim:
        raise ShapeError(f"eps: maxplus_matmul takes a scalar eps, received shape {tuple(e.shape)}")
    lead, (I, J), K = At.shape[:-2], At.shape[-2:], Bt.shape[1]
    rows = At.reshape(-1, J)
    step = max(1, _BLOCK // max(1, J * K))
    out = [_lse(rows[i:i + step, :, None] + Bt[None], e, mode, -2).squeeze(-2)
           for i in range(0, rows.shape[0], step)]
    return torch.cat(out, 0).reshape(*lead, I, K) if out else rows.new_zeros(*lead, I, K)


def softplus_eps(z, eps) -> torch.Tensor:
    """``eps log(1 + exp(z / eps)) = LSE_eps(z, 0)``; ``eps = 0`` is ``ReLU``; gap ``<= eps log 2``.

    Example:
        >>> import hjdl
        >>> float(hjdl.softplus_eps(-1.0, eps=0))
        0.0
    """
    zt = as_tensor(z, "z")
    check_no_nan(zt, "z")
    pair = torch.stack([zt, torch.zeros_like(zt)], dim=-1)
    return _lse_checked(*_prepare(pair, eps, -1, out_desc="the shape of z"))


def _two_logit_gibbs(first: torch.Tensor, second: torch.Tensor, eps) -> torch.Tensor:
    pair = torch.stack([first, second], dim=-1)
    return _gibbs_checked(*_prepare(pair, eps, -1, out_desc="the shape of z"))


def sigmoid_eps(z, eps) -> torch.Tensor:
    """``sigmoid(z / eps)`` as the first Gibbs weight of the logits ``(z, 0)``; eps = 0: a step
    (1 for z > 0, 1/2 at z = 0 by the tie rule, 0 for z < 0)."""
    zt = as_tensor(z, "z")
    check_no_nan(zt, "z")
    return _two_logit_gibbs(zt, torch.zeros_like(zt), eps)[..., 0]


def tanh_eps(z, eps) -> torch.Tensor:
    """``tanh(z / eps) = π_+ − π_−`` for the logits ``(z, −z)``; eps = 0: ``sign(z)``."""
    zt = as_tensor(z, "z")
    check_no_nan(zt, "z")
    p = _two_logit_gibbs(zt, -zt, eps)
    return p[..., 0] - p[..., 1]
