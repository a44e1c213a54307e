"""CIFAR-10 python batches: a folder written here in the official format (pickled dicts, protocol 2,
b'data' uint8 (n, 3072), b'labels'), read back exactly; corrupt, foreign and malicious files refused
with an InputError naming the file; nothing is downloaded."""

import pickle

import numpy as np
import pytest

from hjdl.datasets import (CIFAR10_FILES, MissingDataError, find_cifar10_dir, load_cifar10,
                           read_cifar_batch)
from hjdl.errors import InputError


def _batch(n, seed):
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"training batch", b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [b"img_%d.png" % i for i in range(n)]}


def write_cifar(folder, n=4):
    """A CIFAR-10 python folder: the five training batches and the test batch, n images each."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, name in enumerate(CIFAR10_FILES["train"] + CIFAR10_FILES["test"]):
        out[name] = _batch(n, k)
        with open(folder / name, "wb") as f:
            pickle.dump(out[name], f, protocol=2)
    return out


def test_round_trip_pixel_layout(tmp_path):
    batches = write_cifar(tmp_path / "cifar-10-batches-py", n=3)
    b = batches["data_batch_2"]
    images, labels = read_cifar_batch(tmp_path / "cifar-10-batches-py" / "data_batch_2")
    assert images.dtype == np.uint8 and images.shape == (3, 3, 32, 32)
    assert labels.tolist() == b[b"labels"]
    # the official layout: 1024 red, then 1024 green, then 1024 blue values, each row-major 32 x 32
    row = b[b"data"][1]
    assert images[1, 0, 0, 5] == row[5] and images[1, 1, 2, 3] == row[1024 + 2 * 32 + 3]
    assert images[1, 2, 31, 31] == row[3071]


@pytest.mark.parametrize("where", ["folder", "parent"])
def test_load_splits_from_the_folder_or_its_parent(tmp_path, where):
    batches = write_cifar(tmp_path / "cifar-10-batches-py", n=2)
    root = tmp_path / "cifar-10-batches-py" if where == "folder" else tmp_path
    train = load_cifar10(root, "train")
    assert train.images.shape == (10, 3, 32, 32) and train.source == "cifar10"
    assert train.labels.tolist() == sum((batches[f][b"labels"] for f in CIFAR10_FILES["train"]), [])
    expected = batches["data_batch_1"][b"data"][0].reshape(3, 32, 32) / 255.0
    np.testing.assert_array_equal(train.images[0], expected)
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0
    test = load_cifar10(root, "test")
    assert test.labels.tolist() == batches["test_batch"][b"labels"]
    assert load_cifar10(root, "train", max_batches=1).images.shape[0] == 2
    assert find_cifar10_dir(root) == (tmp_path / "cifar-10-batches-py").resolve()


def test_missing_data_names_the_folder_and_the_files(tmp_path):
    with pytest.raises(MissingDataError, match="data_batch_1.*never downloads"):
        load_cifar10(tmp_path, "train")
    write_cifar(tmp_path, n=1)
    (tmp_path / "data_batch_4").unlink()  # one batch missing: the split is not there
    assert find_cifar10_dir(tmp_path, "train") is None and find_cifar10_dir(tmp_path, "test") is not None
    with pytest.raises(InputError, match="split"):
        load_cifar10(tmp_path, "validation")
    with pytest.raises(InputError, match="max_batches"):
        load_cifar10(tmp_path, "test", max_batches=0)


class _Boom:
    def __reduce__(self):
        import os
        return (os.system, ("echo should-never-run",))


def _corrupt_cases():
    good = _batch(2, 0)
    return {
        "truncated": pickle.dumps(good, protocol=2)[:500],
        "not a pickle": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
        "empty": b"",
        "a list": pickle.dumps([1, 2, 3], protocol=2),
        "no labels": pickle.dumps({b"data": good[b"data"]}, protocol=2),
        "float data": pickle.dumps({b"data": good[b"data"].astype(np.float32), b"labels": [1, 2]}, protocol=2),
        "wrong width": pickle.dumps({b"data": np.zeros((2, 1024), np.uint8), b"labels": [1, 2]}, protocol=2),
        "label count": pickle.dumps({b"data": good[b"data"], b"labels": [1]}, protocol=2),
        "label range": pickle.dumps({b"data": good[b"data"], b"labels": [1, 10]}, protocol=2),
        "code": pickle.dumps({b"data": _Boom(), b"labels": [1, 2]}, protocol=2),
        "other class": pickle.dumps({b"data": good[b"data"], b"labels": [1, 2],
                                     b"x": np.random.default_rng(0)}, protocol=2),
    }


@pytest.mark.parametrize("case", list(_corrupt_cases()))
def test_corrupt_batch_is_refused_naming_the_file(tmp_path, case, capfd):
    write_cifar(tmp_path, n=2)
    (tmp_path / "data_batch_3").write_bytes(_corrupt_cases()[case])
    with pytest.raises(InputError, match=r"data_batch_3.*expected a CIFAR-10 python batch") as info:
        load_cifar10(tmp_path, "train")
    assert not isinstance(info.value, MissingDataError)
    assert "should-never-run" not in capfd.readouterr().out  # refused, never executed
