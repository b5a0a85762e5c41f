"""Every endpoint of ``/api/v1`` through httpx against a running ``api`` process (SQLite and
PostgreSQL), and the contract that the API and the pages' services give the same numbers.

The tests of this module share one process per backend and run in order: the desk's state
(orders, fills, positions) builds up as a trader's session would.
"""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import INFY, SBIN, TCS

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fresh_ticks")]


@pytest.fixture(scope="module")
def keys(api) -> dict[str, str]:
    """One key per scope set, all owned by ``alice``."""
    return {name: api.key(*scopes, user="alice") for name, scopes in {
        "read": ("read",), "propose": ("read", "propose"), "trade": ("read", "propose", "trade"),
        "admin": ("admin",)}.items()}


def _get(api, keys, path, key="read", **params):
    with api.as_key(keys[key]) as c:
        return c.get(path, params=params)


# ---- health, instruments, market data -----------------------------------------------------------


def test_health_needs_no_key_and_reports_market_time(api):
    r = api.client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["market"] == "replay"
    assert body["market_time"].startswith("2016-09-09T10:0")  # the replayed session, IST


def test_openapi_lists_the_versioned_routes(api):
    spec = api.client.get("/openapi.json").json()
    for path in ("/api/v1/quote", "/api/v1/orders", "/api/v1/orders/propose", "/api/v1/risk/validate",
                 "/api/v1/scans", "/api/v1/backtests", "/api/v1/strategies/{name}/config", "/api/v1/funds"):
        assert path in spec["paths"], path
    assert api.client.get("/docs").status_code == 200


def test_instruments_search_and_lookup(api, keys):
    hits = _get(api, keys, "/instruments", q="INF").json()
    assert "NSE:INFY" in [h["key"] for h in hits]
    one = _get(api, keys, "/instruments/NSE:INFY").json()
    assert one["instrument_token"] == INFY and one["tick_size"] == 0.1 and one["lot_size"] == 1
    assert _get(api, keys, f"/instruments/{INFY}").json()["tradingsymbol"] == "INFY"


def test_unknown_symbol_is_404_naming_the_field(api, keys):
    r = _get(api, keys, "/instruments/NSE:NOSUCHCO")
    assert r.status_code == 404
    assert r.json()["error"]["field"] == "symbol" and "NOSUCHCO" in r.json()["error"]["message"]
    assert _get(api, keys, "/quote", symbols="INFY,NOSUCHCO").status_code == 404


def test_quote_gives_the_cached_ltp_and_depth(api, keys):
    q = _get(api, keys, "/quote", symbols="NSE:INFY,SBIN").json()
    assert q["NSE:INFY"]["ltp"] == 1000.0 and q["NSE:SBIN"]["ltp"] == 250.0
    assert q["NSE:INFY"]["depth"]["sell"][0]["price"] == pytest.approx(1000.1)
    assert q["NSE:INFY"]["exchange_timestamp"].startswith("2016-09-09T")


def test_ohlcv_is_bounded_by_market_time(api, keys):
    r = _get(api, keys, "/ohlcv/NSE:INFY", interval="minute", bars=500)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bars"], body
    assert max(b["ts"] for b in body["bars"]) < "2016-09-09T10:00"  # nothing after market time
    day = _get(api, keys, "/ohlcv/INFY", interval="day", bars=10).json()
    assert day["bars"][-1]["ts"].startswith("2016-09-08")
    early = _get(api, keys, "/ohlcv/INFY", interval="minute", as_of="2016-09-09T09:30:00+05:30").json()
    assert max(b["ts"] for b in early["bars"]) < "2016-09-09T09:30"


def test_ohlcv_refuses_as_of_after_market_time_and_a_bad_interval(api, keys):
    r = _get(api, keys, "/ohlcv/INFY", interval="minute", as_of="2016-09-09T15:00:00+05:30")
    assert r.status_code == 422 and r.json()["error"]["field"] == "as_of"
    bad = _get(api, keys, "/ohlcv/INFY", interval="7minute")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "interval"


# ---- orders: propose, place, modify, cancel, books -----------------------------------------------


