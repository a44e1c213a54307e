"""``hjdl probe`` on a tiny GPT-2 and a character tokenizer saved by the test (no download).

The per-head entropies written to ``heads.csv`` are compared with an independent computation:
the same windows through the model under eager attention with ``output_attentions=True``, the
entropy of each row divided by log of the number of keys the query sees (causal: ``q + 1``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys

import pytest
import torch

pytest.importorskip("transformers")

from hjdl._cli_probe import CSV_COLUMNS, add_probe_parser, cmd_probe  # noqa: E402
from hjdl.experiments._hf import char_tokenizer, tiny_gpt2  # noqa: E402
from hjdl.experiments._text import stdlib_corpus  # noqa: E402

LAYERS, HEADS, WIDTH, POSITIONS = 2, 4, 16, 64
TEXT = stdlib_corpus(4000)[:300]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    tok = char_tokenizer(stdlib_corpus(4000))
    torch.manual_seed(0)
    model = tiny_gpt2(len(tok), layers=LAYERS, heads=HEADS, width=WIDTH, positions=POSITIONS)
    d = WIDTH // HEADS
    with torch.no_grad():  # heads of different sharpness (at initialisation all are near-uniform)
        for i, block in enumerate(model.transformer.h):
            w = block.attn.c_attn.weight                                    # (in, 3 width): q | k | v
            w[:, WIDTH:2 * WIDTH].mul_(10.0)
            for h in range(HEADS):
                w[:, h * d:(h + 1) * d].mul_(5.0 * (1 + h + HEADS * i))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, model.eval()


def _parser():
    parser = argparse.ArgumentParser(prog="hjdl")
    sub = parser.add_subparsers(dest="command", required=True)
    add_probe_parser(sub)
    return parser


def run(argv):
    args = _parser().parse_args(argv)
    return cmd_probe(args, ["hjdl", *argv])


def oracle_entropy(model, ids, length, layers=LAYERS, heads=HEADS):
    """Mean normalised entropy per (layer, head) of a causal model from eager attention's own weights."""
    eager = type(model)(model.config)
    eager.load_state_dict(model.state_dict())
    eager.set_attn_implementation("eager")
    eager.eval()
    sums, counts = torch.zeros(layers, heads, dtype=torch.float64), 0
    windows = [ids[i:i + length] for i in range(0, len(ids), length)]
    for w in windows:
        if len(w) < 2:
            continue
        with torch.no_grad():
            att = eager(input_ids=torch.tensor([w]), output_attentions=True).attentions
        q = torch.arange(len(w), dtype=torch.float64)
        for l, a in enumerate(att):
            p = a[0].double()                                              # (H, Q, K)
            h = -(p * torch.log(torch.where(p > 0, p, torch.ones_like(p)))).sum(-1)
            sums[l] += (h[:, 1:] / torch.log(q[1:] + 1)).sum(-1)
        counts += len(w) - 1
    return sums / counts


def test_writes_csv_json_and_figures(checkpoint, tmp_path):
    folder, model = checkpoint
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "out"
    rc = run(["probe", str(folder), "--text", str(text), "--max-length", "40", "--out", str(out),
              "--batch-size", "3", "--block-size", "7", "--no-progress"])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["attention_maps.png", "entropy_depth.png",
                                                     "head_entropy.png", "heads.csv", "heads.json"]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    with open(out / "heads.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS == ("layer", "head", "eps", "mean_normalised_entropy", "regime")
    body = rows[1:]
    assert [(int(r[0]), int(r[1])) for r in body] == [(l, h) for l in range(LAYERS) for h in range(HEADS)]
    # GPT-2 scales q.k by 1/sqrt(head_dim): eps = sqrt(16 / 4) = 2
    assert all(float(r[2]) == pytest.approx(math.sqrt(WIDTH / HEADS), rel=1e-6) for r in body)
    tok_ids = char_tokenizer(stdlib_corpus(4000))(TEXT, add_special_tokens=False)["input_ids"]
    assert len(tok_ids) == len(TEXT)  # one token per character
    expected = oracle_entropy(model, tok_ids, 40)
    got = torch.tensor([[float(body[l * HEADS + h][3]) for h in range(HEADS)] for l in range(LAYERS)],
                       dtype=torch.float64)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0), (got, expected)
    assert float(expected.max() - expected.min()) > 0.05  # the heads differ: a swapped column would show
    for r in body:
        v = float(r[3])
        assert r[4] == ("particle" if v < 0.33 else "wave" if v >= 0.66 else "mixed")
    summary = json.loads((out / "heads.json").read_text())
    assert summary["model"] == str(folder) and summary["tokens"] == len(TEXT)
    assert summary["windows"] == math.ceil(len(TEXT) / 40) and summary["max_length"] == 40
    assert summary["layers"] == LAYERS and summary["heads_per_layer"] == HEADS
    assert [[h[c] for c in CSV_COLUMNS] for h in summary["heads"]] == [
        [int(r[0]), int(r[1]), float(r[2]), float(r[3]), r[4]] for r in body]
    assert sorted(summary["figures"]) == ["attention_maps.png", "entropy_depth.png", "head_entropy.png"]


