"""Bifurcation results print compactly, summarise in a line and become a DataFrame (issue 17 B).

``print(diagram)`` was 22 KB of arrays; it is now one line of shapes and key numbers."""

from __future__ import annotations

import pytest
import torch

from hjdl.bifurcation import KINDS, continuation, critical_points, entropy_landscape
from hjdl.errors import InputError

W = torch.tensor([[-1.0], [0.0], [2.0]], dtype=torch.float64)
B = torch.tensor([-0.5, 0.0, -2.0], dtype=torch.float64)


@pytest.fixture(scope="module")
def diagram():
    return continuation((W, B, 1.0), 0.05, 2.0, [[-3.0, 3.0]], n_anchors=4)


def test_diagram_repr_summary_and_frames(diagram):
    text = repr(diagram)
    assert len(text) < 500 and "array(" not in text and "\n" not in text
    assert f"folds={len(diagram.folds)} at eps [{diagram.folds[0].eps:.4g}]" in text
    s = diagram.summary()
    assert "1 fold(s): eps" in s and "minimum + maximum" in s
    assert "at eps_min 1 minimum, 0 saddles, 2 maxima" in s and "at eps_max 0 minima, 0 saddles, 1 maximum" in s
    pts = diagram.to_frame()
    assert len(pts) == sum(br.eps.size for br in diagram.branches)
    assert set(pts["kind"]) <= set(KINDS.values())
    assert pts.groupby("branch").size().tolist() == [br.eps.size for br in diagram.branches]
    ev = diagram.to_frame("events")
    assert ev["event"].tolist() == ["fold"] and ev["eps"].tolist() == [diagram.folds[0].eps]
    assert ev["kinds"].tolist() == ["minimum/maximum"]
    with pytest.raises(InputError, match="what: expected 'points' or 'events'"):
        diagram.to_frame("branches")
    for part in (*diagram.branches, *diagram.folds):
        assert len(repr(part)) < 500 and "array([" not in repr(part) and part.summary()


def test_critical_points_and_landscape_records():
    cp = critical_points((W, B, 0.1), [[-3.0, 3.0]])
    assert len(repr(cp)) < 500
    assert cp.summary().startswith("CriticalPoints at eps 0.1: 3 in 1-D (1 minimum, 0 saddles, 2 maxima)")
    df = cp.to_frame()
    assert df["kind"].tolist() == [KINDS[k] for k in cp.kind.tolist()]
    assert (df["x_0"].to_numpy() == cp.x[:, 0].numpy()).all()
    x = torch.linspace(-3, 3, 500, dtype=torch.float64)[:, None]
    L = entropy_landscape((W, B, 0.3), x)
    assert len(repr(L)) < 500 and "tensor([" not in repr(L)
    assert f"H in [{float(L.H.min()):.4g}, {float(L.H.max()):.4g}]" in L.summary()
    assert len(L.to_frame()) == 500 and {"H", "grad_norm", "grad_0", "second_weight"} <= set(L.to_frame().columns)
