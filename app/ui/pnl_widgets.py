"""The P&L page's pieces: per-symbol/per-strategy tables and bars, the equity and drawdown chart,
today's charges breakdown with the same-day CNC netting line, the contract-note reconciliation."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.ui.formatting import inr, pct
from core.timeutil import IST


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


# ---------------------------------------------------------------- charges today and the contract note

_BREAKDOWN = (("brokerage", "brokerage"), ("stt", "STT"), ("exchange_txn", "exchange txn"), ("sebi", "SEBI"),
              ("ipft", "IPFT"), ("stamp", "stamp"), ("square_off_fee", "square-off fee"), ("dp", "DP charge"),
              ("gst", "GST"))
#: The breakdown's line for same-day CNC netting (core.same_day_cnc).
NETTING_LINE = "same-day CNC netting (charged as intraday)"


def charges_breakdown_frame(charges, netting: list[dict]) -> pd.DataFrame:
    """Today's charges, one row per component as booked on the fills and the ledger fees, then
    the same-day CNC netting as its own line (``netting``: ``[{tradingsymbol, amount}]`` ₹,
    < 0 a saving against delivery rates; its scrips named), then the total the ledger holds."""
    rows = [{"charge": label, "amount": inr(getattr(charges, attr, None))} for attr, label in _BREAKDOWN]
    adjustment = sum((Decimal(str(n["amount"])) for n in netting), Decimal(0))
    if netting:
        rows.append({"charge": f"{NETTING_LINE}: {', '.join(n['tradingsymbol'] for n in netting)}",
                     "amount": inr(adjustment, sign=True)})
    rows.append({"charge": "total", "amount": inr(charges.total + adjustment)})
    return pd.DataFrame(rows)


def netting_saving(netting: list[dict]) -> Decimal:
    """₹ saved by same-day CNC netting (the negated adjustment; 0 when none or when it costs)."""
    return max(Decimal(0), -sum((Decimal(str(n["amount"])) for n in netting), Decimal(0)))


NOTE_STATUS = {
    "matched": "The desk's charges match Kite's virtual contract note.",
    "differences": "The desk's charges differ from Kite's virtual contract note.",
    "no_fills": "No fills on this day: nothing to reconcile.",
    "unreachable": "Kite's contract note could not be reached; the job retries.",
    "failed": "Kite's contract note could not be read.",
    "no_session": "Not reconciled: no Kite session (log in on the Settings page).",
}


def note_frame(rows: list[dict], *, only_differences: bool = True) -> pd.DataFrame:
    """The reconciliation's comparison rows (``NoteCheck.rows``) as a table, per order and per
    charge: desk ₹, Kite ₹ and desk − Kite; only the differing rows by default."""
    cols = ["order", "symbol", "charge", "desk", "Kite", "desk − Kite"]
    picked = [r for r in rows if r["differs"] or not only_differences]
    if not picked:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame([{"order": r["order_id"], "symbol": r["tradingsymbol"], "charge": r["label"],
                          "desk": inr(r["desk"]), "Kite": inr(r["kite"]), "desk − Kite": inr(r["difference"], sign=True)}
                         for r in picked], columns=cols)
