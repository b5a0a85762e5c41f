"""Market-data models shared by every layer: instruments, ticks, bars.

Names follow Kite Connect v3. Prices in ticks and bars are ``float`` rupees (analytics); money
in orders, fills, charges and the ledger is exact (``Decimal`` rupees or integer paise) and
lives in its own modules. Times are tz-aware; stored as UTC, shown as IST.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

TickMode = Literal["ltp", "quote", "full"]

#: Kite Connect historical intervals, with their length in minutes (``day`` is one session).
INTERVAL_MINUTES: dict[str, int] = {
    "minute": 1,
    "3minute": 3,
    "5minute": 5,
    "10minute": 10,
    "15minute": 15,
    "30minute": 30,
    "60minute": 60,
    "day": 375,
}


@dataclass(frozen=True, slots=True)
class Instrument:
    """One row of Kite's instruments master (``GET /instruments``).

    ``tick_size`` is rupees (``Decimal``); ``lot_size`` is shares (1 for cash equity). Index
    rows have ``segment == "INDICES"``, ``tick_size == 0`` and are not tradable.
    """

    instrument_token: int
    exchange_token: int
    tradingsymbol: str
    name: str
    exchange: str
    segment: str
    instrument_type: str
    tick_size: Decimal
    lot_size: int
    expiry: date | None = None
    strike: Decimal = Decimal(0)
    last_price: float = 0.0

    @property
    def key(self) -> str:
        """``"EXCHANGE:TRADINGSYMBOL"``, the form Kite's quote endpoints take."""
        return f"{self.exchange}:{self.tradingsymbol}"

    @property
    def tradable(self) -> bool:
        return self.segment != "INDICES"


@dataclass(frozen=True, slots=True)
class DepthLevel:
    """One market-depth level: ``price`` rupees, ``quantity`` shares, ``orders`` count."""

    price: float
    quantity: int
    orders: int


@dataclass(frozen=True, slots=True)
class Tick:
    """A decoded KiteTicker packet (ltp, quote or full; index packets too).

    Prices are rupees. ``close`` is the *previous session's* close, as Kite sends it, so
    ``change_pct`` is the day's change. ``volume_traded`` is the day's cumulative volume
    (shares). ``exchange_timestamp``/``last_trade_time`` are tz-aware UTC, or ``None`` when
    the packet does not carry them (ltp, quote). ``bids``/``asks`` are best first (full mode).
    """

    instrument_token: int
    last_price: float
    mode: TickMode = "ltp"
    tradable: bool = True
    last_traded_quantity: int = 0
    average_traded_price: float = 0.0
    volume_traded: int = 0
    total_buy_quantity: int = 0
    total_sell_quantity: int = 0
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    close: float = 0.0
    last_trade_time: datetime | None = None
    exchange_timestamp: datetime | None = None
    oi: int = 0
    bids: tuple[DepthLevel, ...] = field(default_factory=tuple)
    asks: tuple[DepthLevel, ...] = field(default_factory=tuple)

    @property
    def change_pct(self) -> float | None:
        """Percent change of LTP against the previous close; ``None`` without a close."""
        if not self.close:
            return None
        return (self.last_price - self.close) * 100.0 / self.close


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar. ``ts`` is the bar's *open* time, tz-aware; prices rupees; volume shares."""

    instrument_token: int
    interval: str
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int
    oi: int = 0
