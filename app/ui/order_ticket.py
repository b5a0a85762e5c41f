"""The order ticket's rules, apart from its widgets: the typed values checked field by field and
turned into an ``OrderIntent`` (exact ``Decimal`` rupees, never rounded), the one line that says
what is sent, the market-protection preview, and the order book's protection cell.

A ticket that does what it shows (issue 14): every field is read exactly as typed (a text box,
so ``-5`` or ``1234.567`` reaches the check instead of being refused or rounded by the widget);
:func:`check_ticket` returns the intent *or* the reasons, one per field, so the page disables
Place/Modify with the reason beside it and sends nothing; :func:`sent_text` is both the preview
line and the start of the confirmation ("Placed BUY 5 INFY CNC LIMIT @ ₹1,234.50").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.ui.formatting import inr, qty
from core.errors import ValidationError
from core.margins import MarginRules, check_mis_eligible
from core.market_protection import AUTO, describe_protection, schedule_on
from core.orders import OrderIntent, OrderType, Product, Side, Validity, tick_size_for, validate_intent
from core.orders.prices import is_tick_multiple, round_to_tick
from core.timeutil import to_ist

#: The ticket's market-protection choices (Kite: ``-1`` automatic, or a percent 0 < p <= 100).
PROTECTION_MODES = ("Automatic", "Percent")
#: Order types in the ticket's order (Kite's).
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
#: Products in the ticket's order.
PRODUCTS = ("MIS", "CNC")
#: Session key another page sets to open the ticket on a symbol and side (consumed once):
#: ``{"tradingsymbol": "INFY", "exchange": "NSE", "side": "BUY" | "SELL"}``.
PREFILL_KEY = "ticket_prefill"


@dataclass(frozen=True, slots=True)
class TicketCheck:
    """The ticket's values judged before sending: ``intent`` when every field is valid, else
    ``None`` and ``problems``, one ``(field label, what to fix)`` per invalid field."""

    intent: OrderIntent | None
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.intent is not None and not self.problems

    def reason(self) -> str:
        """All problems on one line: ``"Quantity: must be … · Price: …"`` (``""`` when ok)."""
        return " · ".join(f"{label}: {why}" for label, why in self.problems)


def parse_number(text: Any) -> Decimal | None:
    """A typed number as an exact ``Decimal`` (``"1,234.50"`` → ``Decimal("1234.50")``); blank or
    ``None`` → ``None``. Raises ``ValidationError`` for text that is not a number."""
    if text is None:
        return None
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, (int, float)) and not isinstance(text, bool):
        value = Decimal(str(text))
    else:
        raw = str(text).strip().replace(",", "").replace("₹", "").replace("−", "-")
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ValidationError(f"must be a number, was {text!r}") from None
    if not value.is_finite():
        raise ValidationError(f"must be a finite number, was {text!r}")
    return value


def check_quantity(text: Any, lot_size: int = 1) -> tuple[int | None, str | None]:
    """``(shares, None)`` for a positive whole multiple of ``lot_size``, else ``(None, reason)``."""
    try:
        value = parse_number(text)
    except ValidationError as exc:
        return None, str(exc)
    if value is None:
        return None, "enter the number of shares (e.g. 5)"
    if value != value.to_integral_value():
        return None, f"must be a whole number of shares, was {value}"
    if value <= 0:
        return None, f"must be a positive whole number of shares, was {value}"
    if lot_size > 1 and int(value) % lot_size:
        return None, f"must be a multiple of the lot size {lot_size}, was {value}"
    return int(value), None


def check_price(text: Any, *, tick: Decimal, band: tuple[Decimal, Decimal] | None,
                required: bool, what: str = "price") -> tuple[Decimal | None, str | None]:
    """``(rupees, None)`` for a positive price on the ``tick`` grid (₹) inside ``band`` (the day's
    lower/upper circuit ₹, when known), ``(None, None)`` when blank and not ``required``, else
    ``(None, reason)``. Never rounds: ``1234.567`` is refused as off-tick, naming the tick and
    the two nearest valid prices."""
    try:
        value = parse_number(text)
    except ValidationError as exc:
        return None, str(exc)
    if value is None or (value == 0 and not required):
        return (None, f"enter a {what} in ₹ (e.g. {inr(Decimal('1234.50'))})") if required else (None, None)
    if value <= 0:
        return None, f"must be a positive price in ₹, was {value}"
    if not is_tick_multiple(value, tick):
        return None, (f"{value} is not a multiple of the tick size {inr(tick)}; use "
                      f"{inr(round_to_tick(value, tick, up=False))} or {inr(round_to_tick(value, tick, up=True))}")
    if band is not None and not band[0] <= value <= band[1]:
        return None, f"{inr(value)} is outside the day's band {inr(band[0])} – {inr(band[1])}"
    return value, None


def check_ticket(
    instrument: Any,
    values: Mapping[str, Any],
    *,
    day: date,
    band: tuple[Decimal, Decimal] | None = None,
    strategy: str = "manual",
) -> TicketCheck:
    """Judge the ticket's typed ``values`` for ``instrument`` on trading date ``day`` (IST).

    ``values`` keys: ``side`` ``"BUY"``/``"SELL"``, ``quantity`` (shares), ``product``,
    ``order_type``, ``price``/``trigger_price`` (₹; only the ones the order type takes are
    read), ``validity``, ``stop_loss``/``target`` (₹, optional), ``protection_mode``
    (``PROTECTION_MODES``) and ``protection_percent`` (MARKET/SL-M only). Numbers may be text
    as typed. ``band`` the day's (lower, upper) ₹ circuit, when known.

    Returns a :class:`TicketCheck`: the intent, or one problem per invalid field (negative,
    zero or fractional quantity; a price off the date's tick or outside the band; a missing
    price or trigger; an SL trigger on the wrong side of its price …). Never raises for bad
    values.
    """
    kind = OrderType(values.get("order_type", "MARKET"))
    tick = tick_size_for(instrument, day)
    problems: list[tuple[str, str]] = []
    quantity, why = check_quantity(values.get("quantity"), max(1, int(getattr(instrument, "lot_size", 1) or 1)))
    if why:
        problems.append(("Quantity", why))
    price = trigger = None
    if kind in (OrderType.LIMIT, OrderType.SL):
        price, why = check_price(values.get("price"), tick=tick, band=band, required=True)
        if why:
            problems.append(("Price", why))
    if kind in (OrderType.SL, OrderType.SL_M):
        trigger, why = check_price(values.get("trigger_price"), tick=tick, band=band, required=True,
                                   what="trigger price")
        if why:
            problems.append(("Trigger price", why))
    extras: dict[str, Decimal | None] = {}
    for key, label in (("stop_loss", "Stop-loss"), ("target", "Target")):
        try:
            value = parse_number(values.get(key))
        except ValidationError as exc:
            problems.append((label, str(exc)))
            continue
        if value is not None and value < 0:
            problems.append((label, f"must be a positive price in ₹ or blank, was {value}"))
        extras[key] = value if value else None
    protection = None
    if kind in (OrderType.MARKET, OrderType.SL_M):
        try:
            percent = parse_number(values.get("protection_percent"))
            protection = ticket_protection(str(values.get("protection_mode", "Automatic")), percent)
        except ValidationError as exc:
            problems.append(("Market protection", str(exc)))
    if problems:
        return TicketCheck(None, tuple(problems))
    try:
        intent = OrderIntent(
            instrument_token=instrument.instrument_token, tradingsymbol=instrument.tradingsymbol,
            side=Side(values.get("side", "BUY")), quantity=quantity, product=Product(values.get("product", "MIS")),
            order_type=kind, price=price, trigger_price=trigger, validity=Validity(values.get("validity", "DAY")),
            stop_loss=extras.get("stop_loss"), target=extras.get("target"), strategy=strategy,
            market_protection=protection,
        )
        validate_intent(intent, instrument, on=day)
    except ValidationError as exc:
        return TicketCheck(None, (("Order", str(exc)),))
    return TicketCheck(intent)


def ticket_tick(instrument: Any, day: date) -> Decimal:
    """₹ tick the ticket checks prices against on trading date ``day`` (the date's NSE regime,
    ``core.orders.tick_size_for``; e.g. ₹0.05 on a 2016 replay where the 2025 dump lists ₹0.10)."""
    return tick_size_for(instrument, day)


def sent_text(intent: OrderIntent) -> str:
    """What is sent, in Kite's words: ``"BUY 5 INFY CNC LIMIT @ ₹1,234.50"``, ``"SELL 10 SBIN MIS
    SL @ ₹250.00 trigger ₹250.50"``, ``"BUY 1 TCS MIS SL-M trigger ₹3,000.00"``, ``"BUY 5 INFY
    MIS MARKET"``; `` IOC`` when not a DAY order."""
    parts = [str(intent.side), qty(intent.quantity), intent.tradingsymbol, str(intent.product), str(intent.order_type)]
    if intent.price is not None:
        parts.append(f"@ {inr(intent.price)}")
    if intent.trigger_price is not None:
        parts.append(f"trigger {inr(intent.trigger_price)}")
    if intent.validity is not Validity.DAY:
        parts.append(str(intent.validity))
    return " ".join(parts)


