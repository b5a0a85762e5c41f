"""The grounded snapshot of one stock at one market time, gathered from the desk's data.

:class:`SnapshotBuilder` collects what :func:`core.analysis.build_snapshot` needs — today's
1-minute bars, the cached tick, daily bars, the NIFTY 50 and sector context, the desk's open
positions and risk limits, pasted headlines — and never looks past ``at``. A part that is
down (Redis, the trading store) is logged and left out; the snapshot still builds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from app.research.analysis.minute_bars import MinuteBars
from core.analysis import PositionFact, Snapshot, build_snapshot
from core.errors import ValidationError
from core.models import Instrument, Tick
from core.risk.limits import RiskLimits
from core.timeutil import IST, require_aware

log = logging.getLogger(__name__)

MAX_HEADLINES = 10
MAX_HEADLINE_CHARS = 500
NIFTY50_TOKEN = 256265
#: Industry → the sector index whose bundled minute bars give sector context.
SECTOR_INDEX = {"Information Technology": "NIFTY IT"}


class InstrumentLookup(Protocol):
    def resolve(self, key: str) -> Instrument: ...

    def by_token(self, instrument_token: int) -> Instrument: ...


class TickSource(Protocol):
    """The tick cache's read side: ``latest(tokens)`` → ``{token: CachedTick}``."""

    def latest(self, tokens: Sequence[int]) -> Mapping[int, Any]: ...


class DeskBook(Protocol):
    """What the snapshot reads of the paper desk: open positions and the risk limits."""

    def positions(self, at: datetime) -> Sequence[Any]: ...

    def risk_limits(self) -> Any: ...


def clean_headlines(headlines: Sequence[str] | str | None) -> list[str]:
    """Trader-pasted headlines: one per line (a string) or a list; blanks dropped.

    Raises ``ValidationError`` for more than ``MAX_HEADLINES`` lines or a line longer than
    ``MAX_HEADLINE_CHARS`` characters.
    """
    if headlines is None:
        return []
    items = headlines.splitlines() if isinstance(headlines, str) else list(headlines)
    out = [" ".join(str(h).split()) for h in items if str(h).strip()]
    if len(out) > MAX_HEADLINES:
        raise ValidationError(f"paste at most {MAX_HEADLINES} headlines (one per line), got {len(out)}")
    long = [h for h in out if len(h) > MAX_HEADLINE_CHARS]
    if long:
        raise ValidationError(f"a headline is longer than {MAX_HEADLINE_CHARS} characters; paste the headline, "
                              "not the article")
    return out


