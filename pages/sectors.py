"""Sectors: NIFTY 500 industry heatmap (1D/1W/1M), the sector table with NSE's sector indices,
and a symbol's relative strength against its sector and NIFTY 50, from the connected market's
daily bars as of market time."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.research.sectors import SectorView
from app.ui.charts import desk_layout
from app.ui.formatting import MISSING, frame_for_display, ist_date, number, signed_pct
from app.ui.labels import SECTOR_COLUMNS
from app.ui import warmup
from app.ui.refresh import BackgroundRefresh
from app.ui.state import get_services
from core.sectors import as_of_date
from core.errors import DeskError, ValidationError
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

RS_LABELS = {"rs_vs_sector": "RS vs sector", "rs_vs_nifty50": "RS vs NIFTY 50"}
TABLE_LABELS = {k: m.label for k, m in SECTOR_COLUMNS.items()}  # "return_pct" → "return %", …

svc = get_services()
sectors = svc.sectors
st.header("Sectors")


@st.cache_resource(show_spinner=False)
def closed_views() -> BackgroundRefresh:
    """The closed-session sector snapshot, shared by every session and keyed by the as-of session
    (a new close is a new key, read inline). Its bars change during a session only as backfills
    store members, so a read older than a minute is redone in the background while pages show the
    last one (as of an earlier market time: never past it)."""
    def build(_as_of_session):
        warmup.wait()  # the web's warm-up may be filling the index bars right now: do not race it
        return get_services().sectors.view(forming=False)

    return BackgroundRefresh(build, max_age_s=60.0)


@st.cache_resource(ttl=60, max_entries=4, show_spinner=False)
def forming_view(market_minute: str):
    """The "today so far" snapshot (today's forming daily bars) for one market minute, shared by
    every session; built inside that minute, so nothing in it is past market time."""
    warmup.wait()
    return get_services().sectors.view(forming=True)


def sector_view(forming: bool, now) -> SectorView:
    """The snapshot the page shows as of market time ``now`` (see the two caches above)."""
    if forming:
        return forming_view(now.replace(second=0, microsecond=0).isoformat())
    return closed_views().get(as_of_date(now))


@st.cache_resource(ttl=120, max_entries=12, show_spinner=False)
def heatmap(_view: SectorView, stamp: tuple, period: str) -> go.Figure:
    """The treemap of ``_view``'s ``period``, per snapshot (``stamp``: its forming flag and market
    time) and period, shared read-only (``st.plotly_chart`` only serialises it)."""
    return treemap(_view.symbol_table(period), _view.sector_table(period), period)


def fetch_button(missing: int, label: str) -> None:
    """Queue daily backfills of the members without bars (the backfill worker runs them)."""
    if missing and st.button(label, key="sectors_fetch",
                             help="Queues one daily backfill per member (the backfill worker runs them at the "
                                  "market's rate limit). A member the market has no history of stays without "
                                  "bars: the 2016 replay serves about 275 of the 500."):
        try:
            ids = sectors.fetch_missing(svc.tasks, view)
        except DeskError as exc:
            st.error(f"Could not queue the backfills: {exc}")
        else:
            closed_views().clear()
            forming_view.clear()
            st.success(f"Queued {len(ids)} daily backfill jobs; the coverage grows as the backfill worker "
                       "stores their bars (reload the page).")


try:
    now = sectors.market.now()
    session = svc.calendar.session(now.date())
    in_session = session is not None and session.open <= now < session.close
    today = in_session and st.toggle("Today so far", key="sectors_today",
                                     help="Include today's forming daily bars (from the latest ticks) "
                                          "before the 15:30 close.")
    with st.spinner("Reading the market's daily bars…"):
        view = sector_view(bool(today), now)
except ValidationError as exc:
    view = None
    st.error(str(exc))
    fetch_button(len(sectors.member_keys()), "Fetch daily bars of the NIFTY 500 members from the market")
    st.stop()
except DeskError as exc:
    st.error(f"Could not read the sector data from the market: {exc}")
    st.stop()

def treemap(leaves: pd.DataFrame, table: pd.DataFrame, period: str) -> go.Figure:
    """Root → industry → symbol; every symbol one unit of area (equal weight), colour = return %."""
    leaves = leaves.dropna(subset=["return_pct"])
    table = table[table["members"] > 0]
    root = f"NIFTY 500 ({period})"
    ids = [root, *(f"sector/{i}" for i in table.index), *(f"symbol/{s}" for s in leaves.index)]
    labels = [root, *table.index, *leaves.index]
    parents = ["", *([root] * len(table)), *(f"sector/{i}" for i in leaves["industry"])]
    values = [len(leaves), *table["members"], *([1] * len(leaves))]
    colours = [leaves["return_pct"].mean(), *table["return_pct"], *leaves["return_pct"]]
    names = [root, *(f"{m} of {c} members" for m, c in zip(table["members"], table["constituents"], strict=True)),
             *leaves["company_name"]]
    span = max(1.0, float(leaves["return_pct"].abs().quantile(0.95))) if len(leaves) else 1.0
    fig = go.Figure(go.Treemap(
        ids=ids, labels=labels, parents=parents, values=values, branchvalues="total",
        customdata=list(zip(colours, names, strict=True)),
        marker={"colors": colours, "colorscale": "RdYlGn", "cmid": 0.0, "cmin": -span, "cmax": span,
                "colorbar": {"title": {"text": f"{period} %"}}},
        texttemplate="%{label}<br>%{customdata[0]:+.2f} %",
        hovertemplate="<b>%{label}</b><br>%{customdata[1]}<br>%{customdata[0]:+.2f} %<extra></extra>",
        maxdepth=2,
    ))
    fig.update_layout(height=560, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return desk_layout(fig)


def rs_figure(rs: pd.DataFrame, symbol: str) -> go.Figure:
    """The two RS lines (100 = in line with the benchmark since the window start)."""
    fig = go.Figure()
    x = [ist_date(ts) for ts in rs.index]  # daily closes: "09 Sep 2016", no time
    for col, colour in (("rs_vs_sector", "#4fc3f7"), ("rs_vs_nifty50", "#ffb74d")):
        fig.add_trace(go.Scatter(x=x, y=rs[col], name=f"{symbol} {RS_LABELS[col]}", mode="lines",
                                 line={"width": 1.6, "color": colour}))
    fig.add_hline(y=100, line={"width": 1, "dash": "dot", "color": "grey"})
    fig.update_xaxes(type="category", nticks=10, showgrid=False)
    fig.update_layout(height=380, margin={"l": 40, "r": 20, "t": 30, "b": 20}, yaxis_title="RS (100 = start)",
                      legend={"orientation": "h", "y": 1.08, "x": 0}, hovermode="x unified")
    fig.update_traces(hovertemplate="%{y:.1f}<extra>%{fullData.name}</extra>")
    return desk_layout(fig)


as_of = view.as_of()
bench_end = view.benchmark_last_date()
bench_note = ("The market has no NIFTY 50 daily bars." if bench_end is None
              else f"NIFTY 50 daily bars end {bench_end:%d %b %Y}.")
replay = getattr(svc.settings, "market", "") == "replay"

st.caption(f"{view.as_of_label()} (market time {now:%a %d %b %Y %H:%M} IST); {view.coverage()}. "
           "Industries are NSE's from the NIFTY 500 list; sector returns are equal-weighted "
           "(daily bars carry no free-float market caps), on the market's daily closes. "
           + ("In the replay, sector-index daily bars are derived from 1-minute bars." if replay else ""))
if view.forming and as_of == now.date():
    st.caption(f"Today so far: today's bars are forming ({view.members_on(as_of)} members have one), "
               "each closing at its latest traded price.")
for warning in view.warnings:
    st.warning(warning)
if view.empty:
    fetch_button(len(view.empty), f"Fetch daily bars for the {len(view.empty)} members without any")

period = st.radio("Period", view.periods(), index=0, horizontal=True, key="sectors_period",
                  help="1D = 1 session, 1W = 5 sessions, 1M = 21 sessions.")
try:
    table = view.sector_table(period)
    leaves = view.symbol_table(period)
except ValidationError as exc:
    st.error(str(exc))
    st.stop()

bench = view.benchmark_return_pct(period)
base = table.attrs["base"]
c1, c2, c3 = st.columns(3)
members = leaves["return_pct"].notna()
c1.metric(f"NIFTY 500 equal-weighted, {period}", signed_pct(leaves["return_pct"].mean()))
c2.metric("Advancers / decliners", f"{int((leaves['return_pct'] > 0).sum())} / "
          f"{int((leaves['return_pct'] < 0).sum())}")
c3.metric(f"NIFTY 50, {period}", signed_pct(bench))
end = f"{now:%H:%M} IST today" if view.forming and as_of == now.date() else f"the close of {as_of:%d %b %Y}"
st.caption(f"Returns from the close of {base:%d %b %Y} to {end}; "
           f"{int(members.sum())} of {len(leaves)} constituents have bars on both days."
           + ("" if bench is not None else
              f" {bench_note}"))

st.plotly_chart(heatmap(view, (view.forming, view.market_time.isoformat()), period), key="sectors_heatmap",
                width="stretch")

st.subheader("Sector table")
first = ["return_pct", "index", "index_pct"]  # the NSE index beside the equal-weighted return
ordered = table[first + [c for c in table.columns if c not in first]]
shown = frame_for_display(ordered, {c: m.kind for c, m in SECTOR_COLUMNS.items()}).reset_index()
shown.attrs = {}  # as_of/base dates are in the caption; Arrow cannot serialise them
st.dataframe(
    shown.rename(columns=TABLE_LABELS),
    key="sectors_table", hide_index=True, width="stretch",
    column_config={TABLE_LABELS.get(c, c): st.column_config.Column(m.label, help=m.help)
                   for c, m in SECTOR_COLUMNS.items() if c in ordered.columns},
)
st.caption("NSE index: the sector index shown beside an industry (it covers part of it, e.g. NIFTY BANK of "
           f"Financial Services); index % is its return over the same two sessions, {MISSING} where the market "
           "has no bar of it on either day.")

st.subheader("Relative strength")
r1, r2, r3 = st.columns([2, 2, 3])
with r1:
    industry = st.selectbox("Industry", ["All industries", *view.industries()], key="sectors_industry")
with r2:
    choices = view.symbols(None if industry == "All industries" else industry)
    symbol = st.selectbox("Symbol", choices, index=None, placeholder="Pick a symbol", key="sectors_symbol")
with r3:
    window = st.radio("Window", view.rs_windows(), index=1, horizontal=True, key="sectors_rs_window",
                      help="1M = 21, 3M = 63, 6M = 126, 1Y = 250 sessions ending at the as-of date.")

if symbol is None:
    st.info("Pick a symbol to see its relative strength against its sector and NIFTY 50.")
    st.stop()
try:
    rs = view.relative_strength(symbol, window)
    company, sector = view.company(symbol)
except ValidationError as exc:
    st.error(str(exc))
    st.stop()

last = rs.iloc[-1]
m1, m2, m3 = st.columns(3)
m1.metric(f"{symbol} {window}", signed_pct(last["close_rebased"] - 100))
m2.metric(f"RS vs {sector}", number(last["rs_vs_sector"], 1),
          f"{number(last['rs_vs_sector'] - 100, 1, sign=True)} vs sector")
nifty_last = rs["rs_vs_nifty50"].dropna()
m3.metric("RS vs NIFTY 50", MISSING if nifty_last.empty else number(nifty_last.iloc[-1], 1),
          None if nifty_last.empty else f"{number(nifty_last.iloc[-1] - 100, 1, sign=True)} vs NIFTY 50")
st.plotly_chart(rs_figure(rs, symbol), key="sectors_rs_chart", width="stretch")
notes = [f"{company} · {sector}: equal-weighted index of {rs.attrs['sector_members']} members, "
         f"100 on {rs.attrs['start']:%d %b %Y}. Above 100 = out-performing since then."]
if len(nifty_last) < len(rs):
    notes.append(f"{bench_note} The NIFTY 50 line covers only the sessions it has.")
st.caption(" ".join(notes))
