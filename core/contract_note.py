"""Kite's virtual contract note in the desk's terms: per-order charges by the desk's rules, and
the comparison of two per-order breakdowns. Pure; money is ``Decimal`` rupees.

Kite's ``POST /charges/orders`` (``KiteConnect.get_virtual_contract_note``, kite.trade/docs/
connect/v3/margins/ "Virtual contract note") takes the day's orders ``{order_id, exchange,
tradingsymbol, transaction_type, variety, product, order_type, quantity, average_price}`` and
answers, in the same order, each with ``charges = {transaction_tax, transaction_tax_type,
exchange_turnover_charge, sebi_turnover_charge, brokerage, stamp_duty, gst: {igst, cgst, sgst,
total}, total}`` (floats, rupees, not rounded). DP charges are not on it (they are posted on
the funds statement, Zerodha on tradingqna "Introducing virtual contract note on Kite"), nor
the auto square-off fee; so the comparison covers :data:`NOTE_CHARGES` only.

Component mapping (desk ``core.charges.Charges`` → Kite key): brokerage → ``brokerage``; stt
→ ``transaction_tax``; exchange_txn + ipft → ``exchange_turnover_charge`` (NSE's charge
includes IPFT from 1 Mar 2026; before it the desk levies IPFT separately and Kite is assumed
to fold it into the exchange charge); sebi → ``sebi_turnover_charge``; stamp →
``stamp_duty``; gst → ``gst.total``.

:func:`note_charges` computes the note from the order list alone, as the desk books it:

* each order is charged as one fill at its average price (``core.charges.equity_charges``)
  with brokerage capped per order and STT as the scrip-day increment of its (scrip, product,
  side) class in list order (``core.charges.scrip_day_stt``);
* a scrip whose CNC orders both buy and sell in the list is netted as intraday
  (``core.same_day_cnc.scrip_day_charges``); the scrip-day's components are allocated to its
  CNC orders (brokerage exactly per order; STT and stamp by each order's share of the matched
  and delivery quantity at their rates; exchange, SEBI and IPFT by turnover; GST on the
  allocated taxable components), largest remainder to the paisa, so the orders sum to the
  netted scrip-day figure exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from core.charges import Charges, ChargeSchedule, equity_charges
from core.errors import ValidationError
from core.orders import PAISA, ZERO, Product, Side, round_to_paisa
from core.same_day_cnc import ScripDayLeg, scrip_day_charges, split_scrip_day

#: Components compared with Kite's note, in display order, with their labels.
NOTE_CHARGES: tuple[tuple[str, str], ...] = (
    ("brokerage", "Brokerage"),
    ("stt", "STT"),
    ("exchange_txn", "Exchange txn (incl. IPFT)"),
    ("sebi", "SEBI fee"),
    ("stamp", "Stamp duty"),
    ("gst", "GST"),
)
_KITE_KEYS = {"brokerage": "brokerage", "stt": "transaction_tax", "exchange_txn": "exchange_turnover_charge",
              "sebi": "sebi_turnover_charge", "stamp": "stamp_duty"}

NoteFigures = dict[str, Decimal]  # component name (NOTE_CHARGES) -> rupees


@dataclass(frozen=True, slots=True)
class NoteOrder:
    """One executed order as sent to Kite: ``quantity`` shares filled at ``average_price`` ₹."""

    order_id: str
    tradingsymbol: str
    side: Side
    product: Product
    quantity: int
    average_price: Decimal
    exchange: str = "NSE"
    variety: str = "regular"
    order_type: str = "MARKET"

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity <= 0:
            raise ValidationError(f"order {self.order_id}: quantity must be a positive whole number, was {self.quantity!r}")
        if not isinstance(self.average_price, Decimal) or not self.average_price.is_finite() or self.average_price <= 0:
            raise ValidationError(f"order {self.order_id}: average_price must be positive Decimal rupees, "
                                  f"was {self.average_price!r}")

    @property
    def turnover(self) -> Decimal:
        return self.average_price * self.quantity

    def to_kite(self) -> dict:
        """The JSON-simple params object of ``get_virtual_contract_note``."""
        return {"order_id": self.order_id, "exchange": self.exchange, "tradingsymbol": self.tradingsymbol,
                "transaction_type": str(self.side), "variety": self.variety, "product": str(self.product),
                "order_type": self.order_type, "quantity": self.quantity, "average_price": float(self.average_price)}

    @classmethod
    def from_kite(cls, raw: Mapping) -> NoteOrder:
        """Parse one params object (``ValidationError`` naming the field that is wrong)."""
        try:
            return cls(order_id=str(raw.get("order_id") or ""), tradingsymbol=str(raw["tradingsymbol"]),
                       side=Side(str(raw["transaction_type"]).upper()), product=Product(str(raw["product"]).upper()),
                       quantity=int(raw["quantity"]), average_price=Decimal(str(raw["average_price"])),
                       exchange=str(raw.get("exchange") or "NSE"), variety=str(raw.get("variety") or "regular"),
                       order_type=str(raw.get("order_type") or "MARKET"))
        except KeyError as exc:
            raise ValidationError(f"order is missing `{exc.args[0]}`; send order_id, exchange, tradingsymbol, "
                                  "transaction_type, variety, product, order_type, quantity, average_price") from None
        except (ValueError, ArithmeticError) as exc:
            raise ValidationError(f"order {raw.get('order_id')!r} has a bad field: {exc}") from None


def figures(charges: Charges) -> NoteFigures:
    """``charges`` as the note's components (exchange txn includes IPFT)."""
    return {"brokerage": charges.brokerage, "stt": charges.stt, "exchange_txn": charges.exchange_txn + charges.ipft,
            "sebi": charges.sebi, "stamp": charges.stamp, "gst": charges.gst}


