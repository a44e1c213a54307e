"""Build ``report.md`` and ``report.html`` text from experiment results (pure: no I/O).

The report opens with the claims ledger of every experiment run (one table: experiment,
statement, check, measured, verdict, why), then a line counting the verdicts, then one
section per experiment (title, description, config, tables, figures, notes), then the run
metadata. Only evidence claims are counted as evidence: checks that hold by a theorem or by
the configuration are listed as ``theorem (sanity check)`` and algebraic identities as
``identity (not evidence)``; a failed sanity check or identity is listed as failed (a bug), apart
from the evidence counts. Each row names the rival hypothesis that a confirmed claim excludes. ``figures`` maps an experiment name to its figures' paths relative to the
report (``{"identity": {"profiles": "identity/profiles.png"}}`` or a list of paths).

>>> from hjdl.results import Claim, Result
>>> r = Result("demo", "quick", {"n": 3}, claims=[
...     Claim("f <= max + eps log N", "random layers", "slack >= 0", "confirmed", "no violation")])
>>> markdown_report([r]).splitlines()[2]
'## Claims ledger'
"""

from __future__ import annotations

import html
import json
from typing import Any, Mapping, Sequence

from hjdl.results import (
    EVIDENCE_VERDICTS,
    THEOREM,
    VERDICTS,
    Claim,
    Result,
    Table,
    format_number,
    jsonable,
)

__all__ = [
    "LEDGER_COLUMNS",
    "claims_ledger",
    "verdict_counts",
    "counts_line",
    "markdown_report",
    "html_report",
]

LEDGER_COLUMNS: tuple[str, ...] = ("experiment", "statement", "check", "rival", "measured", "verdict", "why")
_IDENTITY_LABEL = "identity (not evidence)"
#: Key of :func:`verdict_counts` for sanity checks and identities whose check failed.
FAILED_CHECK = "failed check (not evidence)"

_LEGEND = (
    "Only *evidence* counts as evidence: a finding that could have come out otherwise with correct "
    "code is *confirmed* when its measurement (with its interval) agrees with the paper and "
    "excludes the named rival, *inconclusive* when its interval covers both. A check that holds "
    "by a theorem or by the configuration is a *theorem (sanity check)*, an algebraic identity an "
    "*identity*; neither is evidence, and either failing means a bug."
)

Figures = Mapping[str, "Mapping[str, str] | Sequence[str]"]


def _title(result: Result) -> str:
    return result.title or result.name


def _figure_items(figures: Figures | None, name: str) -> list[tuple[str, str]]:
    entry = (figures or {}).get(name) or {}
    if isinstance(entry, Mapping):
        return [(str(k), str(v)) for k, v in entry.items()]
    items = []
    for path in entry:
        stem = str(path).replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        items.append((stem, str(path)))
    return items


def _count_key(claim: Claim) -> str:
    """The count a claim adds to: its verdict, or :data:`FAILED_CHECK` for a failed non-evidence check."""
    if not claim.is_evidence and claim.verdict not in (THEOREM, "identity"):
        return FAILED_CHECK
    return claim.verdict


def _verdict_label(claim: Claim) -> str:
    key = _count_key(claim)
    if key == "identity":
        return _IDENTITY_LABEL
    if key == FAILED_CHECK:
        return "failed " + ("identity" if claim.kind == "identity" else "sanity check") + " (a bug, not evidence)"
    return key


def _css_class(claim: Claim) -> str:
    key = _count_key(claim)
    return {THEOREM: "v-theorem", FAILED_CHECK: "v-failed"}.get(key, "v-" + key.replace(" ", "-"))


def claims_ledger(results: Sequence[Result]) -> Table:
    """Every claim of every result, one row each (theorems and identities labelled as such)."""
    rows = []
    for r in results:
        for c in r.claims:
            rows.append([r.name, c.statement, c.check, c.rival or "—", c.measured, _verdict_label(c), c.why])
    return Table("Claims ledger", list(LEDGER_COLUMNS), rows)


