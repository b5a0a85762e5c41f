"""Execution: an APPROVED approval becomes its one order, open orders meet the latest ticks,
fills are booked exactly once; modify (through the gatekeeper) and cancel.

* order id ``O-<approval_id>``; the paper exchange (``core.broker.submit``) admits it with
  the market's rules; the desk's own exits carry their exemption from the approval's source;
* a fill is stored with its ledger entries and position change in one transaction
  (``TradingStore.apply_fill``), guarded by the order's ``fill_count``: exactly once;
* a modify is judged by ``core.gatekeeper.check`` as the order it would become; a refusal
  leaves the open order exactly as it was;
* a fill needs a fresh price (``core.broker.freshness``): an order whose latest tick is older
  than ``config.max_tick_age_seconds`` in market time (the tick's exchange time against the
  market time ``now`` it is matched at, never before the order was placed) stays open and its
  ``status_message`` says "waiting for a fresh tick (last …, 3 h old)"; the next fresh tick
  fills it and clears the message. Post-close closing-price fills read bars, not the tick;
* a MARKET order placed post-close (15:40–16:00 IST) fills whole at the day's closing price
  (``core.closing_price``: VWAP of the 1-minute bars 15:00–15:30, read through the market data
  service ``market``), else at the last traded price; the fill's audit row says which
  (``price_basis``, ``price_reason``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from app.trading.approvals import ApprovalFlow
from app.trading.exits import ExitManagement
from app.trading.outcomes import acting_user, outcome
from app.trading.rows import (
    audit_row,
    fill_row,
    ledger_row,
    money,
    order_from_row,
    order_row,
    order_state,
    order_view,
    pending_from_row,
    position_from_row,
    position_row,
)
from app.trading.views import ActionOutcome, OrderView
from core import broker
from core.broker import BrokerState, OrderFilled, OrderRejected, freshness, matching
from core.charges import dp_charge, schedule_for
from core.closing_price import ClosingPrice, closing_price, closing_window
from core.errors import TemporaryError, ValidationError
from core.events import fill_event
from core.gatekeeper import ChangeKind, Exemption, OrderChange
from core.orders import (
    FrozenMap,
    Order,
    OrderType,
    Product,
    Side,
    apply_modify,
    cancel_order,
    modified_intent,
    price_from_float,
    tick_size_for,
)
from core.portfolio import Portfolio, Position, apply_fill
from core.sessions import NORMAL_CLOSE, SessionPhase
from core.timeutil import require_aware, to_ist

log = logging.getLogger(__name__)

#: Approval sources of the desk's own exits, and the exemption each carries to the exchange.
EXEMPT_SOURCES = {"squareoff": Exemption.MIS_SQUARE_OFF, "killswitch": Exemption.KILL_SWITCH_FLATTEN}


class OrderExecution(ExitManagement, ApprovalFlow):
    """Approvals → orders → fills, and modify/cancel of open orders.

    ``market``: the market data service (``app.market.history.MarketDataService``) the
    post-close closing price is read through; ``None`` (no bars) fills post-close orders at
    the last traded price, labelled so."""

    market: Any = None

    def execute_approval(self, approval_id: str, *, now: datetime | None = None) -> OrderView | None:
        row = self._load(approval_id)
        if row["status"] != "APPROVED":
            return None
        token = int(row["instrument_token"])
        cached = self.latest([token]).get(token)
        orow = self.store.order_for_approval(approval_id)
        if orow is None:
            decision = self.store.approved_decision_for(approval_id)
            if decision is None:
                return None
            orow = self._submit(row, decision, now or row["decided_at"], cached)
        order = order_from_row(orow)
        if order.is_open and cached is not None:
            filled: dict = {}  # the order row as the fill stored it (no re-read)
            self._match(order, cached, allow_older_tick=True, now=now or row["decided_at"], order_out=filled)
            orow = filled or self.store.get_order(order.order_id)
        return order_view(orow)

    def _submit(self, row: dict, decision: dict, placed: datetime, cached: Any) -> dict:
        approval_id, token = row["approval_id"], int(row["instrument_token"])
        inst = self.instrument(token)
        intent = replace(pending_from_row(row).intent, strategy=row["strategy"] or "")
        held_rows = self.store.positions_of(token)
        mis, cnc = held_rows.get(str(intent.product)), held_rows.get("CNC")
        held = 0
        if cnc is not None and int(cnc["quantity"]) > 0:
            held = int(cnc["quantity"])  # settled + T1 (BTST) + bought today: market_rules.check_holdings
        _, events = broker.submit(
            BrokerState(), intent, inst, order_id=f"O-{approval_id}", now=placed, phase=self.phase(placed),
            circuit=self.circuit(inst, cached.tick if cached else None), holding_quantity=held,
            position_quantity=int(mis["quantity"]) if mis else 0,
            square_off_cutoff=self.risk_limits_obj().square_off_cutoff, exempt=EXEMPT_SOURCES.get(row["source"]),
        )
        ev = events[0]
        order = ev.order
        stored = self.store.place_order(
            order_row(order, approval_id=approval_id, decision_id=decision["decision_id"]),
            audit_row(row["trace_id"], at=placed, actor="worker", action="order", order_id=order.order_id,
                      status=str(order.status),
                      reasons=[str(r) for r in ev.reasons] if isinstance(ev, OrderRejected) else []))
        return stored if stored is not None else self.store.order_for_approval(approval_id)  # placed concurrently

    def _match(self, order: Order, cached: Any, *, allow_older_tick: bool, now: datetime | None = None,
               order_out: dict | None = None) -> int:
        """Match one open order against one cached tick at market time ``now`` (default: when
        the order was placed); store the result. Returns fills stored; ``order_out`` receives the
        order row a stored fill left (``TradingStore.apply_fill``). A tick older than
        ``config.max_tick_age_seconds`` fills nothing: the order waits, saying why."""
        when = tick_at = self.tick_time(cached)
        if when < order.placed_at:
            if not allow_older_tick:
                return 0
            when = order.placed_at
        inst = self.instrument(order.intent.instrument_token)
        state = BrokerState().with_order(order)
        phase = self.phase(when)
        close = None
        if phase is SessionPhase.POST_CLOSE and matching.placed_post_close(order) and cached.tick.last_price > 0:
            close = self.post_close_price(inst, to_ist(when).date(), price_from_float(cached.tick.last_price))
        if close is None:  # a closing-price fill reads the bars, not this tick
            judged = order.placed_at if now is None else max(require_aware(now, "now"), order.placed_at)
            stale = freshness.stale_tick(tick_at, judged, self.config.max_tick_age_seconds)
            if stale is not None:
                return self._wait_for_fresh_tick(order, stale)
        stored = order
        if order.status_message.startswith(freshness.WAITING_PREFIX):
            order = replace(order, status_message="")  # a fresh tick: no longer waiting
            state = BrokerState().with_order(order)
        new_state, events = broker.process_tick(state, cached.tick, now=when, phase=phase,
                                                circuit=self.circuit(inst, cached.tick), config=self.broker_config,
                                                closing_price=close.price if close is not None else None)
        final = new_state.get(order.order_id)
        fills = [e.fill for e in events if isinstance(e, OrderFilled)]
        expect = dict(fill_count=order.fill_count, status=str(order.status))
        if not fills:
            if final != order:
                self.store.update_order(order.order_id, order_state(final), expect=expect,
                                        audit=audit_row(order.intent.trace_id, at=when, actor="worker",
                                                        action="order_update", status=str(final.status)))
            elif final != stored:  # only the waiting message went: clear it, no audit row
                self.store.update_order(order.order_id, dict(status_message=final.status_message), expect=expect)
            return 0
        reduced: list = []
        stored = self.store_fill(fills[0], order_values=order_state(final), order_expect=expect,
                                 strategy=order.intent.strategy, price_note=close, order_out=order_out,
                                 reduced_out=reduced)
        # app.trading.exits: place, cancel or resize the exits (after a reducing fill of any order too)
        if stored and (reduced or self.wants_exit_hook(final)):
            self.exits_after_fill(final, when, reduced=bool(reduced))
        return int(stored)

    def _wait_for_fresh_tick(self, order: Order, stale: freshness.StaleTick) -> int:
        """Leave ``order`` open; write why on its row (``status_message``) when that changed."""
        message = stale.message
        if order.status_message != message:
            self.store.update_order(order.order_id, dict(status_message=message),
                                    expect=dict(fill_count=order.fill_count, status=str(order.status)))
        return 0

    def post_close_price(self, inst: Any, day: date, last_traded) -> ClosingPrice:
        """The price a post-close MARKET order of ``day`` fills at (``core.closing_price``): the
        VWAP of ``inst``'s 1-minute bars in the 30 minutes before the session's close (15:00–15:30
        IST), read through ``market.ohlcv(token, "minute", as_of=close)``; the last traded price
        ``last_traded`` (₹) when there is no market data service, the read fails or no bar has
        volume. The result's ``reason`` says which."""
        session = self.calendar.session(day) if self.calendar is not None else None
        close_at = to_ist(session.close).time() if session is not None else NORMAL_CLOSE
        start, end = closing_window(day, close_at)
        bars = None
        if self.market is not None:
            try:
                bars = self.market.ohlcv(inst.instrument_token, "minute", start=start, as_of=end)
            except (ValidationError, TemporaryError, OSError) as exc:
                log.warning("post-close price of %s on %s: minute bars unreadable (%s); using the LTP",
                            inst.tradingsymbol, day, exc)
        tick = tick_size_for(inst, day, last_traded)
        return closing_price(bars, day, last_traded, tick_size=tick, close=close_at)

    def store_fill(self, fill, *, order_values: dict | None, order_expect: dict | None, strategy: str = "",
                   price_note: ClosingPrice | None = None, order_out: dict | None = None,
                   reduced_out: list | None = None) -> bool:
        """Book ``fill`` (core ``Fill``) in one transaction; False if it was already stored.
        A stored fill is told to the notifier. ``price_note``: how a post-close fill's price was
        found, written on the fill's audit row (``price_basis``, ``price_reason``); ``order_out``:
        see ``TradingStore.apply_fill``; ``reduced_out``: a list that gets ``True`` appended when
        the fill reduced, closed or reversed the position it was booked on (its exits may need fitting)."""
        day = to_ist(fill.filled_at).date()
        settles = self.settles_on(day) if fill.product is Product.CNC and fill.side is Side.BUY else None
        capital, leverage = self.config.capital, self.config.mis_leverage
        schedule = schedule_for(day, self.schedules)
        dp = dp_charge(schedule).total
        row = fill_row(fill, strategy=strategy, settles_on=settles)
        booked = [fill]

        def book(current: dict | None):
            pos = position_from_row(current, day=day) if current else Position(
                fill.instrument_token, fill.tradingsymbol, fill.product)
            if reduced_out is not None and pos.quantity and (pos.quantity > 0) != (fill.side is Side.BUY):
                reduced_out.append(True)
            mini = Portfolio(capital=capital, mis_leverage=leverage, trading_day=day, ledger=(),
                             positions=FrozenMap({(fill.instrument_token, fill.product): pos}))
            applied = apply_fill(mini, fill, settles_on=settles, dp_charge=dp, schedule=schedule)
            # STT per scrip-day (core.charges): restated from the locked position's day turnover;
            # the stored fill row carries the same figure (the store inserts ``row`` after book()).
            booked[0] = applied.fill
            row.update(fill_row(applied.fill, strategy=strategy, settles_on=settles))
            new_pos = applied.portfolio.positions[(fill.instrument_token, fill.product)]
            entries = [ledger_row(e, trace_id=fill.trace_id) for e in applied.portfolio.ledger]
            return position_row(new_pos, day=day, at=fill.filled_at), entries, applied.portfolio.realized_today

        stored = self.store.apply_fill(
            row, order_values=order_values,
            order_expect=order_expect, book=book,
            audit=audit_row(fill.trace_id, at=fill.filled_at, actor="worker", action="fill", price=fill.price,
                            fill_id=fill.fill_id, quantity=fill.quantity, side=str(fill.side),
                            charges=fill.charges.total,
                            **(dict(price_basis=price_note.basis, price_reason=price_note.reason)
                               if price_note is not None else {})),
            order_out=order_out)
        if stored:
            self.notifier.notify(fill_event(booked[0]))
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
                n += self._match(order, cached, now=now,
                                 allow_older_tick=order.intent.order_type is OrderType.MARKET)
        self.run_exits(now)  # trailing stops, GTT triggers (app.trading.exits)
        return n

    # ------------------------------------------------------------------ modify / cancel

    def _order(self, order_id: str) -> Order:
        row = self.store.get_order(order_id)
        if row is None:
            raise ValidationError(f"unknown order_id {order_id!r}; pick one from the order book")
        return order_from_row(row)

    def modify_order(self, order_id: str, *, quantity, price, trigger_price, order_type=None, user: str,
                     now: datetime) -> ActionOutcome:
        user = acting_user(user)
        require_aware(now, "now")
        order = self._order(order_id)
        inst = self.instrument(order.intent.instrument_token)
        if order_type is not None and not isinstance(order_type, OrderType):
            try:
                order_type = OrderType(order_type)
            except ValueError:
                raise ValidationError(f"order_type must be one of {', '.join(OrderType)}, was {order_type!r}") from None
        intent = modified_intent(order, inst, quantity=quantity, order_type=order_type,
                                 price=None if price is None else money(price, "price"),
                                 trigger_price=None if trigger_price is None else money(trigger_price, "trigger_price"))
        decision, drow, ltp = self.gate(OrderChange(ChangeKind.MODIFY, intent, current=order), now,
                                        approval_id=None, stage="modify")
        trace = order.intent.trace_id
        if not decision.approved:
            self.store.add_audit(audit_row(trace, at=now, actor=user, action="modify_refused", price=ltp,
                                           order_id=order_id, reasons=drow["reasons"], messages=drow["messages"]))
            return outcome("modify", ok=False, order_id=order_id, trace_id=trace, reasons=drow["reasons"],
                           messages=drow["messages"], price=ltp)
        new = apply_modify(order, intent, now=now)
        ok = self.store.update_order(order_id, order_state(new),
                                     expect=dict(fill_count=order.fill_count, status=str(order.status)),
                                     audit=audit_row(trace, at=now, actor=user, action="modify", price=new.intent.price,
                                                     quantity=new.intent.quantity, ltp=ltp,
                                                     trigger_price=new.intent.trigger_price,
                                                     order_type=str(new.intent.order_type)))
        if not ok:
            return outcome("modify", ok=False, order_id=order_id, trace_id=trace, reasons=["ORDER_CHANGED"],
                           messages=["the order changed meanwhile (filled?); reload and retry"])
        return ActionOutcome(ok=True, action="modify", order_id=order_id, trace_id=trace, price=ltp)

    def cancel_order(self, order_id: str, *, user: str, now: datetime) -> ActionOutcome:
        user = acting_user(user)
        require_aware(now, "now")
        order = self._order(order_id)
        new = cancel_order(order, now=now, message=f"cancelled by {user}")
        ok = self.store.update_order(order_id, order_state(new),
                                     expect=dict(fill_count=order.fill_count, status=str(order.status)),
                                     audit=audit_row(order.intent.trace_id, at=now, actor=user, action="cancel"))
        if not ok:
            return outcome("cancel", ok=False, order_id=order_id, trace_id=order.intent.trace_id,
                           reasons=["ORDER_CHANGED"], messages=["the order changed meanwhile (filled?); reload and retry"])
        return ActionOutcome(ok=True, action="cancel", order_id=order_id, trace_id=order.intent.trace_id)
