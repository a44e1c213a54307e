"""``attention-entropy-hf``: a Hugging Face GPT-2's heads as Gibbs measures, against ablation (THEORY §8).

The paper reads distilgpt2 (heads spanning ``H / log k ≈ 0.02`` to ``0.88``) and advises "prune
near-maximum-entropy heads, keep near-zero ones": a head's normalised entropy should correlate
*negatively* with the damage done by removing it. Two modes:

* ``model=None`` (default): a small ``GPT2LMHeadModel`` is built from a config and trained here on
  the character corpus of :mod:`hjdl.experiments._text`, once per seed (``seed * 1000 + k``);
  every head is read by :func:`hjdl.probe.probe_attention` and ablated (the head's ``d_head`` rows
  of GPT-2's ``Conv1D`` output projection zeroed, restored after). Per seed, Spearman's ρ between
  the heads' entropies and the held-out loss increases; a 95 % Student-t interval over seeds
  against the rival ρ = 0 (no relation).
* ``model=PATH``: a checkpoint the user has (a local folder; nothing is downloaded) is probed on
  the corpus text, without training; the smallest and largest head entropies, with bootstrap
  intervals over the text windows, are compared with the paper's stated 0.02 and 0.88, and, for
  a causal language model with a known output projection, the ablation correlation is measured
  with a bootstrap interval over the windows.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..probe import REGIME_BANDS, probe_attention, regime
from ._hf import ablate_hf_head, lm_loss, out_projection, require_transformers, tiny_gpt2, train_char_lm
from ._text import char_batch, encode, single_thread, stdlib_corpus
from .registry import (
    Claim,
    Result,
    Table,
    combine_verdicts,
    derived_seeds,
    identity_verdict,
    interval_verdict,
    register,
    seed_interval,
)

NAME = "attention-entropy-hf"
#: The paper's stated range of distilgpt2's normalised head entropies, given to two decimals.
PAPER_RANGE: tuple[float, float] = (0.02, 0.88)
#: Half a unit in the last stated decimal: the tolerance of a value given as 0.02 or 0.88.
PAPER_ROUNDING = 0.005
#: Largest map kept in the series for the attention-map figure (tokens per side).
MAP_TOKENS = 64
#: float32 logits of order 10 agree to a few ulps (1e-6) when only the summation order differs.
OUTPUT_TOL = 1e-5

PRESETS = {
    "quick": {"seeds": 3, "layers": 3, "heads": 4, "width": 32, "length": 32, "steps": 300, "batch": 32,
              "lr": 5e-3, "max_chars": 60000, "eval_batch": 64, "model": None, "probe_length": 128,
              "probe_batch": 8, "bootstrap": 500, "block_size": None},
    "paper": {"seeds": 8, "layers": 4, "heads": 4, "width": 64, "length": 64, "steps": 1500, "batch": 64,
              "lr": 2e-3, "max_chars": None, "eval_batch": 256, "model": None, "probe_length": 256,
              "probe_batch": 32, "bootstrap": 2000, "block_size": None},
}


def spearman(x, y) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks (ties get their mean rank);
    NaN when either input is constant.

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40]), spearman([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise InputError(f"spearman: expected two 1-D sequences of equal length, received shapes "
                         f"{x.shape} and {y.shape}")
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / den if den > 0 else float("nan")


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties averaged: a group of c equal values ending at position e gets e - (c-1)/2."""
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]


def _layer_stats(rec):
    """Per probe layer: ``(per-sequence head means (B, H), head means (H,), eps (H,))`` — means
    over the queries that see at least two keys (NaN entries left out)."""
    out = []
    for layer in rec.layers:
        ent = layer.normalized_entropy.detach().float()                          # (B, H, Q)
        per_seq = torch.nanmean(ent, dim=-1)                          # (B, H)
        out.append((per_seq, layer.head_normalized_entropy.detach().float(), layer.eps.detach().float()))
    return out


