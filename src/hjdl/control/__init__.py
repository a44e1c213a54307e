"""ResNets as optimal control (THEORY §8): forward Euler for ``ẋ = f(x, θ)``, backprop as the
Pontryagin co-state, the adjoint-ODE limit, and training by successive approximations."""

from .continuous import AdjointSolution, ConvergenceRecord, adjoint_convergence, adjoint_ode
from .costate import CostateRecord, costate
from .lq import LinearStateSpace, LQRecord, lq_costate, riccati
from .msa import MSATrainer, pmp_gap
from .resnet import ResidualNet

__all__ = ["ResidualNet", "costate", "CostateRecord", "adjoint_ode", "adjoint_convergence",
           "AdjointSolution", "ConvergenceRecord",
           "LinearStateSpace", "LQRecord", "lq_costate", "riccati",
           "MSATrainer", "pmp_gap"]
