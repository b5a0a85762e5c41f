"""Scanner: pick a universe and a built-in scan or an expression, run it now (a job with
progress) or schedule it, see the matched values, open a symbol's chart or analysis, browse
run history and backtest the scan (matches per past day).

Every scan reads the connected market (the store) as of market time, or an earlier moment
picked here; the page shows that time and how many symbols of the universe have bars."""

from datetime import datetime
from datetime import time as dt_time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.market.history_warmup import latest_morning
from app.market.watch_view import REPLAY_DERIVED_NOTE
from app.research.scanner import BUILTIN_SCANS
from app.ui.analysis_widgets import analysis_cell, latest_analysis_badge
from app.ui.charts import desk_layout, ist_x, time_axis
from app.ui.formatting import DATE_INPUT_FORMAT, bar_time, ist_date, ist_time, number, qty, style_for_display, text, volume
from app.ui.news_widgets import sentiment_cells
from app.ui.row_actions import action_bar, symbol_table
from app.ui.state import get_services
from core.errors import ValidationError
from core.scan_lang import ScanSyntaxError, parse
from core.timeutil import IST
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services()
scanner = svc.scanner
st.header("Scanner")

c1, c2 = st.columns([2, 3])
with c1:
    universe = st.selectbox("Universe", scanner.universes(), index=2, key="scanner_universe")
with c2:
    mode = st.radio("Scan", ["Built-in", "Expression"], horizontal=True, key="scanner_mode")

if mode == "Built-in":
    key = st.selectbox("Built-in scan", list(BUILTIN_SCANS), format_func=lambda k: BUILTIN_SCANS[k].title,
                       key="scanner_builtin")
    st.caption(BUILTIN_SCANS[key].description)
    st.code(BUILTIN_SCANS[key].expression, language=None)
    scan = key
else:
    scan = st.text_area("Expression", key="scanner_expr", height=80,
                        placeholder="[0] 5 minute close > [0] 5 minute ema(close, 20) and [0] daily rsi(14) < 40")
    if scan.strip():
        try:
            parse(scan)
        except ScanSyntaxError as exc:
            pointer = " " * (exc.column - 1) + "^"
            st.error(str(exc))
            st.code(f"{scan}\n{pointer}", language=None)
            scan = ""
    with st.expander("Language help"):
        st.markdown("Fields `open high low close volume`; timeframes `1/5/15/30/60 minute`, `daily`, `weekly`; "
                    "`[n]` = n bars ago; `> >= < <= =`, `crossed above/below`, `and`/`or`, `+ - * /`, parentheses. "
                    "Indicators: `sma(close, 20)`, `ema`, `rsi(14)`, `macd(12,26,9)`, `macd_signal`, `macd_hist`, "
                    "`bb_upper(20,2)`, `bb_lower`, `atr(14)`, `adx(14)`, `supertrend(10,3)`, `supertrend_dir`, "
                    "`stochrsi_k()`, `obv()`, `vwap()`, `volume_sma(20)`, `max(high, 20)`, `min(low, 20)`, "
                    "`or_high(15)`, patterns `bullish_engulfing()`, `hammer()`, `doji()`, `nr7()` … (1 or 0).")

market_now = scanner.now()
c3, c4, c5 = st.columns([2, 2, 2])
pick_time = c3.toggle("Scan an earlier time", value=False, key="scanner_pick_as_of",
                      help="By default a scan reads the market as of market time; pick an earlier moment here")
forming = c3.toggle("Include the forming intraday bar", value=False, key="scanner_forming",
                    help="Intraday timeframes: also use the bar still forming at the scan time")
as_of = None
if pick_time:
    d = c4.date_input("As of (IST)", value=market_now.date(), max_value=market_now.date(),
                      key="scanner_as_of_date",
                      format=DATE_INPUT_FORMAT)
    t = c5.time_input("Time (IST)", value=market_now.time().replace(second=0, microsecond=0),
                      key="scanner_as_of_time", step=60)
    as_of = datetime.combine(d, t, IST)
    if as_of > market_now:
        st.error(f"As of {as_of:%d %b %Y %H:%M} IST is after market time ({market_now:%d %b %Y %H:%M} IST); "
                 "the scan runs as of market time")
        as_of = None
shown = as_of or market_now
st.caption(f"As of {shown:%d %b %Y %H:%M} IST ({'picked' if as_of else 'market time'})")


