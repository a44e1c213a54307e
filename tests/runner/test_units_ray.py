"""Units as Ray tasks: a local instance on 127.0.0.1 with 2 CPUs, a two-node local cluster, and
the refusals (no Ray, an unreachable address) that start and write nothing (issue 14, item 2).

Ray is only ever started here on 127.0.0.1 and always shut down; no other address is contacted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import runner_toys  # noqa: F401  (registers the toys)
from hjdl.experiments import units as units_module

ray = pytest.importorskip("ray")

UNITS, NODES = runner_toys.UNITS, runner_toys.NODES


@pytest.fixture(autouse=True)
def no_ray_left():
    assert not ray.is_initialized()
    yield
    if ray.is_initialized():  # a failed test must not leave its instance to the next one
        ray.shutdown()


def _result(out: Path, name: str) -> dict:
    return json.loads((out / name / "result.json").read_text())


def test_a_local_ray_instance_gives_the_serial_results(cli_run, tmp_path, monkeypatch):
    serial, on_ray = tmp_path / "serial", tmp_path / "ray"
    # each node unit first waits (up to 60 s) for a second worker process to reach it: on a
    # loaded machine the second worker can start after the first has run every unit
    monkeypatch.setenv("HJDL_TOY_RENDEZVOUS", str(tmp_path / "rendezvous"))
    names = [UNITS, "identity"]
    assert cli_run("reproduce", "--only", *names, "--out", str(serial), "--seed", "2", "--jobs", "1",
                "--no-progress")[0] == 0
    code, _, err = cli_run("reproduce", "--only", *names, NODES, "--out", str(on_ray), "--seed", "2",
                        "--executor", "ray", "--jobs", "2", "--no-progress")
    assert code == 0, err
    for name in names:
        assert _result(serial, name) == _result(on_ray, name), name
    rows = _result(on_ray, NODES)["tables"]["nodes"]["rows"]
    assert {row[2] for row in rows} == {"127.0.0.1"}  # the instance announces loopback only
    assert len({row[3] for row in rows}) >= 2         # two CPUs: two worker processes ran units
    assert not ray.is_initialized()                    # the command shut its instance down


def test_units_run_on_both_nodes_of_a_two_node_cluster(cli_run, tmp_path):
    from ray.cluster_utils import Cluster

    units_module._loopback_only(ray)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        code, _, err = cli_run("run", NODES, "--out", str(tmp_path), "--executor", "ray",
                            "--address", cluster.address, "--no-progress")
        assert code == 0, err
        rows = _result(tmp_path, NODES)["tables"]["nodes"]["rows"]
        nodes = {n["NodeID"] for n in ray.nodes()} if ray.is_initialized() else None
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    assert len(rows) == 6 and len({row[1] for row in rows}) == 2, rows  # tasks ran on both nodes
    assert nodes is None or {row[1] for row in rows} <= nodes
    assert {row[2] for row in rows} == {"127.0.0.1"}


def test_an_unreachable_address_is_one_line_exit_2_and_nothing_is_written(cli_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, err = cli_run("run", UNITS, "--out", str(out), "--executor", "ray", "--address", "127.0.0.1:1")
    assert code == 2 and stdout == "" and err.count("\n") == 1, err
    assert "'127.0.0.1:1'" in err and "no Ray cluster reachable" in err
    assert list(out.iterdir()) == []       # no lock, no unit, no report
    assert not ray.is_initialized()        # nothing started


def test_without_ray_the_executor_names_the_extra(cli_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    out = tmp_path / "out"
    code, stdout, err = cli_run("run", UNITS, "--out", str(out), "--executor", "ray")
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "pip install hjdl[ray]" in err and not out.exists()
