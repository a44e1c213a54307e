"""Benchmark: batched curvature ‖∇²f(x)‖₂ vs a per-point NumPy loop (ratio measured in one run).

10,000 points × N = 128 neurons × d = 50, float64, eps = 1. The baseline is how the authors'
script computes it (``hessian_norm_nd``): Gibbs weights for the batch, then per point the
covariance ``(W·π)ᵀW − μμᵀ`` (μ summed twice, as there) and ``np.linalg.norm(cov / eps, 2)``. Ours: ``hjdl.robustness.curvature``
(low-rank factor, whole batch at once) with each engine. Prints times, the speed-up and the
largest relative difference; exits 1 if the values differ by more than 1e-10 (relative).
Note: the baseline's uncentred ``E[WWᵀ] − μμᵀ`` cancels catastrophically when π is nearly
one-hot (small eps), so at small ``--eps`` a "DIFFER" verdict reflects the baseline's error;
``tests/robustness/test_robustness_spectral_regimes.py`` checks hjdl against an
extended-precision centred oracle there.

    python bench/bench_curvature.py [--points 10000] [--neurons 128] [--dim 50] [--eps 1.0]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from hjdl.robustness import curvature


def baseline(X, W, b, eps):
    z = (X @ W.T + b) / eps
    z -= z.max(1, keepdims=True)
    P = np.exp(z)
    P /= P.sum(1, keepdims=True)
    out = np.empty(len(X))
    for i in range(len(X)):  # the per-point loop being replaced, as the authors' script writes it
        p = P[i]
        cov = (W * p[:, None]).T @ W - np.outer((p[:, None] * W).sum(0), (p[:, None] * W).sum(0))
        out[i] = np.linalg.norm(cov / eps, ord=2)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--neurons", type=int, default=128)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--eps", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(args.neurons, args.dim)) / np.sqrt(args.dim)
    b = 0.1 * rng.normal(size=args.neurons)
    X = rng.normal(size=(args.points, args.dim))
    Wt, bt, Xt = map(torch.from_numpy, (W, b, X))

    t = time.perf_counter()
    ref = baseline(X, W, b, args.eps)
    t_base = time.perf_counter() - t
    print(f"curvature: {args.points} points x N={args.neurons} x d={args.dim}, eps={args.eps}, "
          f"float64, {torch.get_num_threads()} threads")
    print(f"  per-point NumPy loop       {t_base:8.3f} s")
    ok = True
    best = 0.0
    for method in ("eigh", "lanczos", "auto"):
        curvature((Wt, bt, args.eps), Xt[:256], method=method)  # warm-up
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            got = curvature((Wt, bt, args.eps), Xt, method=method).numpy()
            times.append(time.perf_counter() - t)
        err = float(np.max(np.abs(got - ref) / np.abs(ref)))
        speed = t_base / min(times)
        best = max(best, speed)
        ok &= err <= 1e-10
        print(f"  hjdl curvature ({method:7s})  {min(times):8.3f} s   speed-up {speed:6.1f}x   "
              f"max rel diff {err:.2e}")
    print(f"target: >= 20x and <= 1e-10 relative; best speed-up {best:.1f}x "
          f"(speed target {'met' if best >= 20 else 'NOT met'}), values {'agree' if ok else 'DIFFER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
