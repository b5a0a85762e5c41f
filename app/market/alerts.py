"""Alerts: create, modify, delete and list the trader's alerts (``core.alerts`` rules), keep the
ticker's Redis copy current, and record triggers.

* **Store.** ``AlertStore`` (SQLite / PostgreSQL, ``app.adapters.alert_store``): alerts survive
  restarts; every write republishes the enabled alerts to Redis (``ACTIVE_KEY``, a JSON list)
  and bumps ``VERSION_KEY``, which the ticker polls about once a second.
* **Validation** before anything is written (``ValidationError``, nothing stored): an unknown
  instrument (with close matches), attribute or operator; a value that is NaN, infinite,
  negative (change % may be negative), or not a whole volume; an ATO order through the order
  ticket's checks (``core.orders.OrderIntent`` + ``validate_intent``: enums, quantity and lot,
  prices for the order type and on the tick, no index); more than ``core.alerts.MAX_ALERTS``
  alerts (Kite's cap, disabled ones included).
* **Ticker hook.** :class:`TickerAlerts` evaluates each decoded tick batch
  (``core.alerts.AlertEvaluator``) and sends each trigger to the worker
  (``send(payload)``, the Dramatiq actor ``alert_triggered`` on the ``trading`` queue) so the
  ticker never waits for the store; a trigger is sent once per process, and a restart that
  re-sends one is harmless (the idempotency key ``<alert_id>:<sequence>``).
* **Triggers** (the worker, ``app.ops.alert_actions``): :meth:`AlertService.record_trigger` logs
  the trigger with its tick and disables the alert (trigger once), exactly once per key.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from core import alerts as al
from core.errors import ValidationError
from core.orders import validate_intent
from core.text_caps import shown
from core.timeutil import require_aware, to_ist, to_utc
from core.validation import require_enum, require_text

log = logging.getLogger(__name__)

#: Redis: the enabled alerts (JSON list of ``core.alerts.alert_to_dict``) and their version counter.
ACTIVE_KEY = "desk:alerts:active"
VERSION_KEY = "desk:alerts:version"
#: Where the ticker sends a trigger (``workers.alerts``).
TRIGGER_QUEUE = "trading"
TRIGGER_ACTOR = "alert_triggered"
#: The approvals ``source`` of an ATO proposal.
APPROVAL_SOURCE = "alert"


@dataclass(frozen=True)
class AlertView:
    """An alert as the Alerts page shows it: the rule plus its bookkeeping (UTC times)."""

    alert: al.Alert
    disabled_reason: str
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def alert_id(self) -> str:
        return self.alert.alert_id


@dataclass(frozen=True)
class AlertNotice:
    """A trigger to toast (``app.ui.desk.page_notices``): same fields as the trading notices."""

    notice_id: str
    kind: str
    tradingsymbol: str
    at: datetime
    text: str
    level: str = "info"


def _new_id() -> str:
    """``AL-`` + 16 hex: wall-clock microseconds then random, so ids sort in creation order."""
    return f"AL-{time.time_ns() // 1000:013x}{uuid.uuid4().hex[:3]}"


def trigger_payload(trigger: al.Trigger) -> dict[str, Any]:
    """The JSON-simple message the ticker sends for ``trigger``."""
    return dict(alert=al.alert_to_dict(trigger.alert), sequence=trigger.sequence, lhs_value=trigger.lhs_value,
                rhs_value=trigger.rhs_value, tick=trigger.tick, trace_id=trigger.trace_id)


def _row_to_alert(row: Mapping[str, Any]) -> al.Alert:
    return al.alert_from_dict({**row, "order": row.get("ato_order")})


def _view(row: Mapping[str, Any]) -> AlertView:
    return AlertView(_row_to_alert(row), row.get("disabled_reason") or "", row.get("created_by") or "",
                     row["created_at"], row["updated_at"])


class AlertService:
    """Alerts on ``store`` (``AlertStore``), instruments from ``instruments``
    (``InstrumentService``), the ticker's copy in ``redis``; ``clock()`` the market time (tz-aware)."""

    def __init__(self, store: Any, instruments: Any, redis: Any, *, clock: Callable[[], datetime],
                 max_alerts: int = al.MAX_ALERTS) -> None:
        self.store, self.instruments, self.redis = store, instruments, redis
        self._clock, self.max_alerts = clock, max_alerts

    # ------------------------------------------------------------------ reads
    def list(self) -> list[AlertView]:
        """Every alert but the deleted ones, oldest first."""
        return [_view(r) for r in self.store.list()]

    def get(self, alert_id: str) -> AlertView:
        row = self.store.get(str(alert_id))
        if row is None or row["status"] == "deleted":
            raise ValidationError(f"unknown alert {shown(alert_id)}; pick one from the Alerts page")
        return _view(row)

    def triggers(self, limit: int = 50) -> list[dict[str, Any]]:
        """The trigger log, newest first (rows of ``alert_triggers``)."""
        return self.store.triggers(limit)

    def notices(self, limit: int = 10) -> list[AlertNotice]:
        """Recent triggers as notices (newest first) for the next page's toast and Home."""
        out = []
        for r in self.store.triggers(limit):
            what = ("proposed for approval" if r["kind"] == "ato" else "triggered")
            text = f"Alert {r['name']!r} {what}: {r['condition']} (at {r['lhs_value']:g})."
            out.append(AlertNotice(f"alert:{r['alert_id']}:{r['sequence']}", "alert", r["tradingsymbol"],
                                   to_ist(r["triggered_at"]), text))
        return out

    # ------------------------------------------------------------------ writes
    def create(self, *, name: str, instrument: str | int, attribute: Any, operator: Any, value: Any = None,
               rhs_instrument: str | int | None = None, rhs_attribute: Any = None, kind: Any = "simple",
               order: Mapping[str, Any] | None = None, user: str = "trader") -> AlertView:
        """Validate and store a new enabled alert; return it.

        ``instrument`` ``"NSE:INFY"``/``"INFY"``/token; ``attribute`` one of ``core.alerts.Attribute``;
        ``operator`` ``>=``, ``<=``, ``>``, ``<``, ``==``; ``value`` the constant (₹, %, shares) **or**
        ``rhs_instrument`` + ``rhs_attribute``; ``kind`` ``simple`` | ``ato``; ``order`` (ATO) a
        mapping ``side, quantity, product, order_type[, price, trigger_price]``.

        Raises ``ValidationError`` (nothing stored) for any bad field (module docstring).
        """
        now = self._now()
        if self.store.count() >= self.max_alerts:
            raise ValidationError(f"you have {self.max_alerts} alerts, the most Kite allows (disabled ones count); "
                                  "delete some first")
        alert = self._build(_new_id(), name=name, instrument=instrument, attribute=attribute,
                            operator=operator, value=value, rhs_instrument=rhs_instrument,
                            rhs_attribute=rhs_attribute, kind=kind, order=order, now=now)
        user = require_text("user", user, cap=64)
        self.store.insert(dict(self._columns(alert), disabled_reason="", created_by=user, created_at=to_utc(now),
                               updated_at=to_utc(now)))
        self.publish()
        return self.get(alert.alert_id)

    def modify(self, alert_id: str, *, enabled: bool | None = None, **changes: Any) -> AlertView:
        """Change any field :meth:`create` takes (omitted ones stay) and/or ``enabled``. Re-enabling
        a triggered alert arms it for its next trigger (sequence ``alert_count + 1``).
        Raises ``ValidationError`` (nothing changed) for an unknown alert or a bad field."""
        current = self.get(alert_id).alert
        allowed = {"name", "instrument", "attribute", "operator", "value", "rhs_instrument", "rhs_attribute",
                   "kind", "order"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValidationError(f"cannot modify {unknown}; fields are {sorted(allowed)} and enabled")
        merged: dict[str, Any] = dict(
            name=current.name, instrument=current.instrument_token, attribute=current.attribute,
            operator=current.operator, value=current.rhs_constant, rhs_instrument=current.rhs_token,
            rhs_attribute=current.rhs_attribute, kind=current.kind,
            order=al.alert_to_dict(current)["order"])
        if "value" in changes and changes["value"] is not None:
            merged.update(rhs_instrument=None, rhs_attribute=None)
        if changes.get("rhs_instrument") is not None:
            merged["value"] = None
        if changes.get("kind") is not None and str(changes["kind"]).lower() == "simple":
            merged["order"] = None
        merged.update(changes)
        now = self._now()
        alert = self._build(current.alert_id, now=now, **merged)
        values = self._columns(replace(alert, alert_count=current.alert_count))
        values.pop("alert_id")
        status = current.status
        if enabled is not None:
            if not isinstance(enabled, bool):
                raise ValidationError(f"enabled must be True or False, was {shown(enabled)}")
            status = al.AlertStatus.ENABLED if enabled else al.AlertStatus.DISABLED
        values.update(status=str(status), alert_count=current.alert_count, updated_at=to_utc(now))
        if status is al.AlertStatus.ENABLED:
            values["disabled_reason"] = ""
        elif enabled is False:
            values["disabled_reason"] = "disabled by the trader"
        if not self.store.update(current.alert_id, values):
            raise ValidationError(f"unknown alert {shown(alert_id)}; it was deleted meanwhile")
        self.publish()
        return self.get(current.alert_id)

    def delete(self, alert_id: str) -> None:
        """Delete an alert (status ``deleted``: its trigger log stays). Raises ``ValidationError``
        for an unknown alert."""
        current = self.get(alert_id)
        self.store.update(current.alert_id, dict(status="deleted", updated_at=to_utc(self._now())))
        self.publish()

    # ------------------------------------------------------------------ the ticker's copy
    def publish(self) -> None:
        """Write the enabled alerts to Redis and bump the version (logged, not raised, when
        Redis is down: the ticker keeps its last copy until the next write)."""
        active = [al.alert_to_dict(_row_to_alert(r)) for r in self.store.list(status="enabled")]
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(ACTIVE_KEY, json.dumps(active))
            pipe.incr(VERSION_KEY)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - the store is the truth; the next write republishes
            log.warning("alerts: the ticker's copy was not updated (Redis: %s)", type(exc).__name__)

    def active(self) -> list[al.Alert]:
        """The enabled alerts as the ticker sees them: Redis's copy, or the store's (then republished)."""
        raw = self.redis.get(ACTIVE_KEY)
        if raw is None:
            self.publish()
            return [_row_to_alert(r) for r in self.store.list(status="enabled")]
        return [al.alert_from_dict(d) for d in json.loads(raw)]

    def tokens(self) -> set[int]:
        """Every instrument_token the enabled alerts read (the ticker subscribes them)."""
        return {t for a in self.active() for t in a.tokens}

    def version(self) -> int:
        raw = self.redis.get(VERSION_KEY)
        return int(raw) if raw is not None else 0

    # ------------------------------------------------------------------ triggers (the worker)
    def record_trigger(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Log trigger ``payload`` (``trigger_payload``) and disable its alert, once per
        ``<alert_id>:<sequence>``; return ``(the stored trigger row, created now)``."""
        alert = al.alert_from_dict(payload["alert"])
        seq = int(payload["sequence"])
        tick = dict(payload.get("tick") or {})
        ets = int(tick.get("exchange_timestamp") or -1)
        at = datetime.fromtimestamp(ets, UTC) if ets > 0 else to_utc(self._now())
        row = dict(alert_id=alert.alert_id, sequence=seq, trace_id=str(payload.get("trace_id") or
                                                                    al.trigger_trace_id(alert.alert_id, seq)),
                   kind=str(alert.kind), name=alert.name, tradingsymbol=alert.tradingsymbol,
                   condition=alert.condition(), lhs_value=float(payload["lhs_value"]),
                   rhs_value=float(payload["rhs_value"]), tick=tick, triggered_at=at, approval_id=None, note="")
        created = self.store.record_trigger(row, updated_at=to_utc(self._now()))
        if created:
            self.publish()
        return self.store.get_trigger(alert.alert_id, seq) or row, created

    def set_trigger_result(self, alert_id: str, sequence: int, *, approval_id: str | None = None,
                           note: str = "") -> None:
        self.store.set_trigger_result(alert_id, sequence, approval_id=approval_id, note=note[:500])

    # ------------------------------------------------------------------ helpers
    def _now(self) -> datetime:
        return require_aware(self._clock(), "clock()")

    def _build(self, alert_id: str, *, name: Any, instrument: Any, attribute: Any, operator: Any, value: Any,
               rhs_instrument: Any, rhs_attribute: Any, kind: Any, order: Any, now: datetime) -> al.Alert:
        inst = self._instrument("instrument", instrument)
        attr = require_enum("attribute", attribute, al.Attribute)
        op = require_enum("operator", operator, al.Operator)
        kind = require_enum("type", kind, al.AlertType)
        rhs_token, rhs_symbol, rhs_attr, constant = None, "", None, None
        if rhs_instrument is not None and rhs_instrument != "":
            if value is not None and value != "":
                raise ValidationError("give a value or another instrument to compare with, not both")
            other = self._instrument("rhs_instrument", rhs_instrument)
            rhs_token, rhs_symbol = other.instrument_token, other.tradingsymbol
            rhs_attr = require_enum("rhs_attribute", rhs_attribute if rhs_attribute is not None else attr,
                                    al.Attribute)
        elif value is None or value == "":
            raise ValidationError("an alert compares with a value or with another instrument: give one")
        else:
            constant = al.parse_value("value", value, attr)
        ato = None
        if kind is al.AlertType.ATO:
            ato = al.ato_order(order) if order is not None else None
        elif order:
            raise ValidationError("a simple alert carries no order; make it an ATO alert to propose one")
        alert = al.check_alert(al.Alert(alert_id, require_text("name", name, cap=al.NAME_MAX_CHARS),
                                        inst.instrument_token, inst.tradingsymbol, attr, op, constant, rhs_token,
                                        rhs_symbol, rhs_attr, kind, order=ato))
        if ato is not None:  # the order ticket's instrument checks: lot, tick of the day, no index
            validate_intent(ato.intent(alert), inst, on=to_ist(now).date())
        return alert

    def _instrument(self, field: str, key: Any):
        if isinstance(key, bool) or not isinstance(key, (str, int)) or (isinstance(key, str) and not key.strip()):
            raise ValidationError(f"{field} must be an instrument like NSE:INFY, was {shown(key)}")
        try:
            return self.instruments.resolve(key.strip() if isinstance(key, str) else key)
        except ValidationError as exc:
            raise ValidationError(f"{field}: {exc}") from None

    @staticmethod
    def _columns(alert: al.Alert) -> dict[str, Any]:
        d = al.alert_to_dict(alert)
        d["ato_order"] = d.pop("order")
        return d


class TickerAlerts:
    """The ticker's alerts hook: ``hook(batch, received_at)`` after each decoded frame.

    ``load()`` returns the enabled alerts (``AlertService.active``), ``version()`` their version
    (re-read at most every ``reload_seconds``; a change reloads), ``send(payload)`` hands a
    trigger to the worker. A failed send is retried on the next batch; a trigger already sent by
    this process is not sent again while the store still lists the alert as enabled.
    """

    def __init__(self, load: Callable[[], list[al.Alert]], version: Callable[[], int],
                 send: Callable[[dict[str, Any]], object], *, reload_seconds: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._load, self._version, self._send = load, version, send
        self.reload_seconds, self._monotonic = reload_seconds, monotonic
        self.evaluator = al.AlertEvaluator()
        self._loaded: int | None = None
        self._checked = float("-inf")
        self._sent: set[str] = set()
        self._unsent: list[dict[str, Any]] = []
        self.triggers_total = 0
        self.errors = 0

    def refresh(self, *, force: bool = False) -> None:
        """Reload the alerts when their version changed (or ``force``). Never raises."""
        now = self._monotonic()
        if not force and now - self._checked < self.reload_seconds:
            return
        self._checked = now
        try:
            version = self._version()
            if force or version != self._loaded:
                alerts = self._load()
                self.evaluator.load(a for a in alerts if f"{a.alert_id}:{a.alert_count + 1}" not in self._sent)
                self._loaded = version
        except Exception as exc:  # noqa: BLE001 - Redis or the store down: keep the last copy
            self.errors += 1
            if self.errors == 1 or self.errors % 100 == 0:
                log.warning("alerts: not reloaded (%s); keeping %d", exc, len(self.evaluator))

    def __call__(self, batch: Any, received_at: datetime) -> list[al.Trigger]:
        self.refresh()
        fired = self.evaluator.evaluate(batch)
        for t in fired:
            self._sent.add(t.key)
            self._unsent.append(trigger_payload(t))
            self.triggers_total += 1
            log.info("alert %s triggered (#%d): %s at %g; trace %s", t.alert.alert_id, t.sequence,
                     t.alert.condition(), t.lhs_value, t.trace_id)
        if self._unsent:
            self._flush()
        return fired

    def _flush(self) -> None:
        pending, self._unsent = self._unsent, []
        for i, payload in enumerate(pending):
            try:
                self._send(payload)
            except Exception as exc:  # noqa: BLE001 - Redis down: retried on the next batch
                self.errors += 1
                log.warning("alerts: trigger %s:%s not sent (%s); will retry", payload["alert"]["alert_id"],
                            payload["sequence"], exc)
                self._unsent = pending[i:] + self._unsent
                return


__all__ = ["ACTIVE_KEY", "APPROVAL_SOURCE", "AlertNotice", "AlertService", "AlertView", "TickerAlerts",
           "TRIGGER_ACTOR", "TRIGGER_QUEUE", "VERSION_KEY", "trigger_payload"]
