"""The paper broker: a pure order book, ``(state, input) -> (new_state, events)``.

``submit``, ``modify``, ``cancel``, ``process_tick`` and ``cancel_all`` never mutate
``state``; they return a new :class:`BrokerState` and a tuple of events
(``core.broker.events``). The fill rules are in ``core.broker.matching``. The paper exchange
admits an order with the market's rules of the one gatekeeper (``core.gatekeeper.check``
without the account): bad input raises ``ValidationError``; a refusal is an ``OrderRejected``
event with the book unchanged; a duplicate is a ``NoOp`` event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from decimal import Decimal

from core.broker import matching
from core.broker.events import (
    BrokerEvent,
    Fill,
    NoOp,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderTriggered,
    fill_id_for,
)
from core.charges import NSE_EQUITY_SCHEDULES, ChargeSchedule, equity_charges, schedule_for
from core.errors import ValidationError
from core.models import Instrument, Tick
from core.gatekeeper import ChangeKind, Exemption, GateContext, OrderChange, check
from core.orders import (
    CircuitBand,
    FrozenMap,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Validity,
    apply_modify,
    cancel_order,
    initial_status,
    modified_intent,
    price_from_float,
    tick_size_for,
)
from core.sessions import MIS_SQUARE_OFF, SessionPhase
from core.timeutil import require_aware, to_ist


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Paper-broker settings.

    ``slippage_bps``: basis points against the trader when filling at the LTP (no depth);
    ``partial_fills``: limit fills to the best level's quantity (a protected MARKET/SL-M takes
    every level up to its protection price); ``include_ipft``: add NSE IPFT to charges (on by
    default, as Zerodha passes it on: ``core.charges``); ``schedules``: the dated charge table.
    """

    slippage_bps: Decimal = Decimal(0)
    partial_fills: bool = False
    include_ipft: bool = True
    schedules: tuple[ChargeSchedule, ...] = NSE_EQUITY_SCHEDULES

    def __post_init__(self) -> None:
        if not isinstance(self.slippage_bps, Decimal) or self.slippage_bps < 0:
            raise ValidationError(f"slippage_bps must be a Decimal >= 0, was {self.slippage_bps!r}")


def _freeze(orders: Mapping[str, Order]) -> Mapping[str, Order]:
    return FrozenMap(orders)


@dataclass(frozen=True, slots=True)
class BrokerState:
    """The order book: every accepted order by ``order_id`` (open and closed)."""

    orders: Mapping[str, Order] = field(default_factory=lambda: _freeze({}))

    def open_orders(self, instrument_token: int | None = None) -> tuple[Order, ...]:
        if not self.orders:
            return ()
        return tuple([
            o
            for o in self.orders.values()
            if o.status.is_open and (instrument_token is None or o.intent.instrument_token == instrument_token)
        ])

    def get(self, order_id: str) -> Order:
        """The order ``order_id``. Raises ``ValidationError`` if unknown."""
        try:
            return self.orders[order_id]
        except KeyError:
            raise ValidationError(f"unknown order_id {order_id!r}") from None

    def with_order(self, order: Order) -> BrokerState:
        return BrokerState(_freeze({**self.orders, order.order_id: order}))


Result = tuple[BrokerState, tuple[BrokerEvent, ...]]


def submit(
    state: BrokerState,
    intent: OrderIntent,
    instrument: Instrument,
    *,
    order_id: str,
    now: datetime,
    phase: SessionPhase,
    circuit: CircuitBand | None = None,
    holding_quantity: int = 0,
    position_quantity: int = 0,
    square_off_cutoff: time = MIS_SQUARE_OFF,
    ltp: Decimal | None = None,
    exempt: Exemption | None = None,
) -> Result:
    """Place ``intent`` as order ``order_id`` (caller-chosen, e.g. derived from the trace id).

    Returns ``OrderAccepted``; or ``OrderRejected`` with the book unchanged (the market's
    reason codes of ``core.gatekeeper.check``: session, MIS cut-off, circuit, stop through
    ``ltp``, holdings); or ``NoOp`` if ``order_id`` is already in the book. ``exempt`` marks the
    desk's own exits (MIS square-off, kill-switch flatten), which the gatekeeper waves through.
    A MARKET order placed in the normal session with ``ltp`` on/after 2026-04-01 carries its
    protection price (``core.broker.matching`` rule 11); without ``ltp`` it is set on the first
    tick.

    Raises ``ValidationError`` for bad input (``core.orders.validate_intent``), an empty
    ``order_id`` or a naive ``now``.
    """
    if not order_id:
        raise ValidationError("order_id is required")
    require_aware(now, "now")
    if order_id in state.orders:
        return state, (NoOp(f"order {order_id} already exists; submit ignored", intent),)
    decision = check(
        OrderChange(ChangeKind.PLACE, intent, exempt=exempt),
        GateContext(instrument, now, phase, ltp=ltp, circuit=circuit, holding_quantity=holding_quantity,
                    position_quantity=position_quantity, square_off_cutoff=square_off_cutoff),
    )
    order = Order(
        order_id=order_id,
        intent=intent,
        status=initial_status(intent.order_type),
        placed_at=now,
        updated_at=now,
        tick_size=tick_size_for(instrument, to_ist(now).date()),  # the date's NSE tick regime
        queued_for_open=decision.queued_for_open,
    )
    if ltp is not None and phase is SessionPhase.NORMAL and intent.order_type is OrderType.MARKET:
        # the gatekeeper's price (automatic protection held inside the band), else rule 11 at the LTP
        order = replace(order, protection_price=decision.protection_price if decision.protection_price is not None
                        else matching.protect(order, ltp, to_ist(now).date()))
    if not decision.approved:
        rejected = replace(order, status=OrderStatus.REJECTED, status_message="; ".join(decision.messages))
        return state, (OrderRejected(rejected, decision.reasons, decision.messages),)
    return state.with_order(order), (OrderAccepted(order),)


