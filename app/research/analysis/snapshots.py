"""The grounded snapshot of one stock at one market time, gathered from the desk's data.

:class:`SnapshotBuilder` collects what :func:`core.analysis.build_snapshot` needs — today's
1-minute bars, the cached tick, daily bars, the NIFTY 50 and sector context, the desk's open
positions and risk limits, pasted headlines — and never looks past ``at``. Every bar comes
from the market-data service (``MarketDataService.ohlcv``, bounded by ``at``); no bundled bar
file is read. A context part that is down (Redis, the trading store, an index's bars) is
logged and left out; the snapshot still builds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from app.research.analysis.minute_bars import MinuteBars
from core.analysis import NewsLine, PositionFact, Snapshot, build_snapshot
from core.sectors import SECTOR_INDEX  # industry → NSE sector index: one map for the desk
from core.text_caps import shown
from core.errors import DeskError, ValidationError
from core.models import Instrument, Tick
from core.risk.limits import RiskLimits
from core.timeutil import IST, require_aware

log = logging.getLogger(__name__)

MAX_HEADLINES = 10
MAX_HEADLINE_CHARS = 500
NIFTY50_TOKEN = 256265
NIFTY50_KEY = "NSE:NIFTY 50"


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

    def price_band(self, inst: Instrument, tick: Tick | None) -> tuple[float, float] | None: ...


def clean_headlines(headlines: Sequence[str] | str | None) -> list[str]:
    """Trader-pasted headlines: one per line (a string) or a list; blanks dropped.

    Raises ``ValidationError`` for more than ``MAX_HEADLINES`` lines or a line longer than
    ``MAX_HEADLINE_CHARS`` characters.
    """
    if headlines is None:
        return []
    if not isinstance(headlines, str) and (not isinstance(headlines, (list, tuple))
                                           or not all(isinstance(h, str) for h in headlines)):
        raise ValidationError(f"headlines must be text (one per line) or a list of strings, was {shown(headlines)}")
    items = headlines.splitlines() if isinstance(headlines, str) else list(headlines)
    out = [" ".join(str(h).split()) for h in items if str(h).strip()]
    if len(out) > MAX_HEADLINES:
        raise ValidationError(f"paste at most {MAX_HEADLINES} headlines (one per line), got {len(out)}")
    long = [h for h in out if len(h) > MAX_HEADLINE_CHARS]
    if long:
        raise ValidationError(f"a headline is longer than {MAX_HEADLINE_CHARS} characters; paste the headline, "
                              "not the article")
    return out


def _tick_of_day(tick: Tick | None, at: datetime) -> bool:
    """``tick`` has a price and an exchange time on ``at``'s IST day, not after ``at``."""
    return (tick is not None and tick.exchange_timestamp is not None and tick.last_price > 0
            and tick.exchange_timestamp <= at and tick.exchange_timestamp.astimezone(IST).date() == at.date())


