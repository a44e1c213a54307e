"""Experiment ``hj-highdim``: the mesh-free solver :func:`hjdl.solve` in 2, 10 and 100 dimensions.

Initial data ``g(y) = log((1 + |y|²)/2)`` (the terminal cost of the Han–Jentzen–E HJB), metric
``I``, ``t = 1``, evaluated at ``x = e_1``. Because ``g`` is radial, the exact value at any ``eps``
and ``d`` is a one-dimensional integral against a noncentral chi-square law
(:func:`hjdl.solver.reference.radial_reference`, SciPy quadrature with its own error bound), which
shares no code with the solver. Parts (one unit each, THEORY §3, §4, §7):

* ``rate``: the RMS error of plain Monte Carlo over seeds against the number of atoms ``N`` for
  ``d = 2, 10, 100``: the fitted slope with its interval against ``−1/2`` (dimension-free) and the
  quadrature rival ``−1/d``;
* ``collapse``: at fixed ``N``, the effective sample size ``ESS/N`` and the error of Monte Carlo and
  of importance sampling as ``eps → 0``; where the Monte Carlo weights collapse (``ESS/N`` below
  0.1) against the paper's crossover ``eps* = N^{−1/d}``;
* ``hjb``: the 100-d HJB ``∂u/∂s + Δu − λ|∇u|² = 0`` at ``x = 0`` for ``λ = 1, 10, 50``:
  value ± error bar, wall time, the independent reference, and the published deep BSDE figure
  (0.17 % at ``λ = 1`` in about 330 s; quoted, not taken as truth).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from hjdl.experiments.registry import (
    Claim,
    Result,
    Table,
    combine_verdicts,
    interval_verdict,
    register,
    seed_interval,
    theorem_verdict,
)

__all__ = ["hj_highdim"]

_QUICK = {"dims": [2, 10, 100], "rate_eps": 1.0, "rate_N": [128, 256, 512, 1024, 2048, 4096], "rate_seeds": 6,
          "collapse_eps": [1.0, 0.25, 0.0625], "collapse_N": 512, "collapse_seeds": 3,
          "lambdas": [1.0, 10.0, 50.0], "hjb_budget": 4096}
_PAPER = {"dims": [2, 10, 100], "rate_eps": 1.0, "rate_N": [256, 1024, 4096, 16384, 65536],
          "rate_seeds": 24, "collapse_eps": [2.0, 1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125],
          "collapse_N": 4096, "collapse_seeds": 12, "lambdas": [1.0, 10.0, 50.0], "hjb_budget": 1 << 20}
#: ``ESS/N`` below this counts as collapsed weights
COLLAPSE = 0.1


def _phi(r2):
    return np.log((1 + r2) / 2)


def _g(y):
    from hjdl.solver.hjb import hjb_terminal

    return hjb_terminal(y)


def _point(d):
    x = torch.zeros(1, d, dtype=torch.float64)
    x[0, 0] = 1.0
    return x


def _seed(seed, *parts):
    return int(seed) * 100003 + sum((k + 1) * 7919 * int(p) for k, p in enumerate(parts))


def _units(config, seed):
    return ([{"part": "rate", "d": d} for d in config["dims"]]
            + [{"part": "collapse", "d": d} for d in config["dims"]]
            + [{"part": "hjb", "lam": lam} for lam in config["lambdas"]])


def _rate(config, d, seed):
    from hjdl import solve
    from hjdl.solver.reference import radial_reference

    eps = float(config["rate_eps"])
    ref, bound = radial_reference(_phi, 1.0, d, eps=eps)
    rows = []
    for N in config["rate_N"]:
        errs, ses = [], []
        for s in range(config["rate_seeds"]):
            sol = solve(_g, _point(d), t=1.0, eps=eps, method="mc", budget=int(N), seed=_seed(seed, d, N, s))
            errs.append(float(sol.value[0]) - ref)
            ses.append(float(sol.stderr[0]))
        rows.append({"N": int(N), "rms": math.sqrt(float(np.mean(np.square(errs)))),
                     "mean_stderr": float(np.mean(ses))})
    return {"d": d, "eps": eps, "reference": ref, "bound": bound, "rows": rows}


def _collapse(config, d, seed):
    from hjdl import solve
    from hjdl.solver.reference import radial_reference

    N = int(config["collapse_N"])
    rows = []
    for eps in config["collapse_eps"]:
        ref, bound = radial_reference(_phi, 1.0, d, eps=float(eps))
        rec = {"eps": float(eps), "reference": ref}
        for method in ("mc", "is"):
            ess, err = [], []
            for s in range(config["collapse_seeds"]):
                sol = solve(_g, _point(d), t=1.0, eps=float(eps), method=method, budget=N,
                            seed=_seed(seed, d, s, int(1e6 * eps), method == "is"))
                ess.append(float(sol.ess[0]) / N)
                err.append(abs(float(sol.value[0]) - ref))
            rec[method] = {"ess_frac": ess, "abs_err": err}
        rows.append(rec)
    return {"d": d, "N": N, "eps_star": N ** (-1.0 / d), "rows": rows}


def _hjb(config, lam, seed):
    from hjdl.solver.hjb import PUBLISHED_DEEP_BSDE, hjb_reference, hjb_solve

    x = torch.zeros(1, 100, dtype=torch.float64)
    t0 = time.perf_counter()
    sol = hjb_solve(lam, x, budget=int(config["hjb_budget"]), seed=_seed(seed, int(lam)))
    wall = time.perf_counter() - t0
    ref, bound = hjb_reference(lam)
    pub = PUBLISHED_DEEP_BSDE if lam == PUBLISHED_DEEP_BSDE["lambda"] else None
    return {"lam": lam, "value": float(sol.value[0]), "stderr": float(sol.stderr[0]), "seconds": wall,
            "method": sol.method, "ess": float(sol.ess[0]), "n_evals": int(sol.n_evals),
            "reference": ref, "bound": bound, "published": pub}


def _run_unit(config, unit, *, seed, progress):
    if unit["part"] == "rate":
        return {"part": "rate", **_rate(config, int(unit["d"]), seed)}
    if unit["part"] == "collapse":
        return {"part": "collapse", **_collapse(config, int(unit["d"]), seed)}
    return {"part": "hjb", **_hjb(config, float(unit["lam"]), seed)}


def _crossing(eps, frac):
    """The eps where ESS/N falls through COLLAPSE (log-linear interpolation), or None."""
    e, f = np.asarray(eps, float), np.asarray(frac, float)
    order = np.argsort(-e)
    e, f = e[order], f[order]
    for i in range(len(e) - 1):
        if f[i] >= COLLAPSE > f[i + 1]:
            a = (math.log(f[i]) - math.log(COLLAPSE)) / (math.log(f[i]) - math.log(max(f[i + 1], 1e-300)))
            return math.exp(math.log(e[i]) + a * (math.log(e[i + 1]) - math.log(e[i])))
    return None


def _assemble(config, payloads, *, seed):
    from hjdl.scaling import fit_power_law

    rate = [p for p in payloads if p["part"] == "rate"]
    coll = [p for p in payloads if p["part"] == "collapse"]
    hjb = [p for p in payloads if p["part"] == "hjb"]
    claims, tables, series = [], {}, {"rate": {}, "collapse": {}, "hjb": hjb}

    # --- rate ---
    t_rate = Table("Monte Carlo error against N (x = e1, eps = %g, RMS over seeds)" % config["rate_eps"],
                   ["d", "N", "RMS error", "mean stderr", "reference u"])
    t_fit = Table("Fitted slope of log RMS error against log N (95 % CI)", ["d", "slope", "CI low", "CI high"])
    verdicts, measured = [], []
    for p in rate:
        N = [r["N"] for r in p["rows"]]
        rms = [r["rms"] for r in p["rows"]]
        for r in p["rows"]:
            t_rate.rows.append([p["d"], r["N"], r["rms"], r["mean_stderr"], p["reference"]])
        fit = fit_power_law(np.array(N, float), np.maximum(np.array(rms), 1e-300), method="ols")
        lo, hi = (float(v) for v in fit.ci)
        t_fit.rows.append([p["d"], float(fit.slope), lo, hi])
        series["rate"][str(p["d"])] = {"N": N, "rms": rms, "stderr": [r["mean_stderr"] for r in p["rows"]],
                                       "slope": float(fit.slope), "ci": [lo, hi]}
        rivals = [0.0] + ([-1.0 / p["d"]] if p["d"] > 2 else [-1.0])
        verdicts.append(interval_verdict((lo, hi), -0.5, rivals))
        measured.append(f"d={p['d']}: {fit.slope:.3f} [{lo:.3f}, {hi:.3f}]")
    if rate:
        claims.append(Claim(
            "Monte Carlo over the heat kernel converges as N^(-1/2) whatever the dimension (d = "
            + ", ".join(str(p["d"]) for p in rate) + ").",
            "OLS slope of log RMS error (over seeds) against log N, 95 % CI; expected -1/2; rivals: 0 (no "
            "convergence) and -1/d, the worst-case quadrature rate of N atoms (THEORY §7); -1 stands in at d = 2",
            "; ".join(measured), combine_verdicts(verdicts),
            "confirmed where the interval holds -1/2 and excludes both rivals; a short N range or few "
            "seeds leaves it inconclusive", rival="slope 0 or -1/d"))
    tables["rate"], tables["rate_fit"] = t_rate, t_fit

    # --- collapse ---
    t_col = Table("ESS/N and absolute error of Monte Carlo (mc) and importance sampling (is) against eps",
                  ["d", "eps", "eps* = N^(-1/d)", "mc ESS/N", "mc |error|", "is ESS/N", "is |error|"])
    cv, cm, iv, im = [], [], [], []
    for p in coll:
        eps = [r["eps"] for r in p["rows"]]
        curve = {"eps": eps, "eps_star": p["eps_star"], "N": p["N"]}
        for m in ("mc", "is"):
            curve[m] = {"ess_frac": [float(np.mean(r[m]["ess_frac"])) for r in p["rows"]],
                        "abs_err": [float(np.sqrt(np.mean(np.square(r[m]["abs_err"])))) for r in p["rows"]]}
        for i, r in enumerate(p["rows"]):
            t_col.rows.append([p["d"], r["eps"], p["eps_star"], curve["mc"]["ess_frac"][i], curve["mc"]["abs_err"][i],
                               curve["is"]["ess_frac"][i], curve["is"]["abs_err"][i]])
        # where the MC weights collapse, per seed, against eps*
        per_seed = [_crossing(eps, [r["mc"]["ess_frac"][s] for r in p["rows"]])
                    for s in range(len(p["rows"][0]["mc"]["ess_frac"]))]
        found = [math.log(c / p["eps_star"]) for c in per_seed if c is not None]
        curve["eps_collapse"] = _crossing(eps, curve["mc"]["ess_frac"])
        series["collapse"][str(p["d"])] = curve
        if len(found) >= 2:
            mean, (lo, hi) = seed_interval(found)
            v = "inconclusive" if lo <= math.log(2) and hi >= -math.log(2) else "not confirmed"
            cv.append(v)
            cm.append(f"d={p['d']}: eps_c/eps* = {math.exp(mean):.3g} [{math.exp(lo):.3g}, {math.exp(hi):.3g}]")
        else:
            cm.append(f"d={p['d']}: no crossing of ESS/N = {COLLAPSE} in the eps range")
        # importance sampling at the smallest eps: log(|err mc| / |err is|) per seed
        last = p["rows"][int(np.argmin(eps))]
        ratios = [math.log(max(a, 1e-16) / max(b, 1e-16)) for a, b in zip(last["mc"]["abs_err"], last["is"]["abs_err"])]
        if len(ratios) >= 2:
            mean, (lo, hi) = seed_interval(ratios)
            iv.append(interval_verdict((lo, hi), (0.0, math.inf), [0.0]) if lo > 0 or hi < 0 else "inconclusive")
            im.append(f"d={p['d']}, eps={min(eps):g}: |err mc|/|err is| = {math.exp(mean):.3g} "
                      f"[{math.exp(lo):.3g}, {math.exp(hi):.3g}]")
    if coll:
        claims.append(Claim(
            f"The Monte Carlo Gibbs weights collapse (ESS/N < {COLLAPSE}) at the paper's crossover eps* = N^(-1/d).",
            "per seed, the eps where ESS/N crosses the threshold (log interpolation), its ratio to eps*; Student-t "
            "interval of the log ratio over seeds; agreement means the interval meets a factor 2 around eps*; a "
            "single N cannot exclude a rival, so agreement is at most inconclusive",
            "; ".join(cm), combine_verdicts(cv) if cv else "inconclusive",
            "ESS/N of i.i.d. heat-kernel atoms is a property of the weight law (it does not depend on N), so "
            "a collapse scale set by N^(-1/d) would be a coincidence; the table shows where it happens",
            rival="a collapse scale set by the tilt of the weights, independent of N"))
        claims.append(Claim(
            "Importance sampling at the Hopf-Lax minimiser restores the accuracy lost by Monte Carlo at small eps.",
            "per seed, log(|error mc| / |error is|) at the smallest eps and the same N; Student-t interval over "
            "seeds; rival: no gain (0)",
            "; ".join(im), combine_verdicts(iv) if iv else "inconclusive",
            "confirmed where the interval of the log ratio lies above 0", rival="no gain (ratio 1)"))
    tables["collapse"] = t_col

    # --- hjb ---
    t_hjb = Table("100-d HJB at x = 0, s = 0 (T = 1): hjdl.solve against the radial quadrature",
                  ["lambda", "method", "value", "stderr", "relative error bar", "|value - reference|",
                   "reference", "reference bound", "seconds", "deep BSDE (published)"])
    ok, rel1 = [], None
    for p in sorted(hjb, key=lambda q: q["lam"]):
        pub = p["published"]
        pub_txt = f"{100 * pub['relative_error']:.2f} % in ~{pub['seconds']:.0f} s" if pub else "-"
        t_hjb.rows.append([p["lam"], p["method"], p["value"], p["stderr"], p["stderr"] / abs(p["reference"]),
                           abs(p["value"] - p["reference"]), p["reference"], p["bound"], p["seconds"], pub_txt])
        ok.append(abs(p["value"] - p["reference"]) <= 4 * p["stderr"] + p["bound"])
        if p["lam"] == 1.0:
            e = abs(p["value"] - p["reference"]) / abs(p["reference"])
            rel1 = (max(0.0, e - 2 * p["stderr"] / abs(p["reference"])), e + 2 * p["stderr"] / abs(p["reference"]), p)
    if hjb:
        claims.append(Claim(
            "hjdl.solve agrees with the independent radial quadrature on the 100-d HJB within 4 error bars.",
            "|value - reference| <= 4 stderr + quadrature bound at each lambda",
            ", ".join(f"lambda={p['lam']:g}: {abs(p['value'] - p['reference']) / max(p['stderr'], 1e-300):.2f} "
                      "stderr" for p in hjb),
            theorem_verdict(all(ok)), "a failure would be a bug (or a 1-in-16000 seed)", kind="theorem"))
    if rel1 is not None:
        lo, hi, p = rel1
        claims.append(Claim(
            "The 100-d HJB at lambda = 1 is solved to a relative error below 1e-4, better than the published "
            "deep BSDE result (0.17 %).",
            "|value - reference|/reference with +-2 stderr, against (0, 1e-4]; rival: 1.7e-3 or worse",
            f"[{lo:.2e}, {hi:.2e}] in {p['seconds']:.2f} s ({p['method']}, budget {config['hjb_budget']})",
            "confirmed" if hi <= 1e-4 else ("not confirmed" if lo >= 1.7e-3 else "inconclusive"),
            "confirmed only when the whole interval lies below 1e-4 (which also excludes the rival); the "
            "published figure is theirs, on their hardware, not re-run here", rival="relative error >= 0.17 %"))
    tables["hjb"] = t_hjb
    return Result(name="hj-highdim", preset="", config=config, tables=tables, claims=claims, series=series,
                  notes=[f"g(y) = log((1+|y|^2)/2), A = I, t = 1, x = e1 for the rate and collapse parts; "
                         f"references by SciPy quadrature of a noncentral chi-square integral",
                         "times are wall-clock on this machine, measured under whatever load it had"])


@register(
    "hj-highdim",
    title="A mesh-free viscous HJ solver in 2, 10 and 100 dimensions",
    description=("hjdl.solve against an independent 1-D quadrature: Monte Carlo rate in N at d = 2, 10, 100, "
                 "the collapse of the Gibbs weights as eps -> 0 and importance sampling restoring it, and the "
                 "100-d HJB of Han, Jentzen & E beside the published deep BSDE result."),
    presets={"quick": _QUICK, "paper": _PAPER},
    reproduces="§ Hopf–Cole solution as an LSE layer (mesh-free HJ in high dimension)",
    units=_units, run_unit=_run_unit, assemble=_assemble,
)
def hj_highdim(config, *, seed, progress):
    payloads = [_run_unit(config, u, seed=seed, progress=progress) for u in _units(config, seed)]
    return _assemble(config, payloads, seed=seed)
