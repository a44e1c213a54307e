"""Benchmark: the overhead of ``hjdl.probe.probe_attention`` on a forward pass (issue 6, goal <= 10 %).

    python bench/bench_probe.py [--layers 4 --d-model 128 --heads 4 --length 128 --batch 16]

Baseline: the same model's forward pass under ``torch.no_grad`` with the weights it asks for
(``need_weights=False`` inside ``TransformerEncoderLayer``), measured in the same run.
Probe: ``probe_attention(model, x, keep_weights=False)`` (hooks, per-head weights, entropies).
Prints one JSON line with both times and their ratio.
"""

from __future__ import annotations

import argparse
import json

import torch
from _timing import best_time

from hjdl.experiments._text import TinyTransformer
from hjdl.probe import probe_attention


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=15, help="interleaved timing rounds (min taken)")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    model = TinyTransformer(64, args.d_model, args.heads, args.layers, args.length, ffn=4 * args.d_model).eval()
    x = torch.randint(0, 64, (args.batch, args.length))

    def base():
        with torch.no_grad():
            model(x)

    probe = lambda: probe_attention(model, x, keep_weights=False)  # noqa: E731
    base(), probe()  # warm-up
    base_ts, probe_ts = [], []
    for _ in range(args.rounds):  # interleaved, so that machine noise hits both alike
        base_ts.append(best_time(base, repeat=1, warmup=False))
        probe_ts.append(best_time(probe, repeat=1, warmup=False))
    base_t, probe_t = min(base_ts), min(probe_ts)
    print(json.dumps({"forward_s": base_t, "probe_s": probe_t, "ratio": probe_t / base_t,
                      "goal": "ratio <= 1.10", "config": vars(args)}))


if __name__ == "__main__":
    main()
