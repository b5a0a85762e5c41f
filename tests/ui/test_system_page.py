"""AppTest for the System page on a real Redis: health, workers, queues, clock runs, and the
retry/discard buttons with their confirmation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import pytest
import redis
import streamlit as st
from dramatiq.brokers.redis import RedisBroker
from streamlit.testing.v1 import AppTest

from app.adapters.queue import NAMESPACE
from app.container import reset_services
from app.ops.operations import CLOCK_RUNS_KEY

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "system.py")


@pytest.fixture()
def env(monkeypatch, tmp_path, redis_url):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    reset_services()
    st.cache_resource.clear()
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
    reset_services()
    st.cache_resource.clear()


def _text(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.success, *at.error, *at.warning, *at.info, *at.caption)]
    return "\n".join(str(p) for p in parts)


def _frames(at: AppTest) -> str:
    return "\n".join(df.value.to_csv(index=False) for df in at.dataframe)


def _dead_letter(redis_url: str, queue: str, **kwargs) -> None:
    """Put one message into ``queue``'s dead-letter set the way a worker does (fetch, nack)."""
    broker = RedisBroker(url=redis_url, namespace=NAMESPACE)
    broker.declare_queue(queue)
    broker.enqueue(dramatiq.Message(queue_name=queue, actor_name="execute_approval", args=(), kwargs=kwargs,
                                    options={"trace_id": "T-page"}))
    consumer = broker.consume(queue, prefetch=1, timeout=1000)
    consumer.nack(next(consumer))
    consumer.close()


def _seed(client: redis.Redis, redis_url: str) -> None:
    now = datetime.now(UTC).isoformat()
    client.hset("desk:workers:box:4242", mapping={"host": "box", "pid": "4242", "started_at": now, "beat_at": now,
                                                   "queues": "trading,scans", "threads": "4", "processed": "17",
                                                   "failed": "2", "in_flight": "1", "last_actor": "match_orders"})
    client.expire("desk:workers:box:4242", 30)
    client.hset(CLOCK_RUNS_KEY, "match_orders", json.dumps({"at": now, "status": "sent", "message_id": "m-1",
                                                            "error": ""}))
    _dead_letter(redis_url, "trading", approval_id="A-1")


def test_system_page_shows_health_workers_queues_and_clock_runs(env, redis_url):
    _seed(env, redis_url)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    text, frames = _text(at), _frames(at)
    assert "**Redis** :green-badge[OK]" in text and "**Store** :green-badge[OK]" in text
    assert "box:4242" in frames and "match_orders" in frames and "trading, scans" in frames
    assert "trading,0,0,0,1" in frames  # ready, in flight, waiting to retry, failed
    assert "None" not in frames and "+05:30" not in frames  # "—" for blanks, IST times as text
    assert "1 failed message(s) in the dead-letter queues" in text
    assert 'execute_approval({"approval_id":"A-1"})' in text and "trace `T-page`" in text
    assert "m-1" in frames
    assert "The ticker has not reported yet" in text  # no ticker running: said, not raised


def test_retry_button_asks_then_requeues_the_failed_message(env, redis_url):
    _seed(env, redis_url)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    [retry] = [b for b in at.button if b.key.startswith("system_retry_")]
    retry.click().run()
    assert "Retry the failed message" in _text(at)
    assert env.zcard(f"{NAMESPACE}:trading.XQ") == 1  # nothing done before the confirmation
    at.button(key="system_confirm_yes").click().run()
    assert not at.exception
    assert "Re-queued" in _text(at)
    assert env.zcard(f"{NAMESPACE}:trading.XQ") == 0 and env.llen(f"{NAMESPACE}:trading") == 1
    assert "No failed messages." in _text(at)


def test_discard_cancelled_keeps_the_message_and_confirmed_deletes_it(env, redis_url):
    _seed(env, redis_url)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    [discard] = [b for b in at.button if b.key.startswith("system_discard_")]
    discard.click().run()
    at.button(key="system_confirm_no").click().run()
    assert env.zcard(f"{NAMESPACE}:trading.XQ") == 1 and "Discard the failed message" not in _text(at)
    [discard] = [b for b in at.button if b.key.startswith("system_discard_")]
    discard.click().run()
    at.button(key="system_confirm_yes").click().run()
    assert "Discarded" in _text(at)
    assert env.zcard(f"{NAMESPACE}:trading.XQ") == 0 and env.llen(f"{NAMESPACE}:trading") == 0


def test_system_page_with_redis_down_says_so(env, monkeypatch, tmp_path):
    from tests.servers import free_port

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    reset_services()
    st.cache_resource.clear()
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    text = _text(at)
    assert "**Redis** :red-badge[Down]" in text and "Redis is down" in text
    assert "unknown while Redis is down" in text and "**Store** :green-badge[OK]" in text
