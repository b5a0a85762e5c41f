"""Exits that manage themselves, on the desk: the ``core.exits`` rules wired to the store, the
fills and the one gatekeeper.

* **When.** An entry whose intent carries a ``stop_loss`` and/or ``target`` (the ticket, an
  approved proposal, an analysis verdict turned into one) gets its exits on its first fill
  (``exits_after_fill``, called by ``OrderExecution._match`` for every stored fill that reduced a
  position and every fill of an entry with exits or of an ``EXIT``-tagged order): MIS → an OCO group (``core.exits.oco``: a stop, SL-M
  with Zerodha's automatic market protection unless the plan says SL, and a LIMIT target, sized to
  the filled quantity); CNC → a GTT (``core.exits.gtt``: single for a stop or a target, two-leg OCO
  for both; a stop leg's LIMIT is the SL's limit, else the SL-M's market-protection price at the
  trigger), valid for one year.
* **How.** Every exit order is placed (``_place_direct``, source ``"exit"``, order id
  ``O-<group_id>-S|T|L<n>``, deterministic: a re-run is a no-op), resized, moved (``modify_order``)
  through the one gatekeeper as what it is, an order that only reduces a position: safe mode and
  the kill switch allow it (``core.risk.rules``), no exemption is claimed. A refused exit is
  written on the group (``message``) and an ``exit_refused`` audit row.
* **Every fill** of an exit order runs the OCO rules: one filled cancels the other, a partial fill
  resizes the other. **Any fill** on a position with live exits (a manual SELL, an approved
  proposal, the API) then fits them to what the position still holds (``fit_exits_to_position``):
  resized down, or cancelled when it is flat, so they never open a reverse position. ``run_exits(now)`` (each ``match_open_orders`` pass) trails stops on the
  latest LTP, fires GTTs (their LIMIT order then goes through the gatekeeper) and drops legs whose
  order ended elsewhere (cancelled by the trader or the kill switch).
* **Square-off** cancels a position's exits first (``cancel_exits_of``); the kill switch too.
* A group is one ``trading_exits`` row (``app.adapters.trading_store.exits``) updated only on the
  version it read, so two workers never carry out the same transition twice.

Bad input (a stop or target on the wrong side of the entry, off the tick, a zero trailing step)
raises ``ValidationError`` before anything is written (``check_exit_levels`` at propose/place).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.adapters.trading_store.exits import ExitStore
from app.trading.exit_rows import group_from_json, group_to_json, gtt_from_json, gtt_to_json, plan_to_json
from app.trading.outcomes import acting_user
from app.trading.rows import audit_row, order_from_row
from app.trading.views import ActionOutcome
from core import exits as ex
from core.errors import ValidationError
from core.exits.gtt import resize_gtt
from core.market_protection import protection_price
from core.orders import Order, OrderIntent, Product, Side, round_to_paisa, tick_size_for
from core.timeutil import require_aware, to_ist, to_utc

log = logging.getLogger(__name__)

#: ``trading_exits.kind`` of an MIS OCO group and of a CNC GTT.
OCO, GTT = "OCO", "GTT"
#: Approval-row ``source`` of the exit orders (``core.approvals.DIRECT_SOURCES``).
EXIT_SOURCE = "exit"
_SYSTEM_TAGS = ("SQUAREOFF", "KILLSWITCH", ex.EXIT_TAG)
#: The ATR a trailing stop "by ATR" is measured with: Wilder's ATR of this many 1-minute bars.
ATR_PERIOD = 14
_LIVE_STATUSES = (str(ex.GroupStatus.PENDING), str(ex.GroupStatus.ACTIVE), str(ex.GttStatus.ACTIVE))


@dataclass(frozen=True, slots=True)
class ExitView:
    """One position's exits, for Orders & Positions.

    ``kind`` ``"OCO"`` (MIS stop + target) or ``"GTT"`` (CNC); ``status`` the group's
    (``PENDING``/``ACTIVE``/``DONE``/``CANCELLED``) or the GTT's (``active``/``triggered``/
    ``cancelled``/``expired``); ``side`` the exits' side; ``quantity`` shares they cover;
    ``stop`` / ``target`` ₹ the working trigger and target; ``stop_type`` SL or SL-M;
    ``trailing`` in words (``""`` without); ``orders`` the order ids working for it;
    ``expires_at`` IST (GTT only); ``message`` the last refusal or cancel reason."""

    group_id: str
    kind: str
    tradingsymbol: str
    instrument_token: int
    product: str
    status: str
    side: str
    quantity: int
    stop: Decimal | None
    stop_type: str
    target: Decimal | None
    trailing: str
    orders: tuple[str, ...]
    entry_order_id: str
    expires_at: datetime | None = None
    message: str = ""

    @property
    def live(self) -> bool:
        return self.status in _LIVE_STATUSES


def group_id_for(entry_order_id: str) -> str:
    """``X<approval_id>`` for the entry order ``O-<approval_id>``."""
    return "X" + entry_order_id.removeprefix("O-")


def _group_of_key(order_id: str) -> str:
    return order_id.removeprefix("O-").rsplit("-", 1)[0]


def plan_of(intent: OrderIntent) -> ex.ExitPlan | None:
    """The default exit plan of an entry: its ``stop_loss`` as an SL-M (the entry's own market
    protection), its ``target`` as a LIMIT; ``None`` when it has neither or is the desk's own exit."""
    if intent.tag in _SYSTEM_TAGS or (intent.stop_loss is None and intent.target is None):
        return None
    return ex.ExitPlan(intent.side, stop=intent.stop_loss, target=intent.target,
                       market_protection=intent.market_protection)


