"""Bars as of a market time: which bars had closed, the bar still forming, weekly bars.

The no-look-ahead rule of the desk's market-data reads (issue 12). All functions are pure:
frames in, frames out, no I/O.

* An intraday bar opening at ``ts`` (IST) of ``m`` minutes has closed at ``as_of`` when
  ``ts + m minutes <= as_of``. Kite's buckets are aligned to the 09:15 session open
  (``core.resample``), so the 15:15 ``60minute`` bar ends at 15:30, not 16:15.
* A ``day`` bar is stamped 00:00 IST of its trading date (Kite's convention) and has closed
  once the session has: ``as_of >= date 15:30 IST`` (NSE's normal market close,
  ``../shared/docs/indian-market.md`` §1), or any later date.
* A ``week`` bar (Monday-to-Sunday calendar week, stamped with its first trading day like the
  Scanner's weekly panel) has closed once every day in it has: ``as_of`` is on a later week,
  or on Saturday/Sunday of the same week, or after Friday's close.

Frames: indexed by tz-aware bar-open time, columns ``open high low close volume`` (rupees,
shares; ``oi`` is carried if present).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from core.errors import ValidationError
from core.models import INTERVAL_MINUTES
from core.timeutil import IST, require_aware

if TYPE_CHECKING:  # pragma: no cover (pandas/numpy load on first use: issue 16 item 7)
    import numpy as np
    import pandas as pd

#: Every interval the desk reads: Kite's historical intervals and ``week`` (built from ``day``).
READ_INTERVALS: tuple[str, ...] = (*INTERVAL_MINUTES, "week")
SESSION_OPEN, SESSION_CLOSE = time(9, 15), time(15, 30)
OHLCV = ["open", "high", "low", "close", "volume"]


def check_read_interval(interval: str) -> str:
    """Return ``interval`` if the desk can read it, else raise ``ValidationError`` naming the valid ones."""
    if interval not in READ_INTERVALS:
        raise ValidationError(f"unknown interval {interval!r}; use one of {', '.join(READ_INTERVALS)}")
    return interval


def base_interval(interval: str) -> str:
    """The stored interval a read is built from: ``day`` for ``day``/``week``, else ``minute``."""
    return "day" if check_read_interval(interval) in ("day", "week") else "minute"


def day_closed(day: pd.Timestamp | datetime, as_of: datetime) -> bool:
    """Whether the session of IST date ``day`` had closed at ``as_of``."""
    import pandas as pd

    as_of = require_aware(as_of, "as_of").astimezone(IST)
    d = pd.Timestamp(day).date()
    return as_of.date() > d or (as_of.date() == d and as_of.time() >= SESSION_CLOSE)


def closed_until(frame: pd.DataFrame, interval: str, as_of: datetime) -> pd.DataFrame:
    """The rows of ``frame`` (bars of ``interval``) that had closed by ``as_of`` (module rules)."""
    import pandas as pd

    as_of = require_aware(as_of, "as_of").astimezone(IST)
    if frame.empty:
        return frame
    idx = pd.DatetimeIndex(frame.index).tz_convert(IST)
    if interval == "day":
        cut = pd.Timestamp(as_of.date(), tz=IST) + (pd.Timedelta(days=1) if as_of.time() >= SESSION_CLOSE
                                                    else pd.Timedelta(0))
        return frame[idx < cut]
    if interval == "week":
        return frame[[week_closed(ts, as_of) for ts in idx]]
    step = pd.Timedelta(minutes=INTERVAL_MINUTES[check_read_interval(interval)])
    ends = idx + step
    session_end = idx.normalize() + pd.Timedelta(hours=15, minutes=30)
    return frame[ends.where(ends <= session_end, session_end) <= pd.Timestamp(as_of)]


def week_closed(first_day: pd.Timestamp, as_of: datetime) -> bool:
    """Whether the calendar week (Mon–Sun) holding ``first_day`` had ended its last session by ``as_of``."""
    import pandas as pd

    as_of = require_aware(as_of, "as_of").astimezone(IST)
    monday = pd.Timestamp(first_day).tz_convert(IST).normalize() - pd.Timedelta(days=pd.Timestamp(first_day).weekday())
    friday_close = (monday + pd.Timedelta(days=4)).to_pydatetime().replace(hour=15, minute=30)
    return as_of >= friday_close


def to_interval(base: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Aggregate stored ``minute`` bars to an intraday ``interval``, or ``day`` bars to ``week``.

    ``day`` and ``minute`` come back unchanged. Partial buckets are kept (the caller drops
    them with :func:`closed_until` unless it wants the forming bar).
    """
    import pandas as pd

    check_read_interval(interval)
    if interval in ("minute", "day") or base.empty:
        return base
    if interval == "week":
        d = base.sort_index()
        idx = pd.DatetimeIndex(d.index).tz_convert(IST)
        week = idx.tz_localize(None).to_period("W-SUN")
        g = d[OHLCV].groupby(week, sort=True)
        out = g.agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        first = pd.Series(idx, index=d.index).groupby(week, sort=True).first()
        out.index = pd.DatetimeIndex(first).tz_convert(IST)
        out.index.name = "ts"
        return out
    from core.resample import resample_bars

    return resample_bars(base, interval)


