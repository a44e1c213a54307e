"""Probes that read a trained PyTorch model through the HJ lens (THEORY §8): attention heads as
Gibbs measures with a temperature, an entropy and a regime (particle / mixed / wave)."""

from .ablation import ablate_head
from .attention import REGIME_BANDS, AttentionProbe, LayerProbe, probe_attention, regime

__all__ = ["probe_attention", "AttentionProbe", "LayerProbe", "regime", "REGIME_BANDS", "ablate_head"]