class ExitManagement:
    """Mixed into ``TradingEngine`` (needs its ``store``, ``_place_direct``, ``execute_approval``,
    ``modify_order``, ``cancel_order``, ``latest``/``ltps``, ``instrument``)."""

    _exit_store: ExitStore | None = None

    @property
    def exit_store(self) -> ExitStore:
        """The exit rows, in the trading store's database (its ``trading_exits`` table)."""
        if self._exit_store is None:
            self._exit_store = ExitStore(self.store.engine)
        return self._exit_store

    # ------------------------------------------------------------------ validation at the boundary

    def check_exit_levels(self, intent: OrderIntent, entry: Decimal | None, now: datetime) -> None:
        """Raise ``ValidationError`` when ``intent``'s stop/target are on the wrong side of its entry
        ``entry`` (₹: the limit, trigger or signal price, else the LTP) or off the tick. Nothing else."""
        plan = plan_of(intent)
        if plan is None:
            return
        entry = intent.price or intent.trigger_price or entry
        if entry is None:
            entry = self.ltps([intent.instrument_token]).get(intent.instrument_token)
        if entry is None:
            return  # no price yet: the plan is judged against the fill
        inst = self.instrument(intent.instrument_token)
        plan.check_against(entry, tick_size_for(inst, to_ist(now).date(), entry))

    # ------------------------------------------------------------------ the fill hook

    def wants_exit_hook(self, order: Order) -> bool:
        """True for the orders whose fills the exit rules follow (cheap: no store read)."""
        i = order.intent
        return i.tag == ex.EXIT_TAG or (i.tag not in _SYSTEM_TAGS and (i.stop_loss is not None or i.target is not None))

    def exits_after_fill(self, order: Order, now: datetime, *, reduced: bool = True) -> None:
        """Run the exit rules for ``order`` (any order) as it stands after a stored fill: an entry's
        or an exit's own rules, then, when the fill ``reduced`` (closed, reversed) its position,
        every live exit of the position is fitted to the shares it still holds
        (``fit_exits_to_position``), so a manual SELL, an approved proposal or an API order that
        closes or reduces the position resizes or cancels its exits. Never raises for a refused or
        invalid exit (the fill is booked already): it is logged and audited."""
        try:
            if order.intent.tag == ex.EXIT_TAG:
                self._exit_filled(order, now)
            elif self.wants_exit_hook(order):
                self._entry_filled(order, now)
            if reduced:
                self.fit_exits_to_position(order.intent.instrument_token, str(order.intent.product), now)
        except ValidationError as exc:
            log.warning("exits of %s not placed: %s", order.order_id, exc)
            self.store.add_audit(audit_row(order.intent.trace_id, at=now, actor="system", action="exit_refused",
                                           order_id=order.order_id, messages=[str(exc)]))

    def _entry_filled(self, order: Order, now: datetime) -> None:
        plan = plan_of(order.intent)
        if plan is None or not order.filled_quantity:
            return
        gid = group_id_for(order.order_id)
        row = self.exit_store.get(gid)
        if row is None:
            self._create(order, plan, gid, now)
            row = self.exit_store.get(gid)
            if row is None:
                return
        if row["kind"] == GTT:
            self._update_gtt(row, lambda g: (resize_gtt(g, order.filled_quantity), None)
                             if g.status is ex.GttStatus.ACTIVE and g.quantity != order.filled_quantity else (g, None),
                             now)
            return
        avg = order.average_price
        assert avg is not None
        self._transition(gid, lambda g: ex.on_entry_fill(g, order.filled_quantity, avg), now)

    def _create(self, order: Order, plan: ex.ExitPlan, gid: str, now: datetime) -> None:
        i = order.intent
        inst = self.instrument(i.instrument_token)
        avg = order.average_price
        assert avg is not None
        tick = tick_size_for(inst, to_ist(now).date(), avg)
        plan.check_against(avg, tick)
        base = dict(group_id=gid, entry_order_id=order.order_id, instrument_token=i.instrument_token,
                    tradingsymbol=i.tradingsymbol, product=str(i.product), trace_id=i.trace_id,
                    created_at=to_utc(now), updated_at=to_utc(now))
        if i.product is Product.CNC:
            gtt = self._new_gtt(gid, order, plan, tick, now)
            self.exit_store.insert(dict(base, kind=GTT, status=str(gtt.status), state=gtt_to_json(gtt)))
        else:
            group = ex.new_group(gid, plan, instrument_token=i.instrument_token, tradingsymbol=i.tradingsymbol,
                                 product=i.product, tick_size=tick, trace_id=i.trace_id)
            self.exit_store.insert(dict(base, kind=OCO, status=str(group.status), state=group_to_json(group)))
        self.store.add_audit(audit_row(i.trace_id, at=now, actor="system", action="exits_created", group_id=gid,
                                       plan=plan.describe()))

    def _new_gtt(self, gid: str, order: Order, plan: ex.ExitPlan, tick: Decimal, now: datetime) -> ex.Gtt:
        legs = []
        day = to_ist(now).date()
        if plan.stop is not None:
            price = plan.stop_limit
            if price is None:  # SL-M: the LIMIT at the protection price of a market order at the trigger
                price = protection_price(plan.exit_side is Side.BUY, plan.stop, tick, day, plan.market_protection)
            legs.append(ex.GttLeg(plan.stop, price if price is not None else plan.stop))
        if plan.target is not None:
            legs.append(ex.GttLeg(plan.target, plan.target))
        ltp = self.ltps([order.intent.instrument_token]).get(order.intent.instrument_token) or order.average_price
        assert ltp is not None
        return ex.create_gtt(gid, instrument_token=order.intent.instrument_token,
                             tradingsymbol=order.intent.tradingsymbol, side=plan.exit_side,
                             quantity=order.filled_quantity, legs=tuple(legs), last_price=ltp, tick_size=tick,
                             created_at=now, trace_id=order.intent.trace_id)

    def _exit_filled(self, order: Order, now: datetime) -> None:
        key = order.order_id.removeprefix("O-")
        gid = _group_of_key(order.order_id)
        row = self.exit_store.get(gid)
        if row is None or row["kind"] != OCO:
            return  # a GTT's order: the GTT is over once it fired
        self._transition(gid, lambda g: ex.on_exit_fill(g, key, order.filled_quantity), now)

    def fit_exits_to_position(self, instrument_token: int, product: str, now: datetime) -> int:
        """Rule 7 (``core.exits.oco.on_position``) for the position ``(instrument_token, product)``:
        its live OCO groups and active GTTs, oldest first, each keep at most the shares the stored
        position still holds on their entry's side after the older ones took theirs; the rest are
        resized down (an OCO's orders by modify, a GTT's quantity) or, with none left, cancelled.
        Returns the groups changed. One exits read (a reducing fill only); the position is read
        only when it has live exits. A triggered GTT's resting LIMIT order is not fitted."""
        rows = self.exit_store.rows(_LIVE_STATUSES, instrument_token=instrument_token, product=product)
        if not rows:
            return 0
        pos = self.store.position(instrument_token, product)
        quantity = int(pos["quantity"]) if pos else 0
        changed = 0
        for row in rows:
            if row["kind"] == GTT:
                gtt = gtt_from_json(row["state"])
                held = max(0, quantity if gtt.side is Side.SELL else -quantity)
                covered = min(gtt.quantity, held)
                if gtt.status is ex.GttStatus.ACTIVE and covered < gtt.quantity:
                    new = resize_gtt(gtt, covered) if covered else ex.cancel_gtt(gtt)
                    changed += int(self.exit_store.update(row["group_id"], row["version"], dict(
                        status=str(new.status), state=gtt_to_json(new), updated_at=to_utc(now))))
                quantity -= covered if gtt.side is Side.SELL else -covered
                continue
            group = group_from_json(row["state"])
            long = group.plan.side is Side.BUY
            held = max(0, quantity if long else -quantity)
            if group.status is ex.GroupStatus.ACTIVE and held < group.open_quantity:
                self._transition(row["group_id"], lambda g, h=held: ex.on_position(g, h), now)
                changed += 1
                after = self.exit_store.get(row["group_id"])
                group = group_from_json(after["state"]) if after else group
            covered = min(group.open_quantity, held) if group.status is ex.GroupStatus.ACTIVE else 0
            quantity -= covered if long else -covered
        return changed

    # ------------------------------------------------------------------ transitions and actions

    def _transition(self, gid: str, step, now: datetime, *, actor: str = "system") -> list[ex.Action]:
        """Load group ``gid``, apply ``step(group) -> (group, actions)``, store it on the version
        read (retried when another writer got there first), then carry out the actions."""
        for _ in range(5):
            row = self.exit_store.get(gid)
            if row is None or row["kind"] != OCO:
                return []
            group = group_from_json(row["state"])
            new, actions = step(group)
            if new == group and not actions:
                return []
            if self.exit_store.update(gid, row["version"], dict(status=str(new.status), state=group_to_json(new),
                                                                updated_at=to_utc(now))):
                for action in actions:
                    self._carry_out(new, action, now, actor)
                return actions
        raise ValidationError(f"exit group {gid} kept changing; try again")

    def _carry_out(self, group: ex.ExitGroup, action: ex.Action, now: datetime, actor: str) -> None:
        order_id = f"O-{action.key}"
        try:
            if isinstance(action, ex.Place):
                row = self.exit_store.get(group.group_id)  # a nested fill may have closed the group meanwhile
                now_group = group_from_json(row["state"]) if row is not None else None
                if now_group is None or now_group.status is not ex.GroupStatus.ACTIVE or \
                        now_group.leg(action.leg).key != action.key:
                    return
                out = self._place_direct(action.intent, source=EXIT_SOURCE, user="system", now=now,
                                         enqueue=lambda a, **_: self.execute_approval(a, now=now),
                                         reason=f"{action.leg.lower()} exit of {group.tradingsymbol} "
                                                f"({group.plan.describe()})", approval_id=action.key)
                if not out.ok and not out.noop:
                    self._leg_refused(group.group_id, action.key, "; ".join(out.messages), now)
                return
            if isinstance(action, ex.Cancel):
                order = self._order(order_id)
                if order.is_open:
                    self.cancel_order(order_id, user=actor, now=now)
                return
            if isinstance(action, ex.Resize):
                out = self.modify_order(order_id, quantity=action.quantity, price=None, trigger_price=None,
                                        user=actor, now=now)
            else:
                out = self.modify_order(order_id, quantity=None, price=action.price,
                                        trigger_price=action.trigger_price, user=actor, now=now)
            if not out.ok:
                self._note(group, f"{action.leg.lower()} not changed: " + "; ".join(out.messages), now)
        except ValidationError as exc:  # the order ended meanwhile (filled, cancelled): the next pass syncs
            log.info("exit action %s on %s skipped: %s", type(action).__name__, order_id, exc)

    def _leg_refused(self, gid: str, key: str, message: str, now: datetime) -> None:
        row = self.exit_store.get(gid)
        trace = row["trace_id"] if row else ""
        self.store.add_audit(audit_row(trace, at=now, actor="system", action="exit_refused", order_id=f"O-{key}",
                                       messages=[message]))
        self._transition(gid, lambda g: ex.on_exit_closed(g, key, f"refused: {message}"), now)

    def _note(self, group: ex.ExitGroup, message: str, now: datetime) -> None:
        self._transition(group.group_id, lambda g: (replace(g, message=message), []), now)

    # ------------------------------------------------------------------ each pass

    def run_exits(self, now: datetime) -> int:
        """Trail stops, fire GTTs, drop legs whose orders ended elsewhere and place a leg whose
        order was never placed (a worker stopped between storing the group and placing it), on
        the latest ticks at ``now``. Returns the actions carried out (moves, orders placed)."""
        require_aware(now, "now")
        rows = self.exit_store.rows(_LIVE_STATUSES)
        if not rows:
            return 0
        ltps = self.ltps({int(r["instrument_token"]) for r in rows})
        done = 0
        for row in rows:
            ltp = ltps.get(int(row["instrument_token"]))
            if row["kind"] == GTT:
                done += self._fire_gtt(row, ltp, now)
                continue
            group = group_from_json(row["state"])
            for leg in (group.stop, group.take):
                if leg.key is None:
                    continue
                orow = self.store.get_order(f"O-{leg.key}")
                if orow is None and leg.pending > 0 and self.store.get_approval(leg.key) is None:
                    # the group was stored but its exit never placed (a worker died in between): place it now
                    self._carry_out(group, ex.Place(leg.kind, leg.key, ex.exit_intent(group, leg.kind, leg.pending)),
                                    now, "system")
                    done += 1
                elif orow is not None and orow["status"] in ("CANCELLED", "REJECTED"):
                    key, msg = leg.key, f"{leg.kind.lower()} order {orow['status'].lower()}: {orow['status_message']}"
                    self._transition(group.group_id, lambda g: ex.on_exit_closed(g, key, msg), now)
            if ltp is not None and group.plan.trailing is not None:
                done += len(self._transition(group.group_id, lambda g: ex.trail(g, ltp), now))
        return done

    def _fire_gtt(self, row: dict, ltp: Decimal | None, now: datetime) -> int:
        if ltp is None:
            return 0
        fired = self._update_gtt(row, lambda g: ex.evaluate(g, ltp, now), now)
        if fired is None:
            return 0
        gtt, leg = fired
        key = f"{gtt.gtt_id}-L{leg}"
        out = self._place_direct(gtt.order_for(leg, ex.EXIT_TAG), source=EXIT_SOURCE, user="system", now=now,
                                 enqueue=lambda a, **_: self.execute_approval(a, now=now),
                                 reason=f"GTT {gtt.kind} triggered at LTP {ltp}", approval_id=key)
        if not out.ok and not out.noop:
            self.store.add_audit(audit_row(gtt.trace_id, at=now, actor="system", action="exit_refused",
                                           order_id=f"O-{key}", messages=list(out.messages)))
        return 1

    def _update_gtt(self, row: dict, step, now: datetime):
        """Apply ``step(gtt) -> (gtt, fired_leg)`` on the row's version; returns ``(gtt, leg)`` when a
        leg fired and this writer stored it, else ``None``."""
        gtt = gtt_from_json(row["state"])
        new, leg = step(gtt)
        if new == gtt:
            return None
        ok = self.exit_store.update(row["group_id"], row["version"],
                                    dict(status=str(new.status), state=gtt_to_json(new), updated_at=to_utc(now)))
        return (new, leg) if ok and leg is not None else None

    # ------------------------------------------------------------------ cancel, move, trail, read

    def cancel_exits_of(self, product: str, reason: str, now: datetime, *, instrument_token: int | None = None) -> int:
        """Cancel every live exit group / GTT of ``product`` (of one instrument when given): the MIS
        square-off does this before it cancels orders and flattens. Returns the groups cancelled."""
        return sum(self._cancel_row(row, reason, now, actor="system")
                   for row in self.exit_store.rows(_LIVE_STATUSES, instrument_token=instrument_token, product=product))

    def cancel_all_exits(self, reason: str, now: datetime) -> int:
        """Cancel every live exit group and GTT (the kill switch). Returns the groups cancelled."""
        return sum(self._cancel_row(r, reason, now, actor="system") for r in self.exit_store.rows(_LIVE_STATUSES))

    def _cancel_row(self, row: dict, reason: str, now: datetime, *, actor: str) -> int:
        if row["kind"] == GTT:
            gtt = gtt_from_json(row["state"])
            if gtt.status is not ex.GttStatus.ACTIVE:
                return 0
            new = ex.cancel_gtt(gtt)
            return int(self.exit_store.update(row["group_id"], row["version"], dict(
                status=str(new.status), state=gtt_to_json(new), updated_at=to_utc(now))))
        self._transition(row["group_id"], lambda g: ex.cancel(g, reason), now, actor=actor)
        after = self.exit_store.get(row["group_id"])
        return int(after is not None and after["status"] == str(ex.GroupStatus.CANCELLED))

    def _live_row(self, group_id: str) -> dict:
        row = self.exit_store.get(group_id)
        if row is None:
            raise ValidationError(f"unknown exit group {group_id!r}; pick one from the exits table")
        return row

    def cancel_exit_group(self, group_id: str, *, user: str, now: datetime) -> ActionOutcome:
        """The trader cancels a position's exits (both legs, or the GTT). Audited."""
        user = acting_user(user)
        require_aware(now, "now")
        row = self._live_row(group_id)
        if row["status"] not in _LIVE_STATUSES:
            return ActionOutcome(ok=False, action="cancel_exits", noop=True, trace_id=row["trace_id"],
                                 messages=(f"exits {group_id} are already {row['status']}",))
        self._cancel_row(row, f"cancelled by {user}", now, actor=user)
        self.store.add_audit(audit_row(row["trace_id"], at=now, actor=user, action="cancel_exits", group_id=group_id))
        return ActionOutcome(ok=True, action="cancel_exits", trace_id=row["trace_id"])

    def move_exits(self, group_id: str, *, stop: Decimal | None, target: Decimal | None, user: str,
                   now: datetime) -> ActionOutcome:
        """The trader moves an MIS group's stop trigger and/or target (₹), judged by
        ``core.exits.oco.move`` against the LTP, then the orders are modified through the
        gatekeeper. Raises ``ValidationError`` (nothing changes) for bad levels or a GTT."""
        user = acting_user(user)
        require_aware(now, "now")
        row = self._live_row(group_id)
        if row["kind"] != OCO:
            raise ValidationError("a GTT's triggers are fixed here: cancel it and place a new exit")
        ltp = self.ltps([int(row["instrument_token"])]).get(int(row["instrument_token"]))
        ex.move(group_from_json(row["state"]), ltp=ltp, stop=stop, target=target)  # validate first
        self._transition(group_id, lambda g: ex.move(g, ltp=ltp, stop=stop, target=target), now, actor=user)
        self.store.add_audit(audit_row(row["trace_id"], at=now, actor=user, action="move_exits", group_id=group_id,
                                       stop=stop, target=target, ltp=ltp))
        return ActionOutcome(ok=True, action="move_exits", trace_id=row["trace_id"], price=ltp)

    def set_trailing(self, group_id: str, trailing: ex.Trailing | None, *, user: str, now: datetime) -> ActionOutcome:
        """Turn an MIS group's trailing stop on (``trailing``) or off (``None``). Audited."""
        user = acting_user(user)
        require_aware(now, "now")
        row = self._live_row(group_id)
        if row["kind"] != OCO:
            raise ValidationError("trailing stops are for MIS exits; a CNC GTT's trigger is fixed")
        group = group_from_json(row["state"])
        if group.status is not ex.GroupStatus.ACTIVE or group.stop.key is None:
            raise ValidationError(f"exits {group_id} have no working stop to trail")
        plan = replace(group.plan, trailing=trailing)  # ExitPlan checks it
        self._transition(group_id, lambda g: (replace(g, plan=plan), []), now, actor=user)
        self.store.add_audit(audit_row(row["trace_id"], at=now, actor=user, action="trail_exits", group_id=group_id,
                                       plan=plan_to_json(plan)))
        return ActionOutcome(ok=True, action="trail_exits", trace_id=row["trace_id"])

    def atr_now(self, instrument_token: int, now: datetime, period: int = ATR_PERIOD) -> Decimal:
        """The ATR (₹, ``core.indicators.atr``, Wilder's, ``period`` 1-minute bars) of the instrument
        as of market time ``now``, read through the market data service (stored bars only), rounded
        to the paisa. Raises ``ValidationError`` when there is no service or not enough bars."""
        from core.indicators import atr

        symbol = self.instrument(instrument_token).tradingsymbol
        if self.market is None:
            raise ValidationError(f"no market data to measure the ATR of {symbol}: give the ATR in ₹ or trail by ₹/%")
        bars = self.market.ohlcv(instrument_token, "minute", as_of=now, bars=4 * period, fill=False)
        value = atr(bars, period).iloc[-1] if len(bars) > period else float("nan")
        if not value == value or value <= 0:
            raise ValidationError(f"not enough 1-minute bars of {symbol} yet for ATR({period}) "
                                  f"({len(bars)} bars): trail by ₹ or % instead")
        return round_to_paisa(Decimal(str(value)))

    def exit_book(self, *, live_only: bool = False) -> list[ExitView]:
        """Every position's exits (newest first); ``live_only``: only PENDING/ACTIVE groups and active GTTs."""
        rows = self.exit_store.rows(_LIVE_STATUSES if live_only else ())
        return [_view(r) for r in reversed(rows)]


