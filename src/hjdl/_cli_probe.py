"""``hjdl probe``: read every attention head of a Hugging Face model as a Gibbs measure (THEORY §8).

::

    hjdl probe MODEL (--text FILE | --prompt STR) [--max-length N] [--out DIR] [--batch-size B]
               [--block-size N] [--no-progress]

``MODEL`` is a local checkpoint folder (``config.json``, weights and tokenizer files, as written by
``save_pretrained``) or, where the network is reachable, a hub name passed to ``from_pretrained``.
The text is tokenised (no special tokens), cut into windows of ``--max-length`` tokens (default:
the model's number of positions, at most 1024) and probed with
:func:`hjdl.probe.probe_attention` (``keep_weights=False``: entropies are accumulated over blocks of
queries). Written into ``DIR`` (default ``runs/probe``), each file atomically:

* ``heads.csv``: ``layer, head, eps, mean_normalised_entropy, regime`` (one row per head);
* ``heads.json``: the same rows (and each head's module name), plus the model, the tokens and
  windows probed (a last window of one token is left out: its query sees one key), the bands and
  the regime fractions;
* ``head_entropy.png`` (layer x head map), ``entropy_depth.png`` (entropy against depth, "depth
  as HJ time"), ``attention_maps.png`` (the most particle-like and most wave-like heads, on the
  first window, at most 64 tokens).

Bad input (a missing folder, a folder without a model, text that tokenises to fewer than two
tokens, a non-positive ``--max-length``, ...) is one line on stderr, ``hjdl probe: error: ...``,
exit code 2, and nothing is written. Without ``transformers``: the same, naming ``pip install
hjdl[hf]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from pathlib import Path

__all__ = ["add_probe_parser", "cmd_probe", "DEFAULT_PROBE_OUT", "CSV_COLUMNS"]

DEFAULT_PROBE_OUT = "runs/probe"
#: Columns of ``heads.csv`` (and keys of each row of ``heads.json``).
CSV_COLUMNS = ("layer", "head", "eps", "mean_normalised_entropy", "regime")
#: Default window when the model states no number of positions, and the cap of the default.
_DEFAULT_LENGTH = 1024
#: Tokens per side of the attention maps drawn.
_MAP_TOKENS = 64


class ProbeUsageError(Exception):
    """A bad value for ``hjdl probe``: one line on stderr, exit code 2."""


def add_probe_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``probe`` command to ``subparsers`` (the object ``add_subparsers`` returned)."""
    p = subparsers.add_parser(
        "probe", help="read the attention heads of a Hugging Face model (entropy, regime, figures)",
        description="Probe every attention head of a Hugging Face model on a text: per-head temperature, "
                    "mean normalised entropy H / log k and regime, with figures.")
    p.add_argument("model", metavar="MODEL",
                   help="local checkpoint folder (save_pretrained), or a hub name where the network is reachable")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", metavar="FILE", help="UTF-8 text file to probe on")
    src.add_argument("--prompt", metavar="STR", help="text to probe on, given inline")
    p.add_argument("--max-length", type=int, default=None, metavar="N",
                   help=f"tokens per window (default: the model's positions, at most {_DEFAULT_LENGTH})")
    p.add_argument("--out", default=DEFAULT_PROBE_OUT, metavar="DIR",
                   help=f"output folder (default: {DEFAULT_PROBE_OUT})")
    p.add_argument("--batch-size", type=int, default=8, metavar="B", help="windows per forward pass (default: 8)")
    p.add_argument("--block-size", type=int, default=None, metavar="N",
                   help="queries per block when accumulating entropies (default: chosen by memory)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    p.set_defaults(handler=cmd_probe)
    return p


def cmd_probe(args: argparse.Namespace, command) -> int:
    """Run ``hjdl probe``; returns the exit code (errors are printed here as one line)."""
    try:
        return _probe(args, command)
    except ProbeUsageError as exc:
        _error(str(exc))
        return 2


def _error(message: str) -> None:
    sys.stderr.write(f"hjdl probe: error: {message}\n")
    sys.stderr.flush()


def _positive(name: str, value, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ProbeUsageError(f"{name}: expected a positive integer, received {value!r}")


def _read_text(args) -> tuple[str, str]:
    if args.text is not None:
        path = Path(args.text).expanduser()
        if not path.is_file():
            raise ProbeUsageError(f"--text: {args.text!r} is not a file; expected a UTF-8 text file")
        try:
            return path.read_text(encoding="utf-8"), f"--text {args.text!r}"
        except UnicodeDecodeError as exc:
            raise ProbeUsageError(f"--text: {args.text!r} is not UTF-8 text ({exc.reason} at byte "
                                  f"{exc.start})") from None
        except OSError as exc:
            raise ProbeUsageError(f"--text: cannot read {args.text!r} ({exc.strerror or exc})") from None
    return args.prompt, f"--prompt {args.prompt!r}"


def _looks_local(name: str) -> bool:
    """A path rather than a hub name (``org/model``): absolute, relative with ``.``, ``~``, or more
    than one ``/``, or a Windows separator."""
    return (name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name or name.endswith("/")
            or Path(name).exists())


def _check_out(out: str) -> Path:
    expected = "expected a folder that can be created and written"
    if not out.strip():
        raise ProbeUsageError(f"--out: received an empty path {out!r}; {expected}")
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ProbeUsageError(f"--out: {out!r} is a file; {expected}")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise ProbeUsageError(f"--out: {str(parent)!r} is a file; {expected}")
    return path


def _load(name: str, progress: bool):
    """``(model, tokenizer)`` from a local folder or a hub name; bad values are usage errors."""
    try:
        import transformers
    except ImportError:
        raise ProbeUsageError("the probe command needs the optional dependency transformers, which is not "
                              "installed; pip install hjdl[hf]") from None
    if not progress:
        transformers.utils.logging.disable_progress_bar()
    local = _looks_local(name)
    if local:
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise ProbeUsageError(f"MODEL: {name!r} is not a folder; expected a Hugging Face checkpoint folder "
                                  "(config.json, weights, tokenizer files) or a hub name")
        if not (folder / "config.json").is_file():
            raise ProbeUsageError(f"MODEL: {name!r} holds no model (no config.json); expected a folder written "
                                  "by save_pretrained")
    kwargs = {"local_files_only": True} if local else {}
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(name, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProbeUsageError(f"MODEL: no tokenizer could be loaded from {name!r} "
                              f"({_one_line(exc)}); expected tokenizer files beside the model") from None
    try:  # the class the checkpoint was saved from (no missing / unexpected weights), else AutoModel
        config = transformers.AutoConfig.from_pretrained(name, **kwargs)
        arch = (getattr(config, "architectures", None) or [None])[0]
        cls = getattr(transformers, arch, None) if isinstance(arch, str) else None
        if not (isinstance(cls, type) and hasattr(cls, "from_pretrained")):
            cls = transformers.AutoModel
        model = cls.from_pretrained(name, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        where = "folder" if local else "hub name (is the network reachable?)"
        raise ProbeUsageError(f"MODEL: no model could be loaded from the {where} {name!r} "
                              f"({_one_line(exc)})") from None
    return model.eval(), tokenizer


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _max_positions(config) -> int | None:
    for key in ("n_positions", "max_position_embeddings", "n_ctx"):
        v = getattr(config, key, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def _windows(ids, length: int):
    """Full windows of ``length`` tokens, and the remainder (or None) as its own window."""
    n_full = len(ids) // length
    full = ids[: n_full * length].reshape(n_full, length)
    rest = ids[n_full * length:]
    return full, (rest[None] if len(rest) >= 2 else None)


def _probe(args, command) -> int:
    for name, value in (("--max-length", args.max_length), ("--batch-size", args.batch_size),
                        ("--block-size", args.block_size)):
        _positive(name, value)
    text, source = _read_text(args)
    out = _check_out(args.out)
    progress_on = not args.no_progress
    model, tokenizer = _load(args.model, progress_on)

    import torch

    from hjdl._progress import progress
    from hjdl.errors import HJError
    from hjdl.probe import REGIME_BANDS, probe_attention, regime

    limit = _max_positions(model.config)
    if args.max_length is not None and limit is not None and args.max_length > limit:
        raise ProbeUsageError(f"--max-length: {args.max_length} exceeds the {limit} positions of {args.model!r}; "
                              f"expected at most {limit}")
    length = args.max_length or min(limit or _DEFAULT_LENGTH, _DEFAULT_LENGTH)
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    if len(ids) < 2:
        raise ProbeUsageError(f"{source} tokenises to {len(ids)} token(s); expected at least 2 (a query must see "
                              "two keys for its entropy to be defined)")
    ids = torch.tensor(ids, dtype=torch.long)
    if length < 2:
        raise ProbeUsageError(f"--max-length: {length} gives windows of one token; expected at least 2")
    full, rest = _windows(ids, length)
    batches = [full[i:i + args.batch_size] for i in range(0, len(full), args.batch_size)]
    if rest is not None:
        batches.append(rest)
    device = next(model.parameters()).device

    sums = counts = eps = None
    names: list[str] = []
    try:
        for batch in progress(batches, desc="probe", enabled=progress_on):
            rec = probe_attention(model, {"input_ids": batch.to(device)}, keep_weights=False,
                                  block_size=args.block_size)
            ent = torch.stack([torch.nan_to_num(layer.normalized_entropy.float(), nan=0.0).sum((0, 2))
                               for layer in rec.layers]).cpu().double()            # (L, H)
            cnt = torch.stack([torch.isfinite(layer.normalized_entropy.float()).sum((0, 2)) for layer in rec.layers]).cpu()
            sums = ent if sums is None else sums + ent
            counts = cnt if counts is None else counts + cnt
            if eps is None:
                eps = torch.stack([layer.eps.float() for layer in rec.layers]).cpu()
                names = [layer.name for layer in rec.layers]
        mean = torch.where(counts > 0, sums / counts.clamp(min=1), torch.full_like(sums, math.nan))
        entropy = mean.numpy()
        flat = [(l, h) for l in range(entropy.shape[0]) for h in range(entropy.shape[1])
                if math.isfinite(entropy[l, h])]
        maps = []
        if flat:
            lo = min(flat, key=lambda lh: entropy[lh])
            hi = max(flat, key=lambda lh: entropy[lh])
            first = (full if len(full) else rest)[:1, :_MAP_TOKENS].to(device)
            rec = probe_attention(model, {"input_ids": first}, keep_weights=True, block_size=args.block_size)
            for label, (l, h) in (("most particle-like", lo), ("most wave-like", hi)):
                maps.append({"label": label, "layer": l, "head": h, "entropy": float(entropy[l, h]),
                             "weights": rec.layers[l].weights[0, h].float().cpu().numpy()})
    except HJError as exc:
        raise ProbeUsageError(f"MODEL: {args.model!r} cannot be probed: {_one_line(exc)}") from None

    rows = [{"layer": l, "head": h, "eps": float(eps[l, h]),
             "mean_normalised_entropy": None if not math.isfinite(entropy[l, h]) else float(entropy[l, h]),
             "regime": regime(float(entropy[l, h])), "module": names[l]}
            for l in range(entropy.shape[0]) for h in range(entropy.shape[1])]
    labels = [r["regime"] for r in rows]
    summary = {
        "model": args.model,
        "model_class": type(model).__name__,
        "source": source,
        "tokens": int(full.numel() + (rest.numel() if rest is not None else 0)),  # probed
        "tokens_in_text": int(len(ids)),
        "windows": int(len(full) + (rest is not None)),
        "max_length": int(length),
        "layers": int(entropy.shape[0]),
        "heads_per_layer": int(entropy.shape[1]),
        "bands": {"particle_below": REGIME_BANDS[0], "wave_at_or_above": REGIME_BANDS[1]},
        "fractions": {k: labels.count(k) / max(len(labels), 1) for k in ("particle", "mixed", "wave")},
        "command": list(command),
        "heads": rows,
    }
    _write(out, summary, entropy, maps)
    sys.stdout.write(f"probed {len(rows)} heads ({entropy.shape[0]} layers) of {args.model!r} on "
                     f"{len(ids)} tokens; written to {out}\n")
    return 0


def _csv(rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(["" if r[c] is None else r[c] for c in CSV_COLUMNS])
    return buf.getvalue()


def _write(out: Path, summary: dict, entropy, maps) -> None:
    from hjdl._io import atomic_write_json, atomic_write_text, save_figure_atomic
    from hjdl.plotting import probe_plots
    from hjdl.plotting.style import DPI

    name = Path(summary["model"]).name or summary["model"]  # a folder's own name in the titles
    figures = {"head_entropy": probe_plots.entropy_heatmap(entropy, title=f"{name}: normalised head entropy"),
               "entropy_depth": probe_plots.entropy_by_depth(entropy, title=f"{name}: entropy against depth "
                                                                            "(depth as HJ time)")}
    if maps:
        figures["attention_maps"] = probe_plots.attention_maps(maps)
    summary["figures"] = sorted(f"{k}.png" for k in figures)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "heads.csv", _csv(summary["heads"]))
    atomic_write_json(out / "heads.json", summary)
    for key, fig in figures.items():
        save_figure_atomic(fig, out / f"{key}.png", dpi=DPI)