def verdict_counts(results: Sequence[Result]) -> dict[str, int]:
    """Claims counted by verdict, every key present (zero if unused).

    The evidence verdicts (``confirmed``, ``inconclusive``, ``partly``, ``not confirmed``) count
    evidence claims only; :data:`~hjdl.results.THEOREM` and ``identity`` count the
    sanity checks and identities that held, :data:`FAILED_CHECK` those that failed.
    """
    counts = {v: 0 for v in VERDICTS}
    counts[FAILED_CHECK] = 0
    for r in results:
        for c in r.claims:
            counts[_count_key(c)] += 1
    return counts


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _count_parts(results: Sequence[Result]) -> list[tuple[str, str]]:
    """``(css class, text)`` for each part of the counts line (failed experiments excluded)."""
    counts = verdict_counts(results)
    n_evidence = sum(counts[v] for v in EVIDENCE_VERDICTS)
    parts = [
        ("v-confirmed", f"{counts['confirmed']} confirmed"),
        ("v-inconclusive", f"{counts['inconclusive']} inconclusive"),
        ("v-partly", f"{counts['partly']} partly"),
        ("v-not-confirmed", f"{counts['not confirmed']} not confirmed "
                            f"({_plural(n_evidence, 'evidence claim', 'evidence claims')})"),
        ("v-theorem", _plural(counts[THEOREM], "theorem (sanity check, not evidence)",
                              "theorems (sanity checks, not evidence)")),
        ("v-identity", _plural(counts["identity"], "identity (not evidence)", "identities (not evidence)")),
    ]
    if counts[FAILED_CHECK]:
        parts.append(("v-failed", _plural(counts[FAILED_CHECK], "failed sanity check or identity (a bug)",
                                          "failed sanity checks or identities (a bug)")))
    return parts


def _failed_experiments(results: Sequence[Result]) -> str:
    n = sum(r.failed for r in results)
    return f"{n} experiment{'s' if n != 1 else ''} failed" if n else ""


def counts_line(results: Sequence[Result], sep: str = " · ") -> str:
    """E.g. ``"3 confirmed · 1 inconclusive · 1 partly · 0 not confirmed (5 evidence claims) ·
    4 theorems (sanity checks, not evidence) · 2 identities (not evidence)"``: the evidence
    verdicts count evidence claims only."""
    parts = [text for _, text in _count_parts(results)]
    if _failed_experiments(results):
        parts.append(_failed_experiments(results))
    return sep.join(parts)


def _config_table(config: Mapping[str, Any]) -> Table:
    rows = []
    for key, value in config.items():
        v = jsonable(value)
        if isinstance(v, str):
            cell = v
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            cell = format_number(v)
        else:
            cell = json.dumps(v)
        rows.append([str(key), cell])
    return Table("config", ["key", "value"], rows)


