"""Trading actors: thin wrappers over ``TradingService`` (approval → order → fill, matching,
MIS square-off, approval expiry). Arguments are JSON-simple; every actor is idempotent.

* ``execute_approval(approval_id)``: the one order of an APPROVED approval (order id
  ``O-<approval_id>``, unique in the store) and at most one fill per order sequence number:
  a redelivered message or a re-run after a worker was killed is a no-op.
* ``match_orders(as_of=None)``, ``square_off(as_of=None)``, ``expire_approvals(as_of=None)``:
  periodic (the clock sends them); ``as_of`` is an ISO-8601 time (replayed market time),
  default the wall clock. ``match_orders`` also executes approvals whose message was lost.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from workers import broker as _broker  # noqa: F401  (first: installs the broker before @actor)

from app.trading.service import EXECUTE_ACTOR, QUEUE, TradingService
from core.errors import ValidationError
from core.timeutil import require_aware

_service: TradingService | None = None


def trading() -> TradingService:
    """This process's ``TradingService``: the container's, unless a test injected ``_service``."""
    if _service is not None:
        return _service
    from app.container import services

    return services().trading


def reset_trading() -> None:
    """Forget the cached service (tests)."""
    global _service
    _service = None


def _when(as_of: str | None) -> datetime:
    if not as_of:
        return datetime.now(UTC)
    try:
        return require_aware(datetime.fromisoformat(as_of), "as_of")
    except ValueError:
        raise ValidationError(f"as_of must be an ISO-8601 time with an offset, was {as_of!r}") from None


@dramatiq.actor(actor_name=EXECUTE_ACTOR, queue_name=QUEUE, max_retries=5, min_backoff=200, max_backoff=5_000,
                time_limit=30_000, throws=(ValidationError,))
def execute_approval(approval_id: str) -> None:
    """Place and fill the order of APPROVED ``approval_id``. Idempotent (see module docstring)."""
    trading().execute_approval(approval_id)


@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=60_000, throws=(ValidationError,))
def match_orders(as_of: str | None = None) -> None:
    """Match open LIMIT/SL/SL-M orders against the latest ticks; execute orphaned approvals."""
    trading().match_open_orders(_when(as_of))


@dramatiq.actor(queue_name=QUEUE, max_retries=3, min_backoff=1_000, time_limit=60_000, throws=(ValidationError,))
def square_off(as_of: str | None = None) -> None:
    """MIS auto square-off at/after the cut-off (15:20 IST default). Idempotent per day."""
    trading().square_off_mis(_when(as_of))


@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=30_000, throws=(ValidationError,))
def expire_approvals(as_of: str | None = None) -> None:
    """Expire PENDING approvals whose TTL elapsed. Idempotent."""
    trading().expire_approvals(_when(as_of))
