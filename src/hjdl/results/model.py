"""The result data model: :class:`Claim` (one checked statement), :class:`Table` and :class:`Result`
(what one experiment returns, and what the report and ``result.json`` are made of)."""

from __future__ import annotations

import dataclasses
import html
import re
from dataclasses import dataclass, field
from typing import Mapping

from hjdl.errors import InputError
from hjdl.results.formatting import _is_number, _md_cell, format_number, jsonable
from hjdl.results.verdicts import _KIND_VERDICTS, KINDS, THEOREM, VERDICTS

__all__ = ["Claim", "Table", "Result"]

#: A note that reports a problem with the data (see :meth:`Result.data_notices`).
_NOTICE_RE = re.compile(r"^\s*NOTICE\b|\bnot found\b|\bunavailable\b|\bfell back\b|\bfalls back\b|\bfalling back\b",
                        re.IGNORECASE)


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
    ``result.json``, ``claims`` feed the claims ledger, ``notes`` are free text, ``notices`` are
    what the user must be told about the data (a fallback from MNIST to the bundled digits, a
    data set not found): ``hjdl run`` prints them on the terminal and the report shows them first.
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
    notices: list[str] = field(default_factory=list)

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
        if isinstance(self.notices, str):
            self.notices = [self.notices]
        self.notices = [str(n) for n in self.notices]

    @property
    def failed(self) -> bool:
        return self.error is not None

    def data_notices(self) -> list[str]:
        """What the user must hear about the data, on the terminal as well as in the report: the
        explicit :attr:`notices` (e.g. "MNIST not found, ran on the bundled digits"), then the
        notes that say so in words (starting with ``NOTICE``, or saying that data were not found,
        unavailable, or fallen back from).

        >>> Result("x", "quick", {}, notes=["MNIST unavailable, fell back to the digits", "fine"]).data_notices()
        ['MNIST unavailable, fell back to the digits']
        """
        found = list(self.notices)
        for note in self.notes:
            if _NOTICE_RE.search(note) and note not in found:
                found.append(note)
        return found

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
            "notices": list(self.notices),
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
            notices=list(data.get("notices", [])),
        )
