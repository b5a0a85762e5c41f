"""AppTest: with DESK_AUTH=on every page shows the sign-in form and nothing else; wrong password,
lockout, sign-in, sign-out and expiry. A fresh SQLite store and the session's real Redis.

Needs ``require_sign_in`` wired into ``streamlit_app.py`` right after ``st.navigation`` and
``guard_page`` at the top of every page. AppTest runs the entrypoint on an app's first run only:
because ``pages/`` exists, each later run (and every ``switch_page``) executes the page file on
its own (Streamlit's ``pages/`` fallback), so the form is driven on a page and the sidebar
(drawn by the entrypoint) is checked on first runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_lib
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from app.ops.sign_in import SESSION_PREFIX
from app.ui.auth import TOKEN_KEY
from app.ui.session_routes import SESSION_PATH

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 60
PASSWORD = "paper-desk-passw0rd"
PAGES = ["pages/home.py", "pages/chart.py", "pages/scanner.py", "pages/sectors.py", "pages/approvals.py",
         "pages/analysis.py", "pages/orders.py", "pages/strategies.py", "pages/backtest.py", "pages/risk.py",
         "pages/pnl.py", "pages/settings.py"]


def _fresh(monkeypatch, tmp_path: Path, redis_url: str, auth: str) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DESK_AUTH", auth)
    monkeypatch.setenv("DESK_SIGNIN_MAX_FAILURES", "3")
    monkeypatch.setenv("DESK_SIGNIN_LOCKOUT_MINUTES", "15")
    monkeypatch.setenv("DESK_SESSION_IDLE_MINUTES", "30")
    monkeypatch.delenv("DESK_USERS", raising=False)
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    monkeypatch.delenv("DESK_BROKER", raising=False)
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture()
def auth_on(monkeypatch, tmp_path, redis_url) -> Iterator[str]:
    """Sign-in required; user ``alice`` exists."""
    _fresh(monkeypatch, tmp_path, redis_url, "on")
    services().auth.add_user("alice", PASSWORD)
    yield redis_url
    reset_services()
    st.cache_resource.clear()


@pytest.fixture()
def auth_off(monkeypatch, tmp_path, redis_url) -> Iterator[str]:
    _fresh(monkeypatch, tmp_path, redis_url, "auto")
    monkeypatch.setenv("DESK_ENV", "test")
    yield redis_url
    reset_services()
    st.cache_resource.clear()


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _assert_only_sign_in_form(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["PaperDesk"]
    assert [s.value for s in at.subheader] == ["Sign in"]
    assert [h.value for h in at.header] == []  # no page header rendered
    assert [b.key for b in at.button] == ["auth_submit"]
    assert sorted(t.key for t in at.text_input) == ["auth_password", "auth_username"]
    assert len(at.dataframe) == 0 and len(at.metric) == 0 and len(at.selectbox) == 0
    assert len(at.sidebar.markdown) == 0 and len(at.sidebar.button) == 0  # no "PaperDesk"/market sidebar
    assert "Market:" not in _texts(at.markdown)


def _on_page(page: str = "pages/home.py") -> AppTest:
    at = _app().run()
    return at.switch_page(page).run()


def _sign_in(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="auth_username").input(user)
    at.text_input(key="auth_password").input(password)
    return at.button(key="auth_submit").click().run()


def test_entrypoint_with_auth_on_shows_only_sign_in_form(auth_on):
    _assert_only_sign_in_form(_app().run())


@pytest.mark.parametrize("page", PAGES)
def test_every_page_with_auth_on_shows_only_sign_in_form(auth_on, page):
    at = _app().run()
    at.switch_page(page).run()
    _assert_only_sign_in_form(at)


def test_sign_in_wrong_password_shows_message_and_stays_on_form(auth_on):
    at = _sign_in(_on_page(), "alice", "not-the-password")
    _assert_only_sign_in_form(at)
    assert "Wrong user name or password. 2 more wrong tries" in _texts(at.error)
    assert TOKEN_KEY not in at.session_state


def test_sign_in_locked_after_three_wrong_passwords_refuses_right_one(auth_on):
    at = _on_page("pages/approvals.py")
    for i in range(3):
        at = _sign_in(at, "alice", f"wrong-password-{i}")
    assert "locked for 15 more minutes" in _texts(at.error)
    at = _sign_in(at, "alice", PASSWORD)
    _assert_only_sign_in_form(at)
    assert "Too many wrong passwords" in _texts(at.error)
    assert TOKEN_KEY not in at.session_state


def test_sign_in_right_password_shows_the_page(auth_on):
    at = _sign_in(_on_page(), "alice", PASSWORD)
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == ["Home"]
    assert not at.error and at.session_state[TOKEN_KEY]
    at.switch_page("pages/risk.py").run()  # the session carries across pages
    assert not at.exception and "Sign in" not in [s.value for s in at.subheader]
    assert [h.value for h in at.header][:1] == ["Risk"]


def test_sign_in_hands_the_browser_a_one_time_code_for_its_cookie(auth_on):
    at = _sign_in(_on_page(), "alice", PASSWORD)
    scripts = [e.proto.body for e in at.get("html")]
    posts = [b for b in scripts if SESSION_PATH in b]
    assert len(posts) == 1 and "window.location.reload()" in posts[0], scripts
    assert at.session_state[TOKEN_KEY] not in posts[0]  # the token itself never reaches the page
    (code,) = re.findall(r'\\"code\\": \\"([A-Za-z0-9_-]+)\\"', posts[0])
    auth = services().auth
    result = auth.redeem(code)
    assert result.ok and result.user == "alice" and not auth.redeem(code).ok
    assert auth.session(at.session_state[TOKEN_KEY]).state == "missing"  # the cookie's token replaced it
    assert auth.session(result.token).ok


def _signed_in_app() -> tuple[AppTest, str]:
    """A fresh AppTest whose browser session holds a token from a real sign-in (first run =
    the entrypoint, which draws the sidebar)."""
    result = services().auth.sign_in("alice", PASSWORD)
    at = _app()
    at.session_state[TOKEN_KEY] = result.token
    return at.run(), result.token


def test_signed_in_sidebar_shows_user_and_sign_out(auth_on):
    at, _ = _signed_in_app()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == ["Home"]
    assert "Signed in as **alice**" in _texts(at.sidebar.caption)
    assert re.search(r"session until \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d IST", _texts(at.sidebar.caption))  # ist_time
    assert at.sidebar.button(key="auth_sign_out").label == "Sign out"


def test_sign_out_returns_to_sign_in_form_and_ends_session(auth_on):
    at, token = _signed_in_app()
    at.sidebar.button(key="auth_sign_out").click().run()
    _assert_only_sign_in_form(at)
    assert "You have signed out." in _texts(at.info)
    assert services().auth.session(token).state == "missing"
    at.switch_page("pages/orders.py").run()
    _assert_only_sign_in_form(at)


def test_expired_session_returns_to_sign_in_with_reason(auth_on):
    at, _ = _signed_in_app()
    assert [h.value for h in at.header] == ["Home"]
    client = redis_lib.Redis.from_url(auth_on)
    (key,) = client.keys(SESSION_PREFIX + "*")
    record = json.loads(client.get(key))
    old = (datetime.now(UTC) - timedelta(minutes=31)).isoformat()
    client.set(key, json.dumps({**record, "issued_at": old, "last_seen": old}), keepttl=True)
    client.close()
    at.switch_page("pages/pnl.py").run()
    _assert_only_sign_in_form(at)
    assert "Your session has expired (no activity for 30 minutes)" in _texts(at.info)


def test_forged_token_in_browser_session_shows_sign_in_form(auth_on):
    at = _app()
    at.session_state[TOKEN_KEY] = "forged"
    _assert_only_sign_in_form(at.run())


def test_no_users_configured_says_how_to_add_one(monkeypatch, tmp_path, redis_url):
    _fresh(monkeypatch, tmp_path, redis_url, "on")
    try:
        at = _app().run()
        assert not at.exception
        assert "python -m app.ops.sign_in add-user NAME" in _texts(at.error)
        assert len(at.button) == 0 and [h.value for h in at.header] == []
    finally:
        reset_services()
        st.cache_resource.clear()


def test_local_run_skips_sign_in_and_says_so_in_sidebar(auth_off):
    at = _app().run()
    assert not at.exception
    assert [h.value for h in at.header] == ["Home"]
    assert "Local single-user run: no sign-in" in _texts(at.sidebar.caption)
    assert "auth_submit" not in [b.key for b in at.button]
