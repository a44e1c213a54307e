"""Independent checks of the LSE <=> Hamilton-Jacobi correspondence (THEORY §3).

Each check compares a quantity computed by :mod:`hjdl.core` with an independent computation
(float64 NumPy/SciPy, automatic differentiation, a grid PDE solver, Monte Carlo, quadrature,
an inequality of the theory) and could fail. ``hjdl verify`` prints them as a table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Check:
    """One verification row.

    ``measured`` is an error (``kind="error"``: passes when ``measured <= tolerance``) or an
    observed order of convergence (``kind="order"``: passes when
    ``|measured - expected| <= tolerance``, with ``expected`` the scheme's order).
    """

    name: str
    measured: float
    tolerance: float
    tolerance_source: str
    passed: bool
    kind: str = "error"
    expected: float | None = None
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def run_checks(quick: bool = True, progress: bool = False) -> list[Check]:
    """Run every registered check and return its rows (placeholder until filled in)."""
    raise NotImplementedError
