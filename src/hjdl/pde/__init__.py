"""Independent reference solvers used to check :mod:`hjdl.core` (THEORY §3, checks 2 and 3).

NumPy/SciPy only; nothing here imports :mod:`hjdl.core` or torch.

* :func:`solve_viscous_hj` — finite differences (Lax–Friedrichs + central viscosity, SSP-RK2)
  for ``u_t + ∇uᵀA∇u = ε tr(A∇²u)``; :func:`grid_convergence` and :func:`observed_order`
  measure its order of convergence.
* :func:`feynman_kac` — Monte Carlo heat semigroup for ``w = exp(−u/ε)`` with a standard error.
* :func:`heat_semigroup_gauss_hermite` — the same average by tensor Gauss–Hermite quadrature.
"""

from hjdl.pde.grid import (
    NUMERICAL_HAMILTONIANS,
    GridConvergence,
    OrderFit,
    grid_convergence,
    observed_order,
    solve_viscous_hj,
)
from hjdl.pde.montecarlo import MonteCarloEstimate, feynman_kac
from hjdl.pde.quadrature import heat_semigroup_gauss_hermite

__all__ = [
    "NUMERICAL_HAMILTONIANS",
    "GridConvergence",
    "MonteCarloEstimate",
    "OrderFit",
    "feynman_kac",
    "grid_convergence",
    "heat_semigroup_gauss_hermite",
    "observed_order",
    "solve_viscous_hj",
]
