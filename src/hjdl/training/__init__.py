"""Fitting LSE models, estimator style (scikit-learn conventions; needs scikit-learn).

Training is a search over initial-value problems: each step moves the weights, hence the HJ
initial data ``(y_j, g_j)`` they encode (THEORY §2). :func:`train_many` trains many LSE layers
of the same shape at once (stacked weights, one tensor program) for sweeps.
"""

from ._engine import TrainResult, train
from .batched import ManyResult, lse_many, train_many
from .estimators import HJClassifier, HJRegressor

# lse_many (trusted arguments, for evaluating train_many's stacked networks) is importable but not public API
__all__ = ["HJRegressor", "HJClassifier", "train", "TrainResult", "train_many", "ManyResult"]
