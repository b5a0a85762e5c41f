"""NSE's closing price of an equity, from 1-minute bars: the price post-close orders fill at.

Rule (NSE): the closing price of a security is the volume-weighted average price of its trades
in the last 30 minutes of the continuous session — 15:00–15:30 IST on a regular day. When no
trade happened in that window NSE takes the last traded price. Sources: NSE, closing price of
equities (weighted average of the last 30 minutes of trading); tradingqna.com (Zerodha), "Why
is there a difference between last trading price and closing price on NSE?"; and for the
post-close session that trades only at this price, ``../shared/docs/indian-market.md`` §1.

From bars rather than trades: each 1-minute bar stands for its trades at its typical price
``(high + low + close) / 3`` (as ``core.indicators.session_vwap``), weighted by its volume; the
result is rounded to the nearest tick (half up), since the closing price is a tradable price.
Pure: frames in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from core.errors import ValidationError
from core.orders import round_to_paisa
from core.sessions import NORMAL_CLOSE
from core.timeutil import IST

if TYPE_CHECKING:  # pragma: no cover (pandas loads on first use: issue 16 item 7)
    import pandas as pd

#: Length of the closing-price window before the normal market's close.
CLOSING_WINDOW = timedelta(minutes=30)
CLOSING_PRICE_SOURCE = ("NSE closing price: volume-weighted average of the last 30 minutes' trades, "
                        "15:00–15:30 IST (tradingqna.com, 'Why is there a difference between last trading "
                        "price and closing price on NSE?')")
#: ``ClosingPrice.basis`` values.
VWAP_BASIS = "closing_vwap"
LTP_BASIS = "last_traded_price"


@dataclass(frozen=True, slots=True)
class ClosingPrice:
    """The day's closing price ``price`` (₹); ``basis`` :data:`VWAP_BASIS` or :data:`LTP_BASIS`;
    ``reason`` one line saying how it was found (shown on the fill's audit row)."""

    price: Decimal
    basis: str
    reason: str


def closing_window(day: date, close: time = NORMAL_CLOSE) -> tuple[datetime, datetime]:
    """``(start, end)`` IST of the closing-price window of ``day``: the 30 minutes before
    ``close`` (15:00–15:30 on a regular day; a special session passes its own close)."""
    end = datetime.combine(day, close, IST)
    return end - CLOSING_WINDOW, end


def closing_vwap(bars: pd.DataFrame, day: date, *, tick_size: Decimal | None = None,
                 close: time = NORMAL_CLOSE) -> Decimal | None:
    """The closing price of ``day`` from 1-minute ``bars``: VWAP of the bars opening in
    [close − 30 min, close) IST (15:00 … 15:29 on a regular day), each at its typical price
    ``(high + low + close) / 3`` weighted by ``volume``.

    ``bars``: frame indexed by tz-aware bar-open time (as ``MarketDataService.ohlcv``), columns
    ``high low close volume`` (₹, shares); other days and times are ignored. ``tick_size`` (₹):
    round to the nearest tick, half up; else to the paisa.

    Returns ₹ (Decimal), or ``None`` when no bar with volume lies in the window (no trade: the
    caller falls back to the last traded price, as NSE does; see :func:`closing_price`).
    Raises ``ValidationError`` when the index is not tz-aware or a column is missing.
    """
    import pandas as pd

    if bars is None or len(bars) == 0:
        return None
    missing = [c for c in ("high", "low", "close", "volume") if c not in bars.columns]
    if missing:
        raise ValidationError(f"closing_vwap needs 1-minute bars with columns high, low, close, volume; "
                              f"missing {', '.join(missing)}")
    index = pd.DatetimeIndex(bars.index)
    if index.tz is None:
        raise ValidationError("closing_vwap needs bars indexed by tz-aware bar-open times (IST); "
                              "localize the index first")
    start, end = closing_window(day, close)
    local = index.tz_convert(IST)
    window = bars[(local >= pd.Timestamp(start)) & (local < pd.Timestamp(end))]
    volume = window["volume"].astype("float64")
    total = float(volume.sum())
    if total <= 0:
        return None
    typical = (window["high"].astype("float64") + window["low"].astype("float64")
               + window["close"].astype("float64")) / 3.0
    vwap = Decimal(repr(float((typical * volume).sum()) / total))
    if tick_size is None:
        return round_to_paisa(vwap)
    if tick_size <= 0:
        raise ValidationError(f"tick_size must be positive rupees, was {tick_size}")
    steps = (vwap / tick_size).to_integral_value(rounding=ROUND_HALF_UP)
    return round_to_paisa(steps * tick_size)


def closing_price(bars: pd.DataFrame | None, day: date, last_traded: Decimal, *,
                  tick_size: Decimal | None = None, close: time = NORMAL_CLOSE) -> ClosingPrice:
    """The price a post-close order of ``day`` fills at: :func:`closing_vwap` of ``bars`` when
    it can be computed, else ``last_traded`` (₹, the day's last trade; NSE's rule when nothing
    traded in the window, and the desk's fallback when it has no bars), with the reason.

    Raises ``ValidationError`` for a non-positive ``last_traded`` without a computable close.
    """
    start, end = closing_window(day, close)
    span = f"{start:%H:%M}–{end:%H:%M} IST"
    vwap = closing_vwap(bars, day, tick_size=tick_size, close=close) if bars is not None else None
    if vwap is not None:
        return ClosingPrice(vwap, VWAP_BASIS, f"closing price ₹{vwap}: VWAP of the 1-minute bars {span} "
                                              f"({CLOSING_PRICE_SOURCE})")
    if last_traded is None or last_traded <= 0:
        raise ValidationError(f"no closing price for {day}: no 1-minute bars with volume {span} and no "
                              "last traded price; the post-close order cannot be filled")
    why = "no 1-minute bars" if bars is None or len(bars) == 0 else "no traded volume in the bars"
    return ClosingPrice(round_to_paisa(last_traded), LTP_BASIS,
                        f"last traded price ₹{round_to_paisa(last_traded)}: closing price not computable "
                        f"({why} {span}); NSE takes the last traded price when nothing traded in the window")


__all__ = [
    "CLOSING_PRICE_SOURCE",
    "CLOSING_WINDOW",
    "LTP_BASIS",
    "VWAP_BASIS",
    "ClosingPrice",
    "closing_price",
    "closing_vwap",
    "closing_window",
]
