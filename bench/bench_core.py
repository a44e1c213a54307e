"""Benchmark of the core kernels: ratios against bare torch baselines measured in the same run.

    python bench/bench_core.py [--points 10000 --atoms 100000 --dim 64]

1. ``hjdl.lse`` vs ``eps * torch.logsumexp(z / eps)`` on a (4096, 4096) block.
2. ``hjdl.hopf_cole`` on points × atoms × d vs the bare ``matmul + logsumexp`` on the same data.
   Each variant also runs in a child process to measure its peak resident memory: hjdl's
   blocks keep the extra memory bounded (see ``hjdl.core.solution``), while the baseline holds
   the full points × atoms logit matrix.
Goal (issue 2): hopf_cole throughput >= 0.7x the bare baseline, with bounded memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

import torch
from _timing import best_time

import hjdl


def make_data(points, atoms, dim, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(points, dim, generator=g)
    y = torch.randn(atoms, dim, generator=g)
    vals = torch.rand(atoms, generator=g)
    return x, hjdl.InitialData(y, vals)


def bare(x, data, eps, t=1.0):
    W, b = hjdl.from_initial_data(data, t)
    z = x @ W.T + b
    return (x * x).sum(-1) / (4 * t) - eps * torch.logsumexp(z / eps, dim=-1)


def child(kind, points, atoms, dim):
    x, data = make_data(points, atoms, dim)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        out = hjdl.hopf_cole(x, data, 0.5) if kind == "hjdl" else bare(x, data, 0.5)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"extra_peak_mib": (after - before) / 1024, "checksum": float(out.double().sum())}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--atoms", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--child", choices=["hjdl", "bare"])
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.points, args.atoms, args.dim)

    # peak memory first, each variant in a fresh child process (before this process allocates)
    mem = {}
    runs = [("hjdl", args.points, args.atoms), ("hjdl", args.points // 4, args.atoms // 4),
            ("bare", args.points, args.atoms)]
    for kind, p, n in runs:
        out = subprocess.run([sys.executable, __file__, "--child", kind, "--points", str(p),
                              "--atoms", str(n), "--dim", str(args.dim)],
                             capture_output=True, text=True, check=True)
        mem[(kind, p, n)] = json.loads(out.stdout.strip().splitlines()[-1])["extra_peak_mib"]
    block = hjdl.CHUNK_ELEMENTS * 4 / 2**20
    print(f"extra peak memory (float32, no autograd): hjdl {mem[runs[0]]:.0f} MiB at {args.points}x{args.atoms}, "
          f"{mem[runs[1]]:.0f} MiB at {args.points // 4}x{args.atoms // 4} (blocks of {block:.0f} MiB; "
          f"no growth with points x atoms, unlike the baseline); bare {mem[runs[2]]:.0f} MiB "
          f"(the logit matrix alone is {args.points * args.atoms * 4 / 2**20:.0f} MiB)")

    torch.manual_seed(0)
    z = torch.randn(4096, 4096)
    eps = 0.3
    with torch.no_grad():
        t_lse = best_time(lambda: hjdl.lse(z, eps))
        t_ref = best_time(lambda: eps * torch.logsumexp(z / eps, dim=-1))
        err = float((hjdl.lse(z.double(), eps) - eps * torch.logsumexp(z.double() / eps, -1)).abs().max())
    print(f"lse (4096 x 4096, float32): hjdl {t_lse * 1e3:.1f} ms, torch {t_ref * 1e3:.1f} ms, "
          f"throughput ratio {t_ref / t_lse:.2f}x (float64 max diff {err:.1e})")

    x, data = make_data(args.points, args.atoms, args.dim)
    with torch.no_grad():
        t_hc = best_time(lambda: hjdl.hopf_cole(x, data, 0.5), repeat=2)
        t_bare = best_time(lambda: bare(x, data, 0.5), repeat=2)
        diff = float((hjdl.hopf_cole(x, data, 0.5) - bare(x, data, 0.5)).abs().max())
    ratio = t_bare / t_hc
    print(f"hopf_cole ({args.points} points x {args.atoms} atoms x d={args.dim}, float32): "
          f"hjdl {t_hc:.2f} s, bare matmul+logsumexp {t_bare:.2f} s, throughput ratio {ratio:.2f}x "
          f"(goal >= 0.7x; max |diff| {diff:.1e})")
    print("PASS" if ratio >= 0.7 else "BELOW GOAL", f"(hopf_cole / bare throughput {ratio:.2f}x)")


if __name__ == "__main__":
    main()
