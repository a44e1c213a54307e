"""Benchmark: 32 LSE networks of the ``scaling-trained`` paper configuration, batched vs one at a time.

Configuration (the paper preset of ``scaling-trained``): ``x ~ U(−2, 2)^d``, ``d = 2``, target
``‖x‖``, ``n_train = 4000``, full-batch Adam with lr 6e-3, one LSE layer of width ``N`` per network,
float64. The 32 networks are 16 seeds × the two schedules of the experiment (``eps = N^{−1/d}``
and the fixed control 0.1). Three ways of training the same 32 networks from the same initial
weights, for each width:

* ``batched``: :func:`hjdl.training.train_many` (stacked weights, one tensor program);
* ``HJRegressor``: the loop ``scaling-trained`` ran before (one :class:`hjdl.training.HJRegressor`
  per network, ``refine=None``, no early stopping, torch's thread setting);
* ``engine``: the same loop over :func:`hjdl.training.train` on bare :class:`hjdl.nn.LSELayer` s.

The per-network loss curves must agree to 1e-6 (relative); the ratio loop / batched is measured
in one run with the protocol of ``bench/_timing.py`` (first call cold, then ``--rounds``
interleaved warm calls, best taken). Goal (issue 14): batched >= 10x faster than the loop.
At N = 10 the loop pays torch's per-step overhead; at N >= 100 it is bound by passes over its
``(n, N)`` tensors (9-17 ns per logit here), which the compiled step never forms (1.4 ns per
logit on one thread, 0.7 on two: blocks of rows in the vector lanes, see
``hjdl.training._fused``).

The batched side runs the compiled fused step (``hjdl[fast]``, numba) when numba is installed,
else the torch step (``--engine torch`` forces it); the header names the engine and the torch
and numba thread counts. Measured numbers: the README's bench table.

    python bench/bench_training_batched.py [--widths 10 100 1000] [--steps 100] [--networks 32]
        [--rounds 1] [--threads N] [--engine compiled|torch]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import hjdl.training.batched as batched_module
from hjdl.nn import LSELayer
from hjdl.scaling import epsilon_star
from hjdl.training import HJRegressor, train, train_many

from _timing import goal_line, interleaved


def mse(pred, target):
    return torch.mean((pred - target) ** 2)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=2)
    ap.add_argument("--widths", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--steps", type=int, default=100, help="Adam steps (the paper uses 3000; reduced for speed)")
    ap.add_argument("--networks", type=int, default=32)
    ap.add_argument("--lr", type=float, default=6e-3)
    ap.add_argument("--fixed-eps", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=1, help="warm runs of each side (interleaved; best taken)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's setting)")
    ap.add_argument("--engine", choices=["compiled", "torch"], default="compiled",
                    help="batched step: the compiled fused kernel where numba is installed, or torch's")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    batched_module.USE_COMPILED = args.engine == "compiled"
    if batched_module._compiled() is not None:
        import numba

        engine = (f"compiled fused step (numba {numba.__version__}, "
                  f"{min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)} numba thread(s))")
    else:
        engine = "torch step" + (" (numba not installed)" if args.engine == "compiled" else "")
    rng = np.random.default_rng(args.seed)
    X = rng.uniform(-2, 2, size=(args.n, args.d))
    y = np.linalg.norm(X, axis=1)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    S = args.networks
    print(f"config: d={args.d} n={args.n} lr={args.lr} steps={args.steps} networks={S} "
          f"torch threads={torch.get_num_threads()}; batched engine: {engine}; best of {args.rounds} warm run(s) after a cold one")
    ratios = {}
    for N in args.widths:
        eps = [float(epsilon_star(N, args.d)) if k % 2 == 0 else args.fixed_eps for k in range(S)]
        states = [k // 2 for k in range(S)]
        # the initial (centred) weights HJRegressor starts from: a fit with zero Adam steps
        inits = [HJRegressor(width=N, eps=e, max_iter=0, refine=None, random_state=r).fit(X, y).layer_
                 for e, r in zip(eps, states)]
        W0 = torch.stack([lay.weight.detach() for lay in inits])
        b0 = torch.stack([lay.bias.detach() for lay in inits])

        def batched():
            return train_many(W0, b0, eps, Xt, yt, max_iter=args.steps, lr=args.lr).loss_curve

        def regressor_loop():
            return [HJRegressor(width=N, eps=e, max_iter=args.steps, lr=args.lr, refine=None,
                                n_iter_no_change=args.steps + 1, random_state=r, n_threads=None,
                                early_stopping=False, alpha=0.0).fit(X, y).loss_curve_[:args.steps]
                    for e, r in zip(eps, states)]

        def engine_loop():
            out = []
            for k in range(S):
                lay = LSELayer(args.d, N, eps=eps[k], dtype=torch.float64)
                with torch.no_grad():
                    lay.weight.copy_(W0[k])
                    lay.bias.copy_(b0[k])
                out.append(train(lay, mse, Xt, yt, max_iter=args.steps, lr=args.lr, refine=None,
                                 n_iter_no_change=args.steps + 1).loss_curve[:args.steps])
            return out

        tm = interleaved({"batched": batched, "HJRegressor": regressor_loop, "engine": engine_loop},
                         rounds=args.rounds)
        ref = tm["batched"].result.numpy()
        agree = max(float(np.max(np.abs(ref - np.asarray(tm[k].result)) / np.abs(np.asarray(tm[k].result))))
                    for k in ("HJRegressor", "engine"))
        r_reg = tm["HJRegressor"].best / tm["batched"].best
        r_eng = tm["engine"].best / tm["batched"].best
        ratios[N] = (r_reg, r_eng, agree)
        print(f"N={N:5d}: batched {tm['batched'].best:8.3f} s (first {tm['batched'].first:.3f}), "
              f"HJRegressor loop {tm['HJRegressor'].best:8.3f} s, engine loop {tm['engine'].best:8.3f} s; "
              f"ratio HJRegressor/batched {r_reg:6.2f}, engine/batched {r_eng:6.2f}; "
              f"max rel. loss difference {agree:.1e}")
    for N, (r_reg, r_eng, agree) in ratios.items():
        print(goal_line(f"N={N}: batched >= 10x faster than the HJRegressor loop, losses within 1e-6",
                        f"{r_reg:.2f}x (engine loop {r_eng:.2f}x), losses within {agree:.1e}",
                        r_reg >= 10 and agree <= 1e-6))
    return ratios


if __name__ == "__main__":
    main()
