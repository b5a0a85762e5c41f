"""The OCO group: an entry's stop and target as one-cancels-the-other exit orders (MIS).

``(group, event) -> (group, actions)``: pure transitions; the caller (the desk, a backtest)
carries out the returned actions through its one gatekeeper and reports back. Rules:

1. **Entry fill** (``on_entry_fill``): the first fill of the entry places both exits, each sized
   to the filled quantity; a later fill of the same entry resizes the open exits to the position
   the group now protects.
2. **One exit fills** (``on_exit_fill``): whole, the other exit is cancelled and the group is
   ``DONE``; partly, the other is resized to the remaining position (its filled shares plus what
   is still open), so the two never close more than the entry opened.
3. **An exit order ends unfilled** (cancelled or rejected elsewhere, ``on_exit_closed``): the leg
   is dropped; the group is ``DONE`` when no leg is left and nothing was exited, else it goes on
   with the leg that remains.
4. **Cancel** (``cancel``: the MIS square-off cancels a position's exits before it flattens it; the
   kill switch; the trader): every open exit is cancelled and the group is ``CANCELLED``.
5. **Trailing** (``trail``): the stop follows the best LTP since the entry at the plan's distance,
   rounded to the tick away from the price (BUY's stop down, SELL's up), and **only moves in the
   trader's favour** (up for a long, down for a short); an SL's limit moves by the same amount.
6. **Move** (``move``): the trader sets a new stop trigger or target; the stop stays below the LTP
   and the target above it for a long (the reverse for a short), and the stop below the target.
7. **Closed elsewhere** (``on_position``): another order (a manual SELL, an approved proposal, the
   API) left the position holding fewer shares than the exits cover: the shares it closed are
   counted (``closed_elsewhere``) and the working exits are resized to what remains; when nothing
   remains they are cancelled and the group is ``CANCELLED``, so they can never open a reverse
   position. A later fill of the same entry does not re-open a ``CANCELLED`` group.

Each leg has one order for its life (resized and moved by modify), keyed ``"{group_id}-S"`` /
``"{group_id}-T"``; the caller maps a key to its order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from core.errors import ValidationError
from core.exits.plan import ExitPlan
from core.orders import OrderIntent, OrderType, Product, Side, is_tick_multiple, round_to_tick

#: The ``tag`` of exit orders the desk places for an exit group (Kite tags are <= 20 characters).
EXIT_TAG = "EXIT"


class LegKind(StrEnum):
    STOP = "STOP"
    TARGET = "TARGET"


class GroupStatus(StrEnum):
    PENDING = "PENDING"  # the entry has not filled yet
    ACTIVE = "ACTIVE"  # exits are working
    DONE = "DONE"  # the position the group protected is closed by its exits
    CANCELLED = "CANCELLED"  # cancelled (square-off, kill switch, the trader)

    @property
    def is_live(self) -> bool:
        return self in (GroupStatus.PENDING, GroupStatus.ACTIVE)


@dataclass(frozen=True, slots=True)
class Leg:
    """One exit order: ``key`` names it (``None`` when not placed or gone), ``quantity`` its
    order quantity and ``filled`` the shares it has filled (both shares)."""

    kind: LegKind
    key: str | None = None
    quantity: int = 0
    filled: int = 0

    @property
    def pending(self) -> int:
        return self.quantity - self.filled if self.key is not None else 0


@dataclass(frozen=True, slots=True)
class Place:
    leg: LegKind
    key: str
    intent: OrderIntent


@dataclass(frozen=True, slots=True)
class Resize:
    """Modify the leg's order to ``quantity`` shares in all (its filled shares included)."""

    leg: LegKind
    key: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Move:
    """Modify the leg's order to ``trigger_price`` / ``price`` (₹; ``None``: unchanged)."""

    leg: LegKind
    key: str
    trigger_price: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    leg: LegKind
    key: str
    reason: str


Action = Place | Resize | Move | Cancel


