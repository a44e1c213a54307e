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


def test_import_hjdl_does_not_import_torch_and_core_names_resolve_lazily():
    res = _run(
        "import json, sys, hjdl\n"
        "before = 'torch' in sys.modules or 'hjdl.core' in sys.modules\n"
        "listed = [n for n in hjdl.CORE_NAMES if n in dir(hjdl)]\n"
        "from hjdl import lse\n"
        "import torch\n"
        "value = float(hjdl.lse(torch.tensor([[0.0, 0.0]]), 1.0))\n"
        "print(json.dumps({'before': before, 'listed': len(listed), 'same': lse is hjdl.core.lse,\n"
        "                  'value': value}))\n")
    import math

    assert res["before"] is False
    assert res["listed"] == len(hjdl.CORE_NAMES) and res["same"]
    assert abs(res["value"] - math.log(2.0)) < 1e-6  # lse of two zeros at eps = 1 is log 2


def test_core_names_list_equals_core_all():
    import hjdl.core

    assert list(hjdl.CORE_NAMES) == list(hjdl.core.__all__)
    assert set(hjdl.__all__) >= set(hjdl.core.__all__)
    for name in hjdl.CORE_NAMES:
        assert getattr(hjdl, name) is getattr(hjdl.core, name)
