"""Backtest: run a strategy on stored history through the paper broker, charges and risk
gatekeeper (a background job with progress), compare runs side by side, optional sweep."""

from datetime import UTC, datetime

import plotly.graph_objects as go
import streamlit as st

from app.market.clock import last_sessions
from app.ui.state import get_services
from core.errors import ValidationError
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

BUNDLED = ["ASIANPAINT", "AXISBANK", "BHARTIARTL", "HCLTECH", "HDFCBANK", "HINDUNILVR", "ICICIBANK", "INFY", "ITC",
           "KOTAKBANK", "LT", "M&M", "MARUTI", "NTPC", "RELIANCE", "SBIN", "SUNPHARMA", "TATASTEEL", "TCS", "WIPRO"]

services = get_services()
bt = services.backtests
strategies = services.strategies

st.header("Backtest")
market_now = services.market_data.now()
last_day, first_day = last_sessions(services.calendar, market_now)
st.caption("Same paper broker, Zerodha charges and risk gatekeeper as the live desk; fills on the next bar's "
           "replayed ticks. Bars come from the connected market (stored, or fetched from its historical API "
           f"when a run starts); no bar after market time {market_now:%a %d %b %Y %H:%M} IST is used.")


def parse_sweep(text: str) -> dict[str, list[float]]:
    """``"fast=5,10; slow=20,30"`` → ``{"fast": [5, 10], "slow": [20, 30]}``."""
    out: dict[str, list[float]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        if "=" not in part:
            raise ValidationError(f"sweep part {part!r} needs the form name=v1,v2")
        k, vals = part.split("=", 1)
        try:
            out[k.strip()] = [float(v) for v in vals.split(",") if v.strip()]
        except ValueError:
            raise ValidationError(f"sweep values of {k.strip()!r} must be numbers, was {vals!r}") from None
    return out


catalog = strategies.catalog()
titles = {n: t for n, t, _ in catalog}
with st.form("backtest_form"):
    name = st.selectbox("Strategy", list(titles), format_func=lambda n: titles[n], key="backtest_strategy")
    specs = strategies.param_specs(name)
    cols = st.columns(3)
    params = {}
    for i, p in enumerate(specs):
        with cols[i % 3]:
            params[p.name] = st.number_input(p.name, value=int(p.default) if p.kind == "int" else float(p.default),
                                             help=p.help, key=f"backtest_param_{p.name}")
    watched = [k.split(":", 1)[-1] for k in services.watchlists.keys()]
    options = list(dict.fromkeys(watched + BUNDLED))
    symbols = st.multiselect("Symbols (type any NSE symbol to add it)", options, default=options[:2],
                             accept_new_options=True, key="backtest_symbols")
    c1, c2 = st.columns(2)
    start = c1.date_input("From", first_day, max_value=last_day, key="backtest_start")
    end = c2.date_input("To", last_day, max_value=last_day, key="backtest_end",
                        help="The last session that has closed by market time")
    sweep_text = st.text_input("Parameter sweep (optional), e.g. fast=5,10; slow=20,30", key="backtest_sweep")
    run = st.form_submit_button("Run backtest", key="backtest_run")
if run:
    try:
        params = {p.name: (int(params[p.name]) if p.kind == "int" else params[p.name]) for p in specs}
        ids = bt.submit(name, params, symbols, start, end, now=datetime.now(UTC),
                        sweep=parse_sweep(sweep_text) or None)
        st.toast(f"Backtest queued: {len(ids)} run(s)")
        st.success(f"Backtest queued: {len(ids)} run(s) — progress below")
    except ValidationError as exc:
        st.error(str(exc), icon=":material/error:")


@st.fragment(run_every="3s")
def runs_table() -> None:
    runs = bt.runs(50)
    if runs.empty:
        st.info("No backtests yet.")
        return
    st.dataframe(runs[["label", "status", "progress", "message", "total_return_pct", "sharpe", "max_drawdown_pct",
                       "trades", "run_id"]], hide_index=True,
                 column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0, max_value=1)},
                 key="backtest_runs")


st.subheader("Runs")
runs_table()

done = bt.runs(50)
done = done[done["status"] == "complete"] if len(done) else done
if len(done):
    labels = {r.run_id: f"{r.label} [{r.run_id[-4:]}]" for r in done.itertuples()}
    picked = st.multiselect("Compare runs", list(labels), default=list(labels)[:2], format_func=labels.get,
                            key="backtest_compare")
    if picked:
        st.subheader("Side by side")
        st.dataframe(bt.compare(picked).round(3), key="backtest_compare_table")
        fig = go.Figure()
        for rid in picked:
            eq = bt.equity(rid)
            fig.add_scatter(x=eq.index, y=eq["equity"], name=labels[rid], mode="lines")
        fig.update_layout(title="Equity (₹)", height=320, margin=dict(l=10, r=10, t=40, b=10))
        st.plotly_chart(fig, key="backtest_equity")
        first = picked[0]
        eq = bt.equity(first)
        dd = go.Figure(go.Scatter(x=eq.index, y=eq["drawdown_pct"], fill="tozeroy", name="drawdown %"))
        dd.update_layout(title=f"Drawdown % — {labels[first]}", height=240, margin=dict(l=10, r=10, t=40, b=10))
        st.plotly_chart(dd, key="backtest_drawdown")
        trades = bt.trades(first)
        row = bt.run_row(first)
        sym = st.selectbox("Trades on the price chart", row["symbols"], key="backtest_chart_symbol")
        bars = bt.bars(sym, row["start"].date(), row["end"].date())
        price = go.Figure(go.Candlestick(x=bars.index, open=bars["open"], high=bars["high"], low=bars["low"],
                                         close=bars["close"], name=sym))
        if len(trades):
            t = trades[trades["tradingsymbol"] == sym]
            price.add_scatter(x=t["entry_at"], y=t["entry_price"], mode="markers", name="entry",
                              marker=dict(symbol="triangle-up", size=10, color="green"))
            price.add_scatter(x=t["exit_at"], y=t["exit_price"], mode="markers", name="exit",
                              marker=dict(symbol="triangle-down", size=10, color="red"))
        price.update_layout(height=420, xaxis_rangeslider_visible=False, margin=dict(l=10, r=10, t=30, b=10))
        st.plotly_chart(price, key="backtest_price")
        st.dataframe(trades, hide_index=True, key="backtest_trades")
