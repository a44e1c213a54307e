"""Scaling: the critical temperature, power-law fits with uncertainty, intrinsic dimension (THEORY §7).

>>> from hjdl.scaling import epsilon_star, dimension_from_exponent
>>> epsilon_star(1000, 3), dimension_from_exponent(0.5)
(0.1, 2.0)
"""

from .epsilon import dimension_from_exponent, epsilon_star, exponent_from_dimension
from .intrinsic import ESTIMATORS, intrinsic_dimension, neighbour_ratios
from .power_law import METHODS, PowerLawFit, fit_power_law
from .published import PUBLISHED_EXPONENTS, PublishedExponent, published_exponents

__all__ = [
    "epsilon_star", "dimension_from_exponent", "exponent_from_dimension",
    "intrinsic_dimension", "neighbour_ratios", "ESTIMATORS",
    "fit_power_law", "PowerLawFit", "METHODS",
    "published_exponents", "PublishedExponent", "PUBLISHED_EXPONENTS",
]
