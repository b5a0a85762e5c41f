"""Paper fill rules: how one open order meets one tick. Pure; prices ``Decimal`` rupees.

Written-down, pessimistic rules (backtesting.py style):

1. **Reference price.** With depth (a ``full`` tick whose best level has price > 0 and
   quantity > 0) a BUY takes the best ask and a SELL the best bid. Without depth the price is
   the LTP moved *against the trader* by ``slippage_bps`` basis points and rounded to the
   instrument's tick in the pessimistic direction (BUY up, SELL down).
2. **MARKET** fills at the reference price on the first normal-session tick at or after it
   was placed.
3. **LIMIT** fills only when crossed. With depth: BUY when best ask <= limit (at the ask,
   which is never worse than the limit); SELL when best bid >= limit (at the bid). Without
   depth: BUY when LTP < limit strictly, SELL when LTP > limit strictly — a touch does not
   fill — at the slipped LTP capped by the limit (BUY ``min(limit, slipped)``, SELL
   ``max(limit, slipped)``).
4. **SL** triggers when the LTP reaches the trigger (BUY LTP >= trigger, SELL LTP <=
   trigger), becomes OPEN, and on the same tick is matched as a LIMIT at ``price``.
5. **SL-M** triggers the same way, then fills as MARKET on the same tick.
6. **IOC** cancels any unfilled remainder after the first normal-session tick it sees.
7. **Partial fills** (``partial_fills=True``): with depth, a fill is limited to the quantity
   at the best level; the remainder waits for later ticks. Without depth, fills are whole.
8. **Pre-open** orders (queued 09:00–09:08) meet the first normal-session tick at its
   ``open`` (the call-auction price; LTP if the tick has no open): MARKET fills there, LIMIT
   if the open is at or better than the limit; no slippage, no depth limit. An unfilled
   LIMIT then rests as a normal order from the next tick.
9. **Circuit.** No fill at a price outside the day's circuit band.
10. Only ticks in ``SessionPhase.NORMAL`` fill, except rule 12; other phases leave orders
    untouched.
11. **Market protection** (Kite API from 1 Apr 2026; ``core.market_protection``: kite.trade
    forum 15912 and comment 52940). A MARKET order, and an SL-M once triggered, gets a
    protection price from the LTP (at placement when known, else the first tick it meets; for
    SL-M the triggering tick): BUY ``LTP × (1 + band)`` rounded down to the tick, SELL
    ``LTP × (1 − band)`` rounded up. It fills at the reference price only when that is no
    worse than the protection price; with depth and ``partial_fills`` it takes every level up
    to the protection price, in one fill priced at the worst level taken (pessimistic, one
    fill per tick); the rest rests as a LIMIT at the protection price. Before 2026-04-01
    there is no protection (rules 2 and 5 unchanged); pre-open orders meet the open (rule 8)
    unprotected.
12. **Post-close** (15:40–16:00, NSE; ``../shared/docs/indian-market.md`` §1): a MARKET order
    placed in the post-close session fills whole at the day's closing price; no slippage,
    no depth, no protection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


from core.market_protection import protection_price
from core.models import Tick
from core.orders import CircuitBand, Order, OrderType, Side, price_from_float, round_to_tick
from core.sessions import CLOSING_END
from core.timeutil import to_ist

_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Quote:
    """The executable side for one order: ``price`` rupees and ``available`` shares (None = unknown)."""

    price: Decimal
    available: int | None
    from_depth: bool


def has_depth(tick: Tick, side: Side) -> bool:
    """True when the tick carries a usable best level on the side ``side`` trades against."""
    levels = tick.asks if side is Side.BUY else tick.bids
    return bool(levels) and levels[0].price > 0 and levels[0].quantity > 0


def quote_for(side: Side, tick: Tick, tick_size: Decimal, slippage_bps: Decimal) -> Quote:
    """Rule 1: the price a ``side`` order would get on ``tick`` (rupees)."""
    if has_depth(tick, side):
        level = (tick.asks if side is Side.BUY else tick.bids)[0]
        return Quote(price_from_float(level.price), level.quantity, True)
    ltp = price_from_float(tick.last_price)
    factor = 1 + side.sign * slippage_bps / _BPS
    return Quote(round_to_tick(ltp * factor, tick_size, up=side is Side.BUY), None, False)


def stop_triggered(order: Order, ltp: Decimal) -> bool:
    """Rule 4/5: BUY stops trigger at LTP >= trigger, SELL stops at LTP <= trigger."""
    trigger = order.intent.trigger_price
    if trigger is None:
        return False
    return ltp >= trigger if order.intent.side is Side.BUY else ltp <= trigger


def limit_price_fill(order: Order, tick: Tick, quote: Quote) -> Decimal | None:
    """Rule 3: the fill price of a (triggered) limit order on ``tick``, or None if not crossed."""
    limit = order.intent.price
    assert limit is not None
    buy = order.intent.side is Side.BUY
    if quote.from_depth:
        crossed = quote.price <= limit if buy else quote.price >= limit
        return quote.price if crossed else None
    ltp = price_from_float(tick.last_price)
    crossed = ltp < limit if buy else ltp > limit
    if not crossed:
        return None
    return min(limit, quote.price) if buy else max(limit, quote.price)


def open_auction_fill(order: Order, tick: Tick) -> Decimal | None:
    """Rule 8: the price a queued pre-open order gets at the open, or None."""
    open_price = price_from_float(tick.open if tick.open > 0 else tick.last_price)
    if order.intent.order_type is OrderType.MARKET:
        return open_price
    limit = order.intent.price
    assert limit is not None
    ok = open_price <= limit if order.intent.side is Side.BUY else open_price >= limit
    return open_price if ok else None


def within_circuit(price: Decimal, circuit: CircuitBand | None) -> bool:
    """Rule 9."""
    return circuit is None or circuit.contains(price)


def fill_quantity(order: Order, quote: Quote, partial_fills: bool) -> int:
    """Rule 7: shares to fill now."""
    if partial_fills and quote.available is not None:
        return min(order.pending_quantity, quote.available)
    return order.pending_quantity


def protect(order: Order, ltp: Decimal, day: date) -> Decimal | None:
    """Rule 11: the protection price (₹) of a MARKET/SL-M ``order`` at LTP ``ltp`` on ``day``
    (IST), or ``None`` when the order type or the date has no protection."""
    if not order.intent.is_market:
        return None
    return protection_price(order.intent.side is Side.BUY, ltp, order.tick_size, day,
                            order.intent.market_protection)


def no_worse(side: Side, price: Decimal, limit: Decimal) -> bool:
    """True when ``price`` is at or better than ``limit`` for ``side`` (BUY <=, SELL >=)."""
    return price <= limit if side is Side.BUY else price >= limit


def protected_fill(order: Order, tick: Tick, quote: Quote, protection: Decimal,
                   partial_fills: bool) -> tuple[Decimal, int] | None:
    """Rule 11: ``(price, shares)`` a protected order fills now, or ``None``.

    Without ``partial_fills`` or without depth: the whole pending quantity at the reference
    price if it is no worse than ``protection``. With both: every depth level no worse than
    ``protection``, best first, up to the pending quantity, priced at the worst level taken.
    """
    side = order.intent.side
    if not no_worse(side, quote.price, protection):
        return None
    if not (partial_fills and quote.from_depth):
        return quote.price, order.pending_quantity
    levels = tick.asks if side is Side.BUY else tick.bids
    taken, worst = 0, quote.price
    for level in levels:
        price = price_from_float(level.price)
        if level.price <= 0 or level.quantity <= 0 or not no_worse(side, price, protection):
            break
        taken += min(level.quantity, order.pending_quantity - taken)
        worst = price
        if taken == order.pending_quantity:
            break
    return worst, taken


def placed_post_close(order: Order) -> bool:
    """Rule 12: a MARKET order placed at or after the post-close start (15:40 IST)."""
    return order.intent.order_type is OrderType.MARKET and to_ist(order.placed_at).time() >= CLOSING_END
