"""hjdl — the Hamilton–Jacobi theory of deep learning, executable.

A log-sum-exp layer ``f(x) = eps log Σ_j exp((W_j·x + b_j)/eps)`` is exactly the Hopf–Cole
solution of a viscous Hamilton–Jacobi equation whose initial data are encoded in the weights
(Miñoza, Legara, Monterola, arXiv:2605.28983). See ``hjdl.core`` for the exact mathematics,
``hjdl.pde`` for the independent checks and ``hjdl verify`` / ``hjdl reproduce`` on the command line.

``import hjdl`` imports nothing heavy (no torch): the core functions (``hjdl.lse``,
``hjdl.gibbs``, ...; :data:`CORE_NAMES`) and the subpackages (``hjdl.attribution``,
``hjdl.robustness``, ``hjdl.bifurcation``, ``hjdl.nn``, ``hjdl.training``, ...) are imported on
first access (PEP 562), so ``hjdl.robustness.certify`` works without a separate import, ``from hjdl
import lse`` works as before, and ``dir(hjdl)`` lists them all. This keeps ``hjdl --help`` and
``hjdl ls`` fast.
"""

from . import errors
from ._version import __version__

#: The names of :mod:`hjdl.core` re-exported here (``hjdl.core.__all__``, listed so that they are
#: known without importing torch; a test keeps the two lists equal).
CORE_NAMES = (
    "lse", "gibbs", "entropy",
    "oplus", "otimes", "maxplus_matmul", "softplus_eps", "sigmoid_eps", "tanh_eps",
    "InitialData", "to_initial_data", "from_initial_data",
    "lse_layer", "hopf_cole", "hopf_lax", "pde_residual", "normalization", "CHUNK_ELEMENTS",
    "layer_weights", "lse_layer_grad", "lse_layer_hessian",
    "hopf_cole_weights", "hopf_cole_grad", "hopf_cole_time_derivative", "hopf_cole_hessian",
)

#: Subpackages and public modules reachable as attributes, imported on first access (PEP 562).
SUBMODULES = (
    "attribution", "bifurcation", "control", "core", "datasets", "experiments", "nn", "pde",
    "plotting", "probe", "recurrent", "reporting", "results", "robustness", "scaling", "solver",
    "training",
)

__all__ = ["__version__", "errors", *CORE_NAMES]


def __getattr__(name):
    import importlib

    if name in CORE_NAMES:
        value = getattr(importlib.import_module(f"{__name__}.core"), name)
        globals()[name] = value  # later accesses skip this hook
        return value
    if name == "solve":  # the mesh-free viscous HJ solver, hjdl.solve(g, x, t=..., eps=...)
        from .solver import solve

        globals()["solve"] = solve
        return solve
    if name in SUBMODULES or (name.isidentifier() and not name.startswith("_") and _is_submodule(name)):
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module  # later accesses skip this hook
        return module
    raise AttributeError(f"module 'hjdl' has no attribute {name!r}")


def _is_submodule(name):
    """A subpackage added after :data:`SUBMODULES` was written is reachable too."""
    import importlib.util

    return importlib.util.find_spec(f"{__name__}.{name}") is not None


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES) | set(CORE_NAMES) | {"solve"})
