"""The architecture experiments run (quick preset, reduced), return claims, and their figures draw."""

from __future__ import annotations

import pytest
import torch

from helpers import assert_claims

from hjdl.control import MSATrainer, ResidualNet, pmp_gap
from hjdl.errors import DomainError, InputError
from hjdl.experiments import registry

import hjdl.experiments.attention_entropy  # noqa: F401  (registers)
import hjdl.experiments.recurrent_gates  # noqa: F401
import hjdl.experiments.resnet_pmp  # noqa: F401

SMALL = {
    "resnet-pmp": {"seeds": 2, "costate_depths": [4, 8], "conv_depths": [16, 32, 64],
                   "digits": {"depth": 3, "hidden": 16, "epochs": 2, "batch": 200, "adam_lr": 1e-2,
                              "rho": 1.0, "inner_steps": 2, "inner_lr": 1e-2, "head_lr": 1e-2}},
    "attention-entropy": {"seeds": 2, "recall": {"steps": 20, "pairs": 3, "n_keys": 6, "n_values": 6},
                          "chars": {"steps": 10, "length": 24, "max_chars": 5000}, "eval_batch": 64},
    "recurrent-gates": {"seeds": 2, "steps": 10, "max_chars": 5000, "eval_length": 50,
                        "lq": {"state": 3, "inputs": 2, "outputs": 2, "T": 6, "rho": 0.3}},
}


#: verdicts of the small seed-0 runs (two seeds each), claim by claim: identities read as numbers
#: below 1e-10; the trained findings carry t intervals over the seeds, which at this size cover
#: their rivals except for the LSTM's entropy drop
EXPECTED = {
    "resnet-pmp": ["identity", registry.THEOREM, "inconclusive", "inconclusive"],
    "attention-entropy": ["inconclusive"] * 3,
    "recurrent-gates": ["identity", "identity", "confirmed"],
}


@pytest.mark.parametrize("name", list(SMALL))
def test_experiment_runs_and_draws(name):
    exp = registry.get(name)
    result = exp.run("quick", seed=0, **SMALL[name])
    assert result.name == name and result.claims and result.tables
    assert_claims(result, EXPECTED[name])
    seeds = result.tables["seeds" if name != "resnet-pmp" else "digits_seeds"]
    assert len({row[1 if name == "attention-entropy" else 0] for row in seeds.rows}) == 2  # two seeds ran
    from hjdl.plotting import architectures  # noqa: F401
    from hjdl.plotting.registry import figures_for
    figs = figures_for(result)
    assert figs, name


def test_msa_reduces_loss_and_pmp_gap_on_a_regression():
    net = ResidualNet(2, 4, generator=torch.Generator().manual_seed(0))
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    target = torch.stack([x[:, 1], -x[:, 0]], 1)                     # a rotation
    loss = lambda xL: (xL - target).square().mean()
    trainer = MSATrainer(net, rho=1.0, inner_steps=3, inner_lr=0.03)
    gap0 = float(pmp_gap(net, x, loss).mean())
    losses = [trainer.step(x, loss)["loss"] for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]
    assert float(pmp_gap(net, x, loss).mean()) < gap0


