r"""Intrinsic-dimension estimators from nearest-neighbour distances (THEORY §7).

The scaling exponent ``alpha`` of a model on data of intrinsic dimension ``d`` is expected near
``1/d`` (THEORY §7); these estimators measure ``d`` on the data itself. Variants are registered
by name in :data:`ESTIMATORS` (STYLE practice 7); their definitions are in
:func:`intrinsic_dimension`.

All of them read only ratios of distances, so they are invariant under a rescaling of ``X``; the
points are first divided by a power of two near ``max |X|`` (exact in floating point), so data of
any magnitude (``1e-300`` or ``1e300``) neither underflows nor overflows in the distances.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from .._validation import check_choice
from ..errors import InputError, ShapeError
from ._checks import as_array

__all__ = ["intrinsic_dimension", "ESTIMATORS", "neighbour_ratios"]


def _knn(X: np.ndarray, k: int) -> np.ndarray:
    """Distances to the ``k`` nearest neighbours, shape (n, k) (self excluded)."""
    tree = cKDTree(X)
    dist, _ = tree.query(X, k=k + 1)
    return dist[:, 1:]


def _unit_scale(X: np.ndarray) -> np.ndarray:
    """``X / 2^e`` with ``2^(e−1) <= max |X| < 2^e``: exact, and every distance is finite."""
    top = float(np.abs(X).max()) if X.size else 0.0
    if top == 0.0:
        return X
    return np.ldexp(X, -math.frexp(top)[1])


def neighbour_ratios(X) -> np.ndarray:
    """``mu_i = r2/r1`` of every point whose nearest neighbour is at a positive distance."""
    return _ratios(_points(X, minimum=3))


def _ratios(X: np.ndarray) -> np.ndarray:
    r = _knn(X, 2)
    keep = r[:, 0] > 0
    return r[keep, 1] / r[keep, 0]


def _twonn(X: np.ndarray, discard_fraction: float = 0.1) -> float:
    """Facco et al. 2017: ``−log(1 − F(mu)) = d log mu``, fitted through the origin."""
    mu = np.sort(_ratios(X))
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
    mu = _ratios(X)
    s = float(np.log(mu).sum())
    if mu.size < 3 or s == 0:
        raise InputError("X: the TwoNN MLE needs at least 3 points with distinct neighbour distances")
    return (mu.size - 1) / s


def _levina_bickel(X: np.ndarray, k: int = 10) -> float:
    """Levina–Bickel MLE with ``k`` neighbours, inverse estimates averaged (MacKay–Ghahramani)."""
    if X.shape[0] < k + 1:
        raise InputError(f"X: levina-bickel with k = {k} needs at least k + 1 = {k + 1} samples, "
                         f"received {X.shape[0]}; lower k")
    T = _knn(X, k)
    T = T[T[:, 0] > 0]  # points with a duplicate have no defined ratio
    if T.shape[0] == 0:
        raise InputError("X: every point has a duplicate; levina-bickel needs distinct neighbours")
    inv = np.log(T[:, -1:] / T[:, :-1]).sum(1) / (k - 1)  # m̂_k(x)^{-1}, unbiased for 1/d
    mean = float(inv.mean())
    if mean == 0:
        raise InputError(f"X: all {k} nearest neighbours of every point are equidistant (a regular "
                         "lattice?); levina-bickel is undefined")
    return 1.0 / mean


ESTIMATORS: dict[str, Callable[..., float]] = {
    "twonn": _twonn,
    "twonn-mle": _twonn_mle,
    "levina-bickel": _levina_bickel,
}
#: The keyword options each estimator accepts.
_OPTIONS: dict[str, tuple[str, ...]] = {"twonn": ("discard_fraction",), "twonn-mle": (),
                                        "levina-bickel": ("k",)}


def _points(X, minimum: int) -> np.ndarray:
    arr = as_array(X, "X")
    if arr.ndim != 2:
        raise ShapeError(f"X: expected a 2-D array (n_samples, n_features), received shape {arr.shape}")
    if arr.shape[0] < minimum:
        raise InputError(f"X: expected at least {minimum} samples, received {arr.shape[0]}")
    if arr.shape[1] == 0:
        raise ShapeError(f"X: expected at least one feature, received shape {arr.shape}")
    return _unit_scale(arr)


def _check_options(method: str, options: dict) -> dict:
    extra = sorted(set(options) - set(_OPTIONS[method]))
    if extra:
        accepted = ", ".join(_OPTIONS[method]) or "none"
        raise InputError(f"{', '.join(extra)}: not an option of the {method!r} estimator; accepted: {accepted}")
    if "k" in options:
        k = options["k"]
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 3:
            raise InputError(f"k: expected an integer >= 3, received {k!r}")
        options = {**options, "k": int(k)}
    if "discard_fraction" in options:
        f = options["discard_fraction"]
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0 <= float(f) < 1:
            raise InputError(f"discard_fraction: expected a number in [0, 1), received {f!r}")
        options = {**options, "discard_fraction": float(f)}
    return options


def intrinsic_dimension(X, method: str = "twonn", **options) -> float:
    r"""Estimate the intrinsic dimension of the point cloud ``X`` of shape ``(n, D)``.

    Every estimator models the points near each ``x`` as a locally uniform (Poisson) sample of a
    ``d``-dimensional manifold; then, with ``T_j(x)`` the distance from ``x`` to its ``j``-th
    nearest neighbour, ``d · log(T_k/T_j)`` (``j < k``) are independent standard exponentials given
    ``T_k``. Methods (:data:`ESTIMATORS`):

    * ``"twonn"`` (default; Facco, d'Errico, Rodriguez, Laio 2017, *Sci. Rep.* 7:12140): the
      ratio ``mu = T_2/T_1`` follows the Pareto law ``P(mu > m) = m^{−d}``, so
      ``−log(1 − F(mu)) = d log mu`` for its distribution function ``F``; ``d`` is the least-squares
      slope through the origin of ``−log(1 − F̂(mu_i))`` against ``log mu_i`` (``F̂`` empirical),
      after dropping the largest ``discard_fraction`` (default 0.1) of the ratios.
    * ``"twonn-mle"``: the maximum-likelihood estimate of the same Pareto exponent with the
      ``n/(n − 1)`` bias correction, ``d = (n − 1) / Σ_i log mu_i``.
    * ``"levina-bickel"`` (Levina & Bickel 2004, *Maximum likelihood estimation of intrinsic
      dimension*, NIPS 17; averaged as in MacKay & Ghahramani 2005, *Comments on "Maximum
      likelihood estimation of intrinsic dimension"*): with ``k`` neighbours (default 10), the
      inverse per-point estimate ``m̂_k(x)^{−1} = (1/(k−1)) Σ_{j<k} log(T_k(x)/T_j(x))`` is
      unbiased for ``1/d``; these are averaged over the points and the mean is inverted,
      ``d = [mean_x m̂_k(x)^{−1}]^{−1}``. (Averaging the per-point estimates ``m̂_k(x)`` instead is
      biased upwards; inverting the average of ``(1/(k−2)) Σ_j log(T_k/T_j)`` is biased low by the
      factor ``(k − 2)/(k − 1)``.)

    Points whose nearest neighbour coincides with them (duplicates) are ignored. The estimate is
    invariant under rescaling ``X`` (any magnitude, ``1e−300`` to ``1e300``), rotation and
    translation. All three read a neighbourhood of a few points, so they are accurate on
    boundary-free manifolds (tori, spheres) and biased low near a boundary (a cube's faces).

    Args:
        X: real array-like ``(n, D)``, finite; complex data is refused.
        method: a name in :data:`ESTIMATORS`.
        **options: ``discard_fraction`` in ``[0, 1)`` (``"twonn"``), integer ``k >= 3``
            (``"levina-bickel"``, needs ``n >= k + 1``).

    Example:
        >>> import numpy as np
        >>> from hjdl.scaling import intrinsic_dimension
        >>> rng = np.random.default_rng(0)
        >>> plane = rng.uniform(size=(2000, 2)) @ rng.normal(size=(2, 6))   # a 2-D plane in R^6
        >>> round(intrinsic_dimension(plane), 0)
        2.0
    """
    check_choice(method, ESTIMATORS, "method", "intrinsic-dimension estimator")
    options = _check_options(method, options)
    return ESTIMATORS[method](_points(X, minimum=3), **options)
