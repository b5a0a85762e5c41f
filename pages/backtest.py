"""Backtest: run a strategy on stored history through the paper broker, charges and risk
gatekeeper (a background job with progress), compare runs side by side; below them the Sweep
section (``app.ui.sweep_section``: grids and walk-forwards over the workers), any of whose runs
opens here as a full run with every result.

Live: the runs table refreshes every second (a fragment); when a run completes, the page
reruns once by itself, so its results (metrics, equity vs NIFTY 50, drawdown, trades) appear
without a reload.
"""

from datetime import UTC, datetime, timedelta

import streamlit as st

from app.market.clock import last_sessions
from app.ui import backtest_charts as charts
from app.ui import formatting as fmt
from app.ui import labels
from app.ui import sweep_section
from app.ui.auth import guard_page
from app.ui.state import get_services
from core.errors import ValidationError
from core.timeutil import IST

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
           f"when a run starts); no bar after market time {fmt.ist_time(market_now)} is used.")


catalog = strategies.catalog()
INTERVALS = {"minute": "1-minute bars (intraday, MIS)", "day": "Daily bars (swing, CNC delivery)"}
interval = st.radio("Bars", list(INTERVALS), format_func=INTERVALS.get, horizontal=True, key="backtest_interval",
                    help="Daily strategies decide at the close, fill at the next open, hold CNC shares (T+1, DP "
                         "charge on each sell of held shares)")
titles = {n: t for n, t, _ in catalog if bt.interval_of(n) == interval}
UNIVERSE_NONE = "Symbols below"
with st.form("backtest_form"):
    name = st.selectbox("Strategy", list(titles), format_func=lambda n: titles[n], key="backtest_strategy")
    if st.session_state.get("backtest_params_for") != name:  # another strategy: its own defaults, not the
        for k in [k for k in st.session_state if str(k).startswith("backtest_param_")]:  # last one's values
            del st.session_state[k]
        st.session_state["backtest_params_for"] = name
    specs = strategies.param_specs(name)
    cols = st.columns(3)
    params = {}
    for i, p in enumerate(specs):
        with cols[i % 3]:
            params[p.name] = st.number_input(labels.param_label(p.name), value=int(p.default) if p.kind == "int" else float(p.default),
                                             help=p.help, key=f"backtest_param_{p.name}")
    watched = [k.split(":", 1)[-1] for k in services.watchlists.keys()]
    options = list(dict.fromkeys(watched + BUNDLED))
    universe = st.selectbox("Universe", [UNIVERSE_NONE, *services.scanner.universes()], key="backtest_universe",
                            help="An index or watchlist (e.g. NIFTY 500) instead of the symbols below")
    symbols = st.multiselect("Symbols (type any NSE symbol to add it)", options, default=options[:2],
                             accept_new_options=True, key="backtest_symbols")
    c1, c2 = st.columns(2)
    start = c1.date_input("From", first_day - timedelta(days=365) if interval == "day" else first_day,
                          max_value=last_day, key="backtest_start", format=fmt.DATE_INPUT_FORMAT)
    end = c2.date_input("To", last_day, max_value=last_day, key="backtest_end", format=fmt.DATE_INPUT_FORMAT,
                        help="The last session that has closed by market time")
    run = st.form_submit_button("Run backtest", key="backtest_run")
if run:
    try:
        params = {p.name: (int(params[p.name]) if p.kind == "int" else params[p.name]) for p in specs}
        if universe != UNIVERSE_NONE:
            symbols, unknown = bt.known_symbols(services.scanner.members(universe)["symbol"])
            if unknown:
                st.warning(f"{universe}: {len(unknown)} symbol(s) not in the instruments master, left out: "
                           f"{', '.join(unknown)}", icon=":material/warning:")
        ids = bt.submit(name, params, symbols, start, end, now=datetime.now(UTC))
        st.session_state["backtest_focus"] = ids  # shown as soon as it completes
        st.toast(f"Backtest queued: {len(ids)} run(s)")
        st.success(f"Backtest queued: {len(ids)} run(s) — progress below")
    except ValidationError as exc:
        st.error(str(exc), icon=":material/error:")


#: Metrics as cards, in reading order (labels and tooltips from app.ui.labels).
CARDS = ["net_pnl", "total_return_pct", "max_drawdown_pct", "sharpe", "win_rate_pct", "trades",
         "charges_pct_of_gross", "exposure_pct"]
RUN_COLUMNS = ["label", "status", "message", "total_return_pct", "sharpe", "max_drawdown_pct", "trades", "created_at"]
RUN_KINDS = {"label": "text", "status": "text", "message": "text", "total_return_pct": "signed_pct",
             "sharpe": "number", "max_drawdown_pct": "pct", "trades": "qty", "created_at": "ist_time"}


def complete_ids(runs) -> list[str]:
    return list(runs.loc[runs["status"] == "complete", "run_id"]) if len(runs) else []