@dataclass(frozen=True, slots=True)
class ExitGroup:
    """The exits of one entry. ``entry_filled`` shares of the entry have filled; ``stop_trigger``
    / ``stop_limit`` / ``target`` are the working prices (₹; they start at the plan's and move);
    ``best`` ₹ the best LTP seen since the entry (for trailing); ``tick_size`` ₹."""

    group_id: str
    plan: ExitPlan
    instrument_token: int
    tradingsymbol: str
    product: Product
    tick_size: Decimal
    trace_id: str = ""
    status: GroupStatus = GroupStatus.PENDING
    entry_filled: int = 0
    stop_trigger: Decimal | None = None
    stop_limit: Decimal | None = None
    target: Decimal | None = None
    best: Decimal | None = None
    stop: Leg = Leg(LegKind.STOP)
    take: Leg = Leg(LegKind.TARGET)
    message: str = ""
    closed_elsewhere: int = 0

    @property
    def exited(self) -> int:
        """Shares the exits have closed."""
        return self.stop.filled + self.take.filled

    @property
    def open_quantity(self) -> int:
        """Shares of the entry still open (what the exits protect): filled, less what the exits and
        other orders (``closed_elsewhere``, rule 7) have closed."""
        return max(0, self.entry_filled - self.exited - self.closed_elsewhere)

    def leg(self, kind: LegKind) -> Leg:
        return self.stop if kind is LegKind.STOP else self.take

    def leg_of(self, key: str) -> LegKind | None:
        for leg in (self.stop, self.take):
            if leg.key == key:
                return leg.kind
        return None

    def _with(self, leg: Leg, **changes) -> ExitGroup:
        return replace(self, **({"stop": leg} if leg.kind is LegKind.STOP else {"take": leg}), **changes)


def new_group(group_id: str, plan: ExitPlan, *, instrument_token: int, tradingsymbol: str, product: Product,
              tick_size: Decimal, trace_id: str = "") -> ExitGroup:
    """A ``PENDING`` group for an entry not yet filled. Raises ``ValidationError`` for a CNC
    product (CNC exits are GTTs, ``core.exits.gtt``) or prices off ``tick_size``."""
    if product is not Product.MIS:
        raise ValidationError(f"an OCO exit group is for MIS positions; a {product} position's exits are a GTT")
    for name in ("stop", "target", "stop_limit"):
        value = getattr(plan, name)
        if value is not None and not is_tick_multiple(value, tick_size):
            raise ValidationError(f"{name} {value} is not a multiple of the tick size {tick_size}")
    return ExitGroup(group_id, plan, instrument_token, tradingsymbol, product, tick_size, trace_id,
                     stop_trigger=plan.stop, stop_limit=plan.stop_limit, target=plan.target)


def leg_key(group_id: str, kind: LegKind) -> str:
    return f"{group_id}-{'S' if kind is LegKind.STOP else 'T'}"


def exit_intent(group: ExitGroup, kind: LegKind, quantity: int) -> OrderIntent:
    """The order of leg ``kind`` for ``quantity`` shares: the stop an SL/SL-M at the working
    trigger, the target a LIMIT at the working target; tagged ``EXIT``, on the group's trace."""
    plan = group.plan
    common = dict(tag=EXIT_TAG, trace_id=group.trace_id)
    if kind is LegKind.STOP:
        if plan.stop_type is OrderType.SL:
            return OrderIntent(group.instrument_token, group.tradingsymbol, plan.exit_side, quantity, group.product,
                               OrderType.SL, price=group.stop_limit, trigger_price=group.stop_trigger, **common)
        return OrderIntent(group.instrument_token, group.tradingsymbol, plan.exit_side, quantity, group.product,
                           OrderType.SL_M, trigger_price=group.stop_trigger,
                           market_protection=plan.market_protection, **common)
    return OrderIntent(group.instrument_token, group.tradingsymbol, plan.exit_side, quantity, group.product,
                       OrderType.LIMIT, price=group.target, **common)


