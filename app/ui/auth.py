"""The sign-in gate of every page (``app.ops.sign_in``).

In ``streamlit_app.py``, right after ``st.navigation`` and before anything else renders::

    nav = st.navigation(pages, position=nav_position(get_services()))
    require_sign_in(get_services())

and, as the first statement after the imports of every ``pages/*.py`` (see :func:`guard_page`)::

    guard_page(get_services())

When sign-in is required and the browser session has no active desk session, the page shows
only the sign-in form and ``st.stop()``\\ s (the navigation is hidden too). Signed in, the
sidebar shows who and until when, with a Sign out button. A local run without sign-in says so
in the sidebar. The session token lives only in ``st.session_state`` (so a browser reload asks
again); passwords are never kept or shown.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.ops.sign_in import AuthService, AuthUnavailable
from app.ui.formatting import MISSING, ist_time

TOKEN_KEY = "auth_token"
USER_KEY = "auth_user_name"
NOTICE_KEY = "auth_notice"


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
        return "sidebar" if auth.session(st.session_state.get(TOKEN_KEY), touch=False).ok else "hidden"
    except Exception:  # noqa: BLE001 - require_sign_in reports the problem
        return "hidden"


def _sign_out(auth: AuthService) -> None:
    auth.sign_out(st.session_state.pop(TOKEN_KEY, None))
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
        check = auth.session(st.session_state.get(TOKEN_KEY), touch=sidebar)
    except AuthUnavailable as exc:
        st.title("PaperDesk")
        st.error(str(exc), icon=":material/cloud_off:")
        st.stop()
    if check.ok:
        st.session_state[USER_KEY] = check.user
        if sidebar:
            _sidebar_signed_in(auth, check.user, check.expires_at)
        return check.user
    if st.session_state.pop(TOKEN_KEY, None) and check.state == "expired":
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
