"""The desk's side of the gatekeeper: gather the facts, call ``core.gatekeeper.check``, store
what it decided. No rule lives here; every rule is in ``core.risk`` and runs in the core.

``TradingGate.gate(change, now, ...)`` reads the latest tick (LTP, circuit band from the
previous close), the account (``RiskState``), the limits in force, the position, the settled
CNC holdings, the margin other open orders block and the per-stock margin rules (``core.margins``), builds a ``GateContext`` and returns the
typed ``Decision`` plus the row to store with it. When the day's loss limit is hit the desk
enters safe mode (persisted, audited, notified).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.trading.books import TradingBooks
from app.trading.rows import audit_row
from core.events import Notifier, NullNotifier, safe_mode
from core.gatekeeper import Decision, GateContext, OrderChange, check
from core.margins import open_orders_margin
from core.orders import ZERO, Product, price_from_float
from core.portfolio import Portfolio
from core.timeutil import to_ist, to_utc

#: ``gate_context``'s default: read the latest tick with the marks (one tick-cache read).
FETCH: Any = object()


class TradingGate(TradingBooks):
    """Market look-ups and books (``TradingBooks``) plus the gatekeeper's context."""

    def __init__(self, config, store, instruments, ticks, calendar=None, notifier: Notifier | None = None) -> None:
        super().__init__(config, store, instruments, ticks, calendar)
        self.notifier: Notifier = notifier if notifier is not None else NullNotifier()

    def gate(self, change: OrderChange, now: datetime, *, approval_id: str | None, stage: str,
             cached: Any = None) -> tuple[Decision, dict, Decimal | None]:
        """Judge ``change`` at ``now``; return (decision, decision row for the store, LTP used).

        Without a cached tick the decision is refused with ``NO_MARKET_PRICE``. Raises
        ``ValidationError`` for bad input (lot size, tick size, unknown instrument).
        """
        intent = change.intent
        ctx = self.gate_context(change, now, FETCH if cached is None else cached)
        decision = check(change, ctx)
        if decision.enter_safe_mode:
            self._enter_safe_mode(intent.trace_id, now, ctx)
        row = dict(decision_id=f"RD-{uuid.uuid4().hex}", trace_id=intent.trace_id, approval_id=approval_id,
                   stage=stage, approved=decision.approved, reasons=[str(r) for r in decision.reasons],
                   messages=list(decision.messages), price=ctx.ltp, at=to_utc(now))
        return decision, row, ctx.ltp

    def gate_context(self, change: OrderChange, now: datetime, cached: Any = FETCH) -> GateContext:
        """The facts for ``change`` at ``now`` with the latest tick ``cached`` (``None``: no
        tick). ``FETCH`` (the default) reads it with the open positions' marks in one tick-cache
        read. Every store read of the context runs on one connection (``TradingStore.reading``)."""
        intent = change.intent
        inst = self.instrument(intent.instrument_token)
        self.ensure_capital(now)
        day = to_ist(now).date()
        with self.store.reading():
            pf = self.portfolio(day)
            marked = {p.instrument_token for p in pf.open_positions()}
            if cached is FETCH:
                ticks = self.latest(marked | {intent.instrument_token})
                cached = ticks.get(intent.instrument_token)
            else:
                ticks = self.latest(marked - {intent.instrument_token})
                if cached is not None:
                    ticks[intent.instrument_token] = cached
            marks = {t: price_from_float(c.tick.last_price) for t, c in ticks.items()
                     if t in marked and c.tick.last_price > 0}
            state = self.risk_state(now, pf, marks)
            limits = self.risk_limits_obj()
            exclude = change.current.order_id if change.current is not None else None
            reserved = self._reserved_margin(pf, exclude)
        ltp = price_from_float(cached.tick.last_price) if cached and cached.tick.last_price > 0 else None
        return GateContext(
            inst, now, self.phase(now), ltp=ltp, circuit=self.circuit(inst, cached.tick if cached else None),
            holiday=self.calendar.holiday(now) if self.calendar is not None else None,
            holding_quantity=self._settled_holding(pf, intent.instrument_token, day),
            position_quantity=pf.position_quantity(intent.instrument_token, intent.product),
            square_off_cutoff=limits.square_off_cutoff, state=state, limits=limits, reserved_margin=reserved,
            # the order itself is judged with Kite's exact figure when wired (config.exact_margin)
            margin_rules=replace(pf.margin_rules, exact=self.config.exact_margin),
        )

    def _settled_holding(self, pf: Portfolio, token: int, day: date) -> int:
        """CNC shares a sell may take on ``day``: the whole long CNC position — settled, T1
        (BTST) and today's buys (same-day netting) — as ``core.risk.market_rules.check_holdings``."""
        pos = pf.position(token, Product.CNC)
        return max(0, pos.quantity) if pos is not None else 0

    def _reserved_margin(self, pf: Portfolio, exclude: str | None) -> Decimal:
        """₹ the open orders other than ``exclude`` block (``core.margins.open_orders_margin``
        over ``open_order_margins``: the same function as the Funds view's margin used)."""
        return open_orders_margin(self.open_order_margins(exclude), pf.position_quantity, pf.margin_rules)

    def _enter_safe_mode(self, trace_id: str, now: datetime, ctx: GateContext) -> None:
        day = to_ist(now).date()
        day_pnl = ctx.state.day_pnl if ctx.state is not None else ZERO
        self.store.set_desk_state(dict(safe_mode=True, safe_mode_day=day, updated_at=to_utc(now)),
                                  audit_row(trace_id, at=now, actor="system", action="safe_mode",
                                            price=ctx.ltp, day_pnl=day_pnl))
        self.notifier.notify(safe_mode(day, day_pnl))