def _view(row: dict) -> ExitView:
    common = dict(group_id=row["group_id"], kind=row["kind"], tradingsymbol=row["tradingsymbol"],
                  instrument_token=int(row["instrument_token"]), product=row["product"], status=row["status"],
                  entry_order_id=row["entry_order_id"])
    if row["kind"] == GTT:
        g = gtt_from_json(row["state"])
        stop = next((x.trigger for x in g.legs if x.trigger < g.last_price), None)
        target = next((x.trigger for x in g.legs if x.trigger > g.last_price), None)
        if g.side is Side.BUY:  # a short's GTT: the stop is above the price
            stop, target = target, stop
        orders = (f"O-{g.gtt_id}-L{g.triggered_leg}",) if g.triggered_leg is not None else ()
        return ExitView(**common, side=str(g.side), quantity=g.quantity, stop=stop, stop_type="GTT LIMIT",
                        target=target, trailing="", orders=orders, expires_at=to_ist(g.expires_at),
                        message=f"{g.kind} · " + " / ".join(f"trigger {x.trigger} → LIMIT {x.price}" for x in g.legs))
    grp = group_from_json(row["state"])
    orders = tuple(f"O-{leg.key}" for leg in (grp.stop, grp.take) if leg.key is not None)
    return ExitView(**common, side=str(grp.plan.exit_side), quantity=grp.open_quantity, stop=grp.stop_trigger,
                    stop_type=str(grp.plan.stop_type) if grp.plan.stop is not None else "",
                    target=grp.target, trailing=grp.plan.trailing.describe() if grp.plan.trailing else "",
                    orders=orders, message=grp.message)


__all__ = ["EXIT_SOURCE", "ExitManagement", "ExitView", "GTT", "OCO", "group_id_for", "plan_of"]
