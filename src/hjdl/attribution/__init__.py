"""Closed-form attribution and influence for LSE models (THEORY §4).

* :func:`attribute` — Gibbs weights π (share of the prediction per neuron), entropy, regime,
  top neurons and the self-check ``LSE = ⟨π, z⟩ + eps H(π)``.
* :func:`deletion_influence` — exact effect of deleting each neuron, ``eps log(1 − π_k)`` (T5).
* :class:`GibbsAverager` — the data-anchored model ``F = Σ π_j v_j`` (kernel regression with
  bandwidth ``√(2 eps t)``), class scores, and exact leave-one-out influence of each example.
* :func:`hallucination_report` — top-two gap, the tropical bound beside the measured excess,
  ``Δ/(eps log N)`` and the diffusion-radius test.

Every function takes its model in any form of :mod:`hjdl._models` with one LSE layer per output:
an ``LSELayer``, ``(W, b, eps)``, per-class heads (``W`` ``(C, N, d)`` or a list of layers), an
``LSENetwork`` / fitted ``HJRegressor`` / ``HJClassifier`` without hidden layers. A network with
hidden layers is refused (attribution is the Gibbs weights of one layer); pass
``(net.heads, net.features(x))`` to attribute its output heads in feature space. Results print
compactly and have ``summary()`` and ``to_frame()`` (pandas). :class:`Attribution` ``.entropy`` is
``H``; ``.normalised_entropy`` is ``H / log N`` (what the probe reports per head).

π attributes a prediction to neurons (or attention keys). It attributes to training examples
only for data-anchored models (one atom per example, :class:`GibbsAverager`); compare it with
training-data attribution tools only there.
"""

from .averager import GibbsAverager
from .gibbs import PARTICLE_BELOW, REGIMES, WAVE_ABOVE, Attribution, attribute, deletion_influence
from .hallucination import HallucinationReport, hallucination_report

__all__ = [
    "attribute", "Attribution", "deletion_influence", "GibbsAverager",
    "hallucination_report", "HallucinationReport", "REGIMES", "PARTICLE_BELOW", "WAVE_ABOVE",
]
