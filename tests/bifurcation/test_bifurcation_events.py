"""BifurcationDiagram.exits / events(): a branch that leaves (and re-enters) the box is reported
as a boundary exit, and the count changes across every event agree with an independent
multi-start search (critical_points) on both sides."""

import numpy as np
import pytest
import torch

import hjdl
from hjdl.bifurcation import continuation, critical_points

KINDS = ("minimum", "saddle", "maximum")
BOX = [[-4.0, 0.2]]   # the right edge cuts the branch of the maximum between atoms -0.4 and 0.7


@pytest.fixture(scope="module")
def cut_diagram():
    # 6 atoms on a line (g = 0, t = 1/2); at small eps the maximum between the atoms at -0.4 and
    # 0.7 sits on their cell boundary x = 0.15 (inside the box) and moves right as eps grows
    # (out of the box); in the wave limit the single remaining maximum is near the centroid
    # x = 0.1 (back inside).
    y = np.array([-2.6, -1.5, -0.4, 0.7, 1.7, 2.7])[:, None]
    W, b = hjdl.from_initial_data(hjdl.InitialData(y, np.zeros(6)), 0.5)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dg = continuation(W, b, 0.02, 3.0, BOX, n_anchors=6)
    finally:
        torch.set_num_threads(n)
    return W, b, dg


def _search(W, b, eps):
    c = critical_points(W, b, eps, BOX).counts()
    assert "degenerate" not in c
    return {k: c.get(k, 0) for k in KINDS}


def test_a_branch_leaving_and_reentering_the_box_is_reported(cut_diagram):
    _, _, dg = cut_diagram
    assert len(dg.exits) >= 2
    for e in dg.exits:
        assert abs(float(e.x[0]) - BOX[0][1]) < 1e-12      # the crossing point is on the edge
        assert e.kind == "maximum" and e.change in (-1, 1)
    changes = [e.change for e in dg.exits]
    assert changes[0] == -1 and changes[-1] == 1           # leaves first, comes back later


def test_every_event_changes_the_searched_counts_by_its_amount(cut_diagram):
    W, b, dg = cut_diagram
    events = dg.events()
    assert any(kind == "boundary" for _, kind, _ in events)
    assert any(kind == "fold" for _, kind, _ in events)
    times = [e for e, _, _ in events]
    for i, (eps, kind, change) in enumerate(events):
        # probes on both sides, closer to this event than to its neighbours
        gap_lo = eps / times[i - 1] if i else 2.0
        gap_hi = times[i + 1] / eps if i + 1 < len(times) else 2.0
        r = min(gap_lo, gap_hi, 1.1) ** 0.5
        lo, hi = _search(W, b, eps / r), _search(W, b, eps * r)
        assert dg.events(eps / r, eps * r) == [(eps, kind, change)]
        expect = {k: change.get(k, 0) for k in KINDS}
        assert {k: hi[k] - lo[k] for k in KINDS} == expect, (eps, kind, lo, hi)
        # and the diagram's own counts on both sides are those of the search
        c_lo, c_hi = dg.counts(eps / r), dg.counts(eps * r)
        assert {k: int(c_lo[k][0]) for k in KINDS} == lo
        assert {k: int(c_hi[k][0]) for k in KINDS} == hi


def test_events_window_is_open_and_sorted(cut_diagram):
    _, _, dg = cut_diagram
    ev = dg.events()
    assert [e for e, _, _ in ev] == sorted(e for e, _, _ in ev)
    first = ev[0][0]
    assert dg.events(first, np.inf) == ev[1:]              # (lo, hi) excludes lo itself
    assert dg.events(0.0, first) == []
    assert dg.events(dg.eps_max, np.inf) == []
