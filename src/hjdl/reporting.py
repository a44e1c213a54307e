"""Build ``report.md`` and ``report.html`` text from experiment results (pure: no I/O).

The report opens with what a reader needs first: the verdict counts, what the verdicts mean
(and what a ``not confirmed`` from the quick preset asks for: a rerun with the paper preset),
the preset(s), commit, versions and machine, any data notices, and a table of contents. Then
the claims ledger of every experiment (one table: experiment, statement, check, rival, measured,
verdict, why), one section per experiment (title, what it reproduces of the paper, description,
run, config, tables, captioned figures, notes) and the run details. Only evidence claims are
counted as evidence: checks that hold by a theorem or by the configuration are listed as
``theorem (sanity check)`` and algebraic identities as ``identity (not evidence)``; a failed
sanity check or identity is listed as failed (a bug), apart from the evidence counts.

``figures`` maps an experiment name to its figures: ``{"identity": {"profiles": path}}`` where
``path`` is relative to the report, or ``{"path": ..., "caption": ...}``, or a list of paths.
A figure without a caption is described by its experiment's title and its name. The HTML embeds
the image bytes given in ``images`` (``{path: bytes}``) as data URIs, so a copied ``report.html``
is complete on its own.

>>> from hjdl.results import Claim, Result
>>> r = Result("demo", "quick", {"n": 3}, claims=[
...     Claim("f <= max + eps log N", "random layers", "slack >= 0", "confirmed", "no violation")])
>>> md = markdown_report([r])
>>> md.splitlines()[2].startswith("**Verdicts:** 1 confirmed"), "## Claims ledger" in md
(True, True)
"""

from __future__ import annotations

import base64
import html
import json
import re
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
    "figure_caption",
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

_NOT_CONFIRMED = (
    "A *not confirmed* says that the measurement, with its interval, misses the paper's value; an "
    "*inconclusive* that the interval also covers the rival. Under the quick preset (small sizes, few "
    "seeds, minutes of compute) either often reflects the preset rather than the paper: rerun the "
    "experiment with the paper's sizes (`hjdl run NAME --preset paper`, see `hjdl ls` for the cost) "
    "before reading it as evidence against the paper."
)

Figures = Mapping[str, "Mapping[str, Any] | Sequence[str]"]
Runs = Mapping[str, Mapping[str, Any]]


def _title(result: Result) -> str:
    return result.title or result.name


def _figure_items(figures: Figures | None, name: str) -> list[tuple[str, str, str | None]]:
    """``(figure name, path, caption or None)`` for each figure of experiment ``name``."""
    entry = (figures or {}).get(name) or {}
    items: list[tuple[str, str, str | None]] = []
    if isinstance(entry, Mapping):
        for key, value in entry.items():
            if isinstance(value, Mapping):
                caption = value.get("caption")
                items.append((str(key), str(value.get("path", "")), str(caption) if caption else None))
            else:
                items.append((str(key), str(value), None))
        return items
    for path in entry:
        stem = str(path).replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        items.append((stem, str(path), None))
    return items


def figure_caption(result: Result, figure: str, caption: str | None = None) -> str:
    """The caption printed under a figure: its own (``hjdl.plotting.style.set_caption``), else
    the experiment's title and the figure's name in words (never a bare file name).

    >>> figure_caption(Result("phase", "quick", {}, title="Phase diagram"), "entropy-map")
    'Phase diagram: entropy map.'
    """
    if caption and caption.strip():
        return caption.strip()
    words = re.sub(r"[-_/]+", " ", figure).strip() or "figure"
    return f"{_title(result)}: {words}."


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
# the overview at the top (shared by markdown and HTML)
# --------------------------------------------------------------------------------------------
def _short_commit(run: Mapping[str, Any]) -> str | None:
    commit = run.get("git_commit")
    if not commit:
        return None
    return str(commit)[:10] + (" (uncommitted changes)" if run.get("git_dirty") else "")


def _versions_text(versions: Any) -> str:
    if isinstance(versions, Mapping):
        return ", ".join(f"{k} {v if v is not None else 'not installed'}" for k, v in versions.items())
    return str(versions)


