"""Mesh-free solver of viscous Hamilton–Jacobi equations ``u_t + ∇uᵀA∇u = eps tr(A∇²u)``
(THEORY §3): Monte Carlo, quasi-Monte Carlo and importance sampling over the heat kernel through
Hopf–Cole, and Hopf–Lax optimisation at ``eps = 0``. ``hjdl.solve`` is :func:`solve`.

:mod:`hjdl.solver.hjb` defines the 100-dimensional HJB of Han, Jentzen & E and an independent
reference for it (a one-dimensional quadrature, :mod:`hjdl.solver.reference`).
"""

from ._record import Solution, ToleranceWarning
from .driver import solve

__all__ = ["solve", "Solution", "ToleranceWarning"]
