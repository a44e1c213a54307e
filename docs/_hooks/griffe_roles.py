"""Griffe extension for the API reference: Sphinx roles in hjdl's docstrings become code spans.

hjdl's docstrings cross-reference with reStructuredText roles (``:func:`attribute```,
``:class:`~hjdl.errors.InputError```), which Markdown would print literally. This rewrites each
role to an inline code span of its target (the last component when the target starts with ``~``,
as Sphinx shows it), at load time, without touching the source files. It also reads a section
titled ``Example:`` as Griffe's ``Examples:`` section, so the doctests render as highlighted code
(Griffe would take ``Example:`` for an admonition and print the ``>>>`` lines as quoted text).
Used by mkdocs.yml only.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):`(~?)([^`]+)`")


def _replace(match: re.Match) -> str:
    tilde, target = match.groups()
    target = target.strip()
    if tilde:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


_EXAMPLE = re.compile(r"^([ \t]*)Example:[ \t]*$", re.MULTILINE)


def rewrite_roles(text: str) -> str:
    """``:func:`~a.b.c``` → ```c```, ``:class:`a.B``` → ```a.B```, a section ``Example:`` →
    ``Examples:``; other text unchanged."""
    return _EXAMPLE.sub(r"\1Examples:", _ROLE.sub(_replace, text))


class SphinxRolesToCode(griffe.Extension):
    """Rewrite the roles of every loaded object's docstring (see the module docstring)."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite_roles(obj.docstring.value)
