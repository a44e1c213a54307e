"""Shared test helpers: the one dtype-keyed tolerance function and convergence-order fits."""

from __future__ import annotations

import numpy as np
import torch


def tol(dtype: torch.dtype, scale: float = 1.0, factor: float = 64.0) -> float:
    """Absolute tolerance for a quantity of magnitude ``scale`` computed in ``dtype``."""
    return factor * float(torch.finfo(dtype).eps) * max(1.0, abs(scale))


def fitted_order(hs, errors) -> float:
    """Least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(np.asarray(hs, float)), np.log(np.asarray(errors, float)), 1)[0])
