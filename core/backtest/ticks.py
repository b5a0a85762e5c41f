"""Ticks of a bar exactly as the replay server derives them, for the backtester.

Prices come from ``core.tickpath.bar_ticks`` (the replay's path rule). Depth follows the
replay's documented rule (``app/adapters/replay/market.py``): 5 bids at LTP − k·tick
(floored at one tick) and 5 asks at LTP + k·tick, k = 1…5, ``k × max(1, bar volume // K)``
shares at level k. So a MARKET BUY pays the best ask (LTP + one tick) and a SELL gets the
best bid, in the backtest as on the paper desk fed by the replay.

The market's tick size is NSE's on the bar's date (``core.orders.ticks``: ₹0.05 for every
equity before 10 Jun 2024, then the price-linked bands of the NSE circulars of 24 May 2024 and
March 2025), chosen by :func:`day_instruments` from the previous month's last close.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from core.models import DepthLevel, Instrument, Tick
from core.errors import ValidationError
from core.orders import price_from_float, tick_size_for
from core.tickpath import _check_bar, path_paise, to_paise


def day_instruments(instrument: Instrument, days: np.ndarray, close: np.ndarray,
                    first_open: float) -> tuple[np.ndarray, list[Instrument]]:
    """Per-day copies of ``instrument`` carrying that day's NSE tick (``core.orders.ticks``).

    ``days`` IST dates per bar (sorted), ``close`` ₹ per bar. The reference price of a day is
    NSE's: the last close of an earlier calendar month in these bars (the monthly review on the
    previous month's close); in the first month of the bars, ``first_open`` ₹ (the nearest
    known price). Returns ``(day_id per bar, instruments by day_id)``.
    """
    first = np.ones(len(days), dtype=bool)
    first[1:] = days[1:] != days[:-1]
    day_id = np.cumsum(first) - 1
    months = np.array([d.year * 12 + d.month for d in days[first]], dtype=np.int64)[day_id]  # per day, then bar
    month_end = np.ones(len(days), dtype=bool)
    month_end[:-1] = months[1:] != months[:-1]
    end_months, end_closes = months[month_end], close[month_end]
    out: list[Instrument] = []
    for i in np.flatnonzero(first):
        k = int(np.searchsorted(end_months, months[i], side="left"))
        ref = float(end_closes[k - 1]) if k > 0 else float(first_open)
        reference = price_from_float(ref) if math.isfinite(ref) and ref > 0 else None
        tick = tick_size_for(instrument, days[i], reference)
        out.append(instrument if tick == instrument.tick_size else replace(instrument, tick_size=Decimal(tick)))
    return day_id, out


def depth(ltp_paise: int, tick_paise: int, base_qty: int,
          levels: int = 5) -> tuple[tuple[DepthLevel, ...], tuple[DepthLevel, ...]]:
    """(bids, asks) around ``ltp_paise`` (see module docstring): the best ``levels`` (≤ 5) of each."""
    bids, asks = [], []
    for k in range(1, levels + 1):
        qty = k * base_qty
        orders = 1 + qty // 500
        bids.append(DepthLevel(max(ltp_paise - k * tick_paise, tick_paise) / 100, qty, orders))
        asks.append(DepthLevel((ltp_paise + k * tick_paise) / 100, qty, orders))
    return tuple(bids), tuple(asks)


class BarTicks:
    """The ``k`` ticks of one bar, built on demand (only bars with open orders need them).

    Prices are ``core.tickpath.bar_ticks``'s. The path is computed only when a tick between
    the first and the last is asked for: the first tick is the open and the last the close
    (the path's exact anchors), so a MARKET order filled at the open costs no path at all.
    ``with_depth=False`` gives LTP-only ticks (fills at the LTP ± slippage, as without depth).
    ``span_s``: the bar's length in seconds (60 for a minute bar; a daily bar's session is
    22,500, ``core.backtest.daily``); tick ``i`` is at ``i × span_s / k`` seconds after the open.
    Raises ``ValidationError`` for a malformed bar (as ``bar_ticks``).
    """

    __slots__ = ("token", "ts", "k", "_ohlc", "_path", "_tick", "base_qty", "tick_paise", "prev_close",
                 "day_open", "with_depth", "span_s")

    def __init__(self, token: int, ts: datetime, o: float, h: float, lo: float, c: float, volume: int, *,
                 k: int, tick_size: float, prev_close: float, day_open: float, with_depth: bool = True,
                 span_s: int = 60) -> None:
        ohlc = tuple(to_paise(x) for x in (o, h, lo, c))
        _check_bar(*ohlc, int(volume))
        self._tick = to_paise(tick_size)
        if self._tick <= 0:
            raise ValidationError(f"tick size must be positive (got {self._tick} paise)")
        self.token, self.ts, self.k = token, ts, k
        self._ohlc, self._path = ohlc, None
        self.base_qty = max(1, int(volume) // k)
        self.tick_paise = int(round(tick_size * 100))
        self.prev_close, self.day_open, self.with_depth, self.span_s = prev_close, day_open, with_depth, span_s

    @property
    def prices(self) -> np.ndarray:
        """All ``k`` tick prices, int64 paise (``core.tickpath.path_paise``)."""
        if self._path is None:
            self._path = path_paise(*self._ohlc, self.k, self._tick)
        return self._path

    def price(self, i: int) -> int:
        """Tick ``i``'s price in paise."""
        if i == 0:
            return self._ohlc[0]
        if i == self.k - 1:
            return self._ohlc[3]
        return int(self.prices[i])

    def time(self, i: int) -> datetime:
        """Tick ``i``'s time: whole seconds after the bar opens, as the replay stamps it."""
        return self.ts + timedelta(seconds=int(i * self.span_s / self.k)) if i else self.ts

    def tick(self, i: int, levels: int = 5) -> Tick:
        """Tick ``i`` with the best ``levels`` of the replay's 5-level depth (the backtest asks
        for 1 when its broker reads only the best bid/ask, i.e. without partial fills)."""
        p = self.price(i)
        at = self.time(i)
        bids, asks = depth(p, self.tick_paise, self.base_qty, levels) if self.with_depth else ((), ())
        return Tick(instrument_token=self.token, last_price=p / 100, mode="full" if self.with_depth else "ltp",
                    open=self.day_open, close=self.prev_close, exchange_timestamp=at, last_trade_time=at,
                    bids=bids, asks=asks)
