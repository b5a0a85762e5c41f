"""The sign-in cookie on a real Redis: hand-off codes, signed cookie values and the web origin's
cookie routes (``app.ui.session_routes`` under Starlette's test client)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import TimestampSigner
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.adapters.auth_store import SqlUserStore
from app.adapters.store import SqlStore
from app.ops.session_cookie import COOKIE_NAME, SessionCookie, cookie_digest
from app.ops.sign_in import HANDOFF_PREFIX, SESSION_PREFIX, AuthConfig, AuthService
from app.ui.session_routes import SESSION_PATH, SIGN_OUT_PATH, session_routes

PASSWORD = "s3cret-cookie-desk"


@pytest.fixture()
def svc(tmp_path, rds) -> AuthService:
    store = SqlStore(f"sqlite:///{tmp_path / 'desk.db'}")
    config = AuthConfig(DESK_AUTH="on", DESK_ENV="test", DESK_SESSION_IDLE_MINUTES=30, DESK_SESSION_HOURS=8)
    service = AuthService(config, SqlUserStore(store.engine), rds)
    service.add_user("alice", PASSWORD)
    yield service
    store.dispose()


def _record(rds, token: str) -> dict:
    return json.loads(rds.get(SESSION_PREFIX + hashlib.sha256(token.encode()).hexdigest()))


def _signed_in(svc: AuthService) -> str:
    result = svc.sign_in("alice", PASSWORD)
    assert result.ok
    return result.token


def test_redeem_swaps_the_code_for_a_new_token_of_the_same_session_once(svc, rds):
    token = _signed_in(svc)
    issued = _record(rds, token)["issued_at"]
    code = svc.hand_off(token)
    key = HANDOFF_PREFIX + hashlib.sha256(code.encode()).hexdigest()
    assert token.encode() not in rds.get(key) and code.encode() not in rds.get(key)  # no usable secret
    assert 0 < rds.ttl(key) <= 60

    result = svc.redeem(code)
    assert result.ok and result.user == "alice" and result.token != token
    assert svc.session(token).state == "missing"  # the page's token is revoked
    assert svc.session(result.token, touch=False).ok
    assert _record(rds, result.token)["issued_at"] == issued  # the lifetime did not restart
    assert not svc.redeem(code).ok  # once only
    assert svc.redeem("not-a-code").message == "This sign-in link has expired: sign in again."
    assert not svc.redeem(None).ok and not svc.redeem("x" * 500).ok


def test_redeem_refuses_a_code_whose_session_was_signed_out(svc):
    token = _signed_in(svc)
    code = svc.hand_off(token)
    svc.sign_out(token)
    assert not svc.redeem(code).ok


def test_cookie_value_is_signed_and_expires(svc, rds, monkeypatch):
    cookie = svc.cookie()
    assert cookie.max_age == 8 * 3600
    value = cookie.wrap("tok-123")
    assert cookie.unwrap(value) == "tok-123"
    # A second web process on the same Redis signs alike.
    other = AuthService(svc.config, svc.users, rds)
    assert other.cookie().unwrap(value) == "tok-123"
    assert cookie.unwrap(value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")) is None
    assert cookie.unwrap("tok-123") is None and cookie.unwrap("") is None and cookie.unwrap(None) is None
    assert SessionCookie(b"another-secret", cookie.lifetime).unwrap(value) is None
    now = int(datetime.now(UTC).timestamp())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now - 8 * 3600 - 5)
    old = cookie.wrap("tok-123")
    monkeypatch.undo()
    assert cookie.unwrap(old) is None  # older than DESK_SESSION_HOURS


@pytest.fixture()
def client(svc):
    with TestClient(Starlette(routes=session_routes(lambda: svc)), base_url="http://desk.test") as c:
        yield c


def test_session_route_sets_an_httponly_cookie_for_the_code(client, svc):
    token = _signed_in(svc)
    resp = client.post(SESSION_PATH, json={"code": svc.hand_off(token)}, headers={"Origin": "http://desk.test"})
    assert resp.status_code == 204
    header = resp.headers["set-cookie"]
    assert header.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in header and "SameSite=lax" in header
    assert "Max-Age=28800" in header and "Path=/" in header and "Secure" not in header
    cookie_token = svc.cookie().unwrap(client.cookies[COOKIE_NAME])
    assert svc.session(cookie_token).ok and svc.session(token).state == "missing"

    again = client.post(SESSION_PATH, json={"code": "reused-or-made-up"})
    assert again.status_code == 403 and "expired" in again.json()["detail"]
    assert client.post(SESSION_PATH, content=b"not json").status_code == 403


def test_session_route_refuses_a_cross_site_request(client, svc):
    code = svc.hand_off(_signed_in(svc))
    resp = client.post(SESSION_PATH, json={"code": code}, headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403 and "set-cookie" not in resp.headers
    assert svc.redeem(code).ok  # the refused request did not use the code up


def test_sign_out_route_revokes_and_clears_only_the_named_cookie(client, svc):
    client.post(SESSION_PATH, json={"code": svc.hand_off(_signed_in(svc))})
    value = client.cookies[COOKIE_NAME]
    token = svc.cookie().unwrap(value)

    resp = client.post(SIGN_OUT_PATH, json={"cookie": cookie_digest("an older cookie")})
    assert resp.status_code == 204 and svc.session(token).ok and client.cookies.get(COOKIE_NAME) == value

    resp = client.post(SIGN_OUT_PATH, json={"cookie": cookie_digest(value)})
    assert resp.status_code == 204 and svc.session(token).state == "missing"
    assert f'{COOKIE_NAME}=""' in resp.headers["set-cookie"] and client.cookies.get(COOKIE_NAME) is None


def test_session_survives_only_its_lifetime(svc):
    token = _signed_in(svc)
    code = svc.hand_off(token)
    later = datetime.now(UTC) + timedelta(hours=8, minutes=1)
    assert not svc.redeem(code, now=later).ok
