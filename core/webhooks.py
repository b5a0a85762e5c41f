"""Webhook payloads from TradingView and Chartink → order intents for the approval queue.

Pure: bytes and dicts in, frozen values out; no I/O, no clock. The intake service
(``app.trading.webhook_intake``) resolves the symbols against the instrument master and turns
each :class:`AlertIntent` into a **pending approval** (never an order).

Body
----
At most :data:`MAX_BODY_BYTES` (16 KiB) of UTF-8 JSON holding one object. TradingView posts
``text/plain`` when the alert message is not JSON and ``application/json`` when it is; both
are accepted as long as the body parses as a JSON object (:func:`decode_body`).

TradingView (the alert's "Message" box, e.g. with TradingView's placeholders)::

    {"symbol": "NSE:{{ticker}}", "action": "{{strategy.order.action}}",
     "quantity": "{{strategy.order.contracts}}", "price": "{{close}}",
     "product": "MIS", "order_type": "MARKET", "strategy": "ema-cross",
     "message": "{{strategy.order.comment}}"}

=================  ========  =================================================================
field              required  meaning
=================  ========  =================================================================
``symbol``         yes       ``"NSE:INFY"``, ``"INFY"`` (NSE assumed) — or ``ticker`` (+ ``exchange``)
``action``         yes       ``buy``/``sell`` (any case) — or ``side``
``quantity``       yes       shares, a positive whole number (``"10"``, ``10``, ``"10.0"``) — or ``qty``
``price``          no        ₹ the alert fired at (the approval's signal price; the LIMIT price)
``product``        no        ``MIS`` (default) or ``CNC``
``order_type``     no        ``MARKET`` (default), ``LIMIT``, ``SL``, ``SL-M``
``trigger_price``  no        ₹, for ``SL``/``SL-M``
``stop_loss``      no        ₹ planned exit (risk per trade)
``target``         no        ₹ planned exit
``strategy``       no        a label (letters, digits, `` _.:-``; up to 64), shown as the approval's strategy
``message``        no        free text up to 500 characters (or ``comment``), shown fenced as untrusted
=================  ========  =================================================================

Other fields are ignored. TradingView writes ``BAJAJ_AUTO`` for NSE's ``BAJAJ-AUTO``:
:func:`symbol_candidates` lists both spellings for the resolver.

Chartink (its fixed webhook body; one intent per stock)::

    {"stocks": "SEPOWER,ASTEC,EDUCOMP", "trigger_prices": "3.75,541.8,2.1",
     "triggered_at": "2:34 pm", "scan_name": "Short term breakouts",
     "scan_url": "short-term-breakouts", "alert_name": "Alert for Short term breakouts",
     "webhook_url": "http://your-web-hook-url.com"}

``stocks`` is required (at most :data:`MAX_SYMBOLS`); ``trigger_prices``, when present, has one
₹ price per stock. Chartink cannot say side, quantity or product, so they come from the
webhook URL's query string (:func:`parse_chartink_defaults`: ``?side=BUY&quantity=1&product=MIS``).

Duplicates
----------
:func:`dedupe_key` is the sha256 of the source and the canonical JSON of the payload (keys
sorted, ``webhook_url`` dropped: it carries the secret). The same alert delivered twice has the
same key; the service keeps keys for a window and creates nothing for a repeat.

Errors
------
:class:`PayloadTooLarge` (HTTP 413), :class:`MalformedPayload` (HTTP 400: not UTF-8 JSON or not
an object) and :class:`FieldError` (HTTP 422, ``.field`` names the field) are all
``core.errors.ValidationError``: the message says what to send instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from core.errors import ValidationError
from core.orders.models import OrderType, Product, Side

Source = Literal["tradingview", "chartink"]
SOURCES: tuple[Source, ...] = ("tradingview", "chartink")

#: Largest accepted body, bytes.
MAX_BODY_BYTES = 16_384
#: Most symbols one delivery may carry (a Chartink scan can match many).
MAX_SYMBOLS = 50
#: Longest free text kept (TradingView ``message``; Chartink names), characters.
MAX_TEXT = 500
#: Longest label (``strategy``), characters.
MAX_LABEL = 64
#: Longest ``exchange:symbol`` key, characters.
MAX_SYMBOL = 40
#: Largest quantity one alert may ask for, shares (the risk limits still apply after this).
MAX_QUANTITY = 1_000_000

_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9&_.\-]{0,38}$")
_EXCHANGES = ("NSE", "BSE")
_LABEL_DROP = re.compile(r"[^A-Za-z0-9 _.:\-]+")
_SPACE = re.compile(r"\s+")


class FieldError(ValidationError):
    """A field of the payload is missing or wrong; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class MalformedPayload(ValidationError):
    """The body is not UTF-8 JSON holding one object."""


