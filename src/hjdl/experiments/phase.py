"""``phase-synthetic``, ``phase-mnist``, ``phase-digits``: the particle → wave transition of the
Gibbs weights of a data-anchored LSE model (THEORY §4, §9).

Atoms are data points ``y_j`` with values ``g_j`` (the class, 0 / 1); ``π(x; eps)`` are the
Hopf–Cole Gibbs weights at ``t = 1``. As eps grows the entropy ``H(π)`` goes from 0 (one atom
carries the prediction: particle) to ``log N`` (all atoms share it: wave), the transition near
``eps* = N^{−1/d}``. The one piece of evidence is the position of the transition against eps*
(rival: a transition set by the data's scale). The two limits (median entropy for the smallest
and largest eps against 0 and ``log N``), the characteristic field ``∇u`` in closed form against
autograd of ``u`` and, for the digits, the class prior at the top of the eps range hold by a
theorem or by the configured eps range: they are sanity checks of the implementation (they fail
only if the weights are wrong), not evidence.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import core
from ..attribution import GibbsAverager
from ..datasets import MissingDataError, load_digits_fallback, load_mnist
from .bifurcation import two_clusters
from .registry import Claim, Result, Table, register, theorem_verdict

__all__ = ["phase_series"]


def _pca2(X):
    Xc = X - X.mean(0)
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
    P = Xc @ Vt[:2].T
    return P * np.sign(P[np.argmax(np.abs(P), 0), [0, 1]])   # fixed orientation


def phase_series(y, g, labels, eps_curve, queries, eps_show, res, margin, t=1.0, attr_query=None):
    """Entropy curves at queries, maps (H, class scores, soft prediction, ∇u) at ``eps_show``."""
    y = torch.as_tensor(y, dtype=torch.float64)
    g = torch.as_tensor(g, dtype=torch.float64)
    data = core.InitialData(y, g)
    lo, hi = y.min(0).values - margin, y.max(0).values + margin
    xs = [torch.linspace(float(lo[k]), float(hi[k]), res, dtype=torch.float64) for k in range(2)]
    X1, X2 = torch.meshgrid(xs[0], xs[1], indexing="xy")
    grid = torch.stack([X1.reshape(-1), X2.reshape(-1)], -1)
    q = torch.as_tensor(queries, dtype=torch.float64)
    curves = torch.stack([core.entropy(core.hopf_cole_weights(q, data, float(e), t)) for e in eps_curve], 1)
    maps = []
    lab = torch.as_tensor(labels) if labels is not None else (g > 0.5).long()
    for e in eps_show:
        m = GibbsAverager(y, g, float(e), t, g=g, labels=lab)
        pi = m.weights(grid)
        cs = m.class_scores(grid)
        step = max(1, res // 12)
        sub = torch.stack([X1[::step, ::step].reshape(-1), X2[::step, ::step].reshape(-1)], -1)
        maps.append({"eps": float(e), "H": core.entropy(pi).reshape(res, res).tolist(),
                     "pred": (pi @ g).reshape(res, res).tolist(),
                     "class_H": core.entropy(cs).reshape(res, res).tolist(),
                     "class_argmax": cs.argmax(-1).reshape(res, res).tolist(),
                     "arrows_x": sub.tolist(),
                     "arrows": core.hopf_cole_grad(sub, data, float(e), t).tolist()})
    a = torch.as_tensor(attr_query if attr_query is not None else queries[len(queries) // 2],
                        dtype=torch.float64)
    attr = [core.hopf_cole_weights(a[None], data, float(e), t)[0].tolist() for e in eps_show]
    return {"atoms": y.tolist(), "g": g.tolist(), "labels": lab.tolist(), "x1": xs[0].tolist(),
            "x2": xs[1].tolist(), "eps_curve": list(map(float, eps_curve)), "queries": q.tolist(),
            "H_curves": curves.tolist(), "maps": maps, "attr_query": a.tolist(), "attr": attr,
            "eps_show": list(map(float, eps_show))}


def _claims(y, g, s, eps_star, t, tag):
    N = len(y)
    logN = math.log(N)
    eps = np.asarray(s["eps_curve"])
    # median of H/log N over a 20 x 20 grid covering the maps, for every eps of the curve
    data0 = core.InitialData(torch.as_tensor(y, dtype=torch.float64), torch.as_tensor(g, dtype=torch.float64))
    x1, x2 = np.asarray(s["x1"]), np.asarray(s["x2"])
    G1, G2 = np.meshgrid(np.linspace(x1[0], x1[-1], 20), np.linspace(x2[0], x2[-1], 20))
    pts = torch.from_numpy(np.stack([G1.ravel(), G2.ravel()], -1))
    mean = np.array([float(core.entropy(core.hopf_cole_weights(pts, data0, float(e), t)).median())
                     for e in eps]) / logN
    s["median_H_over_logN"] = mean.tolist()
    cold, hot = mean[0] * logN, mean[-1] * logN
    particle = bool(mean[0] < 0.05)
    wave = bool(mean[-1] > 0.8)
    i = int(np.argmax(mean >= 0.5)) if (mean >= 0.5).any() else len(eps) - 1
    e_half = float(eps[i])
    ratio = e_half / eps_star
    # ∇u in closed form vs autograd of u (independent route) at the queries and eps*
    data = core.InitialData(torch.as_tensor(y, dtype=torch.float64), torch.as_tensor(g, dtype=torch.float64))
    xq = torch.tensor(s["queries"], dtype=torch.float64, requires_grad=True)
    u = core.hopf_cole(xq, data, eps_star, t)
    auto = torch.autograd.grad(u.sum(), xq)[0]
    err = float((auto - core.hopf_cole_grad(xq.detach(), data, eps_star, t)).abs().max())
    near = 0.25 <= ratio <= 4
    return [
        Claim(f"{tag}: at small eps one atom carries the prediction (H ≈ 0: particle); at large eps "
              "all atoms share it (H → log N: wave).",
              f"median of H(π) over a 20 x 20 grid of the map for eps = {eps[0]:.3g} (must be "
              f"< 5 % of log N) and eps = {eps[-1]:.3g} (must be > 80 % of log N); both are stated "
              "tolerances",
              f"median H at eps_min = {cold:.3g}, at eps_max = {hot:.3g}, log N = {logN:.3g}",
              theorem_verdict(particle and wave),
              "Holds by the configuration: the eps range is chosen to reach both limits (π tends to a "
              "point mass as eps → 0 and to uniform as eps → ∞), so the check guards the weights' "
              "implementation, it is not evidence." if particle and wave else
              "One of the limits is not reached in the eps range.", kind="theorem"),
        Claim(f"{tag}: the particle → wave transition happens near eps* = N^(-1/d) = {eps_star:.3g}.",
              "eps where the grid median of H/log N first reaches 1/2, compared with eps* "
              "(within a factor 4 counts as near: a stated tolerance); one deterministic "
              "configuration, so no noise estimate is needed",
              f"eps_1/2 = {e_half:.3g}, eps_1/2 / eps* = {ratio:.2f}",
              "confirmed" if near else "not confirmed",
              "The half-entropy point lies within a factor 4 of eps*." if near else
              f"The half-entropy point is {ratio:.2g}× eps*: N^(-1/d) carries no unit, while the "
              "transition eps scales with the squared atom spacing in the data's own units.",
              rival="the transition is set by the data's scale, not by N: a factor 4 or more away "
                    "from eps*"),
        Claim(f"{tag}: the characteristic field is ∇u = (x − E_π y)/(2t) (arrows in the maps).",
              "closed-form hjdl.hopf_cole_grad vs autograd of hjdl.hopf_cole at the queries, eps*; "
              "holds if below 1e-10 (float64 rounding is ~1e-15)",
              f"max |difference| {err:.1e}",
              theorem_verdict(err < 1e-10),
              "A theorem (the gradient of the Hopf–Cole value is the Gibbs average of the "
              "characteristics); autograd through the value agrees to rounding. A sanity check, "
              "not evidence." if err < 1e-10 else
              "The closed form disagrees with autograd.", kind="theorem"),
    ]


def _result(name, config, y, g, labels, queries, eps_show, tag, notes, attr_query=None):
    N = len(y)
    eps_star = N ** (-1.0 / 2)
    eps_curve = np.exp(np.linspace(math.log(config["eps_curve"][0]), math.log(config["eps_curve"][1]),
                                   int(config["n_eps"])))
    s = phase_series(y, g, labels, eps_curve, queries, eps_show, int(config["res"]), float(config["margin"]),
                     1.0, attr_query)
    s["eps_star"] = eps_star
    claims = _claims(y, g, s, eps_star, 1.0, tag)
    H = np.asarray(s["H_curves"])
    idx = [int(np.argmin(np.abs(np.log(np.asarray(s["eps_curve"]) / e)))) for e in eps_show]
    table = Table("Entropy H(π) at the query points", ["query", *[f"eps = {s['eps_curve'][i]:.3g}" for i in idx]],
                  [[", ".join(f"{v:.2f}" for v in qq), *[H[k, i] for i in idx]] for k, qq in enumerate(s["queries"])])
    return Result(name=name, preset="", config=config, tables={"entropy": table}, series=s,
                  claims=claims, notes=notes)


SYN = {"quick": {"res": 40, "n_eps": 60, "eps_curve": [0.01, 20.0], "margin": 0.8},
       "paper": {"res": 80, "n_eps": 300, "eps_curve": [0.01, 20.0], "margin": 0.8}}


@register("phase-synthetic", title="Phase diagram: 16 atoms in two clusters",
          description="H(π) vs eps at three query points, π at a query for three eps, entropy maps "
                      "cold / critical / hot, soft prediction with characteristics ∇u (eps* = 0.25).",
          presets=SYN, reproduces="§ particle-to-wave phase diagram (two clusters)")
def run_synthetic(config, *, seed, progress):
    y, g = two_clusters(8, 42)
    return _result("phase-synthetic", config, y, g, None, [[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]],
                   [0.05, 0.25, 4.0], "16 atoms", [], attr_query=[0.3, -0.2])


MN = {"quick": {"res": 40, "n_eps": 60, "eps_curve": [0.01, 20.0], "margin": 2.0, "n_per_class": 60,
                "classes": [3, 7], "data_dir": None},
      "paper": {"res": 70, "n_eps": 300, "eps_curve": [0.01, 20.0], "margin": 2.0, "n_per_class": 60,
                "classes": [3, 7], "data_dir": None}}


@register("phase-mnist", title="Phase diagram: MNIST 3 vs 7 in PCA-2",
          description="60 images per class, PCA to 2-D, atoms with g = class (0/1); from "
                      "../shared/data/mnist or config data_dir, else scikit-learn's digits.",
          presets=MN, reproduces="§ phase diagram (MNIST 3 vs 7)")
def run_mnist(config, *, seed, progress):
    notes = []
    try:
        d = load_mnist(config["data_dir"], split="test")
        notes.append(f"MNIST test split read from {d.path} (the training split is not required).")
    except MissingDataError as exc:
        d = load_digits_fallback()
        notes.append(f"NOTICE: MNIST not found ({exc}); using scikit-learn's bundled 8x8 digits instead.")
    a, b = config["classes"]
    rng = np.random.default_rng(seed)
    n = int(config["n_per_class"])
    ia = rng.choice(np.nonzero(d.labels == a)[0], n, replace=False)
    ib = rng.choice(np.nonzero(d.labels == b)[0], n, replace=False)
    X = np.vstack([d.flat()[ia], d.flat()[ib]])
    y = _pca2(X)
    g = np.r_[np.zeros(n), np.ones(n)]
    q = [y[n // 2], (y[:n].mean(0) + y[n:].mean(0)) / 2, y[n + n // 2]]
    es = 1 / math.sqrt(2 * n)
    return _result("phase-mnist", config, y, g, None, [list(map(float, v)) for v in q],
                   [0.1 * es, es, 6 * es], f"{d.source} {a} vs {b}", notes)


DG = {"quick": {"res": 40, "n_eps": 60, "eps_curve": [0.002, 50.0], "margin": 2.0, "n_per_class": 20},
      "paper": {"res": 80, "n_eps": 300, "eps_curve": [0.002, 50.0], "margin": 2.0, "n_per_class": 0}}


@register("phase-digits", title="Class scores and class entropy: all ten bundled digits",
          description="scikit-learn's 8x8 digits (all classes; n_per_class = 0 means all 1797), "
                      "PCA-2, class scores p_c = Σ_{j∈c} π_j and the entropy of the class scores.",
          presets=DG, reproduces="§ phase diagram (all MNIST classes)")
def run_digits(config, *, seed, progress):
    d = load_digits_fallback()
    n = int(config["n_per_class"])
    if n > 0:
        rng = np.random.default_rng(seed)
        idx = np.concatenate([rng.choice(np.nonzero(d.labels == c)[0], n, replace=False) for c in range(10)])
    else:
        idx = np.arange(len(d.labels))
    y = _pca2(d.flat()[idx])
    lab = d.labels[idx]
    g = np.zeros(len(idx))                      # plain kernel regression: g = 0 for every atom
    cent = np.stack([y[lab == c].mean(0) for c in range(10)])
    q = [cent[0], cent.mean(0), cent[1]]
    es = len(idx) ** -0.5
    res = _result("phase-digits", config, y, g, lab, [list(map(float, v)) for v in q],
                  [0.1 * es, es, 6 * es], "digits, 10 classes", [])
    # class entropy at large eps tends to the entropy of the class frequencies
    prior = np.bincount(lab, minlength=10) / len(lab)
    h_prior = float(-(prior * np.log(prior)).sum())
    m = GibbsAverager(torch.from_numpy(y), torch.from_numpy(g), float(config["eps_curve"][1]), g=torch.from_numpy(g),
                      labels=torch.from_numpy(lab))
    hc = float(core.entropy(m.class_scores(torch.tensor(np.array(q), dtype=torch.float64))).min())
    ok = abs(hc - h_prior) < 0.05 * h_prior
    res.claims.append(Claim(
        "digits: in the wave limit the class scores tend to the class frequencies (class entropy "
        "→ entropy of the label prior).",
        f"entropy of p_c at the queries for eps = {config['eps_curve'][1]:g} vs the prior's entropy "
        "(within 5 %, a stated tolerance)",
        f"min class entropy {hc:.4f}, prior entropy {h_prior:.4f}",
        theorem_verdict(ok),
        "Holds by the configuration: at the top of the eps range every atom weighs alike, so p_c is "
        "the class share; a sanity check, not evidence." if ok else
        "The class scores have not reached the prior at the largest eps.", kind="theorem"))
    return res
