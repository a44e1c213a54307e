"""Benchmark: probing a Hugging Face GPT-2 (issue 13, item 7).

    python bench/bench_probe_hf.py [--layers 12 --width 768 --heads 12 --seq 1024 --batch 1]
                                   [--device cpu|cuda] [--block-size N] [--rounds 5] [--skip-memory]

A randomly initialised ``GPT2Model`` of GPT-2-small size (built from a config; nothing is
downloaded) at sequence length 1024. Two goals, each measured in this one run:

* **time**: ``probe_attention(model, inputs, keep_weights=False)`` against the unprobed forward
  under SDPA (the model's default backend), both under ``torch.no_grad``; goal ratio <= 1.3.
  Timing protocol of ``bench/_timing.py``: the first (cold) call of each timed apart, then the
  best of ``--rounds`` warm calls, interleaved.
* **memory**: the peak memory of the probe, and of ``output_attentions=True`` under eager
  attention (the usual way to read attention weights), each over the memory before the call
  (goal: the probe's at least 10x smaller), and each minus the unprobed SDPA forward's peak. On
  CPU each variant runs in a fresh child process that reads its resident-set peak (``VmHWM`` in ``/proc/self/status``, reset through
  ``/proc/self/clear_refs`` where the kernel allows) around one call, after one warm-up call of
  the plain forward and a short call of the variant. On CUDA: ``torch.cuda.max_memory_allocated``
  around each call in this process. (``tracemalloc`` does not see torch's allocations.)

Prints one JSON line (timings, memory, ratios, config) and the two goal lines; exits non-zero
when the probe's output differs from the unprobed one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch
from _timing import goal_line, interleaved

from hjdl.probe import probe_attention

TIME_GOAL = 1.3
MEMORY_GOAL = 10.0


def build(args):
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    config = GPT2Config(n_layer=args.layers, n_embd=args.width, n_head=args.heads, n_positions=max(args.seq, 16),
                        vocab_size=50257, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2Model(config).to(args.device).eval()
    x = torch.randint(0, config.vocab_size, (args.batch, args.seq), device=args.device)
    return model, x


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def calls(model, x, block_size):
    """The three variants, each a zero-argument callable returning what it keeps alive (no key/value
    cache in any of them, so only the attention read-out differs)."""
    def sdpa():
        model.set_attn_implementation("sdpa")
        with torch.no_grad():
            out = model(input_ids=x, use_cache=False).last_hidden_state
        _sync(x.device)
        return out

    def probe():
        rec = probe_attention(model, {"input_ids": x, "use_cache": False}, keep_weights=False,
                              block_size=block_size)
        _sync(x.device)
        return rec

    def eager():
        model.set_attn_implementation("eager")
        try:
            with torch.no_grad():
                out = model(input_ids=x, use_cache=False, output_attentions=True)
        finally:
            model.set_attn_implementation("sdpa")
        _sync(x.device)
        return out

    return {"sdpa": sdpa, "probe": probe, "eager_attentions": eager}


def _status() -> dict:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def child(args):
    """One variant in a fresh process: print its peak resident memory over the state before it (MiB)."""
    model, x = build(args)
    fns = calls(model, x, args.block_size)
    fns["sdpa"]()                                                     # allocator warm for every variant
    short = calls(model, x[:, :16], args.block_size)[args.child]
    short()                                                           # imports / registration of the variant
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        reset = False
    before = _status()
    kept = fns[args.child]()
    after = _status()
    print(json.dumps({"extra_peak_mib": after["VmHWM"] - before["VmRSS"],
                      "held_after_mib": after["VmRSS"] - before["VmRSS"], "peak_reset": reset,
                      "kept": type(kept).__name__}))


def run_child(args, kind):
    argv = [sys.executable, os.path.abspath(__file__), "--child", kind, "--layers", str(args.layers),
            "--width", str(args.width), "--heads", str(args.heads), "--seq", str(args.seq), "--batch",
            str(args.batch)]
    if args.block_size is not None:
        argv += ["--block-size", str(args.block_size)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"FAIL: the memory child {kind} exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cuda_memory(fns, device):
    out = {}
    for kind in ("sdpa", "probe", "eager_attentions"):
        fns[kind]()                                                   # warm
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        kept = fns[kind]()
        peak = torch.cuda.max_memory_allocated(device)
        out[kind] = {"extra_peak_mib": (peak - base) / 2 ** 20,
                     "held_after_mib": (torch.cuda.memory_allocated(device) - base) / 2 ** 20}
        del kept
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--block-size", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (min taken)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--child", choices=("sdpa", "probe", "eager_attentions"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args)
    model, x = build(args)
    fns = calls(model, x, args.block_size)
    same = torch.equal(fns["probe"]().output.last_hidden_state, fns["sdpa"]())
    timing = interleaved({"forward": fns["sdpa"], "probe": fns["probe"]}, rounds=args.rounds)
    fwd, prb = timing["forward"], timing["probe"]
    r = prb.best / fwd.best
    report = {"forward_sdpa": fwd.as_dict(), "probe": prb.as_dict(), "ratio_warm": r,
              "ratio_first_call": prb.first / fwd.first, "output_identical": same,
              "time_goal": f"ratio_warm <= {TIME_GOAL}", "time_goal_met": r <= TIME_GOAL,
              "threads": torch.get_num_threads(), "config": {k: v for k, v in vars(args).items() if k != "child"}}
    mem_line = None
    if not args.skip_memory:
        if str(args.device).startswith("cuda"):
            mem = cuda_memory(fns, torch.device(args.device))
        else:
            mem = {kind: run_child(args, kind) for kind in ("sdpa", "probe", "eager_attentions")}
        # Two readings. (a) each call's peak over the memory before it (the forward's own activations
        # included): the goal's factor, conservative. (b) that peak minus the unprobed SDPA forward's,
        # clipped at 0 (a peak below the baseline's is RSS noise: the heap reuses freed pages).
        raw_probe = mem["probe"]["extra_peak_mib"]
        raw_eager = mem["eager_attentions"]["extra_peak_mib"]
        base = mem["sdpa"]["extra_peak_mib"]
        over_probe, over_eager = max(raw_probe - base, 0.0), max(raw_eager - base, 0.0)
        factor = raw_eager / max(raw_probe, 1.0)                      # 1 MiB: below that RSS cannot resolve
        report.update({"memory_mib": mem,
                       "peak_over_start_mib": {"sdpa": base, "probe": raw_probe, "eager_output_attentions": raw_eager},
                       "peak_over_sdpa_mib": {"probe": over_probe, "eager_output_attentions": over_eager},
                       "memory_factor": factor, "memory_goal": f"factor >= {MEMORY_GOAL} (peaks over start)",
                       "memory_goal_met": factor >= MEMORY_GOAL})
        mem_line = goal_line(f"probe's peak memory >= {MEMORY_GOAL:g}x below output_attentions=True (eager)",
                             f"peaks over the start {raw_probe:.1f} MiB vs {raw_eager:.1f} MiB ({factor:.1f}x; the "
                             f"unprobed SDPA forward {base:.1f} MiB); over that forward {over_probe:.1f} vs "
                             f"{over_eager:.1f} MiB", factor >= MEMORY_GOAL)
    print(json.dumps(report))
    print(goal_line(f"probe time <= {TIME_GOAL}x the unprobed SDPA forward (warm)",
                    f"{r:.2f}x ({1e3 * prb.best:.0f} ms vs {1e3 * fwd.best:.0f} ms; first call "
                    f"{1e3 * prb.first:.0f} ms vs {1e3 * fwd.first:.0f} ms)", r <= TIME_GOAL))
    if mem_line:
        print(mem_line)
    if not same:
        raise SystemExit("FAIL: the probed forward's output differs from the unprobed one")
    return r


if __name__ == "__main__":
    main()
