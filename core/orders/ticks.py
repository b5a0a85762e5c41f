"""NSE cash-equity tick sizes as a dated table: the price grid a limit or trigger price must sit on.

Three regimes (``../shared/docs/indian-market.md`` §4, "Tick size (NSE cash)"):

1. **before 2024-06-10**: ₹0.05 for every equity (NSE's uniform tick; the NSE circular of
   24 May 2024 names it as the tick it replaces).
2. **2024-06-10 → 2025-04-14**: ₹0.01 below ₹250, ₹0.05 from ₹250 (NSE circular of 24 May 2024,
   "price-linked tick size" in the CM segment; Zerodha bulletin
   zerodha.com/marketintel/bulletin/380460).
3. **from 2025-04-15**: < ₹250 → 0.01; ₹250–1,000 → 0.05; > ₹1,000–5,000 → 0.10;
   > ₹5,000–10,000 → 0.50; > ₹10,000–20,000 → 1.00; > ₹20,000 → 5.00 (NSE CM and F&O
   circulars of March 2025, first applied on the close of 28 Mar 2025; the table as published by
   fyers.in/notice-board/tick-size-revision-for-nse-derivatives-cash-segment-effective-april-15-2025).

In regimes 2 and 3 the band is chosen by a *reference price*: NSE's closing price on the last
trading day of the previous month (reviewed monthly), and the instruments dump's ``tick_size``
is that monthly figure. So :func:`tick_size_for` uses the band of ``reference_price`` when one is
given (backtests and replays of a past month) and the instrument's listed ``tick_size`` (the
dump's month) when not. Regime 1 needs no reference. Only NSE cash equities (``exchange`` and
``segment`` ``"NSE"``, ``instrument_type`` ``"EQ"``) follow this table; any other row keeps its
listed tick. Prices and ticks are ``Decimal`` rupees.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.errors import ValidationError
from core.models import Instrument

D = Decimal


@dataclass(frozen=True, slots=True)
class TickBand:
    """``tick`` ₹ for prices up to ``limit`` ₹ (``None``: no upper limit); ``inclusive``
    says whether a price equal to ``limit`` is in this band (NSE: "below 250", "250–1,000")."""

    tick: Decimal
    limit: Decimal | None = None
    inclusive: bool = True

    def covers(self, price: Decimal) -> bool:
        if self.limit is None:
            return True
        return price <= self.limit if self.inclusive else price < self.limit


@dataclass(frozen=True, slots=True)
class TickRegime:
    """The tick bands in force from ``effective_from`` (inclusive), with their ``source``."""

    effective_from: date
    bands: tuple[TickBand, ...]
    source: str

    @property
    def uniform(self) -> bool:
        """One tick for every price (no reference price needed)."""
        return len(self.bands) == 1

    def tick_for(self, reference_price: Decimal) -> Decimal:
        """The band's tick for ``reference_price`` ₹ (> 0; ``ValidationError`` otherwise)."""
        if not reference_price > 0:
            raise ValidationError(f"reference_price must be positive rupees, was {reference_price}")
        return next(b.tick for b in self.bands if b.covers(reference_price))

    def describe(self) -> str:
        """e.g. ``"NSE tick regime from 2016-01-01 (…source…)"`` for refusal messages."""
        return f"NSE tick regime from {self.effective_from.isoformat()} ({self.source})"


#: Oldest first. The first row covers every earlier date (NSE's ₹0.05 tick long predates 2016).
TICK_REGIMES: tuple[TickRegime, ...] = (
    TickRegime(
        date(2000, 1, 1),
        (TickBand(D("0.05")),),
        "NSE uniform tick ₹0.05 for all equities, as replaced by the NSE circular of 24 May 2024",
    ),
    TickRegime(
        date(2024, 6, 10),
        (TickBand(D("0.01"), D(250), inclusive=False), TickBand(D("0.05"))),
        "NSE circular of 24 May 2024, price-linked tick size; zerodha.com/marketintel/bulletin/380460",
    ),
    TickRegime(
        date(2025, 4, 15),
        (TickBand(D("0.01"), D(250), inclusive=False), TickBand(D("0.05"), D(1000)),
         TickBand(D("0.10"), D(5000)), TickBand(D("0.50"), D(10000)), TickBand(D("1.00"), D(20000)),
         TickBand(D("5.00"))),
        "NSE CM circular of March 2025, tick size revision from 15 Apr 2025; "
        "fyers.in notice 'tick-size-revision-for-nse-derivatives-cash-segment-effective-april-15-2025'",
    ),
)


def regime_for(on_date: date) -> TickRegime:
    """The tick regime in force on ``on_date`` (IST trading date)."""
    if not isinstance(on_date, date) or isinstance(on_date, datetime):
        raise ValidationError(f"on_date must be a date (the IST trading day), was {on_date!r}")
    k = bisect_right(_REGIME_STARTS, on_date)  # the table is oldest first
    return TICK_REGIMES[k - 1] if k else TICK_REGIMES[0]


_REGIME_STARTS = [r.effective_from for r in TICK_REGIMES]


def follows_nse_equity_ticks(exchange: str, segment: str, instrument_type: str) -> bool:
    """True for an NSE cash-equity row (the only rows the dated table governs)."""
    return exchange == "NSE" and segment == "NSE" and instrument_type == "EQ"


def equity_tick_size(on_date: date, listed_tick: Decimal, reference_price: Decimal | None = None) -> Decimal:
    """₹ tick of an NSE cash equity on ``on_date``: the regime's uniform tick, else the band of
    ``reference_price`` ₹ (the previous month's last close), else ``listed_tick`` (the dump's
    monthly figure). Raises ``ValidationError`` for a non-positive ``reference_price``."""
    regime = regime_for(on_date)
    if regime.uniform:
        return regime.bands[0].tick
    if reference_price is None:
        return Decimal(listed_tick)
    return regime.tick_for(Decimal(reference_price))


def tick_size_for(instrument: Instrument, on_date: date, reference_price: Decimal | None = None) -> Decimal:
    """₹ tick of ``instrument`` on ``on_date`` (see the module docstring for the rule and sources).

    Rows other than NSE cash equities (indices, derivatives, BSE) keep their listed ``tick_size``.
    """
    if not follows_nse_equity_ticks(instrument.exchange, instrument.segment, instrument.instrument_type):
        return instrument.tick_size
    return equity_tick_size(on_date, instrument.tick_size, reference_price)


def tick_rule(instrument: Instrument, on_date: date) -> str:
    """The rule behind :func:`tick_size_for` on ``on_date``, for messages: the regime and its
    source, or "listed tick_size" for rows the table does not govern."""
    if not follows_nse_equity_ticks(instrument.exchange, instrument.segment, instrument.instrument_type):
        return f"listed tick_size of {instrument.exchange}:{instrument.segment}"
    return regime_for(on_date).describe()
