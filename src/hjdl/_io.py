"""Atomic file writes (used by the CLI only: the library does no I/O).

Every writer creates a temporary file in the destination's directory, writes, flushes,
``fsync``s, then ``os.replace``s it over the destination, so a reader sees either the old
file or the complete new one, never a half-written file. If anything fails before the
replace, the temporary file is removed and the destination is left untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

__all__ = [
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "save_figure_atomic",
    "UnitStore",
]

_FILE_MODE = 0o644


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (best effort; not possible on every platform)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the ``with`` block succeeds.

    ``mode`` is ``"wb"`` or ``"w"`` (text, ``encoding`` defaults to UTF-8). Parent
    directories are created. On an exception inside the block the temporary file is removed,
    ``path`` is unchanged, and the exception propagates.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r}: expected 'w' or 'wb'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        if mode == "w":
            handle = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline="")
        else:
            handle = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8 by default); returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as strict JSON (no NaN/inf: convert with ``jsonable`` first) atomically.

    The object is serialised before any file is created, so an unserialisable object leaves
    nothing behind.
    """
    text = json.dumps(obj, indent=indent, allow_nan=False, ensure_ascii=False) + "\n"
    return atomic_write_text(path, text)


def save_figure_atomic(fig: Any, path: str | os.PathLike, dpi: int = 150, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure to ``path`` atomically (format from the suffix, PNG by default)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    savefig_kwargs.setdefault("bbox_inches", "tight")
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=dpi, **savefig_kwargs)
    return path


def save_animation_atomic(frames: list, path: str | os.PathLike, dpi: int = 100, duration_ms: int = 300) -> Path:
    """Render matplotlib Figures to PNG and write them as one looping animated GIF, atomically."""
    import io

    from PIL import Image

    images = []
    for fig in frames:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        buf.seek(0)
        images.append(Image.open(buf).convert("RGB"))
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return atomic_write_bytes(path, out.getvalue())


class UnitStore:
    """The stored results of units in a run folder: ``DIR/.units/<experiment>/<digest>.json``.

    Each file is one record written atomically (``{"key": ..., "status": ..., "payload": ...}``,
    NaN kept as Python's ``json`` writes it), named by the SHA-256 of its key (experiment,
    config, unit key, seed, hjdl version; see :mod:`hjdl.experiments.units`). :meth:`load` gives
    back a finished unit only when the file reads as JSON and holds the same key; anything else
    is reported as a reason to recompute.
    """

    FOLDER = ".units"

    def __init__(self, out: str | os.PathLike):
        self.root = Path(out) / self.FOLDER

    def path(self, experiment: str, digest: str) -> Path:
        return self.root / experiment / f"{digest}.json"

    def load(self, experiment: str, digest: str, key_text: str) -> tuple[dict | None, str | None]:
        """``(record, None)`` for a finished unit; ``(None, reason)`` for a file that cannot be
        used (``reason`` is None when there is none, or the unit failed last time)."""
        path = self.path(experiment, digest)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"cannot be read ({exc})"
        try:
            record = json.loads(text)
        except ValueError as exc:
            return None, f"is not valid JSON ({exc})"
        if not isinstance(record, dict) or not isinstance(record.get("key"), dict):
            return None, "holds no unit key"
        if json.dumps(record["key"], sort_keys=True, allow_nan=True, separators=(",", ":")) != key_text:
            return None, "holds the key of another unit"
        if record.get("status") != "ok":
            return None, None  # it failed last time: run it again
        if not isinstance(record.get("payload"), dict):
            return None, "holds no payload"
        return record, None

    def save(self, experiment: str, digest: str, record: dict) -> Path:
        """Write ``record`` atomically (the payload is JSON already; NaN written as ``NaN``)."""
        text = json.dumps(record, allow_nan=True, ensure_ascii=False) + "\n"
        return atomic_write_text(self.path(experiment, digest), text)
