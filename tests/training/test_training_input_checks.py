"""Input checks of :func:`hjdl.training.train` (issue 16, item 5): bad arguments raise an hjdl
error naming the argument before any step is taken; legal variants (NumPy data, another dtype)
train the same model as the canonical call."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hjdl.errors import InputError, NonFiniteError, ShapeError
from hjdl.training import train


def _setup():
    torch.manual_seed(0)
    module = torch.nn.Linear(2, 1).double()
    X = torch.randn(10, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = X @ torch.tensor([1.0, -2.0], dtype=torch.float64) + 0.5
    return module, X, y


def _mse(pred, target):
    return ((pred.squeeze(-1) - target) ** 2).mean()


def _call(**override):
    module, X, y = _setup()
    kw = {"module": module, "loss_fn": _mse, "X": X, "y": y, "max_iter": 3, "refine": None}
    kw.update(override)
    return train(kw.pop("module"), kw.pop("loss_fn"), kw.pop("X"), kw.pop("y"), **kw)


BAD = [
    ("X-nan", {"X": torch.full((10, 2), np.nan, dtype=torch.float64)}, NonFiniteError, "X"),
    ("y-inf", {"y": torch.full((10,), np.inf, dtype=torch.float64)}, NonFiniteError, "y"),
    ("y-length", {"y": torch.zeros(5, dtype=torch.float64)}, ShapeError, "X, y"),
    ("empty", {"X": torch.zeros(0, 2, dtype=torch.float64), "y": torch.zeros(0, dtype=torch.float64)},
     ShapeError, "X, y"),
    ("y-complex", {"y": torch.zeros(10, dtype=torch.complex64)}, InputError, "y"),
    ("y-string", {"y": "abc"}, InputError, "y"),
    ("X-string", {"X": "abc"}, InputError, "X"),
    ("module", {"module": "net"}, InputError, "module"),
    ("module-frozen", {"module": torch.nn.Linear(2, 1).double().requires_grad_(False)}, InputError, "module"),
    ("loss-not-callable", {"loss_fn": 3}, InputError, "loss_fn"),
    ("loss-not-scalar", {"loss_fn": lambda p, t: p}, InputError, "loss_fn"),
    ("max_iter", {"max_iter": -1}, InputError, "max_iter"),
    ("lr-negative", {"lr": -1.0}, InputError, "lr"),
    ("lr-nan", {"lr": np.nan}, InputError, "lr"),
    ("tol-nan", {"tol": np.nan}, InputError, "tol"),
    ("batch_size", {"batch_size": 0}, InputError, "batch_size"),
    ("n_iter_no_change", {"n_iter_no_change": 0}, InputError, "n_iter_no_change"),
    ("refine", {"refine": "adam"}, InputError, "refine"),
    ("refine_iter", {"refine_iter": -2}, InputError, "refine_iter"),
    ("generator", {"generator": 7}, InputError, "generator"),
]


@pytest.mark.parametrize("override, error, word", [r[1:] for r in BAD], ids=[r[0] for r in BAD])
def test_train_bad_arguments_raise_before_any_step(override, error, word):
    module = override.get("module")
    before = None if not isinstance(module, torch.nn.Module) else [p.detach().clone() for p in module.parameters()]
    with pytest.raises(error) as info:
        _call(**override)
    assert word in str(info.value)
    if before is not None:  # nothing was changed
        assert all(torch.equal(p, q) for p, q in zip(module.parameters(), before))


def test_numpy_and_float32_data_train_the_same_model_as_float64_tensors():
    ref_module, X, y = _setup()
    ref = train(ref_module, _mse, X, y, max_iter=20, refine=None)
    for Xv, yv in ((X.numpy(), y.numpy()), (X.float(), y)):
        module, _, _ = _setup()
        res = train(module, _mse, Xv, yv, max_iter=20, refine=None)
        # X in float32 differs by rounding only; NumPy float64 is exact
        tol = 0.0 if isinstance(Xv, np.ndarray) else 1e-5
        assert abs(res.loss - ref.loss) <= tol * max(1.0, ref.loss)
