"""Approvals: pending proposals as cards (approve / reject / bulk approve) and the decided history."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import streamlit as st

from app.ui.analysis_widgets import latest_analysis_badge
from app.ui.state import get_services
from app.ui.approval_widgets import approval_card, history_frame, judgement_figure
from app.ui.desk import current_user, desk_clock
from app.ui.feedback import guarded, outcome_flash, show_flash
from app.ui.formatting import countdown, inr, ist, qty
from core.errors import ValidationError
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services()
trading = svc.trading
user = current_user()

st.header("Approvals")
clock = desk_clock(svc)
if clock.error:
    st.warning(f"Tick cache (Redis) unavailable: {clock.error}. Prices and the market clock are unknown; "
               "approvals will be refused until it is back.", icon=":material/warning:")
st.caption(f"Desk time {ist(clock.now)} · {clock.source} · acting as **{user}**")

with st.expander("Settings"):
    confirm_above = st.number_input(
        "Ask for confirmation when the notional is above (₹)", min_value=0.0,
        value=float(svc.settings.trading.confirm_notional),  # DESK_CONFIRM_NOTIONAL
        step=10_000.0, key="approvals_confirm_above",
    )

show_flash("approvals_flash")


def _approve(ids: list[str]) -> None:
    """Approve ``ids`` (one or many), keep the outcomes as a flash, rerun the page."""
    now = desk_clock(svc).now
    try:
        if len(ids) == 1:
            outcomes = [trading.approve(ids[0], user=user, now=now)]
        else:
            outcomes = trading.approve_many(ids, user=user, now=now)
    except ValidationError as exc:
        st.session_state["approvals_flash"] = ("error", str(exc))
    else:
        st.session_state["approvals_flash"] = [
            outcome_flash(o, f"Approved {o.approval_id}: order {o.order_id} sent for execution "
                             f"at LTP {inr(o.price)}") for o in outcomes
        ]
    st.session_state.pop("approvals_confirm", None)
    st.rerun()


def _dismiss_confirm() -> None:
    st.session_state.pop("approvals_confirm", None)


@st.dialog("Confirm approval", on_dismiss=_dismiss_confirm)
def confirm_dialog(views: list) -> None:
    total = sum((v.notional for v in views), Decimal(0))
    if len(views) == 1:
        v = views[0]
        st.markdown(f"Approve **{v.side} {qty(v.quantity)} {v.tradingsymbol}** ({v.product}, {v.order_type})?")
        st.markdown(f"Notional **{inr(total)}** is above your confirmation threshold {inr(confirm_above)}.")
    else:
        st.markdown(f"Approve these **{len(views)}** orders (total notional **{inr(total)}**)?")
        for v in views:
            st.markdown(f"- {v.side} {qty(v.quantity)} **{v.tradingsymbol}** · {inr(v.notional)}")
    st.caption("Each is re-checked (expiry, price drift, risk, hours, circuit) at the moment you confirm.")
    ok_col, cancel_col = st.columns(2)
    if ok_col.button("Confirm approve", type="primary", key="approvals_dialog_confirm"):
        _approve([v.approval_id for v in views])
    if cancel_col.button("Cancel", key="approvals_dialog_cancel"):
        _dismiss_confirm()
        st.rerun()


@st.fragment(run_every="1s")
def expiry_countdown(expires_at: datetime, offset_s: float) -> None:
    left = expires_at - (datetime.now(UTC) + timedelta(seconds=offset_s))
    secs = left.total_seconds()
    colour = "red" if secs < 60 else "orange" if secs < 120 else "blue"
    st.markdown(f":{colour}-badge[:material/timer: {countdown(left)}]")
    if secs <= -1:  # expired: reload so the card moves to the history
        st.rerun(scope="app")


@st.fragment(run_every="1s")
def watch_pending(shown: tuple[str, ...]) -> None:
    """Reload the page when proposals arrive or leave (inputs on the cards keep their values)."""
    rows = guarded("The approvals store", trading.pending, desk_clock(svc).now)
    if rows is not None and tuple(v.approval_id for v in rows) != shown:
        st.rerun(scope="app")


st.subheader("Pending")
pending = guarded("The approvals store", trading.pending, clock.now) or []
watch_pending(tuple(v.approval_id for v in pending))
offset_s = clock.offset.total_seconds()

if not pending:
    st.info("No pending approvals. Strategies, scans and the order ticket (Orders & Positions → "
            "Send to approvals) propose orders here.")
else:
    by_id = {v.approval_id: v for v in pending}
    selected = [aid for aid in by_id if st.session_state.get(f"approvals_select_{aid}")]
    bulk_col, note_col = st.columns([1, 3])
    if bulk_col.button(f"Approve selected ({len(selected)})", key="approvals_bulk", disabled=not selected):
        st.session_state["approvals_confirm"] = selected
    note_col.caption(f"{len(pending)} pending · approvals above {inr(confirm_above)} notional and bulk "
                     "approvals ask for confirmation")
    for v in pending:
        aid = v.approval_id
        with st.container(border=True, key=f"approvals_card_{aid}"):
            body, side = st.columns([5, 1])
            with body:
                approval_card(v)
                latest_analysis_badge(svc, v.instrument_token)
            with side:
                expiry_countdown(v.expires_at, offset_s)
                st.caption(f"expires {ist(v.expires_at, with_date=False)}")
                st.checkbox("Select", key=f"approvals_select_{aid}")
            approve_col, reason_col, reject_col = st.columns([1, 3, 1], vertical_alignment="bottom")
            if approve_col.button("Approve", type="primary", key=f"approvals_approve_{aid}"):
                if v.notional > Decimal(str(confirm_above)):
                    st.session_state["approvals_confirm"] = [aid]
                else:
                    _approve([aid])
            reason = reason_col.text_input("Reject reason (required)", key=f"approvals_reason_{aid}",
                                           placeholder="e.g. spread too wide")
            if reject_col.button("Reject", key=f"approvals_reject_{aid}"):
                try:
                    outcome = trading.reject(aid, user=user, reason=reason, now=desk_clock(svc).now)
                except ValidationError as exc:
                    st.error(str(exc))
                else:
                    st.session_state["approvals_flash"] = outcome_flash(outcome, f"Rejected {aid}: {reason.strip()}")
                    st.rerun()

    confirming = [by_id[aid] for aid in st.session_state.get("approvals_confirm", []) if aid in by_id]
    if confirming:
        confirm_dialog(confirming)

st.subheader("History")
st.caption("Proposals only (strategies, scans, analyses, webhooks, the ticket's Send to approvals) and who decided "
           "them. The ticket's Place and the desk's exits (kill switch, MIS square-off) never wait for approval: "
           "they are in the order book and P&L under their origin.")
history = guarded("The approvals history", trading.history, 200) or []
if not history:
    st.info("No decided approvals yet.")
else:
    counts = {s: sum(1 for v in history if v.status == s) for s in ("APPROVED", "REJECTED", "EXPIRED")}
    passed = [v.shadow_pnl for v in history if v.status in ("REJECTED", "EXPIRED") and v.shadow_pnl is not None]
    m = st.columns(4)
    m[0].metric("Approved", counts["APPROVED"])
    m[1].metric("Rejected", counts["REJECTED"])
    m[2].metric("Expired", counts["EXPIRED"])
    m[3].metric("Shadow P&L of passed-up signals", inr(sum(passed, Decimal(0)), sign=True),
                help="What rejected and expired signals would have made (before charges), marked to the "
                     "latest tick. Negative: your judgement beat the model.")
    st.dataframe(history_frame(history), hide_index=True, key="approvals_history_table")
    fig = judgement_figure(history)
    if fig is not None:
        st.plotly_chart(fig, key="approvals_judgement_chart")
