r"""Experiment ``commutative-diagram`` (THEORY §3 continuum, T1, T4, §7): does the square commute?

The square has four corners, all evaluated at the same points ``x`` (HJ time ``t``):

* ``u_{ε,N}``: ``N`` atoms ``y_j`` (a midpoint grid of ``n`` points per axis on ``[−L, L]^d``) with
  normalised weights ``w_j = 1/N`` and values ``g(y_j)``, the LSE network / discrete viscous value
  ``−ε log Σ_j w_j exp(−[g(y_j) + |x − y_j|²/(4t)]/ε)`` (:func:`hjdl.hopf_cole` plus ``−ε log w``);
* ``u_{0,N}``: its tropical limit ``min_j g(y_j) + |x − y_j|²/(4t)`` (:func:`hjdl.hopf_lax`, the
  exact ``ε = 0`` branch, in which the weights drop out);
* ``u_{ε,∞}``: the continuum viscous value (the ``N → ∞`` limit of a column, measured here by
  doubling ``n`` until the increments contract);
* ``u_0``: the continuum Hopf–Lax value ``min_{y ∈ B} g(y) + |x − y|²/(4t)``, computed
  independently: in closed form for ``g = |y|`` and by SciPy root finding on the radial problem
  for ``g = √(1 + |y|²) − 1``; no hjdl code is on that path.

Two Lipschitz ``g`` (constant 1): ``kinked`` ``|y|`` (the minimiser of every evaluation point sits
on the kink at 0) and ``smooth`` ``√(1 + |y|²) − 1``. Our derivation of what to expect (not the
paper's): ``0 ≤ u_{ε,N} − u_{0,N} ≤ ε log N`` (T1 with weights ``1/N``) and
``u_{0,N} − u_0 ≥ 0``, so the error is the sum of a row part and a column part. Counting the atoms
within ``ε`` of the minimiser gives ``u_{ε,∞} − u_0 ≈ κ ε log(1/ε)`` with ``κ = d`` at a kink and
``κ = d/2`` at a smooth minimum, and ``u_{0,N} − u_0 = O(h)`` (kink) or ``O(h²)`` (smooth), with
``h = 2L/n = 2L N^{−1/d}``. Along ``ε = N^{−a}`` the error then decays like ``N^{−min(a, r/d)}``
(``r = 1`` kinked, ``2`` smooth) up to the logarithm.

Measured per construction (``d`` × ``g``): the table ``sup_x |u_{ε,N} − u_0|`` over an ``(ε, N)``
grid; the iterated limit *ε first* (the sequence ``u_{0,N} − u_0``) and *N first* (the column
limits ``u_{ε,∞} − u_0``), each extrapolated to its limit by least squares on the expansion
above with a 95 % interval; their difference; the joint limit along ``ε = N^{−a}`` with a fitted
rate; and the uniformity of each convergence.

Negative controls (constructions that do not commute; the same check must flag them):

* ``unnormalised``: weights ``w_j = 1`` (the raw network); ``u_{ε,N} = u_{0,N} − ε log(#atoms near
  the minimum)`` drifts to ``−∞`` as ``N → ∞`` at fixed ``ε``, so the N-first limit does not exist.
* ``dip``: ``g = |y|`` lowered by ``gap`` at the single point ``y = 0`` (Lipschitz constant
  infinite; odd ``n`` so that every grid holds 0). ε first sees the dip (``u_{0,N} = u_0``
  exactly); N first averages it away (weight ``1/N``), so the limits differ by ``gap``.

Units of work: one per construction (``d``, ``g``), controls included.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import optimize, stats

from hjdl._progress import progress as _progress
from hjdl.core import InitialData, hopf_cole, hopf_lax
from hjdl.errors import DomainError, UnknownNameError
from hjdl.experiments.registry import (
    Claim,
    Result,
    Table,
    combine_verdicts,
    interval_verdict,
    register,
    theorem_verdict,
)
from hjdl.scaling import fit_power_law

__all__ = ["commutative_diagram", "continuum_hopf_lax", "midpoint_grid", "square_values", "commutation_check",
           "G_FUNCTIONS", "CONTROLS"]

#: The Lipschitz initial data (constant 1) and their Hopf–Lax rate ``r`` (``u_{0,N} − u_0 = O(h^r)``).
G_FUNCTIONS: dict[str, int] = {"kinked": 1, "smooth": 2}
#: Negative controls: constructions for which the two iterated limits differ.
CONTROLS: tuple[str, ...] = ("unnormalised", "dip")

_PRESETS = {
    "quick": {"dims": [1, 2], "gs": ["kinked", "smooth"], "controls": ["unnormalised", "dip"],
              "n_table": {"1": [4, 8, 16, 32, 64, 128, 256, 512], "2": [4, 8, 16, 32, 64]},
              "n_extra": {"1": [1024, 2048, 4096, 8192, 16384, 32768], "2": [128, 256, 512]},
              "eps": [float(v) for v in np.round(np.logspace(-3, 0, 16), 6)],
              "eps_fit_max": 1.0, "eps_ref": 0.1, "paths": [0.5, 1.0, 2.0], "n_points": 12, "L": 2.0,
              "t": 1.0, "gap": 0.25, "resolution": 0.02, "contraction": 0.6, "threads": 1},
    "paper": {"dims": [1, 2], "gs": ["kinked", "smooth"], "controls": ["unnormalised", "dip"],
              "n_table": {"1": [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
                          "2": [4, 8, 16, 32, 64, 128]},
              "n_extra": {"1": [4096, 8192, 16384, 32768, 65536, 131072, 262144], "2": [256, 512, 1024]},
              "eps": [float(v) for v in np.round(np.logspace(-3.5, 0, 22), 6)],
              "eps_fit_max": 1.0, "eps_ref": 0.1, "paths": [0.5, 0.75, 1.0, 1.5, 2.0], "n_points": 24,
              "L": 2.0, "t": 1.0, "gap": 0.25, "resolution": 0.02, "contraction": 0.6, "threads": None},
}


# --------------------------------------------------------------------------------------------
# the four corners
# --------------------------------------------------------------------------------------------
def _check_name(value, known, arg: str) -> str:
    if value not in known:
        raise UnknownNameError(f"{arg}: unknown construction {value!r}; known: {', '.join(map(repr, known))}")
    return value


def midpoint_grid(n: int, d: int, L: float) -> np.ndarray:
    """Cell centres of ``n`` cells per axis on ``[−L, L]^d``, shape ``(n^d, d)``."""
    h = 2 * L / n
    ax = -L + h * (np.arange(n) + 0.5)
    return np.stack([m.ravel() for m in np.meshgrid(*([ax] * d), indexing="ij")], -1)


def _g(name: str, y: np.ndarray, gap: float = 0.0) -> np.ndarray:
    r = np.linalg.norm(y, axis=-1)
    if name == "smooth":
        return np.sqrt(1 + r**2) - 1
    g = r.copy()
    if name == "dip":
        g[r == 0] = -gap
    return g


def continuum_hopf_lax(g: str, x: np.ndarray, t: float = 1.0, gap: float = 0.0) -> np.ndarray:
    r"""``u_0(x, t) = inf_y g(y) + |x − y|²/(4t)`` for ``|x| ≤ 2t`` (the box holds the minimiser).

    Independent of hjdl's kernels. ``kinked`` (``g = |y|``): the minimiser is ``y = 0`` while
    ``|x| ≤ 2t``, so ``u_0 = |x|²/(4t)``; ``dip``: the same lowered by ``gap`` (the infimum sees
    the single point). ``smooth`` (``g = √(1+|y|²) − 1``): radial, the minimiser ``y = r x/|x|``
    solves ``r/√(1+r²) + (r − |x|)/(2t) = 0`` on ``[0, |x|]`` (Brent's method to 1e-14).

    Example:
        >>> import numpy as np
        >>> continuum_hopf_lax("kinked", np.array([[1.0, 0.0]])).tolist()
        [0.25]
    """
    _check_name(g, ("kinked", "smooth", "dip"), "g")
    s = np.linalg.norm(x, axis=-1)
    if np.any(s > 2 * t):
        raise DomainError(f"x: received points with |x| up to {s.max():.3g}; accepted |x| <= 2t = {2 * t:g} "
                          "(where the closed form holds and the minimiser stays in the box)")
    if g in ("kinked", "dip"):
        return s**2 / (4 * t) - (gap if g == "dip" else 0.0)
    out = np.empty_like(s)
    for i, si in enumerate(s):
        if si == 0:
            out[i] = 0.0
            continue
        r = optimize.brentq(lambda r: r / math.sqrt(1 + r * r) + (r - si) / (2 * t), 0.0, si, xtol=1e-14)
        out[i] = math.sqrt(1 + r * r) - 1 + (r - si) ** 2 / (4 * t)
    return out


def square_values(construction: str, d: int, ns, eps, x: np.ndarray, *, L: float = 2.0, t: float = 1.0,
                  gap: float = 0.5):
    r"""``(u_{ε,N}, u_{0,N})`` at points ``x`` for every ``n`` in ``ns`` and ``ε`` in ``eps``.

    Returns arrays of shape ``(len(eps), len(ns), P)`` and ``(len(ns), P)``. ``u_{ε,N}`` is
    :func:`hjdl.hopf_cole` of the atoms plus ``−ε log w`` (``w = 1/N`` normalised; ``w = 1`` for
    the ``unnormalised`` control); ``u_{0,N}`` is :func:`hjdl.hopf_lax`.
    """
    _check_name(construction, (*G_FUNCTIONS, *CONTROLS), "construction")
    g_name = "kinked" if construction == "unnormalised" else construction
    e = torch.tensor(np.asarray(eps, dtype=float))
    xt = torch.from_numpy(np.asarray(x, dtype=float))
    xb = xt.expand(len(e), *xt.shape)
    U = np.empty((len(e), len(ns), x.shape[0]))
    U0 = np.empty((len(ns), x.shape[0]))
    for k, n in enumerate(ns):
        y = midpoint_grid(int(n), d, L)
        data = InitialData(torch.from_numpy(y), torch.from_numpy(_g(g_name, y, gap)))
        log_w = 0.0 if construction == "unnormalised" else -math.log(y.shape[0])
        U[:, k] = (hopf_cole(xb, data, e[:, None], t=t) - e[:, None] * log_w).numpy()
        U0[k] = hopf_lax(xt, data, t=t).numpy()
    return U, U0


# --------------------------------------------------------------------------------------------
# limits and the check
# --------------------------------------------------------------------------------------------
def _intercept(X: np.ndarray, y: np.ndarray, confidence: float = 0.95):
    """Least-squares intercept of ``y ≈ X β`` (first column all ones) with its Student-t interval."""
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = X.shape[0] - X.shape[1]
    resid = y - X @ beta
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.pinv(X.T @ X)
    half = float(stats.t.ppf(0.5 + confidence / 2, dof)) * math.sqrt(max(cov[0, 0], 0.0))
    return float(beta[0]), (float(beta[0] - half), float(beta[0] + half))


def commutation_check(U, U0, u0, ns, eps, d: int, *, L: float = 2.0, eps_fit_max: float = 1.0,
                      resolution: float = 0.02, contraction: float = 0.6) -> dict:
    r"""The two iterated limits of ``u_{ε,N} − u_0`` (sup over the points), their difference and a verdict.

    * ε first: ``e_A(N) = sup |u_{0,N} − u_0|``, extrapolated to ``N → ∞`` by least squares on
      ``c₀ + c₁ h + c₂ h²`` (``h = 2L N^{−1/d}``); the limit is ``c₀`` with its 95 % interval.
    * N first: at each ``ε`` the column ``u_{ε,N}`` over the doubling ``n`` of ``ns`` is *resolved*
      when the finest grid resolves the Gibbs kernel (``h ≤ ε/4``) and its last increment is at most
      ``contraction`` times the one before and at most ``resolution`` (a contracting Cauchy tail; a
      drift such as ``−ε log N`` never contracts); its limit is Aitken's Δ² extrapolation of the
      last three members. ``e_B(ε) = sup |u_{ε,N_max} − u_0|``
      on the resolved ``ε ≤ eps_fit_max`` (at least seven) is extrapolated to ``ε → 0`` on
      the Laplace expansion ``c₀ + c₁ ε log(1/ε) + c₂ ε + c₃ ε² + c₄ ε³``.

    ``commutes`` is True when both limits are measured and the interval of their difference lies
    within ``±resolution`` (the smallest difference called "order matters"), False when it
    excludes 0 by more than ``resolution`` or the N-first limit cannot be measured (fewer than
    seven resolved ``ε``), None otherwise (undecided).
    """
    ns = np.asarray(ns, dtype=float)
    eps = np.asarray(eps, dtype=float)
    N = ns**d
    h = 2 * L / ns
    eA = np.abs(U0 - u0).max(-1)
    XA = np.stack([np.ones_like(h), h, h**2], -1)
    limA, ciA = _intercept(XA, eA)
    inc = np.abs(np.diff(U, axis=1)).max(-1)  # (E, len(ns) - 1)
    tiny = 1e-13 * (1 + np.abs(U).max())
    # a column counts only where the finest grid resolves the Gibbs kernel (h <= eps/4) and its tail contracts
    fine = eps >= 4 * h[-1]
    resolved = fine & (((inc[:, -1] <= contraction * inc[:, -2]) & (inc[:, -1] <= resolution))
                       | (inc[:, -1] <= tiny))
    # Aitken's delta-squared on the last three members of each column (exact for a geometric tail)
    d1, d2 = U[:, -1] - U[:, -2], U[:, -2] - U[:, -3]
    den = d1 - d2
    safe = np.abs(den) > tiny
    limit = np.where(safe, U[:, -1] - d1**2 / np.where(safe, den, 1.0), U[:, -1])
    eB = np.abs(limit - u0).max(-1)
    use = resolved & (eps <= eps_fit_max)
    out = {"eA": eA.tolist(), "N": N.tolist(), "eB": eB.tolist(), "eps": eps.tolist(), "resolved": resolved.tolist(),
           "tail": inc[:, -1].tolist(), "limit_A": limA, "ci_A": ciA, "limit_B": None, "ci_B": None,
           "diff": None, "ci_diff": None, "n_resolved": int(use.sum())}
    if use.sum() < 7:
        out.update(commutes=False, reason=f"the N-first limit was not reached: {int(use.sum())} of "
                   f"{int((eps <= eps_fit_max).sum())} columns with eps <= {eps_fit_max:g} contract "
                   "(u_{eps,N} keeps drifting as N doubles)")
        return out
    e = eps[use]
    XB = np.stack([np.ones_like(e), e * np.log(1 / e), e, e**2, e**3], -1)
    limB, ciB = _intercept(XB, eB[use])
    half = math.hypot((ciA[1] - ciA[0]) / 2, (ciB[1] - ciB[0]) / 2)
    diff = limB - limA
    ci = (diff - half, diff + half)
    if ci[0] >= -resolution and ci[1] <= resolution:
        commutes, reason = True, f"the difference of the limits lies within ±{resolution:g}"
    elif ci[0] > resolution or ci[1] < -resolution:
        commutes, reason = False, f"the limits differ by more than {resolution:g}"
    else:
        commutes, reason = None, "the interval of the difference is too wide to decide"
    out.update(limit_B=limB, ci_B=ciB, diff=diff, ci_diff=ci, commutes=commutes, reason=reason)
    return out


# --------------------------------------------------------------------------------------------
# units
# --------------------------------------------------------------------------------------------
def _points(config: dict, seed: int, d: int) -> np.ndarray:
    """Evaluation points in ``[−1, 1]^d``: a function of ``(seed, d)`` only."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7919, int(d)]))
    return rng.uniform(-1, 1, size=(int(config["n_points"]), d))


def _units(config: dict, seed: int) -> list[dict]:
    """One unit per ``(d, g)`` and per ``(d, control)``, in report order."""
    return [{"d": int(d), "g": g} for d in config["dims"] for g in [*config["gs"], *config["controls"]]]


def _odd(ns):
    return [int(n) + 1 for n in ns]


def _run_unit(config: dict, unit: dict, *, seed: int, progress: bool) -> dict:
    d, g = int(unit["d"]), unit["g"]
    L, t, gap = float(config["L"]), float(config["t"]), float(config["gap"])
    threads, previous = config.get("threads"), torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        x = _points(config, seed, d)
        n_tab, n_all = list(config["n_table"][str(d)]), [*config["n_table"][str(d)], *config["n_extra"][str(d)]]
        if g == "dip":  # odd n: every grid holds the dip at 0
            n_tab, n_all = _odd(n_tab), _odd(n_all)
        eps = [float(e) for e in config["eps"]]
        U, U0 = square_values(g, d, n_all, eps, x, L=L, t=t, gap=gap)
        u0 = continuum_hopf_lax("kinked" if g == "unnormalised" else g, x, t, gap)
        check = commutation_check(U, U0, u0, n_all, eps, d, L=L, eps_fit_max=float(config["eps_fit_max"]),
                                  resolution=float(config["resolution"]),
                                  contraction=float(config["contraction"]))
        k = len(n_tab)
        table = np.abs(U[:, :k] - u0).max(-1)
        row_gap = U[:, :k] - U0[None, :k]  # u_{eps,N} - u_{0,N}
        N_tab = np.asarray(n_tab, dtype=float) ** d
        t1_upper = np.asarray(eps)[:, None] * np.log(N_tab)[None, :]
        t1_ok = bool((row_gap.min(-1) >= -1e-12).all() and (row_gap.max(-1) <= t1_upper + 1e-12).all())
        # joint limit along eps = N^-a
        paths = {str(a): {"eps": [float(N ** -a) for N in N_tab], "err": []} for a in config["paths"]}
        for n, N in zip(n_tab, N_tab):
            e_path = [float(N ** -a) for a in config["paths"]]
            Up, _ = square_values(g, d, [n], e_path, x, L=L, t=t, gap=gap)
            for a, row in zip(config["paths"], Up[:, 0]):
                paths[str(a)]["err"].append(float(np.abs(row - u0).max()))
        # uniformity: the row gap over N at each eps, the column error over eps at each N
        resolved = np.asarray(check["resolved"])
        col = np.abs(U[:, :k] - U[:, -1:]).max(-1)  # |u_{eps,N} - u_{eps,N_max}|, (E, k)
        i_ref = int(np.argmin(np.abs(np.log(np.asarray(eps) / float(config["eps_ref"])))))
        return {"d": d, "g": g, "n_table": n_tab, "N": N_tab.tolist(), "eps": eps, "table": table.tolist(),
                "row_sup": row_gap.max(-1).max(-1).tolist(), "t1_holds": t1_ok,
                "check": check, "paths": paths,
                "col_sup": [float(col[resolved, j].max()) if resolved.any() else None for j in range(k)],
                "col_ref": col[i_ref].tolist() if resolved[i_ref] else None, "eps_ref": eps[i_ref],
                "u0_min": float(u0.min()), "u0_max": float(u0.max())}
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------
# assembly: tables and claims
# --------------------------------------------------------------------------------------------
#: Relative tolerance on a fitted rate: the pre-asymptotic bias of a slope fitted over a short range of N.
TOL_REL = 0.15


def _expected_rate(g: str, d: int, a: float) -> float:
    return min(a, G_FUNCTIONS[g] / d)


def path_rate(N, err, *, log_term: bool, confidence: float = 0.95):
    r"""Rate ``p`` of an error along a path, with its interval, and the model used.

    ``log_term=True`` (``a <= r/d``, the row term ``κ ε log(1/ε) + c ε`` leads): least squares of
    ``log err = −p log N + log(A log N + B)`` (SciPy ``curve_fit``, interval from its covariance,
    Student t); otherwise (the column term ``C h^r`` leads) a plain power law
    (:func:`hjdl.scaling.fit_power_law`). The log model falls back to the power law when its fit
    fails.
    """
    N, err = np.asarray(N, dtype=float), np.asarray(err, dtype=float)
    if log_term and N.size > 4:
        lN = np.log(N)
        try:
            popt, pcov = optimize.curve_fit(lambda x, p, A, B: -p * x + np.log(np.abs(A * x + B) + 1e-300),
                                            lN, np.log(err), p0=[0.5, 1.0, 0.1], maxfev=20000)
            se = math.sqrt(pcov[0, 0])
            if np.isfinite(se):
                half = float(stats.t.ppf(0.5 + confidence / 2, N.size - 3)) * se
                return float(popt[0]), (float(popt[0] - half), float(popt[0] + half)), "N^-p (A log N + B)"
        except (RuntimeError, ValueError):
            pass
    fit = fit_power_law(N, err, confidence=confidence)
    return fit.exponent, tuple(fit.exponent_ci), "N^-p"


def _fmt_ci(ci) -> str:
    return f"[{ci[0]:.3g}, {ci[1]:.3g}]"


def _assemble(config: dict, payloads: list, *, seed: int) -> Result:
    by = {(p["d"], p["g"]): p for p in payloads}
    res = float(config["resolution"])
    order_rows, path_rows, unif_rows, claims = [], [], [], []
    series = {"heatmaps": {}, "iterated": {}, "paths": {}}
    order_verdicts, t1_all, path_verdicts, unif_verdicts, unif_text = [], [], [], [], []
    for (d, g), p in by.items():
        c = p["check"]
        series["heatmaps"][f"d{d}/{g}"] = {"eps": p["eps"], "N": p["N"], "error": p["table"]}
        series["iterated"][f"d{d}/{g}"] = {"N": c["N"], "eA": c["eA"], "eps": p["eps"], "eB": c["eB"],
                                          "resolved": c["resolved"]}
        series["paths"][f"d{d}/{g}"] = {"N": p["N"], **{a: v["err"] for a, v in p["paths"].items()}}
        verdict = {True: "commute", False: "order matters", None: "undecided"}[c["commutes"]]
        order_rows.append([d, g, "control" if g in CONTROLS else "Lipschitz", c["limit_A"], _fmt_ci(c["ci_A"]),
                           c["limit_B"], _fmt_ci(c["ci_B"]) if c["ci_B"] else "not reached", c["diff"],
                           _fmt_ci(c["ci_diff"]) if c["ci_diff"] else "", c["n_resolved"], verdict])
        if g in CONTROLS:
            continue
        t1_all.append(bool(p["t1_holds"]))
        if c["ci_diff"] is None:
            v = "not confirmed"
        else:
            v = interval_verdict(c["ci_diff"], (-res, res), [(res, math.inf), (-math.inf, -res)])
        order_verdicts.append(v)
        r_over_d = G_FUNCTIONS[g] / d
        for a, v_path in p["paths"].items():
            a_f = float(a)
            expect = _expected_rate(g, d, a_f)
            err = np.asarray(v_path["err"])
            rate, ci, model = path_rate(p["N"], err, log_term=a_f <= r_over_d)
            pv = interval_verdict(ci, expect, [0.0], tol=TOL_REL * expect)
            path_verdicts.append(pv)
            path_rows.append([d, g, a_f, model, rate, ci[0], ci[1], expect, float(err[-1]), pv])
        cs = [(N, s) for N, s in zip(p["N"], p["col_sup"]) if s]
        if len(cs) >= 3 and p["col_ref"] is not None:
            fit_u = fit_power_law([r[0] for r in cs], [r[1] for r in cs])
            ref = [(N, v) for N, v in zip(p["N"], p["col_ref"]) if v > 0]
            fit_p = fit_power_law([r[0] for r in ref], [r[1] for r in ref])
            eps_arr = np.asarray(p["eps"])
            row_ratio = np.asarray(p["row_sup"]) / (eps_arr * np.log(1 / np.minimum(eps_arr, 0.5)))
            t1_ratio = np.asarray(p["row_sup"]) / (eps_arr * math.log(p["N"][-1]))
            pw, un = fit_p.exponent_ci, fit_u.exponent_ci
            unif_verdicts.append("confirmed" if un[1] < pw[0] else "not confirmed" if un[0] > pw[1] else "inconclusive")
            unif_text.append(f"d={d} {g}: {fit_p.exponent:.2f} [{pw[0]:.2f}, {pw[1]:.2f}] at eps={p['eps_ref']:g} vs "
                             f"{fit_u.exponent:.2f} [{un[0]:.2f}, {un[1]:.2f}] uniform")
            unif_rows.append([d, g, fit_p.exponent, _fmt_ci(fit_p.exponent_ci), p["eps_ref"], fit_u.exponent,
                              _fmt_ci(fit_u.exponent_ci), float(row_ratio.min()), float(row_ratio.max()),
                              float(t1_ratio.min())])
    controls = [(d, g) for (d, g) in by if g in CONTROLS]
    flagged = [by[k]["check"]["commutes"] is False for k in controls]
    claims.append(Claim(
        "For Lipschitz g with normalised weights the square commutes: the limits eps -> 0 and N -> oo "
        "give the same value in either order (kinked and smooth g, d = 1 and 2).",
        "each iterated limit of sup_x |u_{eps,N} - u_0| extrapolated by least squares on its expansion "
        "(c0 + c1 h + c2 h^2 in N, c0 + c1 eps log(1/eps) + c2 eps + c3 eps^2 + c4 eps^3 in eps), "
        "95 % intervals combined; "
        f"confirmed when the interval of the difference covers 0 and lies within ±{res:g} (the "
        "smallest difference we call 'order matters', 1 % of the range of g on the box)",
        "; ".join(f"d={r[0]} {r[1]}: diff {format(r[7], '.2g') if r[7] is not None else 'n/a'} {r[8]}"
                  for r in order_rows if r[2] == "Lipschitz"),
        combine_verdicts(order_verdicts) if order_verdicts else "not confirmed",
        {"confirmed": "both iterated limits reach u_0 and their difference is resolved below the threshold",
         "inconclusive": "an interval also covers a difference of the threshold's size",
         "partly": "some constructions resolve the difference, others do not",
         "not confirmed": "a difference beyond the threshold, or a limit that could not be measured"}[
            combine_verdicts(order_verdicts) if order_verdicts else "not confirmed"],
        rival=f"order matters: the iterated limits differ by at least {res:g}"))
    claims.append(Claim(
        "The commutation check can fail: constructions that do not commute are flagged (negative controls: "
        "unnormalised weights w_j = 1, and g with a point dip, Lipschitz constant infinite).",
        "the same check on the controls: flagged when the N-first limit does not exist or the difference "
        "exceeds the threshold",
        "; ".join(f"d={d} {g}: {by[(d, g)]['check']['reason']}" for (d, g) in controls) or "no controls run",
        theorem_verdict(bool(controls) and all(flagged)), "the controls do not commute by construction",
        kind="theorem"))
    claims.append(Claim(
        "Rows: 0 <= u_{eps,N} - u_{0,N} <= eps log N in every cell of the table (T1 with weights 1/N).",
        "every (eps, N, x) of the normalised constructions, to 1e-12",
        f"holds in {sum(t1_all)} of {len(t1_all)} constructions",
        theorem_verdict(bool(t1_all) and all(t1_all)), "T1 is a theorem", kind="theorem"))
    pvc = combine_verdicts(path_verdicts) if path_verdicts else "not confirmed"
    claims.append(Claim(
        "The joint limit along eps = N^-a converges for every a > 0, at the rate min(a, r/d) (r = 1 kinked, "
        "2 smooth; our derivation from the row + column split).",
        "fit of sup_x |u_{eps,N} - u_0| against N along each path (N^-p (A log N + B) where the row term "
        f"eps log(1/eps) leads, a <= r/d; a power law otherwise), 95 % interval widened by {TOL_REL:g} x the "
        "predicted rate (pre-asymptotic "
        "bias over a short range of N, a stated tolerance); rival: no convergence (0)",
        "; ".join(f"d={r[0]} {r[1]} a={r[2]:g}: {r[4]:.2f} [{r[5]:.2f}, {r[6]:.2f}] vs {r[7]:.2f}"
                  for r in path_rows),
        pvc,
        {"confirmed": "every path converges at the predicted rate",
         "inconclusive": "some interval also covers no convergence",
         "partly": "some paths match the predicted rate, others do not",
         "not confirmed": "measured rates differ from min(a, r/d)"}[pvc],
        rival="no convergence along the path (exponent 0)"))
    uv = combine_verdicts(unif_verdicts) if unif_verdicts else "inconclusive"
    claims.append(Claim(
        "Where uniformity fails (our measurement, not a statement of the paper): the columns converge uniformly "
        "in eps, but the uniform rate in N is slower than the rate at a fixed eps.",
        "exponent of |u_{eps,N} - u_{eps,N_max}| in N (N_max: the finest grid) at one eps against that of its "
        "sup over the resolved eps, "
        "95 % intervals; confirmed when the uniform interval lies below the fixed-eps one, inconclusive when "
        "they overlap",
        "; ".join(unif_text) or "no construction with enough resolved columns",
        uv,
        {"confirmed": "the sup over eps decays clearly more slowly: the worst eps are those the grid does not "
                      "resolve (eps of order h)",
         "inconclusive": "the intervals overlap in some construction",
         "partly": "clearly slower in some constructions, overlapping intervals in others",
         "not confirmed": "the uniform rate is not slower"}[uv],
        rival="uniform convergence at the fixed-eps rate"))
    tables = {
        "order": Table("Iterated limits of sup_x |u_{eps,N} - u_0| (95 % intervals) and the order check",
                       ["d", "g", "kind", "eps first", "CI", "N first", "CI", "difference", "CI",
                        "resolved eps", "check"], order_rows),
        "paths": Table("Joint limit along eps = N^-a: fitted exponent p in N of sup_x |u_{eps,N} - u_0|",
                       ["d", "g", "a", "fitted", "exponent", "CI low", "CI high", "predicted min(a, r/d)",
                        "error at largest N", "verdict"], path_rows),
        "uniformity": Table("Uniformity. Columns: |u_{eps,N} - u_{eps,N_max}| (finest grid) at one eps against "
                            "its sup over the resolved eps (exponents in N). Rows: sup_N (u_{eps,N} - u_{0,N}) over "
                            "eps log(1/eps) (bounded: uniform in N) and over the T1 bound eps log N_max",
                            ["d", "g", "column exponent at eps_ref", "CI", "eps_ref", "uniform column exponent",
                             "CI", "row sup / eps log(1/eps) min", "max", "row sup / (eps log N_max) min"],
                            unif_rows),
    }
    for (d, g), p in by.items():
        rows = [[e, *p["table"][i]] for i, e in enumerate(p["eps"])]
        tables[f"table d{d} {g}"] = Table(f"sup_x |u_eps,N - u_0|, d = {d}, g = {g} (rows eps, columns N)",
                                          ["eps", *[f"N={int(N)}" for N in p["N"]]], rows)
    notes = [
        "Atoms: midpoint grid on [-L, L]^d (n per axis even, so no atom sits on the kink; odd for the dip "
        "control); weights 1/N; evaluation points uniform in [-1, 1]^d from (seed, d).",
        "u_0 is computed without hjdl: closed form for |y|, Brent's method on the radial problem for the "
        "smooth g.",
        "The N-first limit is measured by doubling n beyond the table; a column counts as resolved when its "
        f"last increment contracts by at least {config['contraction']:g}; small eps need N >> eps^-d, which "
        "is where uniformity fails in practice.",
    ]
    return Result(name="commutative-diagram", preset="", config=config, tables=tables, series=series,
                  claims=claims, notes=notes,
                  summary="; ".join(f"d={r[0]} {r[1]}: {r[10]}" for r in order_rows))


@register(
    "commutative-diagram",
    title="The commutative square: eps -> 0 and N -> oo in either order",
    description="u_{eps,N} - u_0 over an (eps, N) grid for Lipschitz g (kinked and smooth, d = 1, 2) with "
                "normalised weights; both iterated limits and joint limits along eps = N^-a with rates; "
                "non-commuting controls (unnormalised weights, a point dip in g) flagged by the same check.",
    presets=_PRESETS,
    reproduces="§ the commutative square (eps → 0 and N → ∞)",
    units=_units,
    run_unit=_run_unit,
    assemble=_assemble,
)
def commutative_diagram(config: dict, *, seed: int, progress: bool) -> Result:
    units = _units(config, seed)
    payloads = [_run_unit(config, u, seed=seed, progress=False)
                for u in _progress(units, desc="commutative-diagram", enabled=progress)]
    return _assemble(config, payloads, seed=seed)
