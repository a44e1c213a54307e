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
* :func:`load_cifar10`, :func:`read_cifar_batch`, :func:`find_cifar10_dir` — CIFAR-10 from its
  "python version" batches (``data_batch_1`` … ``data_batch_5``, ``test_batch``), unpickled with a
  restricted unpickler that can build nothing but the format's NumPy arrays. CIFAR-10 has no
  stand-in: without it, the experiments that need it say so and run nothing.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["ImageData", "read_idx", "find_mnist_dir", "load_mnist", "load_digits_fallback",
           "MissingDataError", "read_cifar_batch", "find_cifar10_dir", "load_cifar10"]

#: IDX type codes -> NumPy big-endian dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_SPLITS = {"test": "t10k", "train": "train"}


class MissingDataError(InputError, FileNotFoundError):
    """A data set is not where it was looked for (hjdl never downloads)."""


@dataclass
class ImageData:
    """Images ``(n, h, w)`` (float64 in ``[0, 1]``), integer ``labels`` ``(n,)``, where they came
    from (``source``: ``"mnist"``, ``"sklearn-digits"`` or ``"cifar10"``, whose images are
    ``(n, 3, 32, 32)``) and the folder read (or ``None``)."""

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


# --------------------------------------------------------------------------------------------
# CIFAR-10, the "python version" batches
# --------------------------------------------------------------------------------------------
#: File names of the CIFAR-10 python batches, per split.
CIFAR10_FILES = {"train": tuple(f"data_batch_{k}" for k in range(1, 6)), "test": ("test_batch",)}
#: The folder name inside the official archive (``cifar-10-python.tar.gz``).
CIFAR10_FOLDER = "cifar-10-batches-py"
_CIFAR_SHAPE = (3, 32, 32)


