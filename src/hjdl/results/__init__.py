"""The result data model shared by the experiments, the report and the command line.

* :class:`Claim` — one checked statement with its measurement, rival and verdict;
* :class:`Table` — a titled table (markdown, HTML, CSV through the commands);
* :class:`Result` — what an experiment returns: tables, claims, series for figures, notes;
* the verdict helpers (:func:`interval_verdict`, :func:`theorem_verdict`,
  :func:`identity_verdict`, :func:`combine_verdicts`, :func:`seed_interval`);
* :func:`format_number` and :func:`jsonable` for reports and JSON.

It imports nothing of hjdl but :mod:`hjdl.errors` (and no torch), so the report and the commands
read stored results without loading the library. ``hjdl.experiments`` re-exports every name.

>>> from hjdl.results import Claim, Result, interval_verdict
>>> v = interval_verdict((0.8, 1.2), 1.0, [0.0])
>>> c = Claim("slope is 1", "a fit", "CI excludes 0", v, "the interval excludes 0", rival="slope 0")
>>> r = Result("demo", "quick", {}, claims=[c])
>>> r.claims[0].verdict
'confirmed'
"""

from __future__ import annotations

from hjdl.results.formatting import format_number, jsonable
from hjdl.results.model import Claim, Result, Table
from hjdl.results.verdicts import (
    EVIDENCE_VERDICTS,
    KINDS,
    THEOREM,
    VERDICTS,
    combine_verdicts,
    identity_verdict,
    interval_verdict,
    seed_interval,
    theorem_verdict,
)

__all__ = [
    "Claim",
    "Table",
    "Result",
    "THEOREM",
    "EVIDENCE_VERDICTS",
    "VERDICTS",
    "KINDS",
    "interval_verdict",
    "theorem_verdict",
    "identity_verdict",
    "combine_verdicts",
    "seed_interval",
    "format_number",
    "jsonable",
]
