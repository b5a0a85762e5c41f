"""Conversions between ``TradingStore`` rows (dicts) and the domain / view objects.

Money ``Decimal`` rupees; rows hold UTC times, views IST. Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.trading.views import (
    ApprovalView,
    OrderView,
    RiskPreview,
    TradeView,
)
from core.approvals import ApprovalStatus, PendingApproval, origin_of
from core.broker.events import Fill
from core.charges import Charges
from core.errors import ValidationError
from core.orders import PAISA, ZERO, Order, OrderIntent, OrderStatus, OrderType, Product, Side, Validity
from core.portfolio import LedgerEntry, Position
from core.timeutil import to_ist, to_utc

CHARGE_FIELDS = ("brokerage", "stt", "exchange_txn", "sebi", "ipft", "stamp", "square_off_fee", "gst")


def money(value: Any, name: str = "amount") -> Decimal:
    """Exact ``Decimal`` from a Decimal/int/str (floats go through ``repr``; NaN refused)."""
    if value is None:
        raise ValidationError(f"{name} is required (rupees)")
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a number of rupees, was {value!r}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except Exception:
        raise ValidationError(f"{name} must be a number of rupees, was {value!r}") from None
    if not d.is_finite():
        raise ValidationError(f"{name} must be a finite number of rupees, was {value!r}")
    return d


def opt_price(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(PAISA)


def opt_percent(value: Any) -> Decimal | None:
    """A stored ``market_protection`` (``-1`` or a percent) as a normalised ``Decimal``, or ``None``."""
    if value is None:
        return None
    d = Decimal(value)
    return Decimal(-1) if d == -1 else d.normalize()


def _dec(value: Any) -> Decimal:
    return Decimal(value if value is not None else 0).quantize(PAISA)


# ------------------------------------------------------------------ intents and approvals


def intent_columns(intent: OrderIntent) -> dict[str, Any]:
    return dict(
        instrument_token=intent.instrument_token, tradingsymbol=intent.tradingsymbol, side=str(intent.side),
        quantity=intent.quantity, product=str(intent.product), order_type=str(intent.order_type),
        validity=str(intent.validity), price=intent.price, trigger_price=intent.trigger_price,
        stop_loss=intent.stop_loss, target=intent.target, tag=intent.tag,
        market_protection=intent.market_protection,
    )


def intent_from_row(row: dict[str, Any], *, strategy: str | None = None) -> OrderIntent:
    return OrderIntent(
        instrument_token=int(row["instrument_token"]), tradingsymbol=row["tradingsymbol"], side=Side(row["side"]),
        quantity=int(row["quantity"]), product=Product(row["product"]), order_type=OrderType(row["order_type"]),
        price=opt_price(row["price"]), trigger_price=opt_price(row["trigger_price"]),
        validity=Validity(row["validity"]), stop_loss=opt_price(row["stop_loss"]),
        target=opt_price(row["target"]), tag=row.get("tag") or "",
        strategy=strategy if strategy is not None else (row.get("strategy") or ""), trace_id=row["trace_id"],
        market_protection=opt_percent(row.get("market_protection")),
    )


def pending_from_row(row: dict[str, Any]) -> PendingApproval:
    return PendingApproval(
        approval_id=row["approval_id"], intent=intent_from_row(row), signal_price=_dec(row["signal_price"]),
        created_at=row["created_at"], ttl=row["expires_at"] - row["created_at"], trace_id=row["trace_id"],
        status=ApprovalStatus(row["status"]), decided_at=row["decided_at"],
        decision_price=opt_price(row["decision_price"]), note=row.get("decision_note") or "",
    )


def approval_view(row: dict[str, Any], *, now: datetime | None = None, shadow: Decimal | None = None,
                  order_id: str | None = None) -> ApprovalView:
    left = 0.0
    if now is not None and row["status"] == "PENDING":
        left = max(0.0, (row["expires_at"] - now).total_seconds())
    preview = RiskPreview(
        approved=bool(row["risk_approved"]), reasons=tuple(row["risk_reasons"] or ()),
        messages=tuple(row["risk_messages"] or ()), price=opt_price(row["risk_price"]),
        at=to_ist(row["risk_at"]) if row["risk_at"] else None,
    )
    return ApprovalView(
        approval_id=row["approval_id"], trace_id=row["trace_id"], tradingsymbol=row["tradingsymbol"],
        instrument_token=int(row["instrument_token"]), side=row["side"], quantity=int(row["quantity"]),
        product=row["product"], order_type=row["order_type"], price=opt_price(row["price"]),
        trigger_price=opt_price(row["trigger_price"]), stop_loss=opt_price(row["stop_loss"]),
        target=opt_price(row["target"]), signal_price=_dec(row["signal_price"]), reason=row["reason"],
        source=row["source"], strategy=row["strategy"], created_at=to_ist(row["created_at"]),
        expires_at=to_ist(row["expires_at"]), status=row["status"], decided_by=row["decided_by"],
        decided_at=to_ist(row["decided_at"]) if row["decided_at"] else None,
        decision_note=row["decision_note"] or "", decision_price=opt_price(row["decision_price"]),
        risk_preview=preview, shadow_pnl=shadow, seconds_left=left, order_id=order_id, validity=row["validity"],
        origin=str(origin_of(source=row["source"], approval_id=row["approval_id"], tag=row.get("tag"))),
    )


def preview_from_decision(row: dict[str, Any]) -> RiskPreview:
    return RiskPreview(bool(row["approved"]), tuple(row["reasons"] or ()), tuple(row["messages"] or ()),
                       opt_price(row["price"]), to_ist(row["at"]))


# ------------------------------------------------------------------ orders


def order_row(order: Order, *, approval_id: str | None, decision_id: str) -> dict[str, Any]:
    return dict(
        order_id=order.order_id, approval_id=approval_id, decision_id=decision_id, trace_id=order.intent.trace_id,
        strategy=order.intent.strategy, **{**intent_columns(order.intent), **order_state(order)},
        placed_at=to_utc(order.placed_at), day=to_ist(order.placed_at).date(), tick_size=order.tick_size,
    )


def order_state(order: Order) -> dict[str, Any]:
    """The columns that change over an order's life."""
    return dict(
        status=str(order.status), updated_at=to_utc(order.updated_at), filled_quantity=order.filled_quantity,
        filled_turnover=order.filled_turnover, fill_count=order.fill_count,
        queued_for_open=order.queued_for_open, status_message=order.status_message,
        quantity=order.intent.quantity, price=order.intent.price, trigger_price=order.intent.trigger_price,
        order_type=str(order.intent.order_type), market_protection=order.intent.market_protection,
        protection_price=order.protection_price,
    )


