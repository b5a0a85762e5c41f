"""Settings: market mode, the daily Kite login (link, redirect with request_token, logout) and
the effective settings (capital, leverage, slippage, approvals, replay …) with their variables."""

from datetime import UTC, datetime

import streamlit as st

from app.ops.api_keys import SCOPES as API_KEY_SCOPES
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

# API keys: per-user keys for the REST API (`api` process, /api/v1), shown once, stored hashed.
st.subheader("API keys")
key_owner = current_user()
new_key = st.session_state.pop("settings_api_key_token", None)
if new_key:
    st.warning("Copy this key now: the desk keeps only a hash of it and shows it this once.")
    st.code(new_key, language=None)
with st.form("settings_api_key_form", clear_on_submit=True):
    c1, c2, c3 = st.columns([2, 2, 1])
    key_label = c1.text_input("Label", max_chars=80, placeholder="e.g. my TradingView script",
                              key="settings_api_key_label")
    key_scopes = c2.multiselect("Scopes", list(API_KEY_SCOPES), default=["read"], key="settings_api_key_scopes",
                                help="read: every GET · propose: send to approvals, validate, research jobs · "
                                     "trade: place/modify/cancel, kill switch · admin: limits, strategies, all")
    key_rate = c3.number_input("Requests / minute", min_value=1, max_value=60_000, value=600, step=60,
                               key="settings_api_key_rate")
    if st.form_submit_button("Create API key", type="primary"):
        try:
            made = svc.api_keys.create(key_owner, key_scopes, now=datetime.now(UTC), label=key_label,
                                       rate_per_minute=int(key_rate))
        except ValidationError as exc:
            st.error(str(exc))
        else:
            st.session_state["settings_api_key_token"] = made.token
            st.rerun()
try:
    owned = svc.api_keys.keys(key_owner)
except Exception as exc:  # noqa: BLE001 - the store is down: say so, keep the page
    st.error(f"Cannot read the API keys: {type(exc).__name__}. Is the store reachable?")
    owned = []
if owned:
    st.dataframe([{"key": k.prefix, "label": k.label, "scopes": " ".join(sorted(k.scopes)),
                   "requests/min": k.rate_per_minute, "created": fmt_ist(k.created_at),
                   "last used": fmt_ist(k.last_used_at) if k.last_used_at else "never",
                   "status": "active" if k.active else f"revoked {fmt_ist(k.revoked_at)}"} for k in owned],
                 hide_index=True, key="settings_api_keys_table")
    active = {k.key_id: k for k in owned if k.active}
    if active:
        r1, r2 = st.columns([3, 1])
        victim_key = r1.selectbox("Revoke a key", list(active), key="settings_api_key_revoke_id",
                                  format_func=lambda i: f"{active[i].prefix} {active[i].label}".strip())
        if r2.button("Revoke", key="settings_api_key_revoke"):
            svc.api_keys.revoke(key_owner, victim_key, now=datetime.now(UTC))
            st.session_state["settings_flash"] = ("success", f"Revoked API key {active[victim_key].prefix}; "
                                                             "requests with it now get 401.")
            st.rerun()
else:
    st.info("No API keys yet: create one to script the desk through its REST API.")
st.caption("Send it as `Authorization: Bearer pdk_…` to the `api` process (locally "
           "http://127.0.0.1:8502/api/v1/docs). Every write is audited with your name.")

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
