"""The entropy landscape of an LSE layer, its critical points, and their fold bifurcations in eps
(THEORY §5).

* :func:`entropy_landscape` — ``H``, ``∇_x H``, ``∇²_x H`` in closed form, batched.
* :func:`critical_points` — all critical points in a box, classified, plateaus excluded.
* :func:`continuation` — branches followed in eps by pseudo-arclength, folds detected and refined,
  returned as a :class:`BifurcationDiagram` (``counts(eps)``, ``plot()``, ``summary()``,
  ``to_frame("points" | "events")``).

Each takes the model first in any form of :mod:`hjdl._models` with one LSE layer per output
(``entropy_landscape(model, x)``, ``critical_points(model, bounds)``,
``continuation(model, eps_min, eps_max, bounds)``; per-class heads choose one with ``head=k``); the
earlier forms with bare arrays (``entropy_landscape(x, W, b, eps)``, ``critical_points(W, b, eps,
bounds)``, ``continuation(W, b, eps_min, eps_max, bounds)``) keep working.
"""

from .continuation import BifurcationDiagram, BoundaryExit, Branch, Fold, continuation
from .critical import DEGENERATE, KINDS, MAXIMUM, MINIMUM, SADDLE, CriticalPoints, critical_points
from .landscape import Landscape, entropy_landscape

__all__ = ["Landscape", "entropy_landscape", "CriticalPoints", "critical_points", "KINDS",
           "MINIMUM", "SADDLE", "MAXIMUM", "DEGENERATE", "continuation", "BifurcationDiagram",
           "Branch", "Fold", "BoundaryExit"]
