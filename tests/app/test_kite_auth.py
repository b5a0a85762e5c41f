"""Daily login round trip with the real kiteconnect client against the replay server and a real Redis."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from app.adapters.kite_errors import KiteSessionExpired
from app.adapters.kite_session import SESSION_KEY, KiteLoginRequired, ensure_access_token, kite_client
from app.ops.kite_login import KiteAuthService
from core.errors import ValidationError
from core.timeutil import IST, UTC
from tests.kite_fixtures import kite_replay, settings_for  # noqa: F401

SECRET_WORDS = ("paperdesk-test-secret",)


@pytest.fixture()
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _redirect_params(server, svc: KiteAuthService, redirect="http://127.0.0.1:8501/settings") -> dict:
    """Follow the login link like a browser; return the query of Kite's redirect to the dashboard."""
    url = svc.login_url(redirect)
    resp = requests.get(url, allow_redirects=False, timeout=5)
    assert resp.status_code == 302
    loc = resp.headers["location"]
    assert loc.startswith(redirect)
    return {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()}


def _no_secrets(text: str, *tokens: str) -> None:
    for s in (*SECRET_WORDS, *tokens):
        assert s not in text, "a secret or token leaked"


def test_login_url_for_replay_points_at_replay_with_redirect(kite_replay, r):
    svc = KiteAuthService(settings_for(kite_replay), r)
    url = svc.login_url("http://127.0.0.1:8501/settings")
    assert url.startswith(f"{kite_replay.rest_root}/connect/login?api_key={kite_replay.api_key}&v=3")
    assert "redirect_url=http%3A%2F%2F127.0.0.1%3A8501%2Fsettings" in url


def test_login_url_for_real_kite_is_zerodha(r):
    from app.settings import Settings

    svc = KiteAuthService(Settings(kite_api_key="abc123"), r)
    assert svc.login_url("http://x") == "https://kite.zerodha.com/connect/login?api_key=abc123&v=3"


def test_login_round_trip_good_checksum_stores_session_with_0600_expiry(kite_replay, r, caplog):
    caplog.set_level(logging.DEBUG)
    svc = KiteAuthService(settings_for(kite_replay), r)
    assert svc.status().state == "missing"
    params = _redirect_params(kite_replay, svc)
    assert params["action"] == "login" and params["status"] == "success"
    login_at = datetime(2026, 3, 2, 8, 30, tzinfo=IST)
    status = svc.complete_login(params, now=login_at)
    stored = json.loads(r.get(SESSION_KEY))
    assert status.state == "active" and status.user_id == "PD0001"
    assert datetime.fromisoformat(stored["expires_at"]) == datetime(2026, 3, 3, 6, 0, tzinfo=IST)
    kite = KiteConnect(kite_replay.api_key, access_token=stored["access_token"], root=kite_replay.rest_root)
    assert kite.profile()["user_id"] == "PD0001"
    _no_secrets(caplog.text, stored["access_token"], params["request_token"])
    # past 06:00 IST the banner says expired
    assert svc.status(datetime(2026, 3, 3, 6, 0, tzinfo=IST)).state == "expired"


def test_login_with_wrong_secret_is_refused_and_keeps_old_session(kite_replay, r, caplog):
    good = KiteAuthService(settings_for(kite_replay), r)
    good.complete_login(_redirect_params(kite_replay, good))
    before = r.get(SESSION_KEY)
    bad = KiteAuthService(settings_for(kite_replay).model_copy(update={"replay_api_secret": _secret("wrong-secret")}),
                          r)
    params = _redirect_params(kite_replay, bad)
    with pytest.raises(ValidationError, match="Kite refused the login .*checksum") as info:
        bad.complete_login(params)
    _no_secrets(str(info.value) + caplog.text, params["request_token"], "wrong-secret")
    assert r.get(SESSION_KEY) == before