def _maps(model, x, entropy: np.ndarray, block_size):
    """Attention maps (first sequence) of the lowest- and highest-entropy heads."""
    flat = np.where(np.isfinite(entropy), entropy, np.nan)
    lo = np.unravel_index(np.nanargmin(flat), flat.shape)
    hi = np.unravel_index(np.nanargmax(flat), flat.shape)
    n = min(x.shape[1], MAP_TOKENS)
    rec = probe_attention(model, {"input_ids": x[:1, :n]}, keep_weights=True, block_size=block_size)
    maps = []
    for label, (l, h) in (("most particle-like", lo), ("most wave-like", hi)):
        w = rec.layers[int(l)].weights[0, int(h)].float()
        maps.append({"label": label, "layer": int(l), "head": int(h), "entropy": float(entropy[l, h]),
                     "weights": w.tolist()})
    return maps


def _gpt2_attentions(model):
    return [block.attn for block in model.transformer.h]


def _one_seed(config, seed, data, vocab, progress):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    split = int(0.9 * len(data))
    model = tiny_gpt2(vocab, layers=config["layers"], heads=config["heads"], width=config["width"],
                      positions=config["length"])
    train_char_lm(model, data[:split], steps=config["steps"], batch=config["batch"], length=config["length"],
                  lr=config["lr"], generator=g, progress=progress, desc=f"train seed {seed}")
    x, y = char_batch(data[split:], config["eval_batch"], config["length"], g)
    with torch.no_grad():
        logits = model(input_ids=x).logits
        base = float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))
        rec = probe_attention(model, {"input_ids": x}, keep_weights=False, block_size=config["block_size"])
        out_err = float((rec.output.logits - logits).abs().max())
        stats = _layer_stats(rec)
        entropy = torch.stack([s[1] for s in stats]).numpy()          # (L, H)
        eps = torch.stack([s[2] for s in stats]).numpy()
        attentions = _gpt2_attentions(model)
        if len(attentions) != len(stats):
            raise InputError(f"{NAME}: the probe read {len(stats)} attention calls, the model has "
                             f"{len(attentions)} blocks")
        delta = np.zeros_like(entropy)
        for l, attn in enumerate(attentions):
            for h in range(entropy.shape[1]):
                with ablate_hf_head(attn, h, entropy.shape[1]):
                    delta[l, h] = float(lm_loss(model, x, y)) - base
    rho = spearman(entropy.ravel(), delta.ravel())
    return {"seed": seed, "loss": base, "entropy": entropy, "eps": eps, "delta": delta, "rho": rho,
            "output_error": out_err, "model": model, "x": x}


def _interval_text(mean, ci, digits=3):
    return f"{mean:.{digits}g} [{ci[0]:.{digits}g}, {ci[1]:.{digits}g}]"


def _depth_series(entropy: np.ndarray) -> dict:
    return {"layer_mean": np.nanmean(entropy, axis=1).tolist(), "layer_sd": np.nanstd(entropy, axis=1).tolist()}


def _head_rows(entropy, eps, delta=None):
    rows = []
    for l in range(entropy.shape[0]):
        for h in range(entropy.shape[1]):
            v = float(entropy[l, h])
            row = [l, h, float(eps[l, h]), v, regime(v)]
            if delta is not None:
                row.append(float(delta[l, h]))
            rows.append(row)
    return rows


@register(NAME, title="Hugging Face GPT-2: head entropy against ablation damage",
          description="A small GPT2LMHeadModel trained here on the character corpus (or a checkpoint "
                      "given as model=PATH, not trained); per-head normalised entropy by depth, and "
                      "Spearman's correlation of entropy with the loss increase when a head is ablated "
                      "(the paper: prune near-maximum-entropy heads, keep near-zero ones).",
          presets=PRESETS, reproduces="§ transformers (head entropy and pruning)")
def run(config: dict, *, seed: int, progress: bool) -> Result:
    require_transformers()
    with single_thread():
        if config.get("model") is not None:
            return _run_checkpoint(config, seed, progress)
        return _run_trained(config, seed, progress)


