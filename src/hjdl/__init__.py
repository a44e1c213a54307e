"""hjdl — the Hamilton–Jacobi theory of deep learning, executable.

A log-sum-exp layer ``f(x) = eps log Σ_j exp((W_j·x + b_j)/eps)`` is exactly the Hopf–Cole
solution of a viscous Hamilton–Jacobi equation whose initial data are encoded in the weights
(Miñoza, Legara, Monterola, arXiv:2605.28983). See ``hjdl.core`` for the exact mathematics,
``hjdl.pde`` for the independent checks and ``hjdl verify`` / ``hjdl reproduce`` on the command line.
"""

from . import errors
from ._version import __version__
from .core import *  # noqa: F401,F403  (curated in hjdl.core.__all__)
from .core import __all__ as _core_all

__all__ = ["__version__", "errors", *_core_all]
