"""The paper desk's use cases: propose → approve (gatekeeper) → order → fill, and the books.

``TradingService`` is what the dashboard pages and the trading actors call. It keeps no state
of its own: everything lives in the ``TradingStore`` (SQL) and the latest prices in the Redis
``TickCache``. Every method that depends on time takes ``now`` (tz-aware; IST or UTC): on a
replayed 2016 session the market's time is the tick's exchange timestamp, so callers pass the
time they mean and business rules never read the wall clock.

Outcomes (DESIGN.md §3): bad input raises ``core.errors.ValidationError`` with a message that
says what to fix (and the ledger is untouched); a business refusal (risk, hours, circuit,
drift, expiry, already decided) returns an ``ActionOutcome`` with reason codes; a no-op is
reported with ``noop=True``.

Exactly once: an approval becomes at most one order (order id ``O-<approval_id>``, unique on
``approval_id`` in the store) and each fill is one row keyed ``<order_id>-<seq>``; the fill,
its ledger entries and the position change are one transaction, so a redelivered message or a
re-run after a crash is a no-op. Every order exists only with an approved risk decision row.

Construction (composition root)::

    TradingService(settings, TradingStore(store.engine), instruments, ticks, tasks,
                   calendar=calendar)

``tasks`` needs ``enqueue(queue: str, actor: str, **kwargs) -> str`` (``DramatiqTaskQueue``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from app.trading.config import TradingConfig
from app.trading.views import (
    ActionOutcome,
    ApprovalView,
    FundsView,
    LimitsView,
    NoticeView,
    OrderPreview,
    OrderView,
    PositionView,
    RiskStatusView,
    TradeView,
    TraceView,
)
from core.charges import Charges
from core.errors import ValidationError
from core.orders import OrderIntent, OrderType
from core.risk import RiskLimits
from core.text_caps import NAME_MAX_CHARS, REASON_MAX_CHARS, shown
from core.validation import require_aware_datetime, require_enum, require_int, require_text
from app.logging_setup import trace_context
from core.events import Notifier, NullNotifier, approval_pending, risk_breach

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from app.adapters.tick_cache import TickCache
    from app.adapters.trading_store import TradingStore
    from app.market.instruments import InstrumentService
    from core.calendar import NseCalendar

#: the longest TTL a proposal may ask for (one calendar day), seconds
MAX_TTL_SECONDS = 86_400
#: Kite's ``tag`` is at most 20 characters
KITE_TAG_MAX_CHARS = 20
#: the most shares one order may carry at the boundary (the gatekeeper's limits are tighter)
MAX_QUANTITY = 10_000_000


def _checked_intent(intent: Any) -> OrderIntent:
    """The boundary's check of an ``OrderIntent`` argument (its own fields are checked when it
    is built): a dict or anything else is refused with the type to send."""
    if not isinstance(intent, OrderIntent):
        raise ValidationError(f"intent must be a core.orders.OrderIntent, was {shown(intent)}")
    for name, cap in (("tradingsymbol", NAME_MAX_CHARS), ("tag", KITE_TAG_MAX_CHARS), ("strategy", NAME_MAX_CHARS),
                      ("trace_id", NAME_MAX_CHARS)):
        require_text(name, getattr(intent, name), cap=cap, required=name == "tradingsymbol")
    require_int("quantity", intent.quantity, low=1, high=MAX_QUANTITY, unit="shares")
    return intent


#: the highest per-share price the boundary accepts, ₹ (NSE's dearest share trades near ₹1.5 lakh)
MAX_PRICE = Decimal(10_000_000)


def _checked_price(name: str, value: Any, *, optional: bool) -> Any:
    """A price argument (₹ per share): ``None`` when ``optional``, else a finite number
    ``0 < p <= MAX_PRICE`` as a Decimal, int, float or numeric string; the error quotes the
    value cut to 60 characters ("price must be a number of rupees 0 < p <= 10000000, was 'abc'")."""
    if value is None and optional:
        return None
    allowed = f"{name} must be a number of rupees 0 < p <= {MAX_PRICE}, was {shown(value)}"
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)) or \
            (isinstance(value, str) and len(value) > 40):
        raise ValidationError(allowed)
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (ArithmeticError, ValueError):  # a malformed string; an int past Python's 4,300-digit str limit
        raise ValidationError(allowed) from None
    if not d.is_finite() or not 0 < d <= MAX_PRICE:
        raise ValidationError(allowed)
    return value


def _decimal(name: str, value: Any) -> Decimal:
    """A finite number (Decimal, int, float or numeric string up to 40 characters) as a Decimal;
    its sign is the caller's rule. Raises ``ValidationError`` quoting the value."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)) or \
            (isinstance(value, str) and len(value) > 40):
        raise ValidationError(f"{name} must be a number, was {shown(value)}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (ArithmeticError, ValueError):
        raise ValidationError(f"{name} must be a number, was {shown(value)}") from None
    if not d.is_finite():
        raise ValidationError(f"{name} must be a finite number, was {shown(value)}")
    return d


def _checked_id(name: str, value: Any) -> str:
    return require_text(name, value, cap=NAME_MAX_CHARS)


#: Dramatiq queue and actor names used by the service (actors live in ``workers.trading``).
QUEUE = "trading"
EXECUTE_ACTOR = "execute_approval"


class Enqueuer(Protocol):
    """Sends a Dramatiq message by actor name (``app.adapters.queue.DramatiqTaskQueue``)."""

    def enqueue(self, queue: str, actor: str, **kwargs: Any) -> str: ...


class TradingService:
    """Approvals, the risk gatekeeper, paper execution and the books of the paper account.

    Parameters
    ----------
    settings : app.settings.Settings
        Read through :class:`TradingConfig` (capital, MIS leverage, slippage, drift limit,
        square-off cut-off and fee, circuit band, approval TTL).
    store : TradingStore
        Approvals, orders, fills, ledger, positions, audit, limits and desk state.
    instruments : InstrumentService
        ``resolve`` / ``by_token`` (tick size, lot size, tradability).
    ticks : TickCache
        Latest tick per instrument (LTP, 5-level depth, previous close, exchange time).
    tasks : Enqueuer | None
        Where approved orders are sent for execution (``execute_approval`` on queue
        ``trading``). ``None`` executes in-process (scripts, tests of the pure path).
    calendar : NseCalendar, optional
        Session phases and T+1 settlement dates; defaults to regular weekday sessions.
    notifier : core.events.Notifier, optional
        Where desk events go (approval pending, fill, risk refusal, safe mode);
        ``core.events.NullNotifier`` (nothing sent) when ``None``.
    market : app.market.history.MarketDataService, optional
        Where the day's 1-minute bars are read for the closing price post-close orders fill at
        (``core.closing_price``); without it they fill at the last traded price.
    """

    def __init__(
        self,
        settings: Any,
        store: TradingStore,
        instruments: InstrumentService,
        ticks: TickCache,
        tasks: Enqueuer | None = None,
        *,
        calendar: NseCalendar | None = None,
        config: TradingConfig | None = None,
        notifier: Notifier | None = None,
        circuit_limits: Any = None,
        market: Any = None,
    ) -> None:
        from app.trading.engine import TradingEngine

        self.config = config or TradingConfig.from_settings(settings)
        self.store = store
        self.instruments = instruments
        self.ticks = ticks
        self.tasks = tasks
        self.notifier: Notifier = notifier if notifier is not None else NullNotifier()
        self._engine = TradingEngine(self.config, store, instruments, ticks, calendar, self.notifier)
        #: token -> (lower, upper) ₹ from Kite's /quote (``app.market.circuit_limits``), or None
        self._engine.circuit_limits = circuit_limits
        #: the market data service (``app.market.history.MarketDataService``): post-close closing prices
        self._engine.market = market

    # ------------------------------------------------------------------ approvals

    def propose(
        self,
        intent: OrderIntent,
        *,
        signal_price: Any,
        reason: str,
        source: str = "strategy",
        ttl_seconds: int | None = None,
        now: datetime,
    ) -> ApprovalView:
        """Record ``intent`` as a PENDING approval with a risk preview at the latest LTP.

        ``signal_price`` ₹ (Decimal, or a number/str convertible exactly) when the signal
        fired; ``reason`` why it was proposed (shown on the card); ``source`` who proposed it;
        ``ttl_seconds`` (default ``config.approval_ttl_seconds``, 300) until it expires. A
        trace id is minted when ``intent.trace_id`` is empty. Audited (``propose``).

        Raises ``ValidationError``: unknown instrument, quantity not a lot multiple, price off
        the tick, non-positive signal price, ttl not a whole number of seconds 1..86,400, blank
        reason or one over ``core.text_caps.REASON_MAX_CHARS`` (500), ``source`` over 64
        characters, naive ``now``.
        """
        intent = _checked_intent(intent)
        _checked_price("signal_price", signal_price, optional=False)
        reason = require_text("reason", reason, cap=REASON_MAX_CHARS, required=False)
        source = require_text("source", source, cap=NAME_MAX_CHARS, required=False)
        if ttl_seconds is not None:
            ttl_seconds = require_int("ttl_seconds", ttl_seconds, low=1, high=MAX_TTL_SECONDS, unit="seconds")
        require_aware_datetime("now", now)
        self._engine.check_exit_levels(intent, Decimal(str(signal_price)), now)  # its stop/target: app.trading.exits
        view = self._engine.propose(intent, signal_price=signal_price, reason=reason, source=source,
                                    ttl_seconds=ttl_seconds, now=now)
        self.notifier.notify(approval_pending(view))
        return view

    def pending(self, now: datetime) -> list[ApprovalView]:
        """PENDING approvals still inside their TTL at ``now``, oldest first (``seconds_left``
        computed at ``now``). A read: nothing is written; :meth:`expire_approvals` (the clock's
        ``expire_approvals`` job) marks the overdue ones EXPIRED."""
        return self._engine.pending(now)

    def history(self, limit: int = 100, *, now: datetime | None = None) -> list[ApprovalView]:
        """Decided proposals (APPROVED/REJECTED/EXPIRED), newest decision first, at most
        ``limit``; the ticket's direct orders and the desk's exits (kill switch, MIS square-off)
        never went through approvals and are left out. REJECTED and EXPIRED carry
        ``shadow_pnl`` ₹ marked to the latest tick."""
        return self._engine.history(limit)

    def notices(self, limit: int = 20) -> list[NoticeView]:
        """Proposals that expired undecided or that the gatekeeper refused, newest first (the
        Home notices and the next page's toast)."""
        return self._engine.notices(limit)

    def approval(self, approval_id: str) -> ApprovalView:
        """One approval. Raises ``ValidationError`` if ``approval_id`` is unknown."""
        return self._engine.approval_view(approval_id)

    def approve(self, approval_id: str, *, user: str, now: datetime) -> ActionOutcome:
        """Approve at ``now``: re-check expiry, price drift (bps of the signal price vs the
        latest tick's LTP, limit ``config.max_drift_bps``), then the gatekeeper
        (``core.gatekeeper.check``: session, MIS cut-off, circuit, stops, limits, margin). On success the approval becomes
        APPROVED with an approved risk decision in one transaction, and ``execute_approval``
        is enqueued; the outcome carries the future ``order_id``.

        Refusals (``ok=False``): ``EXPIRED`` (it becomes EXPIRED), ``ALREADY_DECIDED``
        (approving twice: ``noop=True``, never a second order), ``PRICE_DRIFT``,
        ``NO_MARKET_PRICE`` (no tick cached), risk/hours/circuit codes (stays PENDING).
        Every attempt is audited with the LTP at that moment.

        Raises ``ValidationError`` for an unknown id, a blank user or a naive ``now``.
        """
        approval_id = _checked_id("approval_id", approval_id)
        user = require_text("user", user, cap=NAME_MAX_CHARS, required=False)
        require_aware_datetime("now", now)
        out = self._engine.approve(approval_id, user=user, now=now, enqueue=self._enqueue)
        if not out.ok and not out.noop and out.reasons:
            self.notifier.notify(risk_breach(approval_id, self.approval(approval_id).tradingsymbol, out.reasons, out.messages,
                               trace_id=out.trace_id or ""))
        return out

    def approve_many(self, approval_ids: Sequence[str], *, user: str, now: datetime) -> list[ActionOutcome]:
        """:meth:`approve` each id in order (the page asks for confirmation first); one
        outcome per id, refusals included. Raises ``ValidationError`` for an empty list."""
        if isinstance(approval_ids, (str, bytes)) or not isinstance(approval_ids, Sequence):
            raise ValidationError(f"approval_ids must be a list of approval ids, was {shown(approval_ids)}")
        approval_ids = [_checked_id("approval_ids", a) for a in approval_ids]
        user = require_text("user", user, cap=NAME_MAX_CHARS, required=False)
        require_aware_datetime("now", now)
        return self._engine.approve_many(approval_ids, user=user, now=now, enqueue=self._enqueue)

    def reject(self, approval_id: str, *, user: str, reason: str, now: datetime) -> ActionOutcome:
        """Reject a PENDING approval with the trader's ``reason`` (audited). Refused with
        ``ALREADY_DECIDED``/``EXPIRED`` when no longer pending.

        Raises ``ValidationError`` for a blank reason or user, a reason over
        ``core.text_caps.REASON_MAX_CHARS`` (500 characters), an unknown id, a naive ``now``.
        """
        approval_id = _checked_id("approval_id", approval_id)
        user = require_text("user", user, cap=NAME_MAX_CHARS, required=False)
        reason = require_text("reason", reason, cap=REASON_MAX_CHARS, required=False)
        require_aware_datetime("now", now)
        return self._engine.reject(approval_id, user=user, reason=reason, now=now)

    def expire_approvals(self, now: datetime) -> int:
        """Expire every PENDING approval whose TTL elapsed at ``now``; return how many.
        Idempotent (a second run returns 0)."""
        return self._engine.expire_approvals(now)

    # ------------------------------------------------------------------ orders

    def place_manual(self, intent: OrderIntent, *, user: str, now: datetime) -> ActionOutcome:
        """The order ticket: the same gatekeeper as :meth:`approve` (hours, cut-off, circuit,
        risk at the latest LTP), recorded as an approval decided by ``user`` (source
        ``manual``), then the same execution path (``execute_approval``).

        Raises ``ValidationError`` (ledger untouched): unknown symbol, quantity not positive or
        not a lot multiple, price off the tick, blank user, naive ``now``.
        """
        intent = _checked_intent(intent)
        user = require_text("user", user, cap=NAME_MAX_CHARS, required=False)
        require_aware_datetime("now", now)
        self._engine.check_exit_levels(intent, None, now)  # its stop/target vs its price or the LTP
        return self._engine.place_manual(intent, user=user, now=now, enqueue=self._enqueue)

    def preview_order(self, intent: OrderIntent, *, now: datetime, order_id: str | None = None) -> OrderPreview:
        """What sending ``intent`` at ``now`` would do, for the ticket's preview; nothing is stored.

        The same gatekeeper (``core.gatekeeper.check``) as :meth:`place_manual`, or, with
        ``order_id``, as :meth:`modify_order` of that open order (``intent`` is the order as it
        would become); the margin from ``core.margins`` and the charges from
        ``core.charges.equity_charges`` (trade date's schedule) at the price the margin is judged
        at. Raises ``ValidationError``: lot, tick, unknown order, naive ``now``.
        """
        from core.charges import equity_charges, schedule_for
        from core.gatekeeper import ChangeKind, OrderChange, check
        from core.timeutil import require_aware, to_ist

        require_aware(now, "now")
        engine = self._engine
        current = engine._order(order_id) if order_id is not None else None
        change = OrderChange(ChangeKind.MODIFY if current is not None else ChangeKind.PLACE, intent, current=current)
        ctx = engine.gate_context(change, now)  # the tick read with the marks
        decision = check(change, ctx)
        at = decision.margin_price or decision.expected_price
        charges = (equity_charges(intent.side, intent.product, intent.quantity, at,
                                  schedule_for(to_ist(now).date(), engine.schedules)) if at is not None else None)
        band = (ctx.circuit.lower, ctx.circuit.upper) if ctx.circuit is not None else None
        return OrderPreview(approved=decision.approved, reasons=tuple(str(r) for r in decision.reasons),
                            messages=decision.messages, ltp=ctx.ltp, expected_price=decision.expected_price,
                            notional=decision.notional, required_margin=decision.required_margin,
                            margin_price=decision.margin_price, protection_price=decision.protection_price,
                            charges=charges, band=band)

    def execute_approval(self, approval_id: str, *, now: datetime | None = None) -> OrderView | None:
        """Turn an APPROVED approval into its one order and fill it against the latest tick
        (MARKET at once; LIMIT/SL rest until :meth:`match_open_orders` crosses them).

        Idempotent: re-running (a redelivered message, a worker restarted after a crash)
        finds the same order and the same fill ids and changes nothing. ``now`` defaults to
        the approval's decision time; the fill is stamped with the tick's exchange time (never
        before the order). Returns the order, or ``None`` when the approval is not APPROVED
        (nothing to execute). Raises ``ValidationError`` for an unknown id.
        """
        return self._engine.execute_approval(approval_id, now=now)

    def modify_order(
        self,
        order_id: str,
        *,
        quantity: int | None = None,
        price: Any = None,
        trigger_price: Any = None,
        order_type: OrderType | str | None = None,
        user: str,
        now: datetime,
    ) -> ActionOutcome:
        """Modify an open order (quantity shares, price/trigger ₹, order type); audited.

        The order as it would become passes the same gatekeeper as a new order (session,
        cut-off, circuit on price and trigger, trigger through the LTP, notional, quantity,
        margin, …), the open order itself not counted twice. A refusal (``ok=False`` with the
        reason codes and messages naming the field and the allowed range) leaves the open
        order exactly as it was.

        Raises ``ValidationError`` (nothing written): unknown order, order not open ("cannot
        modify order … it is COMPLETE"), nothing to change, new quantity not above what
        filled, price off the tick, an unknown order type (one of MARKET, LIMIT, SL, SL-M),
        a quantity that is not a whole number of shares 1..10,000,000.
        """
        order_id = _checked_id("order_id", order_id)
        _checked_price("price", price, optional=True)
        _checked_price("trigger_price", trigger_price, optional=True)
        if order_type is not None:
            order_type = require_enum("order_type", order_type, OrderType)
        if quantity is not None:
            quantity = require_int("quantity", quantity, low=1, high=MAX_QUANTITY, unit="shares")
        user = require_text("user", user, cap=NAME_MAX_CHARS, required=False)
        require_aware_datetime("now", now)
        return self._engine.modify_order(order_id, quantity=quantity, price=price, trigger_price=trigger_price,
                                         order_type=order_type, user=user, now=now)

    def cancel_order(self, order_id: str, *, user: str, now: datetime) -> ActionOutcome:
        """Cancel an open order; audited. Raises ``ValidationError`` for an unknown order or
        one that is not open (COMPLETE, CANCELLED, REJECTED), a blank user or a naive ``now``."""
        order_id = _checked_id("order_id", order_id)
        user = require_text("user", user, cap=NAME_MAX_CHARS, required=False)
        require_aware_datetime("now", now)
        return self._engine.cancel_order(order_id, user=user, now=now)

    # ------------------------------------------------------------------ exits (app.trading.exits)

    def exit_book(self, *, live_only: bool = False) -> list:
        """Every position's exits (``app.trading.exits.ExitView``, newest first): MIS OCO groups
        (stop, target, trailing) and CNC GTTs; ``live_only`` only those still working."""
        return self._engine.exit_book(live_only=live_only)

    def move_exits(self, group_id: str, *, stop: Any = None, target: Any = None, user: str,
                   now: datetime) -> ActionOutcome:
        """Move an MIS exit group's stop trigger and/or target (₹); the orders are modified through
        the gatekeeper. Raises ``ValidationError`` (nothing changes): unknown group, a GTT, a price
        that is not a number 0 < p <= 10,000,000, off the tick, a stop not below the LTP (long; above
        for a short), a target not above it, a stop not below the target, a group that is over."""
        group_id = _checked_id("group_id", group_id)
        _checked_price("stop", stop, optional=True)
        _checked_price("target", target, optional=True)
        user = require_text("user", user, cap=NAME_MAX_CHARS, required=False)
        require_aware_datetime("now", now)
        return self._engine.move_exits(group_id, stop=None if stop is None else Decimal(str(stop)),
                                       target=None if target is None else Decimal(str(target)), user=user, now=now)

    def cancel_exits(self, group_id: str, *, user: str, now: datetime) -> ActionOutcome:
        """Cancel a position's exits (both OCO legs, or the GTT); a no-op when already over."""
        group_id = _checked_id("group_id", group_id)
        user = require_text("user", user, cap=NAME_MAX_CHARS, required=False)
        require_aware_datetime("now", now)
        return self._engine.cancel_exit_group(group_id, user=user, now=now)

    def set_trailing(self, group_id: str, kind: Any, step: Any, *, atr: Any = None, user: str,
                     now: datetime) -> ActionOutcome:
        """Trail an MIS group's stop: ``kind`` ``RUPEES`` / ``PERCENT`` / ``ATR`` (``core.exits.TrailKind``),
        ``step`` ₹ / % / ATR multiple > 0, ``atr`` ₹ for ``ATR`` (default: measured now, Wilder's ATR
        of 14 one-minute bars through the market data service, fixed from then on); ``kind=None``
        turns trailing off. The stop then only moves in the trader's favour. Raises
        ``ValidationError``: unknown group, a GTT, no working stop, an unknown kind, a step that is
        not a number > 0 (a percent < 100), no ATR to measure."""
        from core.exits import TrailKind, Trailing

        group_id = _checked_id("group_id", group_id)
        user = require_text("user", user, cap=NAME_MAX_CHARS, required=False)
        require_aware_datetime("now", now)
        trailing = None
        if kind is not None:
            kind = require_enum("kind", kind, TrailKind)
            step = _decimal("step", step)
            if kind is TrailKind.ATR and atr is None:
                row = self._engine.exit_store.get(group_id)
                if row is None:
                    raise ValidationError(f"unknown exit group {group_id!r}; pick one from the exits table")
                atr = self._engine.atr_now(int(row["instrument_token"]), now)
            trailing = Trailing(kind, step, None if atr is None else _decimal("atr", atr))
        return self._engine.set_trailing(group_id, trailing, user=user, now=now)

    def run_exits(self, now: datetime) -> int:
        """Trail stops, fire GTTs and drop exits whose orders ended elsewhere (also run by every
        :meth:`match_open_orders`). Returns the actions carried out."""
        require_aware_datetime("now", now)
        return self._engine.run_exits(now)

    def match_open_orders(self, now: datetime) -> int:
        """Match open LIMIT/SL/SL-M (and not-yet-filled MARKET) orders against the latest
        ticks; also executes APPROVED approvals whose message was lost. Returns fills stored.
        Idempotent. Used by the periodic ``match_orders`` actor."""
        return self._engine.match_open_orders(now)

    def square_off_mis(self, now: datetime) -> int:
        """At/after the cut-off (``config.square_off_cutoff``, 15:20 IST): cancel open MIS
        entry orders and close every open MIS position at MARKET (optional ₹50 + GST per
        order, ``config.square_off_fee``). Idempotent per position per day. Returns the
        number of square-off orders placed (0 before the cut-off or when flat)."""
        return self._engine.square_off_mis(now)

    def square_off_refusals(self, day: date) -> list:
        """The day's MIS square-off attempts that left a position open (``SquareOffRefusal``,
        newest first): reason codes and messages, retried by every square-off run."""
        return self._engine.square_off_refusals(day)

    def kill_switch(self, *, user: str, now: datetime) -> ActionOutcome:
        """Halt the desk: cancel every open order, flatten every position at MARKET against
        the latest ticks, and refuse new entries until :meth:`resume`. Audited."""
        return self._engine.kill_switch(user=user, now=now)

    def resume(self, *, user: str, now: datetime) -> ActionOutcome:
        """Lift the kill switch and safe mode (audited). A no-op when not halted."""
        return self._engine.resume(user=user, now=now)

    # ------------------------------------------------------------------ books

    def order_book(self, day: date | None = None) -> list[OrderView]:
        """Orders placed on ``day`` (IST date; every day when ``None``), newest first."""
        return self._engine.order_book(day)

    def trade_book(self, day: date | None = None) -> list[TradeView]:
        """Fills on ``day`` (IST date; every day when ``None``), newest first, with charges."""
        return self._engine.trade_book(day)

    def positions(self, now: datetime) -> list[PositionView]:
        """Positions marked to the latest ticks: open ones, plus ones closed on ``now``'s day."""
        return self._engine.positions(now)

    def funds(self, now: datetime) -> FundsView:
        """Funds, margin and P&L (gross and net of charges) marked to the latest ticks."""
        return self._engine.funds(now)

    def charges_today(self, now: datetime) -> Charges:
        """Sum of today's (IST date of ``now``) charges by component, ₹ (fees included)."""
        return self._engine.charges_today(now)

    # ------------------------------------------------------------------ risk

    def price_band(self, inst: Any, tick: Any) -> tuple[float, float] | None:
        """The desk's price band for ``inst`` now, ``(lower, upper)`` ₹: the quote's circuit limits,
        else NSE's dynamic price range from ``tick`` (the band every order is checked against);
        ``None`` without a previous close."""
        band = self._engine.circuit(inst, tick)
        return (float(band.lower), float(band.upper)) if band is not None else None

    def risk_limits(self) -> LimitsView:
        """The limits in force (latest saved version, or the defaults)."""
        return self._engine.risk_limits()

    def save_risk_limits(self, limits: RiskLimits | LimitsView | dict, *, user: str,
                         now: datetime | None = None) -> LimitsView:
        """Validate and save a new version of the limits (audited).

        ``limits``: a ``RiskLimits``, a ``LimitsView``, or a dict of its fields (Decimal or
        number ₹ caps, int counts). Raises ``ValidationError`` naming the field for a negative
        cap, a wrong type or an unknown field; nothing is saved then.
        """
        return self._engine.save_risk_limits(limits, user=user, now=now)

    def risk_status(self, now: datetime) -> RiskStatusView:
        """Safe mode, halt, day P&L, drawdown, counts, cooldown and limits at ``now``."""
        return self._engine.risk_status(now)

    # ------------------------------------------------------------------ analytics

    def equity_curve(self, now: datetime | None = None) -> pd.DataFrame:
        """Equity after each fill/fee (open positions at cost: capital + realized − charges);
        with ``now`` (tz-aware) and open positions, one more point at ``now`` marked to the
        latest LTPs (the Funds equity), so the curve ends where the account stands.

        Index: ``RangeIndex``; columns ``ts`` (datetime64[ns, Asia/Kolkata]), ``equity``
        (float64 ₹), ``drawdown`` (float64 ₹ below the running peak, ≤ 0), ``drawdown_pct``
        (float64 percent, ≤ 0). Starts with the opening capital.
        """
        return self._engine.equity_curve(now)

    def trade_report(self, start: date, end: date, *, until: datetime | None = None) -> pd.DataFrame:
        """Trade-wise P&L report of IST days ``start``..``end`` up to ``until`` (market time);
        columns in ``TradingBooks.trade_report``. ``ValidationError`` when start > end."""
        return self._engine.trade_report(start, end, until=until)

    def symbol_report(self, start: date, end: date, *, until: datetime | None = None) -> pd.DataFrame:
        """Symbol-wise P&L report (realized, charges, net per tradingsymbol) of the same range;
        columns in ``TradingBooks.symbol_report``."""
        return self._engine.symbol_report(start, end, until=until)

    def pnl_by_symbol(self, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Realized P&L per tradingsymbol. Columns: ``tradingsymbol`` (str), ``gross``,
        ``charges``, ``net`` (float64 ₹), ``charges_pct`` (float64, charges as % of |gross|;
        NaN when gross is 0), ``trades`` (int64 fills). Charges include the symbol's MIS
        auto square-off fees (₹50 + GST each, from the ledger). ``start``/``end``: IST days
        (inclusive), ``None`` open."""
        return self._engine.pnl_by("tradingsymbol", start, end)

    def pnl_by_strategy(self, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """As :meth:`pnl_by_symbol`, grouped by ``origin`` then ``strategy``: a proposal's fills
        under origin ``"approval"`` and its strategy (``""`` when none); the ticket
        (``"ticket"``), the MIS auto square-off (``"square-off"``, its fills and fees) and the
        kill switch's flatten (``"kill switch"``) under their origin with strategy ``""`` —
        never as a strategy."""
        return self._engine.pnl_by("strategy", start, end)

    def audit(self, trace_id: str) -> TraceView:
        """The whole chain of ``trace_id``: approvals, risk decisions, orders, fills, audit.
        Raises ``ValidationError`` if nothing carries that trace id."""
        return self._engine.trace(trace_id)

    # ------------------------------------------------------------------ internals

    def _enqueue(self, approval_id: str, *, trace_id: str | None = None) -> None:
        if self.tasks is None:
            self._engine.execute_approval(approval_id)
            return
        # The message carries the approval's trace id, so the worker's log lines carry it too.
        if trace_id is None:
            trace_id = self._engine.approval_view(approval_id).trace_id
        with trace_context(trace_id):
            self.tasks.enqueue(QUEUE, EXECUTE_ACTOR, approval_id=approval_id)


__all__ = ["EXECUTE_ACTOR", "QUEUE", "Enqueuer", "TradingConfig", "TradingService"]
