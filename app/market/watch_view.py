"""Read models for the dashboard pages: the live watchlist table, the market-status summary
and the bars a chart shows.

Everything here reads (tick cache, instruments, calendar, store) and builds plain frames or
frozen dataclasses; nothing writes. "Now" is an argument (the page passes the wall clock).
When the market is the replay, the *market* clock is the latest tick's exchange timestamp, so
the session phase follows the recorded 2016 session, not today's wall clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd

from app.market.clock import REPLAY_LAST_SESSION  # re-exported: defined where the pandas-free clock is
from core.bars_asof import closed_until
from core.calendar import NseCalendar, TradingSession
from core.errors import DeskError, ValidationError
from core.models import Instrument
from core.sessions import SessionPhase
from core.timeutil import IST, to_ist

if TYPE_CHECKING:  # pragma: no cover
    from app.adapters.tick_cache import CachedTick, TickerStatus

log = logging.getLogger(__name__)

#: Column order of the watchlist table (numeric columns are float64; NaN when no tick yet).
WATCHLIST_COLUMNS = ["symbol", "LTP", "change %", "volume", "day high", "day low", "tick age s"]

PHASE_LABELS: dict[SessionPhase, str] = {
    SessionPhase.CLOSED: "Closed",
    SessionPhase.PRE_OPEN: "Pre-open (order entry)",
    SessionPhase.PRE_OPEN_MATCHING: "Pre-open (matching)",
    SessionPhase.NORMAL: "Open (normal market)",
    SessionPhase.CLOSING: "Closing session",
    SessionPhase.POST_CLOSE: "Post-close",
}

Level = Literal["ok", "warning", "error"]

#: The ticker rewrites its status every second; silence longer than this means it is down.
HEARTBEAT_TIMEOUT_S = 5.0

#: What the replay market derives rather than records (docs/replay.md, app/data/nse/README.md):
#: shown under the Chart and the Scanner whenever the desk trades the replay.
REPLAY_DERIVED_NOTE = ("Replay market: daily bars before 16 Aug 2016 are derived (Yahoo's split-adjusted bars "
                       "rescaled to NSE's price level); a stock with only an NSE EOD row on the replay date gets a "
                       "derived session through that day's real OHLC; sector-index daily bars are aggregated "
                       "from their 1-minute bars; everything else is recorded NSE data.")


class InstrumentResolver(Protocol):
    def resolve(self, key: str) -> Instrument: ...


class TickSource(Protocol):
    def latest(self, tokens: Iterable[int]) -> Mapping[int, CachedTick]: ...

    def status(self) -> TickerStatus | None: ...


# ---- watchlist table ------------------------------------------------------------------------


def watchlist_frame(
    rows: Sequence[tuple[str, Instrument | None]],
    latest: Mapping[int, CachedTick],
    now: datetime,
) -> pd.DataFrame:
    """The watchlist table, one row per watchlist key, in watchlist order.

    Parameters
    ----------
    rows : sequence of (key, Instrument or None)
        ``None`` when the key no longer resolves (the row still shows, without data).
    latest : mapping instrument_token → CachedTick
        From ``TickCache.latest``; tokens without a tick are simply absent.
    now : datetime
        Tz-aware wall clock, for the tick age.

    Returns
    -------
    pd.DataFrame
        Index: the keys (``"NSE:INFY"``), named ``key``. Columns ``WATCHLIST_COLUMNS``:
        ``symbol`` (str), ``LTP`` (₹), ``change %`` (day change vs previous close, %),
        ``volume`` (day volume, shares), ``day high``/``day low`` (₹), ``tick age s``
        (seconds since the tick reached the cache). Numeric columns are ``float64`` and
        ``NaN`` where there is no tick (or no previous close, or no OHLC in ltp mode).
    """
    records: list[dict[str, Any]] = []
    for key, inst in rows:
        rec: dict[str, Any] = {"key": key, "symbol": inst.tradingsymbol if inst else key.split(":")[-1]}
        cached = latest.get(inst.instrument_token) if inst else None
        if cached is not None:
            t = cached.tick
            change = t.change_pct
            rec.update({
                "LTP": t.last_price,
                "change %": np.nan if change is None else change,
                "volume": float(t.volume_traded) if t.mode != "ltp" else np.nan,
                "day high": t.high or np.nan,
                "day low": t.low or np.nan,
                "tick age s": max(0.0, cached.age_seconds(now)),
            })
        records.append(rec)
    frame = pd.DataFrame.from_records(records, columns=["key", *WATCHLIST_COLUMNS])
    for col in WATCHLIST_COLUMNS[1:]:
        frame[col] = frame[col].astype("float64")
    frame["symbol"] = frame["symbol"].astype(str)
    return frame.set_index("key")


# ---- market status --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TickerHealth:
    """Whether live data is flowing. ``level`` is what the page shows (ok/warning/error)."""

    cache_ok: bool  # Redis reachable
    connected: bool  # the ticker process reports a live WebSocket
    tick_age_s: float | None  # seconds since the newest tick reached the cache (wall clock)
    stale: bool
    level: Level
    message: str
    subscribed: int = 0
    ticks_total: int = 0
    reconnects: int = 0


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """What the Home page shows about the market.

    ``wall_clock`` is the real time (IST). ``market_time`` is the clock the phase is taken
    at: the replay's latest tick exchange time in replay mode (``None`` before the first
    tick, then the wall clock is used and ``market_time_source`` says so). Times are IST.
    """

    mode: Literal["replay", "kite"]
    mode_label: str
    wall_clock: datetime
    market_time: datetime | None
    market_time_source: str
    phase: SessionPhase
    phase_label: str
    session: TradingSession | None
    next_open: datetime
    next_close: datetime
    calendar_note: str | None
    ticker: TickerHealth


def ticker_health(
    status: TickerStatus | None,
    newest_tick_at: datetime | None,
    now: datetime,
    stale_after_s: float,
    error: str | None = None,
) -> TickerHealth:
    """Summarise ticker health at wall clock ``now``.

    ``status`` is the ticker's heartbeat (``None`` if it never reported), ``newest_tick_at`` the
    newest cached tick's receive time (UTC), ``error`` the message when the cache could not be
    read. Levels: ``error`` (cache down, ticker down or disconnected), ``warning`` (no ticker
    yet, or no tick for ``stale_after_s`` seconds), ``ok``.
    """
    if error is not None:
        return TickerHealth(False, False, None, True, "error", error)
    newest = newest_tick_at
    if status is not None and status.last_tick_at is not None:
        newest = max(newest, status.last_tick_at) if newest else status.last_tick_at
    age = None if newest is None else max(0.0, (now - newest).total_seconds())
    if status is None:
        return TickerHealth(
            True, False, age, True, "warning",
            "The ticker has not reported yet — start it with `python -m workers.ticker` "
            "(or `make run`).",
        )
    stale = age is None or age > stale_after_s
    counts = {"subscribed": status.subscribed, "ticks_total": status.ticks_total,
              "reconnects": status.reconnects}
    silent = status.age_seconds(now)
    if silent > max(stale_after_s, HEARTBEAT_TIMEOUT_S):
        return TickerHealth(True, False, age, True, "error",
                            f"The ticker stopped reporting {silent:.0f} s ago: the process is down. "
                            "Restart it with `python -m workers.ticker` (or `make run`).", **counts)
    if not status.connected:
        return TickerHealth(True, False, age, True, "error",
                            "The ticker is not connected to the market feed (it is reconnecting "
                            "or stopped).", **counts)
    if stale:
        age_txt = "no ticks yet" if age is None else f"last tick {age:.0f} s ago"
        return TickerHealth(True, True, age, True, "warning",
                            f"Ticker connected but data is stale ({age_txt}; stale after "
                            f"{stale_after_s:.0f} s).", **counts)
    return TickerHealth(True, True, age, False, "ok", f"Ticker connected · last tick {age:.1f} s ago",
                        **counts)


def market_status(
    calendar: NseCalendar,
    mode: Literal["replay", "kite"],
    now: datetime,
    ticker: TickerHealth,
    replay_time: datetime | None = None,
    replay_date_hint: str | None = None,
) -> MarketStatus:
    """Build the market summary at wall clock ``now`` (tz-aware).

    In replay mode the phase, session and next open/close are taken at ``replay_time`` (the
    latest tick's exchange timestamp) when known. Raises ``ValidationError`` for naive times.
    """
    wall = to_ist(now)
    if mode == "replay" and replay_time is not None:
        market_time: datetime | None = to_ist(replay_time)
        at = market_time
        source = "replay (latest tick's exchange time)"
    elif mode == "replay":
        market_time, at = None, wall
        source = "wall clock (no replay ticks yet)"
    else:
        market_time, at = wall, wall
        source = "wall clock (Kite, live)"
    if mode == "replay":
        day = market_time.date().isoformat() if market_time else (replay_date_hint or "date not known yet")
        mode_label = f"Replay (recorded NSE session {day})"
    else:
        mode_label = "Kite (live NSE market)"
    phase = calendar.phase(at)
    note = None
    if not calendar.is_covered(at.date()):
        note = (f"NSE holidays are known only up to {calendar.covered_until}; later weekdays are "
                "treated as regular sessions.")
    elif not calendar.is_published(at.date()):
        note = (f"NSE's published holiday list ends {calendar.published_until}; holidays after it are "
                "estimated (holidays package / bundled override file) until NSE's circular.")
    return MarketStatus(
        mode=mode, mode_label=mode_label, wall_clock=wall, market_time=market_time,
        market_time_source=source, phase=phase, phase_label=PHASE_LABELS[phase],
        session=calendar.session(at.date()), next_open=calendar.next_open(at),
        next_close=calendar.next_close(at), calendar_note=note, ticker=ticker,
    )


# ---- the service ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WatchSnapshot:
    """One refresh of the Home page: the table, the market status, and any cache error."""

    table: pd.DataFrame
    status: MarketStatus
    cache_error: str | None


class WatchView:
    """Builds the Home page's snapshot from the tick cache, instruments and calendar.

    Resolved instruments are memoised per key (the master changes once a day at most).
    """

    def __init__(
        self,
        ticks: TickSource,
        instruments: InstrumentResolver,
        calendar: NseCalendar,
        mode: Literal["replay", "kite"],
        stale_after_s: float = 10.0,
        replay_date_hint: str | None = None,
    ) -> None:
        self._ticks = ticks
        self._instruments = instruments
        self._calendar = calendar
        self._mode = mode
        self._stale_after_s = stale_after_s
        self._replay_date_hint = replay_date_hint
        self._resolved: dict[str, Instrument | None] = {}
        self._last_replay_time: datetime | None = None

    def mode_label(self) -> str:
        """``"Replay (recorded NSE session 2016-08-16)"`` or ``"Kite (live NSE market)"``; no I/O
        (the replay date is the one seen in the latest snapshot, or the configured one)."""
        if self._mode == "kite":
            return "Kite (live NSE market)"
        day = (to_ist(self._last_replay_time).date().isoformat() if self._last_replay_time
               else self._replay_date_hint or "not known until the first tick")
        return f"Replay (recorded NSE session {day})"

    def market_date(self) -> date | None:
        """The replay's session date seen in the latest snapshot, else the configured
        ``DESK_REPLAY_DATE``, else ``REPLAY_LAST_SESSION``; ``None`` for Kite (use today). No I/O."""
        if self._last_replay_time is not None:
            return to_ist(self._last_replay_time).date()
        if self._mode == "replay":
            try:
                return date.fromisoformat(self._replay_date_hint or "")
            except ValueError:
                return REPLAY_LAST_SESSION
        return None

    def resolve(self, keys: Sequence[str]) -> list[tuple[str, Instrument | None]]:
        out = []
        for key in keys:
            if key not in self._resolved:
                try:
                    self._resolved[key] = self._instruments.resolve(key)
                except ValidationError as exc:
                    log.warning("watchlist key %s does not resolve: %s", key, exc)
                    self._resolved[key] = None
            out.append((key, self._resolved[key]))
        return out

    def depth(self, instrument_token: int) -> MarketDepth:
        """5-level market depth of ``instrument_token`` from the tick cache (:func:`market_depth`)."""
        return market_depth(self._ticks, instrument_token)

    def snapshot(self, keys: Sequence[str], now: datetime) -> WatchSnapshot:
        """Table + status at wall clock ``now``. A dead Redis gives an empty-data table and
        an error in ``cache_error`` (and in ``status.ticker``), never an exception."""
        rows = self.resolve(keys)
        tokens = [inst.instrument_token for _, inst in rows if inst is not None]
        latest: Mapping[int, CachedTick] = {}
        status = None
        error = None
        try:
            latest = self._ticks.latest(tokens) if tokens else {}
            status = self._ticks.status()
        except DeskError as exc:  # CacheUnavailable: Redis unreachable
            error = str(exc) or "The tick cache (Redis) is unreachable."
        newest_received = max((c.received_at for c in latest.values()), default=None)
        exchange_times = [c.tick.exchange_timestamp for c in latest.values() if c.tick.exchange_timestamp]
        replay_time = max(exchange_times, default=None)
        if replay_time is not None:
            self._last_replay_time = replay_time
        health = ticker_health(status, newest_received, now, self._stale_after_s, error)
        st = market_status(self._calendar, self._mode, now, health, replay_time, self._replay_date_hint)
        return WatchSnapshot(watchlist_frame(rows, latest, now), st, error)


# ---- market depth (the order ticket's side panel) ------------------------------------------


@dataclass(frozen=True, slots=True)
class MarketDepth:
    """The latest cached tick of one instrument as the ticket's depth panel shows it.

    ``bids``/``asks``: up to 5 ``core.models.DepthLevel`` each (price ₹, quantity shares,
    orders), best first; empty when the tick is not full-mode (ltp/quote) or there is no tick.
    ``ltp`` ₹ or ``None``; ``total_buy_quantity``/``total_sell_quantity`` shares pending on
    each side; ``tick`` the tick itself (for the day's band), ``None`` without one;
    ``received_at`` when the ticker cached it (UTC); ``error`` why the cache could not be read.
    """

    instrument_token: int
    ltp: float | None
    bids: tuple = ()
    asks: tuple = ()
    total_buy_quantity: int = 0
    total_sell_quantity: int = 0
    tick: Any = None
    received_at: datetime | None = None
    error: str | None = None

    @property
    def has_depth(self) -> bool:
        return bool(self.bids or self.asks)


def market_depth(ticks: TickSource, instrument_token: int) -> MarketDepth:
    """The depth of ``instrument_token`` from the tick cache; a dead Redis gives ``error`` set,
    never an exception."""
    token = int(instrument_token)
    try:
        cached = ticks.latest([token]).get(token)
    except DeskError as exc:  # CacheUnavailable
        return MarketDepth(token, None, error=str(exc) or "The tick cache (Redis) is unreachable.")
    if cached is None:
        return MarketDepth(token, None)
    t = cached.tick
    return MarketDepth(token, t.last_price if t.last_price > 0 else None, tuple(t.bids[:5]), tuple(t.asks[:5]),
                       t.total_buy_quantity, t.total_sell_quantity, t, cached.received_at)


# ---- chart bars -----------------------------------------------------------------------------

#: Chart intervals (the market-data service's names) and how many bars the chart asks for:
#: enough for every indicator offered (EMA 50, Bollinger 20, RSI 14, volume SMA 20) to be
#: warmed up well before the right edge.
CHART_BARS: dict[str, int] = {"minute": 300, "5minute": 300, "15minute": 300, "60minute": 300,
                              "day": 250, "week": 104}
#: Bars an indicator needs for its first value (EMA/SMA ``p``: ``p`` bars; RSI ``p``: ``p + 1``,
#: one bar is spent on the first price change).
INDICATOR_BARS: dict[str, int] = {"EMA 20": 20, "EMA 50": 50, "Bollinger 20": 20, "RSI 14": 15,
                                  "Volume SMA 20": 20}
_BAR_MINUTES: dict[str, int] = {"minute": 1, "5minute": 5, "15minute": 15, "60minute": 60}


class OhlcvReader(Protocol):
    def now(self) -> datetime: ...

    def ohlcv(self, key_or_token: str | int, interval: str, *, as_of: datetime | None = None,
              start: datetime | date | None = None, bars: int | None = None, forming: bool = False,
              fill: bool = True) -> pd.DataFrame: ...


@dataclass(frozen=True, slots=True)
class ChartBars:
    """What the Chart page draws: the bars of one instrument as of a market time.

    ``frame``: indexed by tz-aware IST bar open, float64 ``open high low close volume``
    (₹, shares), at most ``requested`` bars, none opening after ``as_of``; the last one is
    still forming when ``forming``. ``derived``: how bars were built (e.g. ``"aggregated from
    minute bars"``) or ``None`` for stored bars. ``warning``: why only stored bars are shown
    (the market's historical API failed), else ``None``.
    """

    key: str
    interval: str
    as_of: datetime
    frame: pd.DataFrame
    requested: int
    forming: bool
    derived: str | None
    warning: str | None

    @property
    def empty(self) -> bool:
        return self.frame.empty

    def span(self) -> str:
        """``"02 Jan 2016 – 16 Aug 2016"`` (daily/weekly) or ``"16 Aug 09:15 – 16 Aug 12:00 IST"``."""
        if self.frame.empty:
            return "no bars"
        first, last = self.frame.index[0], self.frame.index[-1]
        if self.interval in ("day", "week"):
            return f"{first:%d %b %Y} – {last:%d %b %Y}"
        return f"{first:%d %b %Y %H:%M} – {last:%d %b %Y %H:%M} IST"

    def caption(self) -> str:
        """E.g. ``"150 bars · 01 Jan 2016 – 16 Aug 2016 · as of 17 Aug 2016 10:00 IST ·
        last bar forming · derived: aggregated from minute bars · last close ₹1,050.00"``."""
        parts = [f"{len(self.frame)} bars", self.span(), f"as of {self.as_of:%d %b %Y %H:%M} IST"]
        if self.forming:
            parts.append("last bar forming")
        if self.derived:
            parts.append(f"derived: {self.derived}")
        if not self.frame.empty:
            parts.append(f"last close ₹{float(self.frame['close'].iloc[-1]):,.2f}")
        return " · ".join(parts)

    def last_bar_age(self) -> str:
        """How old the newest bar is at ``as_of``: ``"last bar 16 Aug 2016 15:29 IST, 18 h 31 min
        before the as-of time"``, or ``"no stored bars"``."""
        if self.frame.empty:
            return "no stored bars"
        last = self.frame.index[-1]
        if self.interval in ("day", "week"):
            end = datetime.combine(last.date(), time(15, 30), IST)
            label = f"{last:%d %b %Y}"
        else:
            end = (last + pd.Timedelta(minutes=_BAR_MINUTES[self.interval])).to_pydatetime()
            label = f"{last:%d %b %Y %H:%M} IST"
        return f"last bar {label}, {_age(self.as_of - end)} before the as-of time"

    def warning_text(self) -> str | None:
        """The frame's warning with the last bar's age, or ``None`` when the read was complete."""
        if not self.warning:
            return None
        return f"{self.warning[0].upper()}{self.warning[1:]}; {self.last_bar_age()}."

    def shortfalls(self, indicators: Iterable[str]) -> list[str]:
        """For each of ``indicators`` (names in ``INDICATOR_BARS``) that has too few bars to draw a
        value: ``"EMA 50 needs 50 bars, 17 available"``. Unknown names raise ``ValidationError``."""
        out = []
        for name in indicators:
            if name not in INDICATOR_BARS:
                raise ValidationError(f"unknown indicator {name!r}; use one of {', '.join(INDICATOR_BARS)}")
            need = INDICATOR_BARS[name]
            if len(self.frame) < need:
                out.append(f"{name} needs {need} bars, {len(self.frame)} available")
        return out


def _age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def chart_as_of(market_now: datetime, day: date | None = None) -> datetime:
    """The as-of time of a chart: market now for ``day`` ``None`` or on/after market now's
    date (never later than market now), else the end of ``day`` (23:59:59 IST, after its
    close). Raises ``ValidationError`` for a naive ``market_now``."""
    now = to_ist(market_now)
    if day is None or day >= now.date():
        return now
    return datetime.combine(day, time(23, 59, 59), IST)


def chart_bars(market: OhlcvReader, key: str, interval: str, as_of: datetime | None = None,
               bars: int | None = None) -> ChartBars:
    """The bars of ``key`` at ``interval`` for the Chart page, through the one read path
    ``MarketDataService.ohlcv(..., fill=True, forming=True)``: missing history is first
    backfilled from the market, then the last ``bars`` (default ``CHART_BARS[interval]``)
    closed bars as of ``as_of`` (default and cap: market now) plus the forming one.

    Raises ``ValidationError`` for an interval not in ``CHART_BARS`` or an unknown symbol (the
    message names close matches); ``DeskError`` subclasses from the market (e.g. Kite login
    needed). A market that is merely unreachable is not an error: ``warning`` says so.
    """
    if interval not in CHART_BARS:
        raise ValidationError(f"chart interval must be one of {', '.join(CHART_BARS)}, got {interval!r}")
    n = bars or CHART_BARS[interval]
    raw = market.ohlcv(key, interval, as_of=as_of, bars=n, fill=True, forming=True)
    attrs = dict(raw.attrs)
    read_at = attrs.get("as_of") or (to_ist(as_of) if as_of else market.now())
    frame = _clean(raw).tail(n)
    closed = closed_until(frame, interval, read_at)
    return ChartBars(key=key, interval=interval, as_of=to_ist(read_at), frame=frame, requested=n,
                     forming=len(closed) < len(frame), derived=attrs.get("derived"),
                     warning=attrs.get("warning"))


def _clean(frame: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["open", "high", "low", "close", "volume"]
    if frame is None or frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols},
                            index=pd.DatetimeIndex([], tz=IST, name="ts"))
    out = frame[cols].astype("float64")
    out.index = pd.DatetimeIndex(out.index).tz_convert(IST)
    out.attrs = {}
    return out[~out.index.duplicated(keep="last")].sort_index()
