"""Benchmark of the core kernels: ratios against bare torch baselines measured in the same run.

    python bench/bench_core.py [--points 5000 --atoms 100000 --dim 64 --rounds 5]

1. ``hjdl.lse`` vs ``eps * torch.logsumexp(z / eps)`` on a (4096, 4096) block.
2. ``hjdl.hopf_cole`` and ``hjdl.lse_layer`` on points × atoms × d vs the bare
   ``matmul + logsumexp`` on the same data, in float32 and float64.

Timings follow bench/_timing.py: the first call is reported on its own, and the warm time is the
best of ``--rounds`` calls interleaved with the baseline's.

Memory: each variant runs in a fresh child process, which reads its resident set
(``/proc/self/status``) before the call and its peak after it (the peak is reset first where
the kernel allows, else it is the process's peak so far). hjdl evaluates in blocks of
``hjdl.CHUNK_ELEMENTS`` entries written into one buffer per call, so its claim is: the extra
peak stays below ``CLAIM_BLOCKS`` blocks plus ``SLACK_MIB`` (allocator and BLAS workspaces, input
validation) at every size, for both dtypes, and grows by at most one block (a partly filled one
at the smaller size) from ``(P/4, N/4)`` to ``(P, N)``; the baseline
holds the full points × atoms logit matrix (timed and measured at the smaller size only when
``--bare-full`` is not given, to stay within the machine's memory).

Goals: hopf_cole and lse_layer warm throughput >= 0.7x the bare baseline (both dtypes), and the
memory claim. The script exits non-zero, saying why, when the memory claim does not hold (a
throughput below its goal is reported as NOT MET without failing: it depends on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch
from _timing import goal_line, interleaved, ratio

import hjdl

CLAIM_BLOCKS = 3      # the extra peak claimed, in blocks of CHUNK_ELEMENTS entries
SLACK_MIB = 48        # allocator arenas, BLAS packing buffers, thread stacks, small temporaries
GROWTH_MIB = 16       # tolerated difference between the two sizes (measurement noise)
THROUGHPUT_GOAL = 0.7


def make_data(points, atoms, dim, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(points, dim, generator=g, dtype=dtype)
    y = torch.randn(atoms, dim, generator=g, dtype=dtype)
    vals = torch.rand(atoms, generator=g, dtype=dtype)
    return x, hjdl.InitialData(y, vals)


def bare_hopf_cole(x, data, eps, t=1.0):
    W, b = hjdl.from_initial_data(data, t)
    z = x @ W.T + b
    return (x * x).sum(-1) / (4 * t) - eps * torch.logsumexp(z / eps, dim=-1)


def bare_layer(x, W, b, eps):
    return eps * torch.logsumexp((x @ W.T + b) / eps, dim=-1)


def _status():
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def child(kind, points, atoms, dim, dtype):
    """Run one variant once and print its extra peak memory (MiB) as JSON."""
    x, data = make_data(points, atoms, dim, getattr(torch, dtype))
    W, b = hjdl.from_initial_data(data)
    calls = {"hopf_cole": lambda: hjdl.hopf_cole(x, data, 0.5),
             "lse_layer": lambda: hjdl.lse_layer(x, W, b, 0.5),
             "bare_hopf_cole": lambda: bare_hopf_cole(x, data, 0.5),
             "bare_layer": lambda: bare_layer(x, W, b, 0.5)}
    with torch.no_grad():  # warm the libraries up on a tiny problem (not counted)
        hjdl.hopf_cole(x[:2], hjdl.InitialData(data.y[:3], data.g[:3]), 0.5)
        hjdl.lse_layer(x[:2], W[:3], b[:3], 0.5)
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset the peak to the current resident set
        reset = True
    except OSError:
        reset = False
    before = _status()
    with torch.no_grad():
        out = calls[kind]()
    after = _status()
    print(json.dumps({"extra_peak_mib": after["VmHWM"] - before["VmRSS"],
                      "held_after_mib": after["VmRSS"] - before["VmRSS"], "peak_reset": reset,
                      "checksum": float(out.double().sum())}))


def run_child(kind, points, atoms, dim, dtype):
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind, "--points",
                           str(points), "--atoms", str(atoms), "--dim", str(dim), "--dtype", dtype],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"FAIL: the memory child {kind} {dtype} {points}x{atoms} exited with "
                         f"{proc.returncode}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory(args):
    """Measure every variant; return (lines, failures)."""
    lines, failures = [], []
    big, small = (args.points, args.atoms), (max(1, args.points // 4), max(1, args.atoms // 4))
    for dtype in ("float32", "float64"):
        block = hjdl.CHUNK_ELEMENTS * torch.finfo(getattr(torch, dtype)).bits / 8 / 2**20
        limit = CLAIM_BLOCKS * block + SLACK_MIB
        for kind in ("hopf_cole", "lse_layer"):
            m = {size: run_child(kind, *size, args.dim, dtype) for size in (big, small)}
            peaks = {size: m[size]["extra_peak_mib"] for size in m}
            lines.append(f"extra peak memory, {kind} {dtype}: {peaks[big]:.0f} MiB at {big[0]}x{big[1]}, "
                         f"{peaks[small]:.0f} MiB at {small[0]}x{small[1]} (held after the call: "
                         f"{m[big]['held_after_mib']:.0f} MiB; claim: <= {limit:.0f} MiB = "
                         f"{CLAIM_BLOCKS} blocks of {block:.0f} MiB + {SLACK_MIB} MiB, growth <= 1 block)")
            for size, peak in peaks.items():
                if peak > limit:
                    failures.append(f"{kind} {dtype} at {size[0]}x{size[1]}: extra peak {peak:.0f} MiB "
                                    f"> claimed {limit:.0f} MiB")
            # the smaller size may fill less than one block: growth beyond one block is growth
            if peaks[big] > peaks[small] + block + GROWTH_MIB:
                failures.append(f"{kind} {dtype}: extra peak grew from {peaks[small]:.0f} MiB to "
                                f"{peaks[big]:.0f} MiB with the problem size")
            if not m[big]["peak_reset"]:
                lines.append("  (the peak could not be reset: it includes building the inputs)")
        bare_size = big if args.bare_full else small
        bare = run_child("bare_hopf_cole", *bare_size, args.dim, dtype)["extra_peak_mib"]
        lines.append(f"extra peak memory, bare matmul+logsumexp {dtype}: {bare:.0f} MiB at "
                     f"{bare_size[0]}x{bare_size[1]} (its logit matrix alone is "
                     f"{bare_size[0] * bare_size[1] * block / hjdl.CHUNK_ELEMENTS:.0f} MiB)")
    return lines, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=5_000)
    ap.add_argument("--atoms", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bare-full", action="store_true",
                    help="time and measure the bare baseline at the full size (needs points x atoms x "
                         "8 bytes x ~3 of memory in float64)")
    ap.add_argument("--child", choices=["hopf_cole", "lse_layer", "bare_hopf_cole", "bare_layer"])
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.points, args.atoms, args.dim, args.dtype)

    # peak memory first, each variant in a fresh child process (before this process allocates)
    mem_lines, failures = memory(args)
    for line in mem_lines:
        print(line)

    torch.manual_seed(0)
    z = torch.randn(4096, 4096)
    eps = 0.3
    with torch.no_grad():
        tl = interleaved({"hjdl": lambda: hjdl.lse(z, eps),
                          "torch": lambda: eps * torch.logsumexp(z / eps, dim=-1)}, rounds=args.rounds)
        err = float((hjdl.lse(z.double(), eps) - eps * torch.logsumexp(z.double() / eps, -1)).abs().max())
    r = ratio(tl["torch"], tl["hjdl"])
    print(f"lse (4096 x 4096, float32): hjdl {tl['hjdl'].best * 1e3:.1f} ms (first call "
          f"{tl['hjdl'].first * 1e3:.1f} ms), torch {tl['torch'].best * 1e3:.1f} ms, throughput ratio "
          f"{r['speedup_warm']:.2f}x (float64 max diff {err:.1e})")

    results = {}
    size = (args.points, args.atoms) if args.bare_full else (max(1, args.points // 4), max(1, args.atoms // 4))
    for dtype in (torch.float32, torch.float64):
        x, data = make_data(*size, args.dim, dtype)
        W, b = hjdl.from_initial_data(data)
        with torch.no_grad():
            t = interleaved({"hopf_cole": lambda: hjdl.hopf_cole(x, data, 0.5),
                             "bare_hopf_cole": lambda: bare_hopf_cole(x, data, 0.5),
                             "lse_layer": lambda: hjdl.lse_layer(x, W, b, 0.5),
                             "bare_layer": lambda: bare_layer(x, W, b, 0.5)}, rounds=args.rounds)
        diff = float((t["hopf_cole"].result - t["bare_hopf_cole"].result).abs().max())
        for name, base_name in (("hopf_cole", "bare_hopf_cole"), ("lse_layer", "bare_layer")):
            base = t[base_name]
            r = ratio(base, t[name])
            results[(name, dtype)] = r["speedup_warm"]
            print(f"{name} ({size[0]} points x {size[1]} atoms x d={args.dim}, {str(dtype)[6:]}): hjdl "
                  f"{t[name].best:.3f} s warm (first call {t[name].first:.3f} s), bare "
                  f"{base.best:.3f} s warm (first call {base.first:.3f} s): throughput ratio "
                  f"{r['speedup_warm']:.2f}x warm, {r['speedup_first_call']:.2f}x first call"
                  + (f" (max |diff| {diff:.1e})" if name == "hopf_cole" else ""))

    worst = min(results.values())
    print(goal_line(f"hopf_cole and lse_layer warm throughput >= {THROUGHPUT_GOAL}x the bare baseline "
                    "(float32 and float64)", f"lowest {worst:.2f}x", worst >= THROUGHPUT_GOAL))
    print(goal_line("extra peak memory bounded by a few blocks, no growth with points x atoms beyond one block",
                    "; ".join(failures) if failures else "held for every variant and size", not failures))
    if failures:
        print("FAIL: the memory claim does not hold:\n  " + "\n  ".join(failures), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
