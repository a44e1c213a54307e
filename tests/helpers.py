"""Shared test helpers: the one dtype-keyed tolerance function and convergence-order fits."""

from __future__ import annotations

import numpy as np
import torch


def tol(dtype: torch.dtype, scale: float = 1.0, factor: float = 64.0) -> float:
    """Absolute tolerance for a quantity of magnitude ``scale`` computed in ``dtype``."""
    return factor * float(torch.finfo(dtype).eps) * max(1.0, abs(scale))


def fitted_order(hs, errors) -> float:
    """Least-squares slope of log(error) against log(h)."""
    return float(np.polyfit(np.log(np.asarray(hs, float)), np.log(np.asarray(errors, float)), 1)[0])


def numpy_hopf_cole(points, t, y, g, A, eps, normalized=True):
    """Float64 NumPy oracle, straight from the definition (THEORY §2–§3):

    ``ũ = −ε log Σ_j exp(−[g_j + (x−y_j)ᵀA⁻¹(x−y_j)/(4t)]/ε) + (εd/2) log(4πεt) + (ε/2) log det A``;
    ``normalized=False`` drops the two log terms (T3); ``eps = 0`` gives the Hopf–Lax minimum.
    ``A=None`` is the identity.
    """
    y, g = np.asarray(y, float), np.asarray(g, float)
    d = y.shape[1]
    A = np.eye(d) if A is None else np.asarray(A, float)
    diff = np.asarray(points, float)[..., None, :] - y
    cost = g + np.einsum("...ni,ij,...nj->...n", diff, np.linalg.inv(A), diff) / (4 * t)
    if eps == 0:
        return cost.min(axis=-1)
    z = -cost / eps
    top = z.max(axis=-1)
    u = -eps * (top + np.log(np.exp(z - top[..., None]).sum(axis=-1)))
    if normalized:
        u = u + eps * d / 2 * np.log(4 * np.pi * eps * t) + eps / 2 * np.log(np.linalg.det(A))
    return u


def decimal_gibbs_lse(row, eps, digits: int = 50):
    """High-precision oracle for one row of logits (floats, ``-inf`` allowed) at ``eps >= 0``:
    ``(LSE_eps, π, H(π))`` as Python floats, from the definitions in :mod:`decimal` (no code
    shared with hjdl). With ``s_j = (z_j − m)/eps``, ``m = max z`` and ``r = Σ_j e^{s_j} − 1``
    (summed without the one top term, so that ``r`` keeps its digits when tiny):
    ``LSE = m + eps ln(1 + r)``, ``π_j = e^{s_j}/(1 + r)``, ``H = ln(1 + r) − Σ_j π_j s_j``;
    ``ln(1 + r)`` by its series for small ``r``. ``eps = 0``: the maximum and equal shares on the
    tied maxima (H = log k). An empty or all ``-inf`` row gives ``(-inf, zeros, 0)``."""
    import decimal
    import math

    D = decimal.Decimal
    ctx = decimal.Context(prec=digits, Emin=-10**9, Emax=10**9, traps=[decimal.InvalidOperation])
    with decimal.localcontext(ctx):
        vals = [None if v == -math.inf else D(float(v)) for v in row]
        finite = [v for v in vals if v is not None]
        if not finite:
            return -math.inf, [0.0] * len(vals), 0.0
        m = max(finite)
        top = vals.index(m)
        if eps == 0:
            k = sum(1 for v in finite if v == m)
            return float(m), [1.0 / k if v == m else 0.0 for v in vals], math.log(k)
        e = D(float(eps))
        s = [None if v is None else (v - m) / e for v in vals]
        w = [D(0) if x is None else x.exp() for x in s]
        r = sum((x for j, x in enumerate(w) if j != top), D(0))
        if r < D("1e-8"):  # ln(1 + r) = r − r²/2 + r³/3 − ...
            log1p, term, n = D(0), r, 1
            while term != 0 and abs(term) > abs(log1p) * D(10) ** (-digits):
                log1p += term / n
                n += 1
                term = -term * r
        else:
            log1p = (1 + r).ln()
        value = m + e * log1p
        p = [x / (1 + r) for x in w]
        h = log1p - sum((q * x for q, x in zip(p, s) if x is not None and q != 0), D(0))
        return float(value), [float(q) for q in p], float(h)


