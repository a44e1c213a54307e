"""The hjdl error family.

Every error raised on bad user input is a subclass of :class:`ValueError` (so generic
``except ValueError`` code keeps working) and of :class:`HJError` (so callers can catch
everything hjdl raises). Messages name the argument, the value received, what is accepted
and, where there is one, a likely fix.
"""

from __future__ import annotations

__all__ = [
    "HJError",
    "InputError",
    "ShapeError",
    "EpsilonError",
    "DomainError",
    "NonFiniteError",
    "NotPositiveDefiniteError",
    "UnknownNameError",
    "ConvergenceError",
    "NotFittedError",
]


class HJError(Exception):
    """Base class of every error raised by hjdl."""


class InputError(HJError, ValueError):
    """An argument has an unacceptable value (base of the input-validation errors)."""


class ShapeError(InputError):
    """Shapes of arguments do not match (e.g. ``x`` of width 3 with atoms in 2-D)."""


class EpsilonError(InputError):
    """``eps`` is negative, NaN, infinite, or not a number."""


class DomainError(InputError):
    """A scalar parameter is outside its domain (e.g. ``t <= 0``)."""


class NonFiniteError(InputError):
    """NaN or infinite entries where only finite numbers are accepted."""


class NotPositiveDefiniteError(InputError):
    """A matrix that must be symmetric positive definite is not."""


class UnknownNameError(InputError, KeyError):
    """A name looked up in a registry does not exist; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ConvergenceError(HJError, RuntimeError):
    """An iterative procedure failed (non-finite loss, no convergence)."""


class NotFittedError(HJError, ValueError, AttributeError):
    """An estimator was used before ``fit``."""
