"""The market's rules for an order: session phase, MIS cut-off, circuit band, stop triggers
against the LTP, CNC holdings. Each a pure function returning a :class:`Denial` or ``None``.

Sources (``../shared/docs/indian-market.md``):

* pre-open order entry 09:00–09:08 queues MARKET/LIMIT DAY orders for the open; SL/SL-M and
  IOC are not accepted in pre-open; nothing is accepted during pre-open matching
  (09:08–09:15), closing (15:30–15:40) or when closed; post-close (15:40–16:00) accepts CNC
  MARKET orders only, filled at the closing price (§1: NSE market timings; marketopenindia.site
  market sessions; forum.5paisa.com pre-market and post-market sessions; support.geojit.com);
* no fresh MIS entry at or after the square-off cut-off (Zerodha: 15:20 IST, configurable);
  exits stay allowed (§2);
* every price of the order — the limit ``price``, the ``trigger_price``, and for an order
  without a limit price the expected fill (the LTP) — must lie inside the day's circuit band
  (§4), checked the same way for place, modify and approve;
* a BUY stop's trigger must be above the LTP and a SELL stop's below it, else it would
  trigger at once (Kite rejects it);
* a CNC SELL needs holdings: settled, T1 (BTST) or bought today (no short delivery); MIS may go short.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from core.calendar import Holiday
from core.orders import CircuitBand, OrderIntent, OrderType, Product, Side, Validity
from core.risk.reasons import Denial, ReasonCode
from core.sessions import SessionPhase
from core.timeutil import to_ist


_SESSION_SOURCE = "NSE market timings (indian-market.md §1; marketopenindia.site, forum.5paisa.com)"


def check_session(intent: OrderIntent, phase: SessionPhase, holiday: Holiday | None = None) -> Denial | None:
    """The exchange accepts orders in pre-open entry (MARKET/LIMIT, DAY only), normal, and
    post-close (CNC MARKET only, at the closing price). Source: NSE market timings
    (``../shared/docs/indian-market.md`` §1: pre-open and post-close sessions). On an NSE
    trading ``holiday`` (the calendar's entry for the day, ``core.calendar.Holiday``) the
    refusal names it and its source: NSE's holiday circular, or the estimate standing in."""
    if holiday is not None and phase is SessionPhase.CLOSED:
        return Denial(ReasonCode.MARKET_CLOSED,
                      f"{holiday.date} is an NSE trading holiday: {holiday.describe()}; orders are "
                      "accepted on trading days only (NSE holiday calendar)")
    if phase is SessionPhase.PRE_OPEN:
        return _pre_open(intent)
    if phase is SessionPhase.PRE_OPEN_MATCHING:
        return Denial(ReasonCode.PRE_OPEN_MATCHING,
                      "pre-open matching (09:08–09:15 IST): orders are accepted again from 09:15 IST")
    if phase in (SessionPhase.CLOSED, SessionPhase.CLOSING):
        return Denial(ReasonCode.MARKET_CLOSED,
                      f"market is not accepting orders ({phase}); orders are accepted 09:00–09:08 and "
                      "09:15–15:30 IST (CNC MARKET also 15:40–16:00 IST)")
    if phase is SessionPhase.POST_CLOSE:
        return _post_close(intent)
    return None


def _pre_open(intent: OrderIntent) -> Denial | None:
    if intent.is_stop:
        return Denial(ReasonCode.PRE_OPEN_ORDER_TYPE,
                      f"order_type {intent.order_type} is not accepted in pre-open (09:00–09:08 IST); "
                      f"allowed: MARKET or LIMIT ({_SESSION_SOURCE})")
    if intent.validity is Validity.IOC:
        return Denial(ReasonCode.PRE_OPEN_IOC,
                      f"validity IOC is not allowed in pre-open (09:00–09:08 IST); allowed: DAY "
                      f"({_SESSION_SOURCE}; support.geojit.com)")
    return None


def _post_close(intent: OrderIntent) -> Denial | None:
    if intent.product is not Product.CNC:
        return Denial(ReasonCode.POST_CLOSE_CNC_ONLY,
                      f"product {intent.product} is not accepted post-close (15:40–16:00 IST); allowed: CNC "
                      f"({_SESSION_SOURCE})")
    if intent.order_type is not OrderType.MARKET:
        return Denial(ReasonCode.POST_CLOSE_MARKET_ONLY,
                      f"order_type {intent.order_type} is not accepted post-close (15:40–16:00 IST); allowed: "
                      f"MARKET, filled at the closing price ({_SESSION_SOURCE})")
    return None


def check_mis_cutoff(intent: OrderIntent, is_exit: bool, now: datetime, cutoff: time) -> Denial | None:
    """No fresh MIS entry at or after ``cutoff`` (IST wall clock); exits are allowed."""
    if intent.product is Product.MIS and not is_exit and to_ist(now).time() >= cutoff:
        return Denial(ReasonCode.MIS_CUTOFF,
                      f"no fresh MIS entries at or after {cutoff:%H:%M} IST (now {to_ist(now):%H:%M}); "
                      "use CNC or exit only")
    return None


def check_circuit(intent: OrderIntent, expected: Decimal | None, band: CircuitBand | None) -> Denial | None:
    """Every price of the order inside ``band``: ``price``, ``trigger_price`` and, for an order
    without a limit price, the ``expected`` fill (₹). One denial naming every field outside.

    Rule: NSE rejects orders outside the price band (``../shared/docs/indian-market.md`` "Stock
    price bands"): the quote's circuit limits, else ``core.risk.price_bands`` (NSE's fixed 2/5/10/20 %
    bands; the F&O dynamic price range, NSE/FAOP/64995)."""
    if band is None:
        return None
    prices = [("price", intent.price), ("trigger_price", intent.trigger_price)]
    if intent.price is None:
        prices.append(("expected fill price (LTP)", expected))
    outside = [f"{name} {value}" for name, value in prices if value is not None and not band.contains(value)]
    if not outside:
        return None
    return Denial(ReasonCode.OUTSIDE_CIRCUIT,
                  f"{', '.join(outside)} outside the circuit band; allowed {band.lower}–{band.upper} "
                  "(NSE price band / F&O dynamic price range; NSE/FAOP/64995)")


def check_trigger_vs_ltp(intent: OrderIntent, ltp: Decimal | None) -> Denial | None:
    """A stop's trigger must not be through the LTP already (BUY above it, SELL below it)."""
    trigger = intent.trigger_price
    if trigger is None or ltp is None:
        return None
    if intent.side is Side.BUY and trigger <= ltp:
        return Denial(ReasonCode.TRIGGER_THROUGH_LTP,
                      f"BUY stop trigger_price {trigger} must be above the LTP {ltp} (else it triggers at once)")
    if intent.side is Side.SELL and trigger >= ltp:
        return Denial(ReasonCode.TRIGGER_THROUGH_LTP,
                      f"SELL stop trigger_price {trigger} must be below the LTP {ltp} (else it triggers at once)")
    return None


#: Sources of the CNC sell rule.
HOLDINGS_SOURCE = ("support.zerodha.com: 'DP charges for BTST trades' (T1 shares may be sold) and "
                   "'Why was the brokerage charged on delivery trades?' (same-day CNC buy and sell)")


def check_holdings(intent: OrderIntent, holding_quantity: int) -> Denial | None:
    """A CNC SELL may take at most ``holding_quantity`` shares: settled holdings + T1 shares
    bought on the previous trading day (BTST) + today's unsold CNC buys (a same-day round trip,
    charged as intraday by ``core.same_day_cnc``). More is a short delivery and is refused
    (short selling is MIS only). Source: :data:`HOLDINGS_SOURCE`."""
    if intent.product is Product.CNC and intent.side is Side.SELL and intent.quantity > holding_quantity:
        return Denial(ReasonCode.INSUFFICIENT_HOLDINGS,
                      f"CNC sell quantity {intent.quantity} exceeds the {holding_quantity} shares held "
                      f"(settled + T1 + bought today); allowed up to {holding_quantity} "
                      f"(short selling is MIS only; rule: no short delivery, {HOLDINGS_SOURCE})")
    return None


def check_market_price(intent: OrderIntent, ltp: Decimal | None) -> Denial | None:
    """The desk judges notional, margin and stops at the LTP: without one, nothing is approved."""
    if ltp is None:
        return Denial(ReasonCode.NO_MARKET_PRICE,
                      f"no tick cached for {intent.tradingsymbol}; is the ticker running?")
    return None


__all__ = [
    "check_circuit",
    "check_holdings",
    "check_market_price",
    "check_mis_cutoff",
    "check_session",
    "check_trigger_vs_ltp",
]
