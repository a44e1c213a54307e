"""Reproduced experiments, registered by name (STYLE practice 12).

Each experiment module registers itself on import with :func:`register`; ``hjdl ls`` lists
them, ``hjdl run NAME`` / ``hjdl reproduce`` run them and write the results.

>>> from hjdl.experiments import names, get
>>> isinstance(names(), list)
True
"""

from __future__ import annotations

from hjdl.experiments.registry import (
    EVIDENCE_VERDICTS,
    KINDS,
    THEOREM,
    VERDICTS,
    Claim,
    Experiment,
    Result,
    Table,
    all_experiments,
    combine_verdicts,
    derived_seeds,
    format_number,
    get,
    identity_verdict,
    interval_verdict,
    jsonable,
    names,
    register,
    seed_interval,
    theorem_verdict,
    unregister,
)

# ---- experiment modules (each registers itself on import) ------------------------------------
# One import per module, in report order, e.g.
#     from hjdl.experiments import identity, tropical_limit, attention_identity  # noqa: F401
from hjdl.experiments import identity, tropical_limit, attention_identity  # noqa: F401,E402
from hjdl.experiments import recovery, quadrature, scaling_trained, intrinsic_dimension  # noqa: F401,E402
from hjdl.experiments import robustness_synthetic, robustness_trained, hessian_mnist, certified_accuracy  # noqa: F401,E402,E501
from hjdl.experiments import bifurcation, phase  # noqa: F401,E402
from hjdl.experiments import resnet_pmp, attention_entropy, attention_entropy_hf, recurrent_gates  # noqa: F401,E402
from hjdl.experiments import generalization_rate, hj_highdim  # noqa: F401,E402
from hjdl.experiments import commutative_diagram, double_descent, hallucination, hessian_cifar  # noqa: F401,E402
# ---- end of experiment modules ---------------------------------------------------------------

__all__ = [
    "EVIDENCE_VERDICTS",
    "KINDS",
    "THEOREM",
    "VERDICTS",
    "Claim",
    "Experiment",
    "Result",
    "Table",
    "all_experiments",
    "combine_verdicts",
    "derived_seeds",
    "format_number",
    "get",
    "identity_verdict",
    "interval_verdict",
    "jsonable",
    "names",
    "register",
    "seed_interval",
    "theorem_verdict",
    "unregister",
]