def _overview_rows(results: Sequence[Result], meta: Mapping[str, Any] | None, runs: Runs | None) -> list[tuple[str, str]]:
    """Preset(s), commit(s), versions, machine and dates of the report, as ``(field, text)``."""
    meta, runs = meta or {}, runs or {}
    rows: list[tuple[str, str]] = []
    presets: dict[str, list[str]] = {}
    for r in results:
        presets.setdefault(r.preset or "unknown", []).append(r.name)
    if len(presets) == 1:
        (preset, names), = presets.items()
        rows.append(("preset", f"{preset} (all {_plural(len(names), 'experiment', 'experiments')})"))
    elif presets:
        rows.append(("presets", "; ".join(f"{p}: {', '.join(n)}" for p, n in presets.items())))
    commits: dict[str, list[str]] = {}
    for r in results:
        c = _short_commit(runs.get(r.name, {}))
        if c:
            commits.setdefault(c, []).append(r.name)
    if not commits and meta.get("git commit"):
        dirty = " (uncommitted changes)" if meta.get("git dirty") else ""
        commits[str(meta["git commit"])[:10] + dirty] = [r.name for r in results]
    if len(commits) == 1:
        rows.append(("commit", next(iter(commits))))
    elif commits:
        rows.append(("commits", "; ".join(f"{c}: {', '.join(n)}" for c, n in commits.items())))
    if meta.get("versions"):
        rows.append(("versions", _versions_text(meta["versions"])))
    machine = meta.get("machine") or meta.get("platform")
    if machine:
        rows.append(("machine", str(machine)))
    dates = sorted(str(runs[r.name]["started_utc"]) for r in results if runs.get(r.name, {}).get("started_utc"))
    if dates:
        rows.append(("run", dates[0] + (f" to {dates[-1]}" if dates[-1] != dates[0] else "") + " (UTC)"))
    elif meta.get("started (UTC)"):
        rows.append(("run", f"{meta['started (UTC)']} (UTC)"))
    return rows


def _mini_counts(r: Result) -> str:
    """One experiment's verdicts in a few words (for the table of contents)."""
    if r.failed:
        return "failed"
    c = verdict_counts([r])
    parts = [f"{c[v]} {v}" for v in EVIDENCE_VERDICTS if c[v]]
    checks = c[THEOREM] + c["identity"]
    if checks:
        parts.append(_plural(checks, "sanity check", "sanity checks"))
    if c[FAILED_CHECK]:
        parts.append(f"{c[FAILED_CHECK]} failed check")
    return ", ".join(parts) or "no claims"


def _notices(results: Sequence[Result]) -> list[tuple[str, str]]:
    return [(r.name, n) for r in results for n in r.data_notices()]


def _run_line(r: Result, runs: Runs | None) -> str:
    run = (runs or {}).get(r.name, {})
    parts = [f"Preset {r.preset}" + (f", seed {r.seed}" if r.seed is not None else "")]
    if run.get("started_utc"):
        parts.append(f"run {run['started_utc']}")
    if _short_commit(run):
        parts.append(f"commit {_short_commit(run)}")
    if run.get("wall_seconds") is not None:
        parts.append(f"{format_number(float(run['wall_seconds']))} s")
    return "; ".join(parts) + "."


def _reproduces(r: Result, runs: Runs | None) -> str:
    return str((runs or {}).get(r.name, {}).get("reproduces") or "")


def _run_table(results: Sequence[Result], runs: Runs | None) -> Table:
    rows = []
    for r in results:
        run = (runs or {}).get(r.name, {})
        rows.append([r.name, r.preset, "" if r.seed is None else str(r.seed), str(run.get("started_utc", "")),
                     _short_commit(run) or "", "" if run.get("wall_seconds") is None else
                     format_number(float(run["wall_seconds"])), "failed" if r.failed else "ok"])
    return Table("experiments", ["experiment", "preset", "seed", "started (UTC)", "commit", "wall seconds",
                                 "status"], rows)


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


def _anchor(name: str) -> str:
    return "exp-" + re.sub(r"[^a-z0-9_-]+", "-", name.lower())


