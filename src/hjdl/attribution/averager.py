r"""The data-anchored model ``F(x) = Σ_j π_j(x) v_j`` and its exact leave-one-out (THEORY §4).

One atom per training example (``y_j = x_j``, value ``v_j``) and Gibbs weights of the Hopf–Cole
problem at time ``t``:

    π_j(x) ∝ exp(−[g_j + |x − y_j|² / (4t)] / eps),

so ``F`` is Nadaraya–Watson kernel regression with a Gaussian kernel of bandwidth ``√(2 eps t)``
(``g = 0``). Here, and only here, π attributes a prediction to *training examples*. Deleting
example ``k`` changes the prediction by exactly

    F(x) − F_{−k}(x) = π_k (v_k − F(x)) / (1 − π_k)          (O(N) for all k).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._validation import as_tensor, check_eps, check_finite, check_matrix_rows, check_time, common
from ..core.initial_data import InitialData, from_initial_data
from ..core.kernel import _gibbs
from ..errors import InputError, ShapeError
from ._params import prepare_points
from .gibbs import _top_mask

__all__ = ["GibbsAverager"]


def _is_integer(values) -> bool:
    if isinstance(values, torch.Tensor):
        return not values.is_floating_point() and not values.is_complex() and values.dtype != torch.bool
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "iu"
    if isinstance(values, (list, tuple)):
        arr = np.asarray(values)
        return arr.dtype.kind in "iu"
    return False


_INT64_LIMIT = 2.0**63  # |label| below this converts exactly to int64


def _check_labels(labels, n: int) -> torch.Tensor:
    """Class labels as an int64 tensor of shape ``(n,)``: integers, booleans, or floats holding
    finite whole numbers of magnitude below 2^63; anything else is refused (never wrapped)."""
    if isinstance(labels, torch.Tensor):
        lab = labels.detach().cpu().resolve_conj().resolve_neg()
        arr = (lab.double() if lab.dtype == torch.bfloat16 else lab).numpy()
    else:
        try:
            arr = np.asarray(labels)
        except (TypeError, ValueError):
            raise InputError(f"labels: expected integer class labels of shape ({n},), received "
                             f"{type(labels).__name__} that is not an array") from None
    if arr.shape != (n,):
        raise ShapeError(f"labels: expected shape ({n},) (one label per atom), received {arr.shape}")
    accepted = ("accepted: integers (or floats holding whole numbers) of magnitude below 2^63, "
                "one per atom; map other class names to integers first, e.g. np.unique(labels, "
                "return_inverse=True)[1]")
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) >= 2**63:
        raise InputError(f"labels: received {int(arr.max())}, beyond int64; {accepted}")
    if arr.dtype.kind in "biu":
        return torch.from_numpy(arr.astype(np.int64))
    if arr.dtype.kind != "f":
        raise InputError(f"labels: expected integer class labels, received dtype {arr.dtype}; {accepted}")
    arr = arr.astype(np.float64)
    bad = ~(np.abs(arr) < _INT64_LIMIT) | (arr != np.round(arr))  # NaN and ±inf fail the first
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"labels: expected integer class labels, received {float(arr[i])!r} at index {i}; {accepted}")
    return torch.from_numpy(arr.astype(np.int64))


class GibbsAverager:
    r"""Data-anchored Gibbs average ``F(x) = Σ_j π_j(x) v_j`` (THEORY §4).

    Args:
        atoms: training inputs ``y_j``, shape ``(N, d)``.
        values: targets ``v_j``, shape ``(N,)`` or ``(N, k)``. Integer values are also taken as
            class labels (for :meth:`class_scores`).
        eps: temperature ``>= 0`` (a single number); ``eps = 0`` is 1-nearest-neighbour.
        t: HJ time ``> 0``; the kernel bandwidth is ``√(2 eps t)``.
        g: optional initial values ``(N,)`` (default 0: plain kernel regression).
        labels: optional integer class labels ``(N,)`` (default: ``values`` when integer).
            Floats are accepted when they hold whole numbers below 2^63 in magnitude; NaN,
            ±inf, fractions, larger numbers, strings and complex values raise
            :class:`~hjdl.errors.InputError` (map class names to integers first).

    Attributes:
        layer: ``(W, b, eps)`` of the LSE layer whose Gibbs weights these are (the bijection of
            THEORY §2), so :func:`~hjdl.attribution.attribute` and
            :func:`~hjdl.attribution.deletion_influence` apply to it too.
        classes: the sorted distinct labels (when labels are known).
        bandwidth: ``√(2 eps t)``.

    Example:
        >>> import torch
        >>> from hjdl.attribution import GibbsAverager
        >>> y, v = torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([0.0, 1.0, 1.0])
        >>> m = GibbsAverager(y, v, eps=0.1, labels=[0, 1, 1])
        >>> round(float(m.predict(torch.tensor([[0.1]]))[0]), 4)
        0.1192
        >>> bool(m.class_scores(torch.tensor([[2.9]])).argmax() == 1)
        True
    """

    def __init__(self, atoms, values, eps, t=1.0, *, g=None, labels=None):
        y = check_matrix_rows(as_tensor(atoms, "atoms"), "atoms")
        if labels is None and _is_integer(values):
            labels = values
        v = as_tensor(values, "values")
        y, v = common(y, v, names=("atoms", "values"))
        if v.ndim not in (1, 2) or v.shape[0] != y.shape[0]:
            raise ShapeError(f"values: expected shape ({y.shape[0]},) or ({y.shape[0]}, k) to match "
                             f"the {y.shape[0]} atoms, received shape {tuple(v.shape)}")
        check_finite(y, "atoms")
        check_finite(v, "values")
        gt = torch.zeros(y.shape[0], dtype=y.dtype, device=y.device) if g is None else as_tensor(g, "g")
        data = InitialData(y, gt.to(y.dtype))
        e, self._mode = check_eps(eps, like=y)
        if e.ndim:
            raise ShapeError(f"eps: expected a single temperature, received shape {tuple(e.shape)}")
        self.t = float(check_time(t, like=y))
        W, b = from_initial_data(data, self.t)
        self.atoms, self.values, self.g, self.eps = y, v, data.g, e
        self.layer = (W, b, e)
        self.labels = self.classes = None
        if labels is not None:
            lab = _check_labels(labels, y.shape[0]).to(y.device)
            self.classes, self.labels = torch.unique(lab, return_inverse=True)

    @property
    def n_atoms(self) -> int:
        return self.atoms.shape[0]

    @property
    def bandwidth(self) -> float:
        return math.sqrt(2 * float(self.eps) * self.t)

    # -- internals ---------------------------------------------------------------------------
    def _logits(self, x):
        xt, _ = prepare_points(x, self.atoms)
        W, b, _ = self.layer
        return xt @ W.T + b

    def weights(self, x) -> torch.Tensor:
        """``π_j(x)``, shape ``(..., N)``; rows sum to one."""
        return _gibbs(self._logits(x), self.eps, self._mode, -1)

    def predict(self, x) -> torch.Tensor:
        """``F(x) = Σ_j π_j v_j``, shape ``(...)`` or ``(..., k)``."""
        return self.weights(x) @ self.values

    def class_scores(self, x) -> torch.Tensor:
        """``p_c(x) = Σ_{j: label_j = c} π_j(x)``, shape ``(..., C)`` in the order of ``classes``."""
        if self.labels is None:
            raise InputError("class_scores: this GibbsAverager has no class labels; pass integer "
                             "values or labels=... when constructing it")
        onehot = torch.nn.functional.one_hot(self.labels, len(self.classes)).to(self.atoms.dtype)
        return self.weights(x) @ onehot

    def loo_influence(self, x) -> torch.Tensor:
        r"""Exact leave-one-out change ``F(x) − F_{−k}(x)`` for every training example k.

        ``F − F_{−k} = π_k (v_k − F) / (1 − π_k)`` for the non-top atoms (``π_k <= 1/2``). For
        the top atom, where ``1 − π_top`` may round to 0, the equal form ``π_top (v_top − F_{−top})``
        is used, with ``F_{−top}`` the Gibbs average over the other atoms (O(N)). ``eps = 0``
        (1-NN) is covered by the same formulas. Shape ``(..., N)`` or ``(..., N, k)``.
        Needs at least two atoms (``F_{−k}`` of a lone atom is an empty average).
        """
        if self.n_atoms < 2:
            raise InputError("loo_influence: needs at least 2 atoms; with one atom the "
                             "leave-one-out model is an empty average (undefined)")
        z = self._logits(x)
        pi = _gibbs(z, self.eps, self._mode, -1)
        top = _top_mask(z)
        v = self.values
        F = pi @ v
        F_wo_top = _gibbs(z.masked_fill(top, -torch.inf), self.eps, self._mode, -1) @ v
        if v.ndim == 1:
            rest = pi * (v - F[..., None]) / (1 - pi)
            top_row = pi * (v - F_wo_top[..., None])
            return torch.where(top, top_row, rest)
        p = pi[..., None]
        rest = p * (v - F[..., None, :]) / (1 - p)
        top_row = p * (v - F_wo_top[..., None, :])
        return torch.where(top[..., None], top_row, rest)

    def __repr__(self) -> str:
        return (f"GibbsAverager(n_atoms={self.n_atoms}, dim={self.atoms.shape[1]}, "
                f"eps={float(self.eps):g}, t={self.t:g}, bandwidth={self.bandwidth:.4g})")