def _run_trained(config, seed, progress):
    seeds = derived_seeds(NAME, seed, config["seeds"])
    data, chars = encode(stdlib_corpus(config["max_chars"]))
    runs = [_one_seed(config, s, data, len(chars), progress) for s in seeds]
    first = runs[0]
    rhos = [r["rho"] for r in runs if np.isfinite(r["rho"])]
    if rhos:
        m_rho, ci_rho = seed_interval(rhos)
        v_rho = interval_verdict(ci_rho, (-1.0, 0.0), [0.0])
        measured = f"Spearman ρ(entropy, Δloss) {_interval_text(m_rho, ci_rho, 2)} over {len(rhos)} seed(s)"
    else:
        v_rho, measured = "inconclusive", "Spearman ρ undefined (all heads had equal entropy)"
    claims = [Claim(
        "Prune near-maximum-entropy heads, keep near-zero ones: a head's normalised entropy correlates "
        "negatively with the loss increase when it is removed.",
        f"a GPT2LMHeadModel ({config['layers']} layers x {config['heads']} heads, width {config['width']}) "
        f"trained for {config['steps']} steps per seed on the character corpus; each head ablated by "
        "zeroing its rows of the Conv1D output projection; per seed Spearman's ρ between the heads' "
        f"mean H / log k and the held-out loss increase; 95 % t interval over {len(seeds)} seeds; "
        "expected ρ < 0",
        measured, v_rho,
        {"confirmed": "The interval over seeds lies below 0: low-entropy heads cost more to remove.",
         "inconclusive": "The interval over seeds covers 0 (with one seed it is unbounded).",
         "not confirmed": "The interval over seeds lies above 0: high-entropy heads cost more to remove."}[v_rho],
        rival="no relation between entropy and ablation damage (ρ = 0)")]
    err = max(r["output_error"] for r in runs)
    claims.append(Claim(
        "Reading the heads does not change the model: the probed forward pass gives the same logits.",
        f"max |logits(probed) − logits(unprobed)| over the held-out batch and seeds, against {OUTPUT_TOL:g} "
        "(float32 rounding of logits of order 10 when only the summation order differs)",
        f"{err:.2e}", identity_verdict(err, OUTPUT_TOL),
        "The probe wraps the attention backend; the output must be the unprobed one up to rounding."
        if err < OUTPUT_TOL else "The probed output differs from the unprobed one beyond rounding.",
        kind="identity"))
    maps = _maps(first["model"], first["x"], first["entropy"], config["block_size"])
    tables = {
        "heads": Table(f"Heads of seed {first['seed']} (held-out loss {first['loss']:.3f})",
                       ["layer", "head", "eps", "H / log k", "regime", "Δ loss when ablated"],
                       _head_rows(first["entropy"], first["eps"], first["delta"])),
        "seeds": Table("Per seed: held-out loss, Spearman ρ(entropy, Δloss), entropy range, probe output error",
                       ["seed", "loss", "Spearman ρ", "min H / log k", "max H / log k", "output error"],
                       [[r["seed"], r["loss"], r["rho"], float(np.nanmin(r["entropy"])),
                         float(np.nanmax(r["entropy"])), r["output_error"]] for r in runs]),
    }
    series = {"heads": {"entropy": first["entropy"].tolist(), "delta": first["delta"].tolist(),
                        "eps": first["eps"].tolist(), "rho": first["rho"], **_depth_series(first["entropy"])},
              "maps": maps,
              "per_seed": {"seeds": seeds, "rho": [r["rho"] for r in runs], "loss": [r["loss"] for r in runs]}}
    return Result(name=NAME, preset="", config=config, tables=tables, series=series, claims=claims, notes=[
        "Entropies are normalised by log of the number of keys each query sees (causal mask); the first "
        "position (one visible key) is left out. Regime bands: particle < "
        f"{REGIME_BANDS[0]} <= mixed < {REGIME_BANDS[1]} <= wave (THEORY §8).",
        "Ablation zeroes the d_head rows of GPT-2's Conv1D output projection (x @ W, W of shape (in, out)) "
        "that read the head: its term is removed exactly; the rows are restored afterwards.",
        f"Seeds {seeds}: each trains a model afresh; the head table and figures show the first seed.",
        "Models run on one intra-op thread (restored afterwards); nothing is downloaded."])


