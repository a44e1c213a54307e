"""The dependency arrows of STYLE.md, read from the source with ``ast`` (no imports executed).

Each rule is one row of ``RULES``: which modules it applies to, which imports they may not
make, and the exceptions. Adding a rule adds a row.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "hjdl.core.lse"
    target: str  # the imported module (or package attribute), e.g. "hjdl.errors"
    line: int
    top_level: bool  # at module level (not inside a function or class body)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def scan(root: Path, package: str = "hjdl") -> tuple[set[str], list[Import]]:
    """All module names under ``root/package`` and every import they make (absolute names)."""
    files = sorted((root / package).rglob("*.py"))
    modules = {_module_name(f, root) for f in files}
    imports: list[Import] = []
    for f in files:
        name = _module_name(f, root)
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        # an import is "top level" when it is not nested in a def/class (if/try blocks count as top)
        nested = {
            id(n)
            for fn in ast.walk(tree)
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
            for n in ast.walk(fn)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = name.split(".")
                    if not _is_package(f):
                        base_parts = base_parts[:-1]
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = []
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    targets.append(candidate if candidate in modules else base)
            else:
                continue
            for target in targets:
                imports.append(Import(name, target, node.lineno, id(node) not in nested))
    return modules, imports


def _under(*prefixes: str) -> Callable[[str], bool]:
    return lambda name: any(name == p or name.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Rule:
    why: str
    applies_to: Callable[[str], bool]  # importing modules the rule constrains
    forbidden: Callable[[str], bool]  # imported names it may not use
    exempt: Callable[[str], bool] = lambda name: False  # importing modules allowed anyway
    top_level_only: bool = False  # only module-level imports are forbidden (lazy ones allowed)


_HJDL = _under("hjdl")
_CORE_MAY_USE = _under("hjdl.core", "hjdl.errors", "hjdl._validation")

RULES: list[Rule] = [
    Rule(
        "hjdl.core imports nothing of ours except hjdl.errors and hjdl._validation",
        applies_to=_under("hjdl.core"),
        forbidden=lambda t: _HJDL(t) and not _CORE_MAY_USE(t),
    ),
    Rule(
        "hjdl.core never imports hjdl.pde (pde checks core, not the other way round)",
        applies_to=_under("hjdl.core"),
        forbidden=_under("hjdl.pde"),
    ),
    Rule(
        "hjdl.plotting is imported by nothing in the library (only by the commands hjdl.cli, hjdl._cli_probe, "
        "hjdl._cli_explore and the explorer hjdl.explore)",
        applies_to=_under("hjdl"),
        forbidden=_under("hjdl.plotting"),
        exempt=_under("hjdl.plotting", "hjdl.cli", "hjdl.__main__", "hjdl._cli_probe", "hjdl._cli_explore",
                      "hjdl.explore"),
    ),
    Rule(
        "hjdl.cli is imported by nothing in the library (only by hjdl.__main__)",
        applies_to=_under("hjdl"),
        forbidden=_under("hjdl.cli"),
        exempt=_under("hjdl.cli", "hjdl.__main__"),
    ),
    Rule(
        "matplotlib is used only in hjdl.plotting",
        applies_to=_under("hjdl"),
        forbidden=_under("matplotlib"),
        exempt=_under("hjdl.plotting", "hjdl.cli"),
    ),
    Rule(
        "hjdl.cli imports matplotlib only lazily (inside functions)",
        applies_to=_under("hjdl.cli"),
        forbidden=_under("matplotlib"),
        top_level_only=True,
    ),
    Rule(
        "the library does no I/O: only the commands (hjdl.cli, hjdl._cli_probe, hjdl._cli_explore) and the "
        "explorer use the file writers of hjdl._io",
        applies_to=_under("hjdl"),
        forbidden=_under("hjdl._io"),
        exempt=_under("hjdl.cli", "hjdl._io", "hjdl._cli_probe", "hjdl._cli_explore", "hjdl.explore"),
    ),
    Rule(
        "the library does not depend on the experiments: hjdl.experiments is imported only by the commands "
        "(hjdl.cli, hjdl._cli_probe, hjdl._cli_explore) and the explorer",
        applies_to=_under("hjdl"),
        forbidden=_under("hjdl.experiments"),
        exempt=_under("hjdl.experiments", "hjdl.cli", "hjdl._cli_probe", "hjdl._cli_explore", "hjdl.explore"),
    ),
    Rule(
        "hjdl.plotting does not depend on the experiments (it draws results, hjdl.results, and library objects)",
        applies_to=_under("hjdl.plotting"),
        forbidden=_under("hjdl.experiments"),
    ),
    Rule(
        "hjdl.results (the result data model) imports nothing of ours but hjdl.errors",
        applies_to=_under("hjdl.results"),
        forbidden=lambda t: _HJDL(t) and not _under("hjdl.results", "hjdl.errors")(t),
    ),
    Rule(
        "hjdl.explore (the browser explorer) is imported by nothing in the library (only by the commands "
        "hjdl._cli_explore and hjdl.cli, for reproduce's export)",
        applies_to=_under("hjdl"),
        forbidden=_under("hjdl.explore"),
        exempt=_under("hjdl.explore", "hjdl._cli_explore", "hjdl.cli"),
    ),
    Rule(
        "hjdl.cli imports hjdl.explore only lazily (the explorer is an optional extra)",
        applies_to=_under("hjdl.cli"),
        forbidden=_under("hjdl.explore"),
        top_level_only=True,
    ),
]


def violations(imports: list[Import], rule: Rule) -> list[str]:
    return [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in imports
        if rule.applies_to(imp.module)
        and not rule.exempt(imp.module)
        and rule.forbidden(imp.target)
        and (imp.top_level or not rule.top_level_only)
    ]


MODULES, IMPORTS = scan(SRC)


def test_the_scan_sees_the_package():
    assert {"hjdl", "hjdl.cli", "hjdl.errors"} <= MODULES
    assert any(i.module == "hjdl.__main__" and i.target == "hjdl.cli" for i in IMPORTS)


@pytest.mark.parametrize("rule", RULES, ids=[r.why for r in RULES])
def test_rule(rule):
    found = violations(IMPORTS, rule)
    assert not found, f"{rule.why}:\n  " + "\n  ".join(found)


# --- the checker itself can fail -----------------------------------------------------------------
FAKE_TREE = {
    "hjdl/__init__.py": "from hjdl import core\n",
    "hjdl/errors.py": "",
    "hjdl/plotting/__init__.py": "import matplotlib\nfrom . import figs\n",
    "hjdl/plotting/figs.py": "from matplotlib.figure import Figure\n",
    "hjdl/pde/__init__.py": "",
    "hjdl/pde/grid.py": "from ..core import lse\n",
    "hjdl/core/__init__.py": "from .lse import lse\nfrom .. import errors\n",
    "hjdl/core/lse.py": (
        "import numpy\nfrom hjdl.pde import grid\nfrom ..plotting import figs\n"
        "def f():\n    from hjdl import cli\n"
    ),
    "hjdl/cli.py": "import matplotlib.pyplot as plt\ndef g():\n    import matplotlib\n",
}


def test_rules_catch_violations(tmp_path):
    for rel, text in FAKE_TREE.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    modules, imports = scan(tmp_path)
    assert "hjdl.core.lse" in modules
    targets = {(i.module, i.target) for i in imports}
    # relative imports are resolved; "from .. import errors" names the module, not the package
    assert ("hjdl.core", "hjdl.core.lse") in targets and ("hjdl.core", "hjdl.errors") in targets
    assert ("hjdl.pde.grid", "hjdl.core.lse") in targets and ("hjdl.plotting", "hjdl.plotting.figs") in targets
    found = {rule.why: violations(imports, rule) for rule in RULES}
    assert found[RULES[0].why] == [
        "hjdl.core.lse:2 imports hjdl.pde.grid",
        "hjdl.core.lse:3 imports hjdl.plotting.figs",
        "hjdl.core.lse:5 imports hjdl.cli",
    ]
    assert found[RULES[1].why] == ["hjdl.core.lse:2 imports hjdl.pde.grid"]
    assert found[RULES[2].why] == ["hjdl.core.lse:3 imports hjdl.plotting.figs"]
    assert found[RULES[3].why] == ["hjdl.core.lse:5 imports hjdl.cli"]  # lazy imports count too
    assert found[RULES[4].why] == []  # matplotlib only in plotting (and cli)
    assert found[RULES[5].why] == ["hjdl.cli:1 imports matplotlib.pyplot"]  # the lazy one is fine


def test_experiment_rules_catch_the_old_cycle(tmp_path):
    """The cycle bifurcation -> plotting -> experiments, and results importing the library, are caught."""
    tree = {
        "hjdl/__init__.py": "",
        "hjdl/errors.py": "",
        "hjdl/bifurcation/__init__.py": "def plot():\n    from hjdl.experiments import bifurcation\n",
        "hjdl/plotting/__init__.py": "",
        "hjdl/plotting/bif.py": "def f():\n    from hjdl.experiments.bifurcation import diagram_series\n",
        "hjdl/experiments/__init__.py": "",
        "hjdl/experiments/bifurcation.py": "from hjdl.bifurcation import plot\n",
        "hjdl/results/__init__.py": "from hjdl.errors import InputError\nfrom hjdl.core import lse\n",
        "hjdl/core/__init__.py": "",
        "hjdl/cli.py": "from hjdl import experiments\n",
    }
    for rel, text in tree.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _, imports = scan(tmp_path)
    found = {rule.why: violations(imports, rule) for rule in RULES}
    library, plotting, results = (next(r.why for r in RULES if r.why.startswith(p)) for p in (
        "the library does not depend on the experiments", "hjdl.plotting does not depend", "hjdl.results"))
    assert found[library] == ["hjdl.bifurcation:2 imports hjdl.experiments.bifurcation",
                              "hjdl.plotting.bif:2 imports hjdl.experiments.bifurcation"]
    assert found[plotting] == ["hjdl.plotting.bif:2 imports hjdl.experiments.bifurcation"]
    assert found[results] == ["hjdl.results:2 imports hjdl.core"]
