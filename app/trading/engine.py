"""Write side of the paper desk: propose, the gatekeeper, approve/reject/expire, execution,
matching, modify/cancel, square-off and the kill switch. ``TradingService`` delegates here.

Rules of the flow (see ``app.trading.service`` for the public contract):

* every order is created by :meth:`TradingEngine.execute_approval` from an APPROVED approval
  that has an approved risk decision row (``orders.decision_id``); order id ``O-<approval_id>``;
* the gatekeeper = ``core.orders.admit`` (session, MIS cut-off, circuit, CNC holdings) +
  ``core.risk.evaluate`` (limits, hours, circuit, margin) at the latest LTP;
* a fill is stored with its ledger entries and position change in one transaction
  (``TradingStore.apply_fill``), guarded by the order's ``fill_count``: exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.trading.books import TradingBooks, coerce_limits, limits_to_json
from app.trading.rows import (
    audit_row,
    fill_row,
    intent_columns,
    ledger_row,
    money,
    order_from_row,
    order_row,
    order_state,
    order_view,
    pending_from_row,
    position_from_row,
    position_row,
    trade_view,
    approval_view,
    preview_from_decision,
)
from app.trading.views import ActionOutcome, ApprovalView, LimitsView, OrderView, TraceView, AuditEntry
from core import approvals as appr
from core import broker
from core.broker import BrokerConfig, BrokerState, OrderFilled, OrderRejected
from core.charges import dp_charge, schedule_for, square_off_charge
from core.errors import ValidationError
from core.orders import (
    PAISA,
    Order,
    OrderIntent,
    OrderType,
    Product,
    Side,
    admit,
    cancel_order,
    price_from_float,
    validate_intent,
)
from core.portfolio import Portfolio, Position, apply_fill
from core.orders import FrozenMap
from core.risk import RiskLimits, evaluate
from core.timeutil import UTC, require_aware, to_ist, to_utc
from app.ops.notifications import fill_event, notify, safe_mode

Enqueue = Callable[[str], None]


def _user(user: str) -> str:
    if not user or not str(user).strip():
        raise ValidationError("user is required (who is acting, e.g. 'trader')")
    return str(user).strip()


def _outcome(action: str, *, ok: bool, row: dict | None = None, order_id: str | None = None,
             reasons: Sequence[str] = (), messages: Sequence[str] = (), price: Decimal | None = None,
             noop: bool = False) -> ActionOutcome:
    return ActionOutcome(ok=ok, action=action, approval_id=row["approval_id"] if row else None,
                         order_id=order_id, trace_id=row["trace_id"] if row else None,
                         reasons=tuple(str(r) for r in reasons), messages=tuple(messages), price=price, noop=noop)


class TradingEngine(TradingBooks):
    """The write side; construct through ``TradingService``."""

    def __init__(self, config, store, instruments, ticks, calendar=None) -> None:
        super().__init__(config, store, instruments, ticks, calendar)
        self.broker_config = BrokerConfig(slippage_bps=config.slippage_bps, partial_fills=config.partial_fills,
                                          schedules=self.schedules)

    # ------------------------------------------------------------------ gatekeeper

    def gate(self, intent: OrderIntent, now: datetime, *, approval_id: str | None, stage: str,
             cached: Any = None) -> tuple[dict, Decimal | None]:
        """Run admission + risk for ``intent`` at ``now``; return (decision row, LTP used).

        With no tick cached the decision is refused with ``NO_MARKET_PRICE``.
        Raises ``ValidationError`` for bad input (lot size, tick size, stop through the LTP).
        """
        inst = self.instrument(intent.instrument_token)
        if cached is None:
            cached = self.latest([intent.instrument_token]).get(intent.instrument_token)
        ltp = price_from_float(cached.tick.last_price) if cached and cached.tick.last_price > 0 else None
        reasons: list[str] = []
        messages: list[str] = []
        if ltp is None:
            validate_intent(intent, inst)
            reasons, messages = ["NO_MARKET_PRICE"], [f"no tick cached for {intent.tradingsymbol}; is the ticker running?"]
        else:
            self.ensure_capital(now)
            day = to_ist(now).date()
            pf = self.portfolio(day)
            phase = self.phase(now)
            circuit = self.circuit(inst, cached.tick)
            limits = self.risk_limits_obj()
            position = pf.position_quantity(intent.instrument_token, intent.product)
            held = self._settled_holding(pf, intent.instrument_token, day)
            adm = admit(intent, inst, now=now, phase=phase, circuit=circuit, holding_quantity=held,
                        position_quantity=position, square_off_cutoff=limits.square_off_cutoff,
                        ltp=ltp if intent.is_stop else None)
            for code, msg in zip(adm.reasons, adm.messages, strict=True):
                reasons.append(str(code))
                messages.append(msg)
            expected = intent.price if intent.order_type in (OrderType.LIMIT, OrderType.SL) and intent.price else ltp
            state = self.risk_state(now, pf)
            dec = evaluate(intent, expected, state, limits, now, phase=phase, circuit=circuit)
            for code, msg in zip(dec.reasons, dec.messages, strict=True):
                if str(code) not in reasons:
                    reasons.append(str(code))
                    messages.append(msg)
            if dec.enter_safe_mode:
                self.store.set_desk_state(dict(safe_mode=True, safe_mode_day=day, updated_at=to_utc(now)),
                                          audit_row(intent.trace_id, at=now, actor="system", action="safe_mode",
                                                    price=ltp, day_pnl=state.day_pnl))
                notify(safe_mode(day, state.day_pnl))
        decision = dict(decision_id=f"RD-{uuid.uuid4().hex}", trace_id=intent.trace_id, approval_id=approval_id,
                        stage=stage, approved=not reasons, reasons=reasons, messages=messages, price=ltp,
                        at=to_utc(now))
        return decision, ltp

    def _settled_holding(self, pf: Portfolio, token: int, day) -> int:
        pos = pf.position(token, Product.CNC)
        if pos is None or pos.quantity <= 0:
            return 0
        pending = self.store.pending_cnc_buys(day).get(token, 0)
        return max(0, pos.quantity - pending)

    # ------------------------------------------------------------------ approvals

    def propose(self, intent: OrderIntent, *, signal_price: Any, reason: str, source: str,
                ttl_seconds: int | None, now: datetime) -> ApprovalView:
        require_aware(now, "now")
        if not isinstance(intent, OrderIntent):
            raise ValidationError("intent must be a core.orders.OrderIntent")
        if not reason or not reason.strip():
            raise ValidationError("a proposal needs a reason (why the strategy wants this trade)")
        price = money(signal_price, "signal_price")
        ttl = timedelta(seconds=ttl_seconds if ttl_seconds is not None else self.config.approval_ttl_seconds)
        inst = self.instrument(intent.instrument_token)
        if inst.tradingsymbol != intent.tradingsymbol:
            intent = replace(intent, tradingsymbol=inst.tradingsymbol)
        validate_intent(intent, inst)
        approval_id = f"A-{uuid.uuid4().hex[:20]}"
        trace = intent.trace_id or f"T-{uuid.uuid4().hex[:20]}"
        intent = replace(intent, trace_id=trace)
        pa = appr.propose(approval_id, intent, signal_price=price, created_at=now, ttl=ttl)
        decision, ltp = self.gate(intent, now, approval_id=approval_id, stage="preview")
        row = dict(
            approval_id=approval_id, trace_id=trace, source=source or "strategy", strategy=intent.strategy,
            reason=reason.strip(), **intent_columns(intent), signal_price=price, created_at=to_utc(now),
            expires_at=to_utc(pa.expires_at), status="PENDING", decided_by=None, decided_at=None,
            decision_price=None, decision_note="", risk_approved=decision["approved"],
            risk_reasons=decision["reasons"], risk_messages=decision["messages"], risk_price=ltp,
            risk_at=to_utc(now),
        )
        self.store.insert_approval(row, decision, audit_row(trace, at=now, actor=source or "strategy",
                                                            action="propose", price=ltp, approval_id=approval_id,
                                                            signal_price=price, reason=reason.strip()))
        return self._view(row, now)

    def pending(self, now: datetime) -> list[ApprovalView]:
        self.expire_approvals(now)
        rows = self.store.list_approvals(("PENDING",))
        return [approval_view(r, now=now) for r in rows]

    def expire_approvals(self, now: datetime) -> int:
        require_aware(now, "now")
        n = 0
        for row in self.store.list_approvals(("PENDING",)):
            dec = appr.expire(pending_from_row(row), now=now)
            if dec.changed and self._mark_expired(row, now):
                n += 1
        return n

    def _mark_expired(self, row: dict, now: datetime, actor: str = "system") -> bool:
        return self.store.decide_approval(
            row["approval_id"],
            dict(status="EXPIRED", decided_by="system", decided_at=to_utc(now), decision_note="ttl elapsed"),
            audit=[audit_row(row["trace_id"], at=now, actor=actor, action="expire", approval_id=row["approval_id"])],
        )

    def _load(self, approval_id: str) -> dict:
        row = self.store.get_approval(approval_id)
        if row is None:
            raise ValidationError(f"unknown approval_id {approval_id!r}; pick one from the Approvals page")
        return row

    def approve(self, approval_id: str, *, user: str, now: datetime, enqueue: Enqueue) -> ActionOutcome:
        user = _user(user)
        require_aware(now, "now")
        row = self._load(approval_id)
        cached = self.latest([int(row["instrument_token"])]).get(int(row["instrument_token"]))
        ltp = price_from_float(cached.tick.last_price) if cached and cached.tick.last_price > 0 else None
        pa = pending_from_row(row)

        def refuse(codes, msgs, *, noop=False) -> ActionOutcome:
            self.store.add_audit(audit_row(row["trace_id"], at=now, actor=user, action="approve_refused", price=ltp,
                                           approval_id=approval_id, reasons=[str(c) for c in codes],
                                           messages=list(msgs)))
            return _outcome("approve", ok=False, row=row, reasons=codes, messages=msgs, price=ltp, noop=noop)

        if pa.status is not appr.ApprovalStatus.PENDING:
            code = "EXPIRED" if pa.status is appr.ApprovalStatus.EXPIRED else "ALREADY_DECIDED"
            return refuse([code], [f"approval {approval_id} is already {pa.status}; nothing was placed"], noop=True)
        if pa.is_expired(now):
            self._mark_expired(row, now, actor=user)
            return refuse(["EXPIRED"], [f"approval expired at {to_ist(pa.expires_at):%H:%M:%S} IST; the signal is stale"])
        if ltp is None:
            return refuse(["NO_MARKET_PRICE"], [f"no tick cached for {row['tradingsymbol']}; cannot check drift"])
        age = self.config.stale_tick_age(cached.tick.exchange_timestamp or cached.received_at, now)
        if age is not None:  # DESK_MAX_TICK_AGE_SECONDS
            return refuse(["NO_MARKET_PRICE"], [f"the last tick of {row['tradingsymbol']} is {age:.0f} s old (limit "
                                                f"{self.config.max_tick_age_seconds:g} s); wait for a fresh price"])
        dec = appr.approve(pa, now=now, current_price=ltp, max_drift_bps=self.config.max_drift_bps)
        if not dec.approved:
            return refuse(dec.reasons, dec.messages)
        decision, _ = self.gate(pa.intent, now, approval_id=approval_id, stage="approval", cached=cached)
        preview = dict(risk_approved=decision["approved"], risk_reasons=decision["reasons"],
                       risk_messages=decision["messages"], risk_price=ltp, risk_at=to_utc(now))
        if not decision["approved"]:
            self.store.update_approval(approval_id, preview, decision=decision, audit=[audit_row(
                row["trace_id"], at=now, actor=user, action="approve_refused", price=ltp, approval_id=approval_id,
                reasons=decision["reasons"], messages=decision["messages"])])
            return _outcome("approve", ok=False, row=row, reasons=decision["reasons"],
                            messages=decision["messages"], price=ltp)
        done = self.store.decide_approval(
            approval_id,
            dict(status="APPROVED", decided_by=user, decided_at=to_utc(now), decision_price=ltp, **preview),
            decision=decision,
            audit=[audit_row(row["trace_id"], at=now, actor=user, action="risk", price=ltp, approved=True,
                             decision_id=decision["decision_id"]),
                   audit_row(row["trace_id"], at=now, actor=user, action="approve", price=ltp,
                             approval_id=approval_id)],
        )
        if not done:
            return refuse(["ALREADY_DECIDED"], [f"approval {approval_id} was decided meanwhile; nothing was placed"],
                          noop=True)
        enqueue(approval_id)
        return _outcome("approve", ok=True, row=row, order_id=f"O-{approval_id}", price=ltp)

    def approve_many(self, ids: Sequence[str], *, user: str, now: datetime, enqueue: Enqueue) -> list[ActionOutcome]:
        if not ids:
            raise ValidationError("select at least one approval to approve")
        return [self.approve(i, user=user, now=now, enqueue=enqueue) for i in ids]

    def reject(self, approval_id: str, *, user: str, reason: str, now: datetime) -> ActionOutcome:
        user = _user(user)
        if not reason or not str(reason).strip():
            raise ValidationError("a reject needs a reason (e.g. 'spread too wide')")
        require_aware(now, "now")
        row = self._load(approval_id)
        pa = pending_from_row(row)
        if pa.status is appr.ApprovalStatus.PENDING and pa.is_expired(now):
            self._mark_expired(row, now, actor=user)
            return _outcome("reject", ok=False, row=row, reasons=["EXPIRED"], messages=["approval had expired"],
                            noop=True)
        dec = appr.reject(pa, reason=reason, now=now)
        if not dec.changed:
            return _outcome("reject", ok=False, row=row, reasons=dec.reasons, messages=dec.messages, noop=True)
        ltp = self.ltps([pa.intent.instrument_token]).get(pa.intent.instrument_token)
        ok = self.store.decide_approval(
            approval_id, dict(status="REJECTED", decided_by=user, decided_at=to_utc(now), decision_price=ltp,
                              decision_note=str(reason).strip()),
            audit=[audit_row(row["trace_id"], at=now, actor=user, action="reject", price=ltp, reason=str(reason).strip())])
        if not ok:
            return _outcome("reject", ok=False, row=row, reasons=["ALREADY_DECIDED"],
                            messages=["decided meanwhile"], noop=True)
        return _outcome("reject", ok=True, row=row, price=ltp)

    # ------------------------------------------------------------------ manual and system orders

    def place_manual(self, intent: OrderIntent, *, user: str, now: datetime, enqueue: Enqueue) -> ActionOutcome:
        user = _user(user)
        require_aware(now, "now")
        return self._place_direct(intent, source="manual", user=user, now=now, enqueue=enqueue,
                                  reason="manual order ticket")

    def _place_direct(self, intent: OrderIntent, *, source: str, user: str, now: datetime, enqueue: Enqueue,
                      reason: str, approval_id: str | None = None) -> ActionOutcome:
        if not isinstance(intent, OrderIntent):
            raise ValidationError("intent must be a core.orders.OrderIntent")
        inst = self.instrument(intent.instrument_token)
        if inst.tradingsymbol != intent.tradingsymbol:
            intent = replace(intent, tradingsymbol=inst.tradingsymbol)
        validate_intent(intent, inst)
        approval_id = approval_id or f"M-{uuid.uuid4().hex[:20]}"
        trace = intent.trace_id or f"T-{uuid.uuid4().hex[:20]}"
        intent = replace(intent, trace_id=trace)
        decision, ltp = self.gate(intent, now, approval_id=approval_id, stage=source)
        base = dict(approval_id=approval_id, trace_id=trace)
        if not decision["approved"]:
            self.store.add_audit(audit_row(trace, at=now, actor=user, action=f"{source}_refused", price=ltp,
                                           reasons=decision["reasons"], messages=decision["messages"]))
            return _outcome(source, ok=False, row=base, reasons=decision["reasons"],
                            messages=decision["messages"], price=ltp)
        row = dict(
            **base, source=source, strategy=intent.strategy, reason=reason, **intent_columns(intent),
            signal_price=ltp, created_at=to_utc(now), expires_at=to_utc(now), status="APPROVED", decided_by=user,
            decided_at=to_utc(now), decision_price=ltp, decision_note="", risk_approved=True, risk_reasons=[],
            risk_messages=[], risk_price=ltp, risk_at=to_utc(now),
        )
        try:
            self.store.insert_approval(row, decision, audit_row(trace, at=now, actor=user, action=source, price=ltp,
                                                                approval_id=approval_id,
                                                                decision_id=decision["decision_id"]))
        except Exception as exc:  # the deterministic id exists: this system order was placed already
            if self.store.get_approval(approval_id) is not None:
                return _outcome(source, ok=False, row=base, reasons=["ALREADY_DECIDED"],
                                messages=[f"{approval_id} already placed"], noop=True)
            raise exc
        enqueue(approval_id)
        return _outcome(source, ok=True, row=base, order_id=f"O-{approval_id}", price=ltp)

    # ------------------------------------------------------------------ execution

    def execute_approval(self, approval_id: str, *, now: datetime | None = None) -> OrderView | None:
        row = self._load(approval_id)
        if row["status"] != "APPROVED":
            return None
        orow = self.store.order_for_approval(approval_id)
        token = int(row["instrument_token"])
        cached = self.latest([token]).get(token)
        if orow is None:
            decision = self.store.approved_decision_for(approval_id)
            if decision is None:
                return None
            inst = self.instrument(token)
            placed = now or row["decided_at"]
            intent = replace(pending_from_row(row).intent, strategy=row["strategy"] or "")
            day = to_ist(placed).date()
            mis = self.store.position(token, str(intent.product))
            cnc = self.store.position(token, "CNC")
            held = 0
            if cnc is not None and int(cnc["quantity"]) > 0:
                held = max(0, int(cnc["quantity"]) - self.store.pending_cnc_buys(day).get(token, 0))
            _, events = broker.submit(
                BrokerState(), intent, inst, order_id=f"O-{approval_id}", now=placed, phase=self.phase(placed),
                circuit=self.circuit(inst, cached.tick if cached else None),
                holding_quantity=held, position_quantity=int(mis["quantity"]) if mis else 0,
                square_off_cutoff=self.risk_limits_obj().square_off_cutoff if intent.tag not in ("SQUAREOFF", "KILLSWITCH")
                else datetime.max.time(),
            )
            ev = events[0]
            order = ev.order
            self.store.insert_order(
                order_row(order, approval_id=approval_id, decision_id=decision["decision_id"]),
                audit_row(row["trace_id"], at=placed, actor="worker", action="order", order_id=order.order_id,
                          status=str(order.status),
                          reasons=[str(r) for r in ev.reasons] if isinstance(ev, OrderRejected) else []))
            orow = self.store.order_for_approval(approval_id)
        order = order_from_row(orow)
        if order.is_open and cached is not None:
            self._match(order, cached, allow_older_tick=True)
            orow = self.store.get_order(order.order_id)
        return order_view(orow)

    def _match(self, order: Order, cached: Any, *, allow_older_tick: bool) -> int:
        """Match one open order against one cached tick; store the result. Returns fills stored."""
        when = self.tick_time(cached)
        if when < order.placed_at:
            if not allow_older_tick:
                return 0
            when = order.placed_at
        inst = self.instrument(order.intent.instrument_token)
        state = BrokerState().with_order(order)
        new_state, events = broker.on_tick(state, cached.tick, now=when, phase=self.phase(when),
                                           circuit=self.circuit(inst, cached.tick), config=self.broker_config)
        final = new_state.get(order.order_id)
        fills = [e.fill for e in events if isinstance(e, OrderFilled)]
        expect = dict(fill_count=order.fill_count, status=str(order.status))
        if not fills:
            if final != order:
                self.store.update_order(order.order_id, order_state(final), expect=expect,
                                        audit=audit_row(order.intent.trace_id, at=when, actor="worker",
                                                        action="order_update", status=str(final.status)))
            return 0
        fill = fills[0]
        return int(self.store_fill(fill, order_values=order_state(final), order_expect=expect,
                                   strategy=order.intent.strategy))

    def store_fill(self, fill, *, order_values: dict | None, order_expect: dict | None, strategy: str = "") -> bool:
        """Book ``fill`` (core ``Fill``) in one transaction; False if it was already stored."""
        day = to_ist(fill.filled_at).date()
        settles = self.settles_on(day) if fill.product is Product.CNC and fill.side is Side.BUY else None
        capital, leverage = self.config.capital, self.config.mis_leverage
        dp = dp_charge(schedule_for(day, self.schedules)).total

        def book(current: dict | None):
            pos = position_from_row(current, day=day) if current else Position(
                fill.instrument_token, fill.tradingsymbol, fill.product)
            mini = Portfolio(capital=capital, mis_leverage=leverage, trading_day=day, ledger=(),
                             positions=FrozenMap({(fill.instrument_token, fill.product): pos}))
            applied = apply_fill(mini, fill, settles_on=settles, dp_charge=dp)
            new_pos = applied.portfolio.positions[(fill.instrument_token, fill.product)]
            entries = [ledger_row(e, trace_id=fill.trace_id) for e in applied.portfolio.ledger]
            return position_row(new_pos, day=day, at=fill.filled_at), entries, applied.portfolio.realized_today

        stored = self.store.apply_fill(
            fill_row(fill, strategy=strategy, settles_on=settles), order_values=order_values,
            order_expect=order_expect, book=book,
            audit=audit_row(fill.trace_id, at=fill.filled_at, actor="worker", action="fill", price=fill.price,
                            fill_id=fill.fill_id, quantity=fill.quantity, side=str(fill.side),
                            charges=fill.charges.total))
        if stored:
            notify(fill_event(fill))
        return stored

    def match_open_orders(self, now: datetime) -> int:
        require_aware(now, "now")
        n = 0
        for row in self.store.approved_without_order():
            view = self.execute_approval(row["approval_id"])
            n += 1 if view is not None and view.filled_quantity else 0
        orders = [order_from_row(r) for r in self.store.list_orders(open_only=True, newest_first=False)]
        latest = self.latest({o.intent.instrument_token for o in orders})
        for order in orders:
            cached = latest.get(order.intent.instrument_token)
            if cached is not None:
                n += self._match(order, cached, allow_older_tick=order.intent.order_type is OrderType.MARKET)
        return n

    # ------------------------------------------------------------------ modify / cancel

    def _order(self, order_id: str) -> Order:
        row = self.store.get_order(order_id)
        if row is None:
            raise ValidationError(f"unknown order_id {order_id!r}; pick one from the order book")
        return order_from_row(row)

    def modify_order(self, order_id: str, *, quantity, price, trigger_price, user: str, now: datetime) -> ActionOutcome:
        user = _user(user)
        require_aware(now, "now")
        order = self._order(order_id)
        inst = self.instrument(order.intent.instrument_token)
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0):
            raise ValidationError(f"quantity must be a positive whole number of shares, was {quantity!r}")
        state, _ = broker.modify(BrokerState().with_order(order), order_id, inst, now=now, quantity=quantity,
                                 price=None if price is None else money(price, "price"),
                                 trigger_price=None if trigger_price is None else money(trigger_price, "trigger_price"))
        new = state.get(order_id)
        ok = self.store.update_order(order_id, order_state(new),
                                     expect=dict(fill_count=order.fill_count, status=str(order.status)),
                                     audit=audit_row(order.intent.trace_id, at=now, actor=user, action="modify",
                                                     quantity=new.intent.quantity, price=new.intent.price,
                                                     trigger_price=new.intent.trigger_price))
        if not ok:
            return _outcome("modify", ok=False, order_id=order_id, reasons=["ORDER_CHANGED"],
                            messages=["the order changed meanwhile (filled?); reload and retry"])
        return ActionOutcome(ok=True, action="modify", order_id=order_id, trace_id=order.intent.trace_id)

    def cancel_order(self, order_id: str, *, user: str, now: datetime) -> ActionOutcome:
        user = _user(user)
        require_aware(now, "now")
        order = self._order(order_id)
        new = cancel_order(order, now=now, message=f"cancelled by {user}")
        ok = self.store.update_order(order_id, order_state(new),
                                     expect=dict(fill_count=order.fill_count, status=str(order.status)),
                                     audit=audit_row(order.intent.trace_id, at=now, actor=user, action="cancel"))
        if not ok:
            return _outcome("cancel", ok=False, order_id=order_id, reasons=["ORDER_CHANGED"],
                            messages=["the order changed meanwhile (filled?); reload and retry"])
        return ActionOutcome(ok=True, action="cancel", order_id=order_id, trace_id=order.intent.trace_id)

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
                                     approval_id=approval_id)
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
        user = _user(user)
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
                                     approval_id=f"{trace}-{i}")
            messages.append(f"flatten {pos.tradingsymbol} {pos.product}: {'placed' if out.ok else out.message}")
            reasons.extend(out.reasons)
        return ActionOutcome(ok=True, action="kill_switch", trace_id=trace, reasons=tuple(reasons),
                             messages=tuple(messages))

    def resume(self, *, user: str, now: datetime) -> ActionOutcome:
        user = _user(user)
        require_aware(now, "now")
        desk = self.store.desk_state() or {}
        if not desk.get("halted") and not desk.get("safe_mode"):
            return ActionOutcome(ok=True, action="resume", noop=True, messages=("desk was not halted",))
        self.store.set_desk_state(dict(halted=False, safe_mode=False, updated_at=to_utc(now)),
                                  audit_row(f"RS-{uuid.uuid4().hex[:12]}", at=now, actor=user, action="resume"))
        return ActionOutcome(ok=True, action="resume")

    # ------------------------------------------------------------------ limits and trace

    def save_risk_limits(self, limits: Any, *, user: str, now: datetime | None) -> LimitsView:
        user = _user(user)
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
