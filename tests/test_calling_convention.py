"""One calling convention (issue 17 B): every analysis function takes every model form.

Forms: an ``LSELayer``; a ``(W, b, eps)`` triple; per-class heads (a triple with ``W`` (C, N, d),
and a list of ``LSELayer``); an ``LSENetwork`` without hidden layers (one head and C heads); a
fitted ``HJRegressor`` / ``HJClassifier`` (``hidden=()``; the classifier learns a different eps
per head). Each result is compared with the same function applied to ``(W, b, eps)`` read *by
hand in this file* from the model's parameters (``extract`` below shares no code with
``hjdl._models``), one head at a time as a single layer, so that a wrong eps or a mixed-up head
in the adapter changes a number here. Bad forms must raise an ``InputError`` that names the
argument and lists the accepted forms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hjdl.attribution import attribute, deletion_influence, hallucination_report
from hjdl.bifurcation import continuation, critical_points, entropy_landscape
from hjdl.errors import InputError, NotFittedError
from hjdl.nn import LSELayer, LSENetwork
from hjdl.robustness import certify, curvature, input_hessian
from hjdl.training import HJClassifier, HJRegressor

D, N, C = 2, 4, 3
EPS = (0.35, 0.2, 0.6)  # a different temperature per head: a head given another's eps is caught
BOX = [[-2.0, 2.0], [-2.0, 2.0]]
CHEAP = {"n_anchors": 2, "n_grid": 6, "n_seed": 20, "n_full": 1, "h_max": 0.25}  # continuation settings (fast)
ACCEPTED = "accepted: an hjdl.nn.LSELayer"


def _params():
    g = torch.Generator().manual_seed(17)
    W = torch.randn(C, N, D, generator=g, dtype=torch.float64)
    b = torch.randn(C, N, generator=g, dtype=torch.float64)
    return W, b


def _layer(W, b, eps):
    layer = LSELayer(D, N, eps=eps, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(W)
        layer.bias.copy_(b)
    return layer


def _network(W, b, eps):
    net = LSENetwork(D, hidden=(), width=N, out_features=W.shape[0], dtype=torch.float64)
    with torch.no_grad():
        for c, head in enumerate(net.heads):
            head.weight.copy_(W[c])
            head.bias.copy_(b[c])
            head.eps = eps[c]
    return net


def _data():
    rng = np.random.default_rng(0)
    centres = np.array([[-1.5, 0.0], [1.5, 0.5], [0.0, -1.5]])
    X = np.vstack([rng.normal(c, 0.5, (20, D)) for c in centres])
    return X, np.repeat(["a", "b", "c"], 20)


_FITTED: dict = {}


def _fitted(kind):
    if kind not in _FITTED:
        X, y = _data()
        common = dict(width=N, eps=0.4, max_iter=40, lr=0.05, refine=None, random_state=0, n_threads=1)
        if kind == "regressor":
            _FITTED[kind] = HJRegressor(**common).fit(X, np.abs(X[:, 0]) + X[:, 1])
        elif kind == "classifier":
            _FITTED[kind] = HJClassifier(learn_eps=True, **common).fit(X, y)
        else:  # a classifier with a hidden layer
            _FITTED[kind] = HJClassifier(hidden=(3,), **common).fit(X, y)
    return _FITTED[kind]


def make_form(name):
    W, b = _params()
    if name == "layer":  # the single-layer forms are head 1 of the per-class ones
        return _layer(W[1], b[1], EPS[1])
    if name == "triple":
        return (W[1], b[1], EPS[1])
    if name == "heads-triple":
        return (W, b, torch.tensor(EPS, dtype=torch.float64))
    if name == "heads-list":
        return [_layer(W[c], b[c], EPS[c]) for c in range(C)]
    if name == "network-1":
        return _network(W[1:2], b[1:2], EPS[1:2])
    if name == "network-C":
        return _network(W, b, EPS)
    return _fitted(name)


SINGLE = ["layer", "triple", "network-1", "regressor"]
HEADS = ["heads-triple", "heads-list", "network-C", "classifier"]
FORMS = SINGLE + HEADS


def extract(model):
    """``[(W_c, b_c, eps_c)]`` per head, float64, read from the model's parameters by hand."""
    def layer(m):
        return (m.weight.detach().double().clone(), m.bias.detach().double().clone(), float(m.eps))

    if isinstance(model, tuple):
        W, b, eps = model
        if W.ndim == 2:
            return [(W.clone(), b.clone(), float(eps))]
        e = torch.as_tensor(eps, dtype=torch.float64).expand(W.shape[0])
        return [(W[c].clone(), b[c].clone(), float(e[c])) for c in range(W.shape[0])]
    if isinstance(model, list):
        return [layer(m) for m in model]
    if isinstance(model, LSELayer):
        return [layer(model)]
    net = model.network_ if hasattr(model, "network_") else model
    return [layer(h) for h in net.heads]


