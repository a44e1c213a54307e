"""Robustness results print compactly, summarise in a line and become a DataFrame (issue 17 B)."""

from __future__ import annotations

import torch

from hjdl.robustness import attack, certify, enclosing_ball


def _heads():
    g = torch.Generator().manual_seed(2)
    W = torch.randn(4, 30, 5, generator=g, dtype=torch.float64)
    b = torch.randn(4, 30, generator=g, dtype=torch.float64)
    return W, b, torch.randn(300, 5, generator=g, dtype=torch.float64)


def test_certificate_record():
    W, b, x = _heads()
    y = torch.arange(300) % 4
    cert = certify((W, b, 0.5), x, y)
    text = repr(cert)
    assert len(text) < 500 and "tensor([" not in text and text.startswith("Certificate(points=300")
    s = cert.summary()
    assert f"median {float(cert.radius.median()):.4g}" in s
    assert f"{int(cert.correct.sum())}/300 correctly predicted" in s
    df = cert.to_frame()
    assert len(df) == 300
    assert (df["radius"].to_numpy() == cert.radius.numpy()).all()
    assert (df["prediction"].to_numpy() == cert.prediction.numpy()).all()
    assert {"radius_second_order", "radius_first_order", "margin", "beta", "correct", "rival"} <= set(df.columns)


def test_attack_and_ball_records():
    W, b, x = _heads()
    res = attack((W, b, 0.5), x[:20], radius=0.3, steps=3, generator=torch.Generator().manual_seed(0))
    assert len(repr(res)) < 500 and f"{int(res.success.sum())}/20" in res.summary()
    assert len(res.to_frame()) == 20
    ball = enclosing_ball(W[0])
    assert len(repr(ball)) < 500 and f"{ball.radius:.6g}" in ball.summary()
    assert list(ball.to_frame()["support"]) == list(ball.support)