def modify(
    state: BrokerState,
    order_id: str,
    instrument: Instrument,
    *,
    now: datetime,
    quantity: int | None = None,
    price: Decimal | None = None,
    trigger_price: Decimal | None = None,
    order_type: OrderType | None = None,
    context: GateContext | None = None,
) -> Result:
    """Modify an open order, judged as the order it would become.

    With ``context`` the new order passes ``core.gatekeeper.check`` (``ChangeKind.MODIFY``):
    a refusal is ``OrderRejected`` (reasons and messages) with the book and the open order
    unchanged. Without it only the order's own validity is checked (``modified_intent``).
    Raises ``ValidationError`` if the order is unknown or not open, or the change is invalid.
    """
    current = state.get(order_id)
    intent = modified_intent(current, instrument, quantity=quantity, price=price,
                             trigger_price=trigger_price, order_type=order_type)
    if context is not None:
        decision = check(OrderChange(ChangeKind.MODIFY, intent, current=current), context)
        if not decision.approved:
            return state, (OrderRejected(current, decision.reasons, decision.messages),)
    order = apply_modify(current, intent, now=now)
    return state.with_order(order), (OrderModified(order),)


def cancel(state: BrokerState, order_id: str, *, now: datetime, message: str = "cancelled by user") -> Result:
    """Cancel an open order. Raises ``ValidationError`` if it is unknown or not open."""
    order = cancel_order(state.get(order_id), now=now, message=message)
    return state.with_order(order), (OrderCancelled(order),)


def cancel_all(state: BrokerState, *, now: datetime, message: str = "day ended") -> Result:
    """Cancel every open order (end of day, kill switch). ``NoOp`` when none is open."""
    events: list[BrokerEvent] = []
    for order in state.open_orders():
        state, evs = cancel(state, order.order_id, now=now, message=message)
        events.extend(evs)
    return state, tuple(events) or (NoOp("no open orders to cancel"),)


def process_tick(
    state: BrokerState,
    tick: Tick,
    *,
    now: datetime,
    phase: SessionPhase = SessionPhase.NORMAL,
    circuit: CircuitBand | None = None,
    config: BrokerConfig = BrokerConfig(),
    closing_price: Decimal | None = None,
) -> Result:
    """Match every open order of ``tick.instrument_token`` against ``tick`` (rules in
    ``core.broker.matching``). ``now`` (tz-aware) is the tick's time: orders placed after
    ``now`` are skipped, and fills are stamped and charged at ``now``'s IST date.

    Returns the new book and the ``OrderTriggered`` / ``OrderFilled`` / ``OrderCancelled``
    events in order-id order; no events when nothing happened.

    In ``SessionPhase.POST_CLOSE`` only MARKET orders placed post-close fill, whole, at
    ``closing_price`` (₹, the day's official close when the caller knows it; else the tick's
    LTP, which after the close stands at the last trade): NSE post-close, rule 12.
    """
    require_aware(now, "now")
    if not tick.tradable:
        return state, ()
    if phase is SessionPhase.POST_CLOSE:
        close = closing_price if closing_price is not None else price_from_float(tick.last_price)
        return _post_close(state, tick.instrument_token, now, close, config)
    if phase is not SessionPhase.NORMAL:
        return state, ()
    waiting = state.open_orders(tick.instrument_token)
    if not waiting:
        return state, ()
    events: list[BrokerEvent] = []
    for order in sorted(waiting, key=_order_id) if len(waiting) > 1 else waiting:
        if order.placed_at > now:
            continue
        order, evs = _match(order, tick, now, circuit, config)
        state = state.with_order(order)
        events.extend(evs)
    return state, tuple(events)


