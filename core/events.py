"""Desk events worth telling the trader about, and the port that tells them.

A call site builds a :class:`DeskEvent` with one of the helpers below and hands it to a
:class:`Notifier` it received through its constructor (``app.ops.notifications`` implements it
with dedupe + apprise channels; :class:`NullNotifier` when notifications are off). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from core.timeutil import IST


class EventKind(StrEnum):
    APPROVAL_PENDING = "approval_pending"
    FILL = "fill"
    RISK_BREACH = "risk_breach"
    SAFE_MODE = "safe_mode"
    STALE_TICKER = "stale_ticker"
    KITE_TOKEN_EXPIRED = "kite_token_expired"
    SQUARE_OFF_REFUSED = "square_off_refused"
    APPROVAL_EXPIRED = "approval_expired"
    ALERT_TRIGGERED = "alert_triggered"


@dataclass(frozen=True)
class DeskEvent:
    """What happened. ``key``: the dedupe key (same key → sent once per dedupe window);
    ``severity``: ``info``/``success``/``warning``/``failure``; ``trace_id`` when it belongs to
    an approval→fill chain."""

    kind: EventKind
    key: str
    title: str
    body: str
    severity: str = "info"
    trace_id: str = ""


def _money(value: Any) -> str:
    try:
        return f"₹{float(value):,.2f}"
    except (TypeError, ValueError):
        return "₹?"


def _ist(when: datetime | None) -> str:
    return when.astimezone(IST).strftime("%d %b %H:%M:%S IST") if when else "?"


def approval_pending(view: Any) -> DeskEvent:
    """From an ``ApprovalView`` (``TradingService.propose``'s result)."""
    return DeskEvent(
        EventKind.APPROVAL_PENDING, f"approval:{view.approval_id}",
        f"Approve? {view.side} {view.quantity} {view.tradingsymbol}",
        f"{view.side} {view.quantity} {view.tradingsymbol} {view.product} {view.order_type} at signal "
        f"{_money(view.signal_price)}: {getattr(view, 'reason', '') or 'proposed'}. Expires "
        f"{_ist(getattr(view, 'expires_at', None))}. Open the Approvals page to decide.",
        "info", view.trace_id)


def approval_expired(view: Any) -> DeskEvent:
    """A proposal (an ``ApprovalView``) that expired undecided: its TTL elapsed."""
    return DeskEvent(
        EventKind.APPROVAL_EXPIRED, f"approval_expired:{view.approval_id}",
        f"Expired: {view.side} {view.quantity} {view.tradingsymbol}",
        f"The proposal {view.side} {view.quantity} {view.tradingsymbol} ({getattr(view, 'source', '') or 'proposal'}) "
        f"expired undecided at {_ist(getattr(view, 'expires_at', None))}: nothing was placed.",
        "warning", view.trace_id)


def fill_event(fill: Any) -> DeskEvent:
    """From a ``core.broker.events.Fill`` (after it is stored)."""
    return DeskEvent(
        EventKind.FILL, f"fill:{fill.fill_id}",
        f"Filled: {fill.side} {fill.quantity} {fill.tradingsymbol} @ {_money(fill.price)}",
        f"{fill.side} {fill.quantity} {fill.tradingsymbol} ({fill.product}) filled at {_money(fill.price)} on "
        f"{_ist(fill.filled_at)}; charges {_money(fill.charges.total)}. Order {fill.order_id}.",
        "success", fill.trace_id)


def risk_breach(approval_id: str | None, tradingsymbol: str, reasons: Any, messages: Any, *,
                trace_id: str = "") -> DeskEvent:
    """A refusal by the risk gatekeeper (reason codes and their messages)."""
    codes = ",".join(str(r) for r in reasons) or "RISK"
    text = "; ".join(str(m) for m in messages) or codes
    return DeskEvent(EventKind.RISK_BREACH, f"risk:{approval_id or tradingsymbol}:{codes}",
                     f"Risk refused {tradingsymbol}: {codes}", text, "warning", trace_id)


def square_off_refused(trace_id: str, tradingsymbol: str, quantity: int, reasons: Any, messages: Any) -> DeskEvent:
    """An MIS square-off that could not fill (refused, rejected or resting unfilled); retried by
    the clock's square-off job. One notification per position and reason set."""
    codes = ",".join(str(r) for r in reasons) or "NOT_FILLED"
    text = "; ".join(str(m) for m in messages) or codes
    return DeskEvent(EventKind.SQUARE_OFF_REFUSED, f"square_off:{trace_id}:{codes}",
                     f"Square-off not filled: {tradingsymbol} {codes}",
                     f"MIS {tradingsymbol} ({quantity} shares) is still open: {text}. The desk retries every "
                     "square-off run; see the Risk page.", "failure", trace_id)


def safe_mode(day: Any, day_pnl: Any) -> DeskEvent:
    """The desk entered safe mode (daily loss limit hit) on ``day``."""
    return DeskEvent(EventKind.SAFE_MODE, f"safe_mode:{day}", "Safe mode: exits only",
                     f"Day P&L {_money(day_pnl)} hit the daily loss limit on {day}: the desk accepts exits "
                     "only until you resume it on the Risk page.", "failure")


def stale_ticker(status: Any, now: datetime) -> DeskEvent:
    """From a ``TickerStatus`` whose heartbeat is old (one notification per outage)."""
    age = status.age_seconds(now)
    return DeskEvent(EventKind.STALE_TICKER, f"stale_ticker:{status.updated_at.isoformat()}",
                     "Ticker stale",
                     f"The ticker last reported {age:,.0f} s ago ({_ist(status.updated_at)}): live prices "
                     "are stale. Check the ticker process.", "warning")


def kite_token_expired(status: Any) -> DeskEvent:
    """From a ``kite_auth.SessionStatus`` in state ``expired`` (one per session)."""
    return DeskEvent(EventKind.KITE_TOKEN_EXPIRED,
                     f"kite_expired:{getattr(status, 'user_id', '')}:{getattr(status, 'expires_at', '')}",
                     "Kite session expired",
                     f"The Kite session has expired ({getattr(status, 'reason', '') or 'expired'}): log in again "
                     "on the Settings page.", "warning")


class Notifier(Protocol):
    """Where desk events go. ``notify`` returns how many channel messages were queued and
    never raises (a notification must never fail the fill or approval that raised it)."""

    def notify(self, event: DeskEvent) -> int: ...


class NullNotifier:
    """Notifications off: every event is dropped (0 messages queued)."""

    def notify(self, event: DeskEvent) -> int:
        return 0


def alert_triggered(alert_id: str, sequence: int, name: str, condition: str, value: float, *,
                    proposed: bool = False, trace_id: str = "") -> DeskEvent:
    """A price alert fired (``core.alerts``): one notification per trigger (``alert_id:sequence``).
    ``proposed``: an ATO alert whose order now waits on the Approvals page."""
    then = " Its order waits on the Approvals page." if proposed else ""
    return DeskEvent(EventKind.ALERT_TRIGGERED, f"alert:{alert_id}:{sequence}", f"Alert: {name}",
                     f"{condition} (at {value:g}).{then}", "info", trace_id)