def test_login_with_wrong_api_key_is_refused(kite_replay, r):
    svc = KiteAuthService(settings_for(kite_replay), r)
    params = _redirect_params(kite_replay, svc)
    wrong = KiteAuthService(settings_for(kite_replay).model_copy(update={"replay_api_key": "not-my-key"}), r)
    with pytest.raises(ValidationError, match="KITE_API_KEY and KITE_API_SECRET"):
        wrong.complete_login(params)
    assert r.get(SESSION_KEY) is None


def test_tampered_or_reused_request_token_is_refused(kite_replay, r):
    svc = KiteAuthService(settings_for(kite_replay), r)
    params = _redirect_params(kite_replay, svc)
    tampered = dict(params, request_token=params["request_token"][:-2] + "zz")
    with pytest.raises(ValidationError, match="invalid or has expired") as info:
        svc.complete_login(tampered)
    assert tampered["request_token"] not in str(info.value)
    svc.complete_login(params)
    with pytest.raises(ValidationError, match="single-use"):
        svc.complete_login(params)  # reuse
    with pytest.raises(ValidationError, match="malformed"):
        svc.complete_login(dict(params, request_token="<script>"))


def test_logout_invalidates_token_at_kite_and_clears_it(kite_replay, r):
    svc = KiteAuthService(settings_for(kite_replay), r)
    svc.complete_login(_redirect_params(kite_replay, svc))
    token = json.loads(r.get(SESSION_KEY))["access_token"]
    assert svc.logout() is True
    assert r.get(SESSION_KEY) is None and svc.status().state == "missing"
    with pytest.raises(kite_errors.TokenException):
        KiteConnect(kite_replay.api_key, access_token=token, root=kite_replay.rest_root).profile()
    assert svc.logout() is False  # nothing left to invalidate


def test_token_exception_from_any_call_marks_session_expired(kite_replay, r):
    settings = settings_for(kite_replay)
    svc = KiteAuthService(settings, r)
    svc.complete_login(_redirect_params(kite_replay, svc))
    kite = kite_client(settings, r)
    requests.post(f"{kite_replay.rest_root}/_test/invalidate", timeout=5).raise_for_status()
    with pytest.raises(KiteSessionExpired):
        kite.quote(["NSE:INFY"])
    st = svc.status()
    assert st.state == "expired" and "TokenException" in st.reason and st.user_id == "PD0001"
    assert json.loads(r.get(SESSION_KEY))["access_token"] == ""
    with pytest.raises(KiteLoginRequired):
        ensure_access_token(settings, r, auto_login=False)
    # a new login makes it active again
    svc.complete_login(_redirect_params(kite_replay, svc))
    assert svc.status().state == "active"


def test_expired_mark_for_old_token_does_not_expire_new_login(kite_replay, r):
    from app.adapters.kite_session import mark_expired

    svc = KiteAuthService(settings_for(kite_replay), r)
    svc.complete_login(_redirect_params(kite_replay, svc))
    assert mark_expired(r, "late error", "some-old-token") is False
    assert svc.status().state == "active"


def test_missing_secret_for_real_kite_says_what_to_set(r):
    from app.settings import Settings

    svc = KiteAuthService(Settings(kite_api_key="abc123", kite_api_secret=None), r)
    with pytest.raises(ValidationError, match="KITE_API_SECRET is not set"):
        svc.complete_login({"request_token": "abcdef123", "status": "success"})


def _secret(v: str):
    from pydantic import SecretStr

    return SecretStr(v)


def test_status_expires_exactly_at_0600(kite_replay, r):
    svc = KiteAuthService(settings_for(kite_replay), r)
    login = datetime(2026, 3, 2, 5, 0, tzinfo=IST)
    svc.complete_login(_redirect_params(kite_replay, svc), now=login)
    exp = datetime(2026, 3, 2, 6, 0, tzinfo=IST)
    assert svc.status(exp - timedelta(seconds=1)).state == "active"
    assert svc.status(exp.astimezone(UTC)).state == "expired"