@st.fragment(run_every="1s")
def runs_table() -> None:
    """The runs with live progress; reruns the page once when a run has completed since it drew."""
    runs = bt.runs(50)
    if runs.empty:
        st.info("No backtests yet.")
        return
    done = complete_ids(runs)
    if set(done) - set(st.session_state.get("backtest_drawn", ())):
        st.rerun(scope="app")  # a run finished: draw its results
    for r in runs[runs["status"].isin(["queued", "running"])].itertuples():
        st.progress(min(max(float(r.progress or 0.0), 0.0), 1.0), text=f"{r.label} · {r.status} · {r.message}")
    view = fmt.frame_for_display(runs[RUN_COLUMNS], RUN_KINDS,
                                 {c: labels.label(c) for c in RUN_COLUMNS} | {"created_at": "Queued (IST)"})
    view.insert(2, "Progress", runs["progress"].astype(float).fillna(0.0))
    st.dataframe(view, hide_index=True, key="backtest_runs",
                 column_config={"Progress": st.column_config.ProgressColumn("Progress", min_value=0, max_value=1,
                                                                            help=labels.help_text("progress"))})


def show_results(picked: list[str], tags: dict[str, str]) -> None:
    """Metric cards, equity vs NIFTY 50 buy & hold, drawdown, monthly returns and trades of
    ``picked`` (the first in detail; several side by side)."""
    reports = {rid: bt.report(rid) for rid in picked}
    first = reports[picked[0]]
    m = first.metrics
    st.subheader(f"Results — {tags[picked[0]]}")
    st.caption(f"{', '.join(first.run['symbols'])} · {fmt.ist_date(first.run['start'])} – "
               f"{fmt.ist_date(first.run['end'])} · capital {fmt.money(m.get('initial_capital'))} · "
               f"finished {fmt.ist_time(first.run.get('finished_at'))}")
    cards = st.columns(4)
    for i, key in enumerate(CARDS):
        delta = None
        if key == "total_return_pct" and first.benchmark_return_pct is not None:
            delta = f"{fmt.signed_pct(m.get(key, 0) - first.benchmark_return_pct)} vs NIFTY 50"
        cards[i % 4].metric(labels.label(key), labels.format_metric(key, m.get(key)), delta=delta,
                            help=labels.help_text(key), border=True)
    bench = "NIFTY 50 buy & hold"
    held = first.benchmark_return_pct
    st.caption(f"{bench}: {fmt.signed_pct(held)} over the same bars ({first.benchmark_note}); "
               f"charges {fmt.money(m.get('charges'))} = {fmt.pct(m.get('charges_pct_of_gross'))} of gross P&L "
               f"{fmt.money(m.get('gross_pnl'), sign=True)}; in the market "
               f"{fmt.pct(m.get('exposure_pct'))} of the time.")
    st.plotly_chart(charts.equity_figure({tags[r]: reports[r].equity for r in picked},
                                         (bench, first.equity["buy_and_hold"])), key="backtest_equity")
    st.plotly_chart(charts.drawdown_figure(tags[picked[0]], first.equity), key="backtest_drawdown")
    if len(picked) > 1:
        st.subheader("Side by side")
        keys = [k for k in labels.METRICS if k in m and k != "initial_capital"]
        st.dataframe(charts.compare_display({tags[r]: reports[r].metrics for r in picked}, keys),
                     key="backtest_compare_table")
    st.subheader("Monthly returns")
    st.dataframe(charts.monthly_display(first.monthly), key="backtest_monthly")
    st.subheader("Trades")
    trades = first.trades
    if len(trades):
        st.dataframe(charts.trades_display(trades), hide_index=True, key="backtest_trades",
                     column_config={labels.label(c): st.column_config.Column(help=labels.help_text(c))
                                    for c in charts.TRADE_KINDS})
    else:
        st.info("No round trip in this run.")
    st.download_button("Download trades (CSV)", first.trades_csv(), file_name=f"backtest_{picked[0]}_trades.csv",
                       mime="text/csv", key="backtest_trades_csv", icon=":material/download:")
    sym = st.selectbox("Trades on the price chart", first.run["symbols"], key="backtest_chart_symbol")
    bars = bt.bars(sym, first.run["start"].astimezone(IST).date(), first.run["end"].astimezone(IST).date(),
                   bt.interval_of(first.run["strategy"]))
    st.plotly_chart(charts.trades_price_figure(sym, bars, trades), key="backtest_price")
    with st.expander("Every metric, and how it is computed"):
        st.dataframe(labels.metrics_frame(m), hide_index=True, key="backtest_metrics_all")


st.subheader("Runs")
all_runs = bt.runs(50)
done = complete_ids(all_runs)
st.session_state["backtest_drawn"] = done
runs_table()

if done:
    names = dict(zip(all_runs["run_id"], all_runs["label"], strict=True))
    tags = {rid: f"{names[rid]} [{rid[-4:]}]" for rid in done}
    focus = [r for r in st.session_state.get("backtest_focus", []) if r in tags]
    if focus:  # this session's new runs completed: show them
        st.session_state["backtest_compare"] = focus[:4]
        st.session_state["backtest_focus"] = [r for r in st.session_state["backtest_focus"] if r not in tags]
    elif "backtest_compare" in st.session_state:
        st.session_state["backtest_compare"] = [r for r in st.session_state["backtest_compare"] if r in tags]
    picked = st.multiselect("Runs to show", done, default=None if "backtest_compare" in st.session_state else done[:1],
                            format_func=tags.get, key="backtest_compare")
    with st.container(key="backtest_results"):  # a stable CSS class for browser tests
        if picked:
            show_results(picked, tags)

st.divider()
sweep_section.render(services, options, first_day, last_day)  # parameter sweeps and walk-forwards
