"""Benchmark: the overhead of ``hjdl.probe.probe_attention`` on a forward pass (issue 6, goal <= 10 %).

    python bench/bench_probe.py [--layers 4 --d-model 128 --heads 4 --length 128 --batch 16]

Baseline: the same model's forward pass under ``torch.no_grad`` with the weights it asks for
(``need_weights=False`` inside ``TransformerEncoderLayer``), measured in the same run.
Probe: ``probe_attention(model, x, keep_weights=False)`` (hooks, per-head weights, entropies).
Timing protocol of ``bench/_timing.py``: first (cold) call of each timed separately, then the best
of ``--rounds`` warm calls of each, interleaved. Prints one JSON line (both timings and their
ratios) and the goal line.
"""

from __future__ import annotations

import argparse
import json

import torch
from _timing import goal_line, interleaved

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
    timing = interleaved({"forward": base, "probe": probe}, rounds=args.rounds)
    fwd, prb = timing["forward"], timing["probe"]
    r = prb.best / fwd.best
    print(json.dumps({"forward": fwd.as_dict(), "probe": prb.as_dict(), "ratio_warm": r,
                      "ratio_first_call": prb.first / fwd.first, "goal": "ratio_warm <= 1.10",
                      "goal_met": r <= 1.10, "config": vars(args)}))
    print(goal_line("probe_attention overhead <= 10 % of the forward pass (warm)",
                    f"{100 * (r - 1):+.1f} % warm ({1e3 * prb.best:.1f} ms vs {1e3 * fwd.best:.1f} ms; "
                    f"first call {1e3 * prb.first:.0f} ms vs {1e3 * fwd.first:.0f} ms)", r <= 1.10))
    return r


if __name__ == "__main__":
    main()
