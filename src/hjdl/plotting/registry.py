"""Figures registered per experiment: ``Result -> {figure name: Figure or list of Figures}``.

Figure functions build :class:`matplotlib.figure.Figure` objects directly (no ``pyplot``, no
global backend); the CLI saves a Figure as PNG and a list of Figures (the frames of an
animation) as an animated GIF next to ``result.json``.
"""

from __future__ import annotations

from typing import Callable

from matplotlib.figure import Figure

from hjdl.errors import InputError

__all__ = ["register_figures", "unregister_figures", "figures_for", "registered_figures"]

FigureFunc = Callable[..., dict]

_FIGURES: dict[str, list[FigureFunc]] = {}


def register_figures(experiment_name: str) -> Callable[[FigureFunc], FigureFunc]:
    """Decorator registering ``func(result) -> dict[str, Figure]`` for ``experiment_name``.

    Several functions may be registered for one experiment; their figures are merged (names
    must not collide). The function is returned unchanged.
    """
    if not isinstance(experiment_name, str) or not experiment_name:
        raise InputError(f"experiment_name={experiment_name!r}: expected a non-empty string")

    def decorator(func: FigureFunc) -> FigureFunc:
        if not callable(func):
            raise InputError(f"register_figures({experiment_name!r}): {func!r} is not callable")
        _FIGURES.setdefault(experiment_name, []).append(func)
        return func

    return decorator


def unregister_figures(experiment_name: str) -> None:
    """Forget every figure function of ``experiment_name`` (no error if none; used by tests)."""
    _FIGURES.pop(experiment_name, None)


def registered_figures() -> dict[str, list[FigureFunc]]:
    """A copy of the figure registry: experiment name -> figure functions."""
    return {k: list(v) for k, v in _FIGURES.items()}


def figures_for(result) -> dict[str, "Figure | list[Figure]"]:
    """Every figure registered for ``result.name`` (``{}`` when none, or the run failed)."""
    if getattr(result, "error", None) is not None:
        return {}
    out: dict[str, Figure] = {}
    for func in _FIGURES.get(result.name, []):
        figures = func(result)
        if not isinstance(figures, dict):
            raise InputError(
                f"figure function {getattr(func, '__name__', func)!r} for {result.name!r} returned "
                f"{type(figures).__name__}; expected dict[str, matplotlib.figure.Figure]"
            )
        for name, fig in figures.items():
            frames = fig if isinstance(fig, list) else [fig]
            if not frames or not all(isinstance(f, Figure) for f in frames):
                raise InputError(
                    f"figure {name!r} of {result.name!r} is {type(fig).__name__}; "
                    "expected matplotlib.figure.Figure or a non-empty list of them (animation frames)"
                )
            if name in out:
                raise InputError(f"figure name {name!r} of {result.name!r} is produced twice")
            out[str(name)] = fig
    return out
