"""The worked examples of the documentation run, so the docs cannot rot.

Every fenced ```python block of every page under ``docs/`` and of the README's ``## Examples``
section is executed, page by page, in order, in one namespace per page (a page may build on its
earlier blocks), from a temporary working directory (an example may write a figure). A failure
points at the page and line of the block. Sizes in the examples are small: the whole file is meant
to take well under a minute on a laptop CPU.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*$")


def _hooks():
    """``docs/_hooks/readme_sections.py``, the one reader of README sections (used by the site too)."""
    spec = importlib.util.spec_from_file_location("_docs_readme_sections",
                                                  DOCS / "_hooks" / "readme_sections.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def python_blocks(markdown: str) -> list[tuple[int, str]]:
    """``(line, code)`` for each fenced ```python block, ``line`` the 1-based line of its first
    code line; the fence's indentation (a block inside an admonition) is removed."""
    lines = markdown.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, start, body = m.group("indent"), i + 1, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        if i == len(lines):
            raise ValueError(f"unclosed ```python block opened at line {start}")
        blocks.append((start + 1, "\n".join(body) + "\n"))
        i += 1
    return blocks


def _readme_examples() -> str:
    return _hooks().readme_section(README.read_text(encoding="utf-8"), "Examples")


def _pages() -> list[tuple[str, str, int]]:
    """``(name, markdown, line offset)``: the docs pages with Python blocks, then the README section."""
    pages = []
    for path in sorted(DOCS.rglob("*.md")):
        if "_hooks" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if python_blocks(text):
            pages.append((str(path.relative_to(ROOT)), text, 0))
    readme = README.read_text(encoding="utf-8")
    try:
        section = _readme_examples()
    except KeyError:  # reported by test_readme_examples_cover_each_module
        return pages
    offset = readme[: readme.index(section)].count("\n")
    pages.append(("README.md#examples", section, offset))
    return pages


PAGES = _pages()

#: Optional packages an example may need, and how to install them.
OPTIONAL = {"transformers": "pip install 'hjdl[hf]'", "pandas": "pip install pandas"}


@pytest.mark.parametrize("name, markdown, offset", PAGES, ids=[p[0] for p in PAGES])
def test_examples_run(name, markdown, offset, tmp_path, monkeypatch):
    """Each page's blocks run in order without error (their own asserts check the numbers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import torch

    monkeypatch.chdir(tmp_path)
    rng_state = torch.random.get_rng_state()  # an example may seed torch's global generator
    namespace = {"__name__": "__docs_example__"}
    source = name.split("#")[0]
    try:
        for line, code in python_blocks(markdown):
            # pad so that a traceback's line number is the line in the Markdown file
            compiled = compile("\n" * (line - 1 + offset) + code, str(ROOT / source), "exec")
            try:
                exec(compiled, namespace)
            except ModuleNotFoundError as exc:
                if exc.name in OPTIONAL:
                    pytest.skip(f"{source}:{line}: {exc.name} is not installed ({OPTIONAL[exc.name]})")
                raise
    finally:
        plt.close("all")
        torch.random.set_rng_state(rng_state)


def test_every_example_page_has_code():
    """An example page without a runnable block (or with a mistyped fence) is not tested: refuse it.
    The solver page is a placeholder until ``hjdl.solve`` lands."""
    names = {p[0] for p in PAGES}
    for path in sorted((DOCS / "examples").glob("*.md")):
        if path.name in ("index.md", "solve.md"):
            continue
        assert str(path.relative_to(ROOT)) in names, f"{path.name} has no ```python block"


def test_readme_examples_cover_each_module():
    """The README's Examples section shows each module in use (not only a table of names)."""
    try:
        section = _readme_examples()
    except KeyError:
        pytest.fail("README.md has no '## Examples' section (its blocks are run by this file)")
    code = "".join(c for _, c in python_blocks(section))
    for call in ("HJClassifier(", "attribute(", "continuation(", ".plot(", "certify(",
                 "probe_attention(", "to_initial_data(", "from_initial_data("):
        assert call in code, f"README ## Examples: no example calls {call}"


def test_block_extraction():
    """The extractor finds indented blocks, skips other languages and reports line numbers."""
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n!!! note\n    ```python\n    y = 2\n    ```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "y = 2\n")]
    with pytest.raises(ValueError, match="unclosed"):
        python_blocks("```python\nx = 1\n")