def resolve_symbol(instruments: InstrumentLookup, symbol: str) -> Instrument:
    """``symbol`` (``INFY`` or ``NSE:INFY``) as an instrument; ``ValidationError`` when blank or unknown."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise ValidationError("type a symbol such as INFY or NSE:INFY")
    return instruments.resolve(symbol)


class SnapshotBuilder:
    """Builds :class:`core.analysis.Snapshot` objects from the desk's data sources.

    ``bars``: minute, daily and index bars through the market-data service
    (:class:`~app.research.analysis.minute_bars.MinuteBars`), every read bounded by the
    analysis time; ``industries``: NSE symbol → industry (a reference list,
    ``app.adapters.nse_data.nifty500_industries``); ``ticks`` and ``desk`` may be ``None``
    (no tick context; no positions and default risk limits); ``news``: ``(key, at) -> [NewsLine]``,
    the latest feed items naming the instrument published by ``at`` (``None``: no news).
    """

    def __init__(self, instruments: InstrumentLookup, bars: MinuteBars, *,
                 industries: Callable[[], Mapping[str, str]],
                 ticks: TickSource | None = None, desk: DeskBook | None = None,
                 news: Callable[[str, datetime], Sequence[NewsLine]] | None = None) -> None:
        self.instruments = instruments
        self._news = news
        self.bars = bars
        self._industries = industries
        self._ticks = ticks
        self._desk = desk

    def snapshot(self, symbol: str, at: datetime, headlines: Sequence[str] | None = None,
                 scan_hits: Sequence[str] = ()) -> Snapshot:
        """The grounded snapshot of ``symbol`` at market time ``at`` (no look-ahead: every bar
        read is closed by ``at``, and ``at`` is capped at market time by the service).

        Raises ``ValidationError`` for an unknown symbol, an index, bad headlines, no bars at
        all for the symbol up to ``at`` in the connected market, or no data on ``at``'s day
        up to ``at``.
        """
        at = require_aware(at, "at").astimezone(IST)
        inst = resolve_symbol(self.instruments, symbol)
        lines = clean_headlines(headlines)
        if not inst.tradable:
            raise ValidationError(f"{inst.key} is an index and cannot be traded; analyse a stock instead")
        minutes = self.bars.frame(inst, at)
        tick = self._tick(inst.instrument_token)
        if minutes.empty and not _tick_of_day(tick, at):
            why = minutes.attrs.get("warning")
            raise ValidationError(
                f"no bars for {inst.key} up to {at:%d %b %Y %H:%M} IST in the connected market; backfill it on "
                "the Chart page or wait for the morning backfill" + (f" ({why})" if why else ""))
        industry = self._industries().get(inst.tradingsymbol.upper(), "")
        return build_snapshot(
            inst, at, minutes, tick=tick, daily=self._daily(inst, at),
            industry=industry, market=self._market_context(at, industry), scan_hits=list(scan_hits),
            positions=self._positions(inst, at), limits=self._limits(), headlines=lines,
            news=self._news_lines(inst, at), circuit=self._band(inst, tick))

    def _news_lines(self, inst: Instrument, at: datetime) -> list[NewsLine]:
        """The latest feed items naming ``inst`` published by ``at`` (``[]`` without a news
        source, or when it fails: a context part that is down is left out)."""
        if self._news is None:
            return []
        try:
            return list(self._news(inst.key, at))
        except Exception as exc:
            log.warning("news unavailable for the snapshot of %s: %s", inst.key, exc)
            return []

    def _daily(self, inst: Instrument, at: datetime) -> pd.DataFrame | None:
        """Daily bars closed by ``at``, indexed by IST trading date as ``build_snapshot`` reads
        them (``None`` when the market has none for ``inst``)."""
        d = self.bars.daily(inst, at)
        if not len(d):
            return None
        d = d[["open", "high", "low", "close", "volume"]].copy()
        d.index = pd.Index([ts.date() for ts in pd.DatetimeIndex(d.index).tz_convert(IST)], name="date")
        return d

    def _band(self, inst: Instrument, tick: Tick | None) -> tuple[float, float] | None:
        """The desk's own price band (what its gatekeeper checks), so the analyst's levels are
        judged against the band orders meet; ``None`` (the snapshot's fallback) without a desk."""
        if self._desk is None:
            return None
        try:
            return self._desk.price_band(inst, tick)
        except DeskError as exc:
            log.warning("no desk price band for %s: %s", inst.key, exc)
            return None

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
        """Today's NIFTY 50 change up to ``at`` (a tick of today, else its closed 1-minute
        bars), else the previous session's change from its daily bars; ``{}`` when the
        market has neither."""
        tick = self._tick(NIFTY50_TOKEN)
        if _tick_of_day(tick, at) and tick.close:
            return {"nifty50_change_pct": round(tick.change_pct or 0.0, 2)}
        change = self._index_change(NIFTY50_KEY, at)
        if change is not None:
            return {"nifty50_change_pct": change}
        try:
            d = self.bars.daily(NIFTY50_KEY, at, bars=5)
        except Exception as exc:  # a context part that is down is left out
            log.warning("NIFTY 50 daily bars unavailable for the snapshot: %s", exc)
            return {}
        d = d[d.index.date < at.date()].tail(2)
        if len(d) != 2:
            return {}
        prev = float(d["close"].iloc[0])
        return {"nifty50_prev_session_change_pct": round((float(d["close"].iloc[1]) - prev) * 100 / prev, 2)}

    def _sector_context(self, at: datetime, industry: str) -> dict[str, float]:
        """The sector index's change today up to ``at`` from its closed 1-minute bars."""
        index = SECTOR_INDEX.get(industry)
        change = self._index_change(f"NSE:{index}", at) if index else None
        if change is None:
            return {}
        return {f"{index.lower().replace(' ', '_')}_change_pct": change}

    def _index_change(self, key: str, at: datetime) -> float | None:
        """% change of index ``key`` from the previous session's last 1-minute close to the
        last close by ``at`` today; ``None`` without bars on both sides or on a failed read."""
        try:
            m = self.bars.frame(key, at)
        except Exception as exc:  # unknown index, store or market down: the context part is left out
            log.warning("index bars of %s unavailable for the snapshot: %s", key, exc)
            return None
        if m.empty:
            return None
        today, before = m[m.index.date == at.date()], m[m.index.date < at.date()]
        if not (len(today) and len(before)):
            return None
        prev = float(before["close"].iloc[-1])
        return round((float(today["close"].iloc[-1]) - prev) * 100 / prev, 2)

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
