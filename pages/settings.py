"""Settings: market mode, the daily Kite login (link, redirect with request_token, logout) and
the effective settings (capital, leverage, slippage, approvals, replay …) with their variables."""

import streamlit as st

from app.ops.kite_login import KiteUnavailable
from app.ui.state import get_services
from app.ui.settings_view import render_effective_settings
from app.ui.widgets import fmt_ist
from core.errors import ValidationError
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services()
auth = svc.kite_auth

st.header("Settings")

# Kite redirects back here with ?request_token=…&action=login&status=success.
params = st.query_params.to_dict()
if "request_token" in params or params.get("action") == "login":
    try:
        done = auth.complete_login(params)
    except ValidationError as exc:
        st.session_state["settings_flash"] = ("error", str(exc))
    except KiteUnavailable as exc:
        st.session_state["settings_flash"] = ("error", str(exc))
    else:
        if done is not None:
            st.session_state["settings_flash"] = ("success", f"Logged in to Kite as {done.user_id}.")
        else:
            st.session_state["settings_flash"] = ("error", "Kite's redirect had no request_token; log in again.")
    st.query_params.clear()  # never leave the single-use token in the address bar

flash = st.session_state.pop("settings_flash", None)
if flash:
    (st.success if flash[0] == "success" else st.error)(flash[1])

mode = "Kite Connect (real account)" if auth.market == "kite" else "Replay (recorded NSE sessions)"
st.markdown(f"**Market mode:** {mode}")
st.caption(f"API key: {auth.api_key}")

try:
    ledger_capital = svc.trading.funds(svc.market_clock.now().now).capital
except Exception:  # noqa: BLE001 - the trading store is down: show the settings alone
    ledger_capital = None
render_effective_settings(svc.settings, ledger_capital)

try:
    status = auth.status()
except Exception as exc:  # noqa: BLE001 - Redis down
    st.error(f"Cannot read the Kite session: {type(exc).__name__}. Is Redis running?")
    st.stop()

st.subheader("Kite session")
if status.state == "active":
    who = f"{status.user_name} ({status.user_id})" if status.user_name else status.user_id
    st.success(f"Logged in as **{who}** since {fmt_ist(status.login_time)}; "
               f"the session ends {fmt_ist(status.expires_at)}.")
elif status.state == "expired":
    st.warning(f"The session for {status.user_id or 'the last user'} has expired: {status.reason}.")
else:
    st.info("Not logged in.")

try:
    redirect = str(st.context.url or "").split("?")[0] or None
except Exception:  # noqa: BLE001 - no browser context (tests)
    redirect = None
url = auth.login_url(redirect or "http://localhost:8501/settings")
st.link_button("Log in to Kite" if status.state != "active" else "Log in again", url, type="primary")
st.caption("Kite asks for a login once a day; the session ends at 06:00 IST. "
           "Real Kite redirects to the URL registered for your app: set it to this page.")

if status.state != "missing" and st.button("Log out", key="settings_logout"):
    try:
        invalidated = auth.logout()
    except KiteUnavailable as exc:
        st.session_state["settings_flash"] = ("error", str(exc))
    else:
        st.session_state["settings_flash"] = ("success", "Logged out" + (" and the token was invalidated at Kite."
                                                                         if invalidated else "."))
    st.rerun()