def test_llama_checkpoint(tmp_path):
    """Rotary embeddings and grouped keys (Llama): entropies against eager attention's weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = char_tokenizer(stdlib_corpus(4000))
    torch.manual_seed(5)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for layer in model.model.layers:  # (out = heads x 4, in): rows of head h scaled by 15 (h + 1)
            layer.self_attn.k_proj.weight.mul_(15.0)
            for h in range(4):
                layer.self_attn.q_proj.weight[4 * h:4 * (h + 1)].mul_(15.0 * (h + 1))
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    out = tmp_path / "out"
    assert run(["probe", str(tmp_path / "m"), "--prompt", TEXT[:70], "--out", str(out), "--no-progress"]) == 0
    heads = json.loads((out / "heads.json").read_text())["heads"]
    assert all(h["eps"] == pytest.approx(2.0) for h in heads)  # sqrt(head_dim = 4)
    expected = oracle_entropy(model, tok(TEXT[:70], add_special_tokens=False)["input_ids"], 32)
    got = torch.tensor([h["mean_normalised_entropy"] for h in heads], dtype=torch.float64).reshape(2, 4)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0), (got, expected)
    assert float(expected.max() - expected.min()) > 0.05  # heads that differ


def test_prompt_and_default_length(checkpoint, tmp_path, capsys):
    folder, _ = checkpoint
    out = tmp_path / "o"
    assert run(["probe", str(folder), "--prompt", "def f(x):\n    return x", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "heads.json").read_text())
    assert summary["max_length"] == POSITIONS and summary["windows"] == 1
    assert "probed 8 heads" in capsys.readouterr().out
    # a last window of one token is left out (its query sees one key) and not counted as probed
    assert run(["probe", str(folder), "--prompt", TEXT[:41], "--max-length", "40", "--out", str(out),
                "--no-progress"]) == 0
    summary = json.loads((out / "heads.json").read_text())
    assert (summary["windows"], summary["tokens"], summary["tokens_in_text"]) == (1, 40, 41)


def _bad_inputs(folder, tmp_path):
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    empty_text = tmp_path / "empty.txt"
    empty_text.write_text("", encoding="utf-8")
    return [
        (["probe", str(tmp_path / "missing"), "--prompt", "hello"], "MODEL", str(tmp_path / "missing")),
        (["probe", str(empty_dir), "--prompt", "hello"], "MODEL", str(empty_dir)),
        (["probe", str(folder), "--prompt", ""], "--prompt", "''"),
        (["probe", str(folder), "--prompt", "x"], "--prompt", "'x'"),
        (["probe", str(folder), "--text", str(empty_text)], "--text", str(empty_text)),
        (["probe", str(folder), "--text", str(tmp_path / "nofile.txt")], "--text", "nofile.txt"),
        (["probe", str(folder), "--prompt", "hello", "--max-length", "0"], "--max-length", "0"),
        (["probe", str(folder), "--prompt", "hello", "--max-length", "-3"], "--max-length", "-3"),
        (["probe", str(folder), "--prompt", "hello", "--max-length", str(POSITIONS + 1)], "--max-length",
         str(POSITIONS + 1)),
        (["probe", str(folder), "--prompt", "hello", "--batch-size", "0"], "--batch-size", "0"),
        (["probe", str(folder), "--prompt", "hello", "--block-size", "0"], "--block-size", "0"),
    ]


def test_bad_input_is_one_line_exit_2_nothing_written(checkpoint, tmp_path, capsys):
    folder, _ = checkpoint
    for argv, names, value in _bad_inputs(folder, tmp_path):
        out = tmp_path / "never"
        rc = run([*argv, "--out", str(out), "--no-progress"])
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert rc == 2, argv
        assert len(lines) == 1 and lines[0].startswith("hjdl probe: error: "), captured.err
        assert names in lines[0] and value in lines[0], (argv, lines[0])
        assert not out.exists(), argv
        assert captured.out == ""


def test_out_is_a_file(checkpoint, tmp_path, capsys):
    folder, _ = checkpoint
    target = tmp_path / "file"
    target.write_text("keep")
    assert run(["probe", str(folder), "--prompt", "hello there", "--out", str(target)]) == 2
    assert "--out" in capsys.readouterr().err and target.read_text() == "keep"


def test_without_transformers(checkpoint, tmp_path, monkeypatch, capsys):
    folder, _ = checkpoint
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    out = tmp_path / "o"
    assert run(["probe", str(folder), "--prompt", "hello", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hjdl probe: error: ") and "pip install hjdl[hf]" in err and "\n" not in err
    assert not out.exists()


def test_text_and_prompt_are_exclusive_and_one_is_required(checkpoint):
    folder, _ = checkpoint
    for argv in (["probe", str(folder)], ["probe", str(folder), "--text", "a", "--prompt", "b"]):
        with pytest.raises(SystemExit) as exc:
            _parser().parse_args(argv)
        assert exc.value.code == 2


def test_wired_into_hjdl_main(checkpoint, tmp_path):
    """Through ``hjdl.cli.main`` once the command is wired in (skipped before)."""
    from hjdl import cli

    if cli.main(["probe", "--help"]) != 0:  # argparse: "invalid choice 'probe'", exit 2
        pytest.skip("hjdl probe is not wired into hjdl.cli yet")
    folder, _ = checkpoint
    assert cli.main(["probe", str(folder), "--prompt", "hello there", "--out", str(tmp_path / "o"),
                     "--no-progress"]) == 0
    assert cli.main(["probe", str(tmp_path / "nope"), "--prompt", "hi", "--out", str(tmp_path / "x")]) == 2
