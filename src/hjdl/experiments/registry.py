"""The experiment registry: claims, tables, results, and experiments registered by name.

An experiment is a function ``func(config, *, seed, progress) -> Result`` registered with
declarative presets (plain dicts, at least ``"quick"`` and ``"paper"``)::

    @register("identity", title="LSE = Hopf-Cole on the 4-atom table",
              description="...", presets={"quick": {"n": 5}, "paper": {"n": 50}})
    def identity(config, *, seed, progress):
        ...
        return Result(name="identity", preset="", config=config, tables={...},
                      claims=[Claim(...)])

    get("identity").run("quick", seed=0)

An experiment whose work splits into independent units (config point × seed) declares them
with ``register(..., units=..., run_unit=..., assemble=...)``: ``hjdl run`` / ``hjdl reproduce``
then run the units on local processes or Ray and resume from stored unit results (see
:func:`register` and :mod:`hjdl.experiments.units`); :meth:`Experiment.run` runs them serially.

The library does no I/O: a :class:`Result` is a record; ``hjdl run`` / ``hjdl reproduce``
write it (``result.json``), its config, its metadata and its figures.

Claims come in three kinds, and only the first is evidence:

* ``kind="evidence"``: a measured finding that could have come out otherwise with correct code
  (a trained model, a fitted exponent, an estimator on data). Its verdict is ``"confirmed"``
  (the measurement, with its interval, agrees with the paper's value and *excludes* a named
  ``rival``), ``"inconclusive"`` (the interval covers both the paper's value and the rival),
  ``"partly"`` or ``"not confirmed"``. :func:`interval_verdict` gives the first two and the last.
* ``kind="theorem"``: a check that holds by a theorem or by the configuration (an inequality that
  is always true, a limit the eps range was configured to reach, a closed form against autograd).
  It can fail only through a bug, so it is a sanity check of the implementation: verdict
  ``"theorem (sanity check)"`` when it holds, ``"not confirmed"`` when it fails.
* ``kind="identity"``: an algebraic identity evaluated to rounding: verdict ``"identity"`` when
  the measured error is below the stated tolerance, ``"not confirmed"`` otherwise.

Every threshold in a claim's ``check`` says where it comes from (a theorem, a noise estimate, a
stated tolerance).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import html
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Callable, Mapping

from hjdl.errors import InputError, UnknownNameError

__all__ = [
    "VERDICTS",
    "KINDS",
    "Claim",
    "Table",
    "Result",
    "Experiment",
    "register",
    "unregister",
    "get",
    "names",
    "all_experiments",
    "format_number",
    "jsonable",
    "THEOREM",
    "EVIDENCE_VERDICTS",
    "interval_verdict",
    "seed_interval",
    "derived_seeds",
    "combine_verdicts",
    "theorem_verdict",
    "identity_verdict",
    "encode_payload",
    "decode_payload",
    "unit_label",
]

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

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_REQUIRED_PRESETS: tuple[str, ...] = ("quick", "paper")


# --------------------------------------------------------------------------------------------
# conversion helpers
# --------------------------------------------------------------------------------------------
def _unwrap_scalar(x: Any) -> Any:
    """Return a Python scalar for a NumPy / torch scalar (0-d), else ``x`` unchanged."""
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    item = getattr(x, "item", None)
    shape = getattr(x, "shape", None)
    if callable(item) and shape is not None and tuple(shape) == ():
        return item()
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x)
    return x


def jsonable(obj: Any, *, finite: bool = True) -> Any:
    """Convert ``obj`` to something :func:`json.dumps` accepts with ``allow_nan=False``.

    NumPy / torch scalars become Python numbers, arrays and tensors become (nested) lists,
    tuples and sets become lists, dataclasses become dicts, paths become strings, mapping keys
    become strings. ``NaN`` becomes ``None`` (JSON ``null``); ``±inf`` become the strings
    ``"inf"`` / ``"-inf"`` (strict JSON has no infinity). Anything else becomes ``str(obj)``.
    With ``finite=False`` NaN and ``±inf`` stay floats (for ``json.dumps(..., allow_nan=True)``,
    which Python's ``json`` reads back exactly: the lossless form of stored unit payloads).

    >>> jsonable({"a": (1, float("nan")), 2: float("inf")})
    {'a': [1, None], '2': 'inf'}
    >>> jsonable([float("nan"), float("-inf")], finite=False)
    [nan, -inf]
    """
    if not finite:
        return _jsonable_lossless(obj)
    obj = _unwrap_scalar(obj)
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, complex):
        return {"real": jsonable(obj.real), "imag": jsonable(obj.imag)}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        to_json = getattr(obj, "to_json_dict", None)
        if callable(to_json):
            return to_json()
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, PurePath):
        return str(obj)
    # torch tensors (duck-typed: no torch import here)
    if hasattr(obj, "detach") and hasattr(obj, "cpu") and hasattr(obj, "tolist"):
        return jsonable(obj.detach().cpu().tolist())
    # NumPy arrays and anything array-like with tolist()
    if hasattr(obj, "tolist") and hasattr(obj, "shape"):
        return jsonable(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [jsonable(v) for v in sorted(obj, key=repr)]
    return str(obj)


def _jsonable_lossless(obj: Any) -> Any:
    """:func:`jsonable` that keeps NaN and ``±inf`` as floats."""
    obj = _unwrap_scalar(obj)
    if isinstance(obj, float):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _jsonable_lossless(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        to_json = getattr(obj, "to_json_dict", None)
        if callable(to_json):
            try:
                return to_json(finite=False)
            except TypeError:
                return _jsonable_lossless(to_json())
        return {f.name: _jsonable_lossless(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "detach") and hasattr(obj, "cpu") and hasattr(obj, "tolist"):
        return _jsonable_lossless(obj.detach().cpu().tolist())
    if hasattr(obj, "tolist") and hasattr(obj, "shape"):
        return _jsonable_lossless(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [_jsonable_lossless(v) for v in obj]
    return jsonable(obj)


def format_number(x: Any, spec: str | Callable[[Any], str] | None = None) -> str:
    """Format one table cell compactly.

    Integers print in full; floats with ``1e-3 <= |x| < 1e5`` use ``{:.4g}``, others (tiny or
    huge) use ``{:.2e}``; ``0`` prints ``0``; NaN/inf print ``nan`` / ``inf`` / ``-inf``;
    ``None`` prints an empty cell; strings pass through; arrays print as lists. ``spec``
    overrides the float format: a format spec (``".3e"``) or a callable.

    >>> format_number(0.123456), format_number(1.5e-12), format_number(42), format_number(0.0)
    ('0.1235', '1.50e-12', '42', '0')
    """
    x = _unwrap_scalar(x)
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if callable(spec):
            return str(spec(x))
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if spec is not None:
            return format(x, spec)
        if x == 0.0:
            return "0"
        if 1e-3 <= abs(x) < 1e5:
            return f"{x:.4g}"
        return f"{x:.2e}"
    if hasattr(x, "tolist") or isinstance(x, (list, tuple)):
        values = x.tolist() if hasattr(x, "tolist") else x
        if isinstance(values, list):
            return "[" + ", ".join(format_number(v, spec) for v in values) + "]"
        return format_number(values, spec)
    return str(x)


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


def derived_seeds(experiment: str, seed: int, n_seeds: Any) -> list[int]:
    """The seeds of a finding repeated over ``n_seeds`` runs: ``seed * 1000 + k``, ``k < n_seeds``
    (so seed 0 runs 0, 1, 2, … and seed 1 runs 1000, 1001, …). ``n_seeds`` must be at least 1.

    >>> derived_seeds("demo", 0, 3), derived_seeds("demo", 2, 2)
    ([0, 1, 2], [2000, 2001])
    """
    n = _unwrap_scalar(n_seeds)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"{experiment}: seeds={n_seeds!r}; expected an integer of at least 1")
    return [int(seed) * 1000 + k for k in range(n)]


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


def _is_number(x: Any) -> bool:
    x = _unwrap_scalar(x)
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------
@dataclass
class Claim:
    """One statement of the paper and what the experiment found about it.

    ``verdict`` is one of :data:`VERDICTS` and ``kind`` one of :data:`KINDS` (see the module
    docstring): ``kind="evidence"`` takes ``"confirmed"``, ``"inconclusive"``, ``"partly"`` or
    ``"not confirmed"``; ``kind="theorem"`` takes :data:`THEOREM` or ``"not confirmed"`` (the
    sanity check failed); ``kind="identity"`` takes ``"identity"`` or ``"not confirmed"``.
    Passing ``verdict="identity"`` or ``verdict=THEOREM`` alone sets the kind. ``rival`` names
    the alternative a ``"confirmed"`` evidence claim excludes (and an ``"inconclusive"`` one
    cannot exclude), e.g. ``"exponent 2/d"`` or ``"no effect"``. ``measured`` is text; numbers
    are formatted with :func:`format_number`. ``why`` is one sentence explaining the verdict.

    >>> Claim("f = q - u", "float64 oracle", "max err 3e-16", "identity", "algebra").kind
    'identity'
    >>> Claim("f <= max + eps log N", "random layers", "0 violations", THEOREM, "T1").is_evidence
    False
    """

    statement: str
    check: str
    measured: str
    verdict: str
    why: str
    kind: str = "evidence"
    rival: str = ""

    def __post_init__(self) -> None:
        for arg in ("statement", "check", "why"):
            value = getattr(self, arg)
            if not isinstance(value, str) or not value.strip():
                raise InputError(
                    f"Claim {arg}={value!r}: expected a non-empty string "
                    f"(statement of the paper, the check used, one sentence why)"
                )
        if not isinstance(self.measured, str):
            self.measured = format_number(self.measured)
        if not isinstance(self.rival, str):
            raise InputError(f"Claim rival={self.rival!r}: expected a string naming the rival hypothesis")
        if self.verdict not in VERDICTS:
            raise InputError(
                f"Claim verdict={self.verdict!r}: expected one of {', '.join(map(repr, VERDICTS))}"
            )
        if self.kind not in KINDS:
            raise InputError(
                f"Claim kind={self.kind!r}: expected one of {', '.join(map(repr, KINDS))}"
            )
        if self.verdict == "identity":
            self.kind = "identity"
        elif self.verdict == THEOREM:
            self.kind = "theorem"
        allowed = _KIND_VERDICTS[self.kind]
        if self.verdict not in allowed:
            raise InputError(
                f"Claim kind={self.kind!r} with verdict={self.verdict!r}: a {self.kind} is not "
                f"evidence; use one of {', '.join(map(repr, allowed))} (or kind='evidence' for a "
                "finding that could have come out otherwise)"
            )

    @property
    def is_evidence(self) -> bool:
        return self.kind == "evidence"

    def to_json_dict(self, finite: bool = True) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass
class Table:
    """A titled table of rows; cells are numbers, strings, or ``None``.

    >>> print(Table("t", ["eps", "err"], [[0.5, 1e-17]]).to_markdown())
    | eps | err |
    | ---: | ---: |
    | 0.5 | 1.00e-17 |
    """

    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.columns = [str(c) for c in self.columns]
        self.rows = [list(r) for r in self.rows]
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise InputError(
                    f"Table {self.title!r}: row {i} has {len(row)} cells, expected "
                    f"{len(self.columns)} (columns {self.columns})"
                )

    def formatted_rows(self, float_format: str | Callable | None = None) -> list[list[str]]:
        """Rows as strings, numbers formatted by :func:`format_number`."""
        return [[format_number(c, float_format) for c in row] for row in self.rows]

    def numeric_columns(self) -> list[bool]:
        """Whether each column holds only numbers (ignoring empty cells)."""
        out = []
        for j in range(len(self.columns)):
            cells = [r[j] for r in self.rows if r[j] is not None]
            out.append(bool(cells) and all(_is_number(c) for c in cells))
        return out

    def to_markdown(self, float_format: str | Callable | None = None) -> str:
        """A GitHub-flavoured markdown table (without the title); numeric columns right-aligned."""
        header = "| " + " | ".join(_md_cell(c) for c in self.columns) + " |"
        rule = "| " + " | ".join("---:" if n else "---" for n in self.numeric_columns()) + " |"
        body = [
            "| " + " | ".join(_md_cell(c) for c in row) + " |"
            for row in self.formatted_rows(float_format)
        ]
        return "\n".join([header, rule, *body])

    def to_html(self, float_format: str | Callable | None = None) -> str:
        """An HTML ``<table>`` (without the title); numeric cells get class ``num``."""
        numeric = self.numeric_columns()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        lines = ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
        for row in self.formatted_rows(float_format):
            cells = "".join(
                f'<td class="num">{html.escape(c)}</td>' if n else f"<td>{html.escape(c)}</td>"
                for c, n in zip(row, numeric)
            )
            lines.append(f"<tr>{cells}</tr>")
        lines += ["</tbody>", "</table>"]
        return "\n".join(lines)

    def to_json_dict(self, finite: bool = True) -> dict:
        """A JSON-safe dict (``finite=False`` keeps NaN / ``±inf`` cells as floats)."""
        return {"title": self.title, "columns": list(self.columns), "rows": jsonable(self.rows, finite=finite)}


@dataclass
class Result:
    """What one experiment run produced (a record: no I/O).

    ``tables`` are shown in the report, ``series`` hold raw arrays for figures and
    ``result.json``, ``claims`` feed the claims ledger, ``notes`` are free text.
    :meth:`Experiment.run` fills ``preset``, ``seed``, ``title`` and ``description``.
    ``error`` holds a traceback when the run (or its figures) failed.
    """

    name: str
    preset: str
    config: dict
    tables: dict[str, Table] = field(default_factory=dict)
    series: dict[str, dict] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    title: str = ""
    description: str = ""
    seed: int | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.tables, (list, tuple)):
            self.tables = {t.title: t for t in self.tables}
        for key, table in self.tables.items():
            if not isinstance(table, Table):
                raise InputError(
                    f"Result {self.name!r}: tables[{key!r}] is {type(table).__name__}, "
                    "expected hjdl.experiments.Table"
                )
        self.claims = list(self.claims)
        for i, claim in enumerate(self.claims):
            if not isinstance(claim, Claim):
                raise InputError(
                    f"Result {self.name!r}: claims[{i}] is {type(claim).__name__}, "
                    "expected hjdl.experiments.Claim"
                )
        if isinstance(self.notes, str):
            self.notes = [self.notes]
        self.notes = [str(n) for n in self.notes]

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_json_dict(self, finite: bool = True) -> dict:
        """A JSON-safe dict (see :func:`jsonable`: NaN → ``null``).

        ``finite=False`` keeps NaN and ``±inf`` as floats (write it with ``allow_nan=True``): the
        lossless form, from which :meth:`from_json_dict` rebuilds every table cell exactly.
        """
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "preset": self.preset,
            "seed": self.seed,
            "config": jsonable(self.config, finite=finite),
            "summary": self.summary,
            "claims": [c.to_json_dict() for c in self.claims],
            "tables": {k: t.to_json_dict(finite=finite) for k, t in self.tables.items()},
            "series": jsonable(self.series, finite=finite),
            "notes": list(self.notes),
            "error": self.error,
        }

    @classmethod
    def from_json_dict(cls, data: Mapping) -> "Result":
        """Rebuild a result from :meth:`to_json_dict` output (arrays come back as lists).

        >>> r = Result("demo", "quick", {"n": 2}, tables=[Table("t", ["x"], [[float("nan")]])],
        ...            series={"s": {"y": [1.0, float("inf")]}}, claims=[], seed=0)
        >>> import json
        >>> dump = lambda res: json.dumps(res.to_json_dict(finite=False), allow_nan=True)
        >>> dump(Result.from_json_dict(json.loads(dump(r)))) == dump(r)
        True
        """
        return cls(
            name=data["name"],
            preset=data.get("preset", ""),
            config=dict(data.get("config", {})),
            tables={k: Table(**t) for k, t in data.get("tables", {}).items()},
            series=dict(data.get("series", {})),
            claims=[Claim(**c) for c in data.get("claims", [])],
            notes=list(data.get("notes", [])),
            summary=data.get("summary", ""),
            title=data.get("title", ""),
            description=data.get("description", ""),
            seed=data.get("seed"),
            error=data.get("error"),
        )


# --------------------------------------------------------------------------------------------
# experiments and the registry
# --------------------------------------------------------------------------------------------
ExperimentFunc = Callable[..., Result]


def _unknown(what: str, value: Any, known: list[str]) -> str:
    listing = ", ".join(known) if known else "(none registered)"
    hint = difflib.get_close_matches(str(value), known, n=1)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    return f"unknown {what} {value!r}; known {what}s: {listing}{suggestion}"


UnitsFunc = Callable[[dict, int], list]
RunUnitFunc = Callable[..., dict]
AssembleFunc = Callable[..., Result]


def encode_payload(payload: Any, where: str = "payload") -> str:
    """A unit payload as JSON text (NaN and ``±inf`` kept: Python's ``json`` reads them back).

    NumPy / torch arrays and scalars become lists and numbers. Raises
    :class:`~hjdl.errors.InputError` naming ``where`` when ``payload`` is not a dict of such values.

    >>> encode_payload({"b": float("nan"), "a": (1, 2)})
    '{"b": NaN, "a": [1, 2]}'
    """
    import json

    def arrays(obj: Any) -> Any:
        if hasattr(obj, "detach") and hasattr(obj, "cpu"):
            obj = obj.detach().cpu()
        if hasattr(obj, "tolist") and hasattr(obj, "shape"):
            return obj.tolist()
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    if not isinstance(payload, Mapping):
        raise InputError(f"{where} is {type(payload).__name__}; expected a dict of JSON values")
    try:
        return json.dumps(payload, allow_nan=True, default=arrays)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{where} is not JSON ({exc}); expected a dict of JSON values (lists, numbers, strings; "
            "convert arrays with .tolist() or hjdl.experiments.jsonable(x, finite=False))"
        ) from None


def decode_payload(text: str) -> dict:
    """The inverse of :func:`encode_payload`."""
    import json

    return json.loads(text)


def unit_label(unit: Mapping) -> str:
    """A short text for a unit key: ``eps=0.1 seed=2`` (``whole`` for the single unit ``{}``).

    >>> unit_label({"eps": 0.1, "seed": 2}), unit_label({})
    ('eps=0.1 seed=2', 'whole')
    """
    return " ".join(f"{k}={v}" for k, v in unit.items()) or "whole"


@dataclass
class Experiment:
    """A registered experiment: metadata, declarative presets and the function that runs it.

    An experiment is either one unit of work (``func(config, *, seed, progress) -> Result``) or
    declares independent units (config point × seed), see :func:`register`. Either way
    :meth:`units`, :meth:`run_unit` and :meth:`assemble` give the same three steps, which the
    executors of ``hjdl run`` / ``hjdl reproduce`` run on local processes or Ray, and
    :meth:`run` runs serially.
    """

    name: str
    title: str
    description: str
    presets: dict[str, dict]
    func: ExperimentFunc
    units_func: UnitsFunc | None = None
    run_unit_func: RunUnitFunc | None = None
    assemble_func: AssembleFunc | None = None
    #: Which figure, table or section of the paper the experiment reproduces (``"Fig. 3"``,
    #: ``"Table 2"``, ``"§4.2 Robustness"``); ``""`` when it reproduces none directly.
    reproduces: str = ""

    @property
    def has_units(self) -> bool:
        """Whether the experiment declared its units (else it is the one unit ``{}``)."""
        return self.units_func is not None

    @property
    def module(self) -> str:
        """The module that defines the experiment (a worker process imports it to find it)."""
        return getattr(self.run_unit_func or self.func, "__module__", "") or ""

    def config(self, preset: str = "quick", **overrides: Any) -> dict:
        """The preset's config (a deep copy) updated with ``overrides`` (known keys only)."""
        if preset not in self.presets:
            raise InputError(f"experiment {self.name!r}: " + _unknown("preset", preset, list(self.presets)))
        config = copy.deepcopy(self.presets[preset])
        unknown = sorted(set(overrides) - set(config))
        if unknown:
            raise InputError(
                f"experiment {self.name!r}: unknown config key(s) {unknown} for preset "
                f"{preset!r}; known keys: {', '.join(config) or '(none)'}"
            )
        config.update(overrides)
        return config

    def units(self, config: dict, seed: int) -> list[dict]:
        """The unit keys for ``config`` and ``seed``: JSON-able dicts, distinct, in assembly order.

        An experiment without declared units is the single unit ``{}``.
        """
        if self.units_func is None:
            return [{}]
        keys = self.units_func(copy.deepcopy(config), int(seed))
        if not isinstance(keys, (list, tuple)) or not keys:
            raise InputError(
                f"experiment {self.name!r}: units() returned {keys!r}; expected a non-empty list of dicts"
            )
        seen: set[str] = set()
        out = []
        for i, key in enumerate(keys):
            text = encode_payload(key, f"experiment {self.name!r}: unit key {i}")
            if text in seen:
                raise InputError(f"experiment {self.name!r}: unit key {key!r} is listed twice; keys must be distinct")
            seen.add(text)
            out.append(decode_payload(text))
        return out

    def run_unit(self, config: dict, unit: Mapping, *, seed: int, progress: bool = False) -> dict:
        """Run one unit; returns its payload as it reads back from JSON (so a stored payload and a
        fresh one are the same). An experiment without units runs whole: its payload is its
        :class:`Result` as :meth:`Result.to_json_dict` ``(finite=False)``."""
        where = f"experiment {self.name!r}, unit {dict(unit)!r}"
        if self.run_unit_func is None:
            result = self._call(copy.deepcopy(config), int(seed), bool(progress))
            payload: Any = result.to_json_dict(finite=False)
        else:
            payload = self.run_unit_func(copy.deepcopy(config), dict(unit), seed=int(seed), progress=bool(progress))
        return decode_payload(encode_payload(payload, f"{where}: the payload"))

    def assemble(self, config: dict, payloads: list, *, seed: int, preset: str) -> Result:
        """The :class:`Result` from the payloads of :meth:`units` (in their order)."""
        if self.assemble_func is None:
            if len(payloads) != 1:
                raise InputError(f"experiment {self.name!r}: expected one payload, received {len(payloads)}")
            result = Result.from_json_dict(payloads[0])
        else:
            result = self.assemble_func(copy.deepcopy(config), list(payloads), seed=int(seed))
        return self._finish(result, config, preset, int(seed))

    def run(self, preset: str = "quick", seed: int = 0, progress: bool = False, **overrides: Any) -> Result:
        """Run with ``presets[preset]`` updated by ``overrides``; returns the :class:`Result`.

        Serial: an experiment with units runs them one after the other and assembles them.
        """
        if isinstance(seed, bool) or not isinstance(_unwrap_scalar(seed), int):
            raise InputError(f"seed={seed!r}: expected an integer")
        config = self.config(preset, **overrides)
        if not self.has_units:
            return self._finish(self._call(config, int(seed), bool(progress)), config, preset, int(seed))
        payloads = [self.run_unit(config, u, seed=int(seed), progress=progress) for u in self.units(config, int(seed))]
        return self.assemble(config, payloads, seed=int(seed), preset=preset)

    def _call(self, config: dict, seed: int, progress: bool) -> Result:
        result = self.func(config, seed=seed, progress=progress)
        if not isinstance(result, Result):
            raise InputError(
                f"experiment {self.name!r} returned {type(result).__name__}; "
                "an experiment function must return hjdl.experiments.Result"
            )
        return result

    def _finish(self, result: Any, config: dict, preset: str, seed: int) -> Result:
        if not isinstance(result, Result):
            raise InputError(
                f"experiment {self.name!r} returned {type(result).__name__}; "
                "an experiment function must return hjdl.experiments.Result"
            )
        if result.name and result.name != self.name:
            raise InputError(
                f"experiment {self.name!r} returned a Result named {result.name!r}; "
                f"use name={self.name!r} (or leave it empty)"
            )
        result.name = self.name
        result.preset = preset
        result.seed = int(seed)
        if not result.config:
            result.config = config
        result.title = result.title or self.title
        result.description = result.description or self.description
        return result


_REGISTRY: dict[str, Experiment] = {}


def register(
    name: str,
    title: str,
    description: str,
    presets: Mapping[str, Mapping[str, Any]],
    *,
    units: UnitsFunc | None = None,
    run_unit: RunUnitFunc | None = None,
    assemble: AssembleFunc | None = None,
    reproduces: str = "",
) -> Callable[[ExperimentFunc], ExperimentFunc]:
    """Decorator registering ``func(config, *, seed, progress) -> Result`` under ``name``.

    ``name`` is lower case (letters, digits, ``-``, ``_``; it names the output folder);
    ``presets`` must contain ``"quick"`` (seconds) and ``"paper"`` (the paper's sizes).
    The decorated function is returned unchanged.

    An experiment whose work splits into independent units (config point × seed) declares them,
    all three together:

    * ``units(config, seed) -> list[dict]``: the unit keys (JSON-able dicts, distinct), e.g.
      ``[{"eps": e, "seed": s} for e in config["eps"] for s in derived_seeds(...)]``;
    * ``run_unit(config, unit, *, seed, progress) -> dict``: one unit's payload (JSON-able;
      NaN and inf allowed). Its randomness must derive from ``(seed, unit)`` only: units run in
      any order, in other processes or on other machines, and a stored payload is reused;
    * ``assemble(config, payloads, *, seed) -> Result``: the result from the payloads, given in
      the order of ``units``.

    Then ``hjdl run``/``reproduce`` run the units (``--jobs``, ``--executor ray``, resumed from
    stored payloads) and :meth:`Experiment.run` runs them serially; the decorated function is
    kept as :attr:`Experiment.func` (e.g. the serial composition) but hjdl does not call it.
    Without units the experiment is the one unit ``{}`` whose payload is its result's JSON.

    ``reproduces`` names the figure, table or section of the paper (arXiv:2605.28983) the
    experiment reproduces, e.g. ``"Fig. 4"``, ``"Table 2"`` or ``"§5 Robustness"``; ``hjdl ls``
    and the report show it. Leave it empty for an experiment that checks the theory without a
    counterpart in the paper.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InputError(
            f"experiment name={name!r}: expected lower-case letters, digits, '-' or '_' "
            "(e.g. 'tropical-limit')"
        )
    if name in _REGISTRY:
        raise InputError(f"experiment {name!r} is already registered; choose another name")
    if not isinstance(presets, Mapping) or not all(p in presets for p in _REQUIRED_PRESETS):
        got = list(presets) if isinstance(presets, Mapping) else presets
        raise InputError(
            f"experiment {name!r}: presets={got!r}; expected a dict with at least the presets "
            f"{', '.join(map(repr, _REQUIRED_PRESETS))}, each a dict of config values"
        )
    for key, value in presets.items():
        if not isinstance(value, Mapping):
            raise InputError(f"experiment {name!r}: preset {key!r} is {value!r}; expected a dict")
    steps = {"units": units, "run_unit": run_unit, "assemble": assemble}
    given = [k for k, v in steps.items() if v is not None]
    if given and len(given) != 3:
        missing = [k for k in steps if k not in given]
        raise InputError(
            f"experiment {name!r}: received {', '.join(given)} without {', '.join(missing)}; "
            "an experiment with units declares units, run_unit and assemble together"
        )
    if not isinstance(reproduces, str):
        raise InputError(
            f"experiment {name!r}: reproduces={reproduces!r}; expected a string such as "
            "'Fig. 3', 'Table 2' or '§4 Robustness' (or '' for none)"
        )
    for key in given:
        if not callable(steps[key]):
            raise InputError(f"experiment {name!r}: {key}={steps[key]!r} is not callable")

    def decorator(func: ExperimentFunc) -> ExperimentFunc:
        if not callable(func):
            raise InputError(f"experiment {name!r}: {func!r} is not callable")
        _REGISTRY[name] = Experiment(
            name=name,
            title=title,
            description=description,
            presets={k: dict(v) for k, v in presets.items()},
            func=func,
            units_func=units,
            run_unit_func=run_unit,
            assemble_func=assemble,
            reproduces=reproduces.strip(),
        )
        return func

    return decorator


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (no error if absent; used by tests)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> Experiment:
    """The experiment registered as ``name`` (``_`` and ``-`` are interchangeable).

    Raises :class:`~hjdl.errors.UnknownNameError` listing the known names.
    """
    if isinstance(name, str):
        for candidate in (name, name.replace("_", "-"), name.replace("-", "_")):
            if candidate in _REGISTRY:
                return _REGISTRY[candidate]
    raise UnknownNameError(_unknown("experiment", name, names()))


def names() -> list[str]:
    """Registered experiment names, in registration (= report) order."""
    return list(_REGISTRY)


def all_experiments() -> list[Experiment]:
    """Registered experiments, in registration order."""
    return list(_REGISTRY.values())
