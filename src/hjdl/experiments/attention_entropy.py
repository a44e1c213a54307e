"""``attention-entropy``: heads of small trained transformers as Gibbs measures (THEORY §8).

The paper probes distilgpt2 (not reachable offline); here two tiny causal transformers are
trained locally: (a) associative recall (``k1 v1 … kP vP q → v``), where sharp retrieval heads
are expected, and (b) a character-level model of the Python standard library's docstrings.
Every head is read by :func:`hjdl.probe.probe_attention` (normalised entropy, regime) and
ablated (:func:`hjdl.probe.ablate_head`) to measure the loss change.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from .._progress import progress as _progress
from ..probe import REGIME_BANDS, ablate_head, probe_attention
from ._text import TinyTransformer, char_batch, encode, recall_batch, single_thread, stdlib_corpus
from .registry import Claim, Result, Table, register

PRESETS = {
    "quick": {"d_model": 32, "heads": 4, "layers": 2, "ffn": 64, "lr": 3e-3, "batch": 64,
              "recall": {"steps": 220, "pairs": 4, "n_keys": 8, "n_values": 8},
              "chars": {"steps": 150, "length": 48, "max_chars": 60000},
              "eval_batch": 256},
    "paper": {"d_model": 64, "heads": 4, "layers": 3, "ffn": 128, "lr": 2e-3, "batch": 64,
              "recall": {"steps": 1500, "pairs": 6, "n_keys": 12, "n_values": 12},
              "chars": {"steps": 2000, "length": 96, "max_chars": None},
              "eval_batch": 512},
}


def _train(model, batch_fn, loss_fn, steps, lr, progress, desc):
    opt = torch.optim.Adam(model.parameters(), lr)
    for _ in _progress(range(steps), desc=desc, enabled=progress):
        x, y = batch_fn()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def _study(model, x, y, loss_fn):
    """Probe every head, then ablate each and record the loss change."""
    model.eval()
    with torch.no_grad():
        base = float(loss_fn(model(x), y))
        rec = probe_attention(model, x)
        rows = []
        for l, (block, layer) in enumerate(zip(model.blocks, rec.layers)):
            for h in range(block.self_attn.num_heads):
                with ablate_head(block.self_attn, h):
                    delta = float(loss_fn(model(x), y)) - base
                last = float(layer.entropy[:, h, -1].mean())   # the final (query) position
                rows.append([l, h, float(layer.head_entropy[h]), layer.regime[h], last, delta])
    return base, rec, rows


def _verdict(rows):
    ent = np.array([r[2] for r in rows])
    delta = np.array([r[5] for r in rows])
    med = np.median(ent)
    low, high = delta[ent <= med], delta[ent > med]
    rho = float(spearmanr(ent, delta).statistic) if len(set(ent)) > 1 else float("nan")
    low_m, high_m = float(low.mean()), float(high.mean()) if len(high) else float("nan")
    both = low_m > high_m and rho < 0
    verdict = "confirmed" if both else ("partly" if (low_m > high_m or rho < 0) else "not confirmed")
    return verdict, low_m, high_m, rho


@register("attention-entropy", title="Attention heads as Gibbs measures: entropy, regime, ablation",
          description="Two tiny causal transformers trained here (associative recall; characters of the "
                      "standard library's docstrings); per-head normalised entropy by depth, particle / "
                      "wave fractions, and the loss change when each head is ablated.",
          presets=PRESETS)
def run(config: dict, *, seed: int, progress: bool) -> Result:
    with single_thread():
        return _run(config, seed, progress)


def _run(config, seed, progress):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ce = torch.nn.functional.cross_entropy
    rc, cc = config["recall"], config["chars"]
    # (a) associative recall: loss on the last position only
    vocab = rc["n_keys"] + rc["n_values"]
    recall = TinyTransformer(vocab, config["d_model"], config["heads"], config["layers"],
                             2 * rc["pairs"] + 1, config["ffn"])
    last_ce = lambda logits, y: ce(logits[:, -1], y)
    rbatch = lambda n: recall_batch(n, rc["pairs"], rc["n_keys"], rc["n_values"], g)
    _train(recall, lambda: rbatch(config["batch"]), last_ce, rc["steps"], config["lr"], progress, "recall")
    xr, yr = rbatch(config["eval_batch"])
    # (b) characters
    data, chars = encode(stdlib_corpus(cc["max_chars"]))
    split = int(0.9 * len(data))
    train, held = data[:split], data[split:]
    charlm = TinyTransformer(len(chars), config["d_model"], config["heads"], config["layers"], cc["length"],
                             config["ffn"])
    seq_ce = lambda logits, y: ce(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    _train(charlm, lambda: char_batch(train, config["batch"], cc["length"], g), seq_ce, cc["steps"],
           config["lr"], progress, "chars")
    xc, yc = char_batch(held, config["eval_batch"] // 4, cc["length"], g)

    tables, series, claims = {}, {}, []
    for task, model, x, y, lf in (("recall", recall, xr, yr, last_ce), ("chars", charlm, xc, yc, seq_ce)):
        base, rec, rows = _study(model, x, y, lf)
        with torch.no_grad():
            logits = model(x)
        acc = float((logits[:, -1].argmax(-1) == y).float().mean()) if task == "recall" else \
            float((logits.argmax(-1) == y).float().mean())
        fr = rec.fractions()
        tables[task] = Table(f"{task}: heads (held-out loss {base:.3f}, accuracy {acc:.3f})",
                             ["layer", "head", "H / log n", "regime", "H / log n at last position",
                              "Δ loss when ablated"], rows)
        series[task] = {"entropy": rec.head_entropies().tolist(), "delta": [r[5] for r in rows],
                        "head_entropy_flat": [r[2] for r in rows], "fractions": fr, "loss": base,
                        "accuracy": acc}
        verdict, low_m, high_m, rho = _verdict(rows)
        claims.append(Claim(
            f"({task}) Pruning wave-like (high-entropy) heads costs little, pruning particle-like "
            "(low-entropy) heads costs much.",
            "ablate each head (zero its output columns); compare the mean loss increase of the "
            "lower-entropy half of heads with the higher-entropy half, and the Spearman correlation "
            "of entropy with the loss increase (negative expected)",
            f"mean Δloss low-entropy half {low_m:.3g}, high-entropy half {high_m:.3g}; Spearman {rho:.2f}; "
            f"regimes particle {fr['particle']:.2f} / mixed {fr['mixed']:.2f} / wave {fr['wave']:.2f}",
            verdict,
            "Both tests agree with the reading." if verdict == "confirmed" else
            "Only one of the two tests agrees with the reading." if verdict == "partly" else
            "Neither test agrees with the reading on this model."))
        if task == "recall":
            sharp = float(min(r[4] for r in rows))
            claims.append(Claim(
                "(recall) A retrieval task trained to low loss produces at least one particle head "
                "(H/log n < 0.33) at the query position.",
                "minimum over heads of the normalised entropy at the final (query) token after training",
                f"min H/log n at the query = {sharp:.3f} (over all positions: "
                f"{min(r[2] for r in rows):.3f}); accuracy {acc:.3f}",
                "confirmed" if sharp < REGIME_BANDS[0] else "not confirmed",
                "Sharp retrieval needs a head that attends to one key." if sharp < REGIME_BANDS[0] else
                "No head fell below the particle band at this training budget."))
    return Result(name="attention-entropy", preset="", config=config, tables=tables, series=series,
                  claims=claims, notes=[
                      "Entropies are normalised by log of the number of keys each query can see (causal "
                      "masks); the first position (one visible key) is excluded. Regime bands: particle < "
                      "0.33 <= mixed < 0.66 <= wave (THEORY §8).",
                      "Ablation zeroes the out-projection columns of one head (exact removal of its term).",
                      "Models run on one intra-op thread (restored afterwards)."])
