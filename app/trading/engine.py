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

from app.trading import square_off
from app.trading.books import coerce_limits, limits_to_json
from app.trading.execution import OrderExecution
from app.trading.outcomes import acting_user
from app.trading.rows import (
    approval_view,
    audit_row,
    order_from_row,
    order_state,
    order_view,
    preview_from_decision,
    trade_view,
)
from app.trading.views import ActionOutcome, AuditEntry, LimitsView, TraceView
from core.broker import BrokerConfig
from core.charges import schedule_for, square_off_charge
from core.errors import ValidationError
from core.events import Notifier, square_off_refused
from core.gatekeeper import Exemption
from core.orders import (
    PAISA,
    Order,
    OrderIntent,
    OrderType,
    Product,
    Side,
    cancel_order,
    price_from_float,
)
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
        """Cancel open MIS entries and square off every open MIS position (``app.trading.square_off``):
        a new attempt when the last one is over unfilled, a ``squareoff_refused`` audit row and a
        notification whenever the position is still open after this run. Returns square-off orders
        placed (one per at most 30,000 shares of a position: Zerodha's per-order cap)."""
        require_aware(now, "now")
        local = to_ist(now)
        if local.time() < self.risk_limits_obj().square_off_cutoff:
            return 0
        day = local.date()
        self.cancel_exits_of(Product.MIS.value, "MIS auto square-off", now)  # the exits first (app.trading.exits)
        for o in [order_from_row(r) for r in self.store.list_orders(open_only=True)]:
            if o.intent.product is Product.MIS and o.intent.tag != "SQUAREOFF":
                self._try_cancel(o, now, "auto square-off: pending MIS orders cancelled")
        placed = 0
        for pos in self.portfolio(day).open_positions():
            if pos.product is Product.MIS:
                placed += self._square_off_one(pos, day, now)
        if self.config.square_off_fee:
            self._charge_square_offs(day)
        return placed

    def _square_off_one(self, pos: Any, day: Any, now: datetime) -> int:
        """One run for one open MIS position: the attempt's orders (one per at most
        ``square_off_max_quantity`` shares, ``square_off.split_quantity``), each recorded; their
        fees are written after the run (``_charge_square_offs``). Returns orders placed."""
        trace = square_off.trace_id(day, pos.instrument_token)
        attempt, last = self._last_square_off(trace)
        resting = [o for o in last if o["status"] in square_off.IN_FLIGHT]
        if resting:
            self._square_off_refused(pos, trace, attempt, now, resting[0])  # resting: it fills when it can
            return 0
        # another run (a second worker, a restarted clock's send) may have closed it since the
        # positions were read: the store's position now decides, never the earlier read
        current = self.store.position(pos.instrument_token, Product.MIS.value)
        if current is None or int(current["quantity"]) != pos.quantity:
            return 0  # flat now, or changed: the next run squares off what is left
        attempt = 0 if attempt is None else attempt + 1
        cached = self.latest([pos.instrument_token]).get(pos.instrument_token)
        if cached is None or cached.tick.last_price <= 0:  # nothing to fill at: record, retry next run
            self._square_off_refused(pos, trace, attempt, now, None)
            return 0
        schedule = schedule_for(day, self.schedules)
        side = Side.SELL if pos.quantity > 0 else Side.BUY
        placed: list[tuple[str, int]] = []  # (approval id, shares) of each order placed
        refused = False
        for part, qty in enumerate(square_off.split_quantity(abs(pos.quantity), schedule.square_off_max_quantity)):
            approval_id = square_off.part_id(trace, attempt, part)
            intent = OrderIntent(pos.instrument_token, pos.tradingsymbol, side, qty, Product.MIS, OrderType.MARKET,
                                 tag="SQUAREOFF", trace_id=trace)
            out = self._place_direct(intent, source="squareoff", user="system", now=now,
                                     enqueue=lambda a, **_: self.execute_approval(a),
                                     reason="MIS auto square-off", approval_id=approval_id,
                                     exempt=Exemption.MIS_SQUARE_OFF)
            if not out.ok:
                if not out.noop:
                    refused = True
                    self._record_refusal(pos, trace, attempt, now, list(out.reasons), list(out.messages))
                break  # the rest goes with the next attempt, on the position then left
            placed.append((approval_id, qty))
        if not placed:
            return 0
        orders = [self.store.get_order(f"O-{aid}") for aid, _ in placed]
        unfilled = [o for o in orders if o is None or o["status"] != "COMPLETE"]
        if unfilled and not refused:
            self._square_off_refused(pos, trace, attempt, now, unfilled[0])
        return len(placed)

    def _charge_square_offs(self, day: Any) -> None:
        """Charge ₹50 + GST for each order of every position's first square-off attempt of ``day``
        that placed orders (Zerodha: per square-off order of at most 30,000 shares,
        ``core.charges.square_off_charge``), and mark the position squared off for the day
        (``square_offs``). Entry ids are the orders' own (``<approval_id>/fee``) and the store
        adds only what is missing (``TradingStore.record_square_off``), so this runs after every
        square-off run: a run that died between a fill and its fee (a worker killed) is healed
        by the next run, and each fee is written exactly once. Reads: the day's square-off
        approvals and fee entries; writes only when a fee is missing."""
        charged = self.store.ledger_entry_ids(day, "SQUARE_OFF_CHARGE")
        by_trace: dict[str, dict[str, dict]] = {}
        for row in self.store.approvals_traced(square_off.trace_prefix(day)):
            by_trace.setdefault(row["trace_id"], {})[row["approval_id"]] = row
        schedule = schedule_for(day, self.schedules)
        for trace, approvals in by_trace.items():
            parts = square_off.first_placed_attempt(trace, approvals)
            if not parts or all(f"{p['approval_id']}/fee" in charged for p in parts):
                continue
            token, at = int(parts[0]["instrument_token"]), parts[0]["created_at"]  # when that run placed them
            fees = [dict(entry_id=f"{p['approval_id']}/fee", at=at, day=day, kind="SQUARE_OFF_CHARGE",
                         amount=-square_off_charge(schedule, int(p["quantity"])).total,
                         reference=f"O-{p['approval_id']}", instrument_token=token, trace_id=trace,
                         memo=f"auto square-off ₹50 + GST (order {n} of {len(parts)}, {int(p['quantity']):,} shares)")
                    for n, p in enumerate(parts, start=1)]
            self.store.record_square_off(dict(day=day, instrument_token=token, product="MIS",
                                              order_id=f"O-{parts[0]['approval_id']}", at=at), fees)

    def _last_square_off(self, trace: str) -> tuple[int | None, list[dict]]:
        """(last attempt number, the order rows of its parts) of ``trace``; (None, []) before any
        attempt, and no rows for an attempt the gatekeeper refused. A part approved without an
        order yet has a ``PLACING`` row (``square_off.placing_row``)."""
        last, rows = None, []
        for n in range(square_off.MAX_ATTEMPTS):
            aid = square_off.attempt_id(trace, n)
            if self.store.get_approval(aid) is None:
                refused = any(a["action"] == square_off.REFUSED_ACTION and (a["details"] or {}).get("attempt") == n
                              for a in self.store.audit_rows(trace))
                if not refused:
                    break
                last, rows = n, []  # refused by the gatekeeper: no order
                continue
            last, rows = n, []
            for part in range(square_off.MAX_PARTS):
                pid = square_off.part_id(trace, n, part)
                if part and self.store.get_approval(pid) is None:
                    break
                row = self.store.order_for_approval(pid)
                # approved but no order yet: another run is placing it (or match_orders will)
                rows.append(row if row is not None else square_off.placing_row(pid))
        return last, rows

    def _square_off_refused(self, pos: Any, trace: str, attempt: int, now: datetime, order: dict | None) -> None:
        token = pos.instrument_token
        cached = self.latest([token]).get(token)
        ltp = price_from_float(cached.tick.last_price) if cached and cached.tick.last_price > 0 else None
        band = self.circuit(self.instrument(token), cached.tick if cached else None)
        status = str(order["status"]) if order else ""
        code, message = square_off.not_filled_reason(ltp, band, status, str((order or {}).get("status_message") or ""))
        self._record_refusal(pos, trace, attempt, now, [code], [message], price=ltp)

    def _record_refusal(self, pos: Any, trace: str, attempt: int, now: datetime, reasons: list, messages: list,
                        price: Decimal | None = None) -> None:
        self.store.add_audit(audit_row(trace, at=now, actor="system", action=square_off.REFUSED_ACTION, price=price,
                                       instrument_token=pos.instrument_token, tradingsymbol=pos.tradingsymbol,
                                       quantity=abs(pos.quantity), attempt=attempt, reasons=[str(r) for r in reasons],
                                       messages=[str(m) for m in messages]))
        self.notifier.notify(square_off_refused(trace, pos.tradingsymbol, abs(pos.quantity), reasons, messages))

    def square_off_refusals(self, day: Any) -> list[square_off.SquareOffRefusal]:
        """The day's recorded square-off refusals, newest first (one per run that left a position open)."""
        tokens = {int(r["instrument_token"]) for r in self.store.positions() if r["product"] == "MIS"}
        rows = [a for t in sorted(tokens) for a in self.store.audit_rows(square_off.trace_id(day, t))
                if a["action"] == square_off.REFUSED_ACTION]
        return sorted((square_off.refusal_from_audit(a) for a in rows), key=lambda r: r.at, reverse=True)

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
        self.cancel_all_exits(f"kill switch by {user}", now)  # no exit re-placed behind the flatten
        cancelled = sum(self._try_cancel(order_from_row(r), now, f"kill switch by {user}")
                        for r in self.store.list_orders(open_only=True))
        messages = [f"cancelled {cancelled} open orders"]
        reasons: list[str] = []
        for i, pos in enumerate(self.portfolio(to_ist(now).date()).open_positions()):
            intent = OrderIntent(pos.instrument_token, pos.tradingsymbol, Side.SELL if pos.quantity > 0 else Side.BUY,
                                 abs(pos.quantity), pos.product, OrderType.MARKET, tag="KILLSWITCH", trace_id=trace)
            out = self._place_direct(intent, source="killswitch", user=user, now=now,
                                     enqueue=lambda a, **_: self.execute_approval(a),
                                     reason="kill switch: flatten", approval_id=f"{trace}-{i}",
                                     exempt=Exemption.KILL_SWITCH_FLATTEN)
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
