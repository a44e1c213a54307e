"""IDX parsing (a file written here byte by byte), MNIST class counts (README), digits fallback."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from hjdl.datasets import MissingDataError, find_mnist_dir, load_digits_fallback, load_mnist, read_idx
from hjdl.errors import HJError, InputError

MNIST = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"


def _write_idx(path, code, dims, payload: bytes, compress=True):
    head = bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(head + payload)


def test_read_idx_ubyte_images_and_labels(tmp_path):
    imgs = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", 0x08, (2, 3, 4), imgs.tobytes())
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", 0x08, (2,), bytes([7, 3]), compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "t10k-images-idx3-ubyte.gz"), imgs)
    data = load_mnist(tmp_path)
    assert data.images.shape == (2, 3, 4) and data.labels.tolist() == [7, 3]
    assert data.images.max() == pytest.approx(230 / 255) and data.source == "mnist"


def test_read_idx_big_endian_types(tmp_path):
    vals = np.array([[1.5, -2.25], [3.0, 1e-3]])
    _write_idx(tmp_path / "f.idx", 0x0E, (2, 2), struct.pack(">4d", *vals.ravel()), compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), vals)
    _write_idx(tmp_path / "i.idx.gz", 0x0C, (3,), struct.pack(">3i", -5, 0, 70000))
    assert read_idx(tmp_path / "i.idx.gz").tolist() == [-5, 0, 70000]


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(InputError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    _write_idx(tmp_path / "short.gz", 0x08, (5,), bytes([1, 2, 3]))
    with pytest.raises(InputError, match="expected 5"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "nogz.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="cannot read"):
        read_idx(tmp_path / "nogz.gz")


def test_missing_folder_gives_clear_error(tmp_path):
    assert find_mnist_dir(tmp_path) is None
    with pytest.raises(MissingDataError, match="load_digits_fallback") as info:
        load_mnist(tmp_path / "nowhere")
    assert isinstance(info.value, HJError) and isinstance(info.value, FileNotFoundError)
    with pytest.raises(InputError, match="split"):
        load_mnist(tmp_path, split="validation")


@pytest.mark.skipif(not (MNIST / "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="MNIST test split not present at ../shared/data/mnist (never downloaded)")
def test_mnist_test_split_class_counts():
    data = load_mnist(MNIST)
    assert data.images.shape == (10000, 28, 28)
    assert np.bincount(data.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert 0.0 == data.images.min() and data.images.max() == 1.0
    # an image is a digit: ink in the middle, blank border
    assert data.images[:, 10:18, 10:18].mean() > 5 * data.images[:, :2, :].mean()


def test_digits_fallback():
    d = load_digits_fallback()
    assert d.images.shape == (1797, 8, 8) and d.flat().shape == (1797, 64)
    assert set(d.labels.tolist()) == set(range(10)) and 0 <= d.images.min() and d.images.max() <= 1
