"""The news sentiment score: its range, its labels, and the finance terms the lexicon lacks.

The desk scores each item with VADER (Hutto & Gilbert, ICWSM 2014; ``vaderSentiment`` 3.3.2,
whose lexicon ships inside the wheel, so nothing is downloaded): its ``compound`` score is
already in [-1, 1]. VADER is a general lexicon tuned on short social-media text, which suits
headlines, but it misses or misreads market words (it scores "shares fall after downgrade"
as positive because "shares" is a positive word). :data:`FINANCE_LEXICON` adds them, on
VADER's own valence scale (-4 … +4, the documented ``lexicon.update`` extension point); each
entry is a word a market headline uses with one clear direction, in the spirit of the
Loughran–McDonald financial dictionary's positive and negative lists.
"""

from __future__ import annotations

import math

#: word -> valence on VADER's -4..+4 scale (single lower-case tokens, as VADER looks them up)
FINANCE_LEXICON: dict[str, float] = {
    # neutral in market text (VADER reads them as sentiment)
    "shares": 0.0, "share": 0.0, "stock": 0.0, "stocks": 0.0, "bank": 0.0, "interest": 0.0, "credit": 0.0,
    "fund": 0.0, "funds": 0.0, "capital": 0.0, "security": 0.0, "securities": 0.0, "dividend": 0.3,
    # up
    "upgrade": 1.8, "upgrades": 1.8, "upgraded": 1.8, "outperform": 1.8, "outperforms": 1.8,
    "beats": 1.6, "beat": 1.4, "surges": 2.0, "surge": 1.8, "soars": 2.2, "jumps": 1.6, "jump": 1.2,
    "rallies": 1.8, "rally": 1.6, "gains": 1.4, "rises": 1.2, "rise": 1.0, "climbs": 1.2, "record": 1.0,
    "profit": 1.2, "profits": 1.2, "bullish": 2.0, "buyback": 1.2, "expands": 1.0, "wins": 1.6,
    # down
    "downgrade": -1.8, "downgrades": -1.8, "downgraded": -1.8, "underperform": -1.8, "misses": -1.6,
    "miss": -1.2, "slumps": -2.0, "slump": -1.8, "plunges": -2.4, "plunge": -2.2, "tumbles": -2.0,
    "falls": -1.4, "fall": -1.2, "drops": -1.4, "declines": -1.4, "decline": -1.2, "slides": -1.4,
    "loss": -1.8, "losses": -1.8, "bearish": -2.0, "default": -2.2, "defaults": -2.2, "probe": -1.4,
    "penalty": -1.8, "fraud": -2.8, "resigns": -1.2, "recall": -1.4, "recalls": -1.4, "pledge": -0.8,
    "raid": -1.8, "raids": -1.8, "insolvency": -2.4, "bankruptcy": -2.6, "writedown": -1.8, "weak": -1.6,
}

#: a score at or beyond these reads as positive / negative (VADER's own thresholds)
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05


def clamp_score(value: object) -> float | None:
    """``value`` as a float in [-1, 1] rounded to 3 places, or ``None`` when it is not a finite
    number (a missing score, never a neutral one)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return round(min(1.0, max(-1.0, number)), 3)


def label_for_score(score: float | None) -> str:
    """``"positive"``, ``"negative"``, ``"neutral"`` (VADER's ±0.05 thresholds) or ``"—"``
    for no score."""
    if score is None:
        return "—"
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


__all__ = ["FINANCE_LEXICON", "NEGATIVE_AT", "POSITIVE_AT", "clamp_score", "label_for_score"]
