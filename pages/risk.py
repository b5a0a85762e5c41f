"""Risk: the desk's status against its limits, the limits editor, and the kill switch."""

from decimal import Decimal

import streamlit as st

from app.ui.state import get_services
from app.ui.desk import current_user, desk_clock
from app.ui.feedback import guarded, outcome_flash, show_flash
from app.ui.formatting import inr, ist, pct
from app.ui.square_off_widgets import square_off_refusals
from core.errors import ValidationError
from core.risk.limits import LIMIT_BOUNDS
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services()
trading = svc.trading
user = current_user()

st.header("Risk")
clock = desk_clock(svc)
if clock.error:
    st.warning(f"Tick cache (Redis) unavailable: {clock.error}. Open positions cannot be marked to market.",
               icon=":material/warning:")
st.caption(f"Desk time {ist(clock.now)} · {clock.source} · acting as **{user}**")
show_flash("risk_flash")


# ---- status ---------------------------------------------------------------------------------------


@st.fragment(run_every="2s")
def live_status() -> None:
    try:
        status = guarded("The risk status", trading.risk_status, desk_clock(svc).now)
    except ValidationError as exc:  # e.g. limits saved before their bounds existed
        st.error(f"The risk status cannot be computed: {exc}")
        return
    if status is None:
        return
    if status.halted:
        st.error(f"HALTED by the kill switch ({status.halted_by or 'unknown'} at {ist(status.halted_at)}): "
                 "no new orders until you resume.", icon=":material/block:")
    elif status.safe_mode:
        st.warning("SAFE MODE: the daily loss limit was hit; only exits are allowed today.", icon=":material/warning:")
    else:
        st.success("Trading normally: entries allowed within the limits.", icon=":material/check_circle:")
    lim = status.limits
    c = st.columns(4)
    c[0].metric("Day P&L (net)", inr(status.day_pnl, sign=True), help=f"Safe mode at -{inr(lim.daily_loss_limit)}")
    c[1].metric("Drawdown", pct(status.drawdown_pct), help=f"Limit {pct(lim.max_drawdown_pct)} from the peak "
                                                          f"{inr(status.equity_peak)}")
    c[2].metric("Orders today", f"{status.orders_today} / {lim.max_orders_per_day}")
    c[3].metric("Open positions", f"{status.open_positions} / {lim.max_open_positions}")
    d = st.columns(4)
    d[0].metric("Equity", inr(status.equity))
    d[1].metric("Consecutive losses", f"{status.consecutive_losses} / {lim.max_consecutive_losses}")
    d[2].metric("Cooldown until", ist(status.cooldown_until, with_date=False) if status.cooldown_until else "—")
    d[3].metric("Mode", "halted" if status.halted else "safe mode" if status.safe_mode else "normal")
    square_off_refusals(trading, desk_clock(svc).now, key="risk")


st.subheader("Status")
live_status()

# ---- kill switch ----------------------------------------------------------------------------------


def _dismiss_kill() -> None:
    st.session_state.pop("risk_confirm_kill", None)


@st.dialog("Kill switch", on_dismiss=_dismiss_kill)
def confirm_kill() -> None:
    st.markdown("This **cancels every open order, flattens every position at MARKET** and halts the desk "
                "until you resume. Continue?")
    ok, cancel = st.columns(2)
    if ok.button("Yes, kill everything", type="primary", key="risk_kill_confirm"):
        try:
            outcome = trading.kill_switch(user=user, now=desk_clock(svc).now)
        except ValidationError as exc:
            st.session_state["risk_flash"] = ("error", str(exc))
        else:
            st.session_state["risk_flash"] = outcome_flash(outcome, f"Kill switch engaged: {outcome.message}")
        _dismiss_kill()
        st.rerun()
    if cancel.button("Cancel", key="risk_kill_cancel"):
        _dismiss_kill()
        st.rerun()


st.subheader("Kill switch")
k = st.columns([1, 1, 4])
if k[0].button("Kill switch", icon=":material/dangerous:", type="primary", key="risk_kill"):
    st.session_state["risk_confirm_kill"] = True
if k[1].button("Resume trading", key="risk_resume"):
    try:
        outcome = trading.resume(user=user, now=desk_clock(svc).now)
    except ValidationError as exc:
        st.error(str(exc))
    else:
        st.session_state["risk_flash"] = outcome_flash(outcome, "Trading resumed")
        st.rerun()
k[2].caption("Kill: cancel open orders, flatten positions, halt. Resume lifts the halt and safe mode.")
if st.session_state.get("risk_confirm_kill"):
    confirm_kill()

# ---- limits editor --------------------------------------------------------------------------------

st.subheader("Limits")


def _allowed(name: str) -> str:
    return f"Allowed: {LIMIT_BOUNDS[name].allowed}."