def test_propose_creates_a_pending_approval_not_an_order(api, keys):
    before = len(api.svc.trading.order_book())
    with api.as_key(keys["propose"]) as c:
        r = c.post("/orders/propose", json={"symbol": "NSE:INFY", "side": "BUY", "quantity": 5,
                                            "reason": "api test: breakout"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "PENDING" and body["reason"] == "api test: breakout"
    assert body["signal_price"] == 1000.0
    pending = {a.approval_id: a for a in api.svc.trading.pending(api.svc.market_clock.now().now)}
    assert body["approval_id"] in pending  # the Approvals page sees it
    assert len(api.svc.trading.order_book()) == before  # never an order
    actors = [e.actor for e in api.svc.trading.audit(body["trace_id"]).audit]
    assert actors and all(a == "api:alice" or a == "alice" for a in actors), actors
    logged = [json.loads(line) for line in api.log.read_text().splitlines() if '"api write' in line]
    assert any(e["user"] == "alice" and e["path"] == "/api/v1/orders/propose" and e["status"] == 201
               for e in logged), logged
    listed = _get(api, keys, "/approvals").json()
    assert body["approval_id"] in [a["approval_id"] for a in listed]
    assert _get(api, keys, f"/approvals/{body['approval_id']}").json()["quantity"] == 5


def test_propose_without_the_propose_scope_is_403_and_writes_nothing(api, keys):
    before = len(api.svc.trading.pending(api.svc.market_clock.now().now))
    with api.as_key(keys["read"]) as c:
        r = c.post("/orders/propose", json={"symbol": "INFY", "side": "BUY", "quantity": 1})
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope"
    assert len(api.svc.trading.pending(api.svc.market_clock.now().now)) == before


def test_bad_order_fields_are_422_naming_the_field(api, keys):
    with api.as_key(keys["trade"]) as c:
        r = c.post("/orders", json={"symbol": "INFY", "side": "HOLD", "quantity": 1})
        assert r.status_code == 422 and r.json()["error"]["field"] == "body.side"
        r = c.post("/orders", json={"symbol": "INFY", "side": "BUY", "quantity": 0})
        assert r.status_code == 422 and r.json()["error"]["field"] == "body.quantity"
        r = c.post("/orders", json={"symbol": "INFY", "side": "BUY", "quantity": 1, "order_type": "LIMIT",
                                    "price": 1000.03})  # off the ₹0.05 tick
        assert r.status_code == 422 and "tick" in r.json()["error"]["message"]
        r = c.post("/orders", content=b'{"symbol": "INFY", "side": ', headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
        r = c.post("/orders", json={"symbol": "NOSUCHCO", "side": "BUY", "quantity": 1})
        assert r.status_code == 404
    assert api.svc.trading.order_book() == [] or all(o.tradingsymbol != "NOSUCHCO" for o in api.svc.trading.order_book())


def test_validate_runs_the_gatekeeper_without_writing(api, keys):
    orders_before = len(api.svc.trading.order_book())
    with api.as_key(keys["propose"]) as c:
        ok = c.post("/risk/validate", json={"symbol": "INFY", "side": "BUY", "quantity": 10}).json()
        big = c.post("/risk/validate", json={"symbol": "INFY", "side": "BUY", "quantity": 1_000_000}).json()
    assert ok["approved"] is True and ok["ltp"] == 1000.0 and ok["required_margin"] > 0
    assert ok["charges"]["total"] > 0
    assert big["approved"] is False and big["reasons"]
    assert len(api.svc.trading.order_book()) == orders_before


def test_place_fills_through_the_worker_and_shows_in_the_books(api, keys):
    api.tick(INFY, 1000.0)
    with api.as_key(keys["trade"]) as c:
        r = c.post("/orders", json={"symbol": "INFY", "side": "BUY", "quantity": 10, "product": "MIS"})
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["ok"] is True and out["order_id"]
        api.svc.trading.execute_approval(out["approval_id"])  # what the worker's execute_approval does
        book = c.get("/orders").json()
        assert out["order_id"] in [o["order_id"] for o in book]
        placed = next(o for o in book if o["order_id"] == out["order_id"])
        assert placed["status"] == "COMPLETE" and placed["filled_quantity"] == 10, placed["status_message"]
        trades = c.get("/trades").json()
        assert [t for t in trades if t["order_id"] == out["order_id"]][0]["charges"]["total"] > 0
        pos = [p for p in c.get("/positions").json() if p["instrument_token"] == INFY]
        assert pos and pos[0]["quantity"] == 10
    actors = {e.actor for e in api.svc.trading.audit(placed["trace_id"]).audit}
    assert "alice" in actors


def test_gatekeeper_refusal_is_409_with_reason_codes_and_no_order(api, keys):
    before = len(api.svc.trading.order_book())
    with api.as_key(keys["trade"]) as c:
        r = c.post("/orders", json={"symbol": "INFY", "side": "BUY", "quantity": 1_000_000})
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "refused" and err["reasons"]
    assert len(api.svc.trading.order_book()) == before


def test_modify_and_cancel_an_open_limit_order(api, keys):
    with api.as_key(keys["trade"]) as c:
        out = c.post("/orders", json={"symbol": "SBIN", "side": "BUY", "quantity": 4, "order_type": "LIMIT",
                                      "price": 240.0}).json()
        api.svc.trading.execute_approval(out["approval_id"])
        oid = out["order_id"]
        assert c.put(f"/orders/{oid}", json={"quantity": 6}).status_code == 200
        open_order = next(o for o in api.svc.trading.order_book() if o.order_id == oid)
        assert open_order.quantity == 6 and open_order.status == "OPEN"
        assert c.put(f"/orders/{oid}", json={"quantity": "six"}).status_code == 422
        assert c.put("/orders/O-nosuch", json={"quantity": 2}).status_code == 404
        r = c.delete(f"/orders/{oid}")
        assert r.status_code == 200, r.text
        assert next(o for o in api.svc.trading.order_book() if o.order_id == oid).status == "CANCELLED"
        again = c.delete(f"/orders/{oid}")
        assert again.status_code == 422  # not open any more: nothing to cancel


def test_funds_positions_pnl_and_books_equal_the_pages_numbers(api, keys):
    """The contract: the API and the pages' services (``services().trading``) agree."""
    now = api.svc.market_clock.now().now
    with api.as_key(keys["read"]) as c:
        funds, positions = c.get("/funds").json(), c.get("/positions").json()
        orders, trades, pnl = c.get("/orders").json(), c.get("/trades").json(), c.get("/pnl").json()
    page_funds = api.svc.trading.funds(now)
    for field in ("capital", "cash", "margin_used", "realized", "charges_today", "charges_total"):
        assert funds[field] == float(getattr(page_funds, field)), field
    assert funds["available"] == pytest.approx(float(page_funds.available), abs=0.01)
    page_pos = {(p.instrument_token, p.product): p for p in api.svc.trading.positions(now)}
    assert {(p["instrument_token"], p["product"]) for p in positions} == set(page_pos)
    for p in positions:
        mine = page_pos[(p["instrument_token"], p["product"])]
        assert p["quantity"] == mine.quantity and p["average_price"] == float(mine.average_price)
    assert [o["order_id"] for o in orders] == [o.order_id for o in api.svc.trading.order_book()]
    assert [(t["fill_id"], t["price"]) for t in trades] == [(t.fill_id, float(t.price))
                                                            for t in api.svc.trading.trade_book()]
    assert pnl["charges_today"]["total"] == float(api.svc.trading.charges_today(now).total)
    assert len(pnl["equity_curve"]) >= 1


# ---- risk ---------------------------------------------------------------------------------------


def test_risk_limits_read_and_admin_write_audited(api, keys):
    limits = _get(api, keys, "/risk/limits").json()
    assert limits["max_order_notional"] > 0
    with api.as_key(keys["trade"]) as c:
        assert c.put("/risk/limits", json={"max_orders_per_day": 50}).status_code == 403
    with api.as_key(keys["admin"]) as c:
        r = c.put("/risk/limits", json={"max_orders_per_day": 50})
        assert r.status_code == 200, r.text
        assert r.json()["max_orders_per_day"] == 50 and r.json()["saved_by"] == "alice"
        bad = c.put("/risk/limits", json={"max_orders_per_day": -3})
        assert bad.status_code == 422
        unknown = c.put("/risk/limits", json={"max_leverage": 3})
        assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "max_leverage"
    assert api.svc.trading.risk_limits().max_orders_per_day == 50


def test_risk_status_kill_switch_and_resume(api, keys):
    status = _get(api, keys, "/risk/status").json()
    assert status["halted"] is False
    with api.as_key(keys["read"]) as c:
        assert c.post("/risk/kill-switch").status_code == 403
    with api.as_key(keys["trade"]) as c:
        r = c.post("/risk/kill-switch")
        assert r.status_code == 200, r.text
        assert c.get("/risk/status").json()["halted"] is True
        assert api.svc.trading.risk_status(api.svc.market_clock.now().now).halted_by == "alice"
        refused = c.post("/orders", json={"symbol": "TCS", "side": "BUY", "quantity": 1})
        assert refused.status_code == 409
        assert c.post("/risk/resume").status_code == 200
        assert c.get("/risk/status").json()["halted"] is False


# ---- strategies ---------------------------------------------------------------------------------


def test_strategies_list_get_put_config_and_signals(api, keys):
    listed = _get(api, keys, "/strategies").json()
    names = [s["name"] for s in listed]
    assert "sma_cross" in names
    one = _get(api, keys, "/strategies/sma_cross").json()
    assert one["params_spec"] and one["enabled"] is False
    assert _get(api, keys, "/strategies/nosuch").status_code == 404
    with api.as_key(keys["admin"]) as c:
        r = c.put("/strategies/sma_cross/config", json={"params": one["params"], "symbols": ["INFY"],
                                                         "enabled": True})
        assert r.status_code == 200, r.text
        assert r.json()["enabled"] is True and r.json()["symbols"] == ["INFY"]
        bad = c.put("/strategies/sma_cross/config", json={"params": {}, "symbols": [], "enabled": True})
        assert bad.status_code == 422  # enabling with no symbols
    assert api.svc.strategies.config("sma_cross").enabled is True
    assert isinstance(_get(api, keys, "/strategies/signals").json(), list)


# ---- long work: scans, analyses, backtests ------------------------------------------------------


def test_scan_submit_status_result(api, keys):
    with api.as_key(keys["propose"]) as c:
        r = c.post("/scans", json={"scan": "[0] daily rsi(14) < 40", "universe": "Watchlist: default"})
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        status = c.get(f"/scans/{job_id}").json()
        assert status["status"] in ("queued", "running") and status["finished"] is False
        assert c.get(f"/scans/{job_id}/result").status_code == 409  # not ready: poll
        from workers.scans import run_scan

        job = api.svc.store.jobs.get(job_id)
        run_scan.fn(job_id=job_id, **job.args)  # the worker's actor, in this process
        done = c.get(f"/scans/{job_id}").json()
        assert done["finished"] is True, done
        result = c.get(f"/scans/{job_id}/result").json()
        hits = {h["symbol"] for h in result["hits"]}
        assert "SBIN" in hits and not hits & {"RELIANCE", "HDFCBANK"}, hits  # SBIN falls, those two rise
        future = c.post("/scans", json={"scan": "[0] daily rsi(14) < 40", "universe": "NIFTY 50",
                                         "as_of": "2016-09-09T15:00:00+05:30"})
        assert future.status_code == 422 and future.json()["error"]["field"] == "body.as_of"
        bad = c.post("/scans", json={"scan": "[0] daily rsi(14) <", "universe": "NIFTY 50"})
        assert bad.status_code == 422
        assert c.get("/scans/nosuch").status_code == 404


def test_analysis_submit_and_result(api, keys):
    with api.as_key(keys["propose"]) as c:
        r = c.post("/analyses", json={"symbol": "INFY"})
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        assert c.get(f"/analyses/jobs/{job_id}").json()["finished"] is False
        from workers.analysis import run_analysis

        run_analysis.fn(job_id=job_id, **api.svc.store.jobs.get(job_id).args)
        result = c.get(f"/analyses/jobs/{job_id}/result")
        assert result.status_code == 200, result.text
        analysis = result.json()["analysis"]
        assert analysis and analysis["verdict"]
        assert c.get(f"/analyses/{analysis['id']}").status_code == 200
        assert c.post("/analyses", json={"symbol": "NOSUCHCO"}).status_code == 404


def test_backtest_submit_status_result(api, keys):
    with api.as_key(keys["propose"]) as c:
        r = c.post("/backtests", json={"strategy": "sma_cross", "symbols": ["INFY"], "start": "2016-09-08",
                                       "end": "2016-09-08"})
        assert r.status_code == 202, r.text
        run_id = r.json()["run_ids"][0]
        assert c.get(f"/backtests/{run_id}").json()["status"] == "queued"
        assert c.get(f"/backtests/{run_id}/result").status_code == 409
        api.svc.backtests.run(run_id)  # what the worker's run_backtest does
        assert c.get(f"/backtests/{run_id}").json()["status"] == "complete"
        result = c.get(f"/backtests/{run_id}/result").json()
        assert "total_return_pct" in result["metrics"] and result["equity"]
        bad = c.post("/backtests", json={"strategy": "sma_cross", "symbols": ["INFY"], "start": "2016-09-09",
                                         "end": "2016-09-01"})
        assert bad.status_code == 422 and "swap" in bad.json()["error"]["message"]
        assert c.get("/backtests/B-nosuch").status_code == 404
