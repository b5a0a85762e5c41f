"""Token prices and the estimated ₹ cost of one model call.

Rates are configuration (``app.settings.AnalysisSettings``, ``settings.analysis``); the
defaults below are Google's published paid-tier prices for ``gemini-2.5-flash`` text
(https://ai.google.dev/gemini-api/docs/pricing, checked 2025: US$0.30 per 1M input tokens,
US$2.50 per 1M output tokens, thinking tokens billed as output) and an illustrative
US$1 = ₹88 exchange rate. Nothing here is billed: it is the desk's own estimate for its
daily budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.errors import ValidationError

_MILLION = Decimal(1_000_000)
_PAISA = Decimal("0.0001")  # costs are tiny: keep 1/100 paisa


@dataclass(frozen=True, slots=True)
class TokenPrices:
    """US$ per million prompt (input) and output tokens, and ₹ per US$."""

    input_usd_per_m: Decimal = Decimal("0.30")
    output_usd_per_m: Decimal = Decimal("2.50")
    inr_per_usd: Decimal = Decimal("88")

    def __post_init__(self) -> None:
        for name in ("input_usd_per_m", "output_usd_per_m", "inr_per_usd"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValidationError(f"TokenPrices.{name} must be a Decimal >= 0, was {value!r}")


def call_cost_inr(prompt_tokens: int, output_tokens: int, prices: TokenPrices) -> Decimal:
    """Estimated cost in ₹ of one call (``Decimal``, 4 decimal places, half-up).

    Raises ``ValidationError`` for negative token counts.
    """
    if prompt_tokens < 0 or output_tokens < 0:
        raise ValidationError(f"token counts must be >= 0, got {prompt_tokens=}, {output_tokens=}")
    usd = (Decimal(prompt_tokens) * prices.input_usd_per_m + Decimal(output_tokens) * prices.output_usd_per_m) / _MILLION
    return (usd * prices.inr_per_usd).quantize(_PAISA, rounding=ROUND_HALF_UP)
