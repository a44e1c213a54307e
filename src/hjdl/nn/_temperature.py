"""How a module stores its temperature ``eps`` (fixed buffer, or learnable and positive).

A fixed eps lives in a buffer ``eps_buffer`` (``>= 0``; 0 is the exact tropical limit). A
learnable eps is parametrised as ``eps = exp(log_eps)`` so it stays positive without clamping.
Both travel with ``state_dict``, ``.to(dtype)`` and ``.to(device)``.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from .._validation import as_tensor, check_dtype, check_eps, check_finite, check_points
from ..errors import DomainError, EpsilonError, InputError


def check_features(value, name: str) -> int:
    """A positive integer number of features / neurons, or :class:`InputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name}: expected a positive integer, received {value!r}")
    return int(value)


def check_t(t) -> float:
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t) or t <= 0:
        raise DomainError(f"t: expected a finite HJ time > 0, received {t!r}; t is a gauge "
                          "(every t > 0 gives an exact correspondence, default 1.0)")
    return float(t)


def module_input(x, name: str, width: int, like: torch.Tensor, owner: str) -> torch.Tensor:
    """A module's input ``x`` of shape ``(..., width)``: finite, in the common floating dtype of
    ``x`` and the parameter ``like`` (a module evaluates as the functional core does: NumPy
    arrays, lists and integer tensors are accepted, floating dtypes are promoted).

    Raises :class:`~hjdl.errors.InputError` / ``ShapeError`` / ``NonFiniteError`` naming ``name``.
    """
    xt = as_tensor(x, name, device=like.device)
    check_points(xt, width, name, owner)
    check_finite(xt, name)
    return xt.to(torch.promote_types(xt.dtype, like.dtype))


def init_temperature(module: nn.Module, eps, learn_eps: bool, dtype=None, device=None) -> None:
    """Register ``eps`` on ``module``: buffer ``eps_buffer`` or parameter ``log_eps``."""
    like = torch.empty((), dtype=check_dtype(dtype) or torch.get_default_dtype(), device=device)
    if isinstance(eps, torch.Tensor) and eps.numel() != 1:
        raise EpsilonError(f"eps: a module takes a single temperature, received shape {tuple(eps.shape)}")
    e, _ = check_eps(eps if not isinstance(eps, torch.Tensor) else eps.detach().reshape(()), like=like)
    if learn_eps:
        if float(e) <= 0:
            raise EpsilonError(f"eps: a learnable eps must start > 0 (it is exp(log_eps)), "
                               f"received {float(e)!r}; use learn_eps=False for the tropical eps = 0")
        module.log_eps = nn.Parameter(torch.log(e.clone()))
    else:
        module.register_buffer("eps_buffer", e.clone())


def temperature(module: nn.Module) -> torch.Tensor:
    """The current eps of ``module`` as a 0-d tensor (differentiable when learnable)."""
    log_eps = module._parameters.get("log_eps")
    if log_eps is not None:
        return torch.exp(log_eps)
    return module._buffers["eps_buffer"]


def set_temperature(module: nn.Module, value) -> None:
    """Assign a new eps (keeps the parametrisation: ``log_eps = log value`` when learnable)."""
    e, _ = check_eps(value, like=temperature(module).detach())
    if e.ndim:
        raise EpsilonError(f"eps: expected a single number, received shape {tuple(e.shape)}")
    log_eps = module._parameters.get("log_eps")
    with torch.no_grad():
        if log_eps is not None:
            if float(e) <= 0:
                raise EpsilonError(f"eps: a learnable eps must stay > 0, received {float(e)!r}")
            log_eps.copy_(torch.log(e))
        else:
            module._buffers["eps_buffer"].copy_(e)


def init_affine(module: nn.Module, out_features: int, in_features: int, *, dtype=None, device=None,
                generator: torch.Generator | None = None) -> None:
    """Give ``module`` parameters ``weight`` ``(out, in)`` and ``bias`` ``(out,)``, initialised
    ``U(−1/√in, 1/√in)`` (as ``nn.Linear``) from ``generator`` if given."""
    kw = {"dtype": check_dtype(dtype), "device": device}
    module.weight = nn.Parameter(torch.empty(out_features, in_features, **kw))
    module.bias = nn.Parameter(torch.empty(out_features, **kw))
    reset_affine(module, generator)


def reset_affine(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Redraw ``module.weight`` and ``module.bias`` from ``U(−1/√in, 1/√in)``."""
    bound = 1.0 / math.sqrt(module.weight.shape[1])
    with torch.no_grad():
        module.weight.uniform_(-bound, bound, generator=generator)
        module.bias.uniform_(-bound, bound, generator=generator)


class TemperedAffine(nn.Module):
    """Shared shell of the layers with an affine map and a temperature: ``weight`` ``(out, in)``,
    ``bias`` ``(out,)`` (:func:`init_affine`) and ``eps`` (a buffer, or ``log_eps`` as a parameter
    when learnable, see :func:`init_temperature`). Subclasses call :meth:`_init_affine` and
    define ``forward``."""

    def _init_affine(self, out_features: int, in_features: int, eps, learn_eps: bool, *, dtype=None,
                     device=None, generator: torch.Generator | None = None) -> None:
        init_affine(self, out_features, in_features, dtype=dtype, device=device, generator=generator)
        init_temperature(self, eps, bool(learn_eps), dtype=self.weight.dtype, device=self.weight.device)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """``W, b ~ U(−1/√d, 1/√d)`` (as ``nn.Linear``), drawn from ``generator`` if given."""
        reset_affine(self, generator)

    @property
    def eps(self) -> torch.Tensor:
        """The temperature ``eps`` (0-d tensor; differentiable when learnable)."""
        return temperature(self)

    @eps.setter
    def eps(self, value) -> None:
        set_temperature(self, value)
