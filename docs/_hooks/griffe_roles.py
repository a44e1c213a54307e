"""Griffe extension for the API reference: Sphinx roles in hjdl's docstrings become links.

hjdl's docstrings cross-reference with reStructuredText roles (``:func:`attribute```,
``:class:`~hjdl.errors.InputError```), which Markdown would print literally. This rewrites each
role, at load time and without touching the source files, into an *optional* mkdocs-autorefs
reference shown as code: a link when the target is documented on the site, plain code otherwise
(a private module, say), never a build warning. The text shown is the target, or its last
component when the target starts with ``~`` (as Sphinx shows it). An unqualified target is looked
up next to the object: in its class (for a method or attribute) or module, then in the package
above (where ``__all__`` re-exports it and the API pages document it); ``hjdl.name`` is also
looked up as ``hjdl.core.name``.

It also reads a section titled ``Example:`` as Griffe's ``Examples:`` section, so the doctests
render as highlighted code (Griffe would take ``Example:`` for an admonition and print the
``>>>`` lines as quoted text). Used by mkdocs.yml only.
"""

from __future__ import annotations

import html
import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):`(~?)([^`]+)`")
_EXAMPLE = re.compile(r"^([ \t]*)Example:[ \t]*$", re.MULTILINE)


def rewrite_roles(text: str, module: str = "", scope: str = "") -> str:
    """Roles → optional autorefs around a code span; a section ``Example:`` → ``Examples:``.

    ``module`` is the dotted path of the module the docstring belongs to and ``scope`` the
    class or module an unqualified target is first looked up in (default ``module``); other
    text is unchanged.
    """
    scope = scope or module

    def replace(match: re.Match) -> str:
        tilde, target = match.groups()
        target = target.strip()
        shown = target.rsplit(".", 1)[-1] if tilde else target
        if target.count(".") == 1 and target.startswith("hjdl."):
            # hjdl.lse_layer and friends: the core's names, documented under hjdl.core
            primary, secondary = target, "hjdl.core." + target.split(".", 1)[1]
        elif "." in target or not module:
            primary, secondary = target, ""
        else:
            package = module.rsplit(".", 1)[0] if "." in module else module
            primary = f"{scope}.{target}"
            secondary = f"{package}.{target}" if scope == module else f"{module}.{target}"
        attrs = f'identifier="{html.escape(primary)}"'
        if secondary and secondary != primary:
            attrs += f' slug="{html.escape(secondary)}"'
        return f"<autoref {attrs} optional><code>{html.escape(shown)}</code></autoref>"

    return _EXAMPLE.sub(r"\1Examples:", _ROLE.sub(replace, text))


class SphinxRolesToLinks(griffe.Extension):
    """Rewrite the roles of every loaded object's docstring (see the module docstring)."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is None:
            return
        module = obj.path if obj.is_module else obj.module.path
        if obj.is_class:
            scope = obj.path
        elif obj.parent is not None and obj.parent.is_class:
            scope = obj.parent.path
        else:
            scope = module
        obj.docstring.value = rewrite_roles(obj.docstring.value, module, scope)
