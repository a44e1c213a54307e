"""hjdl.results: the result data model has a home of its own, light to import, re-exported where it was."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import hjdl.results as results
from hjdl.results import Claim, Result, Table


def test_the_old_import_paths_give_the_same_objects():
    import hjdl.experiments as experiments
    import hjdl.experiments.registry as registry

    for name in results.__all__:
        assert getattr(experiments, name) is getattr(results, name), name
        assert getattr(registry, name) is getattr(results, name), name


def test_importing_the_data_model_loads_no_torch():
    code = ("import json, sys, hjdl.results, hjdl.reporting\n"
            "print(json.dumps([m for m in ('torch', 'numpy', 'hjdl.experiments', 'hjdl.core') if m in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("note, is_notice", [
    ("MNIST unavailable, fell back to scikit-learn's bundled 8x8 digits: no files", True),  # hessian-mnist
    ("NOTICE: MNIST not found (...); using scikit-learn's bundled 8x8 digits instead.", True),  # phase-mnist
    ("CIFAR-10 not found: nothing was run", True),  # hessian-cifar
    ("MNIST test split read from /data/mnist (the training split is not required).", False),
    ("eps* = N^(-1/d) is the optimal temperature", False),
])
def test_data_notices_are_found_in_notes(note, is_notice):
    r = Result("x", "quick", {}, notes=[note, "an ordinary note"])
    assert r.data_notices() == ([note] if is_notice else [])


def test_explicit_notices_come_first_and_survive_json():
    r = Result("x", "quick", {}, notices="CIFAR-10 not found", notes=["NOTICE: also this"],
               tables=[Table("t", ["a"], [[1]])], claims=[Claim("s", "c", "m", "identity", "w")])
    assert r.notices == ["CIFAR-10 not found"]
    assert r.data_notices() == ["CIFAR-10 not found", "NOTICE: also this"]
    back = Result.from_json_dict(json.loads(json.dumps(r.to_json_dict())))
    assert back.notices == r.notices and back.data_notices() == r.data_notices()
    # a result.json written before notices existed still reads
    old = r.to_json_dict()
    del old["notices"]
    assert Result.from_json_dict(old).notices == []
