"""The structured answer an analyst (Gemini or the offline rules) must give.

Sent to Gemini as ``response_schema`` (google-genai converts the pydantic model to its
OpenAPI subset) and used again to validate the returned JSON. Prices are ₹ per share as
plain numbers; the desk then checks them against the snapshot (:mod:`core.analysis.validate`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

Verdict = Literal["buy", "sell", "hold", "avoid"]
TimeHorizon = Literal["intraday", "swing", "positional"]
VERDICTS: tuple[str, ...] = ("buy", "sell", "hold", "avoid")


class AnalysisAnswer(BaseModel):
    """One analyst's view of one snapshot.

    * ``verdict``: ``buy``/``sell`` (take a position), ``hold`` (keep what you have, no new
      entry), ``avoid`` (stay out);
    * ``confidence``: 0–1;
    * ``entry``/``stop``/``target``: ₹ per share; required for buy and sell, optional otherwise;
    * ``time_horizon``: ``intraday`` (square off today), ``swing`` (days), ``positional`` (weeks);
    * ``reasons``/``risks``: short sentences that cite the snapshot's numbers (each cut to
      ``core.text_caps`` caps by :func:`core.analysis.check_answer`, with a note).
    """

    verdict: Verdict
    confidence: float = Field(ge=0.0, le=1.0)
    entry: float | None = None
    stop: float | None = None
    target: float | None = None
    time_horizon: TimeHorizon
    reasons: list[str] = Field(min_length=1, max_length=8)
    risks: list[str] = Field(default_factory=list, max_length=8)

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence_is_a_number(cls, value: object) -> object:
        """NaN, ±inf, a bool or a non-number say what is wanted (not "should be <= 1")."""
        import math

        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0.0 <= value <= 1.0:
            raise ValueError(f"confidence must be a number between 0 and 1, was {str(value)[:60]}")
        return value