def _order_id(order: Order) -> str:
    return order.order_id


def _post_close(state: BrokerState, token: int, now: datetime, close: Decimal, config: BrokerConfig) -> Result:
    events: list[BrokerEvent] = []
    for order in sorted(state.open_orders(token), key=lambda o: o.order_id):
        if order.placed_at > now or not matching.placed_post_close(order):
            continue
        order, fill = _fill(order, order.pending_quantity, close, now, config)
        state = state.with_order(order)
        events.append(OrderFilled(order, fill))
    return state, tuple(events)


def _match(
    order: Order, tick: Tick, now: datetime, circuit: CircuitBand | None, config: BrokerConfig
) -> tuple[Order, Sequence[BrokerEvent]]:
    events: list[BrokerEvent] = []
    if order.queued_for_open:
        price = matching.open_auction_fill(order, tick)
        order = replace(order, queued_for_open=False, updated_at=now)
        if price is not None and matching.within_circuit(price, circuit):
            order, fill = _fill(order, order.pending_quantity, price, now, config)
            events.append(OrderFilled(order, fill))
        return _ioc(order, now, events)

    intent = order.intent
    if order.status is OrderStatus.TRIGGER_PENDING:
        if not matching.stop_triggered(order, price_from_float(tick.last_price)):
            return _ioc(order, now, events)
        order = replace(order, status=OrderStatus.OPEN, updated_at=now)
        events.append(OrderTriggered(order))

    if intent.is_market and order.protection_price is None:
        protection = matching.protect(order, price_from_float(tick.last_price), to_ist(now).date())
        if protection is not None:  # None before 2026-04-01: the order stays as it is
            order = replace(order, protection_price=protection)
    quote = matching.quote_for(intent.side, tick, order.tick_size, config.slippage_bps)
    fill_at = _fill_at(order, tick, quote, config)
    if fill_at is not None and fill_at[1] > 0 and matching.within_circuit(fill_at[0], circuit):
        order, fill = _fill(order, fill_at[1], fill_at[0], now, config)
        events.append(OrderFilled(order, fill))
    return _ioc(order, now, events)


def _fill_at(order: Order, tick: Tick, quote: matching.Quote, config: BrokerConfig) -> tuple[Decimal, int] | None:
    """``(price, shares)`` for an open (triggered) order on ``tick``, or ``None`` (rules 2–3, 5, 7, 11)."""
    if order.intent.is_market:
        if order.protection_price is not None:
            return matching.protected_fill(order, tick, quote, order.protection_price, config.partial_fills)
        price: Decimal | None = quote.price
    else:
        price = matching.limit_price_fill(order, tick, quote)
    if price is None:
        return None
    return price, matching.fill_quantity(order, quote, config.partial_fills)


def _ioc(order: Order, now: datetime, events: list[BrokerEvent]) -> tuple[Order, Sequence[BrokerEvent]]:
    if order.intent.validity is Validity.IOC and order.is_open:
        order = cancel_order(order, now=now, message="IOC: unfilled remainder cancelled")
        events.append(OrderCancelled(order))
    return order, events


def _fill(order: Order, qty: int, price: Decimal, now: datetime, config: BrokerConfig) -> tuple[Order, Fill]:
    intent = order.intent
    schedule = schedule_for(to_ist(now).date(), config.schedules)
    charges = equity_charges(
        intent.side,
        intent.product,
        qty,
        price,
        schedule,
        include_ipft=config.include_ipft,
        prior_order_turnover=order.filled_turnover,
    )
    seq = order.fill_count + 1
    fill = Fill(
        fill_id=fill_id_for(order.order_id, seq),
        order_id=order.order_id,
        seq=seq,
        instrument_token=intent.instrument_token,
        tradingsymbol=intent.tradingsymbol,
        side=intent.side,
        product=intent.product,
        quantity=qty,
        price=price,
        charges=charges,
        filled_at=now,
        trace_id=intent.trace_id,
        tag=intent.tag,
    )
    filled = order.filled_quantity + qty
    # every field named (a hot path: faster than dataclasses.replace; tests/core/test_hot_constructors.py
    # fails when Order gains a field this does not carry)
    order = Order(
        order_id=order.order_id,
        intent=intent,
        status=OrderStatus.COMPLETE if filled == intent.quantity else OrderStatus.OPEN,
        placed_at=order.placed_at,
        updated_at=now,
        tick_size=order.tick_size,
        filled_quantity=filled,
        filled_turnover=order.filled_turnover + price * qty,
        fill_count=seq,
        queued_for_open=order.queued_for_open,
        status_message=order.status_message,
        protection_price=order.protection_price,
    )
    return order, fill
