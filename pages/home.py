"""Home: market status, ticker health, the live, editable watchlist and the news feed."""

from datetime import datetime

import streamlit as st

from app.ui.desk import home_notices
from app.ui.news_widgets import news_panel
from app.ui.row_actions import WATCHLIST_ACTIONS, action_bar, selected_key
from app.ui.state import get_services, get_watch_view
from app.ui.widgets import market_status_panel, subscription_notice, watchlist_table
from core.errors import DeskError, ValidationError
from core.timeutil import IST
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services()
view = get_watch_view()

st.header("Home")
home_notices(svc)  # proposals that expired undecided or were refused by risk today

try:
    keys = svc.watchlists.keys()
except DeskError as exc:
    st.error(f"Could not read the watchlist from the store: {exc}")
    st.stop()


@st.fragment(run_every="1s")
def live_market() -> None:
    snap = view.snapshot(svc.watchlists.keys(), datetime.now(IST))
    market_status_panel(snap.status)
    subscription_notice(svc)
    st.subheader("Watchlist")
    if snap.table.empty:
        st.info("The watchlist is empty: add a symbol below.")
    else:
        # Kite's habit: pick a row, then chart, buy, sell or analyse it. The table's key keeps
        # the pick across the 1 s refresh; the buttons live in this fragment too.
        keys_drawn = list(snap.table.index)
        event = watchlist_table(snap.table, key="home_watchlist_table", on_select="rerun",
                                selection_mode="single-row")
        picked = selected_key(event, keys_drawn)
        inst = svc.instruments.find(picked) if picked else None
        action_bar(picked, key="home_row", tradable=inst is None or inst.segment != "INDICES",
                   actions=WATCHLIST_ACTIONS, nothing_picked="Tick a row to chart, buy, sell, analyse or alert on it.")
        if snap.cache_error is None and snap.table["LTP"].isna().all():
            st.caption("No ticks for these symbols yet.")


live_market()


@st.fragment(run_every="60s")
def news() -> None:
    st.subheader("News")
    news_panel(svc, key="home_news")


news()

st.subheader("Edit watchlist")
flash = st.session_state.pop("home_flash", None)
if flash:
    st.success(flash)
add_col, remove_col = st.columns(2)
with add_col:
    symbol = st.text_input("Add symbol", placeholder="INFY or NSE:INFY", key="home_add_symbol").strip()
    if st.button("Add", key="home_add", type="primary"):
        if not symbol:
            st.warning("Type a symbol first, e.g. INFY or NSE:INFY.")
        else:
            try:
                added = svc.watchlists.add(symbol)
            except ValidationError as exc:
                st.error(str(exc))
            else:
                name = symbol.upper()
                st.session_state["home_flash"] = f"Added {name}" if added else f"{name} is already listed"
                st.rerun()
with remove_col:
    victim = st.selectbox("Remove symbol", keys, index=None, placeholder="Pick a symbol",
                          key="home_remove_symbol")
    if st.button("Remove", key="home_remove", disabled=victim is None):
        svc.watchlists.remove(victim)
        st.session_state["home_flash"] = f"Removed {victim}"
        st.rerun()
