"""Exits in backtests: the ``core.exits`` rules (the desk's, ``app.trading.exits``) run on the
backtester's own orders and fills.

* **The rule** (:class:`ExitRule`, ``BacktestConfig.exits``): every entry a strategy makes gets
  a stop ``stop_pct`` % and/or a target ``target_pct`` % away from its reference price (the
  bar's close the decision is taken on, the gatekeeper's LTP), rounded to the tick away from
  the price (a BUY's stop down, its target up; a SELL's the reverse), carried on the intent as
  ``stop_loss`` / ``target`` exactly as a desk proposal carries them; optional trailing
  (``core.exits.Trailing``: ₹, % or an ATR multiple given in ₹).
* **When the entry fills** (:meth:`BacktestExits.on_order`) the plan is judged against the
  average fill price as the desk does (``ExitPlan.check_against``: a gap through the stop
  refuses the exits, recorded in ``refusals``); MIS → an OCO group (``core.exits.oco``: SL-M
  stop with automatic market protection, LIMIT target, sized to the filled shares). Each
  exit fill runs ``on_exit_fill`` (one filled cancels the other, a partial fill resizes the
  other); an exit order refused or cancelled by the broker runs ``on_exit_closed``; every tick
  of a bar with a live group trails the stop (``core.exits.trail``, after the tick is matched,
  as the desk's match pass does); the MIS square-off cancels the exits first
  (``core.exits.cancel``). A bar none of whose ticks can reach the working exits (no trailing)
  is not expanded into ticks at all (:meth:`ExitDriver.quiet`; the same fills, tested).
* **CNC GTTs are not run in backtests**: a daily (CNC) strategy with ``exits`` is refused
  (``ValidationError``); the desk runs them (``core.exits.gtt``).

This module keeps the groups and turns the rules' actions into the backtester's broker calls
(``_Run.place`` through the gatekeeper as what they are, orders that only reduce a position;
``core.broker.modify`` / ``cancel``). A resize or a trailing move is judged by the order's own
validity (``broker.modify`` without a gatekeeper context; the desk's ``modify_order`` also runs
the gatekeeper, so a move its market rules refuse, e.g. out of the price band, differs: not
seen in the parity test). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from core import broker
from core import exits as ex
from core.errors import ValidationError
from core.orders import Order, OrderIntent, OrderStatus, OrderType, Side, Validity, price_from_float, round_to_tick

if TYPE_CHECKING:  # the engine imports this module
    from core.models import Tick

_HUNDRED = Decimal(100)
_SYSTEM_TAGS = ("SQUAREOFF", ex.EXIT_TAG)


def _pct(name: str, value: Decimal | None, high: Decimal) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError(f"{name} must be a Decimal percent, was {value!r:.40}")
    if not Decimal(0) < value < high:
        raise ValidationError(f"{name} must be a percent 0 < p < {high}, was {value}")


@dataclass(frozen=True, slots=True)
class ExitRule:
    """The exits a backtest attaches to every entry: ``stop_pct`` (0 < p < 100) and/or
    ``target_pct`` (0 < p < 1000) % of the entry's reference price; ``trailing`` as the desk's
    (needs a stop). Bad values raise ``ValidationError`` (the run does not start)."""

    stop_pct: Decimal | None = None
    target_pct: Decimal | None = None
    trailing: ex.Trailing | None = None

    def __post_init__(self) -> None:
        if self.stop_pct is None and self.target_pct is None:
            raise ValidationError("an exit rule needs stop_pct, target_pct or both (percent of the entry price)")
        _pct("stop_pct", self.stop_pct, _HUNDRED)
        _pct("target_pct", self.target_pct, Decimal(1000))
        if self.trailing is not None:
            if not isinstance(self.trailing, ex.Trailing):
                raise ValidationError("trailing must be a core.exits.Trailing")
            if self.stop_pct is None:
                raise ValidationError("a trailing stop needs stop_pct to start from")

    def levels(self, side: Side, ref: Decimal, tick: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """``(stop, target)`` ₹ for an entry on ``side`` at ``ref`` ₹, tick ``tick`` ₹: each at
        least one tick away from ``ref``, rounded away from it. Raises ``ValidationError`` for a
        stop that would be at or below zero."""
        buy = side is Side.BUY
        stop = target = None
        if self.stop_pct is not None:
            raw = ref * (1 - self.stop_pct / _HUNDRED) if buy else ref * (1 + self.stop_pct / _HUNDRED)
            stop = round_to_tick(raw, tick, up=not buy)
            if stop == ref:
                stop = ref - tick if buy else ref + tick
            if stop <= 0:
                raise ValidationError(f"stop_pct {self.stop_pct} puts the stop of an entry at {ref} at or below ₹0")
        if self.target_pct is not None:
            raw = ref * (1 + self.target_pct / _HUNDRED) if buy else ref * (1 - self.target_pct / _HUNDRED)
            target = round_to_tick(raw, tick, up=buy)
            if target == ref:
                target = ref + tick if buy else ref - tick
            if target <= 0:
                raise ValidationError(f"target_pct {self.target_pct} puts the target of a short at {ref} at ₹0")
        return stop, target

    def attach(self, intent: OrderIntent, ref: Decimal, tick: Decimal) -> OrderIntent:
        """``intent`` with this rule's ``stop_loss`` / ``target`` from ``ref`` ₹ (see :meth:`levels`)."""
        stop, target = self.levels(intent.side, ref, tick)
        return replace(intent, stop_loss=stop, target=target)

    def plan_of(self, intent: OrderIntent) -> ex.ExitPlan | None:
        """The exit plan of an entry (the desk's ``app.trading.exits.plan_of``: its ``stop_loss`` as
        an SL-M with the entry's market protection, its ``target`` as a LIMIT) plus this rule's
        trailing; ``None`` for the desk's own orders or an intent without levels."""
        if intent.tag in _SYSTEM_TAGS or (intent.stop_loss is None and intent.target is None):
            return None
        return ex.ExitPlan(intent.side, stop=intent.stop_loss, target=intent.target,
                           market_protection=intent.market_protection,
                           trailing=self.trailing if intent.stop_loss is not None else None)


