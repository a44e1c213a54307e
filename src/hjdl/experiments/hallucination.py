r"""Experiment ``hallucination`` (THEORY §4): error outside the diffusion radius, and the risk map.

The page's two statements, tested on a data-anchored LSE model (:class:`hjdl.attribution.GibbsAverager`:
one atom per training point, ``F(x) = Σ_j π_j(x) v_j``, Gibbs weights at temperature ``eps`` and
HJ time ``t``, a kernel smoother of bandwidth ``√(2 eps t)``):

* *a risk map ``Δ/(eps log N)`` bounds the gap between the LSE output and its tropical limit*:
  ``0 ≤ f_eps − max z ≤ eps log(1 + (N − 1) e^{−Δ/eps})`` (T1 sharpened; a theorem). The diagnostics
  come from :func:`hjdl.attribution.hallucination_report`; the measured gap ``f_eps − max z`` is
  recomputed here without hjdl (SciPy ``logsumexp`` of the logits ``−|x − y_j|²/(4t)`` shifted by
  ``|x|²/(4t)``) and must equal the report's and lie below its bound (sanity checks).
* *hallucination is output produced outside the diffusion radius ``√(2 eps t)``* (evidence): the
  prediction error of test points against their distance to the nearest atom in units of the
  radius, ``ρ = dist/√(2 eps t)``. Per seed, the ratio of the mean error beyond the radius
  (``ρ > 1``) to the mean error within it (``ρ ≤ 1``); a Student-t interval over seeds and a
  bootstrap interval over test points. Rival: no change (ratio 1). Sharpness: the ratio of the
  mean errors in the bins just outside and just inside the radius (``1 < ρ ≤ 2`` against
  ``1/2 < ρ ≤ 1``).

Data sets:

* ``synthetic``: training points from three Gaussian blobs in the plane, targets
  ``f*(x) = sin(2 x₁) + cos(1.5 x₂)`` plus noise; test points uniform on a box that extends well
  beyond the blobs; error ``|F(x) − f*(x)|``.
* ``synthetic-in``: the same, with test points drawn from the blobs themselves (in distribution):
  whether distance to the data still matters when the test set does not leave the data.
* ``digits``: scikit-learn's bundled 8×8 digits (no download), PCA to 2-D fitted on the training
  split and scaled to unit variance; class scores ``p_c(x) = Σ_{j ∈ c} π_j``; error: the test
  point is misclassified (argmax) — a 0/1 error whose mean is the error rate.

Units of work: one per ``(dataset, seed index)``; the randomness of a unit derives from
``(seed, dataset, seed index)`` only.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import logsumexp

from hjdl._progress import progress as _progress
from hjdl.attribution import GibbsAverager, hallucination_report
from hjdl.errors import InputError, ShapeError
from hjdl.experiments.registry import (
    Claim,
    Result,
    Table,
    combine_verdicts,
    identity_verdict,
    interval_verdict,
    register,
    seed_interval,
    theorem_verdict,
)

__all__ = ["hallucination", "radius_bins", "error_ratio", "BIN_EDGES"]

#: Bin edges of ``ρ = distance to the nearest atom / √(2 eps t)``.
BIN_EDGES: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, math.inf)
_DATASETS = ("synthetic", "digits", "synthetic-in")

_PRESETS = {
    "quick": {"datasets": ["synthetic", "synthetic-in", "digits"], "seeds": 5, "n_train": 300, "n_test": 1500,
              "noise": 0.1, "box": 3.5, "eps": {"synthetic": [0.02], "synthetic-in": [0.02], "digits": [0.002, 0.01]},
              "t": 1.0, "digits_train": 0.7,
              "bootstrap": 300, "map_res": 60, "threads": 1},
    "paper": {"datasets": ["synthetic", "synthetic-in", "digits"], "seeds": 20, "n_train": 1000, "n_test": 5000,
              "noise": 0.1, "box": 3.5, "eps": {"synthetic": [0.005, 0.02, 0.08], "synthetic-in": [0.005, 0.02, 0.08],
                                                "digits": [0.001, 0.003, 0.01, 0.03]}, "t": 1.0,
              "digits_train": 0.7,
              "bootstrap": 2000, "map_res": 120, "threads": None},
}


# --------------------------------------------------------------------------------------------
# the measurement (pure functions, used by the tests on controls)
# --------------------------------------------------------------------------------------------
def _pair(err, rho) -> tuple[np.ndarray, np.ndarray]:
    err, rho = np.asarray(err, dtype=float), np.asarray(rho, dtype=float)
    if err.ndim != 1 or err.shape != rho.shape:
        raise ShapeError(f"err and rho: expected two 1-D arrays of equal length (one error and one distance "
                         f"ratio per point), received shapes {err.shape} and {rho.shape}")
    if (rho < 0).any() or not np.isfinite(rho).all():
        raise InputError("rho: expected finite distance ratios >= 0, received "
                         f"{rho[(rho < 0) | ~np.isfinite(rho)][0]!r}")
    return err, rho


def radius_bins(err, rho, edges=BIN_EDGES) -> tuple[np.ndarray, np.ndarray]:
    """Mean error and count per bin of ``rho`` (``nan`` mean for an empty bin).

    >>> m, n = radius_bins([1.0, 3.0, 5.0], [0.2, 0.7, 1.5], edges=(0, 1, 2))
    >>> m.tolist(), n.tolist()
    ([2.0, 5.0], [2, 1])
    """
    err, rho = _pair(err, rho)
    idx = np.searchsorted(np.asarray(edges), rho, side="left") - 1
    idx = np.clip(idx, 0, len(edges) - 2)
    idx[rho == 0] = 0
    counts = np.bincount(idx, minlength=len(edges) - 1)
    sums = np.bincount(idx, weights=err, minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means, counts


def error_ratio(err, rho, *, split: float = 1.0) -> float:
    """Mean error of the points with ``rho > split`` over that of ``rho <= split`` (``nan`` when a side
    is empty or the inside error is 0).

    >>> error_ratio([1.0, 1.0, 3.0], [0.5, 0.9, 2.0])
    3.0
    """
    err, rho = _pair(err, rho)
    out, inside = rho > split, rho <= split
    if not out.any() or not inside.any():
        return math.nan
    base = err[inside].mean()
    return float(err[out].mean() / base) if base > 0 else math.nan


def _bootstrap_ratio(groups, n_boot: int, rng, split: float = 1.0) -> tuple[float, float]:
    """95 % percentile interval of the pooled beyond/within ratio, resampling points within each seed."""
    stats_ = []
    for _ in range(int(n_boot)):
        e_out = e_in = n_out = n_in = 0.0
        for err, rho in groups:
            k = rng.integers(0, len(err), len(err))
            e, r = err[k], rho[k]
            o = r > split
            e_out += e[o].sum()
            n_out += o.sum()
            e_in += e[~o].sum()
            n_in += (~o).sum()
        if n_out and n_in and e_in > 0:
            stats_.append((e_out / n_out) / (e_in / n_in))
    if not stats_:
        return (math.nan, math.nan)
    lo, hi = np.percentile(stats_, [2.5, 97.5])
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def _rng(seed: int, dataset: str, k: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), _DATASETS.index(dataset), int(k), 4241]))


def _target(x: np.ndarray) -> np.ndarray:
    return np.sin(2 * x[:, 0]) + np.cos(1.5 * x[:, 1])


def _blobs(n: int, rng) -> np.ndarray:
    centres = 1.5 * np.array([[math.cos(a), math.sin(a)] for a in (0.3, 0.3 + 2.1, 0.3 + 4.2)])
    return centres[rng.integers(0, 3, n)] + 0.35 * rng.standard_normal((n, 2))


def _synthetic(config: dict, rng, inside: bool = False):
    X = _blobs(int(config["n_train"]), rng)
    v = _target(X) + float(config["noise"]) * rng.standard_normal(len(X))
    b = float(config["box"])
    Xt = _blobs(int(config["n_test"]), rng) if inside else rng.uniform(-b, b, size=(int(config["n_test"]), 2))
    return X, v, Xt, _target(Xt)


def _digits(config: dict, rng):
    from hjdl.datasets import load_digits_fallback

    data = load_digits_fallback()
    X, y = data.flat(), np.asarray(data.labels)
    idx = rng.permutation(len(X))
    n_tr = int(round(float(config["digits_train"]) * len(X)))
    tr, te = idx[:n_tr], idx[n_tr:]
    mean = X[tr].mean(0)
    _, _, Vt = np.linalg.svd(X[tr] - mean, full_matrices=False)
    Z = (X - mean) @ Vt[:2].T
    Z = Z / Z[tr].std()
    return Z[tr], y[tr], Z[te], y[te]


# --------------------------------------------------------------------------------------------
# units
# --------------------------------------------------------------------------------------------
def _units(config: dict, seed: int) -> list[dict]:
    return [{"dataset": ds, "k": k} for ds in config["datasets"] for k in range(int(config["seeds"]))]


def _independent_excess(x: np.ndarray, atoms: np.ndarray, eps: float, t: float) -> np.ndarray:
    """``LSE_eps(z) − max z`` of the averager's logits ``z_j = (|x|² − |x − y_j|²)/(4t)``, by SciPy."""
    z = (2 * x @ atoms.T - np.sum(atoms**2, 1)[None, :]) / (4 * t)  # = (|x|² − |x − y_j|²)/(4t)
    zmax = z.max(1, keepdims=True)
    return eps * logsumexp((z - zmax) / eps, axis=1)


