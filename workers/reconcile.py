"""Reconciliation actor: the desk's charges against Kite's virtual contract note (issue 13).

``reconcile_contract_note(day=None, as_of=None)``: sent by the clock at 16:05 IST on NSE
trading days (``day`` = that IST date); ``day`` defaults to the IST date of ``as_of`` (an
ISO-8601 time), else of market time (``services().market_clock``: the replayed session's date
with the replay market). Thin wrapper over ``ContractNoteService.reconcile``: the result is
stored whole for the P&L page; Kite unreachable (``TemporaryError``) is recorded and retried
with backoff (1 min up to 15 min, 6 attempts); a bad ``day`` (``ValidationError``) is not.
Idempotent: a re-run replaces the day's result.
"""

from __future__ import annotations

from datetime import date, datetime

import dramatiq

from workers import broker as _broker  # noqa: F401  (first: installs the broker before @actor)

from app.trading.contract_notes import ContractNoteService
from app.trading.service import QUEUE
from core.contract_note import note_day
from core.errors import ValidationError
from core.timeutil import IST, require_aware

RECONCILE_ACTOR = "reconcile_contract_note"

_service: ContractNoteService | None = None


def contract_notes() -> ContractNoteService:
    """This process's ``ContractNoteService``: the container's, unless a test injected ``_service``."""
    if _service is not None:
        return _service
    from app.container import services

    return services().contract_notes


def _day(day: str | None, as_of: str | None) -> tuple[date, datetime | None]:
    if as_of:
        try:
            when = require_aware(datetime.fromisoformat(as_of), "as_of")
        except ValueError:
            raise ValidationError(f"as_of must be an ISO-8601 time with an offset, was {as_of!r}") from None
    else:
        when = None
    if day:
        return note_day(day), when
    if when is None:
        from app.container import services

        when = services().market_clock.now().now
    return when.astimezone(IST).date(), when


@dramatiq.actor(actor_name=RECONCILE_ACTOR, queue_name=QUEUE, max_retries=5, min_backoff=60_000,
                max_backoff=900_000, time_limit=120_000, throws=(ValidationError,))
def reconcile_contract_note(day: str | None = None, as_of: str | None = None) -> None:
    """Reconcile ``day``'s charges with Kite's contract note (see the module docstring)."""
    d, _when = _day(day, as_of)
    contract_notes().reconcile(d)
