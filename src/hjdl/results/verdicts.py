"""Verdicts of claims: the allowed words and the helpers that decide them from measurements.

Only evidence claims (``kind="evidence"``) can be ``confirmed``: their interval agrees with the
paper's value and excludes a named rival (:func:`interval_verdict`). A check that holds by a theorem
is a sanity check (:func:`theorem_verdict`), an algebraic identity evaluated to rounding is an
identity (:func:`identity_verdict`); neither is evidence.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from hjdl.errors import InputError

__all__ = ["THEOREM", "EVIDENCE_VERDICTS", "VERDICTS", "KINDS", "interval_verdict", "theorem_verdict",
           "identity_verdict", "combine_verdicts", "seed_interval"]

#: The verdict of a check that holds by a theorem or by the configuration (not evidence).
THEOREM = "theorem (sanity check)"
#: Verdicts of evidence claims, in the order the report counts them.
EVIDENCE_VERDICTS: tuple[str, ...] = ("confirmed", "inconclusive", "partly", "not confirmed")
#: Allowed claim verdicts, in the order the report counts them.
VERDICTS: tuple[str, ...] = (*EVIDENCE_VERDICTS, THEOREM, "identity")
#: Allowed claim kinds: evidence (a finding that could have come out otherwise), a theorem or
#: configuration property (a sanity check), or an algebraic identity.
KINDS: tuple[str, ...] = ("evidence", "theorem", "identity")
#: Verdicts allowed for each kind (a failed sanity check or identity is "not confirmed").
_KIND_VERDICTS: dict[str, tuple[str, ...]] = {
    "evidence": EVIDENCE_VERDICTS,
    "theorem": (THEOREM, "not confirmed"),
    "identity": ("identity", "not confirmed"),
}



def _region(value: Any) -> tuple[float, float]:
    if isinstance(value, (tuple, list)):
        a, b = (float(v) for v in value)
        return (min(a, b), max(a, b))
    v = float(value)
    return (v, v)


def interval_verdict(ci: Any, expected: Any, rivals: Any, tol: float = 0.0) -> str:
    """The verdict of an interval against the paper's value and its rivals.

    ``ci`` is ``(low, high)``, widened by ``tol`` on each side (a stated tolerance, e.g. for a
    pre-asymptotic bias; 0 by default). ``expected`` and each of ``rivals`` are a number or a
    region ``(a, b)`` (use ``±inf`` for one side). ``"not confirmed"`` when the interval misses
    the expected value; ``"inconclusive"`` when it covers the expected value *and* a rival;
    ``"confirmed"`` when it covers the expected value and excludes every rival.

    >>> interval_verdict((0.30, 2.04), 1.0, [2.0, 0.0])      # exponent 1/d against 2/d, d = 1
    'inconclusive'
    >>> interval_verdict((0.8, 1.2), 1.0, [2.0, 0.0]), interval_verdict((1.5, 1.9), 1.0, [0.0])
    ('confirmed', 'not confirmed')
    >>> interval_verdict((-0.4, -0.1), (-math.inf, 0.0), [0.0])  # a negative effect, rival none
    'confirmed'
    """
    lo, hi = (float(v) for v in ci)
    lo, hi = min(lo, hi) - tol, max(lo, hi) + tol

    def covers(region: Any) -> bool:
        a, b = _region(region)
        return lo <= b and a <= hi

    if not covers(expected):
        return "not confirmed"
    if isinstance(rivals, (numbers.Real, tuple)) and not isinstance(rivals, list):
        rivals = [rivals]
    if any(covers(r) for r in rivals):
        return "inconclusive"
    return "confirmed"


def theorem_verdict(holds: bool) -> str:
    """:data:`THEOREM` when a sanity check holds, ``"not confirmed"`` (a bug) when it fails.

    Pass ``kind="theorem"`` to the :class:`Claim` as well, so that a failed check stays a
    sanity check and is not counted as evidence.
    """
    return THEOREM if bool(holds) else "not confirmed"


def identity_verdict(error: float, tol: float = 1e-10) -> str:
    """``"identity"`` when the measured error of an identity is below ``tol`` (default 1e-10: float64
    rounding of these computations is ~1e-15, so this leaves five digits of margin), else
    ``"not confirmed"``. A NaN error fails. Pass ``kind="identity"`` to the :class:`Claim` as well,
    so that a failed identity is not counted as evidence.

    >>> identity_verdict(3e-16), identity_verdict(0.5), identity_verdict(float("nan"))
    ('identity', 'not confirmed', 'not confirmed')
    """
    return "identity" if float(error) < tol else "not confirmed"


def combine_verdicts(verdicts: Any) -> str:
    """One evidence verdict for a claim checked on several cases (rules, eps values, datasets).

    All cases agree → that verdict; some confirmed and some not → ``"partly"``; otherwise any
    ``"not confirmed"`` → ``"not confirmed"``, else ``"inconclusive"``.

    >>> combine_verdicts(["confirmed", "inconclusive"]), combine_verdicts(["inconclusive", "not confirmed"])
    ('partly', 'not confirmed')
    """
    kinds = set(verdicts)
    if len(kinds) == 1:
        return kinds.pop()
    if "confirmed" in kinds:
        return "partly"
    return "not confirmed" if "not confirmed" in kinds else "inconclusive"


def seed_interval(values: Any, confidence: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Mean of per-seed values and its Student-t interval ``mean ± t_{n−1} · sd/√n``.

    One value gives the interval ``(−inf, inf)`` (a single seed measures no spread).

    >>> m, (lo, hi) = seed_interval([1.0, 2.0, 3.0])
    >>> m, round(lo, 4), round(hi, 4)
    (2.0, -0.4841, 4.4841)
    """
    from scipy import stats

    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise InputError("seed_interval: values is empty; expected at least one per-seed value")
    mean = math.fsum(xs) / n
    if n == 1:
        return mean, (-math.inf, math.inf)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean, (mean - half, mean + half)
