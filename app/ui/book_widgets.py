"""The Orders & Positions tables: order book, trade book with charges, positions, funds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from app.trading.views import FundsView, OrderView, PositionView, TradeView
from app.ui.formatting import inr, ist, money, qty, text
from app.ui.order_ticket import protection_text
from app.ui.pnl_widgets import charges_breakdown_frame

_ORDER_COLUMNS = ("placed (IST)", "order", "symbol", "side", "qty", "filled", "product", "type", "price",
                  "trigger", "protection", "avg price", "validity", "status", "message", "tag", "origin")
_POSITION_COLUMNS = ("symbol", "product", "qty", "avg price", "LTP", "unrealized", "realized", "day P&L", "value",
                     "LTP at (IST)")
_CHARGE_LABELS = (("brokerage", "brokerage"), ("stt", "STT"), ("exchange_txn", "exchange txn"),
                  ("sebi", "SEBI"), ("ipft", "IPFT"), ("stamp", "stamp"),
                  ("square_off_fee", "square-off fee"), ("dp", "DP charge"), ("gst", "GST"))
#: A fill's own components: the DP charge is posted on the ledger once per scrip per day, not on a fill.
_FILL_CHARGE_LABELS = tuple(c for c in _CHARGE_LABELS if c[0] != "dp")
_TRADE_COLUMNS = ("filled (IST)", "symbol", "side", "qty", "price", "value", "realized",
                  *[label for _, label in _FILL_CHARGE_LABELS], "charges", "product", "order", "origin")


def orders_frame(orders: Sequence[OrderView]) -> pd.DataFrame:
    """The order book as a table (₹ text, grouped quantities, IST times, "—" for blanks)."""
    rows = [{
        "placed (IST)": ist(o.placed_at),
        "order": o.order_id,
        "symbol": o.tradingsymbol,
        "side": o.side,
        "qty": qty(o.quantity),
        "filled": qty(o.filled_quantity),
        "product": o.product,
        "type": o.order_type,
        "price": inr(o.price),
        "trigger": inr(o.trigger_price),
        "protection": protection_text(o.market_protection, o.protection_price),
        "avg price": inr(o.average_price),
        "validity": o.validity,
        "status": o.status,
        "message": text(o.status_message),
        "tag": text(o.tag),
        "origin": text(o.origin),  # approval, ticket, square-off, kill switch (core.approvals.Origin)
    } for o in orders]
    return pd.DataFrame(rows, columns=list(_ORDER_COLUMNS))


def _trade_row(t: TradeView) -> dict[str, Any]:
    row = {
        "filled (IST)": ist(t.filled_at),
        "symbol": t.tradingsymbol,
        "side": t.side,
        "qty": qty(t.quantity),
        "price": inr(t.price),
        "value": inr(t.value),
        "realized": inr(t.realized, sign=True),
    }
    for attr, label in _FILL_CHARGE_LABELS:
        row[label] = inr(getattr(t.charges, attr))
    row["charges"] = inr(t.charges.total)
    row["product"] = t.product
    row["order"] = t.order_id
    row["origin"] = text(t.origin)
    return row


def trades_frame(trades: Sequence[TradeView]) -> pd.DataFrame:
    """The trade book with each fill's charges breakdown (₹ text, IST times)."""
    return pd.DataFrame([_trade_row(t) for t in trades], columns=list(_TRADE_COLUMNS))


def positions_frame(positions: Sequence[PositionView]) -> pd.DataFrame:
    """Positions marked to market (₹ text; quantity text, signed: long > 0, ``"-5"`` short)."""
    rows = [{
        "symbol": p.tradingsymbol,
        "product": p.product,
        "qty": qty(p.quantity),
        "avg price": inr(p.average_price),
        "LTP": inr(p.ltp),
        "unrealized": inr(p.unrealized, sign=True),
        "realized": inr(p.realized, sign=True),
        "day P&L": inr(p.day_pnl, sign=True),
        "value": inr(p.value),
        "LTP at (IST)": ist(p.ltp_at, with_date=False) if p.ltp_at else "—",
    } for p in positions]
    return pd.DataFrame(rows, columns=list(_POSITION_COLUMNS))


