"""P&L: equity curve and drawdown; over a date range (default: this market month up to market
time, like Zerodha Console's P&L report) realized P&L per symbol and per origin/strategy (gross,
charges net of same-day CNC netting, net), the trade-wise and symbol-wise reports with a CSV
download each; today's charges with the netting line, and the reconciliation of the day's charges
with Kite's virtual contract note."""

import streamlit as st

from app.ui.state import get_services
from app.ui.book_widgets import funds_metrics
from app.ui.desk import desk_clock
from app.ui.feedback import guarded
from app.ui.formatting import DATE_INPUT_FORMAT, inr, ist, ist_date
from app.ui.pnl_widgets import (
    NOTE_STATUS,
    charges_breakdown_frame,
    equity_figure,
    month_range,
    netting_saving,
    note_frame,
    pnl_bar_figure,
    pnl_table,
    symbol_report_csv,
    symbol_report_frame,
    trade_report_csv,
    trade_report_frame,
)
from core.errors import DeskError
from core.timeutil import to_ist
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

st.subheader("Report")
market_day = to_ist(clock.now).date()
picked = st.date_input("Date range (IST)", value=month_range(market_day), max_value=market_day, format=DATE_INPUT_FORMAT,
                       key="pnl_range", help="Trades and fees of these days, up to the desk's market time "
                       f"({ist(clock.now)}); the default is this market month.")


def reports(start, end) -> None:
    """The range's P&L by symbol and by origin/strategy, the trade-wise and symbol-wise reports."""
    st.caption(f"{ist_date(start)} – {ist_date(end)} · up to market time {ist(clock.now)}")
    for title, fetch, column, key in (
        ("By symbol", trading.pnl_by_symbol, "tradingsymbol", "pnl_by_symbol"),
        ("By origin and strategy", trading.pnl_by_strategy, "strategy", "pnl_by_strategy"),
    ):
        st.markdown(f"**{title}**")
        frame = guarded(f"P&L {title.lower()}", fetch, start, end)
        if frame is None:
            continue
        if frame.empty:
            st.info("No realized P&L in this range.")
            continue
        st.dataframe(pnl_table(frame, column), hide_index=True, key=f"{key}_table")
        st.plotly_chart(pnl_bar_figure(frame, column, f"Realized P&L {title.lower()} (₹)"), key=f"{key}_chart")
    st.caption("Origin: **approval** a proposal decided on the Approvals page (by its strategy), **ticket** the "
               "order ticket's Place, **square-off** the MIS auto square-off, **kill switch** its flatten.")

    name = f"{start:%Y%m%d}-{end:%Y%m%d}"
    kinds = (("Trade-wise", trading.trade_report, trade_report_frame, trade_report_csv, "trades"),
             ("Symbol-wise", trading.symbol_report, symbol_report_frame, symbol_report_csv, "symbols"))
    for tab, (title, load, shown, csv, key) in zip(st.tabs([k[0] for k in kinds]), kinds):
        with tab:
            report = guarded(f"The {title.lower()} report", load, start, end, until=clock.now)
            if report is None:
                continue
            if report.empty:
                st.info("No trades in this range.")
            else:
                st.dataframe(shown(report), hide_index=True, key=f"pnl_{key}_table")
            st.download_button(f"Download {title.lower()} CSV", csv(report),
                               file_name=f"{title.lower().replace('-', '')}-{name}.csv", mime="text/csv",
                               key=f"pnl_{key}_csv", disabled=report.empty)


if isinstance(picked, tuple) and len(picked) == 2:
    reports(*picked)
else:
    st.info("Pick the end date of the range.")

st.subheader("Charges today")
day = to_ist(clock.now).date()
charges = guarded("Today's charges", trading.charges_today, clock.now)
netting = guarded("Same-day CNC netting", svc.contract_notes.netting_today, day)
if charges is not None and netting is not None:
    st.dataframe(charges_breakdown_frame(charges, netting), hide_index=True, key="pnl_charges_table")
    saving = netting_saving(netting)
    if saving:
        st.caption(f"Same-day CNC netting saved {inr(saving)} today: a CNC buy and sell of the same scrip on the "
                   "same day is charged at intraday rates (support.zerodha.com, partial delivery).")

st.subheader("Contract note (Kite)")
notes = svc.contract_notes
if st.button("Reconcile now", key="pnl_reconcile", help="Send today's executed orders to Kite's virtual contract "
             "note and compare its charges with the desk's"):
    try:
        notes.reconcile(day, clock.now)
    except DeskError as exc:
        st.warning(f"Not reconciled: {exc}", icon=":material/warning:")
check = guarded("The contract-note reconciliation", notes.check, day)
if check is None:
    st.caption(f"Not reconciled yet for {ist_date(day)}: the job runs at 16:05 IST on trading days.")
else:
    text = f"{NOTE_STATUS.get(check.status, check.status)} {check.message}"
    when = f"Checked {ist(check.checked_at)}" + (f", {check.attempts} failed attempt(s)" if check.attempts else "")
    if check.status == "differences":
        st.warning(text, icon=":material/difference:")
    elif check.status == "matched":
        st.success(text)
    else:
        st.info(text)
    st.caption(f"{when} · {check.orders} order(s) · desk {inr(check.desk_total)} · Kite {inr(check.kite_total)}")
    if check.rows:
        st.dataframe(note_frame(check.rows, only_differences=check.status == "differences"), hide_index=True,
                     key="pnl_note_table")
