"""The experiment registry: claims, tables, results, and experiments registered by name.

An experiment is a function ``func(config, *, seed, progress) -> Result`` registered with
declarative presets (plain dicts, at least ``"quick"`` and ``"paper"``)::

    @register("identity", title="LSE = Hopf-Cole on the 4-atom table",
              description="...", presets={"quick": {"n": 5}, "paper": {"n": 50}})
    def identity(config, *, seed, progress):
        ...
        return Result(name="identity", preset="", config=config, tables={...},
                      claims=[Claim(...)])

    get("identity").run("quick", seed=0)

An experiment whose work splits into independent units (config point × seed) declares them
with ``register(..., units=..., run_unit=..., assemble=...)``: ``hjdl run`` / ``hjdl reproduce``
then run the units on local processes or Ray and resume from stored unit results (see
:func:`register` and :mod:`hjdl.experiments.units`); :meth:`Experiment.run` runs them serially.

The library does no I/O: a :class:`Result` is a record; ``hjdl run`` / ``hjdl reproduce``
write it (``result.json``), its config, its metadata and its figures.

The result types (:class:`Claim`, :class:`Table`, :class:`Result`, the verdict helpers,
:func:`format_number`, :func:`jsonable`) live in :mod:`hjdl.results`, the data model shared with
the report and the commands; they are re-exported here so that every existing import works.

Claims come in three kinds, and only the first is evidence:

* ``kind="evidence"``: a measured finding that could have come out otherwise with correct code
  (a trained model, a fitted exponent, an estimator on data). Its verdict is ``"confirmed"``
  (the measurement, with its interval, agrees with the paper's value and *excludes* a named
  ``rival``), ``"inconclusive"`` (the interval covers both the paper's value and the rival),
  ``"partly"`` or ``"not confirmed"``. :func:`interval_verdict` gives the first two and the last.
* ``kind="theorem"``: a check that holds by a theorem or by the configuration (an inequality that
  is always true, a limit the eps range was configured to reach, a closed form against autograd).
  It can fail only through a bug, so it is a sanity check of the implementation: verdict
  ``"theorem (sanity check)"`` when it holds, ``"not confirmed"`` when it fails.
* ``kind="identity"``: an algebraic identity evaluated to rounding: verdict ``"identity"`` when
  the measured error is below the stated tolerance, ``"not confirmed"`` otherwise.

Every threshold in a claim's ``check`` says where it comes from (a theorem, a noise estimate, a
stated tolerance).
"""

from __future__ import annotations

import copy
import difflib
import numbers
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from hjdl.errors import InputError, UnknownNameError
from hjdl import results as _results
from hjdl.results import *  # noqa: F401,F403  the result data model, re-exported as it is
from hjdl.results import Result
from hjdl.results.formatting import _unwrap_scalar

# the data model's names come from hjdl.results.__all__ (one list, so the two cannot drift)
__all__ = [
    *_results.__all__,
    "Experiment",
    "register",
    "unregister",
    "get",
    "names",
    "all_experiments",
    "derived_seeds",
    "encode_payload",
    "decode_payload",
    "unit_label",
    "manifest",
    "MANIFEST_VERSION",
]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_REQUIRED_PRESETS: tuple[str, ...] = ("quick", "paper")


# --------------------------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------------------------
def derived_seeds(experiment: str, seed: int, n_seeds: Any) -> list[int]:
    """The seeds of a finding repeated over ``n_seeds`` runs: ``seed * 1000 + k``, ``k < n_seeds``
    (so seed 0 runs 0, 1, 2, … and seed 1 runs 1000, 1001, …). ``n_seeds`` must be at least 1.

    >>> derived_seeds("demo", 0, 3), derived_seeds("demo", 2, 2)
    ([0, 1, 2], [2000, 2001])
    """
    n = _unwrap_scalar(n_seeds)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"{experiment}: seeds={n_seeds!r}; expected an integer of at least 1")
    return [int(seed) * 1000 + k for k in range(n)]


# --------------------------------------------------------------------------------------------
# experiments and the registry
# --------------------------------------------------------------------------------------------
ExperimentFunc = Callable[..., Result]


def _unknown(what: str, value: Any, known: list[str]) -> str:
    listing = ", ".join(known) if known else "(none registered)"
    hint = difflib.get_close_matches(str(value), known, n=1)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    return f"unknown {what} {value!r}; known {what}s: {listing}{suggestion}"


UnitsFunc = Callable[[dict, int], list]
RunUnitFunc = Callable[..., dict]
AssembleFunc = Callable[..., Result]