def _x():
    g = torch.Generator().manual_seed(3)
    return 1.2 * torch.randn(6, D, generator=g, dtype=torch.float64)


def _close(a, b, tol=1e-12):
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert torch.allclose(a.double(), b.double(), rtol=tol, atol=tol, equal_nan=True), (a, b)


def _per_head(model, fn):
    """``fn`` applied to each hand-extracted head as a single-layer triple, stacked on a class
    axis after the batch axes (no class axis for a single layer)."""
    outs = [fn((W, b, eps)) for W, b, eps in extract(model)]
    return outs


def _stack(outs, single, axis):
    return outs[0] if single else torch.stack(outs, dim=axis)


# ----------------------------------------------------------------------------------------------
# the fitted estimators hold what the tests read off: network_ maps raw inputs to the outputs


def test_extracted_parameters_reproduce_the_estimators_outputs():
    X, _ = _data()
    Xt = torch.tensor(X)
    reg, clf = _fitted("regressor"), _fitted("classifier")
    (W, b, eps), = extract(reg)
    ref = eps * torch.logsumexp((Xt @ W.T + b) / eps, -1)
    _close(torch.as_tensor(reg.predict(X)), ref, 1e-9)
    heads = extract(clf)
    assert len({round(e, 12) for _, _, e in heads}) == C  # learn_eps: a different eps per head
    logits = torch.stack([e * torch.logsumexp((Xt @ W.T + b) / e, -1) for W, b, e in heads], -1)
    _close(torch.as_tensor(clf.decision_function(X)), logits, 1e-9)


# ----------------------------------------------------------------------------------------------
# every function x every form against the single-layer triples read by hand


@pytest.mark.parametrize("form", FORMS)
def test_attribute(form):
    model, x = make_form(form), _x()
    a = attribute(model, x, top_k=2)
    single = form in SINGLE
    refs = _per_head(model, lambda t: attribute(t, x, top_k=2))
    for field in ("weights", "value", "entropy", "normalized_entropy", "input_gradient", "logits",
                  "top_weights", "self_check"):
        _close(getattr(a, field), _stack([getattr(r, field) for r in refs], single, 1))
    _close(a.top_indices, _stack([r.top_indices for r in refs], single, 1))
    # an independent formula for the Gibbs weights and the value of head 0
    W, b, e = extract(model)[0]
    z = x @ W.T + b
    _close(a.weights if single else a.weights[:, 0], torch.softmax(z / e, -1))
    _close(a.value if single else a.value[:, 0], e * torch.logsumexp(z / e, -1))
    assert a.per_class is not single


@pytest.mark.parametrize("form", FORMS)
def test_deletion_influence(form):
    model, x = make_form(form), _x()
    refs = _per_head(model, lambda t: deletion_influence(t, x))
    _close(deletion_influence(model, x), _stack(refs, form in SINGLE, 1))


