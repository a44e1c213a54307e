"""The documentation site builds offline with ``mkdocs build --strict``, and its references hold.

* The build runs in-process with every socket connection refused, so a theme feature or plugin
  that fetches fonts, scripts or inventories at build time fails the test; the built pages are
  then searched for assets loaded from the network (the site must read offline too).
* ``--strict`` turns every warning into a failure: a broken link or anchor between pages, a page
  left out of the navigation, a docstring mkdocstrings cannot parse.
* The measured-results page includes the README's tables at build time (docs/_hooks), checked
  here; a README heading it names that disappears stops the build.
* Every ``THEORY §n`` and ``Tn`` cited by a docstring exists on the theory page.

Not marked slow: it runs in ``make test`` and in ``make test-fast``'s neighbourhood of cost (a few
seconds on a quiet machine, the API pages being most of it).
"""

from __future__ import annotations

import importlib.util
import re
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "hjdl"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", DOCS / "_hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refuse_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access during the docs build (the test refuses every connection)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once for this module, offline and strict; the folder it was written to."""
    pytest.importorskip("mkdocs", reason="the docs extra (mkdocs-material, mkdocstrings) is not installed")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort

    out = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as mp:
        _refuse_network(mp)
        mp.chdir(ROOT)
        mp.setenv("NO_MKDOCS_2_WARNING", "1")
        try:
            config = load_config(config_file=str(ROOT / "mkdocs.yml"), strict=True, site_dir=str(out))
            build(config)
        except Abort as exc:
            pytest.fail(f"mkdocs build --strict failed: {exc} (run `make docs` to see the warnings)")
    return out


def test_site_builds_strict_and_offline(site):
    for page in ("index.html", "theory.html", "results.html", "cli.html", "examples/classifier.html",
                 "api/attribution.html", "api/core.html"):
        assert (site / page).is_file(), f"{page} missing from the built site"


_REMOTE_ASSET = re.compile(
    r"""<(?:script|img|iframe|source)\b[^>]*\bsrc=["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref=["']?(?:https?:)?//"""
    r"""|@import\s+(?:url\()?["']?(?:https?:)?//"""
    r"""|url\(["']?(?:https?:)?//"""
    r"""|fonts\.googleapis|fonts\.gstatic|cdn\.jsdelivr|unpkg\.com|cdnjs""", re.IGNORECASE)


def test_site_loads_nothing_from_the_network(site):
    """Links to other sites are fine; scripts, styles, fonts and images from them are not.

    Pages and style sheets are searched. Material's own script bundle names two URLs it loads
    only on demand: a ResizeObserver polyfill (for browsers without ResizeObserver, i.e. none
    released since 2020) and Mermaid (only for a page holding a ``mermaid`` diagram); the second
    is excluded by checking that no page has one.
    """
    offenders = []
    for path in site.rglob("*"):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        if path.suffix == ".html" and 'class="mermaid"' in path.read_text(encoding="utf-8"):
            offenders.append(f"{path.relative_to(site)}: a Mermaid diagram (loaded from unpkg.com)")
        for m in _REMOTE_ASSET.finditer(path.read_text(encoding="utf-8", errors="replace")):
            offenders.append(f"{path.relative_to(site)}: {m.group(0)[:80]}")
    assert not offenders, "remote assets in the built site:\n" + "\n".join(offenders[:20])


def test_lists_render_as_lists(site):
    """A list item whose continuation is indented too little for Python-Markdown (it needs four
    spaces) is glued into the previous paragraph as literal ``* **Name.**`` text: refuse that."""
    glued = re.compile(r"(?:^|[\s>])(?:\*|\d+\.) <strong>", re.MULTILINE)
    bad = [str(p.relative_to(site)) for p in site.rglob("*.html")
           if glued.search(p.read_text(encoding="utf-8"))]
    assert not bad, f"list items rendered as paragraph text in: {bad}"


def test_results_page_shows_the_readme_tables(site):
    """Each benchmark named in the README's Benchmarks tables is on the built results page."""
    hooks = _load("readme_sections")
    section = hooks.readme_section((ROOT / "README.md").read_text(encoding="utf-8"), "Benchmarks")
    names = re.findall(r"^\| `(bench_\w+\.py)`", section, re.MULTILINE)
    assert names, "no benchmark rows found in README ## Benchmarks"
    page = (site / "results.html").read_text(encoding="utf-8")
    missing = [n for n in names if n not in page]
    assert not missing, f"results page lacks README rows: {missing}"


def test_api_pages_render_examples_as_code(site):
    """Docstring ``Example:`` sections render as highlighted code, Sphinx roles as links (or code)."""
    page = (site / "api" / "attribution.html").read_text(encoding="utf-8")
    assert "&gt;&gt;&gt;" in page and "highlight" in page
    assert ":func:`" not in page and ":class:`" not in page and "<autoref" not in page
    # a role in the package docstring became a link to the documented object
    assert re.search(r'<a class="autorefs[^"]*"[^>]*href="#hjdl\.attribution\.GibbsAverager"', page)