def encode_payload(payload: Any, where: str = "payload") -> str:
    """A unit payload as JSON text (NaN and ``±inf`` kept: Python's ``json`` reads them back).

    NumPy / torch arrays and scalars become lists and numbers. Raises
    :class:`~hjdl.errors.InputError` naming ``where`` when ``payload`` is not a dict of such values.

    >>> encode_payload({"b": float("nan"), "a": (1, 2)})
    '{"b": NaN, "a": [1, 2]}'
    """
    import json

    def arrays(obj: Any) -> Any:
        if hasattr(obj, "detach") and hasattr(obj, "cpu"):
            obj = obj.detach().cpu()
        if hasattr(obj, "tolist") and hasattr(obj, "shape"):
            return obj.tolist()
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    if not isinstance(payload, Mapping):
        raise InputError(f"{where} is {type(payload).__name__}; expected a dict of JSON values")
    try:
        return json.dumps(payload, allow_nan=True, default=arrays)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{where} is not JSON ({exc}); expected a dict of JSON values (lists, numbers, strings; "
            "convert arrays with .tolist() or hjdl.experiments.jsonable(x, finite=False))"
        ) from None


def decode_payload(text: str) -> dict:
    """The inverse of :func:`encode_payload`."""
    import json

    return json.loads(text)


def unit_label(unit: Mapping) -> str:
    """A short text for a unit key: ``eps=0.1 seed=2`` (``whole`` for the single unit ``{}``).

    >>> unit_label({"eps": 0.1, "seed": 2}), unit_label({})
    ('eps=0.1 seed=2', 'whole')
    """
    return " ".join(f"{k}={v}" for k, v in unit.items()) or "whole"


@dataclass
class Experiment:
    """A registered experiment: metadata, declarative presets and the function that runs it.

    An experiment is either one unit of work (``func(config, *, seed, progress) -> Result``) or
    declares independent units (config point × seed), see :func:`register`. Either way
    :meth:`units`, :meth:`run_unit` and :meth:`assemble` give the same three steps, which the
    executors of ``hjdl run`` / ``hjdl reproduce`` run on local processes or Ray, and
    :meth:`run` runs serially.
    """

    name: str
    title: str
    description: str
    presets: dict[str, dict]
    func: ExperimentFunc
    units_func: UnitsFunc | None = None
    run_unit_func: RunUnitFunc | None = None
    assemble_func: AssembleFunc | None = None
    #: Which figure, table or section of the paper the experiment reproduces (``"Fig. 3"``,
    #: ``"Table 2"``, ``"§4.2 Robustness"``); ``""`` when it reproduces none directly.
    reproduces: str = ""

    @property
    def has_units(self) -> bool:
        """Whether the experiment declared its units (else it is the one unit ``{}``)."""
        return self.units_func is not None

    @property
    def module(self) -> str:
        """The module that defines the experiment (a worker process imports it to find it)."""
        return getattr(self.run_unit_func or self.func, "__module__", "") or ""

    def config(self, preset: str = "quick", **overrides: Any) -> dict:
        """The preset's config (a deep copy) updated with ``overrides`` (known keys only)."""
        if preset not in self.presets:
            raise InputError(f"experiment {self.name!r}: " + _unknown("preset", preset, list(self.presets)))
        config = copy.deepcopy(self.presets[preset])
        unknown = sorted(set(overrides) - set(config))
        if unknown:
            raise InputError(
                f"experiment {self.name!r}: unknown config key(s) {unknown} for preset "
                f"{preset!r}; known keys: {', '.join(config) or '(none)'}"
            )
        config.update(overrides)
        return config

    def units(self, config: dict, seed: int) -> list[dict]:
        """The unit keys for ``config`` and ``seed``: JSON-able dicts, distinct, in assembly order.

        An experiment without declared units is the single unit ``{}``.
        """
        if self.units_func is None:
            return [{}]
        keys = self.units_func(copy.deepcopy(config), int(seed))
        if not isinstance(keys, (list, tuple)) or not keys:
            raise InputError(
                f"experiment {self.name!r}: units() returned {keys!r}; expected a non-empty list of dicts"
            )
        seen: set[str] = set()
        out = []
        for i, key in enumerate(keys):
            text = encode_payload(key, f"experiment {self.name!r}: unit key {i}")
            if text in seen:
                raise InputError(f"experiment {self.name!r}: unit key {key!r} is listed twice; keys must be distinct")
            seen.add(text)
            out.append(decode_payload(text))
        return out

    def run_unit(self, config: dict, unit: Mapping, *, seed: int, progress: bool = False) -> dict:
        """Run one unit; returns its payload as it reads back from JSON (so a stored payload and a
        fresh one are the same). An experiment without units runs whole: its payload is its
        :class:`Result` as :meth:`Result.to_json_dict` ``(finite=False)``."""
        where = f"experiment {self.name!r}, unit {dict(unit)!r}"
        if self.run_unit_func is None:
            result = self._call(copy.deepcopy(config), int(seed), bool(progress))
            payload: Any = result.to_json_dict(finite=False)
        else:
            payload = self.run_unit_func(copy.deepcopy(config), dict(unit), seed=int(seed), progress=bool(progress))
        return decode_payload(encode_payload(payload, f"{where}: the payload"))

    def assemble(self, config: dict, payloads: list, *, seed: int, preset: str) -> Result:
        """The :class:`Result` from the payloads of :meth:`units` (in their order)."""
        if self.assemble_func is None:
            if len(payloads) != 1:
                raise InputError(f"experiment {self.name!r}: expected one payload, received {len(payloads)}")
            result = Result.from_json_dict(payloads[0])
        else:
            result = self.assemble_func(copy.deepcopy(config), list(payloads), seed=int(seed))
        return self._finish(result, config, preset, int(seed))

    def run(self, preset: str = "quick", seed: int = 0, progress: bool = False, **overrides: Any) -> Result:
        """Run with ``presets[preset]`` updated by ``overrides``; returns the :class:`Result`.

        Serial: an experiment with units runs them one after the other and assembles them.
        """
        if isinstance(seed, bool) or not isinstance(_unwrap_scalar(seed), int):
            raise InputError(f"seed={seed!r}: expected an integer")
        config = self.config(preset, **overrides)
        if not self.has_units:
            return self._finish(self._call(config, int(seed), bool(progress)), config, preset, int(seed))
        payloads = [self.run_unit(config, u, seed=int(seed), progress=progress) for u in self.units(config, int(seed))]
        return self.assemble(config, payloads, seed=int(seed), preset=preset)

    def _call(self, config: dict, seed: int, progress: bool) -> Result:
        result = self.func(config, seed=seed, progress=progress)
        if not isinstance(result, Result):
            raise InputError(
                f"experiment {self.name!r} returned {type(result).__name__}; "
                "an experiment function must return hjdl.experiments.Result"
            )
        return result

    def _finish(self, result: Any, config: dict, preset: str, seed: int) -> Result:
        if not isinstance(result, Result):
            raise InputError(
                f"experiment {self.name!r} returned {type(result).__name__}; "
                "an experiment function must return hjdl.experiments.Result"
            )
        if result.name and result.name != self.name:
            raise InputError(
                f"experiment {self.name!r} returned a Result named {result.name!r}; "
                f"use name={self.name!r} (or leave it empty)"
            )
        result.name = self.name
        result.preset = preset
        result.seed = int(seed)
        if not result.config:
            result.config = config
        result.title = result.title or self.title
        result.description = result.description or self.description
        return result


