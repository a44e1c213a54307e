"""Benchmark: ``hjdl.control.costate`` against autograd forward + backward (issue 6, goal <= 3x).

    python bench/bench_costate.py [--dim 64 --hidden 128 --depth 32 --batch 256 --rounds 7]

Baseline: ``loss(net(x)).backward()`` on the same ResidualNet, measured in the same run.
Timing protocol of ``bench/_timing.py``: first (cold) call of each timed separately, then the best
of ``--rounds`` warm calls of each, interleaved. Prints one JSON line (both timings, the warm and
first-call ratios) and the goal line.
"""

from __future__ import annotations

import argparse
import json

import torch
from _timing import goal_line, interleaved

from hjdl.control import ResidualNet, costate


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--depth", type=int, default=32)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=7, help="warm calls of each (interleaved; best taken)")
    args = ap.parse_args(argv)
    net = ResidualNet(args.dim, args.depth, hidden=args.hidden, generator=torch.Generator().manual_seed(0))
    x = torch.randn(args.batch, args.dim, generator=torch.Generator().manual_seed(1))
    target = torch.randint(0, args.dim, (args.batch,), generator=torch.Generator().manual_seed(2))
    loss = lambda xL: torch.nn.functional.cross_entropy(xL, target)

    def autograd():
        net.zero_grad()
        loss(net(x)).backward()

    timing = interleaved({"forward_backward": autograd, "costate": lambda: costate(net, x, loss)},
                         rounds=args.rounds)
    base, ours = timing["forward_backward"], timing["costate"]
    r = ours.best / base.best
    print(json.dumps({"forward_backward": base.as_dict(), "costate": ours.as_dict(), "ratio_warm": r,
                      "ratio_first_call": ours.first / base.first, "goal": "ratio_warm <= 3",
                      "goal_met": r <= 3, "config": vars(args)}))
    print(goal_line("costate <= 3x the time of autograd forward + backward (warm)",
                    f"{r:.2f}x warm ({1e3 * ours.best:.1f} ms vs {1e3 * base.best:.1f} ms; first call "
                    f"{1e3 * ours.first:.0f} ms vs {1e3 * base.first:.0f} ms)", r <= 3))
    return r


if __name__ == "__main__":
    main()