def markdown_report(
    results: Sequence[Result],
    figures: Figures | None = None,
    *,
    title: str = "hjdl report",
    meta: Mapping[str, Any] | None = None,
    runs: Runs | None = None,
    explorer: str | None = None,
) -> str:
    """The whole report as GitHub-flavoured markdown (image links use the given paths).

    ``runs`` maps an experiment to its run (``preset``, ``started_utc``, ``git_commit``,
    ``git_dirty``, ``wall_seconds``, ``reproduces``); ``explorer`` is the relative path of the
    browser explorer's page, linked at the top when given.
    """
    out: list[str] = [f"# {title}", "", f"**Verdicts:** {counts_line(results)}", "", _LEGEND, "", _NOT_CONFIRMED, ""]
    overview = _overview_rows(results, meta, runs)
    if overview:
        out += [Table("overview", ["", ""], [list(r) for r in overview]).to_markdown(), ""]
    notices = _notices(results)
    if notices:
        out += ["**Data notices:**", ""] + [f"- `{n}`: {_md_escape(t)}" for n, t in notices] + [""]
    if explorer:
        out += [f"**Interactive explorer:** [{explorer}]({explorer.replace(' ', '%20')}) (a page that works "
                "without a server).", ""]
    failed = [r for r in results if r.failed]
    if failed:
        out += ["**Failed:** " + ", ".join(f"`{r.name}`" for r in failed) + " (traceback in the section below).", ""]
    out += ["## Contents", "", "1. [Claims ledger](#claims-ledger)"]
    for r in results:
        paper = f", {_reproduces(r, runs)}" if _reproduces(r, runs) else ""
        out.append(f"1. [{_md_escape(_title(r))}](#{_anchor(r.name)}) (`{r.name}`{paper}): {_mini_counts(r)}")
    out += ["1. [Run](#run)", "", "## Claims ledger", ""]
    ledger = claims_ledger(results)
    out.append(ledger.to_markdown() if ledger.rows else "_No claims were recorded._")

    for r in results:
        out += ["", f'<a id="{_anchor(r.name)}"></a>', "", f"## {_md_escape(_title(r))} (`{r.name}`)", ""]
        if _reproduces(r, runs):
            out += [f"Reproduces: {_md_escape(_reproduces(r, runs))} of the paper.", ""]
        for notice in r.data_notices():
            out += [f"> **Data notice:** {_md_escape(notice)}", ""]
        if r.description:
            out += [_md_escape(r.description), ""]
        if r.summary:
            out += [f"**Summary.** {_md_escape(r.summary)}", ""]
        out += [_run_line(r, runs), ""]
        if r.config:
            out += ["<details><summary>config</summary>", "", _config_table(r.config).to_markdown(), "", "</details>", ""]
        if r.failed:
            out += ["**This experiment failed:**", "", _fence(r.error or ""), ""]
        for table in r.tables.values():
            out += [f"### {_md_escape(table.title)}", "", table.to_markdown(), ""]
        items = _figure_items(figures, r.name)
        if items:
            out += ["### Figures", ""]
            for k, (name, path, caption) in enumerate(items, 1):
                out += [f"![{name}]({path.replace(' ', '%20')})", "",
                        f"*Figure {k}.* {_md_escape(figure_caption(r, name, caption))}", ""]
        if r.notes:
            out += ["### Notes", ""]
            out += [f"- {_md_escape(n)}" for n in r.notes]
            out.append("")

    out += ["", "## Run", ""]
    if results:
        out += [_run_table(results, runs).to_markdown(), ""]
    rows = _meta_rows(meta)
    if rows:
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
.notice { background: #fff4e5; border-left: 4px solid #a86400; padding: .4rem .7rem; margin: .5rem 0; }
.legend { color: #333; font-size: .92rem; }
.overview th { background: none; border: none; padding-left: 0; }
.overview td { border: none; }
nav.toc ol { padding-left: 1.4rem; }
nav.toc .mini { color: #555; font-size: .88rem; }
.paper { color: #555; font-size: .92rem; }
pre { background: #f6f6f8; border: 1px solid #e2e2e6; padding: .6rem; overflow-x: auto; font-size: .8rem; }
figure { display: inline-block; vertical-align: top; max-width: 100%; margin: .4rem 1rem .8rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #444; max-width: 48rem; }
details { margin: .4rem 0; }
.note { color: #444; }
"""

_MIME = {"png": "image/png", "gif": "image/gif", "svg": "image/svg+xml", "jpg": "image/jpeg", "jpeg": "image/jpeg",
         "webp": "image/webp"}


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _img_src(path: str, images: Mapping[str, bytes] | None) -> str:
    """A data URI for ``path`` when its bytes are given (a self-contained page), else the path."""
    data = (images or {}).get(path)
    if data is None:
        return path
    mime = _MIME.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _verdict_span(claim: Claim) -> str:
    return f'<span class="verdict {_css_class(claim)}">{_e(_verdict_label(claim))}</span>'


def _ledger_html(results: Sequence[Result]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in LEDGER_COLUMNS)
    lines = ['<table class="ledger">', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for r in results:
        for c in r.claims:
            lines.append(
                f'<tr class="{_e("kind-" + c.kind)}"><td><a href="#{_anchor(r.name)}">{_e(r.name)}</a></td>'
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


def _md_emphasis(text: str) -> str:
    """Escape ``text`` and turn its ``*word*`` and ```code``` marks into HTML."""
    out = _e(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*([^*]+)\*", r"<i>\1</i>", out)


def html_report(
    results: Sequence[Result],
    figures: Figures | None = None,
    *,
    title: str = "hjdl report",
    meta: Mapping[str, Any] | None = None,
    runs: Runs | None = None,
    images: Mapping[str, bytes] | None = None,
    explorer: str | None = None,
) -> str:
    """The whole report as one HTML page: no scripts, no external files; figures whose bytes are
    in ``images`` are embedded as data URIs (the others are linked by their relative path)."""
    body: list[str] = [f"<h1>{_e(title)}</h1>", _counts_html(results),
                       f'<p class="legend">{_md_emphasis(_LEGEND)}</p>',
                       f'<p class="legend">{_md_emphasis(_NOT_CONFIRMED)}</p>']
    overview = _overview_rows(results, meta, runs)
    if overview:
        body.append('<table class="overview">' + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                                                         for k, v in overview) + "</table>")
    for name, notice in _notices(results):
        body.append(f'<p class="notice"><b>Data notice</b> (<a href="#{_anchor(name)}">{_e(name)}</a>): '
                    f"{_e(notice)}</p>")
    if explorer:
        body.append(f'<p><b>Interactive explorer:</b> <a href="{_e(explorer)}">{_e(explorer)}</a> '
                    "(a page that works without a server; open it from the run folder).</p>")
    failed = [r for r in results if r.failed]
    if failed:
        links = ", ".join(f'<a href="#{_anchor(r.name)}">{_e(r.name)}</a>' for r in failed)
        body.append(f'<p class="failed">Failed: {links} (traceback in the section below).</p>')
    toc = ['<nav class="toc"><h2 id="contents">Contents</h2><ol>', '<li><a href="#claims-ledger">Claims ledger</a></li>']
    for r in results:
        paper = f' <span class="paper">({_e(_reproduces(r, runs))})</span>' if _reproduces(r, runs) else ""
        toc.append(f'<li><a href="#{_anchor(r.name)}">{_e(_title(r))}</a> <code>{_e(r.name)}</code>{paper}: '
                   f'<span class="mini">{_e(_mini_counts(r))}</span></li>')
    toc += ['<li><a href="#run">Run</a></li>', "</ol></nav>"]
    body.append("\n".join(toc))
    body.append('<h2 id="claims-ledger">Claims ledger</h2>')
    if any(r.claims for r in results):
        body.append(_ledger_html(results))
    else:
        body.append("<p><i>No claims were recorded.</i></p>")

    for r in results:
        body.append(f'<section id="{_anchor(r.name)}">')
        body.append(f"<h2>{_e(_title(r))} <code>{_e(r.name)}</code></h2>")
        if _reproduces(r, runs):
            body.append(f'<p class="paper">Reproduces: {_e(_reproduces(r, runs))} of the paper.</p>')
        for notice in r.data_notices():
            body.append(f'<p class="notice"><b>Data notice:</b> {_e(notice)}</p>')
        if r.description:
            body.append(f"<p>{_e(r.description)}</p>")
        if r.summary:
            body.append(f"<p><b>Summary.</b> {_e(r.summary)}</p>")
        body.append(f"<p>{_e(_run_line(r, runs))}</p>")
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
            for k, (name, path, caption) in enumerate(items, 1):
                text = figure_caption(r, name, caption)
                body.append(
                    f'<figure id="{_anchor(r.name)}-fig-{k}"><img src="{_e(_img_src(path, images))}" alt="{_e(text)}">'
                    f"<figcaption><b>Figure {k}.</b> {_e(text)}</figcaption></figure>"
                )
        if r.notes:
            body.append("<h3>Notes</h3>")
            body.append("<ul>" + "".join(f'<li class="note">{_e(n)}</li>' for n in r.notes) + "</ul>")
        body.append("</section>")

    body.append('<h2 id="run">Run</h2>')
    if results:
        body.append(_run_table(results, runs).to_html())
    rows = _meta_rows(meta)
    if rows:
        body.append(Table("run", ["field", "value"], [list(r) for r in rows]).to_html())

    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
