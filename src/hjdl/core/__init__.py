"""Pure tensor mathematics of hjdl: the LSE kernel, the tropical semiring, the bijection between
LSE layers and Hamilton–Jacobi initial data, Hopf–Cole / Hopf–Lax values, closed-form
derivatives and the autograd PDE residual. No nn.Module, no I/O, no randomness."""

from .derivatives import (
    hopf_cole_grad,
    hopf_cole_hessian,
    hopf_cole_time_derivative,
    hopf_cole_weights,
    layer_weights,
    lse_layer_grad,
    lse_layer_hessian,
)
from .solution import CHUNK_ELEMENTS, hopf_cole, hopf_lax, lse_layer, normalization, pde_residual
from .initial_data import InitialData, from_initial_data, to_initial_data
from .kernel import entropy, gibbs, lse
from .tropical import maxplus_matmul, oplus, otimes, sigmoid_eps, softplus_eps, tanh_eps

__all__ = [
    "lse", "gibbs", "entropy",
    "oplus", "otimes", "maxplus_matmul", "softplus_eps", "sigmoid_eps", "tanh_eps",
    "InitialData", "to_initial_data", "from_initial_data",
    "lse_layer", "hopf_cole", "hopf_lax", "pde_residual", "normalization", "CHUNK_ELEMENTS",
    "layer_weights", "lse_layer_grad", "lse_layer_hessian",
    "hopf_cole_weights", "hopf_cole_grad", "hopf_cole_time_derivative", "hopf_cole_hessian",
]
