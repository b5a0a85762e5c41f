"""Price alerts like Kite's: the rule, its validation, and a cheap evaluator over tick batches.

An alert watches one instrument's **attribute** (LTP, day high, day low, change %, volume) and
compares it (``>=``, ``<=``, ``>``, ``<``, ``==``) with a constant or with another instrument's
attribute. A **simple** alert notifies; an **ATO** alert (Kite's "Alert Triggers Order") carries
an order spec (:class:`AtoOrder`) that the desk turns into a *pending approval*, never an order.

Kite rules followed (Kite Connect v3 Alerts API, https://kite.trade/docs/connect/v3/alerts/):

* ``type`` is ``simple`` or ``ato``; ``status`` is ``enabled``, ``disabled`` or ``deleted``;
  operators ``<=``, ``>=``, ``<``, ``>``, ``==``; ``rhs_type`` ``constant`` or ``instrument``;
  ``alert_count`` counts the triggers.
* A triggered alert fires **once**: it becomes ``disabled`` (``disabled_reason`` "triggered")
  until the trader enables it again (a modify), which makes the next trigger a new sequence
  number (``alert_count + 1``).
* At most 200 alerts per user, disabled ones included (Zerodha support, "What are Kite alerts";
  :data:`MAX_ALERTS`).

Not followed: Kite's attribute names (``LastTradedPrice``…) are not used on the desk's screens;
the desk's own short names (:class:`Attribute`) map onto the tick's fields
(``core.tick_batch`` columns, ``core.models.Tick``).

Values: prices in ₹ (float, as ticks carry them), change in percent of the previous close,
volume in shares (the day's cumulative ``volume_traded``). A field the packet does not carry
(an LTP-mode packet has no high/low/close/volume; an index packet has no volume) is *absent*:
an alert on it does not evaluate on that packet, it never compares against 0.

Evaluation (:class:`AlertEvaluator`): alerts are indexed by every instrument_token they read
(left side and, for an instrument right-hand side, the other token); a batch costs one
``numpy.isin`` of its tokens against the index, and Python work only for the packets of watched
tokens. The right-hand side of an instrument-vs-instrument alert is that instrument's latest
value seen by the evaluator. Pure: no clock, no I/O.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import numpy as np

from core.errors import ValidationError
from core.orders import OrderIntent, OrderType, Product, Side
from core.text_caps import shown
from core.validation import require_enum, require_text

#: Kite's cap: alerts per user, disabled ones included (Zerodha support article).
MAX_ALERTS = 200
#: Longest alert name (Kite's name field is free text; the desk caps it).
NAME_MAX_CHARS = 80
#: Packet lengths (``core.tick_batch``): LTP-only and index packets lack some fields.
_LTP_LEN, _INDEX_LENS = 8, (28, 32)


class Attribute(StrEnum):
    """What an alert reads from a tick (units in the module docstring)."""

    LTP = "LTP"
    DAY_HIGH = "day_high"
    DAY_LOW = "day_low"
    CHANGE_PCT = "change_pct"
    VOLUME = "volume"


#: Labels for screens.
ATTRIBUTE_LABELS = {Attribute.LTP: "LTP (₹)", Attribute.DAY_HIGH: "Day high (₹)", Attribute.DAY_LOW: "Day low (₹)",
                    Attribute.CHANGE_PCT: "Change %", Attribute.VOLUME: "Volume (shares)"}


class Operator(StrEnum):
    GE = ">="
    LE = "<="
    GT = ">"
    LT = "<"
    EQ = "=="


class AlertType(StrEnum):
    SIMPLE = "simple"
    ATO = "ato"


class AlertStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"


_COMPARE = {
    Operator.GE: lambda a, b: a >= b, Operator.LE: lambda a, b: a <= b, Operator.GT: lambda a, b: a > b,
    Operator.LT: lambda a, b: a < b, Operator.EQ: lambda a, b: a == b,
}


@dataclass(frozen=True, slots=True)
class AtoOrder:
    """The order an ATO alert proposes: Kite's basket item, one order. ``quantity`` shares,
    ``price``/``trigger_price`` ₹ (as the order ticket takes them; ``None`` where the type has
    none). Checked by ``core.orders.OrderIntent`` (types, signs, prices vs order type) when
    built through :func:`ato_order`."""

    side: Side
    quantity: int
    product: Product
    order_type: OrderType
    price: Decimal | None = None
    trigger_price: Decimal | None = None

    def intent(self, alert: Alert, *, trace_id: str = "") -> OrderIntent:
        """The ``OrderIntent`` for ``alert``'s instrument (tag ``alert``, strategy ``alert:<id>``)."""
        return OrderIntent(alert.instrument_token, alert.tradingsymbol, self.side, self.quantity, self.product,
                           self.order_type, price=self.price, trigger_price=self.trigger_price, tag="alert",
                           strategy=f"alert:{alert.alert_id}", trace_id=trace_id)

    def describe(self) -> str:
        at = f" @ ₹{self.price}" if self.price is not None else ""
        trig = f" trigger ₹{self.trigger_price}" if self.trigger_price is not None else ""
        return f"{self.side} {self.quantity:,} {self.product} {self.order_type}{at}{trig}"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. ``rhs_constant`` xor (``rhs_token``, ``rhs_tradingsymbol``, ``rhs_attribute``);
    ``order`` only for ATO; ``alert_count`` triggers so far; times are the store's business."""

    alert_id: str
    name: str
    instrument_token: int
    tradingsymbol: str
    attribute: Attribute
    operator: Operator
    rhs_constant: float | None = None
    rhs_token: int | None = None
    rhs_tradingsymbol: str = ""
    rhs_attribute: Attribute | None = None
    kind: AlertType = AlertType.SIMPLE
    status: AlertStatus = AlertStatus.ENABLED
    order: AtoOrder | None = None
    alert_count: int = 0

    @property
    def active(self) -> bool:
        return self.status is AlertStatus.ENABLED

    @property
    def tokens(self) -> tuple[int, ...]:
        """Every instrument_token the alert reads."""
        return (self.instrument_token,) if self.rhs_token is None else (self.instrument_token, self.rhs_token)

    def condition(self) -> str:
        """``"INFY LTP >= 1500"`` or ``"INFY LTP > TCS LTP"``."""
        rhs = (f"{self.rhs_tradingsymbol} {self.rhs_attribute}" if self.rhs_token is not None
               else f"{self.rhs_constant:g}")
        return f"{self.tradingsymbol} {self.attribute} {self.operator} {rhs}"