def _one_model(X, v, Xt, truth, ds: str, eps: float, t: float, map_res: int) -> dict:
    """Errors, distances in radius units and the bound checks of one data-anchored model (and its risk
    map on a ``map_res``² grid when ``map_res > 0``)."""
    model = GibbsAverager(torch.from_numpy(X), torch.from_numpy(v), eps=eps, t=t)
    xt = torch.from_numpy(Xt)
    rep = hallucination_report(model, xt)
    radius = float(rep.diffusion_radius)
    rho = (rep.nearest_atom_distance / radius).numpy()
    if ds != "digits":
        err = np.abs(model.predict(xt).numpy() - truth)
    else:
        pred = model.classes[model.class_scores(xt).argmax(-1)].numpy()
        err = (pred != truth).astype(float)
    excess_ind = _independent_excess(Xt, X, eps, t)
    out = {"eps": eps, "radius": radius, "N": int(len(X)), "err": err.tolist(), "rho": rho.tolist(),
           "excess_mismatch": float(np.max(np.abs(excess_ind - rep.excess.numpy()))),
           "bound_violations": int((excess_ind > rep.bound.numpy() + 1e-12 * (1 + np.abs(excess_ind))).sum()),
           "report_bound_holds": bool(rep.bound_holds.all()), "n_points": int(len(Xt))}
    if map_res:
        lo, hi = np.vstack([X, Xt]).min(0), np.vstack([X, Xt]).max(0)
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], map_res), np.linspace(lo[1], hi[1], map_res))
        grid = np.stack([gx.ravel(), gy.ravel()], -1)
        rg = hallucination_report(model, torch.from_numpy(grid))
        ex_g = _independent_excess(grid, X, eps, t)
        out["bound_violations"] += int((ex_g > rg.bound.numpy() + 1e-12 * (1 + np.abs(ex_g))).sum())
        out["excess_mismatch"] = max(out["excess_mismatch"], float(np.max(np.abs(ex_g - rg.excess.numpy()))))
        out["report_bound_holds"] = out["report_bound_holds"] and bool(rg.bound_holds.all())
        out["n_points"] += int(len(grid))
        ratio = rg.ratio.numpy()
        hot = ratio > 2
        out["map"] = {"gx": gx.tolist(), "gy": gy.tolist(), "ratio": ratio.reshape(map_res, map_res).tolist(),
                      "dist_ratio": (rg.nearest_atom_distance.numpy() / radius).reshape(map_res, map_res).tolist(),
                      "atoms": X.tolist(), "eps": eps,
                      "extrapolated_outside": float(np.mean(rg.outside_radius.numpy()[hot])) if hot.any()
                      else math.nan}
    return out