@st.cache_data(ttl=60, show_spinner=False)
def coverage(scan_: str, universe_: str, as_of_iso: str):
    """Coverage per timeframe as of ``as_of_iso`` (cached a minute: a panel read of 500 symbols)."""
    return get_services().scanner.coverage(scan_, universe_, datetime.fromisoformat(as_of_iso))[1]


def coverage_captions(cov) -> None:
    """The coverage lines, the replay note and, when some symbols lack bars, why."""
    for c in cov:
        st.caption(f"Coverage, {universe} {c.label}: {c.text}")
    if svc.settings.market == "replay":
        st.caption(REPLAY_DERIVED_NOTE)
    if any(c.partial for c in cov):
        morning = latest_morning(svc.store.jobs)
        if morning is not None and morning.finished == morning.total:
            st.caption(f"Only the symbols with stored bars are scanned. The morning backfill of "
                       f"{morning.day:%d %b %Y} has finished ({morning.summary()}): the others have no "
                       "history in the connected market (e.g. listed later), or failed (System page).")
        else:
            st.caption("Only the symbols with stored bars are scanned; the morning backfill fills the rest "
                       + (f"({morning.summary()}; " if morning else "(") + "the System page shows its progress).")


# A new market minute needs a new coverage (a panel read of the universe: seconds). When this session
# already shows the market-time coverage of the same scan and universe, only the minute moved on: the
# page's run draws that one with an "updating" line and leaves the read to the fragment's own run a
# moment later, so the page's running indicator clears first. A new scan, universe or picked time is
# read inline.
page_run = st.session_state["scanner_page_run"] = st.session_state.get("scanner_page_run", 0) + 1
wanted = (scan, universe, as_of is None, shown.replace(second=0, microsecond=0).isoformat())
shown_cov = st.session_state.get("scanner_coverage")  # (wanted, coverage) last drawn in this session
defer = (bool(scan) and as_of is None and shown_cov is not None and shown_cov[0][:3] == wanted[:3]
         and shown_cov[0] != wanted)


@st.fragment(run_every="1s" if defer else None)
def coverage_panel() -> None:
    """The coverage of ``wanted`` (see above): deferred to the fragment's run when ``defer``."""
    in_page_run = st.session_state.get("scanner_coverage_run") != page_run
    st.session_state["scanner_coverage_run"] = page_run
    if defer and in_page_run:
        coverage_captions(shown_cov[1])
        st.caption(f"Updating the coverage to {shown:%d %b %Y %H:%M} IST…")
        return
    try:
        cov = coverage(scan, universe, wanted[3])
    except ValidationError as exc:
        st.error(str(exc))
        return
    st.session_state["scanner_coverage"] = (wanted, cov)
    coverage_captions(cov)


if scan:
    coverage_panel()

b1, b2, b3 = st.columns([1, 2, 1])
if b1.button("Run now", type="primary", key="scanner_run", disabled=not scan):
    try:
        st.session_state["scanner_job"] = scanner.enqueue(scan, universe, as_of, forming=forming)
        st.session_state.pop("scanner_view_run", None)
    except ValidationError as exc:
        st.error(str(exc))
every = b2.number_input("Every N minutes (during the session)", 1, 375, 15, key="scanner_every")
if b3.button("Schedule", key="scanner_schedule", disabled=not scan):
    try:
        sid = scanner.schedule(scan, universe, int(every))
        st.success(f"Scheduled #{sid}: every {int(every)} min on {universe}, 09:15–15:30 IST on trading days")
    except ValidationError as exc:
        st.error(str(exc))

job_id = st.session_state.get("scanner_job")
if job_id:
    job = svc.store.jobs.get(job_id)
    if job is not None and not job.finished:

        @st.fragment(run_every="1s")
        def scan_progress() -> None:
            j = svc.store.jobs.get(job_id)
            if j is None:
                return
            st.progress(min(max(j.progress, 0.0), 1.0), text=f"Scan {j.status}: {j.message}")
            if j.finished:
                st.rerun(scope="app")

        scan_progress()
    elif job is not None and job.status == "failed":
        st.error(f"Scan failed: {job.message}")
    elif job is not None:
        st.session_state["scanner_view_run"] = (job.result or {}).get("run_id")


def watch_before_chart(key: str) -> bool:
    """Chart from a hit adds it to the watchlist (its ticks then form the live bar); ``False``
    (stay here) on a refusal, which is shown."""
    try:
        if key not in svc.watchlists.keys():
            svc.watchlists.add(key)
    except ValidationError as exc:
        st.error(str(exc))
        return False
    st.session_state["chart_symbol"] = key
    return True


