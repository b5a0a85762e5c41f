"""The sign-in gate of every page (``app.ops.sign_in``).

In ``streamlit_app.py``, right after ``st.navigation`` and before anything else renders::

    nav = st.navigation(pages, position=nav_position(get_services()))
    require_sign_in(get_services())

and, as the first statement after the imports of every ``pages/*.py`` (see :func:`guard_page`)::

    guard_page(get_services())

When sign-in is required and the browser session has no active desk session, the page shows
only the sign-in form and ``st.stop()``\\ s (the navigation is hidden too). Signed in, the
sidebar shows who and until when, with a Sign out button. A local run without sign-in says so
in the sidebar. Passwords are never kept or shown.

The session survives a reload through an ``HttpOnly`` cookie (``app.ops.session_cookie``) that
the web process's own route sets (``app.ui.session_routes``; a script cannot answer HTTP):
after the form succeeds, this browser session keeps the token in ``st.session_state`` and the
page posts a one-time code (``AuthService.hand_off``) to ``/desk-auth/session``, then reloads;
the reloaded page reads the cookie from ``st.context.cookies``. Sign out deletes the session
in Redis first (so a copied cookie stops working) and then asks the route to clear the cookie.
Under ``AppTest`` (no browser, no cookie) the ``st.session_state`` token alone carries the session.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from app.ops.session_cookie import COOKIE_NAME, cookie_digest
from app.ops.sign_in import AuthService, AuthUnavailable
from app.ui.formatting import MISSING, ist_time
from app.ui.session_routes import SESSION_PATH, SIGN_OUT_PATH

TOKEN_KEY = "auth_token"
USER_KEY = "auth_user_name"
NOTICE_KEY = "auth_notice"
HANDOFF_KEY = "auth_cookie_code"


def _cookie() -> str | None:
    """The session cookie this browser sent when the page loaded (``None`` without one)."""
    value = st.context.cookies.get(COOKIE_NAME)
    return value if isinstance(value, str) and value else None  # AppTest's client is a stand-in


def _token(auth: AuthService) -> str | None:
    """This browser session's token: the one its form just opened, else the cookie's."""
    return st.session_state.get(TOKEN_KEY) or auth.cookie().unwrap(_cookie())


def _post(path: str, body: dict, *, reload: bool) -> None:
    """Have the browser POST ``body`` to one of this origin's cookie routes (then reload)."""
    then = ".then(r => { if (r.ok) window.location.reload(); })" if reload else ""
    st.html(f"<script>fetch({json.dumps(path)}, {{method: 'POST', credentials: 'same-origin', "
            f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(json.dumps(body))}}}){then};"
            "</script>", unsafe_allow_javascript=True)


def signed_in_user() -> str | None:
    """The signed-in user's name for this browser session (``None`` without sign-in)."""
    return st.session_state.get(USER_KEY)


def nav_position(svc: Any) -> str:
    """``"hidden"`` while sign-in is required and this session is not signed in, else
    ``"sidebar"``: pass it to ``st.navigation(position=...)``. Never raises."""
    try:
        auth = svc.auth
        if not auth.required:
            return "sidebar"
        return "sidebar" if auth.session(_token(auth), touch=False).ok else "hidden"
    except Exception:  # noqa: BLE001 - require_sign_in reports the problem
        return "hidden"


def _sign_out(auth: AuthService) -> None:
    auth.sign_out(_token(auth))  # server-side first: the cookie is dead even if the browser keeps it
    st.session_state.pop(TOKEN_KEY, None)
    st.session_state.pop(USER_KEY, None)
    st.session_state[NOTICE_KEY] = "You have signed out."


def _sidebar_signed_in(auth: AuthService, user: str, expires_at) -> None:
    with st.sidebar:
        until = ist_time(expires_at) if expires_at else MISSING
        st.caption(f":material/person: Signed in as **{user}** · session until {until} "
                   f"(ends after {auth.config.session_idle_minutes:g} min idle)")
        st.button("Sign out", key="auth_sign_out", icon=":material/logout:", on_click=_sign_out, args=(auth,))


def _form(auth: AuthService) -> None:
    st.title("PaperDesk")
    st.subheader("Sign in")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/info:")
    stale = _cookie()
    if stale:  # a signed-out, expired or revoked cookie: have it cleared (only that value)
        _post(SIGN_OUT_PATH, {"cookie": cookie_digest(stale)}, reload=False)
    try:
        if not auth.users_configured():
            st.error(auth.no_users_message(), icon=":material/person_off:")
            return
    except AuthUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        return
    except Exception as exc:  # noqa: BLE001 - a bad DESK_USERS file
        st.error(f"Sign-in is not configured correctly: {exc}", icon=":material/error:")
        return
    with st.form("auth_form", clear_on_submit=True):
        username = st.text_input("User", key="auth_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="auth_password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", key="auth_submit", type="primary")
    if not submitted:
        return
    try:
        result = auth.sign_in(username, password)
    except AuthUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        return
    if result.ok:
        st.session_state[TOKEN_KEY] = result.token
        st.session_state[USER_KEY] = result.user
        try:
            st.session_state[HANDOFF_KEY] = auth.hand_off(result.token)
        except AuthUnavailable:  # signed in for this browser session only; a reload asks again
            pass
        st.rerun()
    st.error(result.message, icon=":material/lock:" if result.locked else ":material/error:")


def _gate(svc: Any, *, sidebar: bool) -> str | None:
    auth = svc.auth
    if not auth.required:
        if sidebar:
            with st.sidebar:
                st.caption(f":material/person: {auth.local_run_notice()}")
        return None
    try:
        token = _token(auth)
        check = auth.session(token, touch=sidebar)
    except AuthUnavailable as exc:
        st.title("PaperDesk")
        st.error(str(exc), icon=":material/cloud_off:")
        st.stop()
    if check.ok:
        st.session_state[USER_KEY] = check.user
        code = st.session_state.pop(HANDOFF_KEY, None)
        if code:  # just signed in: the browser swaps the code for the HttpOnly cookie, then reloads
            _post(SESSION_PATH, {"code": code}, reload=True)
        if sidebar:
            _sidebar_signed_in(auth, check.user, check.expires_at)
        return check.user
    st.session_state.pop(TOKEN_KEY, None)
    if token and check.state == "expired":
        st.session_state[NOTICE_KEY] = check.message
    elif check.state == "missing" and st.session_state.get(USER_KEY):
        st.session_state[NOTICE_KEY] = "Your session has ended: sign in again."
    st.session_state.pop(USER_KEY, None)
    _form(auth)
    st.stop()
    return None  # pragma: no cover


def require_sign_in(svc: Any) -> str | None:
    """Gate the current page from the entrypoint: return the signed-in user's name, or
    ``None`` on a local run without sign-in (said in the sidebar). Otherwise render only the
    sign-in form (with why: wrong password, locked, expired, Redis down) and ``st.stop()``."""
    return _gate(svc, sidebar=True)


def guard_page(svc: Any) -> str | None:
    """The first line of every page: silent when sign-in is off or this session is signed in
    (the entrypoint already drew the sidebar), else the sign-in form and ``st.stop()``.

    Needed because Streamlit runs a page file *without* the entrypoint when it falls back to
    the ``pages/`` folder: in ``AppTest.switch_page`` and, on a fresh server, for a first
    request that names a page URL before any run has called ``st.navigation``.
    """
    return _gate(svc, sidebar=False)


__all__ = ["guard_page", "nav_position", "require_sign_in", "signed_in_user"]
