"""Attribution results print compactly, summarise in a line and become a DataFrame (issue 17 B);
``entropy`` is H and ``normalised_entropy`` is H / log N."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from hjdl.attribution import REGIMES, attribute, hallucination_report
from hjdl.errors import InputError


def _problem(C=None, n=200, N=50, d=8):
    g = torch.Generator().manual_seed(5)
    shape = (N, d) if C is None else (C, N, d)
    W = torch.randn(*shape, generator=g, dtype=torch.float64)
    b = torch.randn(*shape[:-1], generator=g, dtype=torch.float64)
    return W, b, torch.randn(n, d, generator=g, dtype=torch.float64)


def test_entropy_is_h_and_normalised_entropy_is_h_over_log_n():
    W, b, x = _problem()
    a = attribute((W, b, 0.7), x)
    pi = torch.softmax((x @ W.T + b) / 0.7, -1)
    H = -(pi * torch.log(pi)).sum(-1)
    assert torch.allclose(a.entropy, H, atol=1e-12)
    assert torch.allclose(a.normalised_entropy, H / math.log(W.shape[0]), atol=1e-12)
    assert a.normalised_entropy is a.normalized_entropy  # one quantity, two spellings
    assert bool((a.normalised_entropy <= 1).all()) and bool((a.entropy > 1).any())  # they differ


@pytest.mark.parametrize("C", [None, 3])
def test_repr_summary_and_frame(C):
    W, b, x = _problem(C)
    a = attribute((W, b, 0.7), x, top_k=2)
    text = repr(a)
    assert len(text) < 500 and "tensor([" not in text and "\n" not in text
    assert text.startswith("Attribution(") and f"neurons={W.shape[-2]}" in text
    s = a.summary()
    per = " x 3 classes" if C else ""
    assert s.startswith(f"Attribution of {x.shape[0]} point(s){per} over {W.shape[-2]} neurons at eps 0.7")
    assert f"{float(a.normalized_entropy.mean()):.3f}" in s
    df = a.to_frame()
    assert len(df) == a.value.numel()
    assert list(df.columns[: 2 if C else 1]) == (["point", "class"] if C else ["point"])
    for col in ("value", "entropy", "normalised_entropy", "top_index_0", "top_weight_1", "self_check", "regime"):
        assert col in df.columns
    flat = a.normalized_entropy.reshape(-1).numpy()
    assert (df["normalised_entropy"].to_numpy() == flat).all()
    assert (df["value"].to_numpy() == a.value.reshape(-1).numpy()).all()
    assert set(df["regime"]) <= set(REGIMES)
    if C:  # rows run over points, then classes
        assert df["class"].tolist()[:4] == [0, 1, 2, 0] and df["point"].tolist()[:4] == [0, 0, 0, 1]


def test_hallucination_report_record():
    W, b, x = _problem()
    r = hallucination_report((W, b, 0.2), x)
    assert len(repr(r)) < 500 and "tensor([" not in repr(r)
    assert f"{int(r.extrapolated.sum())} extrapolated" in r.summary()
    df = r.to_frame()
    assert len(df) == x.shape[0] and (df["gap"].to_numpy() == r.gap.numpy()).all()


def test_to_frame_without_pandas_names_the_install(monkeypatch):
    W, b, x = _problem()
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(InputError, match=r"pip install pandas"):
        attribute((W, b, 0.7), x).to_frame()