def _run_unit(config: dict, unit: dict, *, seed: int, progress: bool) -> dict:
    ds, k = unit["dataset"], int(unit["k"])
    threads, previous = config.get("threads"), torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        rng = _rng(seed, ds, k)
        if ds == "digits":
            X, v, Xt, truth = _digits(config, rng)
        else:
            X, v, Xt, truth = _synthetic(config, rng, inside=ds == "synthetic-in")
        t = float(config["t"])
        runs = [_one_model(X, v, Xt, truth, ds, float(e), t, int(config["map_res"]) if k == 0 else 0)
                for e in config["eps"][ds]]
        return {"dataset": ds, "k": k, "runs": runs}
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------
# assembly
# --------------------------------------------------------------------------------------------
def _assemble(config: dict, payloads: list, *, seed: int) -> Result:
    rows, bin_rows, claims, series = [], [], [], {"maps": {}, "error_vs_radius": {}}
    ratio_verdicts, bound_ok, mismatch = [], [], 0.0
    edges = np.asarray(BIN_EDGES)
    centres = [math.sqrt(max(a, 0.25) * b) if math.isfinite(b) else 2 * a for a, b in zip(edges[:-1], edges[1:])]
    cases = [(ds, i, float(e)) for ds in config["datasets"] for i, e in enumerate(config["eps"][ds])]
    for ds, i_eps, eps_value in cases:
        ps = [p["runs"][i_eps] for p in sorted((p for p in payloads if p["dataset"] == ds), key=lambda p: p["k"])]
        if not ps:
            continue
        name = f"{ds} eps={eps_value:g}"
        groups = [(np.asarray(p["err"]), np.asarray(p["rho"])) for p in ps]
        per_seed = np.array([radius_bins(e, r)[0] for e, r in groups])  # (S, B)
        counts = np.array([radius_bins(e, r)[1] for e, r in groups]).sum(0)
        ratios = [error_ratio(e, r) for e, r in groups]
        ratios = [x for x in ratios if math.isfinite(x)]
        sharp = [m[2] / m[1] for m in per_seed if np.isfinite(m[1]) and np.isfinite(m[2]) and m[1] > 0]
        mean_r, ci_r = seed_interval(ratios) if ratios else (math.nan, (math.nan, math.nan))
        mean_s, ci_s = seed_interval(sharp) if sharp else (math.nan, (math.nan, math.nan))
        boot = _bootstrap_ratio(groups, config["bootstrap"], np.random.default_rng([int(seed), 99, i_eps,
                                                                                     _DATASETS.index(ds)]))
        verdict = interval_verdict(ci_r, (1.0, math.inf), [1.0]) if ratios and math.isfinite(ci_r[0]) \
            else "inconclusive"
        ratio_verdicts.append(verdict)
        eps, radius = ps[0]["eps"], ps[0]["radius"]
        frac_out = float(np.mean(np.concatenate([r for _, r in groups]) > 1))
        rows.append([name, eps, radius, ps[0]["N"], len(ps), frac_out, mean_r, ci_r[0], ci_r[1], boot[0], boot[1],
                     mean_s, ci_s[0], ci_s[1], verdict])
        err_label = "misclassification rate" if ds == "digits" else "|F(x) − f*(x)|"
        mean_b, lo_b, hi_b = [], [], []
        for b in range(len(edges) - 1):
            col = per_seed[:, b]
            col = col[np.isfinite(col)]
            if col.size:
                m, (lo, hi) = seed_interval(col)
            else:
                m, lo, hi = math.nan, math.nan, math.nan
            mean_b.append(m)
            lo_b.append(lo if math.isfinite(lo) else m)
            hi_b.append(hi if math.isfinite(hi) else m)
            bin_rows.append([name, f"({edges[b]:g}, {edges[b + 1]:g}]", int(counts[b]), int(col.size), m, lo, hi])
        series["error_vs_radius"][name] = {"centre": centres, "mean": mean_b, "lo": lo_b, "hi": hi_b,
                                         "count": counts.tolist(), "error_label": err_label}
        if "map" in ps[0]:
            series["maps"][name] = ps[0]["map"]
        bound_ok += [p["bound_violations"] == 0 and p["report_bound_holds"] for p in ps]
        mismatch = max(mismatch, max(p["excess_mismatch"] for p in ps))
    n_pts = sum(r["n_points"] for p in payloads for r in p["runs"])
    claims.append(Claim(
        "The risk map bounds the gap between the LSE output and its tropical limit: "
        "0 <= f_eps - max z <= eps log(1 + (N-1) e^(-Delta/eps)), Delta the top-two logit gap (so the gap is "
        "below eps log 2 wherever Delta/(eps log N) >= 1).",
        "gap recomputed with SciPy logsumexp from the logits (no hjdl), against hallucination_report's bound, "
        "at every test point and risk-map grid point of every seed (rounding slack 1e-12 relative)",
        f"{sum(bound_ok)} of {len(bound_ok)} runs without a violation ({n_pts} points)",
        theorem_verdict(bool(bound_ok) and all(bound_ok)), "T1 sharpened is a theorem", kind="theorem"))
    claims.append(Claim(
        "hallucination_report's measured gap f_eps - max z equals an independent evaluation.",
        "largest |difference| against SciPy logsumexp of the logits, tolerance 1e-10",
        f"{mismatch:.2e}", identity_verdict(mismatch), "float64 rounding only", kind="identity"))
    for r, v in zip(rows, ratio_verdicts):
        claims.append(Claim(
            f"Hallucination is output produced outside the diffusion radius sqrt(2 eps t) ({r[0]}): the "
            "prediction error is larger beyond the radius than within it.",
            "per seed, mean error of test points with distance/sqrt(2 eps t) > 1 over that of points <= 1; "
            "95 % Student-t interval over seeds (bootstrap interval over points reported beside it); "
            "confirmed when the interval lies above 1",
            f"ratio {r[6]:.3g} [{r[7]:.3g}, {r[8]:.3g}] over {r[4]} seeds (bootstrap [{r[9]:.3g}, {r[10]:.3g}]); "
            f"{100 * r[5]:.0f} % of test points beyond the radius; jump across the radius "
            f"(bin (1, 2] over (0.5, 1]) {r[11]:.3g} [{r[12]:.3g}, {r[13]:.3g}]",
            v,
            {"confirmed": "the error beyond the radius is larger, and the interval excludes no change",
             "inconclusive": "the interval covers no change",
             "not confirmed": "the error beyond the radius is not larger"}[v],
            rival="no change: the error does not depend on the distance to the data (ratio 1)"))
    tables = {
        "ratio": Table("Error beyond / within the diffusion radius (95 % intervals)",
                       ["dataset", "eps", "radius sqrt(2 eps t)", "N atoms", "seeds", "fraction beyond",
                        "ratio", "CI low", "CI high", "bootstrap low", "bootstrap high", "jump (1,2]/(0.5,1]",
                        "jump CI low", "jump CI high", "verdict"], rows),
        "bins": Table("Mean error per bin of distance / sqrt(2 eps t) (95 % interval over seeds)",
                      ["dataset", "bin", "points", "seeds with points", "mean error", "CI low", "CI high"],
                      bin_rows),
    }
    notes = ["The model is data-anchored (one atom per training point, g = 0): here the Gibbs weights attribute "
             "to training examples.",
             "Synthetic test points are uniform on a box around the blobs, so many lie far from the data; "
             "synthetic-in and digits test points come from the same distribution as the training points."]
    for ds, m in series["maps"].items():
        notes.append(f"{ds}: of the grid points with risk Delta/(eps log N) > 2, "
                     f"{100 * m['extrapolated_outside']:.0f} % lie outside the diffusion radius.")
    return Result(name="hallucination", preset="", config=config, tables=tables, series=series, claims=claims,
                  notes=notes, summary="; ".join(f"{r[0]}: ratio {r[6]:.2f} [{r[7]:.2f}, {r[8]:.2f}]" for r in rows))


@register(
    "hallucination",
    title="Hallucination outside the diffusion radius, and the risk map",
    description="Data-anchored LSE models on synthetic 2-D data and digits (PCA 2-D): risk map Delta/(eps log N) "
                "with the tropical bound checked, and prediction error against distance to the nearest atom in "
                "units of sqrt(2 eps t), with intervals over seeds.",
    presets=_PRESETS,
    reproduces="§ hallucination outside the diffusion radius",
    units=_units,
    run_unit=_run_unit,
    assemble=_assemble,
)
def hallucination(config: dict, *, seed: int, progress: bool) -> Result:
    units = _units(config, seed)
    payloads = [_run_unit(config, u, seed=seed, progress=False)
                for u in _progress(units, desc="hallucination", enabled=progress)]
    return _assemble(config, payloads, seed=seed)