# ---------------------------------------------------------------------------------------------
# model=PATH: a user's checkpoint, probed on the corpus text
# ---------------------------------------------------------------------------------------------
def _load_checkpoint(path):
    transformers = require_transformers()
    folder = Path(str(path)).expanduser()
    if not folder.is_dir():
        raise InputError(f"{NAME}: model={path!r} is not a folder; expected a local Hugging Face checkpoint "
                         "folder (config.json, weights, tokenizer files); nothing is downloaded")
    if not (folder / "config.json").is_file():
        raise InputError(f"{NAME}: model={path!r} holds no config.json; expected a folder written by "
                         "save_pretrained")
    tok = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
        causal = True
    except ValueError:  # not a causal language model: probe the base model, no ablation
        model = transformers.AutoModel.from_pretrained(folder, local_files_only=True)
        causal = False
    return tok, model.eval(), causal


def _windows(ids: torch.Tensor, length: int, count: int) -> torch.Tensor:
    """``count`` windows of ``length`` tokens, evenly spaced over ``ids``."""
    if len(ids) < length + 1:
        raise InputError(f"{NAME}: the corpus tokenises to {len(ids)} tokens; need at least {length + 1} "
                         f"for probe_length={length}")
    starts = torch.linspace(0, len(ids) - length - 1, count).long()
    return ids[starts[:, None] + torch.arange(length + 1)]