try:
    limits = guarded("The risk limits", trading.risk_limits)
except ValidationError as exc:  # a version saved before the bounds existed (e.g. a 09:00 cut-off)
    limits = None
    st.error(f"The saved limits are outside their bounds: {exc}. Replace them to trade again.")
    if st.button("Replace them with the defaults", key="risk_reset_limits", type="primary"):
        try:
            saved = trading.save_risk_limits({}, user=user)
        except ValidationError as err:
            st.error(f"Not saved: {err}")
        else:
            st.session_state["risk_flash"] = ("success", f"Default limits saved (version {saved.version}).")
            st.rerun()
if limits is not None:
    if limits.version:
        st.caption(f"Version {limits.version} · saved by {limits.saved_by or '—'} at {ist(limits.saved_at)}")
    else:
        st.caption("Defaults (never saved)")
    with st.form("risk_limits_form"):
        f = st.columns(3)
        max_notional = f[0].number_input("Max order notional (₹)", value=float(limits.max_order_notional),
                                         step=10_000.0, format="%.2f", key="risk_max_order_notional",
                                         help=_allowed("max_order_notional"))
        max_qty = f[1].number_input("Max order quantity (shares)", value=int(limits.max_order_quantity), step=1,
                                    key="risk_max_order_quantity", help=_allowed("max_order_quantity"))
        risk_pct = f[2].number_input("Risk per trade (% of capital)", value=float(limits.risk_per_trade_pct),
                                     step=0.1, format="%.2f", key="risk_risk_per_trade_pct",
                                     help=_allowed("risk_per_trade_pct"))
        g = st.columns(3)
        max_pos = g[0].number_input("Max open positions", value=int(limits.max_open_positions), step=1,
                                    key="risk_max_open_positions", help=_allowed("max_open_positions"))
        max_day = g[1].number_input("Max orders per day", value=int(limits.max_orders_per_day), step=1,
                                    key="risk_max_orders_per_day", help=_allowed("max_orders_per_day"))
        max_sym = g[2].number_input("Max orders per symbol per day", value=int(limits.max_orders_per_symbol_per_day),
                                    step=1, key="risk_max_orders_per_symbol_per_day",
                                    help=_allowed("max_orders_per_symbol_per_day"))
        h = st.columns(3)
        loss = h[0].number_input("Daily loss limit (₹)", value=float(limits.daily_loss_limit), step=1_000.0,
                                 format="%.2f", key="risk_daily_loss_limit", help=_allowed("daily_loss_limit"))
        dd = h[1].number_input("Max drawdown (%)", value=float(limits.max_drawdown_pct), step=0.5, format="%.2f",
                               key="risk_max_drawdown_pct", help=_allowed("max_drawdown_pct"))
        losses = h[2].number_input("Cooldown after N losses in a row", value=int(limits.max_consecutive_losses),
                                   step=1, key="risk_max_consecutive_losses", help=_allowed("max_consecutive_losses"))
        i = st.columns(3)
        cooldown = i[0].number_input("Cooldown (minutes)", value=int(limits.cooldown_minutes), step=1,
                                     key="risk_cooldown_minutes", help=_allowed("cooldown_minutes"))
        wash = i[1].number_input("Wash-trade window (minutes)", value=int(limits.wash_trade_minutes), step=1,
                                 key="risk_wash_trade_minutes", help=_allowed("wash_trade_minutes"))
        cutoff = i[2].time_input("MIS square-off cut-off (IST)", value=limits.square_off_cutoff,
                                 key="risk_square_off_cutoff", help=_allowed("square_off_cutoff"))
        require_stop = st.checkbox("Require a stop-loss on every entry", value=limits.require_stop,
                                   key="risk_require_stop", help=_allowed("require_stop"))
        submitted = st.form_submit_button("Save limits", type="primary", key="risk_save")
    if submitted:
        values = {
            "max_order_notional": Decimal(str(max_notional)), "max_order_quantity": int(max_qty),
            "risk_per_trade_pct": Decimal(str(risk_pct)), "require_stop": bool(require_stop),
            "max_open_positions": int(max_pos), "max_orders_per_day": int(max_day),
            "max_orders_per_symbol_per_day": int(max_sym), "daily_loss_limit": Decimal(str(loss)),
            "max_drawdown_pct": Decimal(str(dd)), "max_consecutive_losses": int(losses),
            "cooldown_minutes": int(cooldown), "wash_trade_minutes": int(wash), "square_off_cutoff": cutoff,
        }
        try:
            saved = trading.save_risk_limits(values, user=user)  # a config change: wall-clock time
        except ValidationError as exc:
            st.error(f"Not saved: {exc}. The limits in force are unchanged.")
        else:
            st.session_state["risk_flash"] = ("success", f"Limits saved (version {saved.version}).")
            st.rerun()
