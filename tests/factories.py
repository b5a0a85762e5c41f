"""Shared builders for the tests: instruments, order intents, ticks and bars.

Instruments carry the real values of the bundled Kite instruments dump
(``app/data/nse/kite_instruments_NSE_2025-12.csv.gz``): token, exchange token, name,
``tick_size`` (₹) and ``lot_size`` (shares). Use these instead of a local
``INFY = Instrument(...)`` copy so that every test speaks about the same instrument.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd

from core.models import Bar, DepthLevel, Instrument, Tick
from core.orders import OrderIntent, OrderType, Product, Side
from core.timeutil import IST

D = Decimal

#: A regular NSE session day of the bundled replay data (Wednesday 17 Aug 2016, 10:00 IST).
T0 = datetime(2016, 8, 17, 10, 0, tzinfo=IST)

# Rows of the bundled dump (instrument_token, exchange_token, tradingsymbol, name, tick_size, lot_size).
INFY = Instrument(408065, 1594, "INFY", "INFOSYS", "NSE", "NSE", "EQ", D("0.1"), 1)
SBIN = Instrument(779521, 3045, "SBIN", "STATE BANK OF INDIA", "NSE", "NSE", "EQ", D("0.05"), 1)
RELIANCE = Instrument(738561, 2885, "RELIANCE", "RELIANCE INDUSTRIES", "NSE", "NSE", "EQ", D("0.1"), 1)
TCS = Instrument(2953217, 11536, "TCS", "TATA CONSULTANCY SERV LT", "NSE", "NSE", "EQ", D("0.1"), 1)
HDFCBANK = Instrument(341249, 1333, "HDFCBANK", "HDFC BANK", "NSE", "NSE", "EQ", D("0.1"), 1)
#: The index row: not tradable (``segment == "INDICES"``, tick 0, lot 0).
NIFTY = Instrument(256265, 1001, "NIFTY 50", "NIFTY 50", "NSE", "INDICES", "EQ", D("0"), 0)


def equity(token: int, symbol: str | None = None, *, exchange_token: int | None = None,
           name: str | None = None, tick_size: str | Decimal = "0.05", lot_size: int = 1) -> Instrument:
    """A made-up NSE cash-equity row (for tests that need many or unlisted instruments)."""
    symbol = symbol or f"SYM{token}"
    return Instrument(token, token if exchange_token is None else exchange_token, symbol, name or symbol,
                      "NSE", "NSE", "EQ", D(tick_size), lot_size)


def intent(token: int | Instrument = INFY, symbol: str | None = None, side: Side = Side.BUY, qty: int = 10,
           product: Product = Product.MIS, order_type: OrderType = OrderType.MARKET, **kw) -> OrderIntent:
    """An ``OrderIntent`` (default: BUY 10 INFY MIS MARKET); ``token`` may be an ``Instrument``."""
    if isinstance(token, Instrument):
        symbol = symbol or token.tradingsymbol
        token = token.instrument_token
    return OrderIntent(token, symbol or "INFY", side, qty, product, order_type, **kw)


def depth_tick(token: int, ltp: float, *, at: datetime = T0, close: float | None = None, spread: float = 0.1,
               qty: int = 10_000) -> Tick:
    """A full-mode tick with 5-level depth: best bid = LTP, best ask = LTP + ``spread`` (₹)."""
    bids = tuple(DepthLevel(round(ltp - spread * i, 2), qty, 3) for i in range(5))
    asks = tuple(DepthLevel(round(ltp + spread * (i + 1), 2), qty, 3) for i in range(5))
    return Tick(instrument_token=token, last_price=ltp, mode="full", last_traded_quantity=1,
                volume_traded=1000, open=ltp, high=ltp, low=ltp, close=ltp if close is None else close,
                last_trade_time=at, exchange_timestamp=at, bids=bids, asks=asks)


def bar(token: int, ts: datetime, close: float, *, interval: str = "minute", volume: int = 100) -> Bar:
    """One bar around ``close``: open = close − 1, high = close + 1, low = close − 2 (₹)."""
    return Bar(instrument_token=token, interval=interval, ts=ts,
               open=close - 1, high=close + 1, low=close - 2, close=close, volume=volume, oi=0)


def ohlcv_frame(rows: Sequence[Sequence[float]], start: datetime = T0,
                columns: Sequence[str] = ("open", "high", "low", "close", "volume")) -> pd.DataFrame:
    """A float frame of one-minute bars from ``start`` (index: tz-aware bar start; ``columns`` as given)."""
    idx = pd.DatetimeIndex([start + timedelta(minutes=i) for i in range(len(rows))])
    return pd.DataFrame([list(r) for r in rows], columns=list(columns), index=idx, dtype=float)
