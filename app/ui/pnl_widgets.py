"""The P&L page's pieces: per-symbol/per-strategy tables and bars, the equity and drawdown chart,
today's charges breakdown with the same-day CNC netting line, the contract-note reconciliation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.ui.charts import desk_layout, inr_axis
from app.ui.colours import LOSS, NEUTRAL, pnl_colour
from app.ui.formatting import MISSING, inr, ist, money, pct, qty, text
from core.timeutil import IST


_KEY_LABELS = {"origin": "origin", "strategy": "strategy", "tradingsymbol": "tradingsymbol"}


def pnl_table(frame: pd.DataFrame, key_column: str) -> pd.DataFrame:
    """Per-symbol/per-strategy P&L for display: ₹ text and charges as % of gross. A frame from
    ``pnl_by_strategy`` shows its ``origin`` column before ``strategy`` ("—" for the ticket and the
    desk's exits, which have no strategy)."""
    keys = [c for c in ("origin", key_column) if c in (frame.columns if frame is not None else ())]
    keys = keys or [key_column]
    if frame is None or frame.empty:
        return pd.DataFrame(columns=[*keys, "gross", "charges", "net", "charges % of gross", "trades"])
    out = pd.DataFrame({
        **{k: [text(v) for v in frame[k]] for k in keys},
        "gross": [inr(v, sign=True) for v in frame["gross"]],
        "charges": [inr(v) for v in frame["charges"]],
        "net": [inr(v, sign=True) for v in frame["net"]],
        "charges % of gross": [pct(v) for v in frame["charges_pct"]],
        "trades": frame["trades"].astype(int),
    })
    return out.reset_index(drop=True)


def pnl_labels(frame: pd.DataFrame, key_column: str) -> pd.Series:
    """Bar labels: the key, or for a by-strategy frame ``"strategy"`` / the origin when none."""
    if "origin" in frame.columns and key_column == "strategy":
        return pd.Series([s if s else o for o, s in zip(frame["origin"], frame["strategy"], strict=True)],
                         index=frame.index, dtype="object")
    return frame[key_column].astype(str)


def equity_figure(curve: pd.DataFrame) -> go.Figure:
    """Equity (₹, Indian-grouped ticks and hovers) on top, drawdown (% below the running peak)
    below, x in IST."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06,
                        subplot_titles=("Equity (₹)", "Drawdown (%)"))
    ts = pd.to_datetime(curve["ts"])
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert(IST)
    fig.add_scatter(x=ts, y=curve["equity"], mode="lines+markers", name="equity", line=dict(color="#1f77b4"),
                    customdata=[money(v) for v in curve["equity"]],
                    hovertemplate="%{x|%d %b %Y %H:%M:%S} IST<br>%{customdata}<extra></extra>", row=1, col=1)
    fig.add_scatter(x=ts, y=curve["drawdown_pct"], mode="lines", name="drawdown", fill="tozeroy",
                    line=dict(color=LOSS), hovertemplate="%{x|%d %b %Y %H:%M:%S} IST<br>%{y:.3~g} %<extra></extra>",
                    row=2, col=1)
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=40, b=10), showlegend=False)
    desk_layout(fig)
    inr_axis(fig, curve["equity"], row=1, col=1, hover=False)
    fig.update_yaxes(tickformat=".2~g", ticksuffix=" %", row=2, col=1)  # significant digits: -0.003 % stays legible
    return fig


def pnl_bar_figure(frame: pd.DataFrame, key_column: str, title: str) -> go.Figure:
    """Grouped bars of gross, charges and net ₹ per ``key_column``: gross and net green for a
    profit and red for a loss (``app.ui.colours``; gross paler), charges grey."""
    fig = go.Figure()
    x = pnl_labels(frame, key_column)
    hover = "%{x}<br>%{customdata}<extra>%{fullData.name}</extra>"
    charges = -frame["charges"].abs()
    fig.add_bar(x=x, y=frame["gross"], name="gross", marker_color=[pnl_colour(v) for v in frame["gross"]],
                marker_opacity=0.55, customdata=[inr(v, sign=True) for v in frame["gross"]], hovertemplate=hover)
    fig.add_bar(x=x, y=charges, name="charges", marker_color=NEUTRAL,
                customdata=[inr(v) for v in charges], hovertemplate=hover)
    fig.add_bar(x=x, y=frame["net"], name="net", marker_color=[pnl_colour(v) for v in frame["net"]],
                customdata=[inr(v, sign=True) for v in frame["net"]], hovertemplate=hover)
    fig.update_layout(barmode="group", height=300, margin=dict(l=10, r=10, t=40, b=10), title=title,
                      legend=dict(orientation="h"))
    desk_layout(fig)
    inr_axis(fig, [*frame["gross"], *charges, *frame["net"]], title="₹", hover=False)
    return fig


# ---------------------------------------------------------------- Console-style reports (trade-wise, symbol-wise)

#: Trade-wise report columns, as shown and as in the CSV (Zerodha Console's tradewise P&L).
TRADE_COLUMNS = ("time (IST)", "symbol", "side", "qty", "price", "value", "charges", "realized P&L", "origin",
                 "strategy", "product", "order")
#: Symbol-wise report columns, as shown and as in the CSV.
SYMBOL_COLUMNS = ("symbol", "buy qty", "sell qty", "buy value", "sell value", "realized P&L", "charges", "net P&L",
                  "trades")


def month_range(market_day: date) -> tuple[date, date]:
    """The default report range: the first of ``market_day``'s month up to ``market_day`` (the
    market clock's IST day; the report never reaches past it)."""
    return market_day.replace(day=1), market_day


def trade_report_frame(trades: pd.DataFrame) -> pd.DataFrame:
    """``TradingService.trade_report`` for display: IST time, ₹ text, origin and strategy ("—")."""
    if trades is None or trades.empty:
        return pd.DataFrame(columns=list(TRADE_COLUMNS))
    return pd.DataFrame({
        "time (IST)": [ist(t) for t in trades["filled_at"]],
        "symbol": trades["tradingsymbol"].astype(str),
        "side": trades["side"].astype(str),
        "qty": [qty(q) for q in trades["quantity"]],
        "price": [inr(v) for v in trades["price"]],
        "value": [inr(v) for v in trades["value"]],
        "charges": [inr(v) for v in trades["charges"]],
        "realized P&L": [inr(v, sign=True) for v in trades["realized"]],
        "origin": trades["origin"].astype(str),
        "strategy": [s or MISSING for s in trades["strategy"]],
        "product": trades["product"].astype(str),
        "order": trades["order_id"].astype(str),
    }, columns=list(TRADE_COLUMNS))


def trade_report_csv(trades: pd.DataFrame) -> bytes:
    """The trade-wise report as UTF-8 CSV: one row per fill, times ``YYYY-MM-DD HH:MM:SS`` IST,
    numbers plain (rupees with 2 decimals, no symbol or grouping) so a spreadsheet can sum them."""
    out = pd.DataFrame({
        "time (IST)": [pd.Timestamp(t).tz_convert(IST).strftime("%Y-%m-%d %H:%M:%S") for t in trades["filled_at"]],
        "symbol": trades["tradingsymbol"], "side": trades["side"], "qty": trades["quantity"].astype("int64"),
        "price": trades["price"].round(2), "value": trades["value"].round(2), "charges": trades["charges"].round(2),
        "realized P&L": trades["realized"].round(2), "origin": trades["origin"], "strategy": trades["strategy"],
        "product": trades["product"], "order": trades["order_id"],
    }, columns=list(TRADE_COLUMNS))
    return out.to_csv(index=False, float_format="%.2f").encode("utf-8")


def symbol_report_frame(symbols: pd.DataFrame) -> pd.DataFrame:
    """``TradingService.symbol_report`` for display (₹ text, P&L signed)."""
    if symbols is None or symbols.empty:
        return pd.DataFrame(columns=list(SYMBOL_COLUMNS))
    return pd.DataFrame({
        "symbol": symbols["tradingsymbol"].astype(str),
        "buy qty": [qty(q) for q in symbols["buy_quantity"]],
        "sell qty": [qty(q) for q in symbols["sell_quantity"]],
        "buy value": [inr(v) for v in symbols["buy_value"]],
        "sell value": [inr(v) for v in symbols["sell_value"]],
        "realized P&L": [inr(v, sign=True) for v in symbols["realized"]],
        "charges": [inr(v) for v in symbols["charges"]],
        "net P&L": [inr(v, sign=True) for v in symbols["net"]],
        "trades": symbols["trades"].astype(int),
    }, columns=list(SYMBOL_COLUMNS))


def symbol_report_csv(symbols: pd.DataFrame) -> bytes:
    """The symbol-wise report as UTF-8 CSV, numbers plain (rupees with 2 decimals)."""
    out = pd.DataFrame({
        "symbol": symbols["tradingsymbol"], "buy qty": symbols["buy_quantity"].astype("int64"),
        "sell qty": symbols["sell_quantity"].astype("int64"), "buy value": symbols["buy_value"].round(2),
        "sell value": symbols["sell_value"].round(2), "realized P&L": symbols["realized"].round(2),
        "charges": symbols["charges"].round(2), "net P&L": symbols["net"].round(2),
        "trades": symbols["trades"].astype("int64"),
    }, columns=list(SYMBOL_COLUMNS))
    return out.to_csv(index=False, float_format="%.2f").encode("utf-8")


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
