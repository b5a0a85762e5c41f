"""The run_analysis actor on Dramatiq's StubBroker with a real Worker, real SQLite, real Redis
and the real google-genai client against the loopback Gemini fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from dramatiq import Worker

from app.adapters.store.ports import JobStatus
from app.container import reset_services, services
from core.errors import ValidationError
from core.timeutil import IST
from tests.dramatiq_helpers import drop_worker_middleware
from tests.app.replay_market import use_replay
from tests.fake_gemini import FakeGemini, answer, error

AT = datetime(2016, 8, 24, 11, 0, tzinfo=IST)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    f = FakeGemini().start()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def market_server(looping_replay):
    """The connected market: a replay of 2016-09-09 (its history serves the 2016-08-24 session)."""
    return looping_replay("2016-09-09")


@pytest.fixture()
def env(monkeypatch, tmp_path, redis_url, fake, market_server):
    fake.clear()
    use_replay(monkeypatch, market_server)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.setenv("DESK_GEMINI_BASE_URL", fake.url)
    monkeypatch.setenv("DESK_GEMINI_TIMEOUT_S", "5")
    monkeypatch.delenv("DESK_BROKER", raising=False)
    reset_services()
    from workers.analysis import run_analysis

    broker = services().tasks.broker
    broker.flush_all()
    drop_worker_middleware(broker)  # stopped workers of earlier tests would swallow messages
    worker = Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    yield run_analysis
    worker.stop()
    drop_worker_middleware(broker)
    broker.flush_all()
    reset_services()


def _good(snap) -> dict:
    return {"verdict": "sell", "confidence": 0.55, "entry": snap.ltp, "stop": round(snap.ltp + 3, 1),
            "target": round(snap.ltp - 6, 1), "time_horizon": "intraday", "reasons": ["below VWAP"], "risks": []}


def _join(broker) -> None:
    broker.join("analysis", fail_fast=False)


def test_actor_declares_queue_retries_time_limit_and_throws(env):
    from app.research.analysis import AnalysisRefused
    from core.errors import ValidationError

    opts = env.options
    assert env.queue_name == "analysis" and env.actor_name == "run_analysis"
    assert opts["max_retries"] == 4 and opts["time_limit"] == 120_000
    assert set(opts["throws"]) == {ValidationError, AnalysisRefused}


def test_enqueued_job_runs_with_progress_and_stores_the_analysis(env, fake):
    an = services().analysis
    fake.push(answer(_good(an.snapshot("INFY", AT))))
    job_id = an.enqueue("infy", AT)
    _join(services().tasks.broker)
    job = an.job(job_id)
    assert job.status is JobStatus.DONE and job.progress == 1.0, job.message
    stored = an.get(job.result["analysis_id"])
    assert stored.symbol == "NSE:INFY" and stored.verdict == "sell" and "Gemini" in job.message


def test_429_is_retried_with_backoff_then_succeeds(env, fake):
    an = services().analysis
    fake.push(error(429), answer(_good(an.snapshot("INFY", AT))))
    job_id = services().store.jobs.create("analysis", {})
    env.send_with_options(kwargs={"job_id": job_id, "symbol": "NSE:INFY", "at_iso": AT.isoformat()},
                          min_backoff=10, max_backoff=50)
    _join(services().tasks.broker)
    assert an.job(job_id).status is JobStatus.DONE and fake.calls == 2


def test_500_every_time_gives_up_after_the_retries(env, fake):
    fake.default = error(500)
    job_id = services().store.jobs.create("analysis", {})
    env.send_with_options(kwargs={"job_id": job_id, "symbol": "NSE:INFY", "at_iso": AT.isoformat()},
                          min_backoff=10, max_backoff=20, max_retries=2)
    _join(services().tasks.broker)
    job = services().analysis.job(job_id)
    assert job.status is JobStatus.FAILED and "gave up" in job.message and fake.calls == 3
    assert services().analysis.history() == []


def test_refusal_fails_the_job_without_retrying(env, fake):
    an = services().analysis
    job_id = an.enqueue("INFY", AT, model="gemini-unknown")
    _join(services().tasks.broker)
    job = an.job(job_id)
    assert job.status is JobStatus.FAILED and "rejected the model" in job.message and fake.calls == 1


def test_redelivered_message_of_a_done_job_does_nothing(env, fake):
    an = services().analysis
    fake.push(answer(_good(an.snapshot("INFY", AT))))
    job_id = an.enqueue("INFY", AT)
    _join(services().tasks.broker)
    first = an.job(job_id).result["analysis_id"]
    assert env.fn(job_id=job_id, symbol="NSE:INFY", at_iso=AT.isoformat()) == first
    assert fake.calls == 1 and len(an.history()) == 1


def test_score_outcomes_actor_scores_a_due_verdict_once(env, fake):
    from workers.analysis import score_outcomes

    an = services().analysis
    fake.push(answer(_good(an.snapshot("INFY", AT))))
    job_id = an.enqueue("INFY", AT)
    _join(services().tasks.broker)
    assert an.job(job_id).status is JobStatus.DONE
    later = AT.replace(hour=15, minute=29)
    assert score_outcomes.fn(later.isoformat()) == 1
    assert score_outcomes.fn(later.isoformat()) == 0  # already scored
    with pytest.raises(ValidationError, match="as_of"):
        score_outcomes.fn("not a time")
