"""The record :func:`hjdl.solve` returns, and the warning it gives when a budget falls short."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ..core import InitialData

__all__ = ["Solution", "ToleranceWarning"]


class ToleranceWarning(UserWarning):
    """The requested tolerance was not reached with the given budget (the message gives the
    achieved error bar and the budget that would reach it)."""


@dataclass
class Solution:
    """The solution of ``u_t + ∇uᵀA∇u = eps tr(A∇²u)``, ``u(·, 0) = g`` at points ``x`` (B, d).

    Attributes:
        value: ``u(x, t)``, shape (B,).
        stderr: one standard error of ``value`` (B,) for the random methods (``"mc"``, ``"qmc"``,
            ``"is"``); NaN for ``"hopf-lax"``, which reports ``interval`` instead. Delta method on
            the mean of the weights (replicate spread for ``"qmc"``); calibrated (2-sigma coverage
            ~0.95, tests/solver/test_hjb.py) while ``ess/N`` is not small. With heavy-tailed
            weights it is optimistic: at ``ess/N ≈ 0.13`` we measured 0.88 coverage over 200 seeds.
            The value is biased up by about ``stderr²/(2 eps)`` (``info["bias_estimate"]``).
        interval: (B, 2) bounds ``[lower, upper]`` that contain the exact value (``"hopf-lax"``:
            a duality-gap certificate for convex g; for non-convex g only the upper bound is
            certain and the lower one is ``-inf``); ``value ± 2·stderr`` for the random methods.
        grad: ``∇u(x, t)`` (B, d), the characteristic field ``A⁻¹(x − E_π y)/(2t)`` averaged under
            the Gibbs weights ``π ∝ exp(−g(y)/eps)`` of the atoms (THEORY §3).
        grad_stderr: its standard error (B, d) (NaN for ``"hopf-lax"``).
        atoms: one :class:`~hjdl.InitialData` per point (a tuple of length B) such that the
            normalised discrete Hopf–Cole value ``hjdl.hopf_cole(x[b], atoms[b], eps, t,
            normalized=True)`` equals ``value[b]``: the solution at ``x[b]`` is an LSE layer.
            Built on first access; ``None`` when keeping them would exceed ``keep_atoms``
            elements, and for ``"hopf-lax"``.
        method: the method used; ``reason`` says why (for ``method="auto"``).
        ess: Kish effective sample size ``1/Σ π_j²`` of the final weights (B,).
        n_samples: atoms in the final estimate; ``n_evals``: evaluations of ``g`` in all (pilots,
            adaptation and optimisation included).
        info: method details (proposal, rounds, starts, certificate, seed).
    """

    value: torch.Tensor
    stderr: torch.Tensor
    interval: torch.Tensor
    grad: torch.Tensor
    grad_stderr: torch.Tensor
    make_atoms: Callable[[], tuple[InitialData, ...] | None] = field(repr=False)
    method: str
    reason: str
    ess: torch.Tensor
    n_samples: int
    n_evals: int
    eps: float
    t: float
    info: dict[str, Any] = field(default_factory=dict)
    _atoms: Any = field(default=None, repr=False, init=False)

    @property
    def atoms(self) -> tuple[InitialData, ...] | None:
        """One :class:`~hjdl.InitialData` per point (built on first access), or None."""
        if self._atoms is None:
            self._atoms = self.make_atoms()
        return self._atoms

    def __repr__(self) -> str:
        B = self.value.shape[0]
        head = ", ".join(f"{float(v):.6g} ± {float(s):.2g}" for v, s in zip(self.value[:3], self.stderr[:3]))
        more = ", ..." if B > 3 else ""
        return (f"Solution(method={self.method!r}, B={B}, value=[{head}{more}], "
                f"n_samples={self.n_samples}, ess_min={float(self.ess.min()):.3g})")
