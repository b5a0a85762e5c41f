"""Daily bars in the backtester: session times, the tick expansion and T+1 settlement dates.

A daily bar is one NSE normal session, 09:15–15:30 IST (``core.sessions``; the 375 minutes of
``core.models.INTERVAL_MINUTES["day"]``). Special sessions (Muhurat, a shortened day) are
treated as regular ones: a daily bar does not say when its session ran.

* **Bar times.** :func:`session_bars` stamps each bar at 09:15 IST of its date (Kite stamps day
  candles 00:00 IST); the bar *ends* at 15:30 IST, when a daily strategy decides.
* **Orders.** A decision at the close of day ``t`` is placed in the pre-open of the next
  session in the backtest's timeline (09:00 IST, :func:`pre_open`) — the gatekeeper judges it
  then, with day ``t``'s close as the LTP — and the broker queues it for the open
  (``core.broker.matching`` rule 8: a queued pre-open order meets the first normal-session
  tick). So a MARKET order fills at the next session's open price, as on the desk. The price
  band the gatekeeper sees in that pre-open is day ``t``'s (its close, the LTP, lies inside it);
  the fill meets the next session's own band.
* **Ticks.** The session is expanded into ``K`` ticks (``BacktestConfig.ticks_per_bar``) by
  the replay's own rule (``core.tickpath``, the way the replay derives a daily-only stock's
  session from its EOD row): O→L→H→C when the close is at or above the open, else O→H→L→C,
  turning points at ticks (K−1)//3 and 2(K−1)//3, linear in between, rounded to the tick. Tick
  ``i`` is stamped 09:15 IST + ``i × 375 / K`` minutes (whole seconds), the minute bars' rule
  stretched over the session (:data:`DAY_SPAN`).
* **Settlement.** A CNC buy settles on the next trading day (NSE T+1): :func:`settlement_days`
  takes it from the backtest's own timeline (the next date any bar has), after the last
  date the next weekday.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from core.errors import ValidationError
from core.sessions import NORMAL_OPEN, PRE_OPEN_START
from core.timeutil import IST

#: A daily bar's length: the NSE normal session 09:15–15:30 IST.
DAY_SPAN = timedelta(minutes=375)


_DAY_NS = 86_400 * 10**9
_IST_NS = 19_800 * 10**9  # IST is UTC+05:30 all year (no daylight saving)
_OPEN_NS = (NORMAL_OPEN.hour * 60 + NORMAL_OPEN.minute) * 60 * 10**9


def session_days(index: pd.Index) -> tuple[np.ndarray, np.ndarray | None]:
    """``(IST day numbers, order)`` of daily bars' times: int64 days since 1970-01-01 in IST
    time, ascending, and the permutation that sorts the bars (``None`` when already sorted).
    Raises ``ValidationError`` for an index that is not a tz-aware ``DatetimeIndex`` or holds
    two bars on one IST date (intraday bars passed as daily)."""
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValidationError("daily bars need a tz-aware DatetimeIndex (one bar per IST date)")
    day = (index.as_unit("ns").asi8 + _IST_NS) // _DAY_NS
    order = None
    if len(day) > 1 and not (day[1:] > day[:-1]).all():
        order = np.argsort(day, kind="stable")
        day = day[order]
        if (day[1:] == day[:-1]).any():
            raise ValidationError("daily bars hold two bars on one date; pass one bar per session (interval 'day')")
    return day, order


def session_open_ns(day: np.ndarray) -> np.ndarray:
    """UTC int64 ns of 09:15 IST on each IST day number (:func:`session_days`)."""
    return day * _DAY_NS + _OPEN_NS - _IST_NS


def session_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """``bars`` (one row per IST date, any time of day) re-indexed at 09:15 IST of each date.

    Returns the same columns, index named ``ts``, sorted. Raises ``ValidationError`` as
    :func:`session_days`.
    """
    day, order = session_days(bars.index)
    out = bars if order is None else bars.iloc[order]
    return out.set_axis(pd.DatetimeIndex(session_open_ns(day), tz="UTC", name="ts").tz_convert(IST))


def pre_open(day: date) -> datetime:
    """09:00 IST on ``day``: where an order decided at the previous session's close is placed."""
    return datetime.combine(day, PRE_OPEN_START, IST)


def settlement_days(days: list[date]) -> dict[date, date]:
    """``{trading day: the next one}`` over the sorted distinct ``days``; the last maps to the
    next weekday (the calendar beyond the data is not known here)."""
    out = dict(zip(days[:-1], days[1:], strict=True))
    if days:
        nxt = days[-1] + timedelta(days=1)
        while nxt.weekday() >= 5:
            nxt += timedelta(days=1)
        out[days[-1]] = nxt
    return out


__all__ = ["DAY_SPAN", "pre_open", "session_bars", "session_days", "session_open_ns", "settlement_days"]
