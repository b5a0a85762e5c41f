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
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import numpy as np

from core.errors import ValidationError
from core.models import Bar
from core.orders import OrderIntent, OrderType, Product, Side
from core.text_caps import shown
from core.timeutil import to_ist
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


#: Column order of the evaluator's value arrays.
_ATTRS = tuple(Attribute)
_ATTR_COL = {a: i for i, a in enumerate(_ATTRS)}
_OPS = tuple(Operator)
_OP_CODE = {o: i for i, o in enumerate(_OPS)}
_NP_COMPARE = (np.greater_equal, np.less_equal, np.greater, np.less, np.equal)  # in _OPS order


def tick_values(packet_length: int, last_price: float, high: float, low: float, close: float,
                volume: float) -> dict[Attribute, float]:
    """The attributes one packet carries (absent ones left out; see the module docstring)."""
    row = _value_rows(np.array([packet_length]), np.array([last_price], dtype=float), np.array([high], dtype=float),
                      np.array([low], dtype=float), np.array([close], dtype=float),
                      np.array([volume], dtype=float))[0]
    return {a: float(row[i]) for i, a in enumerate(_ATTRS) if not math.isnan(row[i])}


def _value_rows(plen: np.ndarray, ltp: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> np.ndarray:
    """``(n, 5)`` float64 attribute values (``_ATTRS`` order), NaN where the packet lacks the field."""
    n = ltp.shape[0]
    out = np.full((n, len(_ATTRS)), np.nan)
    out[:, _ATTR_COL[Attribute.LTP]] = ltp
    quote = plen != _LTP_LEN
    out[:, _ATTR_COL[Attribute.DAY_HIGH]] = np.where(quote & (high > 0), high, np.nan)
    out[:, _ATTR_COL[Attribute.DAY_LOW]] = np.where(quote & (low > 0), low, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, _ATTR_COL[Attribute.CHANGE_PCT]] = np.where(quote & (close > 0), (ltp - close) * 100.0 / close, np.nan)
    equity = quote & ~np.isin(plen, _INDEX_LENS)
    out[:, _ATTR_COL[Attribute.VOLUME]] = np.where(equity, volume, np.nan)
    return out


def _compare(op: np.ndarray, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Element-wise ``lhs <op> rhs`` for operator codes ``op``; False where either side is NaN."""
    out = np.zeros(lhs.shape[0], dtype=bool)
    for code, fn in enumerate(_NP_COMPARE):
        m = op == code
        if m.any():
            out[m] = fn(lhs[m], rhs[m])
    return out


class AlertEvaluator:
    """Active alerts indexed by instrument_token, evaluated on tick batches (or on any values).

    ``evaluate(batch)`` returns the alerts that fired, in packet order; a fired alert leaves the
    index at once (trigger once), so a later packet of the same batch does not fire it again.

    Cost: a constant alert is checked against each packet of its token (vectorised: the batch's
    watched packets × their alerts, one comparison array); an instrument-vs-instrument alert is
    checked once per batch that carries either token, on the latest values of both (so two
    packets of one token in one frame count as its last). Python runs only for alerts that fire.
    Not thread-safe: one ticker thread.
    """

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self.load(alerts)

    def load(self, alerts: Iterable[Alert]) -> None:
        """Replace the active set with the enabled ones of ``alerts`` (latest values seen are kept)."""
        active = [a for a in alerts if a.active]
        old = getattr(self, "_tokens", None)
        old_last = getattr(self, "_last", None)
        self._tokens = np.unique(np.fromiter((t for a in active for t in a.tokens), dtype=np.int64))
        self._last = np.full((self._tokens.shape[0], len(_ATTRS)), np.nan)
        if old is not None and old.size and self._tokens.size:
            keep = np.isin(self._tokens, old)
            self._last[keep] = old_last[np.searchsorted(old, self._tokens[keep])]
        const = sorted((a for a in active if a.rhs_token is None), key=lambda a: a.instrument_token)
        self._const = const
        self._c_tok = np.array([a.instrument_token for a in const], dtype=np.int64)
        self._c_attr = np.array([_ATTR_COL[a.attribute] for a in const], dtype=np.int64)
        self._c_op = np.array([_OP_CODE[a.operator] for a in const], dtype=np.int64)
        self._c_rhs = np.array([a.rhs_constant for a in const], dtype=float)
        self._c_live = np.ones(len(const), dtype=bool)
        self._c_lo = np.searchsorted(self._c_tok, self._tokens, "left")  # per indexed token: its constant alerts
        self._c_count = np.searchsorted(self._c_tok, self._tokens, "right") - self._c_lo
        pair = [a for a in active if a.rhs_token is not None]
        self._pair = pair
        self._p_lhs = np.searchsorted(self._tokens, np.array([a.instrument_token for a in pair], dtype=np.int64))
        self._p_rhs = np.searchsorted(self._tokens, np.array([a.rhs_token for a in pair], dtype=np.int64))
        self._p_attr = np.array([_ATTR_COL[a.attribute] for a in pair], dtype=np.int64)
        self._p_rattr = np.array([_ATTR_COL[a.rhs_attribute] for a in pair], dtype=np.int64)  # type: ignore[index]
        self._p_op = np.array([_OP_CODE[a.operator] for a in pair], dtype=np.int64)
        self._p_live = np.ones(len(pair), dtype=bool)

    def __len__(self) -> int:
        return int(self._c_live.sum() + self._p_live.sum())

    def evaluate(self, batch: Any) -> list[Trigger]:
        """Alerts fired by ``batch`` (a ``core.tick_batch.TickBatch``), in packet order."""
        if not self._tokens.size or not len(batch):
            return []
        tok = batch.instrument_token
        pos = np.searchsorted(self._tokens, tok)
        np.minimum(pos, self._tokens.shape[0] - 1, out=pos)
        rows = np.flatnonzero(self._tokens[pos] == tok)
        if not rows.size:
            return []
        values = _value_rows(batch.packet_length[rows], batch.last_price[rows], batch.high[rows], batch.low[rows],
                             batch.close[rows], batch.volume_traded[rows].astype(float))

        def tick(i: int) -> dict[str, Any]:
            r = int(rows[i])
            return dict(instrument_token=int(tok[r]), last_price=float(batch.last_price[r]),
                        high=float(batch.high[r]), low=float(batch.low[r]), close=float(batch.close[r]),
                        volume_traded=int(batch.volume_traded[r]),
                        exchange_timestamp=int(batch.exchange_timestamp[r]))

        return self._evaluate(tok[rows], pos[rows], values, tick)

    def evaluate_values(self, token: int, values: Mapping[Attribute, float],
                        tick: dict[str, Any] | None = None) -> list[Trigger]:
        """Record ``token``'s latest ``values`` and fire the alerts that read it. A backtest can
        call this per bar (e.g. LTP = close, day high/low so far, volume so far)."""
        if not self._tokens.size:
            return []
        k = int(np.searchsorted(self._tokens, token))
        if k >= self._tokens.shape[0] or self._tokens[k] != token:
            return []
        row = np.full((1, len(_ATTRS)), np.nan)
        for attr, v in values.items():
            row[0, _ATTR_COL[attr]] = v
        return self._evaluate(np.array([token], dtype=np.int64), np.array([k]), row, lambda _i: dict(tick or {}))

    def _evaluate(self, tokens: np.ndarray, pos: np.ndarray, values: np.ndarray, tick: Any) -> list[Trigger]:
        """Rows ``values`` (``_ATTRS`` columns) of ``tokens`` (their index ``pos`` in ``_tokens``)."""
        fired: list[tuple[int, Trigger]] = []
        if self._const:
            lo, counts = self._c_lo[pos], self._c_count[pos]
            total = int(counts.sum())
            if total:
                pair_row = np.repeat(np.arange(tokens.shape[0]), counts)
                start = np.repeat(np.cumsum(counts) - counts, counts)
                which = np.repeat(lo, counts) + (np.arange(total) - start)
                lhs = values[pair_row, self._c_attr[which]]
                hit = _compare(self._c_op[which], lhs, self._c_rhs[which]) & self._c_live[which]
                for j in np.flatnonzero(hit).tolist():
                    w = int(which[j])
                    if self._c_live[w]:
                        self._c_live[w] = False
                        a = self._const[w]
                        fired.append((int(pair_row[j]), Trigger(a, a.alert_count + 1, float(lhs[j]),
                                                                float(a.rhs_constant), tick(int(pair_row[j])))))
        last = self._last
        known = ~np.isnan(values)
        cur = last[pos]
        last[pos] = np.where(known, values, cur)
        if self._pair and self._p_live.any():
            lhs = last[self._p_lhs, self._p_attr]
            rhs = last[self._p_rhs, self._p_rattr]
            hit = _compare(self._p_op, lhs, rhs) & self._p_live
            if hit.any():
                row_of = {int(p): i for i, p in enumerate(pos.tolist())}
                for j in np.flatnonzero(hit).tolist():
                    self._p_live[j] = False
                    a = self._pair[j]
                    i = row_of.get(int(self._p_lhs[j]), row_of.get(int(self._p_rhs[j]), 0))
                    fired.append((i, Trigger(a, a.alert_count + 1, float(lhs[j]), float(rhs[j]), tick(i))))
        fired.sort(key=lambda x: x[0])
        return [t for _, t in fired]


def evaluate_bars(evaluator: AlertEvaluator, bars: Iterable[Bar]) -> list[tuple[Bar, Trigger]]:
    """Run alerts over bars, the backtest's hook: ``bars`` of any instruments in time order
    (``core.models.Bar``, any interval). Each bar is seen as a tick at its close: LTP = close,
    day high/low and volume = the IST day's running values up to this bar, change % against the
    instrument's previous IST day's last close (absent on its first day). Returns
    ``(bar, trigger)`` pairs in bar order; a fired alert leaves ``evaluator`` as on the ticker."""
    day: dict[int, tuple[date, float, float, int, float | None, float]] = {}
    out: list[tuple[Bar, Trigger]] = []
    for bar in bars:
        d = to_ist(bar.ts).date()
        prev = day.get(bar.instrument_token)
        if prev is None or prev[0] != d:
            prev_close = prev[5] if prev is not None else None
            high, low, volume = bar.high, bar.low, bar.volume
        else:
            prev_close = prev[4]
            high, low, volume = max(prev[1], bar.high), min(prev[2], bar.low), prev[3] + bar.volume
        day[bar.instrument_token] = (d, high, low, volume, prev_close, bar.close)
        values = {Attribute.LTP: bar.close, Attribute.DAY_HIGH: high, Attribute.DAY_LOW: low,
                  Attribute.VOLUME: float(volume)}
        if prev_close:
            values[Attribute.CHANGE_PCT] = (bar.close - prev_close) * 100.0 / prev_close
        tick = dict(instrument_token=bar.instrument_token, last_price=bar.close, high=high, low=low,
                    close=prev_close or 0.0, volume_traded=volume, exchange_timestamp=int(bar.ts.timestamp()))
        out.extend((bar, t) for t in evaluator.evaluate_values(bar.instrument_token, values, tick))
    return out


def triggered(alert: Alert, sequence: int) -> Alert:
    """``alert`` after trigger ``sequence``: disabled, ``alert_count = max(count, sequence)``."""
    return replace(alert, status=AlertStatus.DISABLED, alert_count=max(alert.alert_count, sequence))


__all__ = [
    "ATTRIBUTE_LABELS", "MAX_ALERTS", "NAME_MAX_CHARS", "Alert", "AlertEvaluator", "AlertStatus", "AlertType",
    "AtoOrder", "Attribute", "Operator", "Trigger", "alert_from_dict", "alert_to_dict", "ato_order", "check_alert",
    "evaluate_bars",
    "parse_value", "tick_values", "trigger_trace_id", "triggered",
]
