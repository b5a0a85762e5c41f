"""AppTest for the Settings page: login link, the redirect with request_token, logout, banner."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests
import streamlit as st
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors
from streamlit.testing.v1 import AppTest

from app.adapters.kite_session import SESSION_KEY
from app.container import reset_services
from tests.kite_fixtures import kite_replay  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "settings.py")


@pytest.fixture()
def env(monkeypatch, tmp_path, redis_url, kite_replay):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DESK_REPLAY_PORT", str(kite_replay.port))
    monkeypatch.setenv("DESK_REPLAY_API_KEY", kite_replay.api_key)
    monkeypatch.setenv("DESK_REPLAY_API_SECRET", kite_replay.api_secret)
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    reset_services()
    st.cache_resource.clear()
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
    reset_services()
    st.cache_resource.clear()


def _page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=30)


def _text(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.success, *at.error, *at.warning, *at.info, *at.caption)]
    return "\n".join(str(p) for p in parts)


def _follow_login_link(at: AppTest) -> dict:
    link = at.get("link_button")[0]
    url = link.proto.url
    resp = requests.get(url, allow_redirects=False, timeout=5)
    assert resp.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["location"]).query).items()}


def test_settings_shows_mode_and_login_link_when_logged_out(env, kite_replay):
    at = _page().run()
    assert not at.exception
    assert "Replay" in _text(at) and "Not logged in" in _text(at)
    url = at.get("link_button")[0].proto.url
    assert url.startswith(f"{kite_replay.rest_root}/connect/login?api_key={kite_replay.api_key}&v=3")


def test_redirect_with_request_token_logs_in_clears_query_and_shows_user(env, kite_replay):
    params = _follow_login_link(_page().run())
    at = _page()
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    text = _text(at)
    assert "Logged in to Kite as PD0001" in text and "Logged in as **PaperDesk Replay (PD0001)**" in text
    assert "request_token" not in at.query_params
    token = json.loads(env.get(SESSION_KEY))["access_token"]
    assert token not in text and params["request_token"] not in text
    assert KiteConnect(kite_replay.api_key, access_token=token, root=kite_replay.rest_root).profile()["user_id"]


def test_redirect_with_tampered_token_shows_error_and_stores_nothing(env, kite_replay):
    params = _follow_login_link(_page().run())
    at = _page()
    at.query_params.update(params | {"request_token": params["request_token"][:-3] + "abc"})
    at.run()
    assert not at.exception
    assert at.error and "Kite refused the login" in at.error[0].value
    assert env.get(SESSION_KEY) is None and "request_token" not in at.query_params


def test_logout_button_invalidates_and_clears(env, kite_replay):
    params = _follow_login_link(_page().run())
    at = _page()
    at.query_params.update(params)
    at.run()
    token = json.loads(env.get(SESSION_KEY))["access_token"]
    at.button(key="settings_logout").click().run()
    assert not at.exception
    assert env.get(SESSION_KEY) is None
    assert "Not logged in" in _text(at)
    with pytest.raises(kite_errors.TokenException):
        KiteConnect(kite_replay.api_key, access_token=token, root=kite_replay.rest_root).profile()


def test_token_banner_shows_when_missing_or_expired_and_hides_when_active(env, kite_replay):
    script = "from app.ui.state import get_services\nfrom app.ui.widgets import token_banner\ntoken_banner(get_services())\n"
    at = AppTest.from_string(script, default_timeout=30).run()
    assert at.warning and "Not logged in" in at.warning[0].value and "/settings" in at.warning[0].value
    params = _follow_login_link(_page().run())
    page = _page()
    page.query_params.update(params)
    page.run()
    at = AppTest.from_string(script, default_timeout=30).run()
    assert not at.warning
    from app.adapters.kite_errors import KiteSessionExpired
    from app.adapters.kite_session import kite_client
    from app.container import services

    kite = kite_client(services().settings, services().redis)  # a worker holding the token
    requests.post(f"{kite_replay.rest_root}/_test/invalidate", timeout=5)
    with pytest.raises(KiteSessionExpired):
        kite.profile()
    at = AppTest.from_string(script, default_timeout=30).run()
    assert at.warning and "expired" in at.warning[0].value


def _settings_table(at: AppTest):
    (frame,) = [df.value for df in at.dataframe]
    return {(row.Section, row.Setting): (row.Value, row.Variable) for row in frame.itertuples()}


def test_settings_shows_effective_trading_and_replay_settings_with_their_variables(env, monkeypatch):
    monkeypatch.setenv("DESK_CAPITAL", "2500000")
    monkeypatch.setenv("DESK_MIS_LEVERAGE", "4")
    monkeypatch.setenv("DESK_APPROVAL_TTL_SECONDS", "120")
    monkeypatch.setenv("DESK_CONFIRM_NOTIONAL", "75000")
    monkeypatch.setenv("DESK_SQUARE_OFF_CUTOFF", "15:10")
    monkeypatch.setenv("DESK_REPLAY_DATE", "2016-08-16")
    monkeypatch.setenv("DESK_REPLAY_SPEED", "30")
    monkeypatch.setenv("GEMINI_API_KEY", "gm-very-secret-key")
    monkeypatch.setenv("DESK_NOTIFY_URLS", "tgram://123456:NOTIFYSECRET/42")
    reset_services()
    st.cache_resource.clear()
    at = _page().run()
    assert not at.exception
    rows = _settings_table(at)
    assert rows[("Trading", "Capital")] == ("₹25,00,000", "DESK_CAPITAL")
    assert rows[("Trading", "MIS leverage")] == ("4×", "DESK_MIS_LEVERAGE")
    assert rows[("Trading", "Approval TTL")] == ("120 s", "DESK_APPROVAL_TTL_SECONDS")
    assert rows[("Trading", "Confirm approvals above")] == ("₹75,000", "DESK_CONFIRM_NOTIONAL")
    assert rows[("Trading", "MIS square-off cut-off")] == ("15:10 IST", "DESK_SQUARE_OFF_CUTOFF")
    assert rows[("Trading", "Slippage (no depth)")] == ("5 bps", "DESK_SLIPPAGE_BPS")
    assert rows[("Replay", "Session date")] == ("2016-08-16", "DESK_REPLAY_DATE")
    assert rows[("Replay", "Speed")] == ("30× real time", "DESK_REPLAY_SPEED")
    assert rows[("Analysis", "Gemini key")][0] == "set"
    assert not any("opened with" in w.value for w in at.warning)  # the account opened with DESK_CAPITAL
    everything = _text(at) + repr(rows)
    assert "gm-very-secret-key" not in everything and "NOTIFYSECRET" not in everything


def test_settings_warns_when_the_account_opened_with_another_capital(env, monkeypatch):
    _page().run()  # opens the paper account with the default ₹10,00,000
    monkeypatch.setenv("DESK_CAPITAL", "500000")
    reset_services()
    st.cache_resource.clear()  # the page's service graph is cached per process
    at = _page().run()
    assert not at.exception
    assert any("opened with ₹10,00,000" in w.value and "DESK_CAPITAL is now ₹5,00,000" in w.value
               for w in at.warning)
