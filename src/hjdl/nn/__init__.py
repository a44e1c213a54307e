"""``torch.nn`` modules over :mod:`hjdl.core`: LSE layers, max-affine layers, LSE networks and
Gibbs attention / LSE transformer blocks.

Each module's ``forward`` calls the functional core (:func:`hjdl.lse_layer`,
:func:`hjdl.softplus_eps`), so module and function agree exactly (STYLE practice 6).
"""

from .attention import GibbsAttention, LSETransformerBlock
from .layers import LSELayer, MaxAffine
from .network import LSENetwork, SoftplusLayer

__all__ = ["LSELayer", "MaxAffine", "LSENetwork", "SoftplusLayer", "GibbsAttention", "LSETransformerBlock"]
