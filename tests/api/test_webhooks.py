"""Webhook intake through HTTP against a running ``api`` process (real Redis, SQLite and
PostgreSQL): TradingView and Chartink alerts become pending approvals (never orders), a
repeated delivery creates nothing, and every bad input gets its status, a JSON error naming
the field, and leaves the store and Redis as they were."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.adapters.trading_store import schema as t
from app.trading.webhook_intake import DEDUPE_PREFIX
from tests.api.conftest import TCS

ALL = ("PENDING", "APPROVED", "REJECTED", "EXPIRED")


def _secret(api, user: str = "trader") -> str:
    return api.svc.webhooks.secrets.rotate(user, now=datetime.now(UTC)).secret


def _state(api) -> tuple[int, int, int, int]:
    """(approvals, audit rows, orders, duplicate claims in Redis): what a refused delivery must not change."""
    store = api.svc.trading.store
    with store.engine.connect() as conn:
        audits = conn.execute(select(func.count()).select_from(t.audit)).scalar_one()
        orders = conn.execute(select(func.count()).select_from(t.orders)).scalar_one()
    claims = len(list(api.svc.redis.scan_iter(f"{DEDUPE_PREFIX}:*")))
    return len(store.list_approvals(ALL)), audits, orders, claims


def _tv(**change) -> dict:
    return {"symbol": "NSE:INFY", "action": "buy", "quantity": "10", "price": "1000.5", "strategy": "ema-cross",
            "message": "EMA 9 crossed above EMA 21 [click](http://x)", **change}


def test_tradingview_alert_becomes_one_pending_approval_with_the_alert_as_reason(api):
    secret = _secret(api)
    before = _state(api)
    r = api.client.post(f"/webhooks/tradingview/{secret}", content=json.dumps(_tv(nonce=1)),
                        headers={"content-type": "text/plain; charset=utf-8"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["duplicate"] is False
    (item,) = body["approvals"]
    assert (item["tradingsymbol"], item["side"], item["quantity"], item["status"]) == ("INFY", "BUY", 10, "PENDING")
    row = api.svc.trading.store.get_approval(item["approval_id"])
    assert row["status"] == "PENDING" and row["source"] == "webhook:tradingview"
    assert row["trace_id"] == body["trace_id"] and row["strategy"] == "ema-cross"
    assert Decimal(str(row["signal_price"])) == Decimal("1000.5")
    assert row["reason"].endswith("alert text (untrusted): `EMA 9 crossed above EMA 21 [click](http://x)`")
    actions = {(a["action"], a["actor"]) for a in api.svc.trading.store.audit_rows(body["trace_id"])}
    assert {("propose", "webhook:tradingview"), ("webhook_intake", "trader")} <= actions
    after = _state(api)
    assert (after[0] - before[0], after[2] - before[2], after[3] - before[3]) == (1, 0, 1)  # an approval, no order


def test_chartink_alert_proposes_each_stock_under_one_trace_with_the_header_secret(api):
    secret = _secret(api, "chartink-user")
    payload = {"stocks": "SBIN,TCS", "trigger_prices": "250.05,2500.5", "triggered_at": "10:02 am",
               "scan_name": "Short term breakouts", "scan_url": "short-term-breakouts",
               "alert_name": "Alert for Short term breakouts", "webhook_url": "https://desk/api/v1/webhooks/chartink"}
    r = api.client.post("/webhooks/chartink", params={"side": "SELL", "quantity": "5"}, json=payload,
                        headers={"X-Desk-Webhook-Secret": secret})
    assert r.status_code == 201, r.text
    body = r.json()
    assert [(a["tradingsymbol"], a["side"], a["quantity"]) for a in body["approvals"]] == [
        ("SBIN", "SELL", 5), ("TCS", "SELL", 5)]
    rows = [api.svc.trading.store.get_approval(a["approval_id"]) for a in body["approvals"]]
    assert {r_["trace_id"] for r_ in rows} == {body["trace_id"]}
    assert [Decimal(str(r_["signal_price"])) for r_ in rows] == [Decimal("250.05"), Decimal("2500.5")]
    assert rows[1]["instrument_token"] == TCS and rows[1]["strategy"] == "chartink:Short term breakouts"
    assert "untrusted: alert name `Alert for Short term breakouts`" in rows[0]["reason"]
    intake = [a for a in api.svc.trading.store.audit_rows(body["trace_id"]) if a["action"] == "webhook_intake"]
    assert [a["actor"] for a in intake] == ["chartink-user"]


def test_duplicate_delivery_creates_nothing_new(api):
    secret = _secret(api)
    first = api.client.post(f"/webhooks/tradingview/{secret}", json=_tv(nonce="dup"))
    assert first.status_code == 201, first.text
    before = _state(api)
    # the same alert again, keys in another order: the same delivery
    again = api.client.post(f"/webhooks/tradingview/{secret}",
                            content=json.dumps(dict(reversed(list(_tv(nonce="dup").items())))))
    assert again.status_code == 200, again.text
    assert again.json() == {"duplicate": True, "source": "tradingview", "trace_id": first.json()["trace_id"],
                            "approvals": []}
    assert _state(api) == before


def test_rotating_the_secret_revokes_the_old_url(api):
    old = _secret(api)
    new = _secret(api)
    before = _state(api)
    r = api.client.post(f"/webhooks/tradingview/{old}", json=_tv(nonce="rot"))
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "secret_revoked"
    assert _state(api) == before
    assert api.client.post(f"/webhooks/tradingview/{new}", json=_tv(nonce="rot")).status_code == 201


@pytest.mark.parametrize(("source", "content", "status", "code", "field"), [
    ("tradingview", b'{"symbol": "NSE:INFY", "action": "buy",', 400, "bad_json", "body"),
    ("tradingview", b"BUY INFY 10", 400, "bad_json", "body"),
    ("tradingview", b"[1, 2]", 400, "bad_json", "body"),
    ("tradingview", json.dumps(_tv(symbol="NSE:NOSUCHCO")).encode(), 404, "unknown_symbol", "symbol"),
    ("chartink", json.dumps({"stocks": "SBIN,NOSUCHCO,TCS"}).encode(), 404, "unknown_symbol", "stocks"),
    ("tradingview", json.dumps(_tv(quantity="2.5")).encode(), 422, "invalid", "quantity"),
    ("tradingview", json.dumps(_tv(action="long")).encode(), 422, "invalid", "action"),
    ("tradingview", json.dumps(_tv(order_type="LIMIT", price="1000.03")).encode(), 422, "invalid", None),
    ("chartink", json.dumps({"stocks": "SBIN,TCS", "trigger_prices": "250"}).encode(), 422, "invalid",
     "trigger_prices"),
    ("tradingview", json.dumps(_tv(message="x" * 20_000)).encode(), 413, "too_large", "body"),
    ("tradingview", b"{" + b" " * 70_000 + b"}", 413, "too_large", "body"),
])
def test_bad_delivery_gets_its_status_and_a_json_error_and_writes_nothing(api, source, content, status, code, field):
    secret = _secret(api)
    before = _state(api)
    r = api.client.post(f"/webhooks/{source}/{secret}", content=content, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert error.get("field") == field
    assert error["message"]
    if code == "unknown_symbol":
        assert "NOSUCHCO" in error["message"]
    assert _state(api) == before


@pytest.mark.parametrize(("path", "headers", "code"), [
    ("/webhooks/tradingview", {}, "secret_missing"),
    ("/webhooks/tradingview", {"X-Desk-Webhook-Secret": "letmein"}, "secret_malformed"),
    ("/webhooks/tradingview/pdw_0123456789ab_notarealsecret", {}, "secret_unknown"),
    ("/webhooks/chartink/pdk_0123456789ab_anapikeyisnotawebhooksecret", {}, "secret_malformed"),
])
def test_unknown_or_missing_secret_is_401_and_writes_nothing(api, path, headers, code):
    before = _state(api)
    r = api.client.post(path, json=_tv(nonce="auth"), headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == code
    assert _state(api) == before


def test_an_api_key_cannot_stand_in_for_the_webhook_secret_nor_the_reverse(api):
    token = api.key("propose")
    r = api.client.post(f"/webhooks/tradingview/{token}", json=_tv(nonce="key"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "secret_malformed"
    secret = _secret(api)
    key_id = secret.split("_")[1]
    with pytest.raises(Exception, match="not a PaperDesk key"):
        api.svc.api_keys.authenticate(secret, now=datetime.now(UTC))
    assert api.svc.webhooks.secrets.current("trader").key_id == key_id


def test_unknown_source_is_422_naming_the_path(api):
    r = api.client.post(f"/webhooks/amibroker/{_secret(api)}", json=_tv())
    assert r.status_code == 422, r.text
    assert "source" in r.json()["error"]["field"]


def test_the_webhook_secret_is_not_listed_among_the_api_keys(api):
    _secret(api, "lister")
    token = api.key("read", user="lister")
    listed = api.svc.api_keys.keys("lister")
    assert [k.key_id for k in listed] == [token.split("_")[1]]
    assert api.svc.webhooks.secrets.current("lister") is not None


def test_a_secret_over_its_deliveries_per_minute_gets_429_and_writes_nothing(api):
    secret = api.svc.webhooks.secrets.rotate("busy", now=datetime.now(UTC), rate_per_minute=2).secret
    for n in (1, 2):
        assert api.client.post(f"/webhooks/tradingview/{secret}", json=_tv(nonce=f"rate{n}")).status_code == 201
    before = _state(api)
    r = api.client.post(f"/webhooks/tradingview/{secret}", json=_tv(nonce="rate3"))
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    assert _state(api) == before
