"""The compiled kernels (numba) run on torch's thread count and leave it as it was.

Numba's first call starts its OpenMP threading layer, which sets the process's OpenMP thread
count, and so torch's: after ``torch.set_num_threads(1)``, a compiled call ran on 2 threads and
torch read 2 afterwards. The order that shows it needs a fresh process (torch's OpenMP pool
started before numba's first call), so each check runs in one."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("numba")

_START = """
import numpy as np, torch, numba
torch.set_num_threads(1)
torch.ones(300, 300) @ torch.ones(300, 300)  # torch's OpenMP pool first
seen = []
"""

_TRAIN_MANY = """
import hjdl.training.batched as batched
kernel = batched._compiled()
real = kernel.fused_step
class Spy:
    layout = staticmethod(kernel.layout)
    @staticmethod
    def fused_step(*args):
        seen.append((numba.get_num_threads(), torch.get_num_threads()))
        return real(*args)
batched._compiled = lambda: Spy
from hjdl.training import train_many
X = np.linspace(-1, 1, 300)[:, None]
train_many(np.ones((2, 3, 1)), np.zeros((2, 3)), 0.1, X, X[:, 0] ** 2, max_iter=3)
"""

_LANCZOS = """
from hjdl.robustness import _spectral
kernel = _spectral.compiled_kernel()
real = kernel.lanczos_top
def spy(*args):
    seen.append((numba.get_num_threads(), torch.get_num_threads()))
    return real(*args)
kernel.lanczos_top = spy
g = torch.Generator().manual_seed(0)
W = torch.randn(30, 8, generator=g, dtype=torch.float64)
p = torch.softmax(torch.randn(50, 30, generator=g, dtype=torch.float64), -1)
_spectral._top_eig_lanczos(p, W, compiled=True)
"""


@pytest.mark.parametrize("call", [_TRAIN_MANY, _LANCZOS], ids=["train_many", "lanczos"])
def test_a_compiled_call_runs_on_torch_s_threads_and_leaves_them(call):
    script = _START + call + "print(torch.get_num_threads(), sorted(set(seen)))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "1 [(1, 1)]"  # torch after; (numba, torch) inside