def _cifar_globals() -> dict:
    """The only globals a CIFAR-10 batch may name when unpickled.

    The official batches are Python-2 pickles of a dict with ``b'data'`` (a NumPy ``uint8`` array,
    rebuilt through ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype``),
    ``b'labels'`` (a list of ints), ``b'batch_label'`` and ``b'filenames'`` (bytes). A batch
    re-pickled by Python 3 with protocol 2 spells bytes as ``_codecs.encode(str, 'latin1')``, and
    NumPy 2 writes ``numpy._core.multiarray``. Nothing else (no ``os``, ``builtins.eval``, other
    classes) can be named, so a crafted file cannot run code: it is refused.
    """
    import codecs

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core.multiarray import _reconstruct

    def encode(text, encoding="utf-8"):
        if not isinstance(text, str) or encoding != "latin1":
            raise InputError("only _codecs.encode(str, 'latin1') (protocol-2 bytes) is allowed")
        return codecs.encode(text, encoding)

    return {("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): encode}


def read_cifar_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: ``(images, labels)``, images ``uint8`` ``(n, 3, 32, 32)`` (channel,
    row, column), labels ``int64`` ``(n,)`` in ``0..9``.

    The file is a pickled dict ``{b'data': uint8 array (n, 3072), b'labels': n ints, ...}``. It is
    unpickled with a restricted unpickler that resolves only the NumPy array constructors that
    format needs (see :func:`_cifar_globals`), so a file naming anything else is refused rather
    than executed.

    Raises:
        MissingDataError: no file at ``path``.
        InputError: the file is not such a pickle (truncated, another format, other globals, keys
            missing, wrong dtype or shape, labels outside ``0..9`` or of another length); the
            message names the file and what was expected.

    Example:
        >>> import pickle, tempfile, os, numpy as np
        >>> p = os.path.join(tempfile.mkdtemp(), "data_batch_1")
        >>> batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 7]}
        >>> with open(p, "wb") as f:
        ...     pickle.dump(batch, f, protocol=2)
        >>> images, labels = read_cifar_batch(p)
        >>> images.shape, labels.tolist()
        ((2, 3, 32, 32), [3, 7])
    """
    import io
    import pickle

    p = Path(path)
    if not p.is_file():
        raise MissingDataError(f"read_cifar_batch: no file at {str(p)!r}")
    expected = ("expected a CIFAR-10 python batch: a pickled dict with b'data', a uint8 array of "
                "shape (n, 3072), and b'labels', n integers in 0..9")
    allowed = _cifar_globals()

    class _Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in allowed:
                return allowed[(module, name)]
            raise pickle.UnpicklingError(f"the file names {module}.{name}, which a CIFAR-10 batch "
                                         "never does (refused, not executed)")

    try:
        raw = p.read_bytes()
        batch = _Restricted(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, ImportError, InputError, OverflowError, MemoryError) as exc:
        raise InputError(f"read_cifar_batch: cannot unpickle {str(p)!r} ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())}); "
                         f"{expected}") from None
    except OSError as exc:
        raise InputError(f"read_cifar_batch: cannot read {str(p)!r} ({exc}); {expected}") from None
    if not isinstance(batch, dict):
        raise InputError(f"read_cifar_batch: {str(p)!r} holds a {type(batch).__name__}, not a dict; {expected}")
    keys = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    missing = [k for k in ("data", "labels") if k not in keys]
    if missing:
        raise InputError(f"read_cifar_batch: {str(p)!r} has no {', '.join(map(repr, missing))} entry "
                         f"(keys {sorted(map(str, keys))}); {expected}")
    data, labels = keys["data"], keys["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != int(np.prod(_CIFAR_SHAPE)):
        got = (f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
               else type(data).__name__)
        raise InputError(f"read_cifar_batch: b'data' in {str(p)!r} is a {got}; {expected}")
    try:
        lab = np.asarray(labels)
    except (ValueError, TypeError):  # pragma: no cover - ragged content
        lab = np.asarray([], dtype=object)
    if lab.ndim != 1 or lab.shape[0] != data.shape[0] or not np.issubdtype(lab.dtype, np.integer) \
            or (lab.size and (lab.min() < 0 or lab.max() > 9)):
        raise InputError(f"read_cifar_batch: b'labels' in {str(p)!r} is not {data.shape[0]} integers "
                         f"in 0..9 (received {lab.dtype} of shape {lab.shape}); {expected}")
    return data.reshape((-1, *_CIFAR_SHAPE)).copy(), lab.astype(np.int64)


def find_cifar10_dir(data_dir=None, split: str = "train") -> Path | None:
    """The folder holding the CIFAR-10 python batches of ``split``, or ``None``.

    ``data_dir`` itself or its ``cifar-10-batches-py`` subfolder; without ``data_dir``,
    ``../shared/data/cifar-10-batches-py`` relative to the working directory or the repository.
    """
    _check_split(split)
    if data_dir is not None:
        bases = [Path(data_dir)]
    else:
        repo = Path(__file__).resolve().parents[2]
        bases = [Path(os.getcwd()) / ".." / "shared" / "data", repo / ".." / "shared" / "data"]
    for base in bases:
        for c in (base, base / CIFAR10_FOLDER):
            if c.is_dir() and all((c / f).is_file() for f in CIFAR10_FILES[split]):
                return c.resolve()
    return None


def load_cifar10(data_dir=None, split: str = "train", *, max_batches: int | None = None) -> ImageData:
    """CIFAR-10 images ``(n, 3, 32, 32)`` scaled to ``[0, 1]`` and labels ``(n,)`` from the python batches.

    Args:
        data_dir: the folder with ``data_batch_1`` … ``data_batch_5`` and ``test_batch`` (the
            contents of ``cifar-10-python.tar.gz``), or its parent; default
            ``../shared/data/cifar-10-batches-py``.
        split: ``"train"`` (the five data batches, 50,000 images) or ``"test"`` (10,000).
        max_batches: read at most this many batches of the split (the first ones), e.g. 1 when
            a few thousand images are enough.

    Raises:
        MissingDataError: the batches are not there (hjdl never downloads).
        InputError: a batch is corrupt or of another format (see :func:`read_cifar_batch`).
    """
    _check_split(split)
    if max_batches is not None and (isinstance(max_batches, bool) or not isinstance(max_batches, int)
                                    or max_batches < 1):
        raise InputError(f"max_batches: expected an integer >= 1 or None, received {max_batches!r}")
    folder = find_cifar10_dir(data_dir, split)
    if folder is None:
        where = repr(str(data_dir)) if data_dir is not None else \
            f"'../shared/data/{CIFAR10_FOLDER}' (relative to the working directory and to the repository)"
        raise MissingDataError(
            f"load_cifar10: the CIFAR-10 {split} batches were not found in {where} (nor in its "
            f"{CIFAR10_FOLDER!r} subfolder); expected the python-version files "
            f"{', '.join(CIFAR10_FILES[split])} there. hjdl never downloads: pass data_dir= "
            "pointing at your unpacked cifar-10-python.tar.gz")
    files = CIFAR10_FILES[split][:max_batches]
    parts = [read_cifar_batch(folder / f) for f in files]
    images = np.concatenate([im for im, _ in parts]).astype(np.float64) / 255.0
    labels = np.concatenate([lab for _, lab in parts])
    return ImageData(images=images, labels=labels, source="cifar10", path=str(folder))
