"""Fitting LSE models, estimator style (scikit-learn conventions; needs scikit-learn).

Training is a search over initial-value problems: each step moves the weights, hence the HJ
initial data ``(y_j, g_j)`` they encode (THEORY §2).
"""

from ._engine import TrainResult, train
from .estimators import HJClassifier, HJRegressor

__all__ = ["HJRegressor", "HJClassifier", "train", "TrainResult"]