def bucket_start(ts: datetime, interval: str) -> pd.Timestamp:
    """Open time (IST) of the ``interval`` bar holding instant ``ts`` (09:15-aligned; ``day``: 00:00)."""
    import pandas as pd

    t = pd.Timestamp(require_aware(ts, "ts")).tz_convert(IST)
    day = t.normalize()
    if interval == "day":
        return day
    step = pd.Timedelta(minutes=INTERVAL_MINUTES[check_read_interval(interval)])
    since = t - day - pd.Timedelta(hours=9, minutes=15)
    return day + pd.Timedelta(hours=9, minutes=15) + max(since // step, 0) * step


def forming_bar(closed_minutes: pd.DataFrame, ltp: float | None, volume_today: int | None, bucket: pd.Timestamp,
                day_ohlc: tuple[float, float, float] | None = None) -> pd.DataFrame:
    """The bar still forming in the bucket opening at ``bucket`` (IST), as one row.

    Intraday: ``closed_minutes`` are the closed 1-minute bars inside the bucket; the latest
    tick's ``ltp`` (if any) is the close and widens high/low. ``day``: pass ``day_ohlc`` (the
    tick's day open/high/low) and ``volume_today`` (the tick's cumulative volume); without a
    tick the day's closed minutes are aggregated. Returns an empty frame when there is
    nothing to build from.
    """
    import pandas as pd

    if day_ohlc is not None and ltp is not None and all(v > 0 for v in day_ohlc):
        o, h, low = day_ohlc
        row = {"open": o, "high": max(h, ltp), "low": min(low, ltp), "close": ltp,
               "volume": int(volume_today or 0)}
        return pd.DataFrame([row], index=pd.DatetimeIndex([bucket], name="ts"))[OHLCV]
    m = closed_minutes.sort_index()
    if m.empty and ltp is None:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in OHLCV},
                            index=pd.DatetimeIndex([], tz=IST, name="ts"))
    if m.empty:
        row = {"open": ltp, "high": ltp, "low": ltp, "close": ltp, "volume": 0}
    else:
        row = {"open": float(m["open"].iloc[0]), "high": float(m["high"].max()), "low": float(m["low"].min()),
               "close": float(m["close"].iloc[-1]), "volume": int(m["volume"].sum())}
        if ltp is not None:
            row.update(high=max(row["high"], ltp), low=min(row["low"], ltp), close=ltp)
    return pd.DataFrame([row], index=pd.DatetimeIndex([bucket], name="ts"))[OHLCV]


