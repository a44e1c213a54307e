r"""Closed-form Gibbs attribution and exact neuron deletion (THEORY §4, T2, T5).

For an LSE layer ``f(x) = LSE_eps(Wx + b)`` with logits ``z = Wx + b``:

* ``π(x) = softmax(z / eps) = ∂f/∂b`` is the share of the prediction carried by each neuron
  (completeness: ``Σ_j π_j = 1``; ``∇f = Σ_j π_j W_j``);
* (T2) ``f = ⟨π, z⟩ + eps H(π)`` exactly: every attribution carries this self-check;
* (T5) deleting neuron ``k`` changes the output by exactly ``f_{−k}(x) − f(x) = eps log(1 − π_k)``.

Everything is O(N) per point and batched over points; there is no Python loop over points or
neurons. π attributes a prediction to *neurons* (or attention keys). It attributes to *training
examples* only for a data-anchored model (one atom per example, see
:class:`~hjdl.attribution.GibbsAverager`); do not compare it with training-data attribution tools
(influence functions, TracIn, data Shapley) for a trained layer whose neurons are not examples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import EPS_MIXED, EPS_POSITIVE, EPS_ZERO
from ..core.kernel import _entropy, _gibbs, _lse
from .._models import Record, batch_columns
from ..errors import InputError
from ._params import eps_column, logits, prepare_points, resolve_params

__all__ = ["Attribution", "attribute", "deletion_influence", "REGIMES", "PARTICLE_BELOW", "WAVE_ABOVE"]

#: Regime names, indexed by the codes in :attr:`Attribution.regime`.
REGIMES: tuple[str, ...] = ("particle", "mixed", "wave")
#: Normalised entropy ``H / log N`` below which a point is in the particle regime (THEORY §8 bands).
PARTICLE_BELOW: float = 0.33
#: Normalised entropy at or above which a point is in the wave regime.
WAVE_ABOVE: float = 0.66


# ----------------------------------------------------------------------------------------------
# engine (inputs trusted; reductions along the last axis)


def _top_mask(z: torch.Tensor) -> torch.Tensor:
    """Boolean mask of one maximal entry per row (the first, in case of ties)."""
    idx = z.detach().argmax(-1, keepdim=True)
    return torch.zeros(z.shape, dtype=torch.bool, device=z.device).scatter_(-1, idx, True)


def _log_one_minus_pi(z: torch.Tensor, eps: torch.Tensor, mode: str) -> torch.Tensor:
    """``log(1 − π_k)`` for every k, stable when ``π_k → 1`` (eps > 0 only).

    Non-top neurons have ``π_k <= 1/2``: ``log1p(−π_k)`` is accurate. For the top neuron
    ``log(1 − π_top) = [LSE_eps(z_{−top}) − LSE_eps(z)] / eps`` is formed from logits shifted by
    the top logit, so it stays exact even when ``1 − π_top`` underflows. With a single neuron the
    result is ``−inf`` (the empty LSE is ``−inf``).
    """
    top = _top_mask(z)
    zeta = z - (z * top).sum(-1, keepdim=True)  # z − z_top (exactly 0 at the top)
    f_shift = _lse(zeta, eps, mode, -1)
    f_without = _lse(zeta.masked_fill(top, -torch.inf), eps, mode, -1)
    top_value = (f_without - f_shift) / eps
    pi = _gibbs(zeta, eps, mode, -1)
    return torch.where(top, top_value.expand_as(z), torch.log1p(-pi))


def _deletion(z: torch.Tensor, eps: torch.Tensor, mode: str) -> torch.Tensor:
    """``f_{−k} − f`` for every neuron k (see :func:`deletion_influence`); ``eps`` broadcasts
    against ``z`` with the neuron axis kept (0-d, or ``(C, 1)`` per head)."""
    if mode == EPS_MIXED:  # per-class heads, some tropical: each branch where it applies
        zero = eps == 0
        pos = _deletion(z, torch.where(zero, torch.ones_like(eps), eps), EPS_POSITIVE)
        return torch.where(zero, _deletion(z, torch.zeros_like(eps), EPS_ZERO), pos)
    if mode != EPS_ZERO:
        return eps * _log_one_minus_pi(z, eps, mode)
    # tropical limit: deleting a non-top neuron changes nothing; deleting the top one drops
    # the output to the second-largest logit (0 for a tie, -inf for a lone neuron)
    top = _top_mask(z)
    zeta = z - (z * top).sum(-1, keepdim=True)
    drop = _lse(zeta.masked_fill(top, -torch.inf), eps, mode, -1)
    return torch.where(top, drop.expand_as(z), torch.zeros_like(z))


# ----------------------------------------------------------------------------------------------
# public API


@dataclass(repr=False)
class Attribution(Record):
    """Closed-form attribution of an LSE layer at a batch of points (see :func:`attribute`).

    Shapes: ``(...)`` is the batch shape of ``x`` (followed by ``C`` for per-class heads),
    ``N`` the number of neurons.

    Two entropies, named for what they are: ``entropy`` is the Gibbs entropy ``H(π)`` itself
    (nats, in ``[0, log N]``); ``normalised_entropy`` (alias ``normalized_entropy``) is
    ``H / log N`` in ``[0, 1]``, the number the regimes are defined on and the one that
    :class:`hjdl.probe.LayerProbe` reports per head.

    Attributes:
        logits: ``z = Wx + b``, ``(..., N)``.
        weights: Gibbs weights ``π = softmax(z/eps)``, ``(..., N)``; rows sum to one.
        value: ``f = LSE_eps(z)``, ``(...)``.
        entropy: ``H(π) ∈ [0, log N]`` (not normalised), ``(...)``.
        normalized_entropy: ``H / log N ∈ [0, 1]`` (0 when N = 1), ``(...)``; also readable as
            :attr:`normalised_entropy`.
        regime: int64 codes into :data:`REGIMES` (particle below :data:`PARTICLE_BELOW`, wave at
            or above :data:`WAVE_ABOVE`, mixed between), ``(...)``.
        top_indices: the neurons of the ``k`` largest weights, ``(..., k)``.
        top_weights: those ``k`` largest weights, ``(..., k)``.
        input_gradient: ``∇_x f = Σ_j π_j W_j``, ``(..., d)``.
        self_check: ``|f − (⟨π, z⟩ + eps H(π))|`` (T2; rounding only), ``(...)``.
        eps: the temperature (0-d tensor; ``(C,)`` for per-class heads of different temperatures).
        per_class: whether the last batch axis is the class axis ``C`` (per-class heads).

    ``repr`` shows shapes and the key numbers, :meth:`summary` one line, :meth:`to_frame` one row
    per point (and class): value, entropy, normalised entropy, regime, top neurons, self-check.
    """

    logits: torch.Tensor
    weights: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor
    normalized_entropy: torch.Tensor
    regime: torch.Tensor
    top_indices: torch.Tensor
    top_weights: torch.Tensor
    input_gradient: torch.Tensor
    self_check: torch.Tensor
    eps: torch.Tensor
    per_class: bool = False

    @property
    def normalised_entropy(self) -> torch.Tensor:
        """``H / log N ∈ [0, 1]`` (the same tensor as :attr:`normalized_entropy`)."""
        return self.normalized_entropy

    @property
    def n_neurons(self) -> int:
        return self.weights.shape[-1]

    def regime_names(self) -> list:
        """The regimes as (nested lists of) strings, e.g. ``['particle', 'wave']``."""
        codes = self.regime.tolist()

        def name(c):
            return [name(v) for v in c] if isinstance(c, list) else REGIMES[c]

        return name(codes)

    def _key_numbers(self) -> dict:
        counts = torch.bincount(self.regime.reshape(-1), minlength=3).tolist()
        n = int(self.value.numel())
        classes = int(self.value.shape[-1]) if self.per_class and self.value.ndim else 1
        return {"points": n // max(classes, 1), **({"classes": classes} if self.per_class else {}),
                "neurons": self.n_neurons,
                "mean_normalised_entropy": float(self.normalized_entropy.double().mean()),
                "regimes": dict(zip(REGIMES, counts)),
                "max_self_check": float(self.self_check.double().max()) if self.self_check.numel() else 0.0}

    def summary(self) -> str:
        k = self._key_numbers()
        regimes = ", ".join(f"{v} {n}" for n, v in k["regimes"].items())
        eps = self.eps.tolist()
        per = f" x {k['classes']} classes" if "classes" in k else ""
        return (f"Attribution of {k['points']} point(s){per} over {k['neurons']} neurons at eps "
                f"{eps if isinstance(eps, list) else format(eps, '.4g')}: mean H/log N "
                f"{k['mean_normalised_entropy']:.3f} ({regimes}); self-check <= {k['max_self_check']:.2g}")

    def _frame_columns(self) -> dict:
        shape = tuple(self.value.shape)
        cols = batch_columns(shape, {"value": self.value, "entropy": self.entropy,
                                     "normalised_entropy": self.normalized_entropy,
                                     "top_index": self.top_indices, "top_weight": self.top_weights,
                                     "self_check": self.self_check},
                             ("point", "class") if self.per_class else ("point",))
        cols["regime"] = np.asarray([REGIMES[c] for c in self.regime.reshape(-1).tolist()])
        return cols


def attribute(model, x, *, top_k: int = 3) -> Attribution:
    r"""Closed-form Gibbs attribution of ``f(x) = LSE_eps(Wx + b)`` (THEORY §4, T2).

    ``π_j(x) = softmax((Wx + b)/eps)_j = ∂f/∂b_j`` is the share of ``f(x)`` carried by neuron
    ``j``; the record also holds ``H(π)``, ``H/log N``, the regime, the top-``k`` neurons, ``∇f``
    and the self-check ``|f − (⟨π, z⟩ + eps H(π))|`` (T2, exact up to rounding). ``eps = 0``
    gives the tropical attribution (the argmax neuron; ties share equally). Cost O(N) per point,
    batched over points. This attributes to neurons/keys; to training examples only for a
    data-anchored model (:class:`GibbsAverager`).

    Args:
        model: one LSE layer per output, in any of the forms of :mod:`hjdl._models`: an
            ``hjdl.nn.LSELayer`` (or any object with ``.weight`` ``(N, d)``, ``.bias`` ``(N,)``,
            ``.eps``), a tuple ``(W, b, eps)``, per-class heads (``(W (C, N, d), b (C, N), eps)``
            with eps one number or ``(C,)``, or a list of LSE layers), an ``LSENetwork`` without
            hidden layers, a fitted ``HJRegressor`` / ``HJClassifier`` with ``hidden=()`` (head
            ``c`` is the class ``classes_[c]``). A network with hidden layers raises
            :class:`~hjdl.errors.InputError`: attribution is the Gibbs weights of one layer; pass
            ``(net.heads, net.features(x))`` to attribute its output heads in feature space.
        x: points ``(..., d)``.
        top_k: how many top neurons to list (capped at N).

    Example:
        >>> import torch
        >>> from hjdl.attribution import attribute
        >>> W, b = torch.tensor([[1.0], [-1.0], [0.0]]), torch.zeros(3)
        >>> a = attribute((W, b, 0.1), torch.tensor([[2.0]]), top_k=1)
        >>> a.top_indices.tolist(), a.regime_names(), bool(a.self_check.max() < 1e-12)
        ([[0]], ['particle'], True)
    """
    W, b, eps, mode = resolve_params(model)
    xt, W = prepare_points(x, W)
    b = b.to(W.dtype)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InputError(f"top_k: expected a positive integer, received {top_k!r}")
    z = logits(xt, W, b)
    n = z.shape[-1]
    e = eps_column(eps)
    pi = _gibbs(z, e, mode, -1)
    f = _lse(z, e, mode, -1).squeeze(-1)
    H = _entropy(pi, -1)
    h = H / math.log(n) if n > 1 else torch.zeros_like(H)
    regime = (h >= PARTICLE_BELOW).long() + (h >= WAVE_ABOVE).long()
    top_w, top_i = torch.topk(pi, min(top_k, n), dim=-1)
    grad = pi @ W if W.ndim == 2 else torch.einsum("...cn,cnd->...cd", pi, W)
    check = (f - ((pi * z).sum(-1) + eps * H)).abs()
    return Attribution(logits=z, weights=pi, value=f, entropy=H, normalized_entropy=h,
                       regime=regime, top_indices=top_i, top_weights=top_w,
                       input_gradient=grad, self_check=check, eps=eps,
                       per_class=W.ndim == 3)


def deletion_influence(model, x) -> torch.Tensor:
    r"""Exact change of the output when each neuron is deleted (THEORY T5), shape ``(..., N)``.

    ``f_{−k}(x) − f(x) = eps log(1 − π_k(x))`` (always ``<= 0``), for all ``k`` in O(N).
    Stable when ``π_k → 1``: non-top neurons use ``log1p(−π_k)``; the top neuron uses logits
    shifted by the top logit, ``LSE_eps(z_{−top} − z_top) − LSE_eps(z − z_top)``, so the effect is
    exact even where ``1 − π_top`` underflows (it then tends to ``−(z_top − z_second)``).

    Defined cases: ``eps = 0`` gives the tropical effect (0 for every non-top neuron and for
    tied maxima, ``z_second − z_top`` for a unique top); a lone neuron (N = 1) gives ``−inf``
    (the LSE of no neurons is ``−inf``).

    Args:
        model: as in :func:`attribute`.
        x: points ``(..., d)``.

    Example:
        >>> import torch
        >>> from hjdl.attribution import deletion_influence
        >>> W, b = torch.tensor([[1.0], [-1.0]]), torch.zeros(2)
        >>> deletion_influence((W, b, 0.0), torch.tensor([[2.0]]))
        tensor([[-4.,  0.]])
    """
    W, b, eps, mode = resolve_params(model)
    xt, W = prepare_points(x, W)
    return _deletion(logits(xt, W, b.to(W.dtype)), eps_column(eps), mode)