def measured_numbers(text: str) -> list[float]:
    """Every number written in a claim's ``measured`` text, as floats ("float64" is not a number)."""
    import re

    number = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
    return [float(m) for m in number.findall(text)]


def assert_claims(result, verdicts, identity_tol: float = 1e-10) -> None:
    """A result's claims carry exactly ``verdicts`` (in order); an identity holds only if every
    number in its measured text is below ``identity_tol`` (read as numbers, not as text); every
    confirmed or inconclusive claim names its rival."""
    detail = [(c.statement[:60], c.verdict, c.measured) for c in result.claims]
    assert [c.verdict for c in result.claims] == list(verdicts), detail
    for c in result.claims:
        if c.verdict == "identity":
            numbers = measured_numbers(c.measured)
            assert numbers and all(abs(v) < identity_tol for v in numbers), (c.statement, c.measured)
        if c.verdict in ("confirmed", "inconclusive"):
            assert c.rival.strip(), (c.statement, "names no rival")


def assert_kernel_matches_oracle(z, eps, dim: int = -1):
    """``hjdl.lse``, ``hjdl.gibbs`` and ``hjdl.entropy`` of the Gibbs weights on ``z`` (any
    floating dtype, reduced along ``dim`` of a 2-D ``z``) against :func:`decimal_gibbs_lse`
    rounded to ``z``'s dtype; ``eps`` a number or a tensor with one value per row.

    Tolerances follow the error analysis of ``m + eps log1p(Σ_{j≠top} e^{s_j})`` in units of
    the dtype's round-off u: ``4u(|LSE| + eps(H + Σ_j π_j|s_j| + 1 − π_top))`` for LSE (each
    ``s_j`` rounded once, amplified by ``|s_j|`` in ``e^{s_j}``; every term vanishes with the
    non-top weights, so a result close to the maximum keeps its relative accuracy), ``4u`` for
    each weight, ``8uN`` for H, plus two units of the subnormal range. A result beyond the
    dtype's range must be ``inf``."""
    import math

    import hjdl

    dtype = z.dtype
    info = torch.finfo(dtype)
    u, floor = float(info.eps), float(info.tiny) * float(info.eps)
    f, p = hjdl.lse(z, eps, dim=dim), hjdl.gibbs(z, eps, dim=dim)
    h = hjdl.entropy(p, dim=dim)
    assert f.dtype == p.dtype == h.dtype == dtype
    assert not (torch.isnan(f).any() or torch.isnan(p).any() or torch.isnan(h).any()), (f, p, h)
    rows = z.double() if dim in (-1, 1) else z.double().T
    p = p if dim in (-1, 1) else p.T
    for i, row in enumerate(rows.tolist()):
        e = float(eps[i]) if isinstance(eps, torch.Tensor) and eps.ndim else float(eps)
        rf, rp, rh = decimal_gibbs_lse(row, e)
        rf_d = float(torch.tensor(rf, dtype=dtype).double())  # the answer rounded to dtype
        if math.isinf(rf_d):
            assert float(f[i]) == rf_d, (i, row, e, float(f[i]), rf)
        else:
            m = max(row) if row else 0.0
            spread = sum(q * abs((v - m) / e) for q, v in zip(rp, row) if q > 0) if e > 0 else 0.0
            bound = 4 * u * (abs(rf_d) + e * (rh + spread + (1 - max(rp)))) + 2 * floor
            assert abs(float(f[i]) - rf_d) <= bound, (i, row, e, float(f[i]), rf)
        assert np.allclose(p[i].double().numpy(), rp, rtol=0, atol=4 * u), (i, row, e, p[i], rp)
        assert abs(float(h[i]) - rh) <= 8 * u * max(1, len(row)), (i, row, e, float(h[i]), rh)
