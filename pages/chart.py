"""Chart: candlesticks of any instrument with EMA/VWAP/Bollinger overlays and an RSI panel.

Bars come through the one read path, ``MarketDataService.ohlcv`` (backfilled from the market,
as of market time, with the forming bar). ``?symbol=NSE:XYZ`` opens the chart on that symbol
(the Scanner links here).
"""

from datetime import date, datetime

import streamlit as st

from app.market.watch_view import CHART_BARS, REPLAY_DERIVED_NOTE, ChartBars, chart_as_of, chart_bars
from app.ui.auth import guard_page
from app.ui.charts import price_figure
from app.ui.formatting import DATE_INPUT_FORMAT, interval_label, ist_time
from app.ui.news_widgets import news_panel
from app.ui.row_actions import action_bar
from app.ui.state import get_services
from core.errors import DeskError, ValidationError

guard_page(get_services())  # sign-in, when the desk requires it

INTERVAL_LABELS = {"1m": "minute", "5m": "5minute", "15m": "15minute", "60m": "60minute", "day": "day",
                   "week": "week"}
assert set(INTERVAL_LABELS.values()) == set(CHART_BARS)

svc = get_services()
st.header("Chart")


@st.cache_data(ttl=15, show_spinner="Reading bars…")
def load_bars(key: str, interval: str, as_of: datetime) -> ChartBars:
    return chart_bars(get_services().market_data, key, interval, as_of)


@st.cache_resource(ttl=15, max_entries=32, show_spinner=False)
def chart_figure(key: str, interval: str, as_of: datetime, overlays: tuple[str, ...], rsi_panel: bool):
    """The figure of :func:`load_bars`'s bars, shared by every session for the same market minute and
    options (``st.plotly_chart`` only serialises it), so a revisit does not rebuild the candles."""
    return price_figure(load_bars(key, interval, as_of).frame, interval, title=f"{key} · {interval_label(interval)}",
                        overlays=list(overlays), rsi_panel=rsi_panel)


def _unique(keys: list[str | None]) -> list[str]:
    out: list[str] = []
    for k in keys:
        if k and k not in out:
            out.append(k)
    return out


# ---- symbol: ?symbol=…, the picker, or the first watchlist symbol ---------------------------------
watch = svc.watchlists.keys()
param = st.query_params.get("symbol")
if param and param != st.session_state.get("chart_param"):
    st.session_state["chart_param"] = param
    try:
        st.session_state["chart_symbol"] = svc.instruments.resolve(param).key
    except ValidationError as exc:
        st.warning(f"Link symbol ?symbol={param}: {exc}")
if "chart_symbol" not in st.session_state and watch:
    st.session_state["chart_symbol"] = watch[0]

c0, c1, c2, c3 = st.columns([2, 2, 3, 2])
with c0:
    prefix = st.text_input("Find instrument", key="chart_search", placeholder="symbol prefix, e.g. TATA",
                           help="Searches the whole instruments master, not only the watchlist.")
found: list[str] = []
if prefix.strip():
    try:
        found = [i.key for i in svc.instruments.search(prefix.strip().split(":")[-1], limit=30)]
    except DeskError as exc:
        st.error(f"Instrument search failed: {exc}")
    if not found:
        c0.caption(f"No instrument starts with {prefix.strip().upper()!r}.")
options = _unique([st.session_state.get("chart_symbol"), *found, *watch])
if not options:
    st.info("Type a symbol prefix in *Find instrument* (or add a symbol to the watchlist on the Home page).")
    st.stop()
with c1:
    key = st.selectbox("Symbol", options, key="chart_symbol")
if st.query_params.get("symbol") != key:
    st.query_params["symbol"] = key
    st.session_state["chart_param"] = key
with c2:
    label = st.radio("Interval", list(INTERVAL_LABELS), index=1, horizontal=True, key="chart_interval")
    interval = INTERVAL_LABELS[label]
market_now = svc.market_data.now()
with c3:
    day = st.date_input("As of (IST)", value=market_now.date(), min_value=date(1996, 1, 1),
                        max_value=market_now.date(), key="chart_as_of", format=DATE_INPUT_FORMAT,
                        help="Market date; an earlier date shows the bars as they stood after its close.")

# Kite's habit on the chart: buy, sell or analyse the charted symbol (app.ui.row_actions).
charted = svc.instruments.find(key)
action_bar(key, key="chart_row", actions=("Buy", "Sell", "Analyse"),
           tradable=charted is None or charted.segment != "INDICES")
with st.expander(f"News · {key}"):  # the feed's items naming this symbol (text, never markdown)
    news_panel(svc, key="chart_news", symbol=key, limit=10)

intraday = interval not in ("day", "week")
t1, t2, t3, t4 = st.columns(4)
show_ema = t1.toggle("EMA 20/50", value=True, key="chart_ema")
show_vwap = t2.toggle("VWAP", value=intraday, key="chart_vwap", disabled=not intraday)
show_bb = t3.toggle("Bollinger 20, 2σ", value=False, key="chart_bollinger")
show_rsi = t4.toggle("RSI panel", value=False, key="chart_rsi")

as_of = chart_as_of(market_now, day).replace(second=0, microsecond=0)  # reads are cached per minute
try:
    data = load_bars(key, interval, as_of)
except ValidationError as exc:
    st.error(str(exc))
    st.stop()
except DeskError as exc:
    st.error(f"Could not read bars of {key}: {exc}")
    st.stop()

if data.warning_text():
    st.warning(data.warning_text())
if data.empty:
    st.info(f"No {interval_label(interval)} bars of {key} up to {ist_time(data.as_of)}: neither the store nor the "
            f"market's historical API has any in the range of the last {CHART_BARS[interval]} bars. "
            "Try the day interval or another date.")
    st.stop()

indicators = ["Volume SMA 20"]
if show_ema:
    indicators += ["EMA 20", "EMA 50"]
if show_bb:
    indicators.append("Bollinger 20")
if show_rsi:
    indicators.append("RSI 14")
short = data.shortfalls(indicators)
if short:
    st.info("Too few bars to draw: " + "; ".join(short) + ". Pick a longer interval or an earlier date "
            "with more history.")

overlays = [name for name, on in (("EMA", show_ema), ("VWAP", show_vwap and intraday),
                                               ("Bollinger", show_bb)) if on]
st.plotly_chart(chart_figure(key, interval, as_of, tuple(overlays), show_rsi), key="chart_figure",
                config={"displaylogo": False})
st.caption(data.caption())
if svc.settings.market == "replay":
    st.caption(REPLAY_DERIVED_NOTE)
