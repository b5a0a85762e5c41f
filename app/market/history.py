"""Historical candles: backfill from Kite (or the replay server) into the store, read them back.

Every request goes through :class:`app.adapters.kite_historical.HistoricalClient`: Kite's
per-interval windows (``KITE_MAX_DAYS``, defined there and only there), the shared 3 req/s
Redis rate limiter for all processes, retries with backoff on 429/5xx, and the
``continuous``/``oi`` flags (``../shared/docs/indian-market.md`` §5; Kite Connect docs,
"Historical candle data"). ``backfill`` skips what the store already covers (ranges fetched
before are recorded in ``bar_coverage``) and stores idempotently, one window at a time, so a
failure part-way keeps every window already stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.adapters.kite_historical import KITE_MAX_DAYS, check_interval, check_window, kite_windows
from app.market.bar_cache import BarCache
from app.market.history_live import TailRefresher
from core.bars_asof import ticker_tail_complete
from app.market.instruments import InstrumentService
from core import bars_asof
from core.errors import DeskError, TemporaryError, ValidationError
from core.models import Bar
from core.timeutil import IST, UTC, ist_range, require_aware

if TYPE_CHECKING:  # pragma: no cover (pandas loads on first use: issue 16 item 7)
    import pandas as pd

    from app.adapters.kite_historical import HistoricalClient

log = logging.getLogger(__name__)

__all__ = ["KITE_MAX_DAYS", "MarketDataService", "MarketPanel", "kite_windows", "uncovered"]

_SECOND = timedelta(seconds=1)
#: Daily closes that differ from the market's by more than this fraction mean a corporate action.
ADJUST_TOLERANCE = 0.01
#: How far back of stored daily bars a daily backfill re-reads to compare closes.
ADJUST_LOOKBACK = timedelta(days=10)
Progress = Callable[[float, str], None]


def _quote_time(value: Any) -> datetime | None:
    """A ``/quote`` timestamp (kiteconnect gives a naive IST datetime, or a string) as IST."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=IST) if value.tzinfo is None else value.astimezone(IST)