class PayloadTooLarge(ValidationError):
    """The body is larger than :data:`MAX_BODY_BYTES`."""


@dataclass(frozen=True, slots=True)
class AlertIntent:
    """One symbol of a delivery, before the instrument master is consulted.

    ``exchange``/``symbol`` upper-case (``symbol`` as the alert spelled it: see
    :func:`symbol_candidates`); ``quantity`` shares; prices ₹ ``Decimal`` or ``None``;
    ``signal_price`` the price the alert fired at (``None``: the service uses the LTP);
    ``strategy`` a safe label; ``reason`` text for the approval card with any alert text fenced.
    """

    exchange: str
    symbol: str
    side: Side
    quantity: int
    product: Product
    order_type: OrderType
    price: Decimal | None
    trigger_price: Decimal | None
    stop_loss: Decimal | None
    target: Decimal | None
    signal_price: Decimal | None
    strategy: str
    reason: str

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A parsed webhook delivery: its ``source``, its intents in payload order, its dedupe key."""

    source: Source
    intents: tuple[AlertIntent, ...]
    dedupe_key: str
    label: str  # the alert's own name (Chartink alert/scan name, TradingView strategy), safe text


@dataclass(frozen=True, slots=True)
class ChartinkDefaults:
    """What a Chartink alert cannot say: ``side``, ``quantity`` shares, ``product``."""

    side: Side = Side.BUY
    quantity: int = 1
    product: Product = Product.MIS


# ---------------------------------------------------------------------------------- body


def decode_body(body: bytes, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The JSON object in ``body``.

    Raises ``PayloadTooLarge`` above ``max_bytes`` bytes, ``MalformedPayload`` when the body is
    empty, not UTF-8, not JSON, or JSON that is not an object.
    """
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"body is {len(body):,} bytes; the limit is {max_bytes:,} bytes")
    if not body.strip():
        raise MalformedPayload("body is empty; send the alert as a JSON object (see docs/api.md)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"body is not UTF-8 (byte {exc.start}); send UTF-8 JSON") from None
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise MalformedPayload(
            f"body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); set the alert "
            "message to the JSON template in docs/api.md") from None
    if not isinstance(data, dict):
        raise MalformedPayload(f"body must be a JSON object, was a JSON {type(data).__name__}")
    return data


def _no_constant(name: str) -> Any:
    raise MalformedPayload(f"body has {name}, which is not JSON; send a number")


def dedupe_key(source: Source, payload: Mapping[str, Any]) -> str:
    """sha256 hex of ``source`` and the canonical JSON of ``payload`` (keys sorted, case kept,
    ``webhook_url`` left out). Equal for the same alert however its keys are ordered."""
    if source not in SOURCES:
        raise ValidationError(f"source must be one of {', '.join(SOURCES)}, was {source!r}")
    kept = {k: v for k, v in payload.items() if k != "webhook_url"}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{source}\n{canonical}".encode()).hexdigest()


# ---------------------------------------------------------------------------------- TradingView


def parse_tradingview(payload: Mapping[str, Any]) -> Delivery:
    """One :class:`AlertIntent` from TradingView's alert JSON (fields in the module docstring).

    Raises ``FieldError`` naming the first missing or wrong field.
    """
    exchange, symbol = _tv_symbol(payload)
    side = _side(_first(payload, "action", "side", required=True), "action")
    quantity = _quantity(_first(payload, "quantity", "qty", required=True),
                         "quantity" if "quantity" in payload else "qty")
    product = _enum(payload.get("product"), Product, "product", Product.MIS)
    order_type = _enum(payload.get("order_type"), OrderType, "order_type", OrderType.MARKET)
    price = _price(payload.get("price"), "price")
    trigger = _price(payload.get("trigger_price"), "trigger_price")
    stop_loss = _price(payload.get("stop_loss"), "stop_loss")
    target = _price(payload.get("target"), "target")
    if order_type in (OrderType.LIMIT, OrderType.SL) and price is None:
        raise FieldError("price", f"a {order_type} alert needs a limit price in ₹")
    if order_type in (OrderType.SL, OrderType.SL_M) and trigger is None:
        raise FieldError("trigger_price", f"a {order_type} alert needs a trigger_price in ₹")
    label = _label(payload.get("strategy"), "strategy")
    message = _text(_first(payload, "message", "comment"), "message" if "message" in payload else "comment")
    how = f" @ ₹{price}" if price is not None else ""
    reason = f"TradingView alert: {side} {quantity} {exchange}:{symbol} {order_type}{how}"
    if label:
        reason += f" · strategy {label}"
    if message:
        reason += f" · alert text (untrusted): {fence(message)}"
    intent = AlertIntent(
        exchange=exchange, symbol=symbol, side=side, quantity=quantity, product=product,
        order_type=order_type, price=price if order_type in (OrderType.LIMIT, OrderType.SL) else None,
        trigger_price=trigger if order_type in (OrderType.SL, OrderType.SL_M) else None,
        stop_loss=stop_loss, target=target, signal_price=price,
        strategy=label or "tradingview", reason=reason,
    )
    return Delivery("tradingview", (intent,), dedupe_key("tradingview", payload), label or "TradingView alert")


def _tv_symbol(payload: Mapping[str, Any]) -> tuple[str, str]:
    name = "symbol" if "symbol" in payload else "ticker"
    raw = _first(payload, "symbol", "ticker", required=True)
    exchange = payload.get("exchange")
    if exchange is not None and not isinstance(exchange, str):
        raise FieldError("exchange", f"must be text such as 'NSE', was {exchange!r}")
    return _symbol_key(raw, name, default_exchange=(exchange or "NSE"))


# ---------------------------------------------------------------------------------- Chartink


def parse_chartink_defaults(query: Mapping[str, str]) -> ChartinkDefaults:
    """``side``, ``quantity`` and ``product`` from the webhook URL's query string (each
    optional: BUY, 1 share, MIS). Raises ``FieldError`` naming the bad parameter."""
    unknown = sorted(set(query) - {"side", "quantity", "product"})
    if unknown:
        raise FieldError(unknown[0], "unknown query parameter; the Chartink URL takes side, quantity, product")
    return ChartinkDefaults(
        side=_side(query["side"], "side") if "side" in query else Side.BUY,
        quantity=_quantity(query["quantity"], "quantity") if "quantity" in query else 1,
        product=_enum(query.get("product"), Product, "product", Product.MIS),
    )


def parse_chartink(payload: Mapping[str, Any], defaults: ChartinkDefaults = ChartinkDefaults()) -> Delivery:
    """One MARKET :class:`AlertIntent` per stock of Chartink's payload, ``defaults`` for side,
    quantity and product; ``trigger_prices`` become the signal prices.

    Raises ``FieldError`` naming the field: ``stocks`` missing, empty, too many, or with a bad
    symbol; ``trigger_prices`` not one positive ₹ price per stock; text fields too long.
    """
    stocks_raw = payload.get("stocks")
    if not isinstance(stocks_raw, str) or not stocks_raw.strip():
        raise FieldError("stocks", "required: comma-separated NSE symbols, e.g. 'INFY,TCS'")
    stocks = [s.strip() for s in stocks_raw.split(",")]
    if any(not s for s in stocks):
        raise FieldError("stocks", f"has an empty entry in {stocks_raw[:80]!r}; separate symbols by single commas")
    if len(stocks) > MAX_SYMBOLS:
        raise FieldError("stocks", f"has {len(stocks)} symbols; at most {MAX_SYMBOLS} per alert")
    keys = [_symbol_key(s, "stocks") for s in stocks]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise FieldError("stocks", f"lists {dup[0]}:{dup[1]} twice")
    prices: list[Decimal | None] = [None] * len(keys)
    tp = payload.get("trigger_prices")
    if tp is not None and not (isinstance(tp, str) and not tp.strip()):
        if not isinstance(tp, str):
            raise FieldError("trigger_prices", f"must be comma-separated prices in ₹, was {type(tp).__name__}")
        parts = [p.strip() for p in tp.split(",")]
        if len(parts) != len(keys):
            raise FieldError("trigger_prices", f"has {len(parts)} prices for {len(keys)} stocks; send one per stock")
        prices = [_price(p, "trigger_prices", required=True) for p in parts]
    names = {f: _text(payload.get(f), f) for f in ("scan_name", "alert_name", "triggered_at", "scan_url")}
    label = _label(payload.get("scan_name"), "scan_name")
    intents = []
    for (exchange, symbol), price in zip(keys, prices, strict=True):
        at = f" at ₹{price}" if price is not None else ""
        reason = f"Chartink alert: {exchange}:{symbol} triggered{at}"
        if names["triggered_at"]:
            reason += f" ({fence(names['triggered_at'])})"
        told = " · ".join(f"{n.replace('_', ' ')} {fence(names[n])}" for n in ("alert_name", "scan_name") if names[n])
        if told:
            reason += f" · untrusted: {told}"
        intents.append(AlertIntent(
            exchange=exchange, symbol=symbol, side=defaults.side, quantity=defaults.quantity,
            product=defaults.product, order_type=OrderType.MARKET, price=None, trigger_price=None,
            stop_loss=None, target=None, signal_price=price,
            strategy=(f"chartink:{label}" if label else "chartink")[:MAX_LABEL], reason=reason,
        ))
    return Delivery("chartink", tuple(intents), dedupe_key("chartink", payload),
                    label or _label(payload.get("alert_name"), "alert_name") or "Chartink alert")


# ---------------------------------------------------------------------------------- shared


def fence(text: str) -> str:
    """``text`` as one inline code span: whitespace collapsed, backticks replaced, so Markdown
    shows it literally (no links, no formatting) on the approval card."""
    flat = _SPACE.sub(" ", text).strip().replace("`", "'")
    return f"`{flat}`"


def symbol_candidates(exchange: str, symbol: str) -> tuple[str, ...]:
    """Keys to try in order: ``EXCHANGE:SYMBOL``, then TradingView's ``_`` read as NSE's ``-``."""
    keys = [f"{exchange}:{symbol}"]
    if "_" in symbol:
        keys.append(f"{exchange}:{symbol.replace('_', '-')}")
    return tuple(keys)


def _first(payload: Mapping[str, Any], *names: str, required: bool = False) -> Any:
    for name in names:
        if name in payload and payload[name] is not None:
            return payload[name]
    if required:
        alt = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
        raise FieldError(names[0], f"is required{alt}")
    return None


def _symbol_key(raw: Any, field: str, *, default_exchange: str = "NSE") -> tuple[str, str]:
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError(field, f"must be a symbol such as 'NSE:INFY', was {raw!r}")
    text = raw.strip().upper()
    if len(text) > MAX_SYMBOL:
        raise FieldError(field, f"symbol is {len(text)} characters; at most {MAX_SYMBOL}")
    exchange, _, symbol = text.rpartition(":")
    exchange = exchange or default_exchange.strip().upper()
    if exchange not in _EXCHANGES:
        raise FieldError("exchange" if field != "stocks" and ":" not in text else field,
                         f"exchange {exchange!r} is not one of {', '.join(_EXCHANGES)}")
    if not _SYMBOL.match(symbol):
        raise FieldError(field, f"{raw.strip()[:MAX_SYMBOL]!r} is not an exchange symbol (letters, digits, & _ . -)")
    return exchange, symbol


def _side(raw: Any, field: str) -> Side:
    if isinstance(raw, str) and raw.strip().upper() in ("BUY", "SELL"):
        return Side(raw.strip().upper())
    raise FieldError(field, f"must be buy or sell, was {raw!r}")


def _quantity(raw: Any, field: str) -> int:
    if isinstance(raw, bool):
        raise FieldError(field, f"must be a whole number of shares, was {raw!r}")
    try:
        value = Decimal(str(raw).strip()) if isinstance(raw, (str, int, float, Decimal)) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value != value.to_integral_value():
        raise FieldError(field, f"must be a whole number of shares, was {raw!r}")
    if not 0 < value <= MAX_QUANTITY:
        raise FieldError(field, f"must be between 1 and {MAX_QUANTITY:,} shares, was {value}")
    return int(value)


def _price(raw: Any, field: str, *, required: bool = False) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise FieldError(field, "a price in ₹ is required")
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise FieldError(field, f"must be a price in ₹ such as 1234.5, was {raw!r}")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise FieldError(field, f"must be a price in ₹ such as 1234.5, was {raw!r}") from None
    if not value.is_finite() or value <= 0 or value > Decimal("10000000"):
        raise FieldError(field, f"must be a positive price in ₹ (up to 1,00,00,000), was {raw!r}")
    return value.quantize(Decimal("0.01")) if value.as_tuple().exponent < -2 else value


def _enum(raw: Any, enum: type, field: str, default: Any) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    text = raw.strip().upper().replace("_", "-") if isinstance(raw, str) else raw
    allowed = [m.value for m in enum]
    if text not in allowed:
        raise FieldError(field, f"must be one of {', '.join(allowed)}, was {raw!r}")
    return enum(text)


def _text(raw: Any, field: str) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, (str, int, Decimal)) or isinstance(raw, bool):
        raise FieldError(field, f"must be text, was a JSON {type(raw).__name__}")
    text = str(raw).strip()
    if len(text) > MAX_TEXT:
        raise FieldError(field, f"is {len(text)} characters; at most {MAX_TEXT}")
    return text


def _label(raw: Any, field: str) -> str:
    text = _text(raw, field)
    return _SPACE.sub(" ", _LABEL_DROP.sub("", text)).strip()[:MAX_LABEL]


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_SYMBOLS",
    "MAX_TEXT",
    "SOURCES",
    "AlertIntent",
    "ChartinkDefaults",
    "Delivery",
    "FieldError",
    "MalformedPayload",
    "PayloadTooLarge",
    "Source",
    "decode_body",
    "dedupe_key",
    "fence",
    "parse_chartink",
    "parse_chartink_defaults",
    "parse_tradingview",
    "symbol_candidates",
]
