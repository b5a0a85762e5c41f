"""Chart: candlesticks of a watchlist symbol with EMA/VWAP/Bollinger overlays and an RSI panel."""

from datetime import date, datetime

import streamlit as st

from app.market.watch_view import CHART_INTERVALS, ChartBars, chart_bars, chart_window
from app.ui.charts import price_figure
from app.ui.state import get_services, get_watch_view
from core.errors import DeskError, ValidationError
from core.timeutil import IST
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

INTERVAL_LABELS = {"1m": "minute", "5m": "5minute", "15m": "15minute", "60m": "60minute", "day": "day"}

svc = get_services()
st.header("Chart")


@st.cache_data(ttl=30, show_spinner=False)
def load_bars(key: str, interval: str, start: datetime, end: datetime) -> ChartBars:
    return chart_bars(get_services().market_data, key, interval, start, end)


keys = svc.watchlists.keys()
if not keys:
    st.info("The watchlist is empty: add a symbol on the Home page first.")
    st.stop()

c1, c2, c3 = st.columns([2, 3, 2])
with c1:
    key = st.selectbox("Symbol", keys, key="chart_symbol")
with c2:
    label = st.radio("Interval", list(INTERVAL_LABELS), index=1, horizontal=True, key="chart_interval")
    interval = INTERVAL_LABELS[label]
with c3:
    default_day = get_watch_view().market_date() or datetime.now(IST).date()
    as_of = st.date_input("As of (IST)", value=default_day, min_value=date(1996, 1, 1), key="chart_as_of")

t1, t2, t3, t4 = st.columns(4)
show_ema = t1.toggle("EMA 20/50", value=True, key="chart_ema")
show_vwap = t2.toggle("VWAP", value=interval != "day", key="chart_vwap", disabled=interval == "day")
show_bb = t3.toggle("Bollinger 20, 2σ", value=False, key="chart_bollinger")
show_rsi = t4.toggle("RSI panel", value=False, key="chart_rsi")

try:
    start, end = chart_window(svc.calendar, interval, as_of)
    data = load_bars(key, interval, start, end)
except ValidationError as exc:
    st.error(str(exc))
    st.stop()
except DeskError as exc:
    st.error(f"Could not read bars: {exc}")
    st.stop()

span = f"{start:%d %b %Y} – {end:%d %b %Y} IST"
if data.source == "none":
    st.info(f"No {interval} bars stored for {key} in {span} ({CHART_INTERVALS[interval]} trading days "
            f"to {as_of:%d %b %Y}). Load them from the market's historical API.")
    if st.button("Load history", key="chart_load", type="primary"):
        st.session_state["chart_job"] = svc.tasks.enqueue_backfill(key, interval, start, end)

    job_id = st.session_state.get("chart_job")
    if job_id:

        @st.fragment(run_every="1s")
        def job_progress() -> None:
            job = svc.store.jobs.get(job_id)
            if job is None:
                st.caption(f"Backfill {job_id[:8]} queued…")
                return
            st.progress(min(max(job.progress, 0.0), 1.0), text=f"Backfill {job.status}: {job.message}")
            if job.finished:
                st.session_state.pop("chart_job", None)
                if job.status == "failed":
                    st.error(f"Backfill failed: {job.message}")
                else:
                    load_bars.clear()
                    st.rerun(scope="app")

        job_progress()
    st.stop()

overlays = [name for name, on in (("EMA", show_ema), ("VWAP", show_vwap), ("Bollinger", show_bb)) if on]
fig = price_figure(data.frame, interval, title=f"{key} · {label}", overlays=overlays, rsi_panel=show_rsi)
st.plotly_chart(fig, key="chart_figure", config={"displaylogo": False})
last = data.frame.iloc[-1]
st.caption(f"{len(data.frame)} bars · {span} · source: {data.source} · last close ₹{last['close']:,.2f}")
