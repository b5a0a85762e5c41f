"""What a fired alert does, in the worker (``workers.alerts.alert_triggered``).

``AlertActions.handle(payload)`` (``payload``: ``app.market.alerts.trigger_payload``, sent by the
ticker) does, idempotently per ``<alert_id>:<sequence>``:

1. records the trigger with its tick and disables the alert (``AlertService.record_trigger``:
   one row however often the trigger is re-sent, e.g. by a restarted ticker);
2. a **simple** alert: one notification (``core.events.alert_triggered`` on the desk's
   channels; the dashboard toasts the trigger log, ``AlertService.notices``);
3. an **ATO** alert: one **pending approval** (never an order) through
   ``TradingService.propose`` (the gatekeeper's preview, audit ``propose``), source ``alert``,
   the alert as the reason, the trigger's trace id. Before proposing it looks for a ``propose``
   audit row of that trace, so a redelivery after a crash between the proposal and the trigger
   row's update does not propose twice. A refused intent (``ValidationError``: e.g. the tick
   regime changed) is written on the trigger row's ``note`` and not retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.market.alerts import APPROVAL_SOURCE, AlertService
from core import alerts as al
from core.errors import ValidationError
from core.events import alert_triggered
from core.orders import price_from_float

log = logging.getLogger(__name__)


class AlertActions:
    """Record, notify, propose. ``trading``: ``TradingService``; ``notifier``: ``core.events.Notifier``;
    ``ticks``: the tick cache (an LTP when the trigger came from the other instrument);
    ``clock()``: the market time (tz-aware)."""

    def __init__(self, alerts: AlertService, trading: Any, notifier: Any, ticks: Any, *,
                 clock: Callable[[], datetime]) -> None:
        self.alerts, self.trading, self.notifier, self.ticks, self._clock = alerts, trading, notifier, ticks, clock

    def handle(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Act on one trigger; return its stored trigger row (with ``approval_id`` for an ATO)."""
        alert = al.alert_from_dict(payload["alert"])
        row, created = self.alerts.record_trigger(payload)
        seq = int(row["sequence"])
        if alert.kind is al.AlertType.ATO:
            if row.get("approval_id") is None and not row.get("note"):
                row = self._propose(alert, row)
        if created:
            self.notifier.notify(alert_triggered(alert.alert_id, seq, alert.name, row["condition"], row["lhs_value"],
                                                 proposed=bool(row.get("approval_id")), trace_id=row["trace_id"]))
        log.info("alert %s trigger #%d %s%s", alert.alert_id, seq, "recorded" if created else "seen again",
                 f", approval {row['approval_id']}" if row.get("approval_id") else "")
        return row

    def _propose(self, alert: al.Alert, row: dict[str, Any]) -> dict[str, Any]:
        trace, seq = row["trace_id"], int(row["sequence"])
        approval_id = self._proposed_before(trace)
        if approval_id is None:
            assert alert.order is not None
            intent = alert.order.intent(alert, trace_id=trace)
            reason = (f"alert {alert.name!r}: {row['condition']} triggered at {row['lhs_value']:g} "
                      f"(trigger #{seq})")
            try:
                view = self.trading.propose(intent, signal_price=self._signal_price(alert, row), reason=reason,
                                            source=APPROVAL_SOURCE, now=self._clock())
            except ValidationError as exc:
                note = f"not proposed: {exc}"
                self.alerts.set_trigger_result(alert.alert_id, seq, note=note)
                log.warning("alert %s trigger #%d %s", alert.alert_id, seq, note)
                return {**row, "note": note}
            approval_id = view.approval_id
        self.alerts.set_trigger_result(alert.alert_id, seq, approval_id=approval_id)
        return {**row, "approval_id": approval_id}

    def _proposed_before(self, trace_id: str) -> str | None:
        for r in self.trading.store.audit_rows(trace_id):
            approval_id = (r.get("details") or {}).get("approval_id")
            if r.get("action") == "propose" and approval_id:
                return str(approval_id)
        return None

    def _signal_price(self, alert: al.Alert, row: Mapping[str, Any]) -> Decimal:
        """The alert instrument's LTP on the triggering tick, else its latest cached LTP, else the
        order's own price."""
        tick = row.get("tick") or {}
        if int(tick.get("instrument_token") or 0) == alert.instrument_token and tick.get("last_price"):
            return price_from_float(float(tick["last_price"]))
        cached = self.ticks.latest([alert.instrument_token]).get(alert.instrument_token)
        if cached is not None and cached.tick.last_price > 0:
            return price_from_float(cached.tick.last_price)
        order = alert.order
        price = order.price or order.trigger_price if order is not None else None
        if price is None:
            raise ValidationError(f"no price for {alert.tradingsymbol} to propose at; wait for a tick")
        return price


__all__ = ["AlertActions"]
