"""Human approval of proposed orders: a pure state machine.

::

    PENDING ──approve (in time, drift ok)──▶ APPROVED
       │ ──reject(reason)──────────────────▶ REJECTED
       └──expire (now >= created_at + ttl)─▶ EXPIRED      (approve after expiry also expires it)

Transitions return an :class:`ApprovalDecision` holding the new (or unchanged) approval,
whether it changed, and reason codes when refused. Refusals are decisions, not exceptions;
only bad input (blank reject reason, naive time, non-positive price) raises
``ValidationError``. Prices ``Decimal`` rupees; drift in basis points of the signal price.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from core.errors import ValidationError
from core.orders import OrderIntent
from core.timeutil import require_aware

_BPS = Decimal(10_000)


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class ApprovalReason(StrEnum):
    """Why an approval transition was refused."""

    EXPIRED = "EXPIRED"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    PRICE_DRIFT = "PRICE_DRIFT"
    NOT_EXPIRED = "NOT_EXPIRED"


def _positive_price(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValidationError(f"{name} must be positive Decimal rupees, was {value!r}")


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A signal's proposed order awaiting a trader.

    ``signal_price`` ₹ when the signal fired; ``created_at`` tz-aware; ``ttl`` how long it may
    wait; ``decided_at``/``decision_price``/``note`` are set by the transition that decided it.
    """

    approval_id: str
    intent: OrderIntent
    signal_price: Decimal
    created_at: datetime
    ttl: timedelta
    trace_id: str
    status: ApprovalStatus = ApprovalStatus.PENDING
    decided_at: datetime | None = None
    decision_price: Decimal | None = None
    note: str = ""

    @property
    def expires_at(self) -> datetime:
        return self.created_at + self.ttl

    def is_expired(self, now: datetime) -> bool:
        """True at or after ``expires_at``."""
        return now >= self.expires_at


def propose(
    approval_id: str,
    intent: OrderIntent,
    *,
    signal_price: Decimal,
    created_at: datetime,
    ttl: timedelta,
    trace_id: str | None = None,
) -> PendingApproval:
    """A new PENDING approval (``trace_id`` defaults to the intent's).

    Raises ``ValidationError`` for an empty id, non-positive price or ttl, or a naive time.
    """
    if not approval_id:
        raise ValidationError("approval_id is required")
    _positive_price("signal_price", signal_price)
    require_aware(created_at, "created_at")
    if ttl <= timedelta(0):
        raise ValidationError(f"ttl must be positive, was {ttl}")
    return PendingApproval(approval_id, intent, signal_price, created_at, ttl, trace_id or intent.trace_id)


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    """``approval`` after the transition; ``changed`` False for a refusal or no-op."""

    approval: PendingApproval
    changed: bool
    reasons: tuple[ApprovalReason, ...] = ()
    messages: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return self.changed and self.approval.status is ApprovalStatus.APPROVED


def _already(approval: PendingApproval) -> ApprovalDecision:
    code = ApprovalReason.EXPIRED if approval.status is ApprovalStatus.EXPIRED else ApprovalReason.ALREADY_DECIDED
    return ApprovalDecision(
        approval, False, (code,), (f"approval {approval.approval_id} is already {approval.status}",)
    )


def _expired(approval: PendingApproval, now: datetime) -> PendingApproval:
    return replace(approval, status=ApprovalStatus.EXPIRED, decided_at=now, note="ttl elapsed")


def drift_bps(signal_price: Decimal, current_price: Decimal) -> Decimal:
    """``|current − signal| / signal × 10 000`` (basis points, unrounded)."""
    return abs(current_price - signal_price) * _BPS / signal_price


def approve(
    approval: PendingApproval, *, now: datetime, current_price: Decimal, max_drift_bps: Decimal
) -> ApprovalDecision:
    """Approve if still PENDING, not expired at ``now``, and the price drifted at most
    ``max_drift_bps`` from ``signal_price``.

    Refusals: already decided (``ALREADY_DECIDED``, or ``EXPIRED`` if it had expired);
    expired at ``now`` (the approval becomes EXPIRED, ``changed=True``, reason ``EXPIRED``);
    drift too large (``PRICE_DRIFT``; stays PENDING so the trader can reject or retry).

    Raises ``ValidationError`` for a naive ``now``, a non-positive price or negative drift.
    """
    require_aware(now, "now")
    _positive_price("current_price", current_price)
    if not isinstance(max_drift_bps, Decimal) or max_drift_bps < 0:
        raise ValidationError(f"max_drift_bps must be a Decimal >= 0, was {max_drift_bps!r}")
    if approval.status is not ApprovalStatus.PENDING:
        return _already(approval)
    if approval.is_expired(now):
        return ApprovalDecision(
            _expired(approval, now),
            True,
            (ApprovalReason.EXPIRED,),
            (f"approval expired at {approval.expires_at.isoformat()}; the signal is stale",),
        )
    drift = drift_bps(approval.signal_price, current_price)
    if drift > max_drift_bps:
        return ApprovalDecision(
            approval,
            False,
            (ApprovalReason.PRICE_DRIFT,),
            (f"price moved {drift:.1f} bps from the signal's ₹{approval.signal_price} (limit {max_drift_bps} bps)",),
        )
    approved = replace(approval, status=ApprovalStatus.APPROVED, decided_at=now, decision_price=current_price)
    return ApprovalDecision(approved, True)


