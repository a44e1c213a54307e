"""Benchmark: the default HJ estimators against scikit-learn's MLP defaults and linear baselines.

5-fold cross-validation (shuffled, ``random_state=0``; the same folds for every model) on
scikit-learn's bundled data: classification ``digits``, ``breast_cancer``, ``iris``, ``wine``
(accuracy); regression ``diabetes`` and generated ``make_friedman1`` (n = 500, noise 1, R²).
Models: ``HJClassifier()`` / ``HJRegressor()`` with defaults (``random_state=0``; for
``eps="auto"`` that is full-batch L-BFGS on standardised data, weight decay ``alpha = 1`` and
validation early stopping, see :class:`hjdl.training.HJRegressor`),
``MLPClassifier()`` / ``MLPRegressor()`` with defaults (``random_state=0``), and the linear
baselines ``LogisticRegression`` (standardised inputs) and ``RidgeCV``, plus the mean predictor
(``DummyRegressor``/``DummyClassifier``). Reported: mean score ± sd over folds and mean fit time.

Goal (issue 14): the default HJ estimators match or beat the MLP defaults in score (within one
fold standard deviation counts as a match), fit no slower, and never score below the mean
predictor. Fit times are single-process wall times on whatever machine runs the bench; the
models run one after another on the same folds, so on a shared machine compare their ratio.

    python bench/bench_estimators.py [--datasets digits diabetes ...] [--folds 5]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine, make_friedman1
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hjdl.training import HJClassifier, HJRegressor

from _timing import goal_line

DATA = {
    "digits": ("clf", lambda: load_digits(return_X_y=True)),
    "breast_cancer": ("clf", lambda: load_breast_cancer(return_X_y=True)),
    "iris": ("clf", lambda: load_iris(return_X_y=True)),
    "wine": ("clf", lambda: load_wine(return_X_y=True)),
    "diabetes": ("reg", lambda: load_diabetes(return_X_y=True)),
    "friedman1": ("reg", lambda: make_friedman1(n_samples=500, noise=1.0, random_state=0)),
}


def models(kind):
    if kind == "clf":
        return {"HJ": HJClassifier(random_state=0), "MLP": MLPClassifier(random_state=0),
                "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
                "mean": DummyClassifier()}
    return {"HJ": HJRegressor(random_state=0), "MLP": MLPRegressor(random_state=0),
            "linear": RidgeCV(), "mean": DummyRegressor()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATA), choices=list(DATA))
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    print(f"{'data':14s} {'model':7s} {'score (mean ± sd)':>20s} {'fit s':>8s}")
    verdicts = []
    for name in args.datasets:
        kind, load = DATA[name]
        X, y = load()
        cv = (StratifiedKFold if kind == "clf" else KFold)(args.folds, shuffle=True, random_state=0)
        res = {}
        for label, model in models(kind).items():
            r = cross_validate(model, X, y, cv=cv)
            res[label] = (r["test_score"].mean(), r["test_score"].std(), r["fit_time"].mean())
            print(f"{name:14s} {label:7s} {res[label][0]:12.3f} ± {res[label][1]:.3f} {res[label][2]:8.2f}",
                  flush=True)
        hj, mlp, mean = res["HJ"], res["MLP"], res["mean"]
        verdicts.append((name, hj[0] >= mlp[0] - mlp[1], hj[2] <= mlp[2], hj[0] > mean[0], hj, mlp))
    for name, score_ok, time_ok, mean_ok, hj, mlp in verdicts:
        print(goal_line(f"{name}: HJ default matches/beats MLP default (within one sd), fits no slower, "
                        "beats the mean", f"score {hj[0]:.3f} vs {mlp[0]:.3f}, fit {hj[2]:.2f}s vs {mlp[2]:.2f}s",
                        score_ok and time_ok and mean_ok))
    return verdicts


if __name__ == "__main__":
    main()
