"""The entropy landscape of an LSE layer, its critical points, and their fold bifurcations in eps
(THEORY §5).

* :func:`entropy_landscape` — ``H``, ``∇_x H``, ``∇²_x H`` in closed form, batched.
* :func:`critical_points` — all critical points in a box, classified, plateaus excluded.
* :func:`continuation` — branches followed in eps by pseudo-arclength, folds detected and refined,
  returned as a :class:`BifurcationDiagram` (``counts(eps)``, ``plot()``).
"""

from .continuation import BifurcationDiagram, BoundaryExit, Branch, Fold, continuation
from .critical import DEGENERATE, KINDS, MAXIMUM, MINIMUM, SADDLE, CriticalPoints, critical_points
from .landscape import Landscape, entropy_landscape

__all__ = ["Landscape", "entropy_landscape", "CriticalPoints", "critical_points", "KINDS",
           "MINIMUM", "SADDLE", "MAXIMUM", "DEGENERATE", "continuation", "BifurcationDiagram",
           "Branch", "Fold", "BoundaryExit"]
