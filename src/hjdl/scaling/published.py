"""Published scaling exponents and the effective dimensions ``d_eff = 1/alpha`` (THEORY §7).

The values are those quoted in the HJ paper's table; ``d_eff`` is recomputed here. They are
order-of-magnitude statements: the fitted exponents depend on the fitting ranges and protocols.
"""

from __future__ import annotations

from dataclasses import dataclass

from .epsilon import dimension_from_exponent

__all__ = ["PublishedExponent", "PUBLISHED_EXPONENTS", "published_exponents"]


@dataclass(frozen=True)
class PublishedExponent:
    """One published scaling exponent: ``loss ∝ N^{−alpha}``."""

    name: str
    alpha: float
    d_eff_quoted: float  # as quoted in the HJ paper's table
    source: str

    @property
    def d_eff(self) -> float:
        """``1/alpha`` recomputed."""
        return float(dimension_from_exponent(self.alpha))


PUBLISHED_EXPONENTS: tuple[PublishedExponent, ...] = (
    PublishedExponent("language, parameters (Kaplan)", 0.076, 13.2,
                      "Kaplan et al. 2020, Scaling Laws for Neural Language Models, arXiv:2001.08361"),
    PublishedExponent("language, parameters (Chinchilla)", 0.35, 2.9,
                      "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, arXiv:2203.15556"),
    PublishedExponent("video (Henighan)", 0.24, 4.2,
                      "Henighan et al. 2020, Scaling Laws for Autoregressive Generative Modeling, arXiv:2010.14701"),
    PublishedExponent("math (Henighan)", 0.38, 2.6,
                      "Henighan et al. 2020, Scaling Laws for Autoregressive Generative Modeling, arXiv:2010.14701"),
)


def published_exponents() -> list[PublishedExponent]:
    """The table of THEORY §7 as records (name, alpha, quoted d_eff, source; ``.d_eff`` = 1/alpha).

    Example:
        >>> from hjdl.scaling import published_exponents
        >>> [round(p.d_eff, 1) for p in published_exponents()]
        [13.2, 2.9, 4.2, 2.6]
    """
    return list(PUBLISHED_EXPONENTS)
