"""API keys against a running ``api`` process (SQLite and PostgreSQL, real Redis): no key, a
malformed, unknown or revoked key → 401; a missing scope → 403; the per-key rate limit → 429
with ``Retry-After``; an oversized body → 413; keys stored hashed and scoped to their owner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.ops.api_keys import hash_token, parse_scopes
from core.errors import ValidationError

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fresh_ticks")]

ORDER = {"symbol": "INFY", "side": "BUY", "quantity": 1, "reason": "auth test"}


def _pending(api) -> int:
    return len(api.svc.trading.pending(api.svc.market_clock.now().now))


def test_no_key_is_401_with_a_bearer_challenge(api):
    r = api.client.get("/funds")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "key_missing" and r.json()["error"]["field"] == "Authorization"


@pytest.mark.parametrize("token, code", [("not-a-desk-key", "key_malformed"),
                                         ("pdk_000000000000_wrongsecret", "key_unknown")])
def test_bad_key_is_401(api, token, code):
    r = api.client.get("/funds", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == code


def test_right_prefix_wrong_secret_is_401(api):
    token = api.key("read")
    forged = token[: token.rindex("_") + 1] + "x" * 43
    assert api.client.get("/funds", headers={"X-API-Key": forged}).status_code == 401
    assert api.client.get("/funds", headers={"X-API-Key": token}).status_code == 200  # the header form works


def test_revoked_key_is_401_and_writes_nothing(api):
    token = api.key("read", "propose", user="bob")
    with api.as_key(token) as c:
        assert c.get("/funds").status_code == 200
        key_id = token.split("_")[1]
        assert api.svc.api_keys.revoke("mallory", key_id, now=datetime.now(UTC)) is False  # not hers
        assert api.svc.api_keys.revoke("bob", key_id, now=datetime.now(UTC)) is True
        before = _pending(api)
        r = c.post("/orders/propose", json=ORDER)
        assert r.status_code == 401 and r.json()["error"]["code"] == "key_revoked"
        assert _pending(api) == before


def test_scopes_are_enforced_and_admin_carries_them_all(api):
    read = api.key("read")
    with api.as_key(read) as c:
        r = c.post("/orders", json={"symbol": "INFY", "side": "BUY", "quantity": 1})
        assert r.status_code == 403 and "trade" in r.json()["error"]["message"]
        assert c.post("/orders/propose", json=ORDER).status_code == 403
        assert c.post("/risk/kill-switch").status_code == 403
        assert c.put("/risk/limits", json={}).status_code == 403
    propose_only = api.key("propose")
    with api.as_key(propose_only) as c:
        assert c.get("/funds").status_code == 403  # no read scope
        assert c.post("/orders/propose", json=ORDER).status_code == 201
    with api.as_key(api.key("admin")) as c:
        assert c.get("/funds").status_code == 200
        assert c.post("/risk/validate", json={"symbol": "INFY", "side": "BUY", "quantity": 1}).status_code == 200


def test_rate_limit_per_key_is_429_with_retry_after(api):
    slow, other = api.key("read", rate_per_minute=3), api.key("read")
    with api.as_key(slow) as c, api.as_key(other) as o:
        codes = [c.get("/risk/limits").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/risk/limits")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "rate_limited"
        assert o.get("/risk/limits").status_code == 200  # another key has its own budget


def test_oversized_body_is_413_and_writes_nothing(api):
    before = _pending(api)
    with api.as_key(api.key("propose")) as c:
        r = c.post("/orders/propose", json={**ORDER, "reason": "x" * 70_000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert _pending(api) == before


def test_keys_are_stored_hashed_listed_per_owner_and_marked_used(api):
    created = api.svc.api_keys.create("carol", ["read", "trade"], now=datetime.now(UTC), label="script")
    row = api.svc.api_keys.store.get(created.key.key_id)
    assert row["token_hash"] == hash_token(created.token) and created.token not in str(row)
    assert created.token not in repr(created)
    assert [k.key_id for k in api.svc.api_keys.keys("carol")] == [created.key.key_id]
    assert api.svc.api_keys.keys("dave") == []
    with api.as_key(created.token) as c:
        assert c.get("/orders").status_code == 200
    assert api.svc.api_keys.store.get(created.key.key_id)["last_used_at"] is not None


def test_bad_key_input_is_refused():
    with pytest.raises(ValidationError, match="unknown API key scope"):
        parse_scopes("read write")
    with pytest.raises(ValidationError, match="at least one scope"):
        parse_scopes("")
    assert parse_scopes("Read, propose") == {"read", "propose"}


def test_webhook_secrets_in_the_same_table_are_not_api_keys(api):
    """The table also holds webhook secrets (scope ``webhook``): not listed, revoked or accepted as keys."""
    made = api.svc.webhooks.secrets.rotate("erin", now=datetime.now(UTC))
    assert api.svc.api_keys.keys("erin") == []
    assert api.svc.api_keys.revoke("erin", made.secret.split("_")[1], now=datetime.now(UTC)) is False
    assert api.svc.webhooks.secrets.current("erin") is not None
    forged = "pdk_" + made.secret.split("_", 1)[1]
    assert api.client.get("/funds", headers={"X-API-Key": forged}).status_code == 401


def test_oversized_chunked_body_is_413_too(api):
    """Without a Content-Length the limit is counted while the body streams in."""
    def chunks():
        yield b'{"symbol": "INFY", "side": "BUY", "quantity": 1, "reason": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    before = _pending(api)
    with api.as_key(api.key("propose")) as c:
        r = c.post("/orders/propose", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert _pending(api) == before
