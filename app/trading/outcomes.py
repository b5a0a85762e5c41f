"""Small helpers shared by the desk's write side: who acts, and the outcome of an action."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from app.trading.views import ActionOutcome
from core.errors import ValidationError


def acting_user(user: str) -> str:
    """``user`` stripped; ``ValidationError`` when blank."""
    if not user or not str(user).strip():
        raise ValidationError("user is required (who is acting, e.g. 'trader')")
    return str(user).strip()


def outcome(action: str, *, ok: bool, row: dict | None = None, order_id: str | None = None,
            reasons: Sequence[str] = (), messages: Sequence[str] = (), price: Decimal | None = None,
            noop: bool = False, trace_id: str | None = None) -> ActionOutcome:
    """An ``ActionOutcome`` for ``action`` on the approval ``row`` (its id and trace id)."""
    return ActionOutcome(ok=ok, action=action, approval_id=row["approval_id"] if row else None,
                         order_id=order_id, trace_id=row["trace_id"] if row else trace_id,
                         reasons=tuple(str(r) for r in reasons), messages=tuple(messages), price=price, noop=noop)