def uncovered(start: datetime, end: datetime, covered: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Parts of ``[start, end]`` not inside ``covered`` (sorted, merged, inclusive ranges).

    A covered range's *end* is re-fetched (it is the newest bar seen, possibly still forming).
    """
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start
    for c_start, c_end in covered:
        if c_end < cursor or c_start > end:
            continue
        if c_start > cursor:
            gaps.append((cursor, c_start - _SECOND))
        cursor = max(cursor, c_end)
    if cursor <= end:
        gaps.append((cursor, end))
    return gaps


@dataclass(frozen=True)
class MarketPanel:
    """Bars of many instruments as of one market time (what :meth:`MarketDataService.panel` returns).

    ``frame``: long, columns ``symbol`` (tradingsymbol), ``instrument_token``, ``ts`` (IST bar
    open), float ``open high low close`` (₹), int ``volume``; only bars closed by ``as_of``
    plus, if asked, the forming one. ``requested``: keys asked for; ``unknown``: keys not in
    the instruments master; ``empty``: known keys with no bar in the range; ``last_bar``: the
    newest bar open in ``frame`` (``None`` if empty).
    """

    frame: pd.DataFrame
    interval: str
    as_of: datetime
    requested: int
    unknown: tuple[str, ...]
    empty: tuple[str, ...]
    last_bar: pd.Timestamp | None

    @property
    def with_data(self) -> int:
        return self.requested - len(self.unknown) - len(self.empty)

    def coverage(self) -> str:
        """E.g. ``"275 of 500 symbols, bars to 09 Sep 2016 09:20 IST"``."""
        if self.last_bar is None:
            return f"0 of {self.requested} symbols have {self.interval} bars up to {self.as_of:%d %b %Y %H:%M} IST"
        fmt = "%d %b %Y" if self.interval in ("day", "week") else "%d %b %Y %H:%M IST"
        return f"{self.with_data} of {self.requested} symbols, bars to {self.last_bar.tz_convert(IST).strftime(fmt)}"


class MarketDataService:
    """Candles from the configured market (real Kite or the replay server) and the store.

    ``store``: has ``bars`` (a ``BarRepository``); ``instruments`` resolves keys against the
    instruments master; ``historical`` is the :class:`HistoricalClient` every request goes
    through. ``ticks`` (the tick cache) builds the forming bar, and ``quotes(tokens)`` (Kite's
    ``/quote``, 500 a call) today's bar of instruments that are not ticking; ``clock()`` returns market
    time (tz-aware), the bound of every read (no bar after it is ever returned). The
    composition root builds them all.
    """

    def __init__(self, store: Any, instruments: InstrumentService, historical: HistoricalClient,
                 ticks: Any = None, clock: Callable[[], datetime] | None = None,
                 quotes: Callable[[list[int]], dict[int, dict[str, Any]]] | None = None) -> None:
        self._store = store
        self.instruments = instruments
        self.historical = historical
        self._ticks = ticks
        self._quotes = quotes  # tokens -> Kite /quote answers: today's bar for instruments not ticking
        self._clock = clock or (lambda: datetime.now(UTC))
        self._knows_market_time = clock is not None  # without a clock no window is taken as final
        self.cache = BarCache(store.bars)
        self.tail_refresher = TailRefresher(self._refresh_tail)

    # ---- reads as of market time -------------------------------------------------------------

    def now(self) -> datetime:
        """Market time (tz-aware IST): the bound of every read."""
        return self._clock().astimezone(IST)

    def _as_of(self, as_of: datetime | None) -> datetime:
        now = self.now()
        if as_of is None:
            return now
        return min(require_aware(as_of, "as_of").astimezone(IST), now)

    def ohlcv(self, key_or_token: str | int, interval: str, *, as_of: datetime | None = None,
              start: datetime | date | None = None, bars: int | None = None, forming: bool = False,
              fill: bool = True) -> pd.DataFrame:
        """OHLCV of one instrument as of market time: the one read path of charts, analysis and
        backtests.

        ``interval``: a Kite interval or ``week`` (built from ``day``); intraday intervals are
        aggregated from stored ``minute`` bars (``core.resample``, 09:15-aligned). ``as_of``
        (default: market now; a later time is cut to market now) bounds the read: only bars
        closed by then (``core.bars_asof``), plus the forming bar if ``forming``. ``start``
        (tz-aware or an IST date), else far enough back for ``bars`` bars (default 250 day / 2
        sessions intraday; the frame may hold more — take ``.tail(bars)``). ``fill``: first backfill the missing part of the range through the
        Kite historical client (its windows and the shared 3 req/s limiter); if the market is
        unreachable the stored bars are returned and ``frame.attrs["warning"]`` says why.

        Returns a frame indexed by IST bar open (``ts``), float64 ``open high low close`` (₹),
        int64 ``volume``; ``attrs``: ``as_of``, ``derived`` (how it was built). Raises
        ``ValidationError`` for an unknown interval or symbol.
        """
        as_of = self._as_of(as_of)
        bars_asof.check_read_interval(interval)
        base = bars_asof.base_interval(interval)
        lo = self._start(interval, as_of, start, bars)
        warning = None
        if fill and not self._tail_from_ticker(key_or_token, base, lo, as_of):
            try:
                if self.backfill(key_or_token, base, lo, max(lo, as_of)):
                    self.cache.invalidate(self.token_of(key_or_token), base)
            except (TemporaryError, OSError) as exc:  # Kite / replay / limiter unreachable
                warning = f"showing stored bars only: the market's historical API failed ({exc})"
                log.warning("ohlcv %s %s: %s", key_or_token, interval, warning)
        panel = self.panel([key_or_token], interval, as_of=as_of, start=lo, forming=forming)
        frame = panel.frame.drop(columns=["symbol", "instrument_token"]).set_index("ts")
        frame.attrs.update(as_of=as_of, warning=warning,
                           derived=None if interval in ("minute", "day") else f"aggregated from {base} bars")
        return frame

    def panel(self, keys: list[str | int], interval: str, *, as_of: datetime | None = None,
              start: datetime | date | None = None, bars: int | None = None,
              forming: bool = False) -> MarketPanel:
        """Stored bars of many instruments as of market time, from the in-process cache (one
        grouped count query when warm; no network). Same rules as :meth:`ohlcv`; unknown keys
        are listed in ``unknown``, not raised. Raises ``ValidationError`` for an unknown interval."""
        import pandas as pd

        as_of = self._as_of(as_of)
        bars_asof.check_read_interval(interval)
        base = bars_asof.base_interval(interval)
        lo = self._start(interval, as_of, start, bars)
        known, unknown = {}, []
        for key in keys:
            try:  # find, not resolve: no close-match suggestions for an unknown key (~50 ms each)
                inst = self.instruments.find(key)
            except ValidationError:
                inst = None
            if inst is None:
                unknown.append(str(key))
                continue
            known[inst.instrument_token] = inst.tradingsymbol
        known = dict(sorted(known.items(), key=lambda kv: kv[1]))  # by tradingsymbol: the frame's order
        long = self.cache.read_long(list(known), base, lo, as_of).drop(columns="oi")
        long = bars_asof.closed_long(long, base, as_of)
        if forming and base == "day":
            today = self._forming_days(list(known), as_of)
            if len(today):
                long = pd.concat([long, today[long.columns]], ignore_index=True)
        resampled = interval not in ("minute", "day")
        long = bars_asof.resample_long(long, interval)
        if not forming:
            long = bars_asof.closed_long(long, interval, as_of)
        elif base == "minute":
            long = self._forming_intraday(long, list(known), interval, as_of)
        long = long.assign(symbol=long["instrument_token"].map(known))
        long = long[["symbol", "instrument_token", "ts", "open", "high", "low", "close", "volume"]]
        if resampled or forming:
            long = long.sort_values(["symbol", "ts"], ignore_index=True, kind="stable")
        else:
            long = long.reset_index(drop=True)
        have = set(long["instrument_token"].unique())
        empty = tuple(sym for tok, sym in known.items() if tok not in have)
        last = long["ts"].max() if len(long) else None
        return MarketPanel(long, interval, as_of, len(keys), tuple(unknown), empty, last)

    def _start(self, interval: str, as_of: datetime, start: datetime | date | None, bars: int | None) -> datetime:
        if isinstance(start, datetime):
            lo = require_aware(start, "start")
        elif start is not None:
            lo = datetime.combine(start, datetime.min.time(), IST)
        else:
            lo = bars_asof.default_start(interval, as_of, bars or (250 if interval in ("day", "week") else 750))
        if lo > as_of:
            raise ValidationError(f"start {lo:%d %b %Y %H:%M} is after the read's market time "
                                  f"{as_of:%d %b %Y %H:%M} IST; pick an earlier start")
        return lo.astimezone(IST)

    def _tail_from_ticker(self, key_or_token: str | int, base: str, lo: datetime, as_of: datetime) -> bool:
        """Whether the only part of ``[lo, as_of]`` never fetched is today's tail and the ticker's
        stored minute bars cover it whole (``core.bars_asof.ticker_tail_complete``): then a read
        needs no historical request. The instrument counts as ticking with a tick of ``as_of``'s
        day in the tick cache (a later one too: only stored closed minutes are used)."""
        import pandas as pd

        if base != "minute" or self._ticks is None:
            return False
        token = self.token_of(key_or_token)
        lo_utc = lo.astimezone(UTC)
        gaps = uncovered(lo_utc, as_of.astimezone(UTC), self._store.bars.coverage(token, base))
        if len(gaps) != 1 or gaps[0][0] <= lo_utc:
            return False  # nothing to fetch (backfill returns at once), or more than the tail
        try:
            cached = self._ticks.latest([token]).get(token)
        except TemporaryError:
            return False
        ticked = (cached.tick.exchange_timestamp or cached.received_at) if cached else None
        if ticked is None or ticked.astimezone(IST).date() != as_of.date():
            return False
        stored = self.cache.read_long([token], base, lo, as_of)["ts"]  # the read that follows is warm
        ns = pd.DatetimeIndex(stored).as_unit("ns").asi8
        if not ticker_tail_complete(gaps[0][0], as_of, ns[ns >= pd.Timestamp(gaps[0][0]).value], True):
            return False
        self.tail_refresher.maybe_refresh(token, gaps[0][0], as_of)
        return True

    def _refresh_tail(self, token: int, start: datetime, end: datetime) -> None:
        """The background re-read of a tail served from the store (bars re-written in place keep
        the count, so the cache entry is dropped whatever the backfill added)."""
        self.backfill(token, "minute", start, end)
        self.cache.invalidate(token, "minute")

    def _latest_ticks(self, tokens: list[int], as_of: datetime) -> dict[int, Any]:
        if self._ticks is None or not tokens:
            return {}
        try:
            latest = self._ticks.latest(tokens)
        except TemporaryError as exc:
            log.warning("no forming bar: the tick cache is unavailable (%s)", exc)
            return {}
        out = {}
        for tok, cached in latest.items():
            ts = cached.tick.exchange_timestamp or cached.received_at
            if ts.astimezone(IST).date() == as_of.date() and ts <= as_of + timedelta(seconds=1):
                out[tok] = cached.tick
        return out

    def _forming_days(self, tokens: list[int], as_of: datetime) -> pd.DataFrame:
        import pandas as pd

        rows = []
        if bars_asof.day_closed(pd.Timestamp(as_of.date()), as_of):
            return pd.DataFrame(columns=["ts", *bars_asof.OHLCV, "instrument_token"])
        day = pd.Timestamp(as_of.date(), tz=IST)
        today: dict[int, tuple[float, float, float, float, int]] = {}
        for tok, tick in self._latest_ticks(tokens, as_of).items():
            today[tok] = (tick.open, tick.high, tick.low, tick.last_price, tick.volume_traded)
        missing = [t for t in tokens if t not in today]
        if missing and self._quotes is not None:
            try:
                for tok, q in self._quotes(missing).items():
                    stamp = _quote_time(q.get("timestamp") or q.get("last_trade_time"))
                    ohlc = q.get("ohlc") or {}
                    if stamp is not None and stamp.date() == as_of.date() and stamp <= as_of + timedelta(seconds=1):
                        today[tok] = (float(ohlc.get("open") or 0), float(ohlc.get("high") or 0),
                                      float(ohlc.get("low") or 0), float(q.get("last_price") or 0),
                                      int(q.get("volume") or 0))
            except (TemporaryError, DeskError, OSError) as exc:
                log.warning("today's bar only for ticking instruments: the quote failed (%s)", exc)
        for tok, (o, h, low, ltp, volume) in today.items():
            if ltp <= 0:
                continue
            bar = bars_asof.forming_bar(pd.DataFrame(), ltp, volume, day, day_ohlc=(o, h, low))
            if len(bar):
                rows.append(bar.reset_index().assign(instrument_token=tok))
        return (pd.concat(rows, ignore_index=True) if rows
                else pd.DataFrame(columns=["ts", *bars_asof.OHLCV, "instrument_token"]))

    def _forming_intraday(self, long: pd.DataFrame, tokens: list[int], interval: str, as_of: datetime) -> pd.DataFrame:
        """Keep closed bars, and make the bar of the bucket holding ``as_of`` the forming one
        (its closed minutes so far, the latest tick's LTP as close)."""
        import pandas as pd

        bucket = bars_asof.bucket_start(as_of, interval)
        closed = bars_asof.closed_long(long, interval, as_of)
        partial = long[long["ts"] == bucket]
        ticks = self._latest_ticks(tokens, as_of)
        rows = []
        for tok in tokens:
            minutes = partial[partial["instrument_token"] == tok].set_index("ts")
            tick = ticks.get(tok)
            bar = bars_asof.forming_bar(minutes, tick.last_price if tick else None, None, bucket)
            if len(bar):
                rows.append(bar.reset_index().assign(instrument_token=tok))
        return pd.concat([closed, *rows], ignore_index=True) if rows else closed

    # ---- backfill ----------------------------------------------------------------------------

    def token_of(self, key_or_token: str | int) -> int:
        """instrument_token for ``"NSE:INFY"``-style keys (any form ``resolve`` takes) or a token.

        Raises ``ValidationError`` for a symbol missing from the instruments dump (naming close
        matches) or a non-positive token. A bare token is passed to Kite as is.
        """
        if isinstance(key_or_token, int) or (isinstance(key_or_token, str) and key_or_token.strip().isdigit()):
            token = int(key_or_token)
            if token <= 0:
                raise ValidationError(f"instrument_token must be positive, was {token}")
            return token
        return self.instruments.resolve(key_or_token).instrument_token

    def backfill(self, key_or_token: str | int, interval: str, start: datetime | date, end: datetime | date,
                 progress: Progress | None = None, *, continuous: bool = False, oi: bool = False,
                 single: bool = False, notes: list[str] | None = None) -> int:
        """Fetch ``interval`` candles for ``[start, end]`` from the market and store them.

        ``start``/``end`` are tz-aware datetimes (or IST dates: whole days). Ranges fetched
        before are skipped except the newest stored bar onward (it may have been forming). The
        rest is split into Kite's windows (``KITE_MAX_DAYS``) unless ``single`` is set: then the
        range must fit one request. ``continuous`` (continuous futures) and ``oi`` (open
        interest) are passed to Kite. ``progress(fraction 0..1, message)`` is called after each
        request window; each window is stored before the next is requested. A window that fills
        a hole right before stored bars is recorded as covered to its end (its bars are closed),
        so the hole is not requested again.

        **Corporate actions** (``interval="day"``): Kite's daily candles are adjusted for splits
        and bonuses, so after one the whole stored history is off by the factor. The first
        window re-reads up to ``ADJUST_LOOKBACK`` of stored days (no extra request; a window that
        fills a hole before stored bars also reads that far into them), and when
        a fetched close differs from the stored one by more than ``ADJUST_TOLERANCE`` (1 %) on
        any overlapping day (the newest stored bar is not compared: it may have been forming),
        the symbol's daily history is replaced: the whole range (from the first stored
        coverage) is fetched first, then the stored bars are deleted and the new ones written,
        so an error while fetching leaves the stored history as it was. The event is logged
        (warning) and appended to ``notes`` (a list the caller passes, e.g. for a job message).

        Returns the number of bars that were new to the store (0 on an identical re-run; after
        a replacement, the growth of the stored count, at least 0).
        Raises ``ValidationError`` — before any request and with nothing written — for an
        interval Kite does not offer, a symbol missing from the instruments dump, a naive time,
        ``start > end`` or (``single``) a range beyond Kite's per-request limit; Kite's
        ``InputException`` (e.g. a token it does not know) also becomes ``ValidationError``.
        ``HistoricalUnavailable`` after the client's retries on 429/5xx; ``TokenException`` /
        ``KiteLoginRequired`` when the session is gone. Bars stored before an error are kept.
        """
        check_interval(interval)
        start, end = ist_range(start, end)
        if single:
            check_window(interval, start, end)
        token = self.token_of(key_or_token)
        bars_repo = self._store.bars
        covered = bars_repo.coverage(token, interval)
        windows = [w for gap in uncovered(start.astimezone(UTC), end.astimezone(UTC), covered)
                   for w in kite_windows(interval, *gap)]
        before = bars_repo.count(token, interval)
        if not windows:
            if progress:
                progress(1.0, "already stored")
            return 0
        covered_starts = {c[0] for c in covered}
        check_adjusted = interval == "day" and before > 1 and not single
        if check_adjusted:
            windows[0] = self._widen_for_overlap(windows[0], covered)
        newest = bars_repo.latest_ts(token, interval) if check_adjusted else None
        fetched = 0
        for i, (frm, to) in enumerate(windows, 1):
            req_to = to
            if check_adjusted and to + _SECOND in covered_starts and \
                    to + ADJUST_LOOKBACK - frm <= timedelta(days=KITE_MAX_DAYS["day"]):
                req_to = to + ADJUST_LOOKBACK  # a hole before stored bars: read a few of them too
            candles = self.historical.fetch_window(token, frm, req_to, interval, continuous=continuous, oi=oi)
            bars = _bars(token, interval, candles)
            if check_adjusted:
                mismatch = self._close_mismatch(token, bars, frm, req_to, newest)
                if mismatch is not None:
                    # the whole stored range and the asked one: nothing stored is left unadjusted
                    whole = (min([start.astimezone(UTC), *(c[0] for c in covered)]),
                             max([end.astimezone(UTC), *(c[1] for c in covered)]))
                    return self._replace_daily(token, key_or_token, *whole, before, mismatch, progress, notes,
                                               continuous=continuous, oi=oi)
            bars_repo.upsert(bars)
            if to + _SECOND in covered_starts:  # a hole before stored bars: all closed, cover it whole
                bars_repo.add_coverage(token, interval, frm, to + _SECOND)  # touches the next span: merged
            elif self._final(interval, to):  # the whole window had closed: even no bars is an answer
                bars_repo.add_coverage(token, interval, frm, to + _SECOND)  # past the end: not re-fetched
            elif bars:
                bars_repo.add_coverage(token, interval, frm, max(b.ts for b in bars))
            fetched += len(bars)
            if progress:
                progress(i / len(windows), f"window {i}/{len(windows)}: {frm:%Y-%m-%d} → {to:%Y-%m-%d}, "
                                           f"{len(bars)} bars")
        added = bars_repo.count(token, interval) - before
        log.info("backfill %s %s %s..%s: %d windows, %d bars fetched, %d new", token, interval,
                 start.isoformat(), end.isoformat(), len(windows), fetched, added)
        return added

    def _final(self, interval: str, to: datetime) -> bool:
        """Whether every bar up to ``to`` had closed at market time (with a 5-minute grace for
        the market's own publishing of the last minute), so the window's answer is final and is
        not requested again — a holiday, a halt or a range before listing included."""
        import pandas as pd

        if not self._knows_market_time:
            return False
        now = self.now()
        if to > now:
            return False
        if interval == "day":
            return bars_asof.day_closed(pd.Timestamp(to.astimezone(IST).date()), now - timedelta(minutes=5))
        return to + timedelta(minutes=bars_asof.INTERVAL_MINUTES[interval] + 5) <= now

    def _widen_for_overlap(self, window: tuple[datetime, datetime],
                           covered: list[tuple[datetime, datetime]]) -> tuple[datetime, datetime]:
        """Start the first daily window up to ``ADJUST_LOOKBACK`` earlier, inside stored coverage
        and Kite's per-request limit, so its closes can be compared with stored ones."""
        frm, to = window
        earlier = [c for c in covered if c[0] < frm]
        if not earlier:
            return window
        widened = max(frm - ADJUST_LOOKBACK, earlier[0][0])
        if (to - widened) > timedelta(days=KITE_MAX_DAYS["day"]):
            return window
        return widened, to

    def _close_mismatch(self, token: int, bars: list[Bar], frm: datetime, to: datetime,
                        newest: datetime | None) -> str | None:
        """A description of the days whose stored close differs from the fetched one by more
        than ``ADJUST_TOLERANCE`` (the newest stored bar excluded), or ``None``."""
        import pandas as pd

        if not bars:
            return None
        stored = self._store.bars.frame(token, "day", frm, to)
        if newest is not None:
            stored = stored[stored.index != pd.Timestamp(newest).tz_convert(IST)]
        if stored.empty:
            return None
        fresh = pd.Series({pd.Timestamp(b.ts).tz_convert(IST): float(b.close) for b in bars})
        both = pd.concat([stored["close"].rename("stored"), fresh.rename("fetched")], axis=1, join="inner")
        both = both[both["fetched"] > 0]
        if both.empty:
            return None
        diff = (both["stored"] / both["fetched"] - 1.0).abs()
        off = diff[diff > ADJUST_TOLERANCE]
        if off.empty:
            return None
        day = off.index[0]
        row = both.loc[day]
        return (f"{len(off)} of {len(both)} overlapping days' closes differ by more than "
                f"{ADJUST_TOLERANCE:.0%} (e.g. {day:%d %b %Y}: stored ₹{row['stored']:.2f}, "
                f"now ₹{row['fetched']:.2f}, ratio {row['stored'] / row['fetched']:.4g})")

    def _replace_daily(self, token: int, key: str | int, frm: datetime, to: datetime, before: int, why: str,
                       progress: Progress | None, notes: list[str] | None, **flags: bool) -> int:
        """Fetch the whole daily range first, then delete the stored history and write the new."""
        bars_repo = self._store.bars
        windows = kite_windows("day", frm, to)
        log.warning("daily history of %s (%s) looks adjusted for a corporate action: %s; "
                    "replacing %d stored bars with %s → %s", key, token, why, before,
                    frm.astimezone(IST).date(), to.astimezone(IST).date())
        fetched: list[tuple[datetime, list[Bar]]] = []
        for i, (w_frm, w_to) in enumerate(windows, 1):
            fetched.append((w_frm, _bars(token, "day", self.historical.fetch_window(token, w_frm, w_to, "day", **flags))))
            if progress:
                progress(0.9 * i / len(windows), f"corporate action: refetching window {i}/{len(windows)}")
        new = [b for _, bars in fetched for b in bars]
        if not new:  # the market returned nothing: keep what is stored
            note = f"{key}: daily closes disagree with the market ({why}) but it returned no bars; kept the stored history"
            log.warning(note)
            if notes is not None:
                notes.append(note)
            return 0
        deleted = bars_repo.delete(token, "day")
        try:
            bars_repo.upsert(new)
        except Exception:  # coverage went with the bars, so the next backfill refetches the whole range
            log.exception("writing the replaced daily history of %s failed after deleting %d bars; retrying once",
                          key, deleted)
            bars_repo.upsert(new)
        for w_frm, bars in fetched:
            if bars:
                bars_repo.add_coverage(token, "day", w_frm, max(b.ts for b in bars))
        note = (f"{key}: corporate action? {why}; replaced the stored daily history "
                f"({deleted} bars) with {len(new)} adjusted bars")
        log.warning(note)
        if notes is not None:
            notes.append(note)
        if progress:
            progress(1.0, note)
        self.cache.invalidate(token, "day")
        return max(0, bars_repo.count(token, "day") - before)

    def bars(self, key_or_token: str | int, interval: str, start: datetime | date,
             end: datetime | date) -> pd.DataFrame:
        """Stored candles for ``[start, end]``: the frame ``BarRepository.frame`` documents
        (IST ``ts`` index; float64 open/high/low/close ₹; int64 volume, oi). No network.
        Raises ``ValidationError`` for an interval Kite does not offer or an unknown symbol."""
        check_interval(interval)
        start, end = ist_range(start, end)
        return self._store.bars.frame(self.token_of(key_or_token), interval, start, end)


def _bars(token: int, interval: str, candles: list[dict]) -> list[Bar]:
    return [Bar(token, interval, c["date"], c["open"], c["high"], c["low"], c["close"],
                int(c.get("volume") or 0), int(c.get("oi") or 0)) for c in candles]
