"""The Approvals page's pieces: the pending card, risk badges, the decided history and the
"model vs. trader" judgement chart. Numbers come from ``app.trading.views``."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.trading.views import ApprovalView, OrderView, RiskPreview
from app.ui.charts import desk_layout, inr_axis
from app.ui.colours import pnl_colour
from app.ui.formatting import inr, ist, qty

_HISTORY_COLUMNS = ("decided (IST)", "symbol", "side", "qty", "status", "by", "price at decision",
                    "signal price", "shadow P&L", "source", "note", "order")
_PASSED_UP = ("REJECTED", "EXPIRED")


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
        f"#### :{side_colour}[{view.side}] {qty(view.quantity)} × **{view.tradingsymbol}** "
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
    """Decided proposals as a table (money as formatted ₹ text, times IST). ``views`` come from
    ``TradingService.history``: the ticket's orders and the desk's exits are never among them."""
    rows = [{
        "decided (IST)": ist(v.decided_at),
        "symbol": v.tradingsymbol,
        "side": v.side,
        "qty": qty(v.quantity),
        "status": v.status,
        "by": v.decided_by or "—",
        "price at decision": inr(v.decision_price),
        "signal price": inr(v.signal_price),
        "shadow P&L": inr(v.shadow_pnl, sign=True) if v.status in _PASSED_UP else "",
        "source": v.source,
        "note": v.decision_note,
        "order": v.order_id or "",
    } for v in views]
    return pd.DataFrame(rows, columns=list(_HISTORY_COLUMNS))


def judgement_figure(views: Sequence[ApprovalView]) -> go.Figure | None:
    """Shadow P&L of each rejected/expired signal (bars) and its running total (line).

    Positive bars are money the model's signal would have made that the trader passed up;
    negative bars are losses the trader's judgement avoided. ``None`` when nothing qualifies.
    """
    rows = [v for v in views if v.status in _PASSED_UP and v.shadow_pnl is not None]
    if not rows:
        return None
    rows.sort(key=lambda v: v.decided_at or v.created_at)
    labels = [f"{ist(v.decided_at, with_date=False)} {v.tradingsymbol}" for v in rows]
    values = [float(v.shadow_pnl) for v in rows]
    running = pd.Series(values).cumsum().tolist()
    colours = [pnl_colour(x) for x in values]  # a profit passed up green, a loss avoided red
    fig = go.Figure()
    fig.add_bar(x=labels, y=values, marker_color=colours, name="shadow P&L (₹)",
                customdata=[[v.status, inr(x, sign=True)] for v, x in zip(rows, values, strict=True)],
                hovertemplate="%{x}<br>%{customdata[0]}: %{customdata[1]}<extra></extra>")
    fig.add_scatter(x=labels, y=running, mode="lines+markers", name="running total (₹)",
                    customdata=[inr(x, sign=True) for x in running],
                    hovertemplate="%{x}<br>running total %{customdata}<extra></extra>")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10),
                      title="Model vs. trader: what passed-up signals would have made",
                      legend=dict(orientation="h"))
    desk_layout(fig)
    inr_axis(fig, [*values, *running], title="₹", hover=False)  # Indian-grouped ₹ ticks
    return fig