@dataclass
class BacktestExits:
    """The live OCO groups of a run, one per instrument (a strategy does not act while its
    symbol has open orders, so a symbol has at most one group). ``refusals``: exits not placed
    (``at, tradingsymbol, reason``); ``groups_made``: groups created in the run."""

    rule: ExitRule
    groups: dict[int, ex.ExitGroup] = field(default_factory=dict)  # instrument_token → its live group
    legs: dict[str, tuple[int, str]] = field(default_factory=dict)  # order id → (token, leg key)
    orders: dict[str, str] = field(default_factory=dict)  # leg key → order id
    refusals: list[dict] = field(default_factory=list)
    groups_made: int = 0

    def live(self, token: int) -> bool:
        group = self.groups.get(token)
        return group is not None and group.status.is_live

    # ------------------------------------------------------------------ events → rules

    def on_order(self, order: Order, tick_size: Decimal, at: datetime) -> list[ex.Action]:
        """The order ``order`` (as it stands after a fill, a cancel or a rejection) → the rules'
        actions. An entry's first fill creates its group (judged against the average fill
        price ``ExitPlan.check_against`` with ``tick_size`` ₹)."""
        leg = self.legs.get(order.order_id)
        if leg is not None:
            token, key = leg
            group = self.groups.get(token)
            if group is None:
                return []
            if order.filled_quantity:
                group, actions = ex.on_exit_fill(group, key, order.filled_quantity)
            else:
                actions = []
            if not order.is_open:
                group, more = ex.on_exit_closed(group, key, order.status_message if order.status is not
                                                OrderStatus.COMPLETE else "")
                actions += more
                self.legs.pop(order.order_id, None)
            return self._store(token, group, actions)
        if not order.filled_quantity:
            return []
        plan = self.rule.plan_of(order.intent)
        if plan is None:
            return []
        token = order.intent.instrument_token
        group = self.groups.get(token)
        if group is None or group.group_id != _group_id(order.order_id):
            if group is not None and group.status.is_live:
                return []  # cannot happen: no entry while exits are working
            assert order.average_price is not None
            try:
                plan.check_against(order.average_price, tick_size)
            except ValidationError as exc:
                self.refusals.append(dict(at=at, tradingsymbol=order.intent.tradingsymbol, reason=str(exc)))
                self.groups.pop(token, None)
                return []
            i = order.intent
            group = ex.new_group(_group_id(order.order_id), plan, instrument_token=token,
                                 tradingsymbol=i.tradingsymbol, product=i.product, tick_size=tick_size,
                                 trace_id=i.trace_id)
            self.groups_made += 1
        assert order.average_price is not None
        group, actions = ex.on_entry_fill(group, order.filled_quantity, order.average_price)
        return self._store(token, group, actions)

    def trail(self, token: int, ltp: Decimal) -> list[ex.Action]:
        group = self.groups.get(token)
        if group is None or group.plan.trailing is None:
            return []
        group, actions = ex.trail(group, ltp)
        return self._store(token, group, actions)

    def cancel(self, token: int, reason: str) -> list[ex.Action]:
        group = self.groups.get(token)
        if group is None:
            return []
        group, actions = ex.cancel(group, reason)
        return self._store(token, group, actions)

    def placed(self, token: int, key: str, order_id: str) -> None:
        self.legs[order_id] = (token, key)
        self.orders[key] = order_id

    def refused(self, token: int, key: str, message: str, at: datetime) -> list[ex.Action]:
        group = self.groups.get(token)
        if group is None:
            return []
        self.refusals.append(dict(at=at, tradingsymbol=group.tradingsymbol, reason=message))
        group, actions = ex.on_exit_closed(group, key, f"refused: {message}")
        return self._store(token, group, actions)

    def _store(self, token: int, group: ex.ExitGroup, actions: list[ex.Action]) -> list[ex.Action]:
        self.groups[token] = group
        return actions


def _group_id(entry_order_id: str) -> str:
    """``X<entry order id>`` (as the desk's ``group_id_for``)."""
    return "X" + entry_order_id


