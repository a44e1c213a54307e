"""The critical temperature ``eps* = N^{−1/d}`` and the exponent ↔ dimension dictionary (THEORY §4, §7)."""

from __future__ import annotations

import numpy as np

from ..errors import DomainError
from ._checks import as_array

__all__ = ["epsilon_star", "dimension_from_exponent", "exponent_from_dimension"]


def _scalar_or_array(arr: np.ndarray):
    return float(arr) if arr.ndim == 0 else arr


def epsilon_star(n_neurons, dim):
    r"""The regime boundary ``eps* = N^{−1/d}`` between particle and wave regimes (THEORY §4).

    ``N`` atoms spread over a ``d``-dimensional set of unit size are ``h ~ N^{−1/d}`` apart; a
    temperature much below ``eps*`` makes one neuron explain each output (particle regime,
    ``H ≈ 0``), much above it spreads the Gibbs weights over many (wave regime, ``H ≈ log N``).

    Args:
        n_neurons: ``N >= 1`` (number or array). dim: intrinsic dimension ``d > 0`` (may be a
            fractional estimate, e.g. from :func:`hjdl.scaling.intrinsic_dimension`).

    Returns:
        a float (or an array broadcasting the inputs).

    Example:
        >>> from hjdl.scaling import epsilon_star
        >>> epsilon_star(100, 2)
        0.1
    """
    n = as_array(n_neurons, "n_neurons")
    d = as_array(dim, "dim")
    if (n < 1).any():
        raise DomainError(f"n_neurons: expected values >= 1, received {n_neurons!r}")
    if (d <= 0).any():
        raise DomainError(f"dim: expected an intrinsic dimension > 0, received {dim!r}")
    return _scalar_or_array(n ** (-1.0 / d))


def dimension_from_exponent(alpha):
    r"""``d_eff = 1/alpha`` for a scaling law ``loss ∝ N^{−alpha}`` (THEORY §7; order of magnitude).

    Example:
        >>> from hjdl.scaling import dimension_from_exponent
        >>> round(dimension_from_exponent(0.25), 6)
        4.0
    """
    a = as_array(alpha, "alpha")
    if (a <= 0).any():
        raise DomainError(f"alpha: expected a decay exponent > 0 (loss ∝ N^-alpha), received {alpha!r}")
    return _scalar_or_array(1.0 / a)


def exponent_from_dimension(dim):
    r"""``alpha = 1/d``: the quadrature rate ``N^{−1/d}`` of Lipschitz initial data (THEORY §7).

    Example:
        >>> from hjdl.scaling import exponent_from_dimension
        >>> exponent_from_dimension(4)
        0.25
    """
    d = as_array(dim, "dim")
    if (d <= 0).any():
        raise DomainError(f"dim: expected a dimension > 0, received {dim!r}")
    return _scalar_or_array(1.0 / d)
