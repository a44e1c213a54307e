"""Issue 14, item 5: the estimators' defaults (validation early stopping, weight decay,
standardisation folded into the network, thread policy, device) checked against independent
computations: a closed-form ridge solution, a NumPy re-evaluation of the restored weights, and
scikit-learn's cross-validation on its bundled diabetes data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hjdl.errors import InputError
from hjdl.training import HJClassifier, HJRegressor, train
from hjdl.training.estimators import THREAD_THRESHOLD


def test_default_regressor_beats_the_mean_on_diabetes():
    # the case: 5-fold CV (scikit-learn's default, unshuffled folds) gave R² = −1.0
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import cross_val_score

    X, y = load_diabetes(return_X_y=True)
    scores = cross_val_score(HJRegressor(random_state=0), X, y, cv=5)
    assert scores.mean() > 0.3, scores  # RidgeCV scores 0.48 on these folds, the mean 0 (or below)
    assert scores.min() > 0, scores


def test_weight_decay_matches_closed_form_ridge():
    # width 1: LSE_eps(w·x + b) = w·x + b exactly, so the objective is ridge regression on the
    # standardised data: mean((X̃w + b − ỹ)²) + alpha |w|²/(2n), minimised by
    # (X̃ᵀX̃ + alpha/2 I) w = X̃ᵀ ỹ, b = 0 (centred data)
    rng = np.random.default_rng(0)
    n, d = 60, 3
    X = rng.normal(size=(n, d)) * [1.0, 5.0, 0.2] + [3.0, -1.0, 0.0]
    y = X @ [2.0, -0.5, 4.0] + 10 + rng.normal(scale=0.5, size=n)
    alpha = 30.0
    reg = HJRegressor(width=1, eps=1.0, alpha=alpha, early_stopping=False, standardize=True, max_iter=2000, lr=0.05, tol=0.0,
                      n_iter_no_change=10**6, refine="lbfgs", refine_iter=200, random_state=0).fit(X, y)
    mx, sx = X.mean(0), X.std(0)
    my, sy = y.mean(), y.std()
    Xs, ys = (X - mx) / sx, (y - my) / sy
    w = np.linalg.solve(Xs.T @ Xs + alpha / 2 * np.eye(d), Xs.T @ ys)
    np.testing.assert_allclose(reg.predict(X), sy * (Xs @ w) + my, rtol=0, atol=1e-6 * sy)
    ols = np.linalg.lstsq(Xs, ys, rcond=None)[0]
    assert np.linalg.norm(w) < 0.9 * np.linalg.norm(ols)  # the penalty visibly shrinks the weights


def _overfitting_problem():
    """24 noisy points of |x|, 40 clean validation points, and a wide tanh net (seeded weights)
    that overfits them."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(24, 1))
    y = np.abs(X[:, 0]) + rng.normal(scale=0.3, size=24)
    Xv = rng.uniform(-1, 1, size=(40, 1))
    yv = np.abs(Xv[:, 0])
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1)).double()
    return X, y, Xv, yv, net


def test_early_stopping_stops_and_restores_the_best_weights():
    # a wide net on 24 noisy points overfits: the validation loss turns up; the returned weights
    # must be those of its minimum, re-evaluated here in NumPy
    X, y, Xv, yv, net = _overfitting_problem()

    def mse(p, t):
        return torch.mean((p[:, 0] - t) ** 2)

    res = train(net, mse, torch.tensor(X), torch.tensor(y), max_iter=3000, lr=0.02, tol=0.0,
                n_iter_no_change=40, refine=None, validation=(torch.tensor(Xv), torch.tensor(yv)))
    curve = np.array(res.validation_curve)
    assert res.stopped_early and res.n_iter < 3000
    assert res.best_iter == int(np.argmin(curve)) + 1 and res.n_iter == res.best_iter + 40
    W1, b1 = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    W2, b2 = net[2].weight.detach().numpy(), net[2].bias.detach().numpy()
    pred = (np.tanh(Xv @ W1.T + b1) @ W2.T + b2)[:, 0]
    assert np.mean((pred - yv) ** 2) == pytest.approx(curve.min(), rel=1e-10)
    assert curve[-1] > curve.min()  # it did get worse after the best step