def reject(approval: PendingApproval, *, reason: str, now: datetime) -> ApprovalDecision:
    """Reject a PENDING approval with the trader's ``reason`` (required).

    Refused (``ALREADY_DECIDED``/``EXPIRED``) when it is no longer PENDING. Raises
    ``ValidationError`` for a blank reason or a naive ``now``.
    """
    if not reason or not reason.strip():
        raise ValidationError("a reject needs a reason (e.g. 'spread too wide')")
    require_aware(now, "now")
    if approval.status is not ApprovalStatus.PENDING:
        return _already(approval)
    return ApprovalDecision(
        replace(approval, status=ApprovalStatus.REJECTED, decided_at=now, note=reason.strip()), True
    )


def expire(approval: PendingApproval, *, now: datetime) -> ApprovalDecision:
    """Expire a PENDING approval whose ttl has elapsed at ``now``; otherwise a reported no-op
    (``NOT_EXPIRED`` before the deadline, ``ALREADY_DECIDED``/``EXPIRED`` once decided)."""
    require_aware(now, "now")
    if approval.status is not ApprovalStatus.PENDING:
        return _already(approval)
    if not approval.is_expired(now):
        return ApprovalDecision(
            approval, False, (ApprovalReason.NOT_EXPIRED,), (f"expires at {approval.expires_at.isoformat()}",)
        )
    return ApprovalDecision(_expired(approval, now), True)


def shadow_pnl(approval: PendingApproval, later_price: Decimal) -> Decimal:
    """What a REJECTED or EXPIRED signal would have made (₹, before charges) had it filled at
    ``signal_price`` and been marked at ``later_price``: ``sign × (later − signal) × quantity``.

    Raises ``ValidationError`` if the approval was not rejected or expired, or the price is bad.
    """
    if approval.status not in (ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED):
        raise ValidationError(f"shadow P&L is for REJECTED or EXPIRED signals; this one is {approval.status}")
    _positive_price("later_price", later_price)
    intent = approval.intent
    return intent.side.sign * (later_price - approval.signal_price) * intent.quantity


# ------------------------------------------------------------------ origin of an order


class Origin(StrEnum):
    """Where an order came from, as the books and P&L label it.

    ``APPROVAL``: a proposal (strategy, scan, analysis, webhook, or the ticket's "Send to
    approvals") that a trader or a rule decided on the Approvals page. ``TICKET``: the manual
    order ticket's Place, sent directly. ``SQUARE_OFF`` and ``KILL_SWITCH``: the desk's own exits
    (MIS auto square-off at the cut-off, the kill switch's flatten). ``EXIT``: an entry's stop or
    target placed by the desk when the entry filled (``core.exits``). Only ``APPROVAL`` orders
    went through approvals.
    """

    APPROVAL = "approval"
    TICKET = "ticket"
    SQUARE_OFF = "square-off"
    KILL_SWITCH = "kill switch"
    EXIT = "exit"


#: Approval-row ``source`` of each direct placement (recorded as an APPROVED row, never pending).
DIRECT_SOURCES = {"ticket": Origin.TICKET, "squareoff": Origin.SQUARE_OFF, "killswitch": Origin.KILL_SWITCH,
                  "exit": Origin.EXIT}
#: Order tags the desk's own exits carry.
_EXIT_TAGS = {"SQUAREOFF": Origin.SQUARE_OFF, "KILLSWITCH": Origin.KILL_SWITCH, "EXIT": Origin.EXIT}
#: Id prefixes of direct placements: ``M-`` the ticket (older rows recorded it as source
#: ``"manual"``), ``SQ-`` a square-off part, ``KS-`` a kill-switch flatten.
_DIRECT_PREFIXES = (("M-", Origin.TICKET), ("SQ-", Origin.SQUARE_OFF), ("KS-", Origin.KILL_SWITCH))


def origin_of(*, source: str = "", approval_id: str | None = "", tag: str | None = "") -> Origin:
    """The :class:`Origin` of an order from what its rows carry: the approval's ``source``, the
    ``approval_id`` (an order id ``O-<approval_id>`` is accepted too) and the order ``tag``.

    A desk-exit tag or source wins; then a direct source or id prefix; anything else went
    through approvals. Never raises (missing values count as empty).
    """
    tag = (tag or "").upper()
    if tag in _EXIT_TAGS:
        return _EXIT_TAGS[tag]
    if (source or "") in DIRECT_SOURCES:
        return DIRECT_SOURCES[source]
    aid = approval_id or ""
    if aid.startswith("O-"):
        aid = aid[2:]
    for prefix, origin in _DIRECT_PREFIXES:
        if aid.startswith(prefix):
            return origin
    return Origin.APPROVAL


def went_through_approvals(*, source: str = "", approval_id: str | None = "", tag: str | None = "") -> bool:
    """True when the order was a proposal decided on the Approvals page (``Origin.APPROVAL``)."""
    return origin_of(source=source, approval_id=approval_id, tag=tag) is Origin.APPROVAL
