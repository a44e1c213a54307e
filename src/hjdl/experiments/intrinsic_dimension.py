"""Experiment ``intrinsic-dimension`` (THEORY §7): TwoNN on manifolds of known dimension and on digits.

Linear subspaces, a swiss roll and a sphere, embedded in a higher dimension with small noise,
and scikit-learn's bundled 8×8 digits; three estimators (TwoNN, TwoNN-MLE, Levina–Bickel). The
published scaling exponents are converted to ``d_eff = 1/alpha`` alongside.
"""

from __future__ import annotations

import numpy as np

from hjdl._progress import progress as _progress
from hjdl.experiments.registry import Claim, Result, Table, register
from hjdl.scaling import ESTIMATORS, intrinsic_dimension, published_exponents

__all__ = ["intrinsic_dimension_experiment", "manifolds"]


def _embed(Z, D, rng, noise):
    Q, _ = np.linalg.qr(rng.normal(size=(D, D)))
    X = Z @ Q[: Z.shape[1]]
    return X + noise * rng.normal(size=X.shape)


def manifolds(n: int, rng: np.random.Generator, noise: float) -> dict[str, tuple[np.ndarray, float]]:
    """Named point clouds with their true intrinsic dimension."""
    out = {}
    for d, D in ((1, 5), (2, 10), (5, 20)):
        out[f"linear {d}-D in R^{D}"] = (_embed(rng.uniform(size=(n, d)), D, rng, noise), float(d))
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=n))
    roll = np.stack([t * np.cos(t), 21 * rng.uniform(size=n), t * np.sin(t)], 1) / 10
    out["swiss roll in R^3"] = (roll, 2.0)
    out["swiss roll in R^10"] = (_embed(roll, 10, rng, noise), 2.0)
    v = rng.normal(size=(n, 3))
    out["sphere S^2 in R^6"] = (_embed(v / np.linalg.norm(v, axis=1, keepdims=True), 6, rng, noise), 2.0)
    v = rng.normal(size=(n, 5))
    out["sphere S^4 in R^8"] = (_embed(v / np.linalg.norm(v, axis=1, keepdims=True), 8, rng, noise), 4.0)
    return out


@register(
    "intrinsic-dimension",
    title="Intrinsic dimension (TwoNN) on manifolds of known dimension and on digits",
    description="TwoNN, TwoNN-MLE and Levina-Bickel on linear subspaces, swiss rolls and spheres embedded "
                "with noise, and on scikit-learn's digits; published scaling exponents as d_eff = 1/alpha.",
    presets={"quick": {"n": 1000, "noise": 1e-3, "digits": True},
             "paper": {"n": 5000, "noise": 1e-3, "digits": True}}, reproduces="§ scaling exponents and intrinsic dimension",
)
def intrinsic_dimension_experiment(config: dict, *, seed: int, progress: bool) -> Result:
    rng = np.random.default_rng(seed)
    sets = manifolds(config["n"], rng, config["noise"])
    if config["digits"]:
        from sklearn.datasets import load_digits  # bundled with scikit-learn (offline)
        digits = load_digits().data.astype(float)
        sets["digits 8x8 (scikit-learn)"] = (digits + 1e-6 * rng.normal(size=digits.shape), float("nan"))
    rows, errors = [], []
    for name in _progress(list(sets), desc="intrinsic-dimension", enabled=progress):
        X, d = sets[name]
        est = [intrinsic_dimension(X, method=m) for m in ESTIMATORS]
        rows.append([name, X.shape[1], d if np.isfinite(d) else None, *est])
        if np.isfinite(d):
            errors.append((name, d, est[0]))
    worst = max(errors, key=lambda e: abs(e[2] - e[1]) / e[1])
    rel = abs(worst[2] - worst[1]) / worst[1]
    # rival: the estimator reads the ambient space; excluded when every estimate is nearer d than D
    ambient = {r[0]: r[1] for r in rows}
    nearer = all(abs(est - d) < abs(est - ambient[name]) for name, d, est in errors)
    verdict = ("confirmed" if rel <= 0.15 and nearer else
               "partly" if rel <= 0.3 and nearer else "not confirmed")
    table = Table("Estimated intrinsic dimension", ["data", "ambient D", "true d", *ESTIMATORS], rows)
    pub = Table("Published scaling exponents as effective dimensions",
                ["model family", "alpha", "d_eff = 1/alpha", "d_eff quoted", "source"],
                [[p.name, p.alpha, p.d_eff, p.d_eff_quoted, p.source] for p in published_exponents()])
    claims = [Claim("TwoNN recovers the intrinsic dimension of manifolds of known dimension.",
                    "largest relative error of TwoNN over the synthetic sets, against 15 % (a stated "
                    "tolerance for the estimator's bias under curvature and noise; its statistical sd "
                    f"≈ d/√n is {100 / np.sqrt(config['n']):.1f} % of d here), and every estimate nearer "
                    "the true d than the ambient D",
                    f"worst: {worst[0]} (true {worst[1]:g}, TwoNN {worst[2]:.2f}, {100 * rel:.0f} %)",
                    verdict,
                    "all estimates within 15 % of the truth" if verdict == "confirmed" else
                    (f"TwoNN {'over' if worst[2] > worst[1] else 'under'}estimates on {worst[0]}: "
                     + ("ambient noise comparable to the neighbour spacing adds dimensions"
                        if worst[2] > worst[1] else
                        "high dimension or curvature at this sample size biases the ratio statistic")),
                    rival="the estimate reads the ambient dimension D (or the noise), not the manifold")]
    return Result(name="intrinsic-dimension", preset="", config=config, tables={"estimates": table,
                                                                                 "published": pub},
                  series={"estimates": {"names": [r[0] for r in rows], "true": [r[2] for r in rows],
                                        "twonn": [r[3] for r in rows]}},
                  claims=claims,
                  notes=["TwoNN reads the dimension at the nearest-neighbour scale: where the embedding noise "
                         "is comparable to the neighbour spacing (1-D segment: spacing ~ 1/n), it measures "
                         "the noise's dimension, not the manifold's.",
                         "Digits get a 1e-6 jitter so duplicated images do not produce zero distances.",
                         "d_eff = 1/alpha is an order-of-magnitude dictionary (THEORY §7)."],
                  summary=f"worst TwoNN relative error {100 * rel:.0f} % ({worst[0]})")
