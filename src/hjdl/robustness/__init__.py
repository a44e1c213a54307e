"""Curvature bounds and robustness certificates controlled by eps (THEORY §6).

``∇²f = Cov_π(W)/eps`` for an LSE layer, so raising eps lowers the curvature bounds (T6):
``‖∇²f‖₂ <= max_j |W_j|²/eps`` (the paper's corollary) and ``<= R²/eps`` with ``R`` the radius
of the smallest ball holding the rows (the largest curvature over x falls with them; the
curvature at one fixed x need not). With a margin, its gradient and this bound, a second-order
certificate guarantees for every input how far it can be pushed before the decision changes;
a PGD attack shows the guarantee is honest.

* :func:`input_hessian`, :func:`curvature` (batched, low-rank), :func:`curvature_bound`,
  :func:`enclosing_ball`
* :func:`certify` → :class:`Certificate` (second-order, first-order and combined radii)
* :func:`attack` → :class:`AttackResult` (PGD ℓ2)
* :func:`as_model`: what counts as a model, decided once for the whole library in
  :mod:`hjdl._models` (``LSELayer``, ``(W, b, eps)``, per-class heads, ``LSENetwork``, fitted
  ``HJRegressor`` / ``HJClassifier``); here also any differentiable module (deep networks
  included: Hessians by autodiff, no certified radius).

Results (:class:`Certificate`, :class:`AttackResult`, :class:`Ball`) print compactly and have
``summary()`` and ``to_frame()`` (pandas).
"""

from ._model import GenericModel, LSEHeads, as_model
from .attack import AttackResult, attack
from .ball import Ball, enclosing_ball
from .certify import CURVATURE_SIDES, Certificate, certify, radii_from_constants
from .curvature import BOUND_KINDS, CURVATURE_METHODS, curvature, curvature_bound, input_hessian

__all__ = [
    "input_hessian", "curvature", "curvature_bound", "enclosing_ball", "Ball",
    "certify", "Certificate", "radii_from_constants", "attack", "AttackResult",
    "as_model", "LSEHeads", "GenericModel", "BOUND_KINDS", "CURVATURE_METHODS", "CURVATURE_SIDES",
]