def order_from_row(row: dict[str, Any]) -> Order:
    return Order(
        order_id=row["order_id"], intent=intent_from_row(row), status=OrderStatus(row["status"]),
        placed_at=row["placed_at"], updated_at=row["updated_at"], tick_size=Decimal(row["tick_size"]),
        filled_quantity=int(row["filled_quantity"]), filled_turnover=Decimal(row["filled_turnover"]),
        fill_count=int(row["fill_count"]), queued_for_open=bool(row["queued_for_open"]),
        status_message=row["status_message"] or "", protection_price=opt_price(row.get("protection_price")),
    )


def order_view(row: dict[str, Any]) -> OrderView:
    filled = int(row["filled_quantity"])
    avg = (Decimal(row["filled_turnover"]) / filled).quantize(PAISA) if filled else None
    return OrderView(
        order_id=row["order_id"], approval_id=row["approval_id"], trace_id=row["trace_id"],
        tradingsymbol=row["tradingsymbol"], instrument_token=int(row["instrument_token"]), side=row["side"],
        quantity=int(row["quantity"]), product=row["product"], order_type=row["order_type"],
        validity=row["validity"], price=opt_price(row["price"]), trigger_price=opt_price(row["trigger_price"]),
        status=row["status"], filled_quantity=filled, pending_quantity=int(row["quantity"]) - filled,
        average_price=avg, placed_at=to_ist(row["placed_at"]), updated_at=to_ist(row["updated_at"]),
        status_message=row["status_message"] or "", tag=row["tag"] or "", strategy=row["strategy"] or "",
        market_protection=opt_percent(row.get("market_protection")),
        protection_price=opt_price(row.get("protection_price")),
        origin=str(origin_of(approval_id=row["approval_id"] or row["order_id"], tag=row["tag"])),
    )


