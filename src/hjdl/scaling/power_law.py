"""Power-law fits ``error ≈ C · N^{slope}`` with standard errors and confidence intervals (THEORY §7).

The fit is a straight line in ``(log N, log error)``. ``method``:

* ``"ols"``: ordinary least squares; SE from the residual variance, CI from Student's t.
* ``"robust"`` (default): Tukey-biweight iteratively reweighted least squares started from the
  Theil–Sen line, residual scale from the MAD; a point far off the line (a failed training run,
  a noisy measurement) gets weight 0. SE and CI are those of the final weighted least squares,
  with ``(points kept − 2)`` degrees of freedom.
* ``"theil-sen"``: the median of pairwise slopes (:func:`scipy.stats.theilslopes`) and its
  rank-based interval; SE is the interval half-width over the normal quantile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .._validation import check_choice
from ..errors import InputError, ShapeError
from ._checks import as_array

__all__ = ["PowerLawFit", "fit_power_law", "METHODS"]

METHODS = ("robust", "ols", "theil-sen")
_TUKEY_C = 4.685


@dataclass(frozen=True)
class PowerLawFit:
    """``error ≈ prefactor · N^{slope}``; ``exponent = −slope`` (the decay rate ``alpha``)."""

    slope: float
    prefactor: float
    stderr: float
    ci: tuple[float, float]  # confidence interval of the slope
    confidence: float
    method: str
    weights: np.ndarray = field(repr=False)  # weight of each point in the final fit (1 = full)
    n_points: int = 0

    @property
    def exponent(self) -> float:
        """``alpha = −slope`` (positive for a decreasing error)."""
        return -self.slope

    @property
    def exponent_ci(self) -> tuple[float, float]:
        return (-self.ci[1], -self.ci[0])

    @property
    def outliers(self) -> np.ndarray:
        """Indices of the points the robust fit discarded (weight 0)."""
        return np.flatnonzero(self.weights == 0)

    def predict(self, sizes) -> np.ndarray:
        """``prefactor · sizes^{slope}``."""
        return self.prefactor * np.asarray(sizes, float) ** self.slope

    def contains(self, slope: float) -> bool:
        """Whether ``slope`` lies in the confidence interval."""
        return self.ci[0] <= slope <= self.ci[1]


def _wls(x, y, w):
    """Weighted least squares line; returns slope, intercept, SE of the slope, dof."""
    keep = w > 0
    W = w[keep]
    xk, yk = x[keep], y[keep]
    xm = np.sum(W * xk) / W.sum()
    ym = np.sum(W * yk) / W.sum()
    sxx = np.sum(W * (xk - xm) ** 2)
    slope = np.sum(W * (xk - xm) * (yk - ym)) / sxx
    intercept = ym - slope * xm
    dof = int(keep.sum()) - 2
    resid = yk - intercept - slope * xk
    if dof > 0:
        sigma2 = np.sum(W * resid**2) / dof
        se = math.sqrt(sigma2 / sxx)
    else:
        se = math.inf
    return float(slope), float(intercept), float(se), dof


def _robust_weights(x, y, iters=50):
    slope = stats.theilslopes(y, x)[0]
    intercept = np.median(y - slope * x)
    resid = y - intercept - slope * x
    scale = 1.4826 * np.median(np.abs(resid - np.median(resid)))
    tiny = 1e-12 * max(1.0, float(np.abs(y).max()))
    scale = max(scale, tiny)
    w = np.ones_like(x)
    for _ in range(iters):
        u = resid / (_TUKEY_C * scale)
        w_new = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
        if (w_new > 0).sum() < 3:
            break
        slope, intercept, _, _ = _wls(x, y, w_new)
        resid = y - intercept - slope * x
        if np.allclose(w_new, w, atol=1e-10):
            w = w_new
            break
        w = w_new
    return w


def fit_power_law(sizes, errors, *, method: str = "robust", confidence: float = 0.95) -> PowerLawFit:
    r"""Fit ``errors ≈ C · sizes^{slope}`` by a line in log–log coordinates.

    Args:
        sizes: positive sizes ``N`` (at least 3 distinct values).
        errors: positive errors, same length.
        method: ``"robust"`` (default), ``"ols"`` or ``"theil-sen"`` (see the module docstring).
        confidence: level of the interval ``ci`` on the slope (default 0.95).

    Returns:
        :class:`PowerLawFit` with ``slope``, ``exponent = −slope``, ``prefactor``, ``stderr``,
        ``ci``, the final point ``weights`` and ``outliers``.

    Example:
        >>> import numpy as np
        >>> from hjdl.scaling import fit_power_law
        >>> N = np.array([10, 20, 40, 80, 160])
        >>> err = 3.0 * N ** -0.5
        >>> err[2] *= 5                       # one bad run
        >>> fit = fit_power_law(N, err)
        >>> round(fit.exponent, 6), fit.outliers.tolist()
        (0.5, [2])
    """
    check_choice(method, METHODS, "method", "power-law fit")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise InputError(f"confidence: expected a number in (0, 1), received {confidence!r}")
    N = as_array(sizes, "sizes", ndim=1)
    E = as_array(errors, "errors", ndim=1)
    if N.shape != E.shape:
        raise ShapeError(f"sizes and errors: expected equal lengths, received {N.size} and {E.size}")
    if (N <= 0).any() or (E <= 0).any():
        raise InputError("sizes and errors: expected positive values (a log-log fit), received "
                         f"min size {N.min() if N.size else None!r}, min error {E.min() if E.size else None!r}")
    if np.unique(N).size < 3:
        raise InputError(f"sizes: expected at least 3 distinct sizes for a fit with an error bar, "
                         f"received {np.unique(N).size}")
    x, y = np.log(N), np.log(E)
    if method == "theil-sen":
        slope, intercept, lo, hi = stats.theilslopes(y, x, alpha=confidence)
        se = (hi - lo) / (2 * stats.norm.ppf(0.5 + confidence / 2))
        return PowerLawFit(float(slope), float(math.exp(intercept)), float(se), (float(lo), float(hi)),
                           confidence, method, np.ones_like(x), int(x.size))
    w = np.ones_like(x) if method == "ols" else _robust_weights(x, y)
    slope, intercept, se, dof = _wls(x, y, w)
    if dof > 0 and math.isfinite(se):
        q = stats.t.ppf(0.5 + confidence / 2, dof)
        ci = (slope - q * se, slope + q * se)
    else:
        ci = (-math.inf, math.inf)
    return PowerLawFit(slope, float(math.exp(intercept)), se, (float(ci[0]), float(ci[1])), confidence,
                       method, w, int(x.size))