class ExitDriver:
    """Carries out the rules' actions on a backtest run (``core.backtest.engine._Run``): places
    exit orders through ``run.place`` (the gatekeeper), modifies and cancels them in
    ``run.book``; reports every change back to :class:`BacktestExits`. An exit placed on a tick
    is matched on that same tick (the desk matches a new order against the latest tick)."""

    def __init__(self, run, exits: BacktestExits) -> None:
        self.run = run
        self.exits = exits

    def after_events(self, sym, i: int, events, tick: Tick | None, now: datetime) -> None:
        """React to one tick's broker events of ``sym`` (bar ``i``), then trail on ``tick``."""
        for ev in events:
            order = getattr(ev, "order", None)
            if order is None or order.intent.instrument_token != sym.token:
                continue
            if isinstance(ev, broker.OrderTriggered):
                continue
            self.carry_out(sym, i, self.exits.on_order(order, sym.inst_at(i).tick_size, now), tick, now)
        if tick is not None and self.exits.live(sym.token):
            self.carry_out(sym, i, self.exits.trail(sym.token, _ltp(tick)), tick, now)

    def quiet(self, sym, i: int) -> bool:
        """True when no tick of bar ``i`` can change ``sym``'s open orders, so the bar needs no
        ticks: every open order is a working exit of a group without trailing, DAY, not queued
        for the open, and out of the bar's range by the fill rules (``core.broker.matching``: a
        SELL stop triggers at LTP <= trigger, a BUY stop at LTP >= trigger; a LIMIT SELL fills at a
        bid >= its price, a BUY at an ask <= it, and bid <= LTP <= ask), every tick's LTP lying
        within the bar's low..high (``core.tickpath``)."""
        group = self.exits.groups.get(sym.token)
        if group is None or group.plan.trailing is not None or group.status is not ex.GroupStatus.ACTIVE:
            return False
        low, high = price_from_float(float(sym.lo[i])), price_from_float(float(sym.h[i]))
        for order in self.run.book.open_orders(sym.token):
            intent = order.intent
            if order.order_id not in self.exits.legs or order.queued_for_open or intent.validity is not Validity.DAY:
                return False
            sell = intent.side is Side.SELL
            if order.status is OrderStatus.TRIGGER_PENDING:
                if (low <= intent.trigger_price) if sell else (high >= intent.trigger_price):
                    return False
            elif intent.order_type is OrderType.LIMIT and order.status is OrderStatus.OPEN:
                if (high >= intent.price) if sell else (low <= intent.price):
                    return False
            else:
                return False
        return True

    def cancel(self, sym, i: int, reason: str, now: datetime) -> None:
        """Cancel ``sym``'s exits (the MIS square-off does this first)."""
        self.carry_out(sym, i, self.exits.cancel(sym.token, reason), None, now)

    def carry_out(self, sym, i: int, actions: list[ex.Action], tick: Tick | None, now: datetime) -> None:
        run = self.run
        for action in actions:
            if isinstance(action, ex.Place):
                ltp = _ltp(tick)
                if run.place(sym, i, action.intent, now, f"{action.leg.lower()} exit", ltp=ltp):
                    order_id = run.last_order_id
                    self.exits.placed(sym.token, action.key, order_id)
                    if tick is not None:  # matched on this tick, as the desk does
                        self.match_new(sym, i, order_id, tick, now)
                else:
                    self.carry_out(sym, i, self.exits.refused(sym.token, action.key, run.last_refusal, now),
                                   tick, now)
                continue
            order_id = self.exits.orders.get(action.key)
            if order_id is None or order_id not in run.book.orders or not run.book.get(order_id).is_open:
                continue
            if isinstance(action, ex.Cancel):
                run.book, _ = broker.cancel(run.book, order_id, now=now, message=action.reason)
                self.exits.legs.pop(order_id, None)
            elif isinstance(action, ex.Resize):
                self._modify(sym, i, order_id, now, quantity=action.quantity)
            else:
                self._modify(sym, i, order_id, now, price=action.price, trigger_price=action.trigger_price)

    def _modify(self, sym, i: int, order_id: str, now: datetime, **change) -> None:
        run = self.run
        run.book, events = broker.modify(run.book, order_id, sym.inst_at(i), now=now, **change)
        if events and isinstance(events[0], broker.OrderRejected):
            self.exits.refusals.append(dict(at=now, tradingsymbol=sym.symbol, reason="; ".join(events[0].messages)))

    def match_new(self, sym, i: int, order_id: str, tick: Tick, now: datetime) -> None:
        run = self.run
        one = broker.BrokerState().with_order(run.book.get(order_id))
        one, events = broker.process_tick(one, tick, now=now, phase=run.phase(now), circuit=run.circuit(sym, i),
                                          config=run.bcfg)
        if not events:
            return
        run.book = run.book.with_order(one.get(order_id))
        for ev in events:
            if isinstance(ev, broker.OrderFilled):
                run.book_fill(ev.fill)
        self.after_events(sym, i, events, None, now)


def _ltp(tick: Tick | None) -> Decimal | None:
    return None if tick is None else price_from_float(tick.last_price)


__all__ = ["BacktestExits", "ExitDriver", "ExitRule"]
