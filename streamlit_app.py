"""PaperDesk entrypoint: page config, navigation, and the sidebar's market mode.

Served by ``web_app.py`` (``python -m app.ui.web run web_app.py``, the Procfile's web; see ``app.ui.web``).
Streamlit puts only this file's folder on the import path, so it sits at the repo root beside
``pages/``.
"""

import streamlit as st

from app.logging_setup import configure_logging

from app.ui.auth import nav_position, require_sign_in
from app.ui.desk import page_notices
from app.ui.state import get_services, get_watch_view
from app.ui.widgets import token_banner

configure_logging("web")
st.set_page_config(layout="wide", page_title="PaperDesk", page_icon=":material/monitoring:")

# Material icons: emoji need fonts a headless or minimal machine may not have.
pages = {
    "Market": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/chart.py", title="Chart", icon=":material/candlestick_chart:"),
        st.Page("pages/scanner.py", title="Scanner", icon=":material/manage_search:"),
        st.Page("pages/sectors.py", title="Sectors", icon=":material/grid_view:"),
    ],
    "Trading": [
        st.Page("pages/approvals.py", title="Approvals", icon=":material/task_alt:"),
        st.Page("pages/alerts.py", title="Alerts", icon=":material/notifications_active:"),
        st.Page("pages/analysis.py", title="Analysis", icon=":material/psychology:"),
        st.Page("pages/orders.py", title="Orders & Positions", icon=":material/receipt_long:"),
        st.Page("pages/strategies.py", title="Strategies", icon=":material/tune:"),
        st.Page("pages/backtest.py", title="Backtest", icon=":material/query_stats:"),
        st.Page("pages/risk.py", title="Risk", icon=":material/shield:"),
        st.Page("pages/pnl.py", title="P&L", icon=":material/monitoring:"),
    ],
    "Desk": [
        st.Page("pages/system.py", title="System", icon=":material/monitor_heart:"),
        st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
    ],
}
nav = st.navigation(pages, position=nav_position(get_services()), expanded=True)  # every page in view
require_sign_in(get_services())  # deployed desks ask for sign-in; a local run says it is open
token_banner(get_services())
page_notices(get_services())  # an expired or refused proposal: a toast on the next page load, whatever the page

with st.sidebar:
    st.markdown("### PaperDesk")
    st.caption("Paper trading on NSE · no real orders")
    market_slot = st.empty()

try:
    nav.run()
finally:  # after the page, so the label carries the replay date its snapshot just saw
    market_slot.markdown(f"**Market:** {get_watch_view().mode_label()}")
