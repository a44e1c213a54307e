"""Small real data sets for the image experiments: MNIST from IDX files, scikit-learn's digits.

Reading data is input, not output: these loaders only read. Nothing is downloaded (hjdl runs
offline); MNIST is read from a folder the user points to, holding the original gzip-compressed
IDX files (``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` for the test split,
``train-…`` for the training split; uncompressed files are accepted too).

* :func:`read_idx` — one IDX file as a NumPy array (the format: two zero bytes, a type code,
  the number of dimensions, big-endian ``uint32`` sizes, then the data, big-endian).
* :func:`load_mnist` — images ``(n, 28, 28)`` as floats in ``[0, 1]`` and integer labels.
* :func:`find_mnist_dir` — where MNIST is, if anywhere: ``data_dir``, else ``../shared/data/mnist``
  next to the working directory or the repository.
* :func:`load_digits_fallback` — scikit-learn's bundled 8×8 digits (1797 images, offline), the
  stand-in when MNIST is absent.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["ImageData", "read_idx", "find_mnist_dir", "load_mnist", "load_digits_fallback",
           "MissingDataError"]

#: IDX type codes -> NumPy big-endian dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_SPLITS = {"test": "t10k", "train": "train"}


class MissingDataError(InputError, FileNotFoundError):
    """A data set is not where it was looked for (hjdl never downloads)."""


@dataclass
class ImageData:
    """Images ``(n, h, w)`` (float64 in ``[0, 1]``), integer ``labels`` ``(n,)``, where they came
    from (``source``: ``"mnist"`` or ``"sklearn-digits"``) and the folder read (or ``None``)."""

    images: np.ndarray
    labels: np.ndarray
    source: str
    path: str | None = None

    def flat(self) -> np.ndarray:
        """Images as rows ``(n, h·w)``."""
        return self.images.reshape(self.images.shape[0], -1)


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzip-compressed when its name ends in ``.gz``) into an array.

    Raises :class:`~hjdl.errors.InputError` when the header is not IDX or the data are truncated.

    Example:
        >>> import gzip, tempfile, os, numpy as np
        >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte.gz")
        >>> with gzip.open(p, "wb") as f:
        ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 9]))
        >>> read_idx(p).tolist()
        [7, 1, 9]
    """
    p = Path(path)
    if not p.is_file():
        raise MissingDataError(f"read_idx: no file at {str(p)!r}")
    opener = gzip.open if p.name.endswith(".gz") else open
    try:
        with opener(p, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(f"read_idx: cannot read {str(p)!r} ({exc}); expected an IDX file, "
                         "gzip-compressed when its name ends in .gz") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise InputError(f"read_idx: {str(p)!r} is not an IDX file (header bytes "
                         f"{list(raw[:4])}; expected 0, 0, a type code in "
                         f"{sorted(_IDX_TYPES)}, the number of dimensions)")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise InputError(f"read_idx: {str(p)!r} is truncated inside its header")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - head != count * dtype.itemsize:
        raise InputError(f"read_idx: {str(p)!r} holds {len(raw) - head} data bytes, expected "
                         f"{count * dtype.itemsize} for shape {shape} of {dtype.name}")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=head).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _has_split(folder: Path, split: str) -> bool:
    pre = _SPLITS[split]
    return (_idx_file(folder, f"{pre}-images-idx3-ubyte") is not None
            and _idx_file(folder, f"{pre}-labels-idx1-ubyte") is not None)


def _check_split(split) -> str:
    if split not in _SPLITS:
        raise InputError(f"split: expected one of {sorted(_SPLITS)}, received {split!r}")
    return split


def find_mnist_dir(data_dir=None, split: str = "test") -> Path | None:
    """The folder holding the MNIST ``split``, or ``None``.

    ``data_dir`` when given (it must hold the files: otherwise ``None``); else the first of
    ``./../shared/data/mnist`` (relative to the working directory) and
    ``<repository>/../shared/data/mnist`` (relative to this source tree) that holds them.
    """
    _check_split(split)
    if data_dir is not None:
        candidates = [Path(data_dir)]
    else:
        repo = Path(__file__).resolve().parents[2]      # src/hjdl/datasets.py -> repository root
        candidates = [Path(os.getcwd()) / ".." / "shared" / "data" / "mnist",
                      repo / ".." / "shared" / "data" / "mnist"]
    for c in candidates:
        if c.is_dir() and _has_split(c, split):
            return c.resolve()
    return None


def load_mnist(data_dir=None, split: str = "test") -> ImageData:
    """MNIST images ``(n, 28, 28)`` scaled to ``[0, 1]`` and labels ``(n,)`` from IDX files.

    Args:
        data_dir: folder with ``{t10k,train}-{images-idx3,labels-idx1}-ubyte[.gz]``; default:
            ``../shared/data/mnist`` relative to the working directory or the repository.
        split: ``"test"`` (10,000 images) or ``"train"`` (60,000).

    Raises:
        MissingDataError: the files are not there (the message says where it looked and that
            :func:`load_digits_fallback` is the offline stand-in).
        InputError: the files are not valid IDX, or images and labels disagree.
    """
    _check_split(split)
    folder = find_mnist_dir(data_dir, split)
    if folder is None:
        where = repr(str(data_dir)) if data_dir is not None else \
            "'../shared/data/mnist' (relative to the working directory and to the repository)"
        pre = _SPLITS[split]
        raise MissingDataError(
            f"load_mnist: the MNIST {split} split was not found in {where}; expected the IDX files "
            f"{pre}-images-idx3-ubyte.gz and {pre}-labels-idx1-ubyte.gz there. hjdl never downloads: "
            "pass data_dir= pointing at your copy, or use "
            "hjdl.datasets.load_digits_fallback() (scikit-learn's bundled 8x8 digits)")
    pre = _SPLITS[split]
    images = read_idx(_idx_file(folder, f"{pre}-images-idx3-ubyte"))
    labels = read_idx(_idx_file(folder, f"{pre}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise InputError(f"load_mnist: images of shape {images.shape} and labels of shape "
                         f"{labels.shape} in {str(folder)!r} do not match (expected (n, h, w) and (n,))")
    return ImageData(images=images.astype(np.float64) / 255.0, labels=labels.astype(np.int64),
                     source="mnist", path=str(folder))


def load_digits_fallback() -> ImageData:
    """scikit-learn's bundled digits: 1797 images ``(8, 8)`` scaled to ``[0, 1]``, labels 0–9.

    Shipped with scikit-learn (no download); the offline stand-in for MNIST.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - scikit-learn is a dependency of the experiments
        raise MissingDataError("load_digits_fallback: needs scikit-learn (pip install scikit-learn)") from None
    d = load_digits()
    return ImageData(images=d.images.astype(np.float64) / 16.0, labels=d.target.astype(np.int64),
                     source="sklearn-digits", path=None)