def mis_unavailable(tradingsymbol: str, rules: MarginRules | None) -> str | None:
    """Why MIS is refused on ``tradingsymbol`` (the gatekeeper's own ``MIS_NOT_ELIGIBLE`` message,
    naming the dated list and its source), or ``None`` when MIS is allowed."""
    if rules is None:
        return None
    probe = OrderIntent(1, tradingsymbol, Side.BUY, 1, Product.MIS, OrderType.MARKET)
    denial = check_mis_eligible(False, probe, rules)
    return denial.message if denial is not None else None


def ticket_intent(
    instrument: Any,
    *,
    side: str,
    quantity: int,
    product: str,
    order_type: str,
    price: float | None,
    trigger_price: float | None,
    validity: str,
    stop_loss: float | None,
    target: float | None,
    strategy: str = "manual",
    protection_mode: str = "Automatic",
    protection_percent: float | None = None,
) -> OrderIntent:
    """Build the ticket's ``OrderIntent`` from widget values (0 or ``None`` price = not set).

    Prices the order type does not take are dropped, so a MARKET ticket with a stale price in
    the LIMIT box stays valid. Prices are exact (``Decimal(str(x))``, never rounded, so an
    off-tick price is refused by the tick check). ``protection_mode`` ``"Automatic"`` sends
    Kite's ``market_protection = -1``; ``"Percent"`` sends ``protection_percent`` (0 < p <= 100,
    to 0.01 %) — on MARKET and SL-M only (Kite ignores it on LIMIT/SL, so it is dropped there).
    Raises ``ValidationError`` (from ``OrderIntent``) for bad input: zero quantity, a LIMIT
    without a price, an SL trigger on the wrong side, a market protection of 0 or above 100 %
    (naming the rule and its source) …
    """
    kind = OrderType(order_type)
    takes_price = kind in (OrderType.LIMIT, OrderType.SL)
    takes_trigger = kind in (OrderType.SL, OrderType.SL_M)
    if isinstance(quantity, float):
        if quantity != int(quantity):
            raise ValidationError(f"quantity must be a whole number of shares, was {quantity}")
        quantity = int(quantity)
    return OrderIntent(
        instrument_token=instrument.instrument_token,
        tradingsymbol=instrument.tradingsymbol,
        side=Side(side),
        quantity=quantity,
        product=Product(product),
        order_type=kind,
        price=to_decimal(price) if takes_price else None,
        trigger_price=to_decimal(trigger_price) if takes_trigger else None,
        validity=Validity(validity),
        stop_loss=to_decimal(stop_loss),
        target=to_decimal(target),
        strategy=strategy,
        market_protection=(ticket_protection(protection_mode, protection_percent)
                           if kind in (OrderType.MARKET, OrderType.SL_M) else None),
    )


