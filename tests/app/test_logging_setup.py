"""Structured JSON logs: one object per line, the trace id from the contextvar, and the Dramatiq
middleware that carries it from message options/kwargs into the actor and on to the next message."""

from __future__ import annotations

import io
import json
import logging

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker

from app.logging_setup import TraceIdMiddleware, configure_logging, trace_context, trace_id_var


@pytest.fixture()
def stream():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buf = io.StringIO()
    configure_logging("web", stream=buf, level="INFO", fmt="json")
    yield buf
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def test_log_lines_are_json_with_process_and_trace_id(stream):
    log = logging.getLogger("paperdesk.test")
    log.info("outside")
    with trace_context("T-42"):
        log.warning("inside %s", "a chain", extra={"approval_id": "A-1"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    outside, inside, failed = _lines(stream)[-3:]
    assert outside["trace_id"] == "" and outside["process"] == "web" and outside["level"] == "INFO"
    assert inside["trace_id"] == "T-42" and inside["msg"] == "inside a chain" and inside["approval_id"] == "A-1"
    assert failed["exc"].endswith("ValueError: boom") and trace_id_var.get() == ""


def test_middleware_carries_trace_id_into_actor_and_onto_messages_it_sends(stream):
    broker = StubBroker()
    broker.add_middleware(TraceIdMiddleware(configure_worker_logging=False))
    seen: list[tuple[str, str]] = []

    @dramatiq.actor(broker=broker, queue_name="t", max_retries=0)
    def second(step: str) -> None:
        seen.append((step, trace_id_var.get()))
        logging.getLogger("paperdesk.actor").info("second ran")

    @dramatiq.actor(broker=broker, queue_name="t", max_retries=0)
    def first(step: str, trace_id: str | None = None) -> None:
        seen.append((step, trace_id_var.get()))
        second.send("child")  # no trace id given: the middleware stamps the current one

    worker = Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        first.send_with_options(args=("via-options",), trace_id="T-opt")  # a message option
        broker.join("t")
        first.send("via-kwargs", trace_id="T-kw")
        broker.join("t")
        first.send("no-trace")
        broker.join("t")
    finally:
        worker.stop()
    assert ("via-options", "T-opt") in seen and ("via-kwargs", "T-kw") in seen and ("no-trace", "") in seen
    children = [t for step, t in seen if step == "child"]
    assert sorted(children) == ["", "T-kw", "T-opt"]
    ran = [ln for ln in _lines(stream) if ln["msg"] == "second ran"]
    assert {ln["trace_id"] for ln in ran} == {"", "T-kw", "T-opt"} and all(ln["actor"] == "second" for ln in ran)


def test_approval_message_carries_the_approval_trace_id(tmp_path, redis_url):
    from decimal import Decimal as D

    from tests.fixtures_trading import INFY, T0, intent, later, make_desk

    desk = make_desk(f"sqlite:///{tmp_path / 'desk.db'}", redis_url)
    sent = []

    class Capture:
        def enqueue(self, queue, actor, **kwargs):
            from app.logging_setup import trace_id_var

            sent.append((actor, kwargs, trace_id_var.get()))
            return "m"

    desk.svc.tasks = Capture()
    desk.tick(INFY, 1000.0)
    a = desk.svc.propose(intent(), signal_price=D("1000"), reason="r", now=T0)
    assert desk.svc.approve(a.approval_id, user="trader", now=later(5)).ok
    assert sent == [("execute_approval", {"approval_id": a.approval_id}, a.trace_id)] and a.trace_id
    desk.sql.dispose()
