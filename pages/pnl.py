"""P&L: equity curve and drawdown, and realized P&L per symbol and per strategy (gross, charges, net)."""

import streamlit as st

from app.ui.state import get_services
from app.ui.book_widgets import funds_metrics
from app.ui.desk import desk_clock
from app.ui.feedback import guarded
from app.ui.pnl_widgets import equity_figure, pnl_bar_figure, pnl_table
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services()
trading = svc.trading

st.header("P&L")
clock = desk_clock(svc)
if clock.error:
    st.warning(f"Tick cache (Redis) unavailable: {clock.error}. Unrealized P&L is shown at cost.", icon=":material/warning:")

funds = guarded("Funds", trading.funds, clock.now)
if funds is not None:
    funds_metrics(funds)

st.subheader("Equity curve and drawdown")
curve = guarded("The equity curve", trading.equity_curve, clock.now)
if curve is not None:
    if len(curve) <= 1:
        st.info("No fills yet: the equity curve starts with the first trade.")
    else:
        st.plotly_chart(equity_figure(curve), key="pnl_equity_chart")
        st.caption("Equity after each fill and fee (open positions at cost until the last point, which marks them to the "
                   "latest LTP); drawdown below the running peak.")

for title, fetch, column, key in (
    ("By symbol", trading.pnl_by_symbol, "tradingsymbol", "pnl_by_symbol"),
    ("By strategy", trading.pnl_by_strategy, "strategy", "pnl_by_strategy"),
):
    st.subheader(title)
    frame = guarded(f"P&L {title.lower()}", fetch)
    if frame is None:
        continue
    if frame.empty:
        st.info("No realized P&L yet.")
        continue
    st.dataframe(pnl_table(frame, column), hide_index=True, key=f"{key}_table")
    st.plotly_chart(pnl_bar_figure(frame, column, f"Realized P&L {title.lower()} (₹)"), key=f"{key}_chart")
