"""HJRegressor / HJClassifier behaviour: determinism, eps*, initial data, failures, depth."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from hjdl.errors import ConvergenceError, EpsilonError, InputError
from hjdl.training import HJClassifier, HJRegressor, train

FAST = dict(max_iter=150, lr=0.05, refine_iter=30)
#: the behaviour before issue 14's defaults (raw units, no validation split, no weight decay): these
#: tests check raw-unit quantities (eps_, initial data, training loss floors)
RAW = dict(standardize=False, early_stopping=False, alpha=0.0)


def _data(n=80, d=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, d))
    return X, np.linalg.norm(X, axis=1)


def test_deterministic_given_random_state():
    X, y = _data()
    a = HJRegressor(**RAW, width=6, eps=0.1, random_state=3, **FAST).fit(X, y).predict(X)
    b = HJRegressor(**RAW, width=6, eps=0.1, random_state=3, **FAST).fit(X, y).predict(X)
    c = HJRegressor(**RAW, width=6, eps=0.1, random_state=4, **FAST).fit(X, y).predict(X)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_eps_auto_uses_intrinsic_dimension():
    X, y = _data(d=2)
    reg = HJRegressor(**RAW, width=16, intrinsic_dim=2, max_iter=2, refine=None).fit(X, y)
    assert reg.eps_ == pytest.approx(16 ** -0.5) and reg.intrinsic_dim_ == 2
    # data on a line embedded in R^3: TwoNN finds d ≈ 1, so eps* ≈ 1/N
    rng = np.random.default_rng(1)
    s = rng.uniform(-1, 1, size=1000)
    X3 = np.outer(s, [0.6, 0.0, 0.8])
    reg = HJRegressor(**RAW, width=10, max_iter=2, refine=None).fit(X3, s**2)
    assert abs(reg.intrinsic_dim_ - 1) < 0.2
    assert reg.eps_ == pytest.approx(10 ** (-1 / reg.intrinsic_dim_))


def test_initial_data_reproduces_predictions_numpy_oracle():
    X, y = _data(d=2)
    reg = HJRegressor(**RAW, width=5, eps=0.2, t=0.5, random_state=0, **FAST).fit(X, y)
    data = reg.initial_data_
    yj, gj = data.y.numpy(), data.g.numpy()
    cost = gj[None] + ((X[:, None] - yj[None]) ** 2).sum(-1) / (4 * 0.5)
    u = -0.2 * logsumexp(-cost / 0.2, axis=1)
    np.testing.assert_allclose(reg.predict(X), (X**2).sum(1) / 2.0 - u, atol=1e-10)
    assert torch.equal(reg.layer_.weight, reg.network_.heads[0].weight)


def test_fit_recovers_a_convex_target_and_refine_helps():
    X, y = _data(n=120)
    adam = HJRegressor(**RAW, width=8, eps=0.02, refine=None, random_state=0, max_iter=300, lr=0.05).fit(X, y)
    both = HJRegressor(**RAW, width=8, eps=0.02, refine="lbfgs", refine_iter=60, random_state=0, max_iter=300,
                       lr=0.05).fit(X, y)
    assert both.loss_ <= adam.loss_
    # |x| is max-affine with 2 pieces; the LSE fit is within eps log N of it (T1) up to training error
    assert math.sqrt(both.loss_) < 0.02 * math.log(8) + 0.02
    assert both.loss_curve_[-1] == pytest.approx(both.loss_)
    three = HJRegressor(**RAW, width=8, eps=0.02, refine=None, random_state=0, max_iter=300, lr=0.05,
                        n_restarts=3).fit(X, y)
    assert three.loss_ <= adam.loss_ + 1e-15


def test_single_layer_is_convex_depth_fits_concave_target():
    X = np.linspace(-1, 1, 61)[:, None]
    y = -np.abs(X[:, 0])
    # best convex L2 fit of a concave function is affine here: the constant -1/2, MSE = 1/12
    mse_floor = np.mean((y - y.mean()) ** 2)
    flat = HJRegressor(**RAW, width=16, eps=0.05, random_state=0, max_iter=300, lr=0.05).fit(X, y)
    assert flat.loss_ >= 0.95 * mse_floor
    deep = HJRegressor(**RAW, width=8, hidden=(16,), eps=0.05, random_state=0, max_iter=300, lr=0.02,
                       refine_iter=100).fit(X, y)
    assert deep.loss_ < 0.1 * mse_floor
    assert deep.initial_data_ is None and deep.layer_ is None


def test_minibatch_and_learn_eps():
    X, y = _data(n=64)
    a = HJRegressor(**RAW, width=6, eps=0.3, batch_size=16, refine=None, random_state=1, max_iter=100).fit(X, y)
    b = HJRegressor(**RAW, width=6, eps=0.3, batch_size=16, refine=None, random_state=1, max_iter=100).fit(X, y)
    assert np.array_equal(a.predict(X), b.predict(X)) and len(a.loss_curve_) == 100
    c = HJRegressor(**RAW, width=6, eps=0.3, learn_eps=True, random_state=1, **FAST).fit(X, y)
    assert c.eps_ > 0 and c.eps_ != pytest.approx(0.3)


def test_classifier_probabilities_and_heads():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.5, (30, 2)) for c in ([0, 2], [2, -1], [-2, -1])])
    y = np.repeat([10, 20, 30], 30)
    clf = HJClassifier(**RAW, width=4, eps=0.5, random_state=0, **FAST).fit(X, y)
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    assert np.array_equal(clf.classes_[P.argmax(1)], clf.predict(X))
    assert clf.score(X, y) > 0.95
    assert len(clf.initial_data_) == 3
    logits = clf.decision_function(X)
    np.testing.assert_allclose(P, np.exp(logits - logsumexp(logits, axis=1, keepdims=True)), atol=1e-12)


def test_bad_inputs_fail_loudly():
    X, y = _data(n=10)
    with pytest.raises(ValueError, match="NaN"):
        Xn = X.copy()
        Xn[2, 0] = np.nan
        HJRegressor(**RAW, max_iter=1).fit(Xn, y)
    with pytest.raises(ValueError, match="inf|NaN"):
        HJRegressor(**RAW, max_iter=1).fit(X, np.where(np.arange(10) == 3, np.inf, y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        HJRegressor(**RAW, max_iter=1).fit(X, y[:5])
    with pytest.raises(InputError, match="n_samples = 1"):
        HJRegressor(**RAW, max_iter=1).fit(X[:1], y[:1])
    with pytest.raises(EpsilonError, match="eps"):
        HJRegressor(**RAW, eps=-1.0, max_iter=1).fit(X, y)
    with pytest.raises(EpsilonError, match="auto"):
        HJRegressor(**RAW, eps="best", max_iter=1).fit(X, y)
    with pytest.raises(InputError, match="width"):
        HJRegressor(**RAW, width=0, max_iter=1).fit(X, y)
    with pytest.raises(InputError, match="refine"):
        HJRegressor(**RAW, refine="newton", max_iter=1).fit(X, y)
    with pytest.raises(InputError, match="2 classes"):
        HJClassifier(**RAW, max_iter=1).fit(X, np.zeros(10))


def test_non_finite_loss_raises_convergence_error():
    X, y = _data(n=10)
    with pytest.raises(ConvergenceError, match="step 0.*none"):
        HJRegressor(**RAW, eps=0.1, max_iter=5).fit(X, y * 1e200)
    # a loss that turns NaN at step 7: the error names the step and the last finite loss
    net = torch.nn.Linear(1, 1).double()
    calls = []

    def loss_fn(pred, target):
        calls.append(1)
        value = torch.mean((pred.squeeze(-1) - target) ** 2)
        return value * (math.nan if len(calls) > 7 else 1.0)

    with pytest.raises(ConvergenceError, match=r"Adam step 7; last finite loss \d"):
        train(net, loss_fn, torch.tensor(X), torch.tensor(y), max_iter=20, refine=None)


def test_verbose_progress_bar(capsys):
    X, y = _data(n=10)
    HJRegressor(**RAW, width=3, max_iter=5, refine=None, verbose=True).fit(X, y)
    assert "HJRegressor" in capsys.readouterr().err
