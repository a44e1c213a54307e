"""Benchmark: training the ``scaling-trained`` paper configuration with hjdl vs a plain NumPy loop.

Both sides train one LSE layer ``f(x) = eps log Σ exp((W x + b)/eps)`` on ``‖x‖``, ``x ~ U(−2, 2)^d``,
by full-batch Adam (lr 6e-3, betas 0.9/0.999, eps 1e-8) from the same initial weights, data and
number of steps, in float64. The NumPy side uses hand-derived gradients (``∂L/∂z = (2r/n) π``, the
way the authors' scripts train); the hjdl side is :func:`hjdl.training.train` with autograd through
:func:`hjdl.lse_layer`. The ratio is measured in one run; the final losses must agree.
Goal (issue 3): hjdl is not slower than the NumPy loop (ratio NumPy/hjdl >= 1, warm).

Timing protocol of ``bench/_timing.py``: the first (cold) training run of each side is timed on
its own, then ``--rounds`` more of each, interleaved, each from the same initial weights; the best
warm run of each side gives the ratio.

    python bench/bench_training.py [--d 2] [--width 1000] [--n 4000] [--steps 200] [--rounds 3]
        [--threads N]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from hjdl.nn import LSELayer
from hjdl.scaling import epsilon_star
from hjdl.training import train

from _timing import goal_line, interleaved


def numpy_adam(X, y, W, b, eps, steps, lr, beta1=0.9, beta2=0.999, adam_eps=1e-8):
    W, b = W.copy(), b.copy()
    mW, vW, mb, vb = np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)
    n = X.shape[0]
    losses = []
    for k in range(1, steps + 1):
        s = (X @ W.T + b) / eps
        m = s.max(1, keepdims=True)
        e = np.exp(s - m)
        tot = e.sum(1, keepdims=True)
        f = eps * (m[:, 0] + np.log(tot[:, 0]))
        r = f - y
        losses.append(float(np.mean(r * r)))
        dz = (2.0 / n) * r[:, None] * (e / tot)  # ∂L/∂z_j = (2 r / n) π_j
        gW, gb = dz.T @ X, dz.sum(0)
        for p, g, mm, vv in ((W, gW, mW, vW), (b, gb, mb, vb)):
            mm *= beta1
            mm += (1 - beta1) * g
            vv *= beta2
            vv += (1 - beta2) * g * g
            step = lr / (1 - beta1**k)
            denom = np.sqrt(vv) / np.sqrt(1 - beta2**k) + adam_eps
            p -= step * mm / denom
    return W, b, losses


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=2)
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--lr", type=float, default=6e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's setting)")
    ap.add_argument("--rounds", type=int, default=3, help="warm runs of each side (interleaved; best taken)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    X = rng.uniform(-2, 2, size=(args.n, args.d))
    y = np.linalg.norm(X, axis=1)
    eps = float(epsilon_star(args.width, args.d))

    def fresh_layer():
        return LSELayer(args.d, args.width, eps=eps, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(args.seed))

    W0, b0 = (v.detach().numpy().copy() for v in (fresh_layer().weight, fresh_layer().bias))
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def mse(pred, target):
        return torch.mean((pred - target) ** 2)

    def run_hjdl():
        layer = fresh_layer()
        res = train(layer, mse, Xt, yt, max_iter=args.steps, lr=args.lr, refine=None,
                    n_iter_no_change=args.steps + 1)
        return layer, res

    timing = interleaved({"hjdl": run_hjdl, "numpy": lambda: numpy_adam(X, y, W0, b0, eps, args.steps, args.lr)},
                         rounds=args.rounds)
    (layer, res), (W, b, losses) = timing["hjdl"].result, timing["numpy"].result
    t_hjdl, t_np = timing["hjdl"].best, timing["numpy"].best
    agree = max(abs(a - c) / max(abs(c), 1e-300) for a, c in zip(res.loss_curve, losses))
    werr = float(np.max(np.abs(layer.weight.detach().numpy() - W)))
    print(f"config: d={args.d} N={args.width} n={args.n} steps={args.steps} eps={eps:.4g} "
          f"torch threads={torch.get_num_threads()}, best of {args.rounds} warm runs each, interleaved")
    for name, tm, loss in (("hjdl ", timing["hjdl"], res.loss_curve[-1]), ("numpy", timing["numpy"], losses[-1])):
        print(f"{name} : {tm.best:8.3f} s warm ({1e3 * tm.best / args.steps:.2f} ms/step), first run "
              f"{tm.first:8.3f} s  final loss {loss:.6e}")
    print(f"ratio numpy/hjdl = {t_np / t_hjdl:.2f} warm, {timing['numpy'].first / timing['hjdl'].first:.2f} "
          "first run  (> 1 means hjdl is faster)")
    print(f"max relative difference of the loss curves {agree:.2e}; max |W_hjdl − W_numpy| {werr:.2e}")
    same = agree <= 1e-8
    print(goal_line("hjdl training not slower than the NumPy loop (ratio NumPy/hjdl >= 1, warm), same losses",
                    f"{t_np / t_hjdl:.2f} warm, loss curves within {agree:.1e}", t_np / t_hjdl >= 1 and same))
    return t_np / t_hjdl


if __name__ == "__main__":
    main()
