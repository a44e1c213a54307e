"""``attention-entropy-hf``: the quick preset (smaller), the checkpoint mode, head ablation of
Hugging Face attention (exact restore, the right slice), Spearman's rho against scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

pytest.importorskip("transformers")

import hjdl.experiments.attention_entropy_hf as E  # noqa: E402  (registers the experiment)
from hjdl.errors import InputError  # noqa: E402
from hjdl.experiments import registry  # noqa: E402
from hjdl.experiments._hf import ablate_hf_head, char_tokenizer, tiny_gpt2  # noqa: E402
from hjdl.experiments._text import stdlib_corpus  # noqa: E402

SMALL = dict(seeds=2, layers=2, heads=4, width=16, length=16, steps=20, batch=16, eval_batch=16,
             max_chars=20000)


def _figures(result):
    from matplotlib.figure import Figure

    import hjdl.plotting.probe_plots  # noqa: F401  (registers the figures)
    from hjdl.plotting import figures_for

    figs = figures_for(result)
    assert figs and all(isinstance(f, Figure) for f in figs.values())
    return figs


def test_quick_preset_smaller_runs_with_verdicts():
    exp = registry.get("attention-entropy-hf")
    assert set(exp.presets) >= {"quick", "paper"} and exp.presets["quick"]["model"] is None
    assert exp.presets["paper"]["seeds"] > 1
    res = exp.run("quick", seed=0, **SMALL)
    assert not res.failed
    evidence = [c for c in res.claims if c.kind == "evidence"]
    assert len(evidence) == 1 and evidence[0].verdict in registry.EVIDENCE_VERDICTS
    assert "ρ = 0" in evidence[0].rival and "negative" in evidence[0].statement
    # the verdict is the registry's helper applied to the t interval of the per-seed rhos
    rhos = res.series["per_seed"]["rho"]
    _, ci = registry.seed_interval(rhos)
    assert evidence[0].verdict == registry.interval_verdict(ci, (-1.0, 0.0), [0.0])
    ident = [c for c in res.claims if c.kind == "identity"]
    assert len(ident) == 1 and ident[0].verdict == "identity"  # probing leaves the logits unchanged
    heads = res.tables["heads"]
    assert len(heads.rows) == SMALL["layers"] * SMALL["heads"]
    assert [r[:2] for r in heads.rows] == [[l, h] for l in range(2) for h in range(4)]
    assert all(0 <= r[3] <= 1 for r in heads.rows)
    # per-seed rho in the table is Spearman of the first seed's table columns
    ent = [r[3] for r in heads.rows]
    delta = [r[5] for r in heads.rows]
    assert res.tables["seeds"].rows[0][2] == pytest.approx(spearmanr(ent, delta).statistic, abs=1e-12)
    assert len(res.tables["seeds"].rows) == SMALL["seeds"]
    assert set(_figures(res)) == {"head_entropy", "entropy_depth", "ablation", "attention_maps"}
    res.to_json_dict()  # JSON-safe


def test_ablation_restores_bit_for_bit_and_removes_exactly_one_head():
    torch.manual_seed(1)
    model = tiny_gpt2(30, layers=2, heads=4, width=16, positions=12).eval()
    x = torch.randint(0, 30, (3, 12))
    attn = model.transformer.h[1].attn
    proj = attn.c_proj
    before = {k: v.clone() for k, v in model.state_dict().items()}
    d, head = 4, 2

    def zero_head_input(module, args):  # independent path: zero the head's activations
        (inp,) = args
        inp = inp.clone()
        inp[..., head * d:(head + 1) * d] = 0
        return (inp,)

    with torch.no_grad():
        base = model(input_ids=x).logits
        handle = proj.register_forward_pre_hook(zero_head_input)
        try:
            want = model(input_ids=x).logits
        finally:
            handle.remove()
        with ablate_hf_head(attn, head, 4):
            got = model(input_ids=x).logits
            assert float(proj.weight[head * d:(head + 1) * d].abs().sum()) == 0.0
        assert not torch.allclose(want, base)
        assert torch.allclose(got, want, atol=1e-6, rtol=0)
        after = model(input_ids=x).logits
    assert torch.equal(after, base)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(RuntimeError):  # restored after an exception too
        with ablate_hf_head(attn, 0, 4):
            raise RuntimeError("boom")
    assert torch.equal(proj.weight, before["transformer.h.1.attn.c_proj.weight"])


def test_ablation_of_a_linear_output_projection():
    """``nn.Linear`` (Llama's ``o_proj``): the head's *columns* are zeroed."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(2)
    cfg = LlamaConfig(vocab_size=30, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16)
    model = LlamaForCausalLM(cfg).eval()
    x = torch.randint(0, 30, (2, 10))
    attn = model.model.layers[0].self_attn
    d, head = 4, 1
    saved = attn.o_proj.weight.clone()
    handle = attn.o_proj.register_forward_pre_hook(
        lambda m, a: (a[0].index_fill(-1, torch.arange(head * d, (head + 1) * d), 0.0),))
    with torch.no_grad():
        want = model(input_ids=x).logits
        handle.remove()
        with ablate_hf_head(attn, head, 4):
            got = model(input_ids=x).logits
    assert torch.allclose(got, want, atol=1e-6, rtol=0)
    assert torch.equal(attn.o_proj.weight, saved)


def test_ablation_refuses_bad_arguments():
    model = tiny_gpt2(10, layers=1, heads=2, width=8, positions=4)
    attn = model.transformer.h[0].attn
    for head in (-1, 2, 1.0, True):
        with pytest.raises(InputError, match="head"):
            with ablate_hf_head(attn, head, 2):
                pass
    with pytest.raises(InputError, match="num_heads"):
        with ablate_hf_head(attn, 0, 3):
            pass
    with pytest.raises(InputError, match="output projection"):
        with ablate_hf_head(torch.nn.Linear(2, 2), 0, 1):
            pass


@pytest.mark.parametrize("n", [5, 12, 40])
def test_spearman_matches_scipy(n):
    rng = np.random.default_rng(n)
    for _ in range(5):
        x = rng.integers(0, 4, n).astype(float) + (rng.random(n) if n > 12 else 0)  # ties for small n
        y = 0.3 * x + rng.normal(size=n)
        y[: n // 3] = y[0]  # more ties
        assert E.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert np.isnan(E.spearman(np.ones(n), np.arange(n)))
    with pytest.raises(InputError, match="spearman"):
        E.spearman([1, 2], [1, 2, 3])


def test_checkpoint_mode(tmp_path):
    tok = char_tokenizer(stdlib_corpus(20000))
    torch.manual_seed(3)
    model = tiny_gpt2(len(tok), layers=2, heads=2, width=8, positions=32)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    res = registry.get("attention-entropy-hf").run(
        "quick", seed=0, model=str(tmp_path), probe_length=24, probe_batch=4, bootstrap=50, max_chars=20000)
    assert not res.failed
    kinds = [c.kind for c in res.claims]
    assert kinds == ["evidence", "evidence"]
    assert all(c.verdict in registry.EVIDENCE_VERDICTS and c.rival for c in res.claims)
    # a randomly initialised model attends almost uniformly: no head near the paper's 0.02
    assert res.series["range"]["min"] > 0.5
    assert res.claims[0].verdict == "not confirmed"
    assert len(res.tables["heads"].rows) == 4 and len(res.tables["heads"].columns) == 6
    _figures(res)


def test_checkpoint_mode_refuses_a_missing_folder(tmp_path):
    with pytest.raises(InputError, match="model="):
        registry.get("attention-entropy-hf").run("quick", model=str(tmp_path / "none"))
    with pytest.raises(InputError, match="config.json"):
        registry.get("attention-entropy-hf").run("quick", model=str(tmp_path))


@pytest.mark.parametrize("rhos, verdict", [((-0.6, -0.5, -0.55), "confirmed"),
                                           ((0.6, 0.5, 0.55), "not confirmed"),
                                           ((-0.6, 0.5, 0.1), "inconclusive")])
def test_claim_verdict_follows_the_sign_of_rho(monkeypatch, rhos, verdict):
    """The paper expects rho < 0: per-seed values below 0 confirm, above 0 refute, mixed are open."""
    values = iter(rhos)
    monkeypatch.setattr(E, "spearman", lambda x, y: next(values))
    res = registry.get("attention-entropy-hf").run("quick", seed=0, **{**SMALL, "seeds": 3, "steps": 2})
    assert res.claims[0].verdict == verdict
    assert res.series["per_seed"]["rho"] == list(rhos)


def test_hjdl_run_model_option_probes_the_checkpoint(tmp_path, capsys):
    """``hjdl run attention-entropy-hf --model PATH`` hands the folder to the experiment (its
    config records it, no training happens); a bad --model is one line, exit 2."""
    import json

    from hjdl.cli import main

    ckpt = tmp_path / "ckpt"
    tok = char_tokenizer(stdlib_corpus(20000))
    torch.manual_seed(3)
    model = tiny_gpt2(len(tok), layers=2, heads=2, width=8, positions=32)
    model.save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    out = tmp_path / "run"
    assert main(["run", "attention-entropy-hf", "--model", str(ckpt), "--out", str(out), "--jobs", "1",
                 "--no-progress"]) == 0
    result = json.loads((out / "attention-entropy-hf" / "result.json").read_text())
    assert result["config"]["model"] == str(ckpt.resolve())
    assert len(result["tables"]["heads"]["rows"]) == 4                # 2 layers x 2 heads of the checkpoint
    capsys.readouterr()
    assert main(["run", "attention-entropy-hf", "--model", str(tmp_path / "none"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--model" in err[0] and "none" in err[0]
    assert main(["run", "identity", "--model", str(ckpt), "--out", str(out)]) == 2
    assert "take(s) no model" in capsys.readouterr().err
