"""Health alerts: tell the trader when the ticker went stale or the Kite session expired.

The clock calls :meth:`HealthAlerts.check` every minute. Each problem becomes a ``DeskEvent``
(``core.events.stale_ticker`` / ``kite_token_expired``) sent to the notifier, which dedupes per
event key, so one outage is one notification.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from core.events import DeskEvent, Notifier, kite_token_expired, stale_ticker

log = logging.getLogger(__name__)

#: Seconds without a ticker heartbeat before :meth:`HealthAlerts.check` reports it stale.
STALE_TICKER_SECONDS = 30.0


class TickerHeartbeat(Protocol):
    """The ticker's last heartbeat (``TickCache.status``): ``None`` when it never wrote one."""

    def status(self) -> Any: ...


class KiteSession(Protocol):
    """The Kite session as the banner sees it (``KiteAuthService.status``)."""

    def status(self, now: datetime | None = None) -> Any: ...


class HealthAlerts:
    """``notifier``: where events go; ``ticks``: the ticker heartbeat; ``kite_auth``: the
    Kite session; ``stale_after``: seconds of heartbeat silence that count as stale."""

    def __init__(self, notifier: Notifier, ticks: TickerHeartbeat, kite_auth: KiteSession, *,
                 stale_after: float = STALE_TICKER_SECONDS) -> None:
        self.notifier = notifier
        self.ticks = ticks
        self.kite_auth = kite_auth
        self.stale_after = stale_after

    def check(self, now: datetime | None = None) -> list[DeskEvent]:
        """Notify a stale ticker heartbeat and an expired Kite session at ``now`` (tz-aware,
        default the wall clock). Returns the events raised (deduped downstream). Never raises:
        a part that cannot be read is logged and skipped."""
        now = now or datetime.now(UTC)
        events: list[DeskEvent] = []
        try:
            status = self.ticks.status()
            if status is not None and status.age_seconds(now) > self.stale_after:
                events.append(stale_ticker(status, now))
        except Exception as exc:  # noqa: BLE001
            log.warning("ticker health unknown: %s", type(exc).__name__)
        try:
            session = self.kite_auth.status(now)
            if session.state == "expired":
                events.append(kite_token_expired(session))
        except Exception as exc:  # noqa: BLE001
            log.warning("Kite session health unknown: %s", type(exc).__name__)
        for event in events:
            self.notifier.notify(event)
        return events


__all__ = ["HealthAlerts", "STALE_TICKER_SECONDS"]
