"""The paper desk's write side, assembled: approvals and direct placement
(``app.trading.approvals``), execution and modify/cancel (``app.trading.execution``), on the
gatekeeper's context (``app.trading.gate``) and the books (``app.trading.books``); this module
adds the desk controls: MIS square-off, the kill switch, resume, risk limits and the trace.
``TradingService`` delegates here.

Every order change passes the one gatekeeper (``core.gatekeeper.check``); only the desk's own
exits below — the MIS square-off and the kill switch's flatten — are exempt, and their
decisions say so (``Exemption``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.trading.books import coerce_limits, limits_to_json
from app.trading.execution import OrderExecution
from app.trading.outcomes import acting_user
from app.trading.rows import approval_view, audit_row, order_from_row, order_state, order_view, preview_from_decision, trade_view
from app.trading.views import ActionOutcome, AuditEntry, LimitsView, TraceView
from core.broker import BrokerConfig
from core.charges import schedule_for, square_off_charge
from core.errors import ValidationError
from core.events import Notifier
from core.gatekeeper import Exemption
from core.orders import PAISA, Order, OrderIntent, OrderType, Product, Side, cancel_order
from core.risk import RiskLimits
from core.timeutil import UTC, require_aware, to_ist, to_utc


class TradingEngine(OrderExecution):
    """The write side; construct through ``TradingService``. ``notifier`` receives the desk's
    events (fills, safe mode); ``core.events.NullNotifier`` when ``None``."""

    def __init__(self, config, store, instruments, ticks, calendar=None, notifier: Notifier | None = None) -> None:
        super().__init__(config, store, instruments, ticks, calendar, notifier)
        self.broker_config = BrokerConfig(slippage_bps=config.slippage_bps, partial_fills=config.partial_fills,
                                          schedules=self.schedules)

    # ------------------------------------------------------------------ square-off and kill switch

    def square_off_mis(self, now: datetime) -> int:
        require_aware(now, "now")
        local = to_ist(now)
        cutoff = self.risk_limits_obj().square_off_cutoff
        if local.time() < cutoff:
            return 0
        day = local.date()
        for o in [order_from_row(r) for r in self.store.list_orders(open_only=True)]:
            if o.intent.product is Product.MIS and o.intent.tag != "SQUAREOFF":
                self._try_cancel(o, now, "auto square-off: pending MIS orders cancelled")
        placed = 0
        for pos in self.portfolio(day).open_positions():
            if pos.product is not Product.MIS:
                continue
            approval_id = f"SQ-{day:%Y%m%d}-{pos.instrument_token}-MIS"
            intent = OrderIntent(pos.instrument_token, pos.tradingsymbol, Side.SELL if pos.quantity > 0 else Side.BUY,
                                 abs(pos.quantity), Product.MIS, OrderType.MARKET, tag="SQUAREOFF",
                                 trace_id=approval_id)
            out = self._place_direct(intent, source="squareoff", user="system", now=now,
                                     enqueue=lambda a: self.execute_approval(a), reason="MIS auto square-off",
                                     approval_id=approval_id, exempt=Exemption.MIS_SQUARE_OFF)
            if not out.ok:
                continue
            placed += 1
            if self.config.square_off_fee:
                fee = square_off_charge(schedule_for(day, self.schedules)).total
                self.store.mark_square_off(
                    dict(day=day, instrument_token=pos.instrument_token, product="MIS", order_id=f"O-{approval_id}",
                         at=to_utc(now)),
                    [dict(entry_id=f"{approval_id}/fee", at=to_utc(now), day=day, kind="SQUARE_OFF_CHARGE",
                          amount=-fee, reference=f"O-{approval_id}", instrument_token=pos.instrument_token,
                          trace_id=approval_id, memo="auto square-off ₹50 + GST")])
        return placed

    def _try_cancel(self, order: Order, now: datetime, message: str) -> bool:
        new = cancel_order(order, now=now, message=message)
        return self.store.update_order(order.order_id, order_state(new),
                                       expect=dict(fill_count=order.fill_count, status=str(order.status)),
                                       audit=audit_row(order.intent.trace_id, at=now, actor="system", action="cancel",
                                                       message=message))

    def kill_switch(self, *, user: str, now: datetime) -> ActionOutcome:
        user = acting_user(user)
        require_aware(now, "now")
        trace = f"KS-{uuid.uuid4().hex[:12]}"
        self.store.set_desk_state(dict(halted=True, halted_by=user, halted_at=to_utc(now), updated_at=to_utc(now)),
                                  audit_row(trace, at=now, actor=user, action="kill_switch"))
        cancelled = sum(self._try_cancel(order_from_row(r), now, f"kill switch by {user}")
                        for r in self.store.list_orders(open_only=True))
        messages = [f"cancelled {cancelled} open orders"]
        reasons: list[str] = []
        for i, pos in enumerate(self.portfolio(to_ist(now).date()).open_positions()):
            intent = OrderIntent(pos.instrument_token, pos.tradingsymbol, Side.SELL if pos.quantity > 0 else Side.BUY,
                                 abs(pos.quantity), pos.product, OrderType.MARKET, tag="KILLSWITCH", trace_id=trace)
            out = self._place_direct(intent, source="killswitch", user=user, now=now,
                                     enqueue=lambda a: self.execute_approval(a), reason="kill switch: flatten",
                                     approval_id=f"{trace}-{i}", exempt=Exemption.KILL_SWITCH_FLATTEN)
            messages.append(f"flatten {pos.tradingsymbol} {pos.product}: {'placed' if out.ok else out.message}")
            reasons.extend(out.reasons)
        return ActionOutcome(ok=True, action="kill_switch", trace_id=trace, reasons=tuple(reasons),
                             messages=tuple(messages))

    def resume(self, *, user: str, now: datetime) -> ActionOutcome:
        user = acting_user(user)
        require_aware(now, "now")
        desk = self.store.desk_state() or {}
        if not desk.get("halted") and not desk.get("safe_mode"):
            return ActionOutcome(ok=True, action="resume", noop=True, messages=("desk was not halted",))
        self.store.set_desk_state(dict(halted=False, safe_mode=False, updated_at=to_utc(now)),
                                  audit_row(f"RS-{uuid.uuid4().hex[:12]}", at=now, actor=user, action="resume"))
        return ActionOutcome(ok=True, action="resume")

    # ------------------------------------------------------------------ limits and trace

    def save_risk_limits(self, limits: Any, *, user: str, now: datetime | None) -> LimitsView:
        user = acting_user(user)
        lim: RiskLimits = coerce_limits(limits)
        at = require_aware(now, "now") if now is not None else datetime.now(UTC)
        data = limits_to_json(lim)
        self.store.save_limits(data, saved_by=user, saved_at=to_utc(at),
                               audit=audit_row("risk-limits", at=at, actor=user, action="save_limits", **data))
        return self.risk_limits()

    def trace(self, trace_id: str) -> TraceView:
        approvals = self.store.list_approvals((), trace_id=trace_id)
        decisions = self.store.decisions(trace_id)
        orders = self.store.list_orders(trace_id=trace_id, newest_first=False)
        fills = self.store.list_fills(trace_id=trace_id)
        audit = self.store.audit_rows(trace_id)
        if not (approvals or orders or fills or audit):
            raise ValidationError(f"nothing carries trace id {trace_id!r}")
        return TraceView(
            trace_id=trace_id, approvals=tuple(approval_view(r) for r in approvals),
            risk_decisions=tuple(preview_from_decision(r) for r in decisions),
            orders=tuple(order_view(r) for r in orders), fills=tuple(trade_view(r) for r in fills),
            audit=tuple(AuditEntry(trace_id, to_ist(a["at"]), a["actor"], a["action"],
                                   Decimal(a["price"]).quantize(PAISA) if a["price"] is not None else None,
                                   dict(a["details"] or {})) for a in audit),
        )