def kite_figures(charges: Mapping) -> NoteFigures:
    """One order's ``charges`` object of Kite's answer as components, each rounded half-up to
    the paisa (Kite sends unrounded floats). ``ValidationError`` if a key is missing."""
    try:
        out = {name: Decimal(str(charges[key])) for name, key in _KITE_KEYS.items()}
        gst = charges["gst"]
        out["gst"] = Decimal(str(gst["total"] if isinstance(gst, Mapping) else gst))
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise ValidationError(f"Kite's contract note charges lack {exc}; got keys {sorted(charges)}") from None
    return {k: v.quantize(PAISA, rounding=ROUND_HALF_UP) for k, v in out.items()}


def to_kite_charges(f: NoteFigures) -> dict:
    """Components as Kite's ``charges`` object (floats; GST as IGST)."""
    out: dict = {key: float(f[name]) for name, key in _KITE_KEYS.items()}
    out["transaction_tax_type"] = "stt"
    out["gst"] = {"igst": float(f["gst"]), "cgst": 0.0, "sgst": 0.0, "total": float(f["gst"])}
    out["total"] = float(sum(f.values(), ZERO))
    return out


def netted_scrips(orders: Sequence[NoteOrder]) -> set[tuple[str, str]]:
    """``(exchange, tradingsymbol)`` of scrips with both a CNC buy and a CNC sell in ``orders``."""
    sides: dict[tuple[str, str], set[Side]] = {}
    for o in orders:
        if o.product is Product.CNC:
            sides.setdefault((o.exchange, o.tradingsymbol), set()).add(o.side)
    return {k for k, s in sides.items() if len(s) == 2}


def note_charges(orders: Sequence[NoteOrder], schedule: ChargeSchedule) -> dict[str, NoteFigures]:
    """``{order_id: components}`` of ``orders`` (one trading day) by the desk's rules, see the
    module docstring. ``schedule`` is the one in force that day. Order ids must be unique
    (``ValidationError`` otherwise)."""
    ids = [o.order_id for o in orders]
    if len(set(ids)) != len(ids):
        raise ValidationError("order ids must be unique in one contract note")
    netted = netted_scrips(orders)
    out: dict[str, NoteFigures] = {}
    prior: dict[tuple[str, str, Product, Side], Decimal] = {}
    for o in orders:
        scrip = (o.exchange, o.tradingsymbol)
        if o.product is Product.CNC and scrip in netted:
            continue
        key = (*scrip, o.product, o.side)
        c = equity_charges(o.side, o.product, o.quantity, o.average_price, schedule,
                           prior_day_turnover=prior.get(key, ZERO))
        prior[key] = prior.get(key, ZERO) + o.turnover
        out[o.order_id] = figures(c)
    for scrip in netted:
        mine = [o for o in orders if o.product is Product.CNC and (o.exchange, o.tradingsymbol) == scrip]
        out.update(allocate_netted(mine, schedule))
    return {o.order_id: out[o.order_id] for o in orders}