def _max_positions(config) -> int | None:
    for key in ("n_positions", "max_position_embeddings"):
        v = getattr(config, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def _run_checkpoint(config, seed, progress):
    tok, model, causal = _load_checkpoint(config["model"])
    text = stdlib_corpus(config["max_chars"])
    ids = torch.tensor(tok(text, add_special_tokens=False)["input_ids"], dtype=torch.long)
    length = config["probe_length"]
    limit = _max_positions(model.config)
    if limit is not None:
        length = min(length, limit - 1)
    seq = _windows(ids, length, config["probe_batch"])
    x, y = seq[:, :-1], seq[:, 1:]
    g = np.random.default_rng(seed)
    with torch.no_grad():
        rec = probe_attention(model, {"input_ids": x}, keep_weights=False, block_size=config["block_size"])
    stats = _layer_stats(rec)
    per_seq = torch.stack([s[0] for s in stats], 1).numpy()          # (B, L, H)
    entropy = torch.stack([s[1] for s in stats]).numpy()              # (L, H)
    eps = torch.stack([s[2] for s in stats]).numpy()
    B = per_seq.shape[0]
    boot = g.integers(0, B, size=(config["bootstrap"], B))
    boot_heads = np.nanmean(per_seq[boot], axis=1)                    # (n_boot, L, H)
    mins = np.nanmin(boot_heads.reshape(len(boot), -1), axis=1)
    maxs = np.nanmax(boot_heads.reshape(len(boot), -1), axis=1)
    ci_min = tuple(np.percentile(mins, [2.5, 97.5]))
    ci_max = tuple(np.percentile(maxs, [2.5, 97.5]))
    lo_obs, hi_obs = float(np.nanmin(entropy)), float(np.nanmax(entropy))
    v_min = interval_verdict(ci_min, PAPER_RANGE[0], [(REGIME_BANDS[0], 1.0)], tol=PAPER_ROUNDING)
    v_max = interval_verdict(ci_max, PAPER_RANGE[1], [(0.0, REGIME_BANDS[1])], tol=PAPER_ROUNDING)
    verdict = combine_verdicts([v_min, v_max])
    name = str(config["model"])
    claims = [Claim(
        f"Heads of a pretrained language model span H / log k ≈ {PAPER_RANGE[0]} to {PAPER_RANGE[1]} "
        "(distilgpt2 in the paper).",
        f"checkpoint {name!r} probed on {B} windows of {length} tokens of the character corpus text; the "
        "smallest and largest head means of H / log k, 95 % percentile bootstrap intervals over the windows "
        f"({config['bootstrap']} resamples), widened by {PAPER_ROUNDING} (the stated values' rounding), "
        f"against {PAPER_RANGE[0]} and {PAPER_RANGE[1]}",
        f"min {lo_obs:.3f} [{ci_min[0]:.3f}, {ci_min[1]:.3f}] ({v_min}); "
        f"max {hi_obs:.3f} [{ci_max[0]:.3f}, {ci_max[1]:.3f}] ({v_max})",
        verdict,
        {"confirmed": "Both ends of the range agree with the stated values and exclude the rivals.",
         "partly": "One end of the range agrees with the stated value, the other does not.",
         "inconclusive": "The intervals cover the stated values and a rival as well.",
         "not confirmed": "The measured range misses the stated values (the text, the sequence length "
                          "and the model differ from the paper's unstated ones)."}[verdict],
        rival=f"no particle head (min >= {REGIME_BANDS[0]}) / no wave head (max < {REGIME_BANDS[1]})")]
    delta, rho = None, float("nan")
    attentions = _attention_modules(model, rec) if causal else None
    if attentions is not None:
        H = entropy.shape[1]
        with torch.no_grad():
            base = _per_seq_loss(model, x, y)
            d_seq = np.zeros((B,) + entropy.shape)
            for l, attn in enumerate(attentions):
                for h in range(H):
                    with ablate_hf_head(attn, h, H):
                        d_seq[:, l, h] = _per_seq_loss(model, x, y) - base
        delta = d_seq.mean(0)
        rho = spearman(entropy.ravel(), delta.ravel())
        rhos = np.array([spearman(np.nanmean(per_seq[b], 0).ravel(), d_seq[b].mean(0).ravel()) for b in boot])
        rhos = rhos[np.isfinite(rhos)]
        if len(rhos):
            ci = tuple(np.percentile(rhos, [2.5, 97.5]))
            v_rho = interval_verdict(ci, (-1.0, 0.0), [0.0])
            measured = f"Spearman ρ {rho:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"
        else:
            v_rho, measured = "inconclusive", "Spearman ρ undefined (constant entropies or losses)"
        claims.append(Claim(
            "Prune near-maximum-entropy heads, keep near-zero ones: a head's normalised entropy correlates "
            "negatively with the loss increase when it is removed.",
            f"checkpoint {name!r}: each head ablated by zeroing its slice of the attention output projection; "
            "Spearman's ρ between the heads' mean H / log k and the mean next-token loss increase over the "
            f"windows; 95 % percentile bootstrap interval over the {B} windows; expected ρ < 0",
            measured, v_rho,
            {"confirmed": "The bootstrap interval lies below 0.",
             "inconclusive": "The bootstrap interval covers 0.",
             "not confirmed": "The bootstrap interval lies above 0."}[v_rho],
            rival="no relation between entropy and ablation damage (ρ = 0)"))
    maps = _maps(model, x, entropy, config["block_size"])
    tables = {"heads": Table(f"Heads of {name!r} ({B} windows of {length} tokens)",
                             ["layer", "head", "eps", "H / log k", "regime"] +
                             (["Δ loss when ablated"] if delta is not None else []),
                             _head_rows(entropy, eps, delta))}
    series = {"heads": {"entropy": entropy.tolist(), "eps": eps.tolist(),
                        "delta": None if delta is None else delta.tolist(), "rho": rho,
                        **_depth_series(entropy)},
              "maps": maps, "range": {"min": lo_obs, "max": hi_obs, "ci_min": list(ci_min),
                                      "ci_max": list(ci_max), "paper": list(PAPER_RANGE)}}
    notes = [f"Checkpoint {name!r} ({type(model).__name__}) read from a local folder; no training, nothing "
             "downloaded.",
             "Normalised entropies depend on the text and on the window length (log k grows with it); the "
             "paper does not state its text or length."]
    if delta is None:
        notes.append("No ablation: the checkpoint is not a causal language model with a known output "
                     "projection (c_proj, o_proj, out_proj).")
    return Result(name=NAME, preset="", config=config, tables=tables, series=series, claims=claims, notes=notes)


def _attention_modules(model, rec):
    """The attention modules the probe read, in call order (``None`` when one cannot be ablated)."""
    found = []
    for layer in rec.layers:
        try:
            module = model.get_submodule(layer.name)
        except AttributeError:
            return None
        if out_projection(module) is None:
            return None
        found.append(module)
    return found


def _per_seq_loss(model, x, y) -> np.ndarray:
    logits = model(input_ids=x).logits.float()
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")
    return ce.mean(1).numpy()
