"""Rendering helpers for the paper-desk pages (Approvals, Orders & Positions, Risk, P&L).

Formatting only: the numbers come from ``app.trading.service`` views; nothing here computes
P&L, risk or charges. Money is shown as ₹ with Indian digit grouping (``₹10,00,000.00``),
times in IST.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app.market.clock import DeskClock
from app.trading.views import (
    ActionOutcome,
    ApprovalView,
    FundsView,
    OrderView,
    PositionView,
    RiskPreview,
    TradeView,
)
from core.errors import DeskError, ValidationError
from core.orders import OrderIntent, OrderType, Product, Side, Validity, price_from_float
from core.timeutil import IST, UTC

if TYPE_CHECKING:  # pragma: no cover
    from app.trading.service import TradingService

T = TypeVar("T")

_PAISA = Decimal("0.01")


# --------------------------------------------------------------------------- formatting


def indian_group(digits: str) -> str:
    """Group a string of integer digits the Indian way: ``"1000000"`` → ``"10,00,000"``."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join(groups) + "," + tail


def inr(amount: Decimal | float | int | str | None, *, sign: bool = False, decimals: int = 2) -> str:
    """Rupees with Indian grouping: ``inr(Decimal("1000000"))`` → ``"₹10,00,000.00"``.

    Negative amounts are ``"-₹1,234.50"``; ``sign=True`` also prefixes ``+`` on positives
    (for P&L). ``None``/NaN/unparseable → ``"—"``. Rounds half-up to ``decimals`` places.
    """
    if amount is None:
        return "—"
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return "—"
    if not value.is_finite():
        return "—"
    quantum = Decimal(1).scaleb(-decimals) if decimals > 0 else Decimal(1)
    value = value.quantize(quantum, rounding=ROUND_HALF_UP)
    negative = value < 0
    text = f"{abs(value):.{decimals}f}"
    whole, _, frac = text.partition(".")
    body = "₹" + indian_group(whole) + (f".{frac}" if frac else "")
    if negative:
        return "-" + body
    if sign and value > 0:
        return "+" + body
    return body


def pct(value: Decimal | float | None, decimals: int = 2) -> str:
    """``12.345`` → ``"12.35 %"``; ``None`` → ``"—"``."""
    if value is None:
        return "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if v != v:
        return "—"
    text = f"{v:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")  # no "-0.00 %"
    return f"{text} %"


def ist(when: datetime | None, with_date: bool = True) -> str:
    """``"16 Aug 2016 09:15:03 IST"`` (or ``"—"``). Naive times are taken as UTC."""
    if when is None:
        return "—"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    local = when.astimezone(IST)
    return local.strftime("%d %b %Y %H:%M:%S IST" if with_date else "%H:%M:%S IST")


def countdown(remaining: timedelta) -> str:
    """``timedelta(minutes=4, seconds=5)`` → ``"4:05"``; ``"1:02:03"`` past an hour; ≤ 0 → ``"expired"``."""
    total = int(remaining.total_seconds())
    if total <= 0:
        return "expired"
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# --------------------------------------------------------------------------- service bridge


class DeskUnavailable(Exception):
    """The trading backend is not wired into the container (yet)."""


def trading_service(svc: Any) -> TradingService:
    """``svc.trading`` or :class:`DeskUnavailable` when the composition root lacks it."""
    try:
        return svc.trading
    except AttributeError as exc:  # the container has no ``trading`` attribute yet
        raise DeskUnavailable("The trading service is not wired into app.container yet.") from exc
    except ImportError as exc:  # a backend module is missing
        raise DeskUnavailable(f"The trading service cannot be built: {exc}") from exc


def require_trading(svc: Any) -> TradingService:
    """``svc.trading``, or an ``st.warning`` and ``st.stop()`` when it cannot be built."""
    try:
        return trading_service(svc)
    except DeskUnavailable as exc:
        st.warning(str(exc))
    except _INFRA_ERRORS as exc:
        st.warning(f"The paper desk is unavailable: {_infra_message(exc)}")
    st.stop()
    raise AssertionError("unreachable")  # pragma: no cover