def test_estimator_early_stopping_attributes():
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, size=(200, 2))
    y = np.linalg.norm(X, axis=1) + rng.normal(scale=0.2, size=200)
    reg = HJRegressor(width=64, eps=0.02, lr=0.05, early_stopping=True, n_iter_no_change=20, refine=None,
                      random_state=0).fit(X, y)
    assert reg.best_iter_ is not None and reg.best_iter_ <= reg.n_iter_
    assert len(reg.validation_loss_curve_) == reg.n_iter_
    off = HJRegressor(width=64, eps=0.02, lr=0.05, early_stopping=False, refine=None, max_iter=30,
                      random_state=0).fit(X, y)
    assert off.best_iter_ is None and off.validation_loss_curve_ == []


def test_thread_policy_one_thread_below_the_threshold_and_restored():
    X = np.zeros((1797, 64))
    assert HJClassifier()._threads(X, 10) == 1  # digits: measured 26x faster on one thread
    big = np.zeros((THREAD_THRESHOLD // 32 + 1, 1))
    assert HJRegressor()._threads(big, 1) is None  # torch's own setting above the threshold
    assert HJRegressor(n_threads=3)._threads(X, 1) == 3 and HJRegressor(n_threads=None)._threads(X, 1) is None
    with pytest.raises(InputError, match="n_threads"):
        HJRegressor(n_threads="many")._threads(X, 1)
    seen = []
    before = torch.get_num_threads()

    class Spy(HJRegressor):
        def _fit_inner(self, *a):
            seen.append(torch.get_num_threads())
            return super()._fit_inner(*a)

    Spy(width=3, max_iter=3, refine=None).fit(np.random.default_rng(0).normal(size=(20, 2)), np.arange(20.0))
    assert seen == [1] and torch.get_num_threads() == before


def test_device_cpu_explicit_and_bad_device_refused():
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = X[:, 0] ** 2
    a = HJRegressor(width=4, max_iter=20, refine=None, random_state=0).fit(X, y).predict(X)
    b = HJRegressor(width=4, max_iter=20, refine=None, random_state=0, device="cpu").fit(X, y).predict(X)
    assert np.array_equal(a, b)
    with pytest.raises(InputError, match="device.*'gpu'"):
        HJRegressor(device="gpu").fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="device.*cuda.*is_available"):
            HJRegressor(device="cuda").fit(X, y)


@pytest.mark.parametrize("kw, word", [({"alpha": -1.0}, "alpha"), ({"validation_fraction": 1.0}, "validation_fraction"),
                                      ({"early_stopping": "yes"}, "early_stopping"),
                                      ({"standardize": 1}, "standardize"), ({"solver": "sgd"}, "solver.*sgd"),
                                      ({"solver": "lbfgs", "batch_size": 8}, "solver.*batch_size")])
def test_bad_new_parameters_are_named(kw, word):
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(InputError, match=word):
        HJRegressor(max_iter=1, **kw).fit(X, X[:, 0])


def test_defaults_resolve_by_eps():
    # eps="auto": the good-by-default fit; a numeric eps (a temperature in the data's units, as the
    # experiments use it): the plain fit on every sample, raw units
    assert HJRegressor()._resolved() == (True, True, 1.0, 1e-4, 10, "lbfgs")
    assert HJRegressor(batch_size=32)._resolved()[-1] == "adam"  # mini-batches: Adam
    assert HJRegressor(eps=0.1)._resolved() == (False, False, 0.0, 1e-7, 100, "adam")
    assert HJRegressor(eps=0.1, alpha=0.5, early_stopping=True)._resolved()[1:3] == (True, 0.5)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)) * 10
    reg = HJRegressor(width=3, eps=0.1, max_iter=3, refine=None).fit(X, X[:, 0] ** 2)
    assert reg.eps_ == 0.1 and reg.best_iter_ is None  # raw temperature kept, no validation split


