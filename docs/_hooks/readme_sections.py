"""MkDocs hook: pages show sections of README.md, read at build time, so they cannot drift.

A page line of the form ``<!-- readme: Section title -->`` is replaced by the body of the README
section ``## Section title`` (up to the next ``## `` heading), its sub-headings moved one level
down. A missing section stops the build with an error naming it, so renaming a README heading
cannot silently empty a page. Used by mkdocs.yml only (``hooks:``).
"""

from __future__ import annotations

import re
from pathlib import Path

_MARKER = re.compile(r"^<!-- readme: (.+?) -->[ \t]*$", re.MULTILINE)


def readme_section(readme: str, title: str) -> str:
    """The body of ``## title`` in ``readme`` (without its heading), or raise ``KeyError``."""
    lines = readme.splitlines()
    start = None
    for i, line in enumerate(lines):
        if start is None and line.strip() == f"## {title}":
            start = i + 1
        elif start is not None and line.startswith("## "):
            return "\n".join(lines[start:i]).strip("\n")
    if start is None:
        raise KeyError(title)
    return "\n".join(lines[start:]).strip("\n")


def expand(markdown: str, readme: str) -> str:
    """Replace every ``<!-- readme: Title -->`` line of ``markdown`` with that README section."""

    def body(match: re.Match) -> str:
        title = match.group(1).strip()
        try:
            text = readme_section(readme, title)
        except KeyError:
            from mkdocs.exceptions import PluginError  # here only: the tests read sections without mkdocs

            raise PluginError(f"docs: README.md has no section '## {title}' "
                              f"(a page includes it with '<!-- readme: {title} -->')") from None
        return re.sub(r"^(#{3,5}) ", r"#\1 ", text, flags=re.MULTILINE)

    return _MARKER.sub(body, markdown)


def on_page_markdown(markdown, page, config, files, **kwargs):
    if "<!-- readme:" not in markdown:
        return markdown
    readme = (Path(config["config_file_path"]).parent / "README.md").read_text(encoding="utf-8")
    return expand(markdown, readme)