@pytest.mark.parametrize("form", FORMS)
def test_hallucination_report(form):
    model, x = make_form(form), _x()
    r = hallucination_report(model, x, t=0.5)
    refs = _per_head(model, lambda t: hallucination_report(t, x, t=0.5))
    single = form in SINGLE
    for field in ("gap", "bound", "excess", "ratio", "nearest_atom_distance", "outside_radius"):
        _close(getattr(r, field).double(), _stack([getattr(q, field).double() for q in refs], single, 1))
    radii = [math.sqrt(2 * e * 0.5) for _, _, e in extract(model)]
    _close(torch.as_tensor(r.diffusion_radius, dtype=torch.float64).expand(len(radii)) if not single
           else torch.tensor([r.diffusion_radius], dtype=torch.float64), torch.tensor(radii, dtype=torch.float64))


@pytest.mark.parametrize("form", FORMS)
def test_input_hessian_and_curvature(form):
    model, x = make_form(form), _x()
    single = form in SINGLE
    _close(input_hessian(model, x), _stack(_per_head(model, lambda t: input_hessian(t, x)), single, 1), 1e-10)
    _close(curvature(model, x), _stack(_per_head(model, lambda t: curvature(t, x)), single, 1), 1e-10)
    # closed form of one head: Cov_pi(W) / eps
    W, b, e = extract(model)[-1]
    pi = torch.softmax((x @ W.T + b) / e, -1)
    mean = pi @ W
    cov = torch.einsum("bn,nd,nf->bdf", pi, W, W) - mean[:, :, None] * mean[:, None, :]
    _close(input_hessian(model, x) if single else input_hessian(model, x)[:, -1], cov / e, 1e-10)


@pytest.mark.parametrize("form", FORMS)
def test_certify(form):
    model, x = make_form(form), _x()
    heads = extract(model)
    if form in SINGLE:
        ref = certify(heads[0], x, threshold=0.5)
        cert = certify(model, x, threshold=0.5)
    else:
        W = torch.stack([h[0] for h in heads])
        b = torch.stack([h[1] for h in heads])
        eps = torch.tensor([h[2] for h in heads], dtype=torch.float64)
        labels, idx = ["a", "b", "c", "a", "b", "c"], torch.tensor([0, 1, 2, 0, 1, 2])
        cert = certify(model, x, labels if form == "classifier" else idx)
        ref = certify((W, b, eps), x, idx)
        logits = torch.stack([e * torch.logsumexp((x @ Wc.T + bc) / e, -1) for Wc, bc, e in heads], -1)
        assert torch.equal(cert.prediction, logits.argmax(-1))  # the heads in the right order
        _close(cert.correct, ref.correct)
    for field in ("radius", "radius_second_order", "radius_first_order", "margin", "beta", "lipschitz"):
        _close(getattr(cert, field), getattr(ref, field), 1e-10)


@pytest.mark.parametrize("form", FORMS)
def test_entropy_landscape(form):
    model, x = make_form(form), _x()
    heads = extract(model)
    k = len(heads) - 1
    W, b, e = heads[k]
    legacy = entropy_landscape(x, W, b, e, with_eps_derivative=True)  # the earlier array form
    L = entropy_landscape(model, x, head=None if form in SINGLE else k, with_eps_derivative=True)
    for field in ("H", "grad", "hess", "d_grad_dlog_eps", "second_weight"):
        _close(getattr(L, field), getattr(legacy, field))
    # H itself, by its definition
    pi = torch.softmax((x @ W.T + b) / e, -1)
    _close(L.H, -(pi * torch.log(pi)).sum(-1))
    # another eps by keyword; every head at once for per-class heads
    _close(entropy_landscape(model, x, eps=0.9, head=None if form in SINGLE else k).H,
           entropy_landscape(x, W, b, 0.9).H)
    if form not in SINGLE:
        allh = entropy_landscape(model, x)
        _close(allh.H, torch.stack([entropy_landscape(x, Wc, bc, ec).H for Wc, bc, ec in heads], 1))
        assert allh.hess.shape == (x.shape[0], C, D, D)
        df = allh.to_frame()
        assert df["class"].tolist()[:4] == [0, 1, 2, 0] and df["point"].tolist()[:4] == [0, 0, 0, 1]
        assert (df["H"].to_numpy() == allh.H.reshape(-1).numpy()).all()


