"""Benchmark: ``hjdl.control.costate`` against autograd forward + backward (issue 6, goal <= 3x).

    python bench/bench_costate.py [--dim 64 --hidden 128 --depth 32 --batch 256]

Baseline: ``loss(net(x)).backward()`` on the same ResidualNet, measured in the same run.
Prints one JSON line with both times and their ratio.
"""

from __future__ import annotations

import argparse
import json

import torch
from _timing import best_time

from hjdl.control import ResidualNet, costate


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--depth", type=int, default=32)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args(argv)
    net = ResidualNet(args.dim, args.depth, hidden=args.hidden, generator=torch.Generator().manual_seed(0))
    x = torch.randn(args.batch, args.dim, generator=torch.Generator().manual_seed(1))
    target = torch.randint(0, args.dim, (args.batch,), generator=torch.Generator().manual_seed(2))
    loss = lambda xL: torch.nn.functional.cross_entropy(xL, target)

    def autograd():
        net.zero_grad()
        loss(net(x)).backward()

    base_t = best_time(autograd)
    ours_t = best_time(lambda: costate(net, x, loss))
    print(json.dumps({"forward_backward_s": base_t, "costate_s": ours_t, "ratio": ours_t / base_t,
                      "goal": "ratio <= 3", "config": vars(args)}))


if __name__ == "__main__":
    main()