run_id = st.session_state.get("scanner_view_run")
runs = scanner.history(30)
if run_id:
    run = scanner.results.run(run_id)
    if run is not None:
        st.subheader(f"{run.title} · {run.universe}")
        st.caption(f"Data: {run.data_label} · as of {run.as_of.astimezone(IST):%d %b %Y %H:%M} IST · {run.message}")
        hits = scanner.hits_frame(run_id)
        if hits.empty:
            st.info("No symbol matched.")
        else:
            hits.insert(1, "latest analysis", [analysis_cell(svc, f"NSE:{s}") for s in hits["symbol"]])
            hits.insert(2, "news sentiment (24 h)", sentiment_cells(svc, list(hits["symbol"]), run.as_of))
            bars_at = pd.DatetimeIndex(hits["bar_time"])
            bars_at = bars_at.tz_convert(IST) if bars_at.tz is not None else bars_at
            daily = bool(len(hits)) and bool((bars_at.time == dt_time(0)).all())
            spec = {c: (volume if "volume" in c else number) for c in hits.select_dtypes("number").columns}
            spec["bar_time"] = lambda ts: bar_time(ts, "day" if daily else "minute")  # a daily bar: no "00:00"
            hits_shown = style_for_display(hits, spec, labels={"bar_time": "bar date" if daily else "bar (IST)"})
            # Kite's habit: tick a hit's row, then chart, buy, sell or analyse it (app.ui.row_actions).
            picked = symbol_table(hits_shown, [f"NSE:{s}" for s in hits["symbol"]], key="scanner_results",
                                  hide_index=True)
            if picked is not None:
                latest_analysis_badge(svc, picked)
            action_bar(picked, key="scanner", before_chart=watch_before_chart,
                       nothing_picked="Tick a hit's row to chart, buy, sell or analyse it (Chart adds it "
                                      "to the watchlist).")

st.subheader("Run history")
if not runs:
    st.caption("No scans have run yet.")
else:
    st.dataframe([{"when": ist_time(r.created_at), "scan": r.title,
                   "universe": r.universe, "as of": ist_time(r.as_of),
                   "status": r.status, "matched": qty(r.matched), "message": text(r.message)} for r in runs],
                 hide_index=True, key="scanner_history")
    labels = {r.id: f"{r.created_at.astimezone(IST):%d %b %H:%M:%S} · {r.title} · {r.universe} · {r.matched}"
              for r in runs if r.status == "done"}
    if labels:
        pick = st.selectbox("Show a past run", list(labels), format_func=labels.get, key="scanner_history_pick")
        if st.button("Show", key="scanner_history_show"):
            st.session_state["scanner_view_run"] = pick
            st.rerun()

schedules = scanner.schedules()
if schedules:
    st.subheader("Schedules")
    st.dataframe([{"id": s.id, "scan": BUILTIN_SCANS[s.scan].title if s.scan in BUILTIN_SCANS else s.scan,
                   "universe": s.universe, "every": f"{s.every_minutes} min", "enabled": "yes" if s.enabled else "no",
                   "last sent": ist_time(s.last_sent_at)}
                  for s in schedules], hide_index=True, key="scanner_schedules")

st.subheader("Scan backtest")
st.caption("How many symbols of the universe matched on each past bar (single-timeframe scans).")


@st.cache_data(ttl=300, show_spinner=False)
def backtest(scan_: str, universe_: str, market_day: str):  # market_day: a new session is a new key
    return get_services().scanner.backtest(scan_, universe_)


if st.button("Backtest this scan", key="scanner_backtest", disabled=not scan):
    try:
        with st.spinner("Backtesting…"):
            counts = backtest(scan, universe, market_now.date().isoformat())
        daily_counts = bool((pd.DatetimeIndex(counts.index).tz_convert(IST).time == dt_time(0)).all())
        interval = "day" if daily_counts else "minute"
        fig = go.Figure(go.Bar(x=ist_x(counts.index), y=counts.to_numpy(), name="matches",
                               hovertemplate="%{y:,d} matched<extra></extra>"))
        fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="symbols matched",
                          title=f"{universe}: matches per bar ({ist_date(counts.index[0])} – "
                                f"{ist_date(counts.index[-1])})")
        time_axis(desk_layout(fig), counts.index, interval)
        st.plotly_chart(fig, key="scanner_backtest_chart")
        st.caption(f"{qty(int(counts.sum()))} matches over {qty(len(counts))} bars · "
                   f"mean {number(counts.mean(), 1)} per bar")
    except ValidationError as exc:
        st.error(str(exc))
