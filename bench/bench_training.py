"""Benchmark: training the ``scaling-trained`` paper configuration with hjdl vs a plain NumPy loop.

Both sides train one LSE layer ``f(x) = eps log Σ exp((W x + b)/eps)`` on ``‖x‖``, ``x ~ U(−2, 2)^d``,
by full-batch Adam (lr 6e-3, betas 0.9/0.999, eps 1e-8) from the same initial weights, data and
number of steps, in float64. The NumPy side uses hand-derived gradients (``∂L/∂z = (2r/n) π``, the
way the authors' scripts train); the hjdl side is :func:`hjdl.training.train` with autograd through
:func:`hjdl.lse_layer`. The ratio is measured in one run; the final losses must agree.

    python bench/bench_training.py [--d 2] [--width 1000] [--n 4000] [--steps 200] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from hjdl.nn import LSELayer
from hjdl.scaling import epsilon_star
from hjdl.training import train


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
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    X = rng.uniform(-2, 2, size=(args.n, args.d))
    y = np.linalg.norm(X, axis=1)
    eps = float(epsilon_star(args.width, args.d))
    layer = LSELayer(args.d, args.width, eps=eps, dtype=torch.float64,
                     generator=torch.Generator().manual_seed(args.seed))
    W0, b0 = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def mse(pred, target):
        return torch.mean((pred - target) ** 2)

    # warm-up (imports, allocator) outside the timed region, on a throw-away copy
    warm = LSELayer(args.d, args.width, eps=eps, dtype=torch.float64)
    train(warm, mse, Xt, yt, max_iter=3, refine=None)
    numpy_adam(X, y, W0, b0, eps, 3, args.lr)

    t0 = time.perf_counter()
    res = train(layer, mse, Xt, yt, max_iter=args.steps, lr=args.lr, refine=None,
                n_iter_no_change=args.steps + 1)
    t_hjdl = time.perf_counter() - t0
    t0 = time.perf_counter()
    W, b, losses = numpy_adam(X, y, W0, b0, eps, args.steps, args.lr)
    t_np = time.perf_counter() - t0
    agree = max(abs(a - c) / max(abs(c), 1e-300) for a, c in zip(res.loss_curve, losses))
    werr = float(np.max(np.abs(layer.weight.detach().numpy() - W)))
    print(f"config: d={args.d} N={args.width} n={args.n} steps={args.steps} eps={eps:.4g} "
          f"torch threads={torch.get_num_threads()}")
    print(f"hjdl  : {t_hjdl:8.3f} s  ({1e3 * t_hjdl / args.steps:.2f} ms/step)  final loss {res.loss_curve[-1]:.6e}")
    print(f"numpy : {t_np:8.3f} s  ({1e3 * t_np / args.steps:.2f} ms/step)  final loss {losses[-1]:.6e}")
    print(f"ratio numpy/hjdl = {t_np / t_hjdl:.2f}  (> 1 means hjdl is faster)")
    print(f"max relative difference of the loss curves {agree:.2e}; max |W_hjdl − W_numpy| {werr:.2e}")
    return t_np / t_hjdl


if __name__ == "__main__":
    main()
