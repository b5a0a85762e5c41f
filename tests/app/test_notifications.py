"""Notifications through apprise ``json://`` to a LOCAL webhook receiver (a tiny HTTP server on a
free loopback port), with the ``send_notification`` actor on the process's StubBroker worker
and dedupe keys in the session's real Redis. The notifier is the composition root's
(``services().notifications``, what the worker delivers through), built from
``DESK_NOTIFY_URLS``. A receiver that is down is retried and logged, and a fill still happens."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis as redis_lib
from dramatiq import Worker

from app.adapters.notify import parse_channels
from app.adapters.queue import install_broker
from app.adapters.tick_cache import TickerStatus
from app.container import reset_services, services
from app.ops import notifications as notif
from app.ops.health_alerts import HealthAlerts
from app.settings import get_settings
from core.errors import ValidationError
from core.events import DeskEvent, EventKind, approval_pending, risk_breach, safe_mode
from tests.dramatiq_helpers import drop_worker_middleware
from tests.fixtures_store import seed_instruments
from tests.fixtures_trading import INFY, T0, D, intent, later, put_tick
from tests.servers import free_port

SECRET = "s3cr3t-hook-token"


class Receiver:
    """A webhook on 127.0.0.1:<port>/hook/<SECRET>: records JSON bodies; answers 503 to the
    first ``fail_first`` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict] = []
        self.hits = 0
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.hits += 1
                if receiver.hits <= receiver.fail_first:
                    self.send_response(503)
                else:
                    receiver.bodies.append(json.loads(raw))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook/{SECRET}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture()
def stub_worker(monkeypatch):
    """The StubBroker (DESK_ENV=test) with a worker on it, ``workers.notify`` and
    ``workers.trading`` imported, and short retry backoffs."""
    broker = install_broker(get_settings())
    if not hasattr(broker, "join"):
        pytest.skip("the installed broker is not a StubBroker (DESK_ENV must be test)")
    import workers.notify as wn
    import workers.trading  # noqa: F401  (execute_approval, for the fill path)

    monkeypatch.setitem(wn.send_notification.options, "min_backoff", 20)
    monkeypatch.setitem(wn.send_notification.options, "max_backoff", 50)
    broker.flush_all()
    drop_worker_middleware(broker)
    worker = Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield broker
    worker.stop()
    drop_worker_middleware(broker)
    broker.flush_all()


@pytest.fixture()
def desk_env(tmp_path, monkeypatch, redis_url):
    """The container on a real SQLite file and the session's real Redis; ``DESK_NOTIFY_URLS``
    is set by :func:`_service`."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.delenv("DESK_NOTIFY_URLS", raising=False)
    reset_services()
    yield monkeypatch
    if "sql" in vars(services()):
        services().sql.dispose()
    reset_services()


def _service(urls: str, desk_env) -> notif.NotificationService:
    """The container's notifier on channels ``urls`` (what the notify worker delivers through)."""
    desk_env.setenv("DESK_NOTIFY_URLS", urls)
    reset_services()
    svc = services().notifications
    assert isinstance(svc, notif.NotificationService)
    return svc


def _join(broker) -> None:
    broker.join(notif.QUEUE, fail_fast=False, timeout=30_000)


def _event(key: str = "fill:O-1-1") -> DeskEvent:
    return DeskEvent(EventKind.FILL, key, "Filled: BUY 10 INFY @ ₹1,000.00", "body text", "success")


def test_apprise_json_delivers_event_to_local_receiver(receiver, desk_env, stub_worker):
    svc = _service(receiver.url, desk_env)
    assert svc.notify(_event()) == 1
    _join(stub_worker)
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert body["title"] == "Filled: BUY 10 INFY @ ₹1,000.00"
    assert body["message"] == "body text" and body["type"] == "success"


def test_same_event_key_twice_is_sent_once(receiver, desk_env, stub_worker):
    svc = _service(receiver.url, desk_env)
    assert svc.notify(_event("approval:A-1")) == 1
    assert svc.notify(_event("approval:A-1")) == 0
    assert svc.notify(_event("approval:A-2")) == 1
    _join(stub_worker)
    assert len(receiver.bodies) == 2


def test_receiver_down_then_up_is_retried_logged_and_delivered(desk_env, stub_worker, caplog):
    flaky = Receiver(fail_first=2)
    try:
        caplog.set_level(logging.INFO)
        _service(flaky.url, desk_env).notify(_event())
        _join(stub_worker)
        assert flaky.hits == 3 and len(flaky.bodies) == 1
        text = caplog.text
        assert "failed (attempt 1)" in text and "failed (attempt 2)" in text
        assert "delivered to json#" in text and "(attempt 3)" in text
        assert SECRET not in text  # the URL (and its secret) never reach the log
    finally:
        flaky.close()


def _approve_one_fill(broker):
    """Through the container's desk: a tick, a strategy proposal, the trader's approval, and
    the ``execute_approval`` actor's fill on the worker."""
    svc = services()
    seed_instruments(svc.sql, {"INFY"})
    put_tick(svc.ticks, INFY, 1000.0)
    a = svc.trading.propose(intent(), signal_price=D("1000"), reason="ORB", now=T0)
    started = time.monotonic()
    assert svc.trading.approve(a.approval_id, user="trader", now=later(5)).ok
    seconds = time.monotonic() - started
    broker.join("trading", fail_fast=True, timeout=30_000)
    return a, seconds


