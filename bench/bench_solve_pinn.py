"""Bench: hjdl.solve against a physics-informed network (PINN) on the 10-dimensional HJB.

Problem (Han, Jentzen & E's HJB in d = 10, λ = 1): ∂u/∂s + Δu − λ|∇u|² = 0 on [0, 1] × R^10,
u(1, x) = log((1 + |x|²)/2); we want u(0, x) at 16 points x ~ N(0, 0.25 I). The reference at each
point is the independent radial quadrature (hjdl.solver.hjb.hjb_reference, error < 1e-13).

The PINN is what a user would write without DeepXDE (not installed here): an MLP u_θ(s, x) with
tanh units (4 × 64), Adam (lr 1e-3, cosine decay), each step 512 collocation points
s ~ U[0, 1], x ~ N(0, (0.25 + 2(1 − s)) I) (where the characteristics carry the mass) for the
squared residual ∂u/∂s + Δu − λ|∇u|² (Laplacian by autograd, one backward pass per dimension),
and 512 terminal points for (u(1, x) − g(x))². It trains for a stated wall-clock budget
(``--pinn-seconds``, default 60 s), then is evaluated at the 16 points.

hjdl.solve runs on the same points with budgets 2^8 … 2^20 atoms (stopping when one run takes
longer than the PINN's training). Both sides use the same number of torch threads (``--threads``,
default 1: on a shared, loaded CPU, two threads made the PINN's steps ~70x slower). From those runs:
* speed at equal accuracy: PINN time / the shortest hjdl time whose max error is at most the PINN's;
* accuracy at equal time: PINN max error / the smallest hjdl max error reached within the PINN time.
Goal: either ratio at least 100. Both sides run here, one after the other, on the same CPU.

    .venv/bin/python bench/bench_solve_pinn.py [--pinn-seconds 60] [--seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

import hjdl
from hjdl.solver.hjb import hjb_reference, hjb_terminal

D, LAM = 10, 1.0


def make_points(seed):
    gen = torch.Generator().manual_seed(seed)
    return 0.5 * torch.randn(16, D, generator=gen, dtype=torch.float64)


def train_pinn(seconds, seed):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(D + 1, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    t0, steps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        frac = (time.perf_counter() - t0) / seconds
        for grp in opt.param_groups:
            grp["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))) + 1e-5
        s = torch.rand(512, 1)
        x = torch.randn(512, D) * torch.sqrt(0.25 + 2 * (1 - s))
        x.requires_grad_(True)
        s.requires_grad_(True)
        u = net(torch.cat([s, x], 1))
        u_s, u_x = torch.autograd.grad(u.sum(), (s, x), create_graph=True)
        lap = sum(torch.autograd.grad(u_x[:, k].sum(), x, create_graph=True)[0][:, k] for k in range(D))
        res = u_s[:, 0] + lap - LAM * (u_x * u_x).sum(-1)
        xT = torch.randn(512, D) * math.sqrt(2.25)
        uT = net(torch.cat([torch.ones(512, 1), xT], 1))[:, 0]
        loss = (res * res).mean() + (uT - hjb_terminal(xT)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    return net, time.perf_counter() - t0, steps, float(loss.detach())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pinn-seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for both sides (1: on a shared, loaded CPU more threads spin)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    x = make_points(args.seed)
    ref = torch.tensor([hjb_reference(LAM, float(v.norm()), D)[0] for v in x], dtype=torch.float64)

    net, pinn_time, steps, loss = train_pinn(args.pinn_seconds, args.seed)
    with torch.no_grad():
        u_pinn = net(torch.cat([torch.zeros(16, 1), x.float()], 1))[:, 0].double()
    pinn_err = float(((u_pinn - ref).abs() / ref.abs()).max())
    print(f"PINN: {steps} Adam steps in {pinn_time:.1f} s (final loss {loss:.2e}); "
          f"max relative error at the 16 points {pinn_err:.3e}")

    runs = []
    for m in range(8, 21):
        t0 = time.perf_counter()
        sol = hjdl.solve(hjb_terminal, x, t=1.0, eps=1 / LAM, A=LAM, budget=2 ** m, seed=args.seed)
        dt = time.perf_counter() - t0
        err = float(((sol.value - ref).abs() / ref.abs()).max())
        bar = float((sol.stderr / ref.abs()).max())
        runs.append((2 ** m, dt, err, bar, sol.method))
        print(f"hjdl.solve budget 2^{m:2d} ({sol.method}): {dt:7.3f} s, max relative error {err:.3e} "
              f"(max relative stderr {bar:.1e})")
        if dt > pinn_time:
            break
    matching = [r for r in runs if r[2] <= pinn_err]
    speed = pinn_time / min(r[1] for r in matching) if matching else float("nan")
    within = [r for r in runs if r[1] <= pinn_time]
    accuracy = pinn_err / min(r[2] for r in within) if within else float("nan")
    print(f"speed at equal accuracy: {speed:.0f}x   accuracy at equal time: {accuracy:.0f}x")
    met = (speed >= 100) or (accuracy >= 100)
    print(f"goal (>= 100x faster at the same accuracy, or >= 100x more accurate at the same time): "
          f"{'met' if met else 'NOT met'}")
    return {"pinn_time": pinn_time, "pinn_err": pinn_err, "speed": speed, "accuracy": accuracy, "met": met}


if __name__ == "__main__":
    main()
