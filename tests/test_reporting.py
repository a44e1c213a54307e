"""report.md / report.html: the claims ledger comes first, identities are not evidence."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from hjdl.results import THEOREM, Claim, Result, Table
from hjdl.reporting import (
    FAILED_CHECK,
    LEDGER_COLUMNS,
    claims_ledger,
    counts_line,
    html_report,
    markdown_report,
    verdict_counts,
)


@pytest.fixture
def results():
    a = Result(
        name="alpha",
        preset="quick",
        config={"eps": [1.0, 0.5], "n": 4},
        tables={"err": Table("errors vs eps", ["eps", "error"], [[1.0, 2e-16], [0.5, 3e-16]])},
        claims=[
            Claim("f = q - u (T3)", "float64 NumPy oracle", "max err 2e-16", "identity", "exact algebra"),
            Claim("gap <= eps log N (T1)", "random layers", "slack >= 0", THEOREM, "a theorem"),
            Claim("slope -1/d", "fit, 95 % CI", "-0.52 [-0.6, -0.45]", "confirmed", "excludes -2/d",
                  rival="slope -2/d"),
        ],
        notes=["a note with | pipe"],
        title="Alpha <test>",
        description="Checks alpha.",
        seed=0,
    )
    b = Result(
        name="beta",
        preset="quick",
        config={},
        claims=[Claim("order 2", "grid refinement", "1.6", "partly", "pre-asymptotic"),
                Claim("exponent 1/d", "fit, 95 % CI", "1.17 [0.30, 2.04]", "inconclusive", "covers 2/d",
                      rival="2/d"),
                Claim("H(pi) -> log N", "top of the eps range", "H = 0.1", "not confirmed", "bug", kind="theorem")],
        title="Beta",
    )
    c = Result(
        name="gamma",
        preset="quick",
        config={"k": 1},
        claims=[Claim("u_eps -> u_0", "eps sweep", "no trend", "not confirmed", "error grows")],
        title="Gamma",
        error="Traceback (most recent call last):\nRuntimeError: boom",
    )
    return [a, b, c]


FIGURES = {"alpha": {"profiles": "alpha/profiles.png"}, "beta": ["beta/curve one.png"]}


def test_ledger_and_counts(results):
    ledger = claims_ledger(results)
    assert ledger.columns == list(LEDGER_COLUMNS)
    assert [row[0] for row in ledger.rows] == ["alpha"] * 3 + ["beta"] * 3 + ["gamma"]
    verdict = LEDGER_COLUMNS.index("verdict")
    assert [row[verdict] for row in ledger.rows] == [
        "identity (not evidence)", "theorem (sanity check)", "confirmed", "partly", "inconclusive",
        "failed sanity check (a bug, not evidence)", "not confirmed"]
    rival = LEDGER_COLUMNS.index("rival")
    assert [row[rival] for row in ledger.rows][1:5] == ["—", "slope -2/d", "—", "2/d"]
    # the evidence verdicts count evidence claims only: the failed theorem is not "not confirmed"
    assert verdict_counts(results) == {"confirmed": 1, "inconclusive": 1, "partly": 1, "not confirmed": 1,
                                       THEOREM: 1, "identity": 1, FAILED_CHECK: 1}
    line = counts_line(results)
    assert line.startswith("1 confirmed · 1 inconclusive · 1 partly · 1 not confirmed (4 evidence claims) · "
                           "1 theorem (sanity check, not evidence) · 1 identity (not evidence) · "
                           "1 failed sanity check or identity (a bug)")
    assert line.endswith("1 experiment failed")


def test_counts_line_plurals_and_no_failures():
    r = Result("x", "quick", {}, claims=[Claim("a", "c", "m", THEOREM, "w"), Claim("b", "c", "m", THEOREM, "w"),
                                         Claim("c", "c", "m", "identity", "w")])
    assert counts_line([r]) == ("0 confirmed · 0 inconclusive · 0 partly · 0 not confirmed (0 evidence claims) · "
                                "2 theorems (sanity checks, not evidence) · 1 identity (not evidence)")


def test_markdown_opens_with_the_verdicts_then_contents_then_the_ledger(results):
    runs = {"alpha": {"reproduces": "Fig. 2", "git_commit": "abcdef0123456789", "git_dirty": True,
                      "started_utc": "2026-01-01T00:00:00+00:00", "wall_seconds": 1.5}}
    md = markdown_report(results, FIGURES, meta={"seed": 0, "versions": {"torch": "2.13"}, "machine": "a CPU, 2 cores"},
                         runs=runs)
    lines = md.splitlines()
    assert lines[0] == "# hjdl report"
    counts = lines[2]
    assert counts == "**Verdicts:** " + counts_line(results)
    # what the verdicts mean, and what to do about a "not confirmed": rerun with the paper preset
    assert "*not confirmed*" in md and "--preset paper" in md
    assert "| preset | quick (all 3 experiments) |" in md and "| commit | abcdef0123 (uncommitted changes) |" in md
    assert "| versions | torch 2.13 |" in md and "| machine | a CPU, 2 cores |" in md
    headings = [l for l in lines if l.startswith("## ")]
    assert headings[:2] == ["## Contents", "## Claims ledger"]
    contents = md.split("## Contents")[1].split("## Claims ledger")[0]
    assert "1. [Alpha <test>](#exp-alpha) (`alpha`, Fig. 2): 1 confirmed, 2 sanity checks" in contents
    assert "(`gamma`): failed" in contents and "1. [Run](#run)" in contents
    ledger_at = lines.index("## Claims ledger")
    assert lines[ledger_at + 2] == "| " + " | ".join(LEDGER_COLUMNS) + " |"
    assert "| alpha | f = q - u (T3) | float64 NumPy oracle | — | max err 2e-16 | identity (not evidence) |" in md
    assert "| theorem (sanity check) |" in md and "| slope -2/d | -0.52 [-0.6, -0.45] | confirmed |" in md
    assert headings[2:5] == ["## Alpha <test> (`alpha`)", "## Beta (`beta`)", "## Gamma (`gamma`)"]
    assert "Reproduces: Fig. 2 of the paper." in md
    assert "![profiles](alpha/profiles.png)" in md and "![curve one](beta/curve%20one.png)" in md
    # a figure without a caption is described by its experiment and name, never by a file name
    assert "*Figure 1.* Alpha <test>: profiles." in md and "*Figure 1.* Beta: curve one." in md
    assert "### errors vs eps" in md and "| 1 | 2.00e-16 |" in md
    assert "RuntimeError: boom" in md and "- a note with | pipe" in md
    assert headings[-1] == "## Run" and "torch 2.13" in md
    assert "| alpha | quick | 0 | 2026-01-01T00:00:00+00:00 | abcdef0123 (uncommitted changes) | 1.5 | ok |" in md


def test_markdown_without_claims():
    md = markdown_report([Result("x", "quick", {})])
    assert md.splitlines()[2].startswith("**Verdicts:** 0 confirmed") and "_No claims were recorded._" in md


def test_figure_captions_and_data_notices_are_shown():
    r = Result("digits", "quick", {}, title="Digits", notes=["NOTICE: MNIST not found; used the bundled digits."],
               notices=["CIFAR-10 not found: nothing was run"])
    figures = {"digits": {"map": {"path": "digits/map.png", "caption": "Entropy of the Gibbs weights over the plane."},
                          "other": {"path": "digits/other.png"}}}
    md = markdown_report([r], figures)
    top = md.split("## Contents")[0]  # the notices are at the top, not only in the section
    assert "- `digits`: CIFAR-10 not found: nothing was run" in top and "MNIST not found" in top
    assert "*Figure 1.* Entropy of the Gibbs weights over the plane." in md
    assert "*Figure 2.* Digits: other." in md
    page = html_report([r], figures, images={"digits/map.png": b"\x89PNG fake"})
    assert page.count('class="notice"') == 4  # two at the top, two in the section
    assert '<figcaption><b>Figure 1.</b> Entropy of the Gibbs weights over the plane.</figcaption>' in page
    assert 'src="data:image/png;base64,iVBORyBmYWtl"' in page and 'src="digits/other.png"' in page
    assert "explorer" not in page
    assert '<a href="explorer/index.html">' in html_report([r], figures, explorer="explorer/index.html")


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.h2 = [], [], []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2 and data.strip():
            self.h2.append(data.strip())
            self._in_h2 = False


def test_html_is_self_contained_and_opens_with_the_verdicts(results):
    page = html_report(results, FIGURES, meta={"seed": 0})
    parser = _Collector()
    parser.feed(page)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<link" not in page and "<script" not in page  # nothing external
    assert parser.h2[:2] == ["Contents", "Claims ledger"]
    assert parser.imgs == ["alpha/profiles.png", "beta/curve one.png"]  # no bytes given: linked
    body = page.split("<body>", 1)[1]
    assert body.index('class="counts"') < body.index("--preset paper") < body.index('id="contents"')
    assert body.index('id="contents"') < body.index('id="claims-ledger"') < body.index('<section id="exp-alpha">')
    for cls in ("v-confirmed", "v-inconclusive", "v-partly", "v-not-confirmed", "v-theorem", "v-identity",
                "v-failed"):
        assert re.search(rf'\.{cls} \{{ color', page), cls  # each verdict has a colour
        assert f'class="verdict {cls}"' in body
    ledger = body.split('id="claims-ledger"')[1].split("<section")[0]
    for cls, label in (("v-theorem", "theorem (sanity check)"), ("v-inconclusive", "inconclusive"),
                       ("v-failed", "failed sanity check (a bug, not evidence)")):
        assert f'<span class="verdict {cls}">{label}</span>' in ledger, cls
    assert "<td>slope -2/d</td>" in ledger
    counts = body.split('class="counts"')[1].split("</p>")[0]
    assert '<span class="verdict v-not-confirmed">1 not confirmed (4 evidence claims)</span>' in counts
    assert "Alpha &lt;test&gt;" in page and "<test>" not in body  # escaped
    assert "RuntimeError: boom" in page