@pytest.mark.parametrize("form", FORMS)
def test_critical_points_and_continuation(form):
    model = make_form(form)
    heads = extract(model)
    k = 0 if form in SINGLE else 1  # head 1: a diagram with branches and boundary exits in BOX
    W, b, e = heads[k]
    head = {} if form in SINGLE else {"head": k}
    cp = critical_points(model, BOX, n_grid=6, n_fine=20, **head)
    ref = critical_points(W, b, e, BOX, n_grid=6, n_fine=20)
    assert cp.eps == ref.eps and cp.counts() == ref.counts()
    _close(cp.x, ref.x)
    dg = continuation(model, 0.2, 1.0, BOX, **head, **CHEAP)
    dref = _legacy_continuation(W, b)
    assert [f.eps for f in dg.folds] == [f.eps for f in dref.folds]
    assert len(dg.branches) == len(dref.branches)
    grid = [0.25, 0.5, 0.9]
    assert {k2: v.tolist() for k2, v in dg.counts(grid).items()} == \
        {k2: v.tolist() for k2, v in dref.counts(grid).items()}


_REFERENCE: dict = {}


def _legacy_continuation(W, b):
    """The earlier five-argument form on hand-read arrays (cached: several forms share a head)."""
    key = (W.numpy().tobytes(), b.numpy().tobytes())
    if key not in _REFERENCE:
        _REFERENCE[key] = continuation(W, b, 0.2, 1.0, BOX, **CHEAP)
    return _REFERENCE[key]


def test_continuation_keyword_forms_agree():
    W, b = _params()
    layer = _layer(W[1], b[1], EPS[1])
    a = continuation(layer, eps_min=0.2, eps_max=1.0, bounds=BOX, **CHEAP)
    c = _legacy_continuation(W[1], b[1])
    assert len(c.branches) == 3 and len(c.exits) == 2  # a diagram with something in it
    assert [f.eps for f in a.folds] == [f.eps for f in c.folds]


# ----------------------------------------------------------------------------------------------
# refusals: the argument is named and the accepted forms are listed


def _deep_net():
    return LSENetwork(D, hidden=(3,), width=N, out_features=C, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(1))


LSE_ONLY = {
    "attribute": lambda m, x: attribute(m, x),
    "deletion_influence": lambda m, x: deletion_influence(m, x),
    "hallucination_report": lambda m, x: hallucination_report(m, x),
    "entropy_landscape": lambda m, x: entropy_landscape(m, x, head=0),
    "critical_points": lambda m, x: critical_points(m, BOX, head=0),
    "continuation": lambda m, x: continuation(m, 0.2, 1.0, BOX, head=0),
}
ALL = {**LSE_ONLY,
       "certify": lambda m, x: certify(m, x),
       "curvature": lambda m, x: curvature(m, x),
       "input_hessian": lambda m, x: input_hessian(m, x)}


@pytest.mark.parametrize("fn", list(LSE_ONLY))
@pytest.mark.parametrize("deep", ["network", "fitted"])
def test_networks_with_hidden_layers_are_refused_where_one_layer_is_needed(fn, deep):
    model = _deep_net() if deep == "network" else _fitted("deep")
    with pytest.raises(InputError) as info:
        LSE_ONLY[fn](model, _x())
    msg = str(info.value)
    assert msg.startswith("model: received a")
    assert "1 hidden layer" in msg and ACCEPTED in msg and "hidden=()" in msg
    assert "net.heads, net.features(x)" in msg  # how to analyse the output heads instead
    if deep == "fitted":
        assert "fitted HJClassifier" in msg


def test_the_suggested_feature_space_call_works():
    net, x = _deep_net(), _x()
    a = attribute(net.heads, net.features(x))
    h = net.features(x)
    W, b, e = extract(net)[1]
    _close(a.weights[:, 1], torch.softmax((h @ W.T + b) / e, -1))


