"""Alerts on the ticker path: ``python -m workers.ticker`` against the real replay server and a
real Redis, triggers sent as Dramatiq messages, a real ``dramatiq workers.alerts`` worker.

An ATO alert fires on the replayed ticks, the ticker is restarted before the worker ran (so the
restarted ticker, still seeing the alert enabled, sends the same trigger again), then the worker
drains both: exactly one pending approval, never an order; the simple alert is logged once.
Its instrument (TCS) is not on the watchlist: the ticker subscribes the alerts' instruments.
"""

from __future__ import annotations

import json

import pytest

from app.adapters.alert_store import AlertStore
from app.adapters.queue import NAMESPACE
from app.adapters.redis_client import redis_client
from app.market.alerts import TRIGGER_ACTOR, TRIGGER_QUEUE, AlertService
from app.market.instruments import InstrumentService
from core import alerts as al
from tests.dramatiq_helpers import WorkerProcess
from tests.fixtures_trading import T0, make_desk
from tests.workers.test_ticker import _tokens, start_ticker, stop, wait_for


def _trigger_messages(client) -> list[dict]:
    """The ``alert_triggered`` messages waiting in the desk's ``trading`` queue (Dramatiq's Redis layout)."""
    raw = client.hvals(f"{NAMESPACE}:{TRIGGER_QUEUE}.msgs")
    msgs = [json.loads(m) for m in raw]
    return [m["kwargs"]["trigger"] for m in msgs if m.get("actor_name") == TRIGGER_ACTOR]


def test_ato_alert_on_replayed_ticks_makes_one_pending_approval_across_a_ticker_restart(
        tmp_path, redis_url, replay_factory, monkeypatch):
    server = replay_factory("2016-08-17", 60)
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    desk = make_desk(url, redis_url)
    client = redis_client(redis_url)
    svc = AlertService(AlertStore(desk.sql.engine), InstrumentService(desk.sql), client, clock=lambda: T0)
    tokens = _tokens(server, ("NSE:INFY", "NSE:TCS"))
    ato = svc.create(name="INFY in play", instrument="NSE:INFY", attribute="LTP", operator=">", value=1, kind="ato",
                     order=dict(side="BUY", quantity=1, product="MIS", order_type="MARKET"))
    simple = svc.create(name="TCS volume", instrument="NSE:TCS", attribute="volume", operator=">=", value=1)
    never = svc.create(name="INFY at 1 lakh", instrument="NSE:INFY", attribute="LTP", operator=">=", value=100_000)
    assert ato.alert.instrument_token == tokens["NSE:INFY"] and simple.alert.instrument_token == tokens["NSE:TCS"]
    monkeypatch.setenv("DESK_BROKER", "redis")

    proc, log = start_ticker(tmp_path, redis_url, server.port, watchlist=("NSE:INFY",))
    try:
        first = wait_for(lambda: len(_trigger_messages(client)) >= 2 and _trigger_messages(client), 60,
                         "both alerts' triggers in the trading queue", proc, log)
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]
    assert sorted(m["alert"]["alert_id"] for m in first) == sorted([ato.alert_id, simple.alert_id])
    ato_msg = next(m for m in first if m["alert"]["alert_id"] == ato.alert_id)
    assert ato_msg["sequence"] == 1 and ato_msg["lhs_value"] == ato_msg["tick"]["last_price"] > 1

    proc, log = start_ticker(tmp_path, redis_url, server.port, watchlist=("NSE:INFY",))
    try:
        wait_for(lambda: len(_trigger_messages(client)) >= 4, 60, "the restarted ticker's triggers", proc, log)
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]
    again = _trigger_messages(client)
    assert sorted((m["alert"]["alert_id"], m["sequence"]) for m in again) == sorted(
        [(ato.alert_id, 1), (ato.alert_id, 1), (simple.alert_id, 1), (simple.alert_id, 1)])

    env = dict(REDIS_URL=redis_url, DATABASE_URL=url, DESK_BROKER="redis", DESK_STATE_DIR=str(tmp_path / "state"),
               TZ="Asia/Kolkata")
    worker = WorkerProcess("workers.alerts", env, tmp_path / "worker.log", queues=(TRIGGER_QUEUE,))
    try:
        worker.wait_ready()
        wait_for(lambda: not _trigger_messages(client) and len(svc.triggers()) == 2
                 and all(r["approval_id"] or r["kind"] == "simple" for r in svc.triggers()), 60,
                 "the worker to act on every trigger", log=tmp_path / "worker.log")
    finally:
        worker.stop()
    pending = desk.store.list_approvals(("PENDING",))
    assert len(pending) == 1, (tmp_path / "worker.log").read_text()[-3000:]
    (ap,) = pending
    assert ap["source"] == "alert" and ap["trace_id"] == al.trigger_trace_id(ato.alert_id, 1)
    assert ap["tradingsymbol"] == "INFY" and "INFY in play" in ap["reason"]
    assert desk.store.list_orders() == []  # an ATO alert never places an order
    log_rows = {r["alert_id"]: r for r in svc.triggers()}
    assert log_rows[ato.alert_id]["approval_id"] == ap["approval_id"]
    assert log_rows[simple.alert_id]["tick"]["instrument_token"] == tokens["NSE:TCS"]
    states = {v.alert_id: v.alert for v in svc.list()}
    assert states[ato.alert_id].status is al.AlertStatus.DISABLED and states[ato.alert_id].alert_count == 1
    assert states[never.alert_id].status is al.AlertStatus.ENABLED
    assert [a.alert_id for a in svc.active()] == [never.alert_id]  # the ticker's copy follows the store
    client.close()
    desk.sql.dispose()
