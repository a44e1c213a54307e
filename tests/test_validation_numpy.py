"""NumPy inputs keep their shape and are accepted in every real floating dtype."""

import numpy as np
import pytest
import torch

import hjdl


def test_zero_dim_array_keeps_zero_dim_shape():
    # np.ascontiguousarray turns a 0-d array into shape (1,); the public result must not
    assert hjdl.gibbs(np.array(2.0), 1.0).shape == ()
    assert hjdl.gibbs(torch.tensor(2.0), 1.0).shape == hjdl.gibbs(np.array(2.0), 1.0).shape


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="long double is float64 here")
def test_long_double_array_is_read_as_float64():
    z = np.array([1.0, 2.0], dtype=np.longdouble)
    out = hjdl.lse(z, 1.0)
    assert out.dtype == torch.float64
    assert float(out) == pytest.approx(float(np.log(np.exp(1.0) + np.exp(2.0))), rel=1e-15)


def test_none_is_named_not_read_as_nan():
    # np.asarray(None, dtype=float64) is NaN: the error said "contains NaN entries"
    with pytest.raises(hjdl.errors.InputError, match="z: .*received None"):
        hjdl.lse(None, 1.0)