def resolve_symbol(instruments: InstrumentLookup, symbol: str) -> Instrument:
    """``symbol`` (``INFY`` or ``NSE:INFY``) as an instrument; ``ValidationError`` when blank or unknown."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise ValidationError("type a symbol such as INFY or NSE:INFY")
    return instruments.resolve(symbol)


class SnapshotBuilder:
    """Builds :class:`core.analysis.Snapshot` objects from the desk's data sources.

    ``daily``: the daily-bars frame (``app.adapters.nse_data.load_daily``); ``industries``:
    NSE symbol → industry (``app.adapters.nse_data.nifty500_industries``); ``ticks`` and
    ``desk`` may be ``None`` (no tick context; no positions and default risk limits).
    """

    def __init__(self, instruments: InstrumentLookup, bars: MinuteBars, *,
                 daily: Callable[[], pd.DataFrame], industries: Callable[[], Mapping[str, str]],
                 ticks: TickSource | None = None, desk: DeskBook | None = None) -> None:
        self.instruments = instruments
        self.bars = bars
        self._daily_frame = daily
        self._industries = industries
        self._ticks = ticks
        self._desk = desk

    def snapshot(self, symbol: str, at: datetime, headlines: Sequence[str] | None = None,
                 scan_hits: Sequence[str] = ()) -> Snapshot:
        """The grounded snapshot of ``symbol`` at market time ``at`` (no look-ahead).

        Raises ``ValidationError`` for an unknown symbol, an index, bad headlines or no data
        on ``at``'s day up to ``at``.
        """
        at = require_aware(at, "at").astimezone(IST)
        inst = resolve_symbol(self.instruments, symbol)
        lines = clean_headlines(headlines)
        if not inst.tradable:
            raise ValidationError(f"{inst.key} is an index and cannot be traded; analyse a stock instead")
        industry = self._industries().get(inst.tradingsymbol.upper(), "")
        return build_snapshot(
            inst, at, self.bars.frame(inst, at), tick=self._tick(inst.instrument_token), daily=self._daily(inst),
            industry=industry, market=self._market_context(at, industry), scan_hits=list(scan_hits),
            positions=self._positions(inst, at), limits=self._limits(), headlines=lines)

    def _daily(self, inst: Instrument) -> pd.DataFrame | None:
        d = self._daily_frame()
        d = d[d["symbol"] == inst.tradingsymbol]
        return d.set_index("date")[["open", "high", "low", "close", "volume"]] if len(d) else None

    def _tick(self, token: int) -> Tick | None:
        if self._ticks is None:
            return None
        try:
            cached = self._ticks.latest([token]).get(token)
        except Exception as exc:
            log.warning("tick cache unavailable for the snapshot: %s", exc)
            return None
        return cached.tick if cached is not None else None

    def _market_context(self, at: datetime, industry: str) -> dict[str, Any]:
        return {**self._nifty_context(at), **self._sector_context(at, industry)}

    def _nifty_context(self, at: datetime) -> dict[str, float]:
        """Today's NIFTY 50 change from a tick of today up to ``at``, else the previous session's."""
        tick = self._tick(NIFTY50_TOKEN)
        if tick is not None and tick.exchange_timestamp is not None and tick.close \
                and tick.exchange_timestamp <= at and tick.exchange_timestamp.astimezone(IST).date() == at.date():
            return {"nifty50_change_pct": round(tick.change_pct or 0.0, 2)}
        d = self._daily_frame()
        n = d[(d["symbol"] == "NIFTY 50") & (d["date"] < at.date())].tail(2)
        if len(n) != 2:
            return {}
        change = (n["close"].iloc[1] - n["close"].iloc[0]) * 100 / n["close"].iloc[0]
        return {"nifty50_prev_session_change_pct": round(float(change), 2)}

    def _sector_context(self, at: datetime, industry: str) -> dict[str, float]:
        """The sector index's change today up to ``at`` (bundled replay bars only)."""
        index = SECTOR_INDEX.get(industry)
        m = self.bars.bundled_frame(index) if index else None
        if m is None:
            return {}
        m = m[m.index + pd.Timedelta(minutes=1) <= pd.Timestamp(at)]
        today, before = m[m.index.date == at.date()], m[m.index.date < at.date()]
        if not (len(today) and len(before)):
            return {}
        prev = float(before["close"].iloc[-1])
        return {f"{index.lower().replace(' ', '_')}_change_pct": round(
            (float(today["close"].iloc[-1]) - prev) * 100 / prev, 2)}

    def _positions(self, inst: Instrument, at: datetime) -> list[PositionFact]:
        if self._desk is None:
            return []
        try:
            rows = self._desk.positions(at)
        except Exception as exc:
            log.warning("positions unavailable for the snapshot: %s", exc)
            return []
        return [PositionFact(p.product, p.quantity, float(p.average_price), float(p.unrealized))
                for p in rows if p.instrument_token == inst.instrument_token and p.quantity]

    def _limits(self) -> RiskLimits:
        if self._desk is None:
            return RiskLimits()
        try:
            view = self._desk.risk_limits()
            return RiskLimits(**{f.name: getattr(view, f.name) for f in fields(RiskLimits)})
        except Exception as exc:
            log.warning("risk limits unavailable for the snapshot: %s", exc)
            return RiskLimits()