def _sync(group: ExitGroup) -> tuple[ExitGroup, list[Action]]:
    """Make every working leg's pending quantity equal the open position; place missing legs."""
    actions: list[Action] = []
    open_qty = group.open_quantity
    for kind, price in ((LegKind.STOP, group.stop_trigger), (LegKind.TARGET, group.target)):
        if price is None:
            continue
        leg = group.leg(kind)
        if leg.key is None:
            if open_qty > 0 and leg.filled == 0 and leg.quantity == 0:  # never placed
                key = leg_key(group.group_id, kind)
                group = group._with(replace(leg, key=key, quantity=open_qty))
                actions.append(Place(kind, key, exit_intent(group, kind, open_qty)))
            continue
        if open_qty == 0:
            if leg.pending > 0:
                actions.append(Cancel(kind, leg.key, "the position is closed (one-cancels-other)"))
            group = group._with(replace(leg, key=None))
        elif leg.pending != open_qty:
            quantity = leg.filled + open_qty
            group = group._with(replace(leg, quantity=quantity))
            actions.append(Resize(kind, leg.key, quantity))
    if group.entry_filled > 0 and open_qty == 0 and group.exited > 0:
        group = replace(group, status=GroupStatus.DONE)
    return group, actions


def on_entry_fill(group: ExitGroup, filled: int, price: Decimal) -> tuple[ExitGroup, list[Action]]:
    """Rule 1: the entry has filled ``filled`` shares in all (average ``price`` ₹)."""
    if not group.status.is_live or filled <= group.entry_filled:
        return group, []
    best = price if group.best is None else group.best
    group = replace(group, entry_filled=filled, status=GroupStatus.ACTIVE, best=best)
    return _sync(group)


def on_exit_fill(group: ExitGroup, key: str, filled: int) -> tuple[ExitGroup, list[Action]]:
    """Rule 2: the exit order ``key`` has filled ``filled`` shares in all."""
    kind = group.leg_of(key)
    if kind is None or group.status is not GroupStatus.ACTIVE:
        return group, []
    leg = group.leg(kind)
    if filled <= leg.filled:
        return group, []
    group = group._with(replace(leg, filled=min(filled, leg.quantity)))
    return _sync(group)


def on_exit_closed(group: ExitGroup, key: str, message: str = "") -> tuple[ExitGroup, list[Action]]:
    """Rule 3: the exit order ``key`` ended (cancelled, rejected, refused) with what it filled."""
    kind = group.leg_of(key)
    if kind is None:
        return group, []
    leg = group.leg(kind)
    group = group._with(replace(leg, key=None), message=message or group.message)
    if group.stop.key is None and group.take.key is None and group.status is GroupStatus.ACTIVE:
        group = replace(group, status=GroupStatus.DONE if group.open_quantity == 0 else GroupStatus.CANCELLED)
    return group, []


def cancel(group: ExitGroup, reason: str) -> tuple[ExitGroup, list[Action]]:
    """Rule 4: cancel every open exit; the group is ``CANCELLED`` (a no-op once it is over)."""
    if not group.status.is_live:
        return group, []
    actions: list[Action] = [Cancel(leg.kind, leg.key, reason) for leg in (group.stop, group.take)
                             if leg.key is not None and leg.pending > 0]
    group = replace(group, status=GroupStatus.CANCELLED, message=reason,
                    stop=replace(group.stop, key=None), take=replace(group.take, key=None))
    return group, actions


def on_position(group: ExitGroup, held: int) -> tuple[ExitGroup, list[Action]]:
    """Rule 7: the position now holds ``held`` shares on the entry's side (shares; 0 or less when
    flat or reversed) for this group after the other groups of the position took theirs. A no-op
    unless the group is ``ACTIVE`` and ``held`` is below its ``open_quantity``."""
    if group.status is not GroupStatus.ACTIVE or held >= group.open_quantity:
        return group, []
    closed = group.open_quantity - max(0, held)
    group = replace(group, closed_elsewhere=group.closed_elsewhere + closed)
    reason = "the position was closed by another order"
    return cancel(group, reason) if group.open_quantity == 0 else _sync(group)


