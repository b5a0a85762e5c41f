"""What the trading pages display: frozen, UI-ready views returned by ``TradingService``.

Money is ``Decimal`` rupees (exact); quantities are shares (signed where noted: long > 0,
short < 0); times are tz-aware **IST** (``Asia/Kolkata``) for display. Enumerated fields are
the Kite strings (``"BUY"``, ``"MIS"``, ``"SL-M"``, ``"TRIGGER PENDING"`` …) so a page can
show them as they are. No view holds a reference to the store or a service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal

from core.charges import Charges

_ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class RiskPreview:
    """The gatekeeper's verdict on an order at a given price and moment.

    ``approved`` iff ``reasons`` is empty. ``reasons`` are stable codes
    (``core.risk.ReasonCode`` — the gatekeeper's one enum — or ``core.approvals.ApprovalReason``
    values such as ``"ORDER_NOTIONAL"``, ``"MIS_CUTOFF"``, ``"PRICE_DRIFT"``); ``messages``
    are the trader-facing texts, one per reason. ``price`` ₹ the check used (LTP), ``at`` IST.
    """

    approved: bool
    reasons: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    price: Decimal | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderPreview:
    """What sending an order would do now, judged without storing anything (the ticket's preview).

    ``approved``/``reasons``/``messages`` the gatekeeper's dry-run verdict (the same
    ``core.gatekeeper.check`` as the send); ``ltp`` ₹ or ``None`` (no tick cached);
    ``expected_price`` ₹ per share the notional is judged at (limit price, else LTP);
    ``notional`` ₹; ``required_margin`` ₹ the order would block (``core.margins``), judged at
    ``margin_price`` ₹; ``protection_price`` ₹ (MARKET/SL-M from 1 Apr 2026, else ``None``);
    ``charges`` the estimated charges of filling it all at ``margin_price``
    (``core.charges.equity_charges``, the trade date's schedule; ``None`` without a price);
    ``band`` the day's (lower, upper) ₹ price band, ``None`` when unknown.
    """

    approved: bool
    reasons: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    ltp: Decimal | None = None
    expected_price: Decimal | None = None
    notional: Decimal | None = None
    required_margin: Decimal | None = None
    margin_price: Decimal | None = None
    protection_price: Decimal | None = None
    charges: Charges | None = None
    band: tuple[Decimal, Decimal] | None = None


@dataclass(frozen=True, slots=True)
class ApprovalView:
    """One proposed order (a card on the Approvals page).

    * ``status``: ``"PENDING"``, ``"APPROVED"``, ``"REJECTED"`` or ``"EXPIRED"``;
    * ``source``: who proposed it (``"strategy:<name>"``, ``"scan"``, ``"manual"`` — the ticket's
      "Send to approvals"), or a direct placement recorded as decided (``"ticket"``,
      ``"squareoff"``, ``"killswitch"``: never shown in the approvals history); ``strategy``:
      the strategy name if any; ``origin`` the ``core.approvals.Origin`` value;
    * ``price``/``trigger_price``: limit and trigger ₹ (``None`` when the order type takes
      none); ``stop_loss``/``target`` ₹ planned exits; ``signal_price`` ₹ when proposed;
    * ``created_at``/``expires_at``/``decided_at`` IST; ``seconds_left`` until expiry at the
      time the view was built (0 once decided or overdue);
    * ``decided_by`` the user (or ``"system"`` for expiry); ``decision_note`` the reject
      reason / refusal text; ``decision_price`` ₹ LTP at the moment of the decision;
    * ``risk_preview``: the latest gatekeeper verdict (at proposal, then at approval);
    * ``shadow_pnl`` ₹ (before charges) what a REJECTED/EXPIRED signal would have made had it
      filled at ``signal_price``, marked to the latest tick; ``None`` otherwise or without a tick;
    * ``order_id`` of the order it became (``None`` until executed).
    """

    approval_id: str
    trace_id: str
    tradingsymbol: str
    instrument_token: int
    side: str
    quantity: int
    product: str
    order_type: str
    price: Decimal | None
    trigger_price: Decimal | None
    stop_loss: Decimal | None
    target: Decimal | None
    signal_price: Decimal
    reason: str
    source: str
    strategy: str
    created_at: datetime
    expires_at: datetime
    status: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str = ""
    decision_price: Decimal | None = None
    risk_preview: RiskPreview = field(default_factory=lambda: RiskPreview(False))
    shadow_pnl: Decimal | None = None
    seconds_left: float = 0.0
    order_id: str | None = None
    validity: str = "DAY"
    origin: str = "approval"

    @property
    def notional(self) -> Decimal:
        """``quantity × (price or signal_price)`` ₹ (for the size-confirmation dialog)."""
        return (self.price if self.price is not None else self.signal_price) * self.quantity


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """The result of approve / place_manual / reject / modify / cancel / kill switch.

    ``ok`` True when the action took effect; otherwise ``reasons`` (codes) and ``messages``
    say why (a business refusal, never an exception). ``noop`` True when nothing needed doing
    (e.g. approving an already-approved approval reports ``ok=False, noop=True`` with reason
    ``"ALREADY_DECIDED"`` and never creates a second order). ``approval_id``/``order_id``/
    ``trace_id`` identify what was touched; ``price`` ₹ the LTP at that moment (audited).
    """

    ok: bool
    action: str
    approval_id: str | None = None
    order_id: str | None = None
    trace_id: str | None = None
    reasons: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    price: Decimal | None = None
    noop: bool = False

    @property
    def message(self) -> str:
        """All messages joined for a toast, or a short success text."""
        return "; ".join(self.messages) if self.messages else f"{self.action}: done"


@dataclass(frozen=True, slots=True)
class OrderView:
    """One row of the order book.

    ``status`` Kite strings (``OPEN``, ``TRIGGER PENDING``, ``COMPLETE``, ``CANCELLED``,
    ``REJECTED``); ``average_price`` ₹ (``None`` until filled); ``placed_at``/``updated_at``
    IST; ``status_message`` why it was rejected/cancelled; ``tag`` e.g. ``SQUAREOFF``;
    ``origin`` where it came from (``core.approvals.Origin``: ``"approval"``, ``"ticket"``,
    ``"square-off"``, ``"kill switch"``);
    ``can_modify``/``can_cancel`` True only while open. ``market_protection`` Kite's value on a
    MARKET/SL-M order (``-1`` automatic, else percent; ``None``: the desk's automatic default);
    ``protection_price`` ₹ the protected order's worst fill price, where it rests as a LIMIT
    (``core.market_protection``; ``None`` when not protected).
    """

    order_id: str
    approval_id: str | None
    trace_id: str
    tradingsymbol: str
    instrument_token: int
    side: str
    quantity: int
    product: str
    order_type: str
    validity: str
    price: Decimal | None
    trigger_price: Decimal | None
    status: str
    filled_quantity: int
    pending_quantity: int
    average_price: Decimal | None
    placed_at: datetime
    updated_at: datetime
    status_message: str = ""
    tag: str = ""
    strategy: str = ""
    market_protection: Decimal | None = None
    protection_price: Decimal | None = None
    origin: str = ""

    @property
    def can_modify(self) -> bool:
        return self.status in ("OPEN", "TRIGGER PENDING")

    @property
    def can_cancel(self) -> bool:
        return self.status in ("OPEN", "TRIGGER PENDING")


@dataclass(frozen=True, slots=True)
class TradeView:
    """One fill (a row of the trade book): ``quantity`` shares at ``price`` ₹, ``value`` ₹
    (quantity × price), ``charges`` breakdown, ``realized`` ₹ P&L this fill closed (before
    charges), ``filled_at`` IST; ``origin`` its order's origin (``core.approvals.Origin`` value)."""

    fill_id: str
    order_id: str
    trace_id: str
    tradingsymbol: str
    instrument_token: int
    side: str
    product: str
    quantity: int
    price: Decimal
    value: Decimal
    charges: Charges
    realized: Decimal
    filled_at: datetime
    strategy: str = ""
    origin: str = ""


@dataclass(frozen=True, slots=True)
class PositionView:
    """A net position marked to the latest tick.

    ``quantity`` signed shares (0 = closed today, still shown for its realized P&L);
    ``average_price`` ₹ of the open quantity; ``ltp`` ₹ (``None`` without a tick, then
    unrealized is 0 = marked at cost); ``unrealized``/``realized`` ₹ before charges;
    ``day_pnl`` ₹ = today's realized + unrealized (before charges); ``value`` ₹ = quantity ×
    LTP; buy/sell quantities and values are today's.
    """

    instrument_token: int
    tradingsymbol: str
    product: str
    quantity: int
    average_price: Decimal
    ltp: Decimal | None
    unrealized: Decimal
    realized: Decimal
    day_pnl: Decimal
    value: Decimal
    buy_quantity: int = 0
    buy_value: Decimal = _ZERO
    sell_quantity: int = 0
    sell_value: Decimal = _ZERO
    ltp_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FundsView:
    """The account in ₹: ``capital`` (virtual), ``cash`` (ledger balance), ``available`` margin
    for new orders, ``margin_used`` (MIS margin blocked), ``realized``/``unrealized`` P&L
    (before charges), ``charges_today`` and ``charges_total``, ``gross_pnl`` = realized +
    unrealized, ``net_pnl`` = gross − all charges, ``day_pnl`` = today's realized +
    unrealized − today's charges, ``equity`` = cash + market value of open positions.
    ``reconciled`` True when the ledger's sums agree with funds and positions."""

    capital: Decimal
    cash: Decimal
    available: Decimal
    margin_used: Decimal
    realized: Decimal
    unrealized: Decimal
    charges_today: Decimal
    charges_total: Decimal
    gross_pnl: Decimal
    net_pnl: Decimal
    day_pnl: Decimal
    equity: Decimal
    reconciled: bool = True


@dataclass(frozen=True, slots=True)
class LimitsView:
    """The risk limits as the Risk page edits them (same fields as ``core.risk.RiskLimits``):
    ₹ caps as ``Decimal``, counts as ``int``, percentages as ``Decimal`` percent,
    ``square_off_cutoff`` IST wall clock; ``version`` increments on each save."""

    max_order_notional: Decimal
    max_order_quantity: int
    risk_per_trade_pct: Decimal
    require_stop: bool
    max_open_positions: int
    max_orders_per_day: int
    max_orders_per_symbol_per_day: int
    daily_loss_limit: Decimal
    max_drawdown_pct: Decimal
    max_consecutive_losses: int
    cooldown_minutes: int
    wash_trade_minutes: int
    square_off_cutoff: time
    version: int = 0
    saved_by: str = ""
    saved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RiskStatusView:
    """Where the desk stands against its limits.

    ``safe_mode`` (daily loss hit: exits only), ``halted`` (kill switch on); ``day_pnl`` ₹
    after charges; ``drawdown_pct`` percent from ``equity_peak`` ₹; ``equity`` ₹;
    ``orders_today`` entry orders placed today; ``open_positions`` count;
    ``consecutive_losses``; ``cooldown_until`` IST or ``None``; ``limits`` in force;
    ``halted_by``/``halted_at`` who pressed the kill switch and when (IST).
    """

    safe_mode: bool
    halted: bool
    day_pnl: Decimal
    drawdown_pct: Decimal
    equity: Decimal
    equity_peak: Decimal
    orders_today: int
    open_positions: int
    consecutive_losses: int
    cooldown_until: datetime | None
    limits: LimitsView
    halted_by: str = ""
    halted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NoticeView:
    """A proposal the trader should hear about without looking at the Approvals page.

    ``kind``: ``"expired"`` (its TTL elapsed undecided) or ``"refused"`` (the gatekeeper refused
    it: the card shows the reasons); ``notice_id`` stable per proposal and kind (a page shows each
    once); ``at`` IST market time it happened; ``text`` one trader-facing sentence; ``level``
    ``"warning"`` or ``"error"``.
    """

    notice_id: str
    kind: str
    approval_id: str
    tradingsymbol: str
    at: datetime
    text: str
    level: str = "warning"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited step of a trace: ``at`` IST, ``actor`` (user or ``"system"``/``"worker"``),
    ``action`` (``propose``, ``risk``, ``approve``, ``reject``, ``expire``, ``order``,
    ``fill``, ``modify``, ``cancel``, ``kill_switch`` …), ``price`` ₹ at that moment (LTP),
    ``details`` JSON-simple dict."""

    trace_id: str
    at: datetime
    actor: str
    action: str
    price: Decimal | None
    details: dict


@dataclass(frozen=True, slots=True)
class TraceView:
    """The whole chain of one trace id: approvals, risk decisions (as ``RiskPreview``),
    orders, fills and the audit log, each oldest first."""

    trace_id: str
    approvals: tuple[ApprovalView, ...]
    risk_decisions: tuple[RiskPreview, ...]
    orders: tuple[OrderView, ...]
    fills: tuple[TradeView, ...]
    audit: tuple[AuditEntry, ...]
