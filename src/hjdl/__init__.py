"""hjdl — the Hamilton–Jacobi theory of deep learning, executable.

A log-sum-exp layer ``f(x) = eps log Σ_j exp((W_j·x + b_j)/eps)`` is exactly the Hopf–Cole
solution of a viscous Hamilton–Jacobi equation whose initial data are encoded in the weights
(Miñoza, Legara, Monterola, arXiv:2605.28983). See ``hjdl.core`` for the exact mathematics,
``hjdl.pde`` for the independent checks and ``hjdl verify`` / ``hjdl reproduce`` on the command line.

``import hjdl`` loads the core only; the other subpackages (``hjdl.attribution``,
``hjdl.robustness``, ``hjdl.bifurcation``, ``hjdl.nn``, ``hjdl.training``, ...) are imported on
first access, so ``hjdl.robustness.certify`` works without a separate import and ``dir(hjdl)``
lists them.
"""

from . import errors
from ._version import __version__
from .core import *  # noqa: F401,F403  (curated in hjdl.core.__all__)
from .core import __all__ as _core_all

#: Subpackages and public modules reachable as attributes, imported on first access (PEP 562).
SUBMODULES = (
    "attribution", "bifurcation", "control", "core", "datasets", "experiments", "nn", "pde",
    "plotting", "probe", "recurrent", "reporting", "robustness", "scaling", "solver", "training",
)

__all__ = ["__version__", "errors", *_core_all]


def __getattr__(name):
    if name == "solve":  # the mesh-free viscous HJ solver, hjdl.solve(g, x, t=..., eps=...)
        from .solver import solve

        globals()["solve"] = solve
        return solve
    if name in SUBMODULES or (name.isidentifier() and not name.startswith("_") and _is_submodule(name)):
        import importlib

        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module  # later accesses skip this hook
        return module
    raise AttributeError(f"module 'hjdl' has no attribute {name!r}")


def _is_submodule(name):
    """A subpackage added after :data:`SUBMODULES` was written is reachable too."""
    import importlib.util

    return importlib.util.find_spec(f"{__name__}.{name}") is not None


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))