def test_pmp_gap_is_layer_gradient_norm_over_h():
    # oracle: autograd gradient of the loss per layer, divided by h, times the batch size
    net = ResidualNet(3, 5, horizon=2.0, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    loss = lambda xL: xL.sin().sum()
    net.zero_grad()
    loss(net(x)).backward()
    per_layer = sum(p.grad.reshape(5, -1).square().sum(1) for p in net.parameters()).sqrt()
    assert torch.allclose(pmp_gap(net, x, loss), 8 * per_layer / net.step, atol=1e-10)


@pytest.mark.parametrize("name", list(SMALL))
def test_seeds_must_be_positive(name):
    with pytest.raises(InputError, match="seeds=0"):
        registry.get(name).run("quick", seed=0, **{**SMALL[name], "seeds": 0})


def test_recurrent_identity_is_checked_in_float64(monkeypatch):
    # a gate recomputation off by 1e-7 (float32 rounding size) must fail the identity: it is
    # checked on a float64 copy of the trained LSTM against 1e-10, read as a number
    from hjdl.experiments import recurrent_gates as mod
    real = mod.lstm_gates

    def off(*a, **k):
        rec = real(*a, **k)
        rec.output = rec.output + 1e-7
        return rec

    monkeypatch.setattr(mod, "lstm_gates", off)
    res = registry.get("recurrent-gates").run("quick", seed=0, **SMALL["recurrent-gates"])
    assert res.claims[0].verdict == "not confirmed" and res.claims[0].kind == "identity"


def test_msa_bad_arguments():
    net = ResidualNet(2, 2)
    with pytest.raises(DomainError, match="rho"):
        MSATrainer(net, rho=-1.0)
    with pytest.raises(InputError, match="inner_steps"):
        MSATrainer(net, inner_steps=0)
    with pytest.raises(InputError, match="net"):
        MSATrainer(torch.nn.Linear(2, 2))


# --- the verdicts over seeds, from fabricated per-seed results (independent of training) ---------
def _attention_seed(diff, rho, sharp):
    rows = [[0, h, 0.2 + 0.2 * h, "mixed", sharp, 0.1] for h in range(4)]
    task = {"rows": rows, "loss": 1.0, "accuracy": 0.9, "fractions": {"particle": 0.0, "mixed": 1.0, "wave": 0.0},
            "entropy": [[0.2, 0.4, 0.6, 0.8]], "low": 0.1 + diff, "high": 0.1, "rho": rho, "sharp": sharp,
            "sharp_all": sharp}
    return {"recall": task, "chars": dict(task)}


@pytest.mark.parametrize("per_seed, verdicts", [
    # (Δloss low − high, Spearman, min H/log n at the query) per seed
    ([(0.20, -0.8, 0.10), (0.22, -0.7, 0.12), (0.18, -0.9, 0.08)], ["confirmed", "confirmed", "confirmed"]),
    ([(0.20, -0.8, 0.10), (-0.30, 0.2, 0.50), (0.18, -0.9, 0.08)], ["inconclusive", "inconclusive", "inconclusive"]),
    ([(-0.20, 0.8, 0.60), (-0.22, 0.7, 0.62), (-0.18, 0.9, 0.58)], ["not confirmed", "not confirmed", "not confirmed"]),
    ([(0.20, 0.5, 0.10), (0.22, 0.4, 0.12), (0.18, 0.6, 0.08)], ["partly", "confirmed", "partly"]),
])
def test_attention_entropy_verdicts_over_seeds(monkeypatch, per_seed, verdicts):
    from hjdl.experiments import attention_entropy as mod
    fake = iter([_attention_seed(*v) for v in per_seed])
    monkeypatch.setattr(mod, "_one_seed", lambda config, seed, progress: next(fake))
    res = registry.get("attention-entropy").run("quick", seed=0, seeds=len(per_seed))
    assert [c.verdict for c in res.claims] == verdicts, [c.measured for c in res.claims]


@pytest.mark.parametrize("diffs, ratios, verdicts", [
    ([0.01, 0.02, 0.0], [0.5, 0.4, 0.6], ["confirmed", "confirmed"]),
    ([0.01, -0.06, 0.02], [0.5, 1.5, 0.6], ["inconclusive", "inconclusive"]),
    ([-0.05, -0.06, -0.04], [1.5, 1.4, 1.6], ["not confirmed", "not confirmed"]),
])
def test_resnet_msa_verdicts_over_seeds(monkeypatch, diffs, ratios, verdicts):
    from hjdl.experiments import resnet_pmp as mod
    runs = iter([r for d, q in zip(diffs, ratios)
                 for r in ({"accuracy": 0.9, "time": 1.0, "gaps": [2.0, 1.5], "losses": [1.0, 0.5]},
                           {"accuracy": 0.9 + d, "time": 3.0, "gaps": [2.0, 2.0 * q], "losses": [1.0, 0.5]})])
    monkeypatch.setattr(mod, "_train_digits", lambda method, cfg, seed, progress: next(runs))
    res = registry.get("resnet-pmp").run("quick", seed=0, **{**SMALL["resnet-pmp"], "seeds": len(diffs)})
    assert [c.verdict for c in res.claims[2:]] == verdicts, [c.measured for c in res.claims[2:]]


@pytest.mark.parametrize("drops, verdict", [
    ([0.30, 0.32, 0.28], "confirmed"), ([0.30, -0.30, 0.10], "inconclusive"), ([-0.3, -0.32, -0.28], "not confirmed"),
])
def test_recurrent_entropy_drop_verdict_over_seeds(monkeypatch, drops, verdict):
    from hjdl.experiments import recurrent_gates as mod

    def stats(mean):
        return {k: (mean, 0.0, 0.0) for k in mod.GATES}

    runs = iter([{"before": stats(0.8), "after": stats(0.8 - d), "err": 1e-16,
                  "trace": {k: [0.5] for k in mod.GATES}, "held_loss": 2.0} for d in drops])
    monkeypatch.setattr(mod, "_train_lstm", lambda config, seed, progress: next(runs))
    res = registry.get("recurrent-gates").run("quick", seed=0, **{**SMALL["recurrent-gates"], "seeds": len(drops)})
    assert res.claims[2].verdict == verdict, res.claims[2].measured