def current_user() -> str:
    """Who is acting: the signed-in desk user, else Streamlit's OIDC user, else ``"trader"``."""
    from app.ui.auth import signed_in_user

    if user := signed_in_user():
        return user
    try:
        if st.user.get("is_logged_in"):
            return str(st.user.get("email") or st.user.get("name") or "trader")
    except Exception:  # noqa: BLE001 - auth not configured
        pass
    return "trader"



def desk_clock(svc: Any, wall: datetime | None = None) -> DeskClock:
    """The market clock (``services().market_clock``); never raises for a dead Redis."""
    return svc.market_clock.now(wall)


def ltp_of(svc: Any, token: int) -> Decimal | None:
    """The latest cached LTP of ``token`` in ₹, or ``None`` (no tick, or Redis down)."""
    try:
        cached = svc.ticks.latest([token]).get(token)
    except _INFRA_ERRORS:
        return None
    if cached is None or not cached.tick.last_price or cached.tick.last_price <= 0:
        return None
    return price_from_float(cached.tick.last_price)


# --------------------------------------------------------------------------- errors


def _infra_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [DeskError, OSError, ConnectionError, TimeoutError]
    try:
        import redis

        errors.append(redis.RedisError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from sqlalchemy.exc import SQLAlchemyError

        errors.append(SQLAlchemyError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


_INFRA_ERRORS = _infra_errors()


def _infra_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def guarded(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call ``fn``; on a store/Redis failure show ``st.warning`` naming ``what`` and return None.

    ``ValidationError`` is bad input and is re-raised for the caller to show with ``st.error``.
    """
    try:
        return fn(*args, **kwargs)
    except ValidationError:
        raise
    except _INFRA_ERRORS as exc:
        st.warning(f"{what} is unavailable right now: {_infra_message(exc)}", icon=":material/warning:")
        return None


def show_outcome(outcome: ActionOutcome, success: str | None = None) -> None:
    """Render an ``ActionOutcome``: success, a reported no-op, or a refusal with its codes."""
    if outcome.ok:
        st.success(success or outcome.message)
    elif outcome.noop:
        st.info(f"Nothing to do: {outcome.message} {reason_codes_text(outcome.reasons)}")
    else:
        st.error(f"Refused {reason_codes_text(outcome.reasons)}: {outcome.message}")


def outcome_flash(outcome: ActionOutcome, success: str) -> tuple[str, str]:
    """``(level, text)`` for a flash message shown after ``st.rerun()``."""
    if outcome.ok:
        return "success", success
    if outcome.noop:
        return "info", f"Nothing to do: {outcome.message} {reason_codes_text(outcome.reasons)}"
    return "error", f"Refused {reason_codes_text(outcome.reasons)}: {outcome.message}"


def show_flash(key: str) -> None:
    """Pop and show a flash message stored as ``(level, text)`` or a list of them."""
    flash = st.session_state.pop(key, None)
    if not flash:
        return
    items = flash if isinstance(flash, list) else [flash]
    for level, text in items:
        getattr(st, level)(text)


def reason_codes_text(codes: Sequence[str]) -> str:
    """``("ORDER_NOTIONAL", "MIS_CUTOFF")`` → ``"[ORDER_NOTIONAL, MIS_CUTOFF]"``."""
    return f"[{', '.join(codes)}]" if codes else ""


# --------------------------------------------------------------------------- approvals


def risk_badges(preview: RiskPreview) -> str:
    """Markdown: a green "risk OK" badge, or one red badge per reason code."""
    if preview.approved:
        at = f" at {inr(preview.price)}" if preview.price is not None else ""
        return f":green-badge[risk OK{at}]"
    if not preview.reasons:
        return ":gray-badge[risk not checked]"
    return " ".join(f":red-badge[{code}]" for code in preview.reasons)


def price_text(view: ApprovalView | OrderView) -> str:
    """``"MARKET"``, ``"LIMIT ₹1,043.25"``, ``"SL ₹1,040.00 trg ₹1,041.00"``."""
    parts = [view.order_type]
    if view.price is not None:
        parts.append(inr(view.price))
    if view.trigger_price is not None:
        parts.append(f"trg {inr(view.trigger_price)}")
    return " ".join(parts)


def approval_card(view: ApprovalView) -> None:
    """The body of one pending-approval card (no buttons; the page adds them)."""
    side_colour = "green" if view.side == "BUY" else "red"
    st.markdown(
        f"#### :{side_colour}[{view.side}] {view.quantity:,} × **{view.tradingsymbol}** "
        f"· {view.product} · {price_text(view)} · {view.validity}"
    )
    c1, c2, c3 = st.columns(3)
    c1.markdown(f"**Signal price:** {inr(view.signal_price)}  \n**Notional:** {inr(view.notional)}")
    c2.markdown(f"**Stop:** {inr(view.stop_loss)}  \n**Target:** {inr(view.target)}")
    who = view.source + (f" · {view.strategy}" if view.strategy and view.strategy != view.source else "")
    c3.markdown(f"**Source:** {who}  \n**Proposed:** {ist(view.created_at, with_date=False)}")
    st.markdown(f"**Why:** {view.reason}")
    preview = view.risk_preview
    st.markdown(f"**Risk preview:** {risk_badges(preview)}")
    for message in preview.messages:
        st.caption(f"• {message}")


def history_frame(views: Sequence[ApprovalView]) -> pd.DataFrame:
    """Decided approvals as a table (money as formatted ₹ text, times IST)."""
    rows = [{
        "decided (IST)": ist(v.decided_at),
        "symbol": v.tradingsymbol,
        "side": v.side,
        "qty": v.quantity,
        "status": v.status,
        "by": v.decided_by or "—",
        "price at decision": inr(v.decision_price),
        "signal price": inr(v.signal_price),
        "shadow P&L": inr(v.shadow_pnl, sign=True) if v.status in ("REJECTED", "EXPIRED") else "",
        "source": v.source,
        "note": v.decision_note,
        "order": v.order_id or "",
    } for v in views]
    return pd.DataFrame(rows, columns=list(_HISTORY_COLUMNS))


_HISTORY_COLUMNS = ("decided (IST)", "symbol", "side", "qty", "status", "by", "price at decision",
                    "signal price", "shadow P&L", "source", "note", "order")


def judgement_figure(views: Sequence[ApprovalView]) -> go.Figure | None:
    """Shadow P&L of each rejected/expired signal (bars) and its running total (line).

    Positive bars are money the model's signal would have made that the trader passed up;
    negative bars are losses the trader's judgement avoided. ``None`` when nothing qualifies.
    """
    rows = [v for v in views if v.status in ("REJECTED", "EXPIRED") and v.shadow_pnl is not None]
    if not rows:
        return None
    rows.sort(key=lambda v: v.decided_at or v.created_at)
    labels = [f"{ist(v.decided_at, with_date=False)} {v.tradingsymbol}" for v in rows]
    values = [float(v.shadow_pnl) for v in rows]
    running = pd.Series(values).cumsum().tolist()
    colours = ["#ef5350" if x > 0 else "#26a69a" for x in values]
    fig = go.Figure()
    fig.add_bar(x=labels, y=values, marker_color=colours, name="shadow P&L (₹)",
                customdata=[v.status for v in rows],
                hovertemplate="%{x}<br>%{customdata}: ₹%{y:,.2f}<extra></extra>")
    fig.add_scatter(x=labels, y=running, mode="lines+markers", name="running total (₹)")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10),
                      title="Model vs. trader: what passed-up signals would have made",
                      yaxis_title="₹", legend=dict(orientation="h"))
    return fig


# --------------------------------------------------------------------------- order ticket


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
) -> OrderIntent:
    """Build the ticket's ``OrderIntent`` from widget values (0 or ``None`` price = not set).

    Prices the order type does not take are dropped, so a MARKET ticket with a stale price in
    the LIMIT box stays valid. Raises ``ValidationError`` (from ``OrderIntent``) for bad input:
    zero quantity, a LIMIT without a price, an SL trigger on the wrong side …
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
        price=_rupees(price) if takes_price else None,
        trigger_price=_rupees(trigger_price) if takes_trigger else None,
        validity=Validity(validity),
        stop_loss=_rupees(stop_loss),
        target=_rupees(target),
        strategy=strategy,
    )


def _rupees(value: float | None) -> Decimal | None:
    if value is None or value == 0:
        return None
    return Decimal(str(round(float(value), 2)))


def to_decimal(value: float | None) -> Decimal | None:
    """A widget's float rupees as exact ``Decimal`` (0/None → ``None``)."""
    return _rupees(value)


# --------------------------------------------------------------------------- books


def orders_frame(orders: Sequence[OrderView]) -> pd.DataFrame:
    """The order book as a table (₹ text, IST times)."""
    rows = [{
        "placed (IST)": ist(o.placed_at),
        "order": o.order_id,
        "symbol": o.tradingsymbol,
        "side": o.side,
        "qty": o.quantity,
        "filled": o.filled_quantity,
        "product": o.product,
        "type": o.order_type,
        "price": inr(o.price),
        "trigger": inr(o.trigger_price),
        "avg price": inr(o.average_price),
        "validity": o.validity,
        "status": o.status,
        "message": o.status_message,
        "tag": o.tag,
    } for o in orders]
    return pd.DataFrame(rows, columns=list(_ORDER_COLUMNS))


_ORDER_COLUMNS = ("placed (IST)", "order", "symbol", "side", "qty", "filled", "product", "type", "price",
                  "trigger", "avg price", "validity", "status", "message", "tag")

_CHARGE_LABELS = (("brokerage", "brokerage"), ("stt", "STT"), ("exchange_txn", "exchange txn"),
                  ("sebi", "SEBI"), ("ipft", "IPFT"), ("stamp", "stamp"),
                  ("square_off_fee", "square-off fee"), ("dp", "DP charge"), ("gst", "GST"))
#: A fill's own components: the DP charge is posted on the ledger once per scrip per day, not on a fill.
_FILL_CHARGE_LABELS = tuple(c for c in _CHARGE_LABELS if c[0] != "dp")


def trades_frame(trades: Sequence[TradeView]) -> pd.DataFrame:
    """The trade book with each fill's charges breakdown (₹ text, IST times)."""
    rows = []
    for t in trades:
        row = {
            "filled (IST)": ist(t.filled_at),
            "symbol": t.tradingsymbol,
            "side": t.side,
            "qty": t.quantity,
            "price": inr(t.price),
            "value": inr(t.value),
            "realized": inr(t.realized, sign=True),
        }
        for attr, label in _FILL_CHARGE_LABELS:
            row[label] = inr(getattr(t.charges, attr))
        row["charges"] = inr(t.charges.total)
        row["product"] = t.product
        row["order"] = t.order_id
        rows.append(row)
    columns = ["filled (IST)", "symbol", "side", "qty", "price", "value", "realized",
               *[label for _, label in _FILL_CHARGE_LABELS], "charges", "product", "order"]
    return pd.DataFrame(rows, columns=columns)


def positions_frame(positions: Sequence[PositionView]) -> pd.DataFrame:
    """Positions marked to market (₹ text; quantity signed, long > 0)."""
    rows = [{
        "symbol": p.tradingsymbol,
        "product": p.product,
        "qty": p.quantity,
        "avg price": inr(p.average_price),
        "LTP": inr(p.ltp),
        "unrealized": inr(p.unrealized, sign=True),
        "realized": inr(p.realized, sign=True),
        "day P&L": inr(p.day_pnl, sign=True),
        "value": inr(p.value),
        "LTP at (IST)": ist(p.ltp_at, with_date=False) if p.ltp_at else "—",
    } for p in positions]
    return pd.DataFrame(rows, columns=["symbol", "product", "qty", "avg price", "LTP", "unrealized",
                                       "realized", "day P&L", "value", "LTP at (IST)"])


def charges_frame(charges: Any) -> pd.DataFrame:
    """One row per charge component plus the total (₹ text)."""
    rows = [{"charge": label, "amount": inr(getattr(charges, attr, None))} for attr, label in _CHARGE_LABELS]
    rows.append({"charge": "total", "amount": inr(charges.total)})
    return pd.DataFrame(rows)


def funds_metrics(funds: FundsView) -> None:
    """Funds and P&L as two rows of ``st.metric``."""
    r1 = st.columns(4)
    r1[0].metric("Available margin", inr(funds.available))
    r1[1].metric("Margin used", inr(funds.margin_used))
    r1[2].metric("Cash", inr(funds.cash))
    r1[3].metric("Equity", inr(funds.equity))
    r2 = st.columns(4)
    r2[0].metric("Gross P&L", inr(funds.gross_pnl, sign=True))
    r2[1].metric("Charges today", inr(funds.charges_today))
    r2[2].metric("Net P&L", inr(funds.net_pnl, sign=True))
    r2[3].metric("Day P&L (net)", inr(funds.day_pnl, sign=True))
    st.caption(f"Virtual capital {inr(funds.capital)} · realized {inr(funds.realized, sign=True)} · "
               f"unrealized {inr(funds.unrealized, sign=True)} · all charges {inr(funds.charges_total)}"
               + ("" if funds.reconciled else " · :red[ledger does not reconcile]"))


# --------------------------------------------------------------------------- P&L


def pnl_table(frame: pd.DataFrame, key_column: str) -> pd.DataFrame:
    """Per-symbol/per-strategy P&L for display: ₹ text and charges as % of gross."""
    if frame is None or frame.empty:
        return pd.DataFrame(columns=[key_column, "gross", "charges", "net", "charges % of gross", "trades"])
    out = pd.DataFrame({
        key_column: frame[key_column].astype(str),
        "gross": [inr(v, sign=True) for v in frame["gross"]],
        "charges": [inr(v) for v in frame["charges"]],
        "net": [inr(v, sign=True) for v in frame["net"]],
        "charges % of gross": [pct(v) for v in frame["charges_pct"]],
        "trades": frame["trades"].astype(int),
    })
    return out.reset_index(drop=True)


def equity_figure(curve: pd.DataFrame) -> go.Figure:
    """Equity (₹) on top, drawdown (% below the running peak) below, x in IST."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06,
                        subplot_titles=("Equity (₹)", "Drawdown (%)"))
    ts = pd.to_datetime(curve["ts"])
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert(IST)
    fig.add_scatter(x=ts, y=curve["equity"], mode="lines+markers", name="equity", line=dict(color="#1f77b4"),
                    hovertemplate="%{x|%d %b %H:%M:%S} IST<br>₹%{y:,.2f}<extra></extra>", row=1, col=1)
    fig.add_scatter(x=ts, y=curve["drawdown_pct"], mode="lines", name="drawdown", fill="tozeroy",
                    line=dict(color="#ef5350"), hovertemplate="%{x|%d %b %H:%M:%S} IST<br>%{y:.3~g} %<extra></extra>",
                    row=2, col=1)
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=40, b=10), showlegend=False)
    fig.update_yaxes(tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(tickformat=".2~g", row=2, col=1)  # significant digits: a -0.003 % drawdown stays legible
    return fig


def pnl_bar_figure(frame: pd.DataFrame, key_column: str, title: str) -> go.Figure:
    """Grouped bars of gross, charges and net ₹ per ``key_column``."""
    fig = go.Figure()
    x = frame[key_column].astype(str)
    fig.add_bar(x=x, y=frame["gross"], name="gross")
    fig.add_bar(x=x, y=-frame["charges"].abs(), name="charges")
    fig.add_bar(x=x, y=frame["net"], name="net")
    fig.update_layout(barmode="group", height=300, margin=dict(l=10, r=10, t=40, b=10), title=title,
                      yaxis_title="₹", legend=dict(orientation="h"))
    return fig
