"""Intrinsic-dimension estimators: TwoNN (Facco et al. 2017) and Levina–Bickel MLE (THEORY §7).

The scaling exponent ``alpha`` of a model on data of intrinsic dimension ``d`` is expected near
``1/d`` (THEORY §7); these estimators measure ``d`` on the data itself. Variants are registered
by name in :data:`ESTIMATORS` (STYLE practice 7).
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from .._validation import check_choice
from ..errors import InputError, ShapeError
from ._checks import as_array

__all__ = ["intrinsic_dimension", "ESTIMATORS", "neighbour_ratios"]


def _knn(X: np.ndarray, k: int) -> np.ndarray:
    """Distances to the ``k`` nearest *distinct-position* neighbours, shape (n, k) (self excluded)."""
    tree = cKDTree(X)
    dist, _ = tree.query(X, k=k + 1)
    return dist[:, 1:]


def neighbour_ratios(X) -> np.ndarray:
    """``mu_i = r2/r1`` of every point whose nearest neighbour is at a positive distance."""
    X = _points(X, minimum=3)
    r = _knn(X, 2)
    keep = r[:, 0] > 0
    return r[keep, 1] / r[keep, 0]


def _twonn(X: np.ndarray, discard_fraction: float = 0.1) -> float:
    """Facco et al. 2017: ``−log(1 − F(mu)) = d log mu``, fitted through the origin.

    ``F`` is the empirical distribution of ``mu = r2/r1`` (Pareto with exponent ``d``); the
    largest ``discard_fraction`` of the ratios (the heavy tail most affected by noise and
    curvature) is left out of the fit.
    """
    mu = np.sort(neighbour_ratios(X))
    n = mu.size
    if n < 3:
        raise InputError(f"X: TwoNN needs at least 3 points with distinct nearest neighbours, found {n}")
    F = np.arange(1, n + 1) / n
    keep = max(2, int(np.floor(n * (1.0 - discard_fraction))))
    keep = min(keep, n - 1)  # F = 1 has infinite −log(1 − F)
    x, y = np.log(mu[:keep]), -np.log1p(-F[:keep])
    denom = float(x @ x)
    if denom == 0:
        raise InputError("X: all nearest-neighbour ratios are 1 (a regular lattice?); TwoNN is undefined")
    return float(x @ y / denom)


def _twonn_mle(X: np.ndarray) -> float:
    """Maximum-likelihood TwoNN: ``d = (n − 1) / Σ log mu_i`` (unbiased for the Pareto law)."""
    mu = neighbour_ratios(X)
    s = float(np.log(mu).sum())
    if mu.size < 3 or s == 0:
        raise InputError("X: the TwoNN MLE needs at least 3 points with distinct neighbour distances")
    return (mu.size - 1) / s


def _levina_bickel(X: np.ndarray, k: int = 10) -> float:
    """Levina & Bickel 2005 MLE with ``k`` neighbours, inverse averaged (MacKay–Ghahramani)."""
    X = _points(X, minimum=k + 1)
    T = _knn(X, k)
    T = T[T[:, 0] > 0]
    logs = np.log(T[:, -1:] / T[:, :-1])  # log(T_k / T_j), j < k
    inv = logs.sum(1) / (k - 2)  # unbiased inverse estimate per point
    return float(1.0 / inv.mean())


ESTIMATORS: dict[str, Callable[..., float]] = {
    "twonn": _twonn,
    "twonn-mle": _twonn_mle,
    "levina-bickel": _levina_bickel,
}


def _points(X, minimum: int) -> np.ndarray:
    arr = as_array(X, "X")
    if arr.ndim != 2:
        raise ShapeError(f"X: expected a 2-D array (n_samples, n_features), received shape {arr.shape}")
    if arr.shape[0] < minimum:
        raise InputError(f"X: expected at least {minimum} samples, received {arr.shape[0]}")
    return arr


def intrinsic_dimension(X, method: str = "twonn", **options) -> float:
    r"""Estimate the intrinsic dimension of the point cloud ``X`` of shape ``(n, D)``.

    Methods (:data:`ESTIMATORS`):

    * ``"twonn"`` (default; Facco, d'Errico, Rodriguez, Laio 2017, *Sci. Rep.* 7:12140): with
      ``mu = r2/r1`` the ratio of second to first neighbour distance, ``P(mu > m) = m^{−d}`` on a
      locally uniform ``d``-manifold, so ``−log(1 − F(mu)) = d log mu``; least squares through
      the origin after dropping the largest ``discard_fraction`` (default 0.1) of the ratios.
    * ``"twonn-mle"``: ``d = (n − 1)/Σ log mu_i``.
    * ``"levina-bickel"``: Levina–Bickel MLE with ``k`` neighbours (default 10).

    Points whose nearest neighbour coincides with them (duplicates) are ignored.

    Example:
        >>> import numpy as np
        >>> from hjdl.scaling import intrinsic_dimension
        >>> rng = np.random.default_rng(0)
        >>> plane = rng.uniform(size=(2000, 2)) @ rng.normal(size=(2, 6))   # a 2-D plane in R^6
        >>> round(intrinsic_dimension(plane), 0)
        2.0
    """
    check_choice(method, ESTIMATORS, "method", "intrinsic-dimension estimator")
    if "k" in options and (isinstance(options["k"], bool) or not isinstance(options["k"], numbers.Integral)
                           or options["k"] < 3):
        raise InputError(f"k: expected an integer >= 3, received {options['k']!r}")
    if "discard_fraction" in options and not 0 <= float(options["discard_fraction"]) < 1:
        raise InputError(f"discard_fraction: expected a number in [0, 1), received {options['discard_fraction']!r}")
    return ESTIMATORS[method](_points(X, minimum=3), **options)