_REGISTRY: dict[str, Experiment] = {}


def register(
    name: str,
    title: str,
    description: str,
    presets: Mapping[str, Mapping[str, Any]],
    *,
    units: UnitsFunc | None = None,
    run_unit: RunUnitFunc | None = None,
    assemble: AssembleFunc | None = None,
    reproduces: str = "",
) -> Callable[[ExperimentFunc], ExperimentFunc]:
    """Decorator registering ``func(config, *, seed, progress) -> Result`` under ``name``.

    ``name`` is lower case (letters, digits, ``-``, ``_``; it names the output folder);
    ``presets`` must contain ``"quick"`` (seconds) and ``"paper"`` (the paper's sizes).
    The decorated function is returned unchanged.

    An experiment whose work splits into independent units (config point × seed) declares them,
    all three together:

    * ``units(config, seed) -> list[dict]``: the unit keys (JSON-able dicts, distinct), e.g.
      ``[{"eps": e, "seed": s} for e in config["eps"] for s in derived_seeds(...)]``;
    * ``run_unit(config, unit, *, seed, progress) -> dict``: one unit's payload (JSON-able;
      NaN and inf allowed). Its randomness must derive from ``(seed, unit)`` only: units run in
      any order, in other processes or on other machines, and a stored payload is reused;
    * ``assemble(config, payloads, *, seed) -> Result``: the result from the payloads, given in
      the order of ``units``.

    Then ``hjdl run``/``reproduce`` run the units (``--jobs``, ``--executor ray``, resumed from
    stored payloads) and :meth:`Experiment.run` runs them serially; the decorated function is
    kept as :attr:`Experiment.func` (e.g. the serial composition) but hjdl does not call it.
    Without units the experiment is the one unit ``{}`` whose payload is its result's JSON.

    ``reproduces`` names the figure, table or section of the paper (arXiv:2605.28983) the
    experiment reproduces, e.g. ``"Fig. 4"``, ``"Table 2"`` or ``"§5 Robustness"``; ``hjdl ls``
    and the report show it. Leave it empty for an experiment that checks the theory without a
    counterpart in the paper.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InputError(
            f"experiment name={name!r}: expected lower-case letters, digits, '-' or '_' "
            "(e.g. 'tropical-limit')"
        )
    if name in _REGISTRY:
        raise InputError(f"experiment {name!r} is already registered; choose another name")
    if not isinstance(presets, Mapping) or not all(p in presets for p in _REQUIRED_PRESETS):
        got = list(presets) if isinstance(presets, Mapping) else presets
        raise InputError(
            f"experiment {name!r}: presets={got!r}; expected a dict with at least the presets "
            f"{', '.join(map(repr, _REQUIRED_PRESETS))}, each a dict of config values"
        )
    for key, value in presets.items():
        if not isinstance(value, Mapping):
            raise InputError(f"experiment {name!r}: preset {key!r} is {value!r}; expected a dict")
    steps = {"units": units, "run_unit": run_unit, "assemble": assemble}
    given = [k for k, v in steps.items() if v is not None]
    if given and len(given) != 3:
        missing = [k for k in steps if k not in given]
        raise InputError(
            f"experiment {name!r}: received {', '.join(given)} without {', '.join(missing)}; "
            "an experiment with units declares units, run_unit and assemble together"
        )
    if not isinstance(reproduces, str):
        raise InputError(
            f"experiment {name!r}: reproduces={reproduces!r}; expected a string such as "
            "'Fig. 3', 'Table 2' or '§4 Robustness' (or '' for none)"
        )
    for key in given:
        if not callable(steps[key]):
            raise InputError(f"experiment {name!r}: {key}={steps[key]!r} is not callable")

    def decorator(func: ExperimentFunc) -> ExperimentFunc:
        if not callable(func):
            raise InputError(f"experiment {name!r}: {func!r} is not callable")
        _REGISTRY[name] = Experiment(
            name=name,
            title=title,
            description=description,
            presets={k: dict(v) for k, v in presets.items()},
            func=func,
            units_func=units,
            run_unit_func=run_unit,
            assemble_func=assemble,
            reproduces=reproduces.strip(),
        )
        return func

    return decorator


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (no error if absent; used by tests)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> Experiment:
    """The experiment registered as ``name`` (``_`` and ``-`` are interchangeable).

    Raises :class:`~hjdl.errors.UnknownNameError` listing the known names.
    """
    if isinstance(name, str):
        for candidate in (name, name.replace("_", "-"), name.replace("-", "_")):
            if candidate in _REGISTRY:
                return _REGISTRY[candidate]
    raise UnknownNameError(_unknown("experiment", name, names()))


def names() -> list[str]:
    """Registered experiment names, in registration (= report) order."""
    return list(_REGISTRY)


def all_experiments() -> list[Experiment]:
    """Registered experiments, in registration order."""
    return list(_REGISTRY.values())


#: Format version of :func:`manifest` (bumped when its fields change).
MANIFEST_VERSION = 1


def manifest(experiments: list[Experiment] | None = None) -> dict:
    """What ``hjdl ls`` shows of each experiment, as plain JSON data (no functions).

    ``{"version": 1, "experiments": [{"name", "title", "reproduces", "module",
    "presets": {preset: {"units": n or None}}}, ...]}`` in registration order, for ``experiments``
    (default: every registered one). ``units`` is the number of units of the preset's config at
    seed 0, ``None`` when listing them fails. The commands ship it as ``experiments/manifest.json``
    so that ``hjdl ls`` answers without importing the experiments (and torch); a test keeps the
    shipped file equal to this.

    >>> register("zz-manifest", "Demo", "d", {"quick": {}, "paper": {}}, reproduces="Fig. 1")(
    ...     lambda config, *, seed, progress: None)  # doctest: +ELLIPSIS
    <function <lambda> at ...>
    >>> manifest([get("zz-manifest")])["experiments"][0]["presets"]
    {'quick': {'units': 1}, 'paper': {'units': 1}}
    >>> unregister("zz-manifest")
    """
    rows = []
    for exp in all_experiments() if experiments is None else experiments:
        presets = {}
        for preset in exp.presets:
            try:
                n: int | None = len(exp.units(exp.config(preset), 0))
            except Exception:  # listing must not fail because one experiment's units do
                n = None
            presets[preset] = {"units": n}
        rows.append({"name": exp.name, "title": exp.title, "reproduces": exp.reproduces,
                     "module": exp.module, "presets": presets})
    return {"version": MANIFEST_VERSION, "experiments": rows}