def allocate_netted(orders: Sequence[NoteOrder], schedule: ChargeSchedule) -> dict[str, NoteFigures]:
    """One netted scrip-day's CNC ``orders`` (same scrip): the netted components
    (``core.same_day_cnc.scrip_day_charges``) allocated per order; they sum to it exactly."""
    legs = [ScripDayLeg(o.order_id, 1, o.side, o.quantity, o.turnover) for o in orders]
    total = figures(scrip_day_charges(legs, schedule))
    bq = sum(o.quantity for o in orders if o.side is Side.BUY)
    sq = sum(o.quantity for o in orders if o.side is Side.SELL)
    split = split_scrip_day(bq, sum((o.turnover for o in orders if o.side is Side.BUY), ZERO),
                            sq, sum((o.turnover for o in orders if o.side is Side.SELL), ZERO))
    m = split.intraday_quantity
    intraday, delivery = schedule.intraday, schedule.delivery
    per_order_turnover: dict[str, Decimal] = {o.order_id: o.turnover for o in orders}
    brokerage = {o.order_id: round_to_paisa(min(o.turnover * intraday.brokerage_rate, intraday.brokerage_cap))
                 for o in orders}

    def share(o: NoteOrder) -> Decimal:  # the matched (intraday) fraction of this order's side
        q = bq if o.side is Side.BUY else sq
        return Decimal(m) / q if q else ZERO

    stt_w = {o.order_id: o.turnover * (share(o) * intraday.stt_rate(o.side) + (1 - share(o)) * delivery.stt_rate(o.side))
             for o in orders}
    stamp_w = {o.order_id: (o.turnover * (share(o) * intraday.stamp_buy_rate + (1 - share(o)) * delivery.stamp_buy_rate)
                            if o.side is Side.BUY else ZERO) for o in orders}
    stt = _largest_remainder(total["stt"], stt_w)
    stamp = _largest_remainder(total["stamp"], stamp_w)
    txn = _largest_remainder(total["exchange_txn"], per_order_turnover)
    sebi = _largest_remainder(total["sebi"], per_order_turnover)
    taxable = {k: brokerage[k] + txn[k] + sebi[k] for k in brokerage}
    gst = _largest_remainder(total["gst"], taxable)
    return {o.order_id: {"brokerage": brokerage[o.order_id], "stt": stt[o.order_id],
                         "exchange_txn": txn[o.order_id], "sebi": sebi[o.order_id], "stamp": stamp[o.order_id],
                         "gst": gst[o.order_id]} for o in orders}


def _largest_remainder(total: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``total`` rupees split in paise by ``weights`` (equal split when they sum to 0); the
    parts sum to ``total`` exactly, leftover paise to the largest remainders (ties: first)."""
    keys = list(weights)
    if not keys:
        return {}
    w = sum(weights.values(), ZERO)
    raw = {k: (total * weights[k] / w) if w else total / len(keys) for k in keys}
    base = {k: v.quantize(PAISA, rounding=ROUND_DOWN) for k, v in raw.items()}
    left = int(((total - sum(base.values(), ZERO)) / PAISA).to_integral_value())
    for k in sorted(keys, key=lambda k: raw[k] - base[k], reverse=True)[:max(left, 0)]:
        base[k] += PAISA
    return base


@dataclass(frozen=True, slots=True)
class NoteDifference:
    """One component of one order where the desk and Kite disagree: ``desk − kite`` rupees."""

    order_id: str
    tradingsymbol: str
    charge: str
    desk: Decimal
    kite: Decimal

    @property
    def difference(self) -> Decimal:
        return self.desk - self.kite


def compare(desk: Mapping[str, NoteFigures], kite: Mapping[str, NoteFigures], symbols: Mapping[str, str], *,
            tolerance: Decimal = PAISA) -> list[NoteDifference]:
    """Every (order, component) whose figures differ by more than ``tolerance`` ₹ (default one
    paisa, the rounding of one component), plus the order's ``total``; an order on one side
    only is compared with zeros. ``symbols`` maps order id → trading symbol (for display)."""
    out: list[NoteDifference] = []
    for oid in [*desk, *(k for k in kite if k not in desk)]:
        d, k = desk.get(oid, {}), kite.get(oid, {})
        for name, _ in NOTE_CHARGES:
            dv, kv = d.get(name, ZERO), k.get(name, ZERO)
            if abs(dv - kv) > tolerance:
                out.append(NoteDifference(oid, symbols.get(oid, ""), name, dv, kv))
        dt, kt = sum(d.values(), ZERO), sum(k.values(), ZERO)
        if abs(dt - kt) > tolerance:
            out.append(NoteDifference(oid, symbols.get(oid, ""), "total", dt, kt))
    return out


def note_day(value: date | str) -> date:
    """A trading day from a ``date`` or ``YYYY-MM-DD`` (``ValidationError`` otherwise)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"day must be YYYY-MM-DD, was {value!r}") from None


__all__ = [
    "NOTE_CHARGES",
    "NoteDifference",
    "NoteFigures",
    "NoteOrder",
    "allocate_netted",
    "compare",
    "figures",
    "kite_figures",
    "netted_scrips",
    "note_charges",
    "note_day",
    "to_kite_charges",
]