def test_default_fit_is_a_short_lbfgs_run_and_beats_the_mean_on_iris():
    # the default (eps="auto") fit is full-batch L-BFGS with validation early stopping: a few tens
    # of iterations on iris, where the earlier Adam default took about 2900 steps
    from sklearn.datasets import load_iris
    from sklearn.model_selection import StratifiedKFold, cross_validate

    X, y = load_iris(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    r = cross_validate(HJClassifier(random_state=0), X, y, cv=cv, return_estimator=True)
    assert all(e.n_iter_ <= 60 for e in r["estimator"]), [e.n_iter_ for e in r["estimator"]]
    assert all(len(e.loss_curve_) == e.n_iter_ for e in r["estimator"])
    assert r["test_score"].mean() > 0.9 and r["test_score"].min() > 1 / 3  # the mean predictor: 1/3


def test_lbfgs_solver_matches_scikit_learns_logistic_regression():
    # width 1: each head is the affine map w_c·x + b_c, so the classifier's objective
    # mean cross-entropy + alpha Σ|w_c|²/(2n) is multinomial logistic regression with C = 1/alpha;
    # scikit-learn's own solver finds the same optimum independently
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = rng.normal(size=(90, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.normal(scale=1.0, size=(90, 3)), axis=1)
    alpha = 2.0
    clf = HJClassifier(width=1, eps=1.0, solver="lbfgs", alpha=alpha, early_stopping=False, standardize=False,
                       tol=0.0, n_iter_no_change=10**6, max_iter=500, random_state=0).fit(X, y)
    ref = LogisticRegression(C=1 / alpha, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)
    free = LogisticRegression(C=1e6, tol=1e-12, max_iter=10_000).fit(X, y)
    assert np.abs(free.predict_proba(X) - ref.predict_proba(X)).max() > 1e-2  # alpha matters here


def test_lbfgs_solver_matches_closed_form_ridge():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(scale=0.3, size=50)
    alpha = 10.0
    reg = HJRegressor(width=1, eps=1.0, solver="lbfgs", alpha=alpha, early_stopping=False, standardize=False,
                      tol=0.0, n_iter_no_change=10**6, max_iter=500, random_state=0).fit(X, y)
    A = np.c_[X, np.ones(50)]
    P = np.diag([alpha / 2] * 4 + [0.0])  # mean((Xw + b − y)²) + alpha|w|²/(2n): normal equations
    coef = np.linalg.solve(A.T @ A + P, A.T @ y)
    np.testing.assert_allclose(reg.predict(X), A @ coef, rtol=0, atol=1e-7)


def test_lbfgs_early_stopping_restores_the_best_validation_iterate():
    # as the Adam test above, for the L-BFGS solver: the returned weights are those of the
    # validation minimum (re-evaluated in NumPy), n_iter_no_change iterations before the stop
    X, y, Xv, yv, net = _overfitting_problem()

    def mse(p, t):
        return torch.mean((p[:, 0] - t) ** 2)

    res = train(net, mse, torch.tensor(X), torch.tensor(y), max_iter=2000, tol=0.0, n_iter_no_change=15,
                solver="lbfgs", validation=(torch.tensor(Xv), torch.tensor(yv)))
    curve = np.array(res.validation_curve)
    assert res.stopped_early and res.n_iter < 2000 and len(res.loss_curve) == res.n_iter
    assert res.best_iter == int(np.argmin(curve)) + 1 and res.n_iter == res.best_iter + 15
    W1, b1 = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    W2, b2 = net[2].weight.detach().numpy(), net[2].bias.detach().numpy()
    pred = (np.tanh(Xv @ W1.T + b1) @ W2.T + b2)[:, 0]
    assert np.mean((pred - yv) ** 2) == pytest.approx(curve.min(), rel=1e-10)
    assert curve[-1] > curve.min()


def test_early_stopping_holds_out_part_of_the_training_data_only():
    # the validation split comes from the X given to fit (in cross-validation, the training folds):
    # changing a held-out point changes the fit, appending points that fit never sees cannot
    X = np.random.default_rng(5).normal(size=(60, 2))
    y = X[:, 0] - X[:, 1] ** 2
    seen = []

    class Spy(HJRegressor):
        def _split(self, n, rs, early_stopping):
            fit_idx, val_idx = super()._split(n, rs, early_stopping)
            seen.append((n, fit_idx, val_idx))
            return fit_idx, val_idx

    Spy(width=4, random_state=0).fit(X, y)
    n, fit_idx, val_idx = seen[0]
    assert n == 60 and len(val_idx) == 6 and len(np.intersect1d(fit_idx, val_idx)) == 0
    assert len(fit_idx) + len(val_idx) == 60
    a = HJRegressor(width=4, random_state=0).fit(X, y)
    y2 = y.copy()
    y2[val_idx[0]] += 5.0  # a validation target moves the stopping point, hence the fit
    b = HJRegressor(width=4, random_state=0).fit(X, y2)
    assert a.n_iter_ != b.n_iter_ or not np.allclose(a.predict(X), b.predict(X))