# ------------------------------------------------------------------ fills, ledger, positions


def fill_row(fill: Fill, *, strategy: str, settles_on: date | None) -> dict[str, Any]:
    c = fill.charges
    return dict(
        fill_id=fill.fill_id, order_id=fill.order_id, seq=fill.seq, trace_id=fill.trace_id,
        instrument_token=fill.instrument_token, tradingsymbol=fill.tradingsymbol, side=str(fill.side),
        product=str(fill.product), quantity=fill.quantity, price=fill.price,
        **{f: getattr(c, f) for f in CHARGE_FIELDS}, charges_total=c.total, filled_at=to_utc(fill.filled_at),
        day=to_ist(fill.filled_at).date(), settles_on=settles_on, strategy=strategy or "", tag=fill.tag,
    )


def charges_from_row(row: dict[str, Any]) -> Charges:
    return Charges(**{f: _dec(row[f]) for f in CHARGE_FIELDS})


def trade_view(row: dict[str, Any]) -> TradeView:
    price = _dec(row["price"])
    return TradeView(
        fill_id=row["fill_id"], order_id=row["order_id"], trace_id=row["trace_id"],
        tradingsymbol=row["tradingsymbol"], instrument_token=int(row["instrument_token"]), side=row["side"],
        product=row["product"], quantity=int(row["quantity"]), price=price, value=price * int(row["quantity"]),
        charges=charges_from_row(row), realized=_dec(row["realized"]),
        filled_at=to_ist(row["filled_at"]), strategy=row["strategy"] or "",
        origin=str(origin_of(approval_id=row["order_id"], tag=row.get("tag"))),
    )


def ledger_row(entry: LedgerEntry, *, trace_id: str = "") -> dict[str, Any]:
    return dict(
        entry_id=entry.entry_id, at=to_utc(entry.at), day=to_ist(entry.at).date(), kind=str(entry.kind),
        amount=entry.amount, reference=entry.reference, instrument_token=entry.instrument_token,
        trace_id=trace_id, memo=entry.memo,
    )


def position_from_row(row: dict[str, Any], *, day: date | None = None) -> Position:
    """A core ``Position``; the buy/sell day stats are zeroed when ``row['day'] != day``."""
    same_day = day is None or row["day"] == day
    return Position(
        instrument_token=int(row["instrument_token"]), tradingsymbol=row["tradingsymbol"],
        product=Product(row["product"]), quantity=int(row["quantity"]), cost=Decimal(row["cost"]),
        realized_pnl=Decimal(row["realized_pnl"]),
        buy_quantity=int(row["buy_quantity"]) if same_day else 0,
        buy_value=Decimal(row["buy_value"]) if same_day else ZERO,
        sell_quantity=int(row["sell_quantity"]) if same_day else 0,
        sell_value=Decimal(row["sell_value"]) if same_day else ZERO,
    )


def position_row(pos: Position, *, day: date, at: datetime) -> dict[str, Any]:
    return dict(
        instrument_token=pos.instrument_token, product=str(pos.product), tradingsymbol=pos.tradingsymbol,
        quantity=pos.quantity, cost=pos.cost, realized_pnl=pos.realized_pnl, day=day,
        buy_quantity=pos.buy_quantity, buy_value=pos.buy_value, sell_quantity=pos.sell_quantity,
        sell_value=pos.sell_value, updated_at=to_utc(at),
    )


def audit_row(trace_id: str, *, at: datetime, actor: str, action: str, price: Decimal | None = None,
              **details: Any) -> dict[str, Any]:
    """An audit row; ``details`` values are made JSON-simple (Decimal → str)."""
    return dict(trace_id=trace_id, at=to_utc(at), actor=actor, action=action, price=price,
                details={k: _jsonable(v) for k, v in details.items()})


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def with_ttl(approval: PendingApproval, seconds: int) -> PendingApproval:
    return replace(approval, ttl=timedelta(seconds=seconds))
