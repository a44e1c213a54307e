"""The layer the explorer shows: the built-in example, or a user's model brought to one LSE layer.

Every model form goes through :func:`hjdl._models.as_model` (the one adapter); the explorer then
keeps one head ``f(x) = LSE_eps(W x + b)`` as float64 ``W`` ``(N, d)``, ``b`` ``(N,)``, its own
temperature ``eps0`` and a box ``bounds`` ``(d, 2)`` around the atoms, in which the views draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from .._models import ACCEPTED, LSEHeads, as_model
from ..errors import InputError

__all__ = ["ExploreModel", "example_model", "from_model", "eps_grid"]


@dataclass(frozen=True, eq=False)
class ExploreModel:
    """One LSE layer and the frame the views draw it in.

    Attributes:
        W: ``(N, d)`` float64; b: ``(N,)``; eps0: the model's own temperature (> 0);
        bounds: ``(d, 2)`` box; x0: ``(d,)`` the chosen point; plane: ``(3, d)`` origin and two
        directions of the 2-D view (the data plane for ``d == 2``, else the atoms' top two
        principal directions); name: what the page calls the model.
    """

    W: torch.Tensor
    b: torch.Tensor
    eps0: float
    bounds: np.ndarray
    x0: torch.Tensor
    plane: torch.Tensor
    name: str
    extra: dict = field(default_factory=dict)

    @property
    def N(self) -> int:  # noqa: N802 (the paper's name)
        return int(self.W.shape[0])

    @property
    def d(self) -> int:
        return int(self.W.shape[1])

    @property
    def triple(self) -> tuple:
        """``(W, b, eps0)``, the form every analysis function accepts."""
        return (self.W, self.b, self.eps0)

    def at(self, eps: float) -> tuple:
        """``(W, b, eps)``: the same layer at another temperature."""
        return (self.W, self.b, float(eps))


def _frame(W: torch.Tensor) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """A box around the atoms, a chosen point and the 2-D view plane (atoms ``y_j = 2 W_j``)."""
    Wn = W.numpy()
    lo, hi = Wn.min(0), Wn.max(0)
    pad = 0.25 * np.maximum(hi - lo, 1e-3)
    bounds = np.stack([lo - pad, hi + pad], axis=1)
    centre = torch.as_tensor(Wn.mean(0))
    d = W.shape[1]
    if d == 1:
        plane = torch.stack([centre, torch.ones(1, dtype=W.dtype), torch.zeros(1, dtype=W.dtype)])
    elif d == 2:
        plane = torch.stack([torch.zeros(2, dtype=W.dtype), torch.tensor([1.0, 0.0], dtype=W.dtype),
                             torch.tensor([0.0, 1.0], dtype=W.dtype)])
    else:  # the atoms' top two principal directions
        _, _, Vt = torch.linalg.svd(W - centre, full_matrices=False)
        plane = torch.stack([centre, Vt[0], Vt[1]])
    # the chosen point: a little off the centre, so that several neurons compete there
    x0 = centre + 0.15 * torch.as_tensor(hi - lo)
    return bounds, x0, plane


@lru_cache(maxsize=8)
def example_model(n_atoms: int = 24, seed: int = 0) -> ExploreModel:
    """The built-in example: ``n_atoms`` neurons in the plane, eps = ``N^{-1/2}`` (eps*).

    The same object is returned for the same arguments, so the per-eps caches are shared by the
    server and the exporter.

    Example:
        >>> m = example_model(8)
        >>> m.W.shape, m.d, round(m.eps0, 4)
        (torch.Size([8, 2]), 2, 0.3536)
    """
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(n_atoms, 2, generator=g, dtype=torch.float64) * 2 - 1
    b = -0.5 * (W ** 2).sum(1) + 0.2 * torch.randn(n_atoms, generator=g, dtype=torch.float64)
    bounds, x0, plane = _frame(W)
    return ExploreModel(W=W, b=b, eps0=float(n_atoms ** -0.5), bounds=bounds, x0=x0, plane=plane,
                        name=f"built-in example: {n_atoms} random atoms in the plane (seed {seed})")


def from_model(model, name: str = "your model") -> ExploreModel:
    """Any model form of :func:`hjdl._models.as_model` with one LSE head (the first is shown).

    Raises:
        InputError: a model with hidden layers, or anything :func:`as_model` does not accept.
    """
    m = as_model(model)
    if not isinstance(m, LSEHeads):
        raise InputError(f"model: the explorer shows one LSE layer; received {type(model).__name__} with "
                         f"hidden layers; accepted: {ACCEPTED}")
    W = m.W[0].detach().double().cpu()
    b = m.b[0].detach().double().cpu()
    eps0 = float(m.eps[0])
    if not eps0 > 0:
        eps0 = float(W.shape[0] ** (-1.0 / max(W.shape[1], 1)))
    bounds, x0, plane = _frame(W)
    return ExploreModel(W=W, b=b, eps0=eps0, bounds=bounds, x0=x0, plane=plane, name=name)


def eps_grid(m: ExploreModel, n: int = 41) -> np.ndarray:
    """``n`` log-spaced temperatures from ``eps0 / 30`` to ``eps0 · 10``, with ``eps0`` on the grid
    (all rounded to 12 significant digits)."""
    lo, hi = math.log10(m.eps0 / 30.0), math.log10(m.eps0 * 10.0)
    grid = np.logspace(lo, hi, n)
    grid[int(np.argmin(np.abs(grid - m.eps0)))] = m.eps0
    # 12 significant digits: the states are cached under this rounding, so eps shown = eps used
    return np.array([float(f"{v:.12g}") for v in grid])


#: What ``hjdl explore --model`` accepts (named in every refusal).
MODEL_FILES = ("a file written by torch.save of an hjdl.nn.LSELayer / LSENetwork state_dict "
               "(keys weight, bias, eps_buffer or log_eps; or heads.0.weight, ...), of such a module, or of "
               "a fitted HJRegressor / HJClassifier; or a Hugging Face checkpoint folder (config.json) for "
               "the attention view")


def _from_state_dict(sd: dict) -> tuple:
    """``(W, b, eps)`` of the first LSE head in an LSELayer / LSENetwork ``state_dict``."""
    for prefix in ("", "heads.0."):
        if f"{prefix}weight" in sd and f"{prefix}bias" in sd:
            W, b = sd[f"{prefix}weight"], sd[f"{prefix}bias"]
            if f"{prefix}eps_buffer" in sd:
                eps = float(sd[f"{prefix}eps_buffer"])
            elif f"{prefix}log_eps" in sd:
                eps = math.exp(float(sd[f"{prefix}log_eps"]))
            else:
                eps = 0.0
            if any(k.startswith("hidden") for k in sd):
                raise InputError("--model: an LSENetwork with hidden layers; the explorer shows one LSE layer; "
                                 f"accepted: {MODEL_FILES}")
            return (W, b, eps)
    raise InputError(f"--model: a state_dict without LSE weights (keys {sorted(sd)[:6]}); accepted: {MODEL_FILES}")


def load_model_file(path) -> ExploreModel:
    """An :class:`ExploreModel` from a ``torch.save`` file (see :data:`MODEL_FILES`).

    A state_dict is read with ``weights_only=True``; a whole pickled module or estimator is
    unpickled (only open files you trust), then brought to one layer by :func:`from_model`.
    """
    import pickle
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise InputError(f"--model: {str(path)!r} is not a file or checkpoint folder; accepted: {MODEL_FILES}")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError) as first:
        try:
            obj = torch.load(p, map_location="cpu", weights_only=False)
        except Exception:
            raise InputError(f"--model: {p.name!r} is not an hjdl model or checkpoint ({type(first).__name__}); "
                             f"accepted: {MODEL_FILES}") from None
    except Exception as exc:
        raise InputError(f"--model: {p.name!r} is not an hjdl model or checkpoint ({type(exc).__name__}); "
                         f"accepted: {MODEL_FILES}") from None
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        obj = _from_state_dict(obj)
    try:
        return from_model(obj, name=f"{p.name} ({type(obj).__name__})")
    except InputError as exc:
        raise InputError(f"--model: {p.name!r} is not a model the explorer can show ({exc}); "
                         f"accepted: {MODEL_FILES}") from None
