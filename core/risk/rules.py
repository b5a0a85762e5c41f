"""Account rules: each a small pure function returning a :class:`Denial` or ``None`` (pass).

Prices and money ``Decimal`` rupees; quantities shares; times tz-aware (compared in IST).
``is_exit`` means the order only reduces an existing position (``core.orders.reduces_position``).
Account-risk rules (halt, safe mode, loss, drawdown, caps, counts, cooldown, wash, margin)
never refuse an exit: the desk must always be able to reduce risk. The market's rules
(session, MIS cut-off, circuit, stops through the LTP, holdings) are in
``core.risk.market_rules``; ``core.gatekeeper.check`` runs both lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from operator import countOf

from core.orders import OrderIntent, Product
from core.risk.limits import LastFill
from core.risk.reasons import Denial, ReasonCode
from core.timeutil import to_ist

_HUNDRED = Decimal(100)


def check_kill_switch(is_exit: bool, halted: bool) -> Denial | None:
    """Halted desk: refuse everything except flattening (exits)."""
    if halted and not is_exit:
        return Denial(ReasonCode.HALTED, "kill switch is on: only orders that flatten positions are allowed")
    return None


def check_safe_mode(is_exit: bool, safe_mode: bool) -> Denial | None:
    """Safe mode (daily loss hit earlier): no new entries, exits allowed."""
    if safe_mode and not is_exit:
        return Denial(ReasonCode.SAFE_MODE, "desk is in safe mode after the daily loss limit: exits only")
    return None


def check_daily_loss(is_exit: bool, day_pnl: Decimal, limit: Decimal) -> Denial | None:
    """Refuse entries once the day's P&L (₹, after charges) is at or below ``−limit`` (₹)."""
    if not is_exit and day_pnl <= -limit:
        return Denial(
            ReasonCode.DAILY_LOSS_LIMIT,
            f"day P&L ₹{day_pnl:,.2f} has hit the daily loss limit ₹{limit:,.2f}; safe mode: exits only",
        )
    return None


def check_max_drawdown(is_exit: bool, equity: Decimal, peak: Decimal, max_pct: Decimal) -> Denial | None:
    """Refuse entries when ``(peak − equity) / peak`` (percent) reaches ``max_pct``."""
    if is_exit or peak <= 0:
        return None
    drawdown = (peak - equity) * _HUNDRED / peak
    if drawdown >= max_pct:
        return Denial(
            ReasonCode.MAX_DRAWDOWN,
            f"drawdown {drawdown:.2f}% from peak equity ₹{peak:,.2f} reaches the {max_pct}% limit",
        )
    return None


def check_order_notional(is_exit: bool, intent: OrderIntent, price: Decimal, limit: Decimal) -> Denial | None:
    """Refuse an entry whose ``quantity × price`` (₹) exceeds ``limit`` (₹)."""
    notional = price * intent.quantity
    if not is_exit and notional > limit:
        return Denial(ReasonCode.ORDER_NOTIONAL, f"notional ₹{notional:,.2f} exceeds per-order limit ₹{limit:,.2f}")
    return None


def check_order_quantity(is_exit: bool, intent: OrderIntent, limit: int) -> Denial | None:
    """Refuse an entry of more than ``limit`` shares."""
    if not is_exit and intent.quantity > limit:
        return Denial(ReasonCode.ORDER_QUANTITY, f"quantity {intent.quantity} exceeds per-order limit {limit}")
    return None


def check_risk_per_trade(
    is_exit: bool,
    intent: OrderIntent,
    price: Decimal,
    capital: Decimal,
    pct: Decimal,
    require_stop: bool,
) -> Denial | None:
    """Refuse an entry whose ``|entry − stop_loss| × quantity`` exceeds ``pct`` % of ``capital``.

    The entry is the limit ``price`` when set, else ``price`` (the expected fill). Without a
    ``stop_loss`` the risk is unknown: refused only when ``require_stop``.
    """
    if is_exit:
        return None
    if intent.stop_loss is None:
        if require_stop:
            return Denial(ReasonCode.STOP_REQUIRED, "entries need a stop_loss to size the risk")
        return None
    entry = intent.price if intent.price is not None else price
    risk = abs(entry - intent.stop_loss) * intent.quantity
    budget = capital * pct / _HUNDRED
    if risk > budget:
        return Denial(
            ReasonCode.RISK_PER_TRADE,
            f"risk ₹{risk:,.2f} (|{entry} − {intent.stop_loss}| × {intent.quantity}) exceeds "
            f"{pct}% of capital = ₹{budget:,.2f}",
        )
    return None