# ---------------------------------------------------------------------------------------------
# the hooks themselves


def test_readme_section_hook():
    pytest.importorskip("mkdocs", reason="the docs extra (mkdocs-material, mkdocstrings) is not installed")
    hooks = _load("readme_sections")
    readme = "# t\n## A\na1\n### sub\na2\n## B\nb1\n"
    assert hooks.readme_section(readme, "A") == "a1\n### sub\na2"
    assert hooks.readme_section(readme, "B") == "b1"
    with pytest.raises(KeyError):
        hooks.readme_section(readme, "C")
    assert hooks.expand("x\n<!-- readme: A -->\ny", readme) == "x\na1\n#### sub\na2\ny"
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="no section '## C'"):
        hooks.expand("<!-- readme: C -->", readme)


def test_griffe_role_rewriting():
    pytest.importorskip("griffe", reason="the docs extra (mkdocstrings[python]) is not installed")
    roles = _load("griffe_roles")
    ref = '<autoref identifier="{}"{} optional><code>{}</code></autoref>'
    text = ("See :func:`attribute` and :class:`~hjdl.errors.InputError`, :func:`hjdl.lse`.\n\n"
            "    Example:\n        >>> 1\n")
    out = roles.rewrite_roles(text, "hjdl.attribution.gibbs")
    assert out == (
        "See " + ref.format("hjdl.attribution.gibbs.attribute", ' slug="hjdl.attribution.attribute"',
                            "attribute")
        + " and " + ref.format("hjdl.errors.InputError", "", "InputError")
        + ", " + ref.format("hjdl.lse", ' slug="hjdl.core.lse"', "hjdl.lse")
        + ".\n\n    Examples:\n        >>> 1\n")
    # a method's docstring looks in its class first, then in its module
    out = roles.rewrite_roles(":meth:`fit`", "hjdl.training.estimators", "hjdl.training.estimators.HJRegressor")
    assert 'identifier="hjdl.training.estimators.HJRegressor.fit"' in out
    assert 'slug="hjdl.training.estimators.fit"' in out


# ---------------------------------------------------------------------------------------------
# docstrings cite sections of the theory page that exist


THEORY = SRC / "THEORY.md"  # the page docstrings cite as THEORY (a link to docs/theory.md); installed with the package


def test_the_theory_page_ships_with_the_package_and_is_the_docs_page():
    # Bug guarded: docstrings citing a theory page that users do not get (one that lived only in
    # the docs folder or in the team's notes), or a docs page that drifts from the shipped one.
    import tomllib

    data = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert "THEORY.md" in data["tool"]["setuptools"]["package-data"]["hjdl"]
    assert THEORY.is_file()
    # the page itself is the docs' file, read by anyone browsing the repository; the package's
    # THEORY.md links to it (a built wheel holds its text)
    assert (DOCS / "theory.md").is_file() and not (DOCS / "theory.md").is_symlink()
    assert (DOCS / "theory.md").resolve() == THEORY.resolve()


def _theory_sections() -> set[str]:
    text = THEORY.read_text(encoding="utf-8")
    return set(re.findall(r"^##+ §(\d+)\b", text, re.MULTILINE))


def _theory_results() -> set[str]:
    text = THEORY.read_text(encoding="utf-8")
    return set(re.findall(r"\*\*(T\d+)\b", text)) | set(re.findall(r"\((T\d+)\)", text))


def _cited_sections() -> dict[str, list[str]]:
    """``{section number: [file:line, ...]}`` for ``THEORY §n`` / ``§n–§m`` / ``§n, §m`` in src."""
    cited: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in re.finditer(r"THEORY((?:[ ,–-]*§\s*\d+)+)", line):
                for n in re.findall(r"§\s*(\d+)", m.group(1)):
                    cited.setdefault(n, []).append(f"{path.relative_to(ROOT)}:{lineno}")
    return cited


def test_docstring_theory_references_exist():
    sections = _theory_sections()
    assert {str(n) for n in range(10)} <= sections, f"theory page sections: {sorted(sections)}"
    cited = _cited_sections()
    assert len(cited) >= 5, "the scan for THEORY §n citations found almost nothing"
    missing = {n: where[:3] for n, where in cited.items() if n not in sections}
    assert not missing, f"docstrings cite theory sections that do not exist: {missing}"


def test_docstring_result_tags_exist():
    results = _theory_results()
    cited = set()
    for path in SRC.rglob("*.py"):
        cited |= set(re.findall(r"\b(T[1-9])\b", path.read_text(encoding="utf-8")))
    assert cited, "no T1 … T6 citations found in src/hjdl"
    assert cited <= results, f"cited but not defined on the theory page: {sorted(cited - results)}"