def test_real_fill_path_notifies_the_pending_approval_and_the_fill(receiver, desk_env, stub_worker):
    """Nothing wraps the desk: the container hands its notifier to trading, whose proposal and
    fill booking notify."""
    _service(receiver.url, desk_env)
    _approve_one_fill(stub_worker)
    _join(stub_worker)
    [trade] = services().trading.trade_book()
    titles = [b["title"] for b in receiver.bodies]
    assert titles == ["Approve? BUY 10 INFY", f"Filled: BUY 10 INFY @ ₹{trade.price:,.2f}"]
    fill_body = receiver.bodies[1]
    assert fill_body["type"] == "success" and "(MIS) filled at" in fill_body["message"]


def test_receiver_down_does_not_block_fill_and_is_retried(desk_env, stub_worker, monkeypatch, caplog):
    """A channel that is down: the approval still fills, the fill notification is queued,
    retried by the worker and logged without the URL's secret."""
    import workers.notify as wn

    monkeypatch.setitem(wn.send_notification.options, "max_retries", 2)
    caplog.set_level(logging.INFO)
    down = f"json://127.0.0.1:{free_port()}/hook/{SECRET}"  # nothing listens there
    _service(down, desk_env)
    _, seconds = _approve_one_fill(stub_worker)
    trades = services().trading.trade_book()
    assert len(trades) == 1 and trades[0].quantity == 10  # the fill happened
    assert seconds < 2.0  # notify only queued; delivery is the worker's
    _join(stub_worker)
    fill_key = f"fill:{trades[0].fill_id}"
    prefix = f"notification {fill_key} to json#"
    tries = [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]
    assert len(tries) == 3 and "failed (attempt 3)" in tries[-1]  # 1 try + 2 retries, logged
    assert SECRET not in caplog.text
    assert len(services().trading.trade_book()) == 1


def test_notify_with_redis_down_returns_zero_and_logs(receiver, caplog):
    dead = redis_lib.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    svc = notif.NotificationService(parse_channels(receiver.url), dead, tasks=None)
    assert svc.notify(_event()) == 0
    assert "Redis unreachable" in caplog.text


def test_no_channels_configured_is_noop(redis_url):
    svc = notif.NotificationService([], redis_lib.Redis.from_url(redis_url), tasks=None)
    assert svc.notify(_event()) == 0


def test_parse_channels_invalid_url_names_position_not_secret():
    with pytest.raises(ValidationError, match=r"entry 3 \(scheme 'nosuchscheme'\)") as err:
        parse_channels(f"json://127.0.0.1:9/hook tgram://123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ/987654, "
                       f"nosuchscheme://{SECRET}")
    with pytest.raises(ValidationError, match=r"entry 1 \(scheme 'tgram'\)"):
        parse_channels("tgram://not-a-bot-token")
    assert SECRET not in str(err.value)


def test_parse_channels_dedupes_and_labels_without_url():
    chans = parse_channels("json://127.0.0.1:9/a json://127.0.0.1:9/a\nmailto://user:pw@example.com")
    assert [c.scheme for c in chans] == ["json", "mailto"]
    assert "pw" not in repr(chans[1]) and chans[1].label.startswith("mailto#")


def test_health_alerts_notify_stale_ticker_and_expired_kite_once(receiver, desk_env, stub_worker):
    from app.adapters.tick_cache import TickCache
    from app.ops.kite_login import SessionStatus

    svc = _service(receiver.url, desk_env)
    ticks = TickCache(redis_lib.Redis.from_url(services().settings.redis_url))
    now = datetime.now(UTC)
    old = now - timedelta(seconds=120)
    ticks.write_status(TickerStatus(True, "replay", old, 14, 10, 0, 0, old))

    class ExpiredKite:
        def status(self, now=None):
            return SessionStatus("expired", market="kite", reason="Kite sessions end at 06:00 IST")

    alerts = HealthAlerts(svc, ticks, ExpiredKite())
    kinds = [e.kind for e in alerts.check(now)]
    assert kinds == [EventKind.STALE_TICKER, EventKind.KITE_TOKEN_EXPIRED]
    alerts.check(now + timedelta(seconds=5))  # same outage: deduped
    _join(stub_worker)
    titles = sorted(b["title"] for b in receiver.bodies)
    assert titles == ["Kite session expired", "Ticker stale"]


def test_health_alerts_fresh_ticker_and_active_session_raise_nothing(redis_url):
    from app.adapters.tick_cache import TickCache
    from app.ops.kite_login import SessionStatus

    class Recording:
        def __init__(self):
            self.events = []

        def notify(self, event):
            self.events.append(event)
            return 1

    ticks = TickCache(redis_lib.Redis.from_url(redis_url))
    now = datetime.now(UTC)
    ticks.write_status(TickerStatus(True, "replay", now, 14, 10, 0, 0, now))

    class ActiveKite:
        def status(self, now=None):
            return SessionStatus("active", market="kite")

    notifier = Recording()
    assert HealthAlerts(notifier, ticks, ActiveKite()).check(now + timedelta(seconds=5)) == []
    assert notifier.events == []


def test_event_helpers_build_keys_and_text():
    from types import SimpleNamespace

    view = SimpleNamespace(approval_id="A-1", side="BUY", quantity=10, tradingsymbol="INFY", product="MIS",
                           order_type="MARKET", signal_price=D("1000"), reason="ORB breakout", expires_at=T0,
                           trace_id="T-1")
    e = approval_pending(view)
    assert e.key == "approval:A-1" and "Approvals page" in e.body and e.trace_id == "T-1"
    r = risk_breach("A-1", "INFY", ["DAILY_LOSS_LIMIT"], ["day P&L hit the limit"])
    assert r.key == "risk:A-1:DAILY_LOSS_LIMIT" and r.severity == "warning"
    assert safe_mode("2016-08-17", D("-5000")).key == "safe_mode:2016-08-17"