def check_open_positions(
    intent: OrderIntent, positions: Mapping[tuple[int, Product], int], limit: int
) -> Denial | None:
    """Refuse an order that would open a new position when ``limit`` positions are open."""
    key = (intent.instrument_token, intent.product)
    if positions.get(key, 0):
        return None
    open_count = len(positions) - countOf(positions.values(), 0)  # the non-zero quantities
    if open_count >= limit:
        return Denial(ReasonCode.MAX_OPEN_POSITIONS, f"{open_count} positions open; the limit is {limit}")
    return None


def check_orders_per_day(is_exit: bool, orders_today: int, limit: int) -> Denial | None:
    """Refuse an entry once ``orders_today`` reaches ``limit``."""
    if not is_exit and orders_today >= limit:
        return Denial(ReasonCode.MAX_ORDERS_PER_DAY, f"{orders_today} orders today; the daily limit is {limit}")
    return None


def check_orders_per_symbol(
    is_exit: bool, intent: OrderIntent, by_symbol: Mapping[str, int], limit: int
) -> Denial | None:
    """Refuse an entry once the symbol's orders today reach ``limit``."""
    count = by_symbol.get(intent.tradingsymbol, 0)
    if not is_exit and count >= limit:
        return Denial(
            ReasonCode.MAX_ORDERS_PER_SYMBOL,
            f"{count} orders in {intent.tradingsymbol} today; the per-symbol limit is {limit}",
        )
    return None


def check_cooldown(
    is_exit: bool,
    consecutive_losses: int,
    last_loss_at: datetime | None,
    now: datetime,
    max_losses: int,
    minutes: int,
) -> Denial | None:
    """After ``max_losses`` losing trades in a row, refuse entries for ``minutes`` after the last."""
    if is_exit or last_loss_at is None or consecutive_losses < max_losses:
        return None
    until = last_loss_at + timedelta(minutes=minutes)
    if now < until:
        return Denial(
            ReasonCode.COOLDOWN,
            f"{consecutive_losses} losses in a row: cooling down until {to_ist(until):%H:%M} IST",
        )
    return None


def check_wash_trade(
    is_exit: bool, intent: OrderIntent, last_fills: Mapping[str, LastFill], now: datetime, minutes: int
) -> Denial | None:
    """Refuse an entry on the opposite side of the symbol's last fill within ``minutes``."""
    last = last_fills.get(intent.tradingsymbol)
    if is_exit or last is None or last.side is intent.side:
        return None
    if now - last.at < timedelta(minutes=minutes):
        return Denial(
            ReasonCode.WASH_TRADE,
            f"{intent.side} {intent.tradingsymbol} within {minutes} min of a {last.side} fill "
            f"at {to_ist(last.at):%H:%M:%S} IST",
        )
    return None


def check_margin(is_exit: bool, required: Decimal, available: Decimal | None) -> Denial | None:
    """Refuse an entry needing more margin (₹) than ``available`` (₹); skipped when unknown."""
    if is_exit or available is None or required <= available:
        return None
    return Denial(
        ReasonCode.INSUFFICIENT_MARGIN,
        f"needs ₹{required:,.2f} margin; ₹{available:,.2f} available (rule: margin must be free before "
        f"an order, core.margins; Zerodha support 'What are the margins for intraday equity (MIS)?')",
    )


__all__ = [
    "check_cooldown",
    "check_daily_loss",
    "check_kill_switch",
    "check_margin",
    "check_max_drawdown",
    "check_open_positions",
    "check_order_notional",
    "check_order_quantity",
    "check_orders_per_day",
    "check_orders_per_symbol",
    "check_risk_per_trade",
    "check_safe_mode",
    "check_wash_trade",
]