def default_start(interval: str, as_of: datetime, bars: int) -> datetime:
    """A start far enough back (IST) that ``bars`` closed bars of ``interval`` precede ``as_of``:
    sessions of 375 minutes, about 250 sessions a year (weekends and holidays allowed for)."""
    check_read_interval(interval)
    if bars <= 0:
        raise ValidationError(f"bars must be a positive count, was {bars}")
    as_of = require_aware(as_of, "as_of").astimezone(IST)
    if interval == "week":
        sessions = bars * 5
    elif interval == "day":
        sessions = bars
    else:
        sessions = -(-bars * INTERVAL_MINUTES[interval] // 375)
    calendar_days = int(sessions * 7 / 5 * 1.08) + 7
    return datetime.combine(as_of.date() - timedelta(days=calendar_days), time(0, 0), IST)


def resample_long(long: pd.DataFrame, interval: str, by: str = "instrument_token") -> pd.DataFrame:
    """:func:`to_interval` for a long frame of many instruments (columns ``by``, ``ts``, OHLCV),
    in one vectorised group-by. Returns the same columns, sorted by ``by`` then ``ts``."""
    import pandas as pd

    check_read_interval(interval)
    if interval in ("minute", "day") or long.empty:
        return long
    ts = pd.DatetimeIndex(long["ts"]).tz_convert(IST)
    day = ts.normalize()
    if interval == "week":
        key = pd.Series(ts.tz_localize(None).to_period("W-SUN"), index=long.index)
    else:
        step = pd.Timedelta(minutes=INTERVAL_MINUTES[interval])
        since = ts - day - pd.Timedelta(hours=9, minutes=15)
        key = pd.Series(day + pd.Timedelta(hours=9, minutes=15) + (since // step) * step, index=long.index)
    d = long.assign(_k=key, ts=pd.Series(ts, index=long.index)).sort_values([by, "ts"])
    out = d.groupby([by, "_k"], sort=True).agg(ts=("ts", "first"), open=("open", "first"), high=("high", "max"),
                                                 low=("low", "min"), close=("close", "last"),
                                                 volume=("volume", "sum")).reset_index()
    if interval != "week":
        out["ts"] = pd.DatetimeIndex(out["_k"]).tz_convert(IST)
    return out[[by, "ts", *OHLCV]].astype({"volume": "int64"})


def closed_long(long: pd.DataFrame, interval: str, as_of: datetime) -> pd.DataFrame:
    """:func:`closed_until` for a long frame (``ts`` column)."""
    import pandas as pd

    if long.empty:
        return long
    kept = closed_until(long.set_index(pd.DatetimeIndex(long["ts"])), interval, as_of)
    return kept.reset_index(drop=True)


_MINUTE_NS = 60 * 1_000_000_000
_LAST_MINUTE = time(15, 29)


def _session_minutes_ns(start: datetime, end: datetime) -> np.ndarray:
    """Minute opens (ns since the epoch) of the session minutes of ``start.date()`` from
    ``start`` to ``end`` inclusive, both on that IST day."""
    import numpy as np
    import pandas as pd

    day = start.date()
    lo = max(start, datetime.combine(day, SESSION_OPEN, IST))
    hi = min(end, datetime.combine(day, _LAST_MINUTE, IST))
    if hi < lo:
        return np.empty(0, "int64")
    lo_ns, hi_ns = pd.Timestamp(lo).floor("min").value, pd.Timestamp(hi).floor("min").value
    return np.arange(lo_ns, hi_ns + 1, _MINUTE_NS, dtype="int64")


def ticker_tail_complete(tail_start: datetime, as_of: datetime, stored_ts_ns: np.ndarray, ticking: bool) -> bool:
    """Whether the stored minute bars cover ``[tail_start, last closed minute at as_of]`` whole.

    ``tail_start``: the newest backfilled bar's open (tz-aware; the start of the range the
    historical API would be asked for). ``as_of``: the read's market time (tz-aware).
    ``stored_ts_ns``: opens (int64 ns since the epoch, UTC) of the stored minute bars from
    ``tail_start`` on. ``ticking``: the instrument has a tick of ``as_of``'s day in the tick cache.

    True only when ticking, ``tail_start`` is on ``as_of``'s IST day or is the 15:29 bar of an
    earlier day with only Saturdays and Sundays in between, and every session minute from
    ``tail_start`` (today: from 09:15) to the minute before ``as_of``'s is stored.
    """
    import numpy as np
    import pandas as pd

    if not ticking:
        return False
    start, now = tail_start.astimezone(IST), as_of.astimezone(IST)
    if start > now:
        return False
    today = now.date()
    if start.date() != today:
        if start.time() < _LAST_MINUTE:
            return False
        day = start.date() + timedelta(days=1)
        while day < today:
            if day.weekday() < 5:  # a weekday with no bars: a holiday, or a session never fetched
                return False
            day += timedelta(days=1)
        start = datetime.combine(today, SESSION_OPEN, IST)
    last_closed = (pd.Timestamp(now).floor("min") - pd.Timedelta(minutes=1)).to_pydatetime()
    if now.time() >= SESSION_CLOSE:
        last_closed = datetime.combine(today, _LAST_MINUTE, IST)
    expected = _session_minutes_ns(start, last_closed)
    if not len(expected):
        return True  # before the first minute closed: only the forming bar, from the tick
    return bool(np.isin(expected, np.asarray(stored_ts_ns, dtype="int64")).all())
