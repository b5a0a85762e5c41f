"""Judging stored verdicts against what the price did afterwards, and the hit-rate table."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

import pandas as pd

from app.adapters.analysis_store import AnalysisStore, StoredAnalysis
from app.research.analysis.minute_bars import MinuteBars
from app.research.analysis.snapshots import InstrumentLookup
from core.analysis import hit_rate_table, score_outcome
from core.errors import ValidationError
from core.timeutil import IST, require_aware


def _f(x: Decimal | None) -> float | None:
    return None if x is None else float(x)


class OutcomeScorer:
    """Scores analyses with :func:`core.analysis.score_outcome` over the 1-minute bars from the
    analysis day's start to ``now``, read through the market-data service (``bars``)."""

    def __init__(self, store: AnalysisStore, instruments: InstrumentLookup, bars: MinuteBars) -> None:
        self.store = store
        self.instruments = instruments
        self.bars = bars

    def score_outcomes(self, now: datetime) -> int:
        """Score every unscored or pending analysis against bars up to market time ``now``;
        return how many were updated to hit or miss. Raises ``ValidationError`` for a naive ``now``."""
        now = require_aware(now, "now")
        return sum(self._score(a, now) for a in self.store.unscored() if a.as_of <= now)

    def _score(self, a: StoredAnalysis, now: datetime) -> bool:
        """Score ``a``; ``True`` when it is now resolved (hit or miss), ``False`` if still pending or skipped."""
        try:
            inst = self.instruments.by_token(a.instrument_token)
        except ValidationError:
            return False
        ref = float(a.entry) if a.entry is not None else float(a.snapshot.get("ltp") or 0)
        if ref <= 0:
            return False
        day_start = datetime.combine(a.as_of.astimezone(IST).date(), time(0), IST)
        later = self.bars.frame(inst, now, start=min(day_start, now))
        o = score_outcome(a.verdict, ref, at=a.as_of, time_horizon=a.time_horizon, later=later,
                          now=now, stop=_f(a.stop), target=_f(a.target))
        self.store.set_outcome(a.id, o.status, o.detail, o.return_pct, o.resolved_at)
        return o.status != "pending"

    def hit_rates(self, analyst: str | None = None) -> pd.DataFrame:
        """Hit rates per verdict and confidence band (see ``core.analysis.hit_rate_table``)."""
        rows = [(v, c, o) for v, c, o, who in self.store.outcome_rows() if analyst is None or who == analyst]
        return hit_rate_table(rows)