def ticket_protection(mode: str, percent: float | Decimal | None) -> Decimal:
    """Kite's ``market_protection`` from the ticket: ``-1`` for ``"Automatic"``, else the percent
    as an exact ``Decimal`` to 0.01 % (0 stays 0, so ``OrderIntent`` refuses it as Kite does).
    Raises ``ValidationError`` for an unknown mode or a missing percent."""
    if mode == "Automatic":
        return AUTO
    if mode != "Percent":
        raise ValidationError(f"market protection must be one of {', '.join(PROTECTION_MODES)}, was {mode!r}")
    if percent is None:
        raise ValidationError("market protection 'Percent' needs a percent 0 < p <= 100 (e.g. 1.5)")
    return Decimal(str(round(float(percent), 2))).normalize() if percent else Decimal(0)


def protection_preview(intent: OrderIntent, instrument: Any, ltp: Decimal | None, now: datetime) -> str | None:
    """The ticket's preview line for a MARKET/SL-M ``intent`` at market time ``now`` (tz-aware)
    and LTP ``ltp`` ₹, e.g. ``"MARKET, protected at ₹1,005.00 (LTP ₹1,000.00 + 0.5 %,
    automatic)"``: the same ``core.market_protection`` rule the paper exchange fills by; a note
    when the date has no protection (before 2026-04-01) or no LTP is cached; ``None`` for
    LIMIT/SL."""
    if not intent.is_market:
        return None
    day = to_ist(now).date()
    if schedule_on(day) is None:
        return f"{intent.order_type}: no market protection on {day} (Kite's rule starts 1 Apr 2026); fills at the market"
    line = describe_protection(intent, ltp, tick_size_for(instrument, day), day)
    if line is None:
        return f"{intent.order_type}: protection price set at placement, from the LTP (no tick cached yet)"
    return line


def protection_text(market_protection: Decimal | None, protection_price: Decimal | None) -> str:
    """The order book's protection cell: ``"₹1,005.00 (auto)"``, ``"₹1,030.00 (3 %)"``, or
    ``""`` when the order is not protected."""
    if protection_price is None:
        return ""
    mode = "auto" if market_protection is None or market_protection == AUTO else f"{market_protection:f} %"
    return f"{inr(protection_price)} ({mode})"


def to_decimal(value: float | str | Decimal | None) -> Decimal | None:
    """A widget's rupees as an exact ``Decimal``, as typed (0/blank/None → ``None``); never
    rounded, so ``1234.567`` stays off the tick and is refused there. Raises
    ``ValidationError`` for text that is not a number."""
    parsed = parse_number(value)
    return parsed if parsed else None