@dataclass(frozen=True, slots=True)
class Trigger:
    """An alert that fired on a tick: its ``sequence`` (``alert_count + 1``), the two compared
    values and the triggering tick (JSON-simple: ``instrument_token``, ``last_price``, ``high``,
    ``low``, ``close``, ``volume_traded``, ``exchange_timestamp`` unix s or -1)."""

    alert: Alert
    sequence: int
    lhs_value: float
    rhs_value: float
    tick: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Idempotency key: ``<alert_id>:<sequence>`` (the same trigger after a restart has the same key)."""
        return f"{self.alert.alert_id}:{self.sequence}"

    @property
    def trace_id(self) -> str:
        return trigger_trace_id(self.alert.alert_id, self.sequence)


def trigger_trace_id(alert_id: str, sequence: int) -> str:
    """The trace id of trigger ``sequence`` of ``alert_id``: derived from the idempotency key, so a
    re-sent trigger carries the same trace (``T-`` + 20 hex)."""
    return "T-" + hashlib.sha256(f"{alert_id}:{sequence}".encode()).hexdigest()[:20]


# ---------------------------------------------------------------------------------------- validation


def parse_value(name: str, value: object, attribute: Attribute) -> float:
    """A constant right-hand side for ``attribute``: finite; ≥ 0 except change % (which may be
    negative); volume a whole number. Raises ``ValidationError`` naming the field and value."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise ValidationError(f"{name} must be a number, was {shown(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError, InvalidOperation):
        raise ValidationError(f"{name} must be a number, was {shown(value)}") from None
    if not math.isfinite(number):
        raise ValidationError(f"{name} must be a finite number, was {shown(value)}")
    if attribute is not Attribute.CHANGE_PCT and number < 0:
        raise ValidationError(f"{name} for {attribute} cannot be negative, was {shown(value)}")
    if attribute is Attribute.CHANGE_PCT and abs(number) > 100:
        raise ValidationError(f"{name} for change % must be between -100 and 100, was {shown(value)}")
    if attribute is Attribute.VOLUME and number != int(number):
        raise ValidationError(f"{name} for volume must be a whole number of shares, was {shown(value)}")
    return number


def _money(name: str, value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise ValidationError(f"{name} must be rupees, was {shown(value)}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(f"{name} must be rupees, was {shown(value)}") from None
    if not number.is_finite() or number <= 0:
        raise ValidationError(f"{name} must be positive rupees, was {shown(value)}")
    return number


def ato_order(spec: Mapping[str, Any]) -> AtoOrder:
    """An ``AtoOrder`` from a mapping with ``side``, ``quantity``, ``product``, ``order_type`` and,
    as the type needs, ``price``/``trigger_price`` (₹). Raises ``ValidationError`` for anything
    the order ticket would refuse at this stage (enum values, quantity, prices vs type); tick and
    lot checks need the instrument (``core.orders.validate_intent``, the caller's job)."""
    if not isinstance(spec, Mapping):
        raise ValidationError(f"an ATO alert needs an order (side, quantity, product, order_type), was {shown(spec)}")
    quantity = spec.get("quantity")
    if isinstance(quantity, str) and quantity.strip().isdigit():
        quantity = int(quantity.strip())
    order = AtoOrder(require_enum("side", spec.get("side"), Side), quantity,  # type: ignore[arg-type]
                     require_enum("product", spec.get("product"), Product),
                     require_enum("order_type", spec.get("order_type"), OrderType),
                     _money("price", spec.get("price")), _money("trigger_price", spec.get("trigger_price")))
    order.intent(Alert("check", "check", 1, "CHECK", Attribute.LTP, Operator.GE, 0.0))  # OrderIntent's own rules
    return order


def check_alert(alert: Alert) -> Alert:
    """Return ``alert`` if it is well formed, else raise ``ValidationError`` saying what to fix:
    name, enums, exactly one right-hand side, the constant's range, an instrument not compared
    with itself on the same attribute, ATO ⇔ order."""
    require_text("name", alert.name, cap=NAME_MAX_CHARS)
    require_enum("attribute", alert.attribute, Attribute)
    require_enum("operator", alert.operator, Operator)
    require_enum("type", alert.kind, AlertType)
    require_enum("status", alert.status, AlertStatus)
    if not isinstance(alert.instrument_token, int) or alert.instrument_token <= 0:
        raise ValidationError(f"instrument_token must be a positive int, was {shown(alert.instrument_token)}")
    if alert.rhs_token is None:
        if alert.rhs_constant is None:
            raise ValidationError("an alert compares with a value or with another instrument: give one")
        parse_value("value", alert.rhs_constant, alert.attribute)
    else:
        if alert.rhs_constant is not None:
            raise ValidationError("give a value or another instrument to compare with, not both")
        require_enum("rhs_attribute", alert.rhs_attribute, Attribute)
        if alert.rhs_token == alert.instrument_token and alert.rhs_attribute == alert.attribute:
            raise ValidationError(f"{alert.tradingsymbol} {alert.attribute} compared with itself is always the same; "
                                  "pick another instrument or attribute")
    if alert.kind is AlertType.ATO and alert.order is None:
        raise ValidationError("an ATO alert needs the order it proposes (side, quantity, product, order_type)")
    if alert.kind is AlertType.SIMPLE and alert.order is not None:
        raise ValidationError("a simple alert carries no order; make it an ATO alert to propose one")
    return alert


# ---------------------------------------------------------------------------------------- JSON form


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """JSON-simple form (the Redis cache, queue messages); money as strings."""
    order = alert.order
    return dict(
        alert_id=alert.alert_id, name=alert.name, instrument_token=alert.instrument_token,
        tradingsymbol=alert.tradingsymbol, attribute=str(alert.attribute), operator=str(alert.operator),
        rhs_constant=alert.rhs_constant, rhs_token=alert.rhs_token, rhs_tradingsymbol=alert.rhs_tradingsymbol,
        rhs_attribute=str(alert.rhs_attribute) if alert.rhs_attribute else None, kind=str(alert.kind),
        status=str(alert.status), alert_count=alert.alert_count,
        order=None if order is None else dict(
            side=str(order.side), quantity=order.quantity, product=str(order.product),
            order_type=str(order.order_type), price=None if order.price is None else str(order.price),
            trigger_price=None if order.trigger_price is None else str(order.trigger_price)),
    )


def alert_from_dict(data: Mapping[str, Any]) -> Alert:
    """Inverse of :func:`alert_to_dict`. Raises ``ValidationError`` for a malformed mapping."""
    try:
        rhs_attr = data.get("rhs_attribute")
        return Alert(
            alert_id=str(data["alert_id"]), name=str(data["name"]), instrument_token=int(data["instrument_token"]),
            tradingsymbol=str(data["tradingsymbol"]), attribute=Attribute(data["attribute"]),
            operator=Operator(data["operator"]),
            rhs_constant=None if data.get("rhs_constant") is None else float(data["rhs_constant"]),
            rhs_token=None if data.get("rhs_token") is None else int(data["rhs_token"]),
            rhs_tradingsymbol=str(data.get("rhs_tradingsymbol") or ""),
            rhs_attribute=Attribute(rhs_attr) if rhs_attr else None, kind=AlertType(data.get("kind", "simple")),
            status=AlertStatus(data.get("status", "enabled")),
            order=ato_order(data["order"]) if data.get("order") else None,
            alert_count=int(data.get("alert_count") or 0),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"malformed alert record ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------------------------------- evaluation


def tick_values(packet_length: int, last_price: float, high: float, low: float, close: float,
                volume: float) -> dict[Attribute, float]:
    """The attributes one packet carries (absent ones left out; see the module docstring)."""
    values = {Attribute.LTP: last_price}
    if packet_length == _LTP_LEN:
        return values
    if high > 0:
        values[Attribute.DAY_HIGH] = high
    if low > 0:
        values[Attribute.DAY_LOW] = low
    if close > 0:
        values[Attribute.CHANGE_PCT] = (last_price - close) * 100.0 / close
    if packet_length not in _INDEX_LENS:
        values[Attribute.VOLUME] = float(volume)
    return values


class AlertEvaluator:
    """Active alerts indexed by instrument_token, evaluated on tick batches (or on any values).

    ``evaluate(batch)`` returns the alerts that fired, in packet order; a fired alert leaves the
    index at once (trigger once), so a later packet of the same batch does not fire it again.
    Not thread-safe: one ticker thread.
    """

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self._by_token: dict[int, list[Alert]] = {}
        self._tokens = np.zeros(0, dtype=np.int64)
        self._last: dict[tuple[int, Attribute], float] = {}
        self.load(alerts)

    def load(self, alerts: Iterable[Alert]) -> None:
        """Replace the active set with the enabled ones of ``alerts`` (the latest values seen are kept)."""
        by_token: dict[int, list[Alert]] = {}
        for a in alerts:
            if a.active:
                for t in a.tokens:
                    by_token.setdefault(t, []).append(a)
        self._by_token = by_token
        self._tokens = np.fromiter(by_token, dtype=np.int64, count=len(by_token))

    def __len__(self) -> int:
        return len({a.alert_id for alerts in self._by_token.values() for a in alerts})

    def evaluate(self, batch: Any) -> list[Trigger]:
        """Alerts fired by ``batch`` (a ``core.tick_batch.TickBatch``), in packet order."""
        if not self._tokens.size or not len(batch):
            return []
        hit = np.flatnonzero(np.isin(batch.instrument_token, self._tokens))
        if not hit.size:
            return []
        cols = zip(batch.instrument_token[hit].tolist(), batch.packet_length[hit].tolist(),
                   batch.last_price[hit].tolist(), batch.high[hit].tolist(), batch.low[hit].tolist(),
                   batch.close[hit].tolist(), batch.volume_traded[hit].tolist(),
                   batch.exchange_timestamp[hit].tolist(), strict=True)
        fired: list[Trigger] = []
        for token, plen, ltp, high, low, close, volume, ets in cols:
            tick = dict(instrument_token=token, last_price=ltp, high=high, low=low, close=close,
                        volume_traded=volume, exchange_timestamp=ets)
            fired.extend(self.evaluate_values(token, tick_values(plen, ltp, high, low, close, volume), tick))
        return fired

    def evaluate_values(self, token: int, values: Mapping[Attribute, float],
                        tick: dict[str, Any] | None = None) -> list[Trigger]:
        """Record ``token``'s latest ``values`` and fire the alerts that read it. A backtest can
        call this per bar (e.g. LTP = close, day high/low so far, volume so far)."""
        alerts = self._by_token.get(token)
        if not alerts:
            return []
        last = self._last
        for attr, v in values.items():
            last[(token, attr)] = v
        fired: list[Trigger] = []
        for a in list(alerts):
            lhs = last.get((a.instrument_token, a.attribute))
            rhs = a.rhs_constant if a.rhs_token is None else last.get((a.rhs_token, a.rhs_attribute))  # type: ignore[arg-type]
            if lhs is None or rhs is None or not _COMPARE[a.operator](lhs, rhs):
                continue
            fired.append(Trigger(a, a.alert_count + 1, float(lhs), float(rhs), dict(tick or {})))
            self._drop(a)
        return fired

    def _drop(self, alert: Alert) -> None:
        for t in alert.tokens:
            rest = [x for x in self._by_token.get(t, ()) if x.alert_id != alert.alert_id]
            if rest:
                self._by_token[t] = rest
            else:
                self._by_token.pop(t, None)
        self._tokens = np.fromiter(self._by_token, dtype=np.int64, count=len(self._by_token))


def triggered(alert: Alert, sequence: int) -> Alert:
    """``alert`` after trigger ``sequence``: disabled, ``alert_count = max(count, sequence)``."""
    return replace(alert, status=AlertStatus.DISABLED, alert_count=max(alert.alert_count, sequence))


__all__ = [
    "ATTRIBUTE_LABELS", "MAX_ALERTS", "NAME_MAX_CHARS", "Alert", "AlertEvaluator", "AlertStatus", "AlertType",
    "AtoOrder", "Attribute", "Operator", "Trigger", "alert_from_dict", "alert_to_dict", "ato_order", "check_alert",
    "parse_value", "tick_values", "trigger_trace_id", "triggered",
]
