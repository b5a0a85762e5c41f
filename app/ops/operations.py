"""Operations: the health model behind the System page.

:meth:`OperationsService.snapshot` reads, each part on its own so one failure never hides the
others:

* **Redis** and **store** health: a ``PING`` / ``SELECT 1`` with its latency (ms). The store
  probe gives up after ``store_timeout_s`` (a blackholed database must not hang the page).
* **Workers**: the heartbeats ``desk:workers:<host>:<pid>`` written by
  :class:`app.adapters.worker_heartbeat.WorkerHeartbeat` (they expire on their own when a
  worker dies).
* **Queues** of the Dramatiq ``RedisBroker`` (namespace ``paperdesk``; key layout from
  Dramatiq 2.2's ``brokers/redis/dispatch.lua``): per queue ``ready`` (LLEN ``ns:q``),
  ``in_flight`` (fetched, not yet acknowledged: HLEN ``ns:q.msgs`` − ready), ``delayed``
  (retries waiting for their backoff: HLEN ``ns:q.DQ.msgs``) and ``dead`` (ZCARD
  ``ns:q.XQ``, the dead-letter set Dramatiq keeps for 7 days).
* **Dead letters**, newest first, with :meth:`retry` (atomically move the message back onto
  its queue with a fresh retry budget) and :meth:`discard` (delete it).
* **Ticker**: its heartbeat and tick age (``app.market.watch_view.ticker_health``).
* **Kite token**: :class:`app.ops.kite_login.SessionStatus` (never the token itself).
* **NSE calendar horizon**: ``NseCalendar.horizon`` on today's IST date — a warning from
  :data:`CALENDAR_WARN_DAYS` (30) days before NSE's published holiday list ends, saying
  whether the dates after it are estimated (:func:`calendar_warning`).
* **Scheduled jobs**: the clock's last send of each job, recorded by :func:`record_clock_run`
  in the hash ``desk:clock:last_runs`` (field = job id, value = JSON ``{"at", "status",
  "message_id", "error"}``; status ``sent`` / ``skipped`` / ``failed``).

Nothing here raises because a server is down: the snapshot says so, in words.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo
from typing import Any, Literal

from dramatiq import Message
from sqlalchemy import text

from app.adapters.calendar_source import OVERRIDES_FILE
from app.settings import ROOT
from core.errors import ValidationError

log = logging.getLogger(__name__)

Level = Literal["ok", "warning", "error"]

#: Hash of the clock's last send per job (see :func:`record_clock_run`).
CLOCK_RUNS_KEY = "desk:clock:last_runs"
WORKERS_PREFIX = "desk:workers:"
#: Queues the desk's actors consume (tests/workers/test_known_queues.py checks them); shown even when
#: empty (others are discovered by SCAN).
KNOWN_QUEUES = ("trading", "scans", "analysis", "backfill", "reference", "backtests", "notify", "news")
#: Days before the published NSE holiday list ends that the System page warns.
CALENDAR_WARN_DAYS = 30
#: Where NSE's next holiday circular goes (``app.adapters.calendar_source``).
CALENDAR_OVERRIDE_FILE = OVERRIDES_FILE.relative_to(ROOT).as_posix()
_IST = ZoneInfo("Asia/Kolkata")

# Atomically move a dead letter back onto its queue (what the broker's "enqueue" does:
# HSET ns:q.msgs id data; RPUSH ns:q id). KEYS: xq, xq.msgs, q.msgs, q. ARGV: old id, new id, data.
_RETRY_LUA = """
if redis.call('zrem', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('hdel', KEYS[2], ARGV[1])
redis.call('hset', KEYS[3], ARGV[2], ARGV[3])
redis.call('rpush', KEYS[4], ARGV[2])
return 1
"""
_DISCARD_LUA = """
local n = redis.call('zrem', KEYS[1], ARGV[1])
redis.call('hdel', KEYS[2], ARGV[1])
return n
"""


@dataclass(frozen=True, slots=True)
class Probe:
    """One server's health: ``ok``, round-trip ``latency_ms`` (``None`` when down), ``detail``."""

    name: str
    ok: bool
    latency_ms: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    """One live worker process (from its heartbeat). Times tz-aware UTC; counts since start."""

    key: str
    host: str
    pid: int
    started_at: datetime | None
    beat_at: datetime | None
    queues: tuple[str, ...]
    threads: int
    processed: int
    failed: int
    in_flight: int
    last_actor: str
    expires_in_s: float | None

    def age_seconds(self, now: datetime) -> float | None:
        return None if self.beat_at is None else max(0.0, (now - self.beat_at).total_seconds())


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Messages of one Dramatiq queue: waiting, being processed, waiting to retry, dead."""

    queue: str
    ready: int
    in_flight: int
    delayed: int
    dead: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that failed for good. ``redis_id`` identifies it for retry/discard."""

    queue: str
    redis_id: str
    message_id: str
    actor: str
    arguments: str
    failed_at: datetime
    retries: int
    error: str
    trace_id: str = ""


@dataclass(frozen=True, slots=True)
class ClockRun:
    """The clock's last send of ``job``: ``status`` sent / skipped / failed at ``at`` (UTC)."""

    job: str
    at: datetime | None
    status: str
    message_id: str = ""
    error: str = ""


@dataclass
class SystemHealth:
    """Everything the System page shows, read at ``checked_at`` (UTC).

    ``*_error`` fields carry the message when that part could not be read. ``problems`` lists
    what needs attention, in words; ``level`` is the worst of them.
    """

    checked_at: datetime
    redis: Probe
    store: Probe
    workers: list[WorkerBeat] = field(default_factory=list)
    workers_error: str | None = None
    queues: list[QueueDepth] = field(default_factory=list)
    queues_error: str | None = None
    ticker: Any = None  # app.market.watch_view.TickerHealth
    token: Any = None  # app.ops.kite_login.SessionStatus
    token_error: str | None = None
    clock_runs: list[ClockRun] = field(default_factory=list)
    clock_error: str | None = None
    calendar: Any = None  # core.calendar.CalendarHorizon
    calendar_error: str | None = None
    problems: list[tuple[Level, str]] = field(default_factory=list)

    @property
    def level(self) -> Level:
        levels = {lvl for lvl, _ in self.problems}
        return "error" if "error" in levels else "warning" if "warning" in levels else "ok"

    @property
    def dead_total(self) -> int:
        return sum(q.dead for q in self.queues)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _when(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(_text(raw)) if raw else None
    except ValueError:
        return None


def _int(raw: Any) -> int:
    try:
        return int(_text(raw))
    except (TypeError, ValueError):
        return 0


def _where(client: Any) -> str:
    kw = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {}) or {}
    if kw.get("path"):
        return f"unix://{kw['path']}"
    return f"{kw.get('host', '?')}:{kw.get('port', '?')}"


def _last_line(tb: str) -> str:
    lines = [ln.strip() for ln in (tb or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _short(value: Any, limit: int = 160) -> str:
    s = json.dumps(value, default=str, separators=(",", ":"))
    return s if len(s) <= limit else s[: limit - 1] + "…"


# --------------------------------------------------------------------------- calendar

def calendar_warning(horizon: Any) -> str:
    """The System page's sentence for a ``core.calendar.CalendarHorizon``; ``""`` when none is due."""
    if not horizon.warn:
        return ""
    left = horizon.days_left
    when = f"in {left} day(s)" if left >= 0 else f"{-left} day(s) ago"
    head = f"NSE holiday calendar: the published list ends on {horizon.published_until} ({when})."
    todo = f"Add NSE's circular to {CALENDAR_OVERRIDE_FILE} when it is published."
    if not horizon.estimated:
        return (f"{head} After it every weekday counts as a session (no holiday list is known). {todo}")
    next_year = horizon.published_until.year + 1
    n_next = sum(1 for h in horizon.estimated if h.date.year == next_year)
    sources = "; ".join(sorted({h.source for h in horizon.estimated if h.source})) or "unnamed"
    return (f"{head} The {len(horizon.estimated)} holidays after it ({n_next} in {next_year}, up to "
            f"{horizon.covered_until}) are estimated, not NSE's published list (source: {sources}). {todo}")


# --------------------------------------------------------------------------- clock runs

def record_clock_run(target: Any, job: str, outcome: str | BaseException | None,
                     now: datetime | None = None) -> bool:
    """Record the clock's send of ``job`` in ``desk:clock:last_runs``.

    ``target``: a Redis client, or anything with ``.broker.client`` / ``.client`` (the clock's
    ``DramatiqTaskQueue``). ``outcome``: the message id (sent), ``None`` (skipped: not a
    trading day) or the exception the send raised (failed). Never raises; returns whether it
    was written (``False`` with a ``StubBroker`` or when Redis is down).
    """
    client = target
    for attr in ("broker", "client"):
        if not hasattr(client, "hset"):
            client = getattr(client, attr, client)
    if not hasattr(client, "hset"):
        return False
    if isinstance(outcome, BaseException):
        entry = {"status": "failed", "message_id": "", "error": f"{type(outcome).__name__}: {outcome}"[:300]}
    elif outcome is None:
        entry = {"status": "skipped", "message_id": "", "error": ""}
    else:
        entry = {"status": "sent", "message_id": str(outcome), "error": ""}
    entry["at"] = (now or datetime.now(UTC)).astimezone(UTC).isoformat()
    try:
        client.hset(CLOCK_RUNS_KEY, job, json.dumps(entry))
        return True
    except Exception as exc:  # noqa: BLE001 - the clock must keep running
        log.debug("could not record clock run of %s: %s", job, exc)
        return False


# --------------------------------------------------------------------------- the service

class OperationsService:
    """Health of every moving part, plus dead-letter retry/discard. See the module docstring.

    ``redis``: a ``redis.Redis`` (the broker's server); ``store``: an object with ``.engine``
    (``SqlStore``), a zero-argument callable returning one (built lazily, so a store that is
    down when the page starts is reported, not raised), or ``None``; ``ticks``: ``TickCache``; ``kite_auth``: ``KiteAuthService``;
    ``namespace``: the Dramatiq namespace (``paperdesk``); ``calendar``: the
    ``core.calendar.NseCalendar`` or a zero-argument callable returning it (built lazily).
    """

    def __init__(self, redis: Any, store: Any = None, *, ticks: Any = None, kite_auth: Any = None,
                 namespace: str = "paperdesk", known_queues: Iterable[str] = KNOWN_QUEUES,
                 store_timeout_s: float = 3.0, ticker_stale_after_s: float = 10.0,
                 calendar: Any = None) -> None:
        self.redis = redis
        self.calendar = calendar
        self.store = store
        self.ticks = ticks
        self.kite_auth = kite_auth
        self.namespace = namespace
        self.known_queues = tuple(known_queues)
        self.store_timeout_s = store_timeout_s
        self.ticker_stale_after_s = ticker_stale_after_s
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="desk-store-probe")
        self._retry = redis.register_script(_RETRY_LUA)
        self._discard = redis.register_script(_DISCARD_LUA)

    # ---- probes --------------------------------------------------------------------------

    def redis_health(self) -> Probe:
        """``PING`` the Redis server; latency in ms, or what went wrong."""
        t0 = time.perf_counter()
        try:
            self.redis.ping()
            info = self.redis.info("memory")
        except Exception as exc:  # noqa: BLE001
            return Probe("redis", False, None, f"cannot reach Redis at {_where(self.redis)}: {type(exc).__name__}: {exc}")
        ms = (time.perf_counter() - t0) * 1000
        return Probe("redis", True, ms, f"{_where(self.redis)} · memory {info.get('used_memory_human', '?')}")

    def store_health(self) -> Probe:
        """``SELECT 1`` on the store (gives up after ``store_timeout_s``)."""
        if self.store is None:
            return Probe("store", False, None, "no store configured")

        def ping() -> tuple[str, str]:
            store = self.store() if callable(self.store) else self.store  # lazily built SqlStore
            engine = getattr(store, "engine", store)
            with engine.connect() as conn:
                conn.execute(text("SELECT 1")).scalar_one()
            return engine.dialect.name, engine.url.render_as_string(hide_password=True).split("@")[-1]

        t0 = time.perf_counter()
        try:
            dialect, where = self._pool.submit(ping).result(timeout=self.store_timeout_s)
        except FutureTimeout:
            return Probe("store", False, None, f"the store did not answer within {self.store_timeout_s:.0f} s")
        except Exception as exc:  # noqa: BLE001
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return Probe("store", False, None, f"cannot reach the store: {type(exc).__name__}: {msg}")
        return Probe("store", True, (time.perf_counter() - t0) * 1000, f"{dialect} · {where}")

    # ---- workers -------------------------------------------------------------------------

    def workers(self) -> list[WorkerBeat]:
        """Live workers (heartbeat not expired), by host and pid. Raises redis errors."""
        keys = sorted(_text(k) for k in self.redis.scan_iter(match=WORKERS_PREFIX + "*", count=500))
        if not keys:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for k in keys:
            pipe.hgetall(k)
            pipe.pttl(k)
        raw = pipe.execute()
        out = []
        for key, fields, pttl in zip(keys, raw[::2], raw[1::2], strict=True):
            if not fields:
                continue
            f = {_text(a): _text(b) for a, b in fields.items()}
            out.append(WorkerBeat(
                key=key, host=f.get("host", "?"), pid=_int(f.get("pid")), started_at=_when(f.get("started_at")),
                beat_at=_when(f.get("beat_at")), queues=tuple(q for q in f.get("queues", "").split(",") if q),
                threads=_int(f.get("threads")), processed=_int(f.get("processed")), failed=_int(f.get("failed")),
                in_flight=_int(f.get("in_flight")), last_actor=f.get("last_actor", ""),
                expires_in_s=pttl / 1000 if isinstance(pttl, int) and pttl >= 0 else None))
        return out

    # ---- queues --------------------------------------------------------------------------

    def _k(self, queue: str, suffix: str = "") -> str:
        return f"{self.namespace}:{queue}{suffix}"

    def queue_names(self) -> list[str]:
        """Known queues, queues live workers consume, and every queue found in Redis."""
        names = set(self.known_queues)
        keys = list(self.redis.scan_iter(match=WORKERS_PREFIX + "*", count=500))
        if keys:
            pipe = self.redis.pipeline(transaction=False)
            for k in keys:
                pipe.hget(k, "queues")
            names.update(q for raw in pipe.execute() if raw for q in _text(raw).split(",") if q)
        prefix = f"{self.namespace}:"
        for raw in self.redis.scan_iter(match=prefix + "*", count=1000):
            name = _text(raw)[len(prefix):]
            if name.startswith("__"):
                continue
            for suffix in (".msgs", ".XQ", ".DQ"):
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
            for suffix in (".XQ", ".DQ"):
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
            if name:
                names.add(name)
        return sorted(names)

    def queues(self) -> list[QueueDepth]:
        """Depth of every queue (see the module docstring). Raises redis errors."""
        names = self.queue_names()
        pipe = self.redis.pipeline(transaction=False)
        for q in names:
            pipe.llen(self._k(q))
            pipe.hlen(self._k(q, ".msgs"))
            pipe.hlen(self._k(q, ".DQ.msgs"))
            pipe.zcard(self._k(q, ".XQ"))
        raw = pipe.execute()
        out = []
        for i, q in enumerate(names):
            ready, stored, delayed, dead = raw[4 * i: 4 * i + 4]
            out.append(QueueDepth(q, ready, max(0, stored - ready), delayed, dead))
        return out

    def dead_letters(self, queue: str, limit: int = 50) -> list[DeadLetter]:
        """Up to ``limit`` dead-lettered messages of ``queue``, newest first."""
        ids = self.redis.zrevrange(self._k(queue, ".XQ"), 0, max(0, limit - 1), withscores=True)
        if not ids:
            return []
        datas = self.redis.hmget(self._k(queue, ".XQ.msgs"), [i for i, _ in ids])
        out = []
        for (rid, score), data in zip(ids, datas, strict=True):
            failed_at = datetime.fromtimestamp(score / 1000, UTC)
            if data is None:
                out.append(DeadLetter(queue, _text(rid), "?", "?", "", failed_at, 0, "message data missing"))
                continue
            try:
                m = Message.decode(data)
            except Exception as exc:  # noqa: BLE001
                out.append(DeadLetter(queue, _text(rid), "?", "?", "", failed_at, 0, f"undecodable: {exc}"))
                continue
            args = _short({"args": list(m.args), **m.kwargs} if m.args else m.kwargs)
            trace = str(m.options.get("trace_id") or m.kwargs.get("trace_id") or "")
            out.append(DeadLetter(queue, _text(rid), m.message_id, m.actor_name, args, failed_at,
                                  int(m.options.get("retries", 0) or 0),
                                  _last_line(str(m.options.get("traceback", ""))) or "failed (no traceback kept)",
                                  trace))
        return out

    def _check_queue(self, queue: str) -> None:
        if not queue or any(c in queue for c in " *?[]") or queue.endswith((".DQ", ".XQ")):
            raise ValidationError(f"{queue!r} is not a queue name")

    def retry(self, queue: str, redis_id: str) -> bool:
        """Move dead letter ``redis_id`` of ``queue`` back onto ``queue`` with a fresh retry
        budget (``retries`` and ``traceback`` cleared; ``trace_id`` and arguments kept), in one
        atomic step. ``False`` when it is no longer there (already retried or discarded)."""
        self._check_queue(queue)
        data = self.redis.hget(self._k(queue, ".XQ.msgs"), redis_id)
        if data is None:
            return False
        old = Message.decode(data)
        options = {k: v for k, v in old.options.items()
                   if k not in ("retries", "traceback", "redis_message_id", "eta")}
        options["dead_letter_retries"] = int(old.options.get("dead_letter_retries", 0)) + 1
        new_id = f"{redis_id}-r{options['dead_letter_retries']}"
        options["redis_message_id"] = new_id
        fresh = Message(queue_name=queue, actor_name=old.actor_name, args=old.args, kwargs=old.kwargs,
                        options=options, message_id=old.message_id, message_timestamp=old.message_timestamp)
        done = bool(self._retry(keys=[self._k(queue, ".XQ"), self._k(queue, ".XQ.msgs"), self._k(queue, ".msgs"),
                                      self._k(queue)], args=[redis_id, new_id, fresh.encode()]))
        if done:
            log.info("retried dead letter %s (%s) on %s", old.message_id, old.actor_name, queue)
        return done

    def discard(self, queue: str, redis_id: str) -> bool:
        """Delete dead letter ``redis_id`` of ``queue``; ``False`` when it was not there."""
        self._check_queue(queue)
        done = bool(self._discard(keys=[self._k(queue, ".XQ"), self._k(queue, ".XQ.msgs")], args=[redis_id]))
        if done:
            log.info("discarded dead letter %s on %s", redis_id, queue)
        return done

    # ---- ticker --------------------------------------------------------------------------

    def newest_tick_at(self) -> datetime | None:
        """Receive time (UTC) of the newest frame in the tick stream, or ``None`` (one XREVRANGE)."""
        from app.adapters.tick_cache import STREAM_KEY

        entries = self.redis.xrevrange(STREAM_KEY, count=1)
        if not entries:
            return None
        try:
            return datetime.fromtimestamp(int(entries[0][1][b"t"]) / 1e6, UTC)
        except (KeyError, ValueError):
            return None

    # ---- calendar ------------------------------------------------------------------------

    def calendar_horizon(self, now: datetime) -> Any:
        """``NseCalendar.horizon`` on ``now``'s IST date (``None`` without a calendar)."""
        if self.calendar is None:
            return None
        cal = self.calendar() if callable(self.calendar) else self.calendar
        return cal.horizon(now.astimezone(_IST).date(), CALENDAR_WARN_DAYS)

    # ---- clock ---------------------------------------------------------------------------

    def clock_runs(self) -> list[ClockRun]:
        """The clock's last send of each job, by job id."""
        out = []
        for job, raw in sorted((_text(k), v) for k, v in self.redis.hgetall(CLOCK_RUNS_KEY).items()):
            try:
                e = json.loads(raw)
            except ValueError:
                continue
            out.append(ClockRun(job, _when(e.get("at")), e.get("status", "?"), e.get("message_id", ""),
                                e.get("error", "")))
        return out

    # ---- everything ----------------------------------------------------------------------

    def snapshot(self, now: datetime | None = None) -> SystemHealth:
        """Read every part (see the module docstring). Never raises for a server being down."""
        from app.market.watch_view import ticker_health

        now = now or datetime.now(UTC)
        redis_probe = self.redis_health()
        health = SystemHealth(checked_at=now, redis=redis_probe, store=self.store_health())
        problems = health.problems
        if not redis_probe.ok:
            problems.append(("error", f"Redis is down: {redis_probe.detail}. Queues, workers, the ticker and "
                                      "the Kite session cannot be read; jobs cannot be sent."))
        if not health.store.ok and self.store is not None:
            problems.append(("error", f"Store is down: {health.store.detail}."))
        down = None if redis_probe.ok else "unknown while Redis is down"

        def guarded(read, what: str):
            if down:
                return None, down
            try:
                return read(), None
            except Exception as exc:  # noqa: BLE001
                return None, f"could not read {what}: {type(exc).__name__}: {exc}"

        workers, health.workers_error = guarded(self.workers, "worker heartbeats")
        health.workers = workers or []
        queues, health.queues_error = guarded(self.queues, "queue depths")
        health.queues = queues or []
        runs, health.clock_error = guarded(self.clock_runs, "the clock's last runs")
        health.clock_runs = runs or []
        if redis_probe.ok and not health.workers and not health.workers_error:
            problems.append(("error", "No worker is running: jobs wait in their queues. Start `dramatiq "
                                      "workers.actors` (the Procfile's `worker`)."))
        if health.dead_total:
            problems.append(("warning", f"{health.dead_total} failed message(s) in the dead-letter queues: "
                                        "retry or discard them below."))
        if self.ticks is not None:
            if down:
                health.ticker = ticker_health(None, None, now, self.ticker_stale_after_s, error=down)
            else:
                try:
                    health.ticker = ticker_health(self.ticks.status(), self.newest_tick_at(), now,
                                                  self.ticker_stale_after_s)
                except Exception as exc:  # noqa: BLE001
                    health.ticker = ticker_health(None, None, now, self.ticker_stale_after_s, error=str(exc))
            if health.ticker.level != "ok" and redis_probe.ok:
                problems.append((health.ticker.level, health.ticker.message))
        if self.kite_auth is not None:
            token, health.token_error = guarded(self.kite_auth.status, "the Kite session")
            health.token = token
            if token is not None and not token.ok:
                problems.append(("warning", f"Kite session {token.state}"
                                            f"{': ' + token.reason if token.reason else ''}: log in on Settings."))
        self._check_calendar(health, now)
        return health

    def _check_calendar(self, health: SystemHealth, now: datetime) -> None:
        try:
            health.calendar = self.calendar_horizon(now)
        except Exception as exc:  # noqa: BLE001 - a broken calendar file is reported, not raised
            health.calendar_error = f"could not load the NSE calendar: {type(exc).__name__}: {exc}"
            health.problems.append(("error", health.calendar_error))
            return
        if health.calendar is not None and health.calendar.warn:
            health.problems.append(("warning", calendar_warning(health.calendar)))


__all__ = ["CALENDAR_WARN_DAYS", "CLOCK_RUNS_KEY", "ClockRun", "DeadLetter", "OperationsService", "Probe", "QueueDepth",
           "SystemHealth", "WorkerBeat", "calendar_warning", "record_clock_run"]
