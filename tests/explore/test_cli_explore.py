"""``hjdl explore`` bad input: one line on stderr, exit code 2 (no browser needed)."""

from __future__ import annotations

import socket

import pytest
import torch

from hjdl.cli import main


def _run(capsys, *argv):
    code = main(["explore", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def test_port_in_use_suggests_another(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        code, err = _run(capsys, "--port", str(port), "--no-browser")
    assert code == 2 and len(err) == 1
    assert f"port {port} is already in use" in err[0] and "try --port" in err[0]


def test_bad_model_file_says_what_is_accepted(tmp_path, capsys):
    bad = tmp_path / "notes.pt"
    bad.write_text("not a model")
    code, err = _run(capsys, "--model", str(bad), "--no-browser")
    assert code == 2 and len(err) == 1
    assert "not an hjdl model or checkpoint" in err[0] and "accepted:" in err[0] and "LSELayer" in err[0]
    code, err = _run(capsys, "--model", str(tmp_path / "missing.pt"))
    assert code == 2 and len(err) == 1 and "accepted:" in err[0]
    (tmp_path / "folder").mkdir()
    code, err = _run(capsys, "--model", str(tmp_path / "folder"))
    assert code == 2 and "config.json" in err[0]


def test_saved_layer_is_accepted(tmp_path):
    from hjdl.explore.model import load_model_file
    from hjdl.nn import LSELayer

    layer = LSELayer(2, 6, eps=0.3, generator=torch.Generator().manual_seed(0))
    torch.save(layer.state_dict(), tmp_path / "sd.pt")
    torch.save(layer, tmp_path / "module.pt")
    for name in ("sd.pt", "module.pt"):
        m = load_model_file(tmp_path / name)
        assert torch.equal(m.W, layer.weight.detach().double()) and m.eps0 == pytest.approx(0.3)


def test_without_panel_names_the_extra(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "panel" else real(name, *a))
    code, err = _run(capsys, "--no-browser")
    assert code == 2 and len(err) == 1 and "pip install hjdl[explore]" in err[0]


def test_export_into_an_existing_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "taken.html"
    target.write_text("already here")
    code, err = _run(capsys, "--export", str(target))
    assert code == 2 and len(err) == 1
    assert err[0].startswith("hjdl explore: error: --export:") and "existing file" in err[0]
    assert str(target) in err[0] and "accepted:" in err[0]
    assert target.read_text() == "already here"  # nothing overwritten
    code, err = _run(capsys, "--export", str(target / "sub"))  # a folder under a file
    assert code == 2 and len(err) == 1 and "existing file" in err[0]


def test_library_error_in_the_command_is_one_line(monkeypatch, capsys):
    """Any hjdl error met while the command runs is printed as one line with exit code 2."""
    import hjdl.explore as ex
    from hjdl.errors import InputError

    def refuse(*a, **k):
        raise InputError("n_eps: received 0; accepted: an integer from 2 to 401\nsecond line")

    monkeypatch.setattr(ex, "export_html", refuse, raising=False)
    code, err = _run(capsys, "--export", "somewhere")
    assert code == 2 and err == ["hjdl explore: error: --export: n_eps: received 0; accepted: an integer from 2 to 401"]