def trail(group: ExitGroup, ltp: Decimal) -> tuple[ExitGroup, list[Action]]:
    """Rule 5: follow ``ltp`` (₹) with the stop. No-op without trailing, a working stop or a
    better price."""
    trailing = group.plan.trailing
    if trailing is None or group.status is not GroupStatus.ACTIVE or group.stop_trigger is None:
        return group, []
    long = group.plan.side is Side.BUY
    best = ltp if group.best is None else (max(group.best, ltp) if long else min(group.best, ltp))
    group = replace(group, best=best)
    distance = trailing.distance(best)
    candidate = round_to_tick(best - distance if long else best + distance, group.tick_size, up=not long)
    better = candidate > group.stop_trigger if long else candidate < group.stop_trigger
    if not better or candidate <= 0:
        return group, []
    delta = candidate - group.stop_trigger
    limit = group.stop_limit + delta if group.stop_limit is not None else None
    group = replace(group, stop_trigger=candidate, stop_limit=limit)
    leg = group.stop
    if leg.key is None or leg.pending <= 0:
        return group, []
    return group, [Move(LegKind.STOP, leg.key, trigger_price=candidate, price=limit)]


def move(group: ExitGroup, *, ltp: Decimal | None, stop: Decimal | None = None,
         target: Decimal | None = None) -> tuple[ExitGroup, list[Action]]:
    """Rule 6: the trader moves the stop trigger and/or the target (₹). Raises
    ``ValidationError`` (nothing changes) for a group that is over, a leg it does not have, a
    price off the tick or on the wrong side of the LTP ``ltp`` (₹, when known) or of the other leg."""
    if group.status is not GroupStatus.ACTIVE:
        raise ValidationError(f"exit group {group.group_id} is {group.status}; only ACTIVE exits can be moved")
    if stop is None and target is None:
        raise ValidationError("give a new stop or a new target to move")
    long = group.plan.side is Side.BUY
    new_stop = stop if stop is not None else group.stop_trigger
    new_target = target if target is not None else group.target
    for name, value, leg in (("stop", stop, group.stop), ("target", target, group.take)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            raise ValidationError(f"{name} must be positive Decimal rupees, was {value!r:.40}")
        if leg.key is None:
            raise ValidationError(f"exit group {group.group_id} has no working {name} to move")
        if not is_tick_multiple(value, group.tick_size):
            raise ValidationError(f"{name} {value} is not a multiple of the tick size {group.tick_size}")
    if ltp is not None:
        if stop is not None and (stop >= ltp if long else stop <= ltp):
            raise ValidationError(f"a {'long' if long else 'short'}'s stop must stay {'below' if long else 'above'} "
                                  f"the LTP {ltp}, was {stop}")
        if target is not None and (target <= ltp if long else target >= ltp):
            raise ValidationError(f"a {'long' if long else 'short'}'s target must stay "
                                  f"{'above' if long else 'below'} the LTP {ltp}, was {target}")
    if new_stop is not None and new_target is not None and (new_stop >= new_target if long else new_stop <= new_target):
        raise ValidationError(f"the stop {new_stop} must stay {'below' if long else 'above'} the target {new_target}")
    actions: list[Action] = []
    if stop is not None and stop != group.stop_trigger:
        assert group.stop_trigger is not None and group.stop.key is not None
        limit = group.stop_limit + (stop - group.stop_trigger) if group.stop_limit is not None else None
        group = replace(group, stop_trigger=stop, stop_limit=limit)
        actions.append(Move(LegKind.STOP, group.stop.key, trigger_price=stop, price=limit))
    if target is not None and target != group.target:
        assert group.take.key is not None
        group = replace(group, target=target)
        actions.append(Move(LegKind.TARGET, group.take.key, price=target))
    return group, actions


__all__ = [
    "EXIT_TAG", "Action", "Cancel", "ExitGroup", "GroupStatus", "Leg", "LegKind", "Move", "Place", "Resize",
    "cancel", "exit_intent", "leg_key", "move", "new_group", "on_entry_fill", "on_exit_closed", "on_exit_fill",
    "trail",
]
