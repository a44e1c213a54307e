"""``import hjdl`` reaches every subpackage lazily (PEP 562), without importing them up front."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import hjdl


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_subpackages_are_imported_on_first_access_only():
    res = _run(
        "import json, sys, hjdl\n"
        "before = sorted(m for m in sys.modules if m.startswith('hjdl.'))\n"
        "certify = hjdl.robustness.certify\n"
        "attribute = hjdl.attribution.attribute\n"
        "print(json.dumps({'before': before, 'listed': [n for n in hjdl.SUBMODULES if n in dir(hjdl)],\n"
        "  'after': 'hjdl.robustness' in sys.modules and 'hjdl.attribution' in sys.modules,\n"
        "  'certify': certify.__module__, 'attribute': attribute.__module__,\n"
        "  'plotting_loaded': 'hjdl.plotting' in sys.modules}))\n")
    lazy = {f"hjdl.{n}" for n in ("robustness", "attribution", "bifurcation", "nn", "training",
                                   "probe", "plotting", "experiments", "scaling", "pde")}
    assert not lazy & set(res["before"]), res["before"]
    assert res["after"] and res["certify"] == "hjdl.robustness.certify"
    assert res["attribute"] == "hjdl.attribution.gibbs"
    assert set(res["listed"]) == set(hjdl.SUBMODULES)
    assert not res["plotting_loaded"]  # reaching robustness does not pull the plotting layer


@pytest.mark.parametrize("name", hjdl.SUBMODULES)
def test_every_listed_subpackage_resolves(name):
    import importlib

    assert getattr(hjdl, name) is importlib.import_module(f"hjdl.{name}")


def test_unknown_attributes_still_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'robustnes'"):
        hjdl.robustnes  # noqa: B018