def test_robustness_functions_take_deep_networks():
    net, x = _deep_net(), _x()
    H = input_hessian(net, x)
    ref = torch.stack([torch.func.hessian(lambda v: net(v[None])[0, c])(x[i]) for i in range(x.shape[0])
                       for c in range(C)]).reshape(x.shape[0], C, D, D)
    _close(H, ref, 1e-10)
    cert = certify(net, x)
    assert not cert.available and "radius" not in cert.summary().split("(")[0]


BAD = {"object": object(), "string": "layer", "none": None, "number": 3.0, "array": torch.zeros(4, 2),
       "empty list": []}


@pytest.mark.parametrize("fn", list(ALL))
@pytest.mark.parametrize("bad", list(BAD))
def test_bad_forms_name_the_argument_and_list_the_forms(fn, bad):
    if fn in ("entropy_landscape", "critical_points", "continuation") and bad == "array":
        pytest.skip("a bare array selects the earlier (W, b, ...) form there; covered below")
    with pytest.raises(InputError) as info:
        ALL[fn](BAD[bad], _x())
    msg = str(info.value)
    assert msg.startswith("model: ") and ACCEPTED in msg, msg


@pytest.mark.parametrize("fn", list(ALL))
def test_a_pair_without_eps_and_an_unfitted_estimator(fn):
    W, b = _params()
    with pytest.raises(InputError, match=r"model: received a 2-tuple \(W, b\) without eps"):
        ALL[fn]((W[0], b[0]), _x())
    with pytest.raises(NotFittedError, match="model: the estimator HJClassifier is not fitted"):
        ALL[fn](HJClassifier(), _x())


def test_head_is_required_and_checked_for_per_class_heads():
    model = make_form("heads-list")
    with pytest.raises(InputError, match=r"head: the model has 3 per-class heads.*head=k"):
        continuation(model, 0.2, 1.0, BOX)
    with pytest.raises(InputError, match=r"head: the model has 3 per-class heads"):
        critical_points(model, BOX)
    with pytest.raises(InputError, match=r"head: expected an integer in \[0, 3\)"):
        entropy_landscape(model, _x(), head=3)
    with pytest.raises(InputError, match="head: the model is a single LSE layer"):
        entropy_landscape(make_form("layer"), _x(), head=1)
    W, b = _params()
    with pytest.raises(InputError, match="head: only for models with per-class heads"):
        continuation(W[0], b[0], 0.2, 1.0, BOX, head=0)


def test_mixed_call_forms_are_refused_by_name():
    W, b = _params()
    layer = make_form("layer")
    with pytest.raises(InputError, match="b: given beside a model"):
        entropy_landscape(layer, _x(), b=b[0])
    with pytest.raises(InputError, match="eps_min: given both by position and by keyword"):
        continuation(layer, 0.2, 1.0, BOX, eps_min=0.3)
    with pytest.raises(InputError, match="bounds: missing in the call to continuation"):
        continuation(layer, 0.2, 1.0)
    with pytest.raises(InputError, match="eps: missing in the call to entropy_landscape"):
        entropy_landscape(_x(), W[0], b[0])
    with pytest.raises(InputError, match="heads with an output scale"):
        attribute({"W": W[0], "b": b[0], "eps": 0.3, "scale": 2.0}, _x())


def test_mixed_zero_and_positive_eps_per_head():
    """Tropical and viscous heads side by side: each head's own branch of the kernel."""
    W, b = _params()
    eps = torch.tensor([0.0, 0.3, 0.0], dtype=torch.float64)
    x = _x()
    d = deletion_influence((W, b, eps), x)
    a = attribute((W, b, eps), x)
    for c in range(C):
        _close(d[:, c], deletion_influence((W[c], b[c], float(eps[c])), x))
        _close(a.weights[:, c], attribute((W[c], b[c], float(eps[c])), x).weights)
    r = hallucination_report((W, b, eps), x)
    for c in range(C):
        _close(r.ratio[:, c], hallucination_report((W[c], b[c], float(eps[c])), x).ratio)