def charges_frame(charges: Any, netting: Sequence[dict] = ()) -> pd.DataFrame:
    """One row per charge component, the same-day CNC netting as its own line when ``netting``
    (``ContractNoteService.netting_today``: ``[{tradingsymbol, amount}]`` ₹) has any, then the
    total the ledger (and so Funds' "Charges today") holds (₹ text). The P&L page's breakdown
    (``app.ui.pnl_widgets.charges_breakdown_frame``), one table for both pages."""
    return charges_breakdown_frame(charges, list(netting))


def funds_metrics(funds: FundsView) -> None:
    """Funds and P&L as two rows of ``st.metric``: balances by the paise rule (``money``: no
    paise from ₹1,00,000), P&L and charges to the paisa (``inr``)."""
    r1 = st.columns(4)
    r1[0].metric("Available margin", money(funds.available))
    r1[1].metric("Margin used", money(funds.margin_used))
    r1[2].metric("Cash", money(funds.cash))
    r1[3].metric("Equity", money(funds.equity))
    r2 = st.columns(4)
    r2[0].metric("Gross P&L", inr(funds.gross_pnl, sign=True))
    r2[1].metric("Charges today", inr(funds.charges_today))
    r2[2].metric("Net P&L", inr(funds.net_pnl, sign=True))
    r2[3].metric("Day P&L (net)", inr(funds.day_pnl, sign=True))
    st.caption(f"Virtual capital {money(funds.capital)} · realized {inr(funds.realized, sign=True)} · "
               f"unrealized {inr(funds.unrealized, sign=True)} · all charges {inr(funds.charges_total)}"
               + ("" if funds.reconciled else " · :red[ledger does not reconcile]"))


_EXIT_COLUMNS = ("symbol", "product", "status", "exit side", "qty", "stop", "stop type", "target", "trailing",
                 "orders", "note")
_GTT_COLUMNS = ("symbol", "status", "side", "qty", "stop trigger", "target trigger", "legs", "expires (IST)",
                "order", "entry order")


def exits_frame(exits: Sequence[Any]) -> pd.DataFrame:
    """The MIS exit groups (``app.trading.exits.ExitView`` of kind ``OCO``): stop, target and
    trailing of each position, its working orders and status (₹ text)."""
    rows = [{
        "symbol": e.tradingsymbol,
        "product": e.product,
        "status": e.status,
        "exit side": e.side,
        "qty": qty(e.quantity),
        "stop": inr(e.stop),
        "stop type": text(e.stop_type),
        "target": inr(e.target),
        "trailing": text(e.trailing),
        "orders": text(", ".join(e.orders)),
        "note": text(e.message),
    } for e in exits if e.kind == "OCO"]
    return pd.DataFrame(rows, columns=list(_EXIT_COLUMNS))


def gtt_frame(exits: Sequence[Any]) -> pd.DataFrame:
    """The GTT book (``ExitView`` of kind ``GTT``, CNC): triggers, legs, expiry (IST) and the
    LIMIT order a triggered GTT placed."""
    rows = [{
        "symbol": e.tradingsymbol,
        "status": e.status,
        "side": e.side,
        "qty": qty(e.quantity),
        "stop trigger": inr(e.stop),
        "target trigger": inr(e.target),
        "legs": text(e.message),
        "expires (IST)": ist(e.expires_at) if e.expires_at else "—",
        "order": text(", ".join(e.orders)),
        "entry order": e.entry_order_id,
    } for e in exits if e.kind == "GTT"]
    return pd.DataFrame(rows, columns=list(_GTT_COLUMNS))


def exits_tables(exits: Sequence[Any] | None, *, key: str) -> None:
    """Each position's exits: the MIS stop/target table and the CNC GTT book (``None``: unreadable,
    already reported by the caller)."""
    if exits is None:
        return
    with st.container(key=f"{key}_exits"):  # a stable CSS class for browser tests
        if not exits:
            st.caption("No exits yet: an entry with a stop-loss or a target places them when it fills.")
            return
        oco = exits_frame(exits)
        if len(oco):
            st.dataframe(oco, hide_index=True, key=f"{key}_exits_table")
        gtt = gtt_frame(exits)
        if len(gtt):
            st.caption("GTT book (CNC): fires a LIMIT order when the LTP reaches a trigger; valid one year.")
            st.dataframe(gtt, hide_index=True, key=f"{key}_gtt_table")
