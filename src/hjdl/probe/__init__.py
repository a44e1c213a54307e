"""Probes that read a trained PyTorch model through the HJ lens (THEORY §8): attention heads as
Gibbs measures with a temperature, an entropy and a regime (particle / mixed / wave).

:func:`probe_attention` reads torch modules itself and hands Hugging Face ``transformers``
models to :mod:`hjdl.probe.hf` and TransformerLens models to :mod:`hjdl.probe.lens` (imported
only then: ``import hjdl`` does not import either library). All of them stream ``q`` and ``k``
through one entropy primitive, :func:`hjdl.probe._stream.gibbs_entropy`."""

from .ablation import ablate_head
from .attention import REGIME_BANDS, AttentionProbe, LayerProbe, probe_attention, regime

__all__ = ["probe_attention", "AttentionProbe", "LayerProbe", "regime", "REGIME_BANDS", "ablate_head"]
