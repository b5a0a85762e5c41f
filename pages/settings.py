"""Settings: market mode, the daily Kite login (link, redirect with request_token, logout) and
the effective settings (capital, leverage, slippage, approvals, replay …) with their variables."""

from datetime import UTC, datetime

import streamlit as st

from app.ops.kite_login import KiteUnavailable
from app.ui.state import get_services
from app.ui.settings_view import render_effective_settings
from app.ui.widgets import fmt_ist
from core.errors import ValidationError
from app.ui.auth import guard_page
from app.ui.desk import current_user

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

# Webhooks: TradingView / Chartink alerts become pending approvals (docs/api.md).
st.subheader("Webhooks")
hook_owner = current_user()
try:
    hook = svc.webhooks.secrets.current(hook_owner)
except Exception as exc:  # noqa: BLE001 - the store is down: say so, keep the page
    st.error(f"Cannot read the webhook secret: {type(exc).__name__}. Is the store reachable?")
    hook = None
new_hook = st.session_state.pop("settings_webhook_secret", None)
if new_hook:
    st.warning("Copy these URLs now: the desk keeps only a hash of the secret and shows it this once.")
    for hook_source in ("tradingview", "chartink"):
        st.code(f"{{API}}/api/v1/webhooks/{hook_source}/{new_hook}", language=None)
elif hook is not None:
    st.markdown(f"Active secret `{hook.prefix}` since {fmt_ist(hook.created_at)}. "
                "Rotate it to get new URLs (the old ones stop working at once).")
else:
    st.info("No webhook secret yet: create one to let TradingView or Chartink alerts reach Approvals.")
st.caption("`{API}` is the address of the desk's `api` process (locally http://127.0.0.1:8502). Each alert "
           "becomes a pending approval, never an order; a repeat within 10 minutes is ignored.")
if st.button("Rotate webhook secret" if hook else "Create webhook secret", key="settings_webhook_rotate"):
    st.session_state["settings_webhook_secret"] = svc.webhooks.secrets.rotate(hook_owner, now=datetime.now(UTC)).secret
    st.rerun()