def _meta_rows(meta: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not meta:
        return []
    rows = []
    for key, value in meta.items():
        if isinstance(value, Mapping):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        if value is None:
            value = "unknown"
        rows.append((str(key), format_number(value) if not isinstance(value, str) else value))
    return rows


# --------------------------------------------------------------------------------------------
# markdown
# --------------------------------------------------------------------------------------------
def _md_escape(text: str) -> str:
    return text.replace("\r", "")


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def markdown_report(
    results: Sequence[Result],
    figures: Figures | None = None,
    *,
    title: str = "hjdl report",
    meta: Mapping[str, Any] | None = None,
) -> str:
    """The whole report as GitHub-flavoured markdown (image links use the given paths)."""
    out: list[str] = [f"# {title}", "", "## Claims ledger", ""]
    ledger = claims_ledger(results)
    if ledger.rows:
        out.append(ledger.to_markdown())
    else:
        out.append("_No claims were recorded._")
    out += ["", f"**Verdicts:** {counts_line(results)}", ""]
    out.append(_LEGEND)
    failed = [r for r in results if r.failed]
    if failed:
        out += ["", "**Failed:** " + ", ".join(f"`{r.name}`" for r in failed) + " (traceback in the section below)."]

    for r in results:
        out += ["", f"## {_md_escape(_title(r))} (`{r.name}`)", ""]
        if r.description:
            out += [_md_escape(r.description), ""]
        if r.summary:
            out += [f"**Summary.** {_md_escape(r.summary)}", ""]
        seed = f", seed {r.seed}" if r.seed is not None else ""
        out += [f"Preset `{r.preset}`{seed}.", ""]
        if r.config:
            out += ["<details><summary>config</summary>", "", _config_table(r.config).to_markdown(), "", "</details>", ""]
        if r.failed:
            out += ["**This experiment failed:**", "", _fence(r.error or ""), ""]
        for table in r.tables.values():
            out += [f"### {_md_escape(table.title)}", "", table.to_markdown(), ""]
        items = _figure_items(figures, r.name)
        if items:
            out += ["### Figures", ""]
            for name, path in items:
                out += [f"![{name}]({path.replace(' ', '%20')})", ""]
        if r.notes:
            out += ["### Notes", ""]
            out += [f"- {_md_escape(n)}" for n in r.notes]
            out.append("")

    rows = _meta_rows(meta)
    if rows:
        out += ["", "## Run", ""]
        out.append(Table("run", ["field", "value"], [list(r) for r in rows]).to_markdown())
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# html
# --------------------------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #e5e5e5; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; font-size: .9rem; }
th, td { border: 1px solid #d9d9d9; padding: .25rem .55rem; vertical-align: top; text-align: left; }
th { background: #f4f4f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: ui-monospace, monospace; }
tr:nth-child(even) td { background: #fafafa; }
.verdict { font-weight: 600; white-space: nowrap; }
.v-confirmed { color: #0a7d32; }
.v-inconclusive { color: #5b4fa8; }
.v-partly { color: #a86400; }
.v-not-confirmed { color: #b3261e; }
.v-theorem { color: #2f6690; font-style: italic; }
.v-identity { color: #5a5a72; font-style: italic; }
.v-failed { color: #ffffff; background: #b3261e; padding: 0 .2rem; }
.counts { font-size: 1.05rem; margin: .4rem 0 1rem; }
.failed { color: #b3261e; font-weight: 600; }
pre { background: #f6f6f8; border: 1px solid #e2e2e6; padding: .6rem; overflow-x: auto; font-size: .8rem; }
figure { display: inline-block; margin: .4rem 1rem .8rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .8rem; color: #666; }
details { margin: .4rem 0; }
.note { color: #444; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _verdict_span(claim: Claim) -> str:
    return f'<span class="verdict {_css_class(claim)}">{_e(_verdict_label(claim))}</span>'


def _ledger_html(results: Sequence[Result]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in LEDGER_COLUMNS)
    lines = ['<table class="ledger">', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for r in results:
        for c in r.claims:
            lines.append(
                f'<tr class="{_e("kind-" + c.kind)}"><td><a href="#exp-{_e(r.name)}">{_e(r.name)}</a></td>'
                f"<td>{_e(c.statement)}</td><td>{_e(c.check)}</td><td>{_e(c.rival or '—')}</td>"
                f"<td>{_e(c.measured)}</td><td>{_verdict_span(c)}</td><td>{_e(c.why)}</td></tr>"
            )
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _counts_html(results: Sequence[Result]) -> str:
    parts = [f'<span class="verdict {cls}">{_e(text)}</span>' for cls, text in _count_parts(results)]
    if _failed_experiments(results):
        parts.append(f'<span class="failed">{_e(_failed_experiments(results))}</span>')
    return '<p class="counts"><b>Verdicts:</b> ' + " · ".join(parts) + "</p>"


def html_report(
    results: Sequence[Result],
    figures: Figures | None = None,
    *,
    title: str = "hjdl report",
    meta: Mapping[str, Any] | None = None,
) -> str:
    """The whole report as one self-contained HTML page (figures by relative ``<img>`` paths)."""
    body: list[str] = [f"<h1>{_e(title)}</h1>", '<h2 id="claims-ledger">Claims ledger</h2>']
    if any(r.claims for r in results):
        body.append(_ledger_html(results))
    else:
        body.append("<p><i>No claims were recorded.</i></p>")
    body.append(_counts_html(results))
    body.append(f"<p>{_e(_LEGEND).replace('*', '')}</p>")
    failed = [r for r in results if r.failed]
    if failed:
        links = ", ".join(f'<a href="#exp-{_e(r.name)}">{_e(r.name)}</a>' for r in failed)
        body.append(f'<p class="failed">Failed: {links} (traceback in the section below).</p>')

    for r in results:
        body.append(f'<section id="exp-{_e(r.name)}">')
        body.append(f"<h2>{_e(_title(r))} <code>{_e(r.name)}</code></h2>")
        if r.description:
            body.append(f"<p>{_e(r.description)}</p>")
        if r.summary:
            body.append(f"<p><b>Summary.</b> {_e(r.summary)}</p>")
        seed = f", seed {_e(r.seed)}" if r.seed is not None else ""
        body.append(f"<p>Preset <code>{_e(r.preset)}</code>{seed}.</p>")
        if r.config:
            body.append(f"<details><summary>config</summary>\n{_config_table(r.config).to_html()}\n</details>")
        if r.failed:
            body.append('<p class="failed">This experiment failed:</p>')
            body.append(f"<pre>{_e(r.error or '')}</pre>")
        for table in r.tables.values():
            body.append(f"<h3>{_e(table.title)}</h3>")
            body.append(table.to_html())
        items = _figure_items(figures, r.name)
        if items:
            body.append("<h3>Figures</h3>")
            for name, path in items:
                body.append(
                    f'<figure><img src="{_e(path)}" alt="{_e(name)}">'
                    f"<figcaption>{_e(name)}</figcaption></figure>"
                )
        if r.notes:
            body.append("<h3>Notes</h3>")
            body.append("<ul>" + "".join(f'<li class="note">{_e(n)}</li>' for n in r.notes) + "</ul>")
        body.append("</section>")

    rows = _meta_rows(meta)
    if rows:
        body.append('<h2 id="run">Run</h2>')
        body.append(Table("run", ["field", "value"], [list(r) for r in rows]).to_html())

    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
