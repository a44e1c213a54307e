"""``hjdl explore``: the interactive eps explorer in the browser (optional extra ``hjdl[explore]``).

::

    hjdl explore [--model PATH] [--port P] [--no-browser] [--export DIR]

Serves the explorer on ``http://localhost:P`` (default 5006) and opens it in the browser (unless
``--no-browser``); ``--export DIR`` writes ``DIR/index.html`` (self-contained, no server) and
exits. ``--model``: a ``torch.save`` file of an LSE layer / network / fitted estimator, or a
Hugging Face checkpoint folder (its attention heads in the Attention view); default: the built-in
example. Bad input is one line on stderr, ``hjdl explore: error: ...``, exit code 2. Panel is
imported only when the command runs, so ``hjdl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

__all__ = ["add_explore_parser", "cmd_explore"]


class ExploreUsageError(Exception):
    """A bad value for ``hjdl explore``: one line on stderr, exit code 2."""


def add_explore_parser(sub) -> argparse.ArgumentParser:
    """Register ``hjdl explore`` on the CLI's subparsers."""
    p = sub.add_parser(
        "explore", help="interactive eps explorer in the browser (pip install hjdl[explore])",
        description="Serve the interactive eps explorer (deformation, particle/wave, folds, robustness, "
                    "attention, training), every number computed by hjdl; or export it as one HTML file.")
    p.add_argument("--model", metavar="PATH", default=None,
                   help="torch.save file of an LSELayer / LSENetwork (state_dict or module) or fitted "
                        "HJRegressor/HJClassifier, or a Hugging Face checkpoint folder (attention view); "
                        "default: the built-in example")
    p.add_argument("--port", type=int, default=5006, help="local port (default 5006)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--export", metavar="DIR", default=None,
                   help="write DIR/index.html (self-contained, states precomputed on the eps grid) and exit")
    p.set_defaults(handler=cmd_explore)
    return p


def _error(message: str) -> None:
    sys.stderr.write(f"hjdl explore: error: {message}\n")
    sys.stderr.flush()


def cmd_explore(args: argparse.Namespace, command=None) -> int:
    """Run ``hjdl explore``; returns the exit code (errors are printed here as one line)."""
    from hjdl.errors import HJError

    try:
        return _explore(args)
    except ExploreUsageError as exc:
        _error(str(exc))
        return 2
    except HJError as exc:  # bad input met deeper (e.g. --export DIR an existing file): one line too
        _error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return 2


def _load(path: str | None):
    """``(ExploreModel, hf_folder or None)`` from ``--model``."""
    from hjdl.errors import HJError
    from hjdl.explore.model import MODEL_FILES, example_model, load_model_file

    if path is None:
        return example_model(), None
    p = Path(path).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ExploreUsageError(f"--model: folder {path!r} has no config.json; accepted: {MODEL_FILES}")
        return example_model(), p
    try:
        return load_model_file(p), None
    except HJError as exc:
        raise ExploreUsageError(str(exc).splitlines()[0]) from None


def _explore(args) -> int:
    if importlib.util.find_spec("panel") is None or importlib.util.find_spec("bokeh") is None:
        raise ExploreUsageError("the explorer needs Panel and Bokeh: pip install hjdl[explore]")
    port = args.port
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ExploreUsageError(f"--port: expected an integer in 1..65535, received {port!r}")
    model, hf = _load(args.model)
    if args.export is not None:
        from hjdl.explore import export_html

        from hjdl.errors import InputError

        try:
            path = export_html(args.export, model=model)
        except InputError as exc:  # the library names its argument out_dir; the user typed --export
            msg = str(exc).splitlines()[0]
            raise ExploreUsageError("--export: " + msg.removeprefix("out_dir: ")) from None
        print(f"hjdl explore: wrote {path}")
        return 0
    from hjdl.explore.server import port_free, serve

    if not port_free(port):
        alt = next((q for q in range(port + 1, min(port + 50, 65535)) if port_free(q)), None)
        hint = f"; try --port {alt}" if alt else "; choose another --port"
        raise ExploreUsageError(f"--port: port {port} is already in use{hint}")
    print(f"hjdl explore: serving {model.name} on http://localhost:{port} (Ctrl-C to stop)")
    serve(model, port=port, show=not args.no_browser, hf_folder=hf)
    return 0


def write_export(out_dir) -> Path:
    """``out_dir/index.html`` of the built-in example (for ``hjdl reproduce``'s report link).

    The CLI imports the explorer through this module (the architecture test lets only the
    explore command and the explorer itself import :mod:`hjdl.explore`)."""
    from hjdl.explore import export_html

    return export_html(out_dir)
