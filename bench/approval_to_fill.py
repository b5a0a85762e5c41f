"""Benchmark: approvals through Dramatiq and a real Redis to a stored fill.

Starts a throwaway ``redis-server`` and a real ``dramatiq workers.trading`` worker (1 process,
4 threads) on a SQLite file store (``--store postgresql``: a throwaway PostgreSQL database),
approves N proposals at a steady rate (each approve call re-checks drift and risk, then
enqueues ``execute_approval``) and measures, per approval, the wall time from the approve
call to the fill row being visible in the store (a poller reads new fill rows every 2 ms).
The split printed: the approve call itself, then queue wait + order + fill in the worker, and
per stage (p50/p99): ``checks`` (the approve call up to its enqueue: drift, gatekeeper, the
APPROVED write), ``enqueue`` (Redis), ``queue wait`` (until a worker thread takes it), ``order``
(the order row stored), ``fill`` (the fill transaction, its COMMIT included), ``commits`` (the
COMMITs of the message's other transactions: the order's; on SQLite the fill's too, which
``fill`` then includes), ``seen`` (until the poller saw the row). On PostgreSQL the fill's
COMMIT goes out pipelined with its statements (``app.adapters.trading_store.pg_pipeline``), so it
has no separate time. The worker is ``bench.a2f_worker``: ``workers.trading`` plus that timing.
The load average is printed too.

Two desks: a busy one (``-n`` approvals at ``--rate``/s) and a quiet one, where a trader
approves one order every ``--quiet-gap`` seconds and the queue idles in between (the common
case for a human in the loop). The worker runs with the Procfile's idle poll
(``dramatiq_worker_timeout``, set from ``DESK_WORKER_POLL_MS``): Dramatiq's Redis consumer
polls an idle queue with a backoff that grows to that cap (its own default is 1,000 ms),
which bounds how long an approved order waits on a quiet desk. Both desks repeat with
Dramatiq's default so the difference is measured, not assumed. Then the peer: the ledger's
own rate applying fills straight to the store (``TradingEngine.store_fill``: fill + ledger +
position in one durable transaction each), from the worker's 4 threads (each its own
instrument) and from one thread; and the store's durable-COMMIT floor (one-row transactions,
one thread), which bounds the one-thread ledger: on PostgreSQL each COMMIT waits for its WAL
flush, and only concurrent transactions share one (group commit).

Targets (issue 4; issue 16 item 8 for both stores): p99 approval→fill < 250 ms with 4 worker
threads (Procfile's poll, both desks); ledger ≥ 500 fills/s from the worker's 4 threads, on
SQLite and PostgreSQL alike.
Prints PASS/FAIL; exits 0 unless something broke.
``python bench/approval_to_fill.py [-n 400] [--rate 20] [--quiet 30] [--store sqlite|postgresql]
[--skip-default-poll]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DESK_ENV", "test")

#: Dramatiq's own idle-poll cap (``dramatiq.worker.WORKER_TIMEOUT`` without the env var), ms.
DRAMATIQ_DEFAULT_POLL_MS = 1000
#: The worker's threads (the Procfile's ``DESK_WORKER_THREADS`` default): the queued runs' worker
#: and the ledger's concurrent fills.
WORKER_THREADS = 4


def procfile_poll_ms() -> int:
    """The worker's idle-poll cap the Procfile deploys (``${DESK_WORKER_POLL_MS:-N}``), ms."""
    line = next((ln for ln in (ROOT / "Procfile").read_text().splitlines() if ln.startswith("worker:")), "")
    m = re.search(r"dramatiq_worker_timeout=\$\{DESK_WORKER_POLL_MS:-(\d+)\}", line)
    if not m:
        raise SystemExit("Procfile's worker line does not set dramatiq_worker_timeout=${DESK_WORKER_POLL_MS:-N}")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=400, help="approvals to push through Dramatiq on a busy desk")
    ap.add_argument("--rate", type=float, default=20.0, help="approvals offered per second on a busy desk")
    ap.add_argument("--quiet", type=int, default=30,
                    help="approvals on a quiet desk, one every --quiet-gap seconds (the queue idles between)")
    ap.add_argument("--quiet-gap", type=float, default=1.5, help="seconds between approvals on a quiet desk")
    ap.add_argument("--ledger-fills", type=int, default=2000, help="fills for the ledger peer")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                    help="the desk's store: a SQLite file (the default desk) or a throwaway PostgreSQL database "
                         "(TEST_DATABASE_URL's server, default postgresql://postgres@127.0.0.1:5432/postgres)")
    ap.add_argument("--skip-default-poll", action="store_true",
                    help="do not repeat the runs with Dramatiq's default 1,000 ms idle poll")
    args = ap.parse_args()
    from tests.servers import run_redis

    poll_ms = procfile_poll_ms()
    polls = [poll_ms] + ([] if args.skip_default_poll or poll_ms == DRAMATIQ_DEFAULT_POLL_MS
                         else [DRAMATIQ_DEFAULT_POLL_MS])
    desks = {"busy": (args.n, args.rate), "quiet": (args.quiet, 1 / args.quiet_gap)}
    work = Path(tempfile.mkdtemp(prefix="bench-a2f-"))
    runs: dict[tuple[str, int], dict] = {}
    with run_redis(work / "redis") as (redis_url, _):
        for desk, (n, rate) in desks.items():
            for ms in polls:
                with store_url(args.store, work / f"{desk}-{ms}") as url:
                    runs[desk, ms] = queued_run(work / f"{desk}-{ms}", url, redis_url, ms, n, rate)
        with store_url(args.store, work / "ledger") as url:
            ledger_serial = ledger_peer(url, redis_url, args.ledger_fills)
        with store_url(args.store, work / "ledger-threads") as url:
            ledger_rate = ledger_peer(url, redis_url, args.ledger_fills, threads=WORKER_THREADS)
        with store_url(args.store, work / "floor") as url:
            floor = commit_floor(url)

    store = "SQLite WAL" if args.store == "sqlite" else "PostgreSQL"
    print(f"approvals through Dramatiq+Redis → stored fill (worker 1 process × 4 threads, {store}):")
    for (desk, ms), r in runs.items():
        n, rate = desks[desk]
        label = "Procfile" if ms == poll_ms else "Dramatiq default"
        print(f"  {desk} desk ({n - 1} measured, one every {1000 / rate:.0f} ms), idle poll ≤ {ms} ms ({label}): "
              f"fills {r['done']}/{n}   p50 {_pct(r['total'], 50):.1f} ms   p99 {_pct(r['total'], 99):.1f} ms")
        print(f"      approve call p50 {_pct(r['approve'], 50):.1f} / p99 {_pct(r['approve'], 99):.1f} ms;  "
              f"queue + worker p50 {_pct(r['after'], 50):.1f} / p99 {_pct(r['after'], 99):.1f} ms")
        print("      stages p50/p99 ms: " + " · ".join(
            f"{k} {_pct(v, 50):.1f}/{_pct(v, 99):.1f}" for k, v in r["stages"].items()))
    for desk in desks:
        if (desk, DRAMATIQ_DEFAULT_POLL_MS) in runs and DRAMATIQ_DEFAULT_POLL_MS != poll_ms:
            ratio = _pct(runs[desk, DRAMATIQ_DEFAULT_POLL_MS]["total"], 99) / _pct(runs[desk, poll_ms]["total"], 99)
            print(f"  {desk} desk p99, Dramatiq default / Procfile: {ratio:.1f}×")
    busy = runs["busy", poll_ms]
    print(f"ledger straight to the store, {WORKER_THREADS} threads (the worker's): {ledger_rate:.0f} fills/s "
          f"({args.ledger_fills} fills, one durable txn each); 1 thread: {ledger_serial:.0f} fills/s; "
          f"busy desk through the queue: {busy['rate']:.0f} fills/s offered {args.rate:g}/s")
    print(f"durable COMMIT floor (one 1-row txn at a time, {store}): {floor:.0f} txn/s")
    ok = (all(runs[d, poll_ms]["done"] == desks[d][0] and _pct(runs[d, poll_ms]["total"], 99) < 250 for d in desks)
          and ledger_rate >= 500)
    print("load average (1/5/15 min): " + " / ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores")
    print("PASS" if ok else "FAIL", "(targets: p99 < 250 ms at the Procfile's poll on both desks, "
          f"ledger ≥ 500 fills/s from {WORKER_THREADS} threads)")
    return 0


@contextmanager
def store_url(kind: str, work: Path) -> Iterator[str]:
    """A fresh store for one run: a SQLite file under ``work`` or a throwaway PostgreSQL database."""
    work.mkdir(parents=True)
    if kind == "sqlite":
        yield f"sqlite:///{work / 'desk.db'}"
        return
    from tests.servers import postgres_database

    with postgres_database() as url:
        yield url


def queued_run(work: Path, db: str, redis_url: str, poll_ms: int, n: int, rate: float) -> dict:
    """Approve ``n`` proposals at ``rate``/s with a worker polling at most every ``poll_ms``.
    Returns ``total``/``approve``/``after`` latency lists (ms), ``done`` fills, ``rate`` fills/s."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker
    from app.adapters.queue import NAMESPACE
    from app.adapters.trading_store import schema as t
    from tests.fixtures_trading import INFY, T0, D, intent, make_desk

    broker = RedisBroker(url=redis_url, namespace=NAMESPACE)
    broker.declare_queue("trading")

    enqueued: dict[str, tuple[float, float]] = {}

    class Queue:
        def enqueue(self, queue: str, actor: str, **kw) -> str:
            e0 = time.time()
            msg = dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs=kw, options={})
            message_id = broker.enqueue(msg).message_id
            enqueued[kw["approval_id"]] = (e0, time.time())
            return message_id

    d = make_desk(db, redis_url, tasks=Queue())
    d.svc.save_risk_limits({"max_orders_per_day": 100_000, "max_orders_per_symbol_per_day": 100_000,
                            "wash_trade_minutes": 0, "max_order_notional": "100000000"}, user="bench")
    d.tick(INFY, 1000.0)
    proposals = [d.svc.propose(intent(qty=1), signal_price=D("1000"), reason="bench", ttl_seconds=86_400,
                               now=T0).approval_id for _ in range(n)]
    env = {**os.environ, "DESK_ENV": "test", "DESK_BROKER": "redis", "REDIS_URL": redis_url, "DATABASE_URL": db,
           "DESK_STATE_DIR": str(work / "state"), "PYTHONPATH": str(ROOT), "dramatiq_worker_timeout": str(poll_ms),
           "A2F_TIMINGS": str(work / "timings.jsonl")}
    log = (work / "worker.log").open("ab")
    worker = subprocess.Popen([sys.executable, "-m", "dramatiq", "bench.a2f_worker", "--processes", "1",
                               "--threads", str(WORKER_THREADS), "--queues", "trading"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    seen: dict[str, float] = {}
    sent: dict[str, tuple[float, float]] = {}
    try:
        # warm-up: one approval end to end, so worker start-up is not measured
        d.svc.approve(proposals.pop(0), user="bench", now=T0 + timedelta(seconds=1))
        deadline = time.monotonic() + 60
        while d.store.count_fills() < 1:
            if time.monotonic() > deadline:
                raise SystemExit(f"worker did not fill within 60 s; see {work / 'worker.log'}")
            time.sleep(0.01)
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(d.store.engine, t.fills, seen, stop), daemon=True)
        watcher.start()
        t_start = time.time()
        for i, aid in enumerate(proposals):
            time.sleep(max(0.0, t_start + i / rate - time.time()))
            t0 = time.time()
            out = d.svc.approve(aid, user="bench", now=T0 + timedelta(seconds=2))
            sent[f"O-{aid}"] = (t0, time.time())
            if not out.ok:
                raise SystemExit(f"approval refused: {out.messages}")
        deadline = time.monotonic() + 60
        while d.store.count_fills() < n and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        watcher.join()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)
    measured = {oid: (sent[oid], at) for oid, at in seen.items() if oid in sent}
    span = max((at for _, at in measured.values()), default=t_start) - t_start
    return dict(
        total=[(at - s0) * 1000 for (s0, _), at in measured.values()],
        approve=[(s1 - s0) * 1000 for (s0, s1), _ in measured.values()],
        after=[(at - s1) * 1000 for (_, s1), at in measured.values()],
        stages=stage_times(measured, enqueued, work / "timings.jsonl"),
        done=d.store.count_fills(), rate=len(measured) / max(span, 1e-9),
    )


#: The stages of one approval → fill, in order (``stage_times``).
STAGES = ("checks", "enqueue", "queue wait", "order", "fill", "commits", "seen")


def stage_times(measured: dict, enqueued: dict, timings: Path) -> dict[str, list[float]]:
    """Per stage (``STAGES``), the ms of each measured approval: ``checks`` the approve call
    before its enqueue (drift, gatekeeper, the APPROVED write); ``enqueue`` the Redis enqueue;
    ``queue wait`` enqueue → a worker thread takes the message; ``order`` → the order row stored;
    ``fill`` → the fill transaction committed; ``commits`` the COMMITs of the message's
    ``TradingStore._tx`` transactions summed (the order's; SQLite's fill too); ``seen`` actor
    done → the bench's poller saw the fill row."""
    worker = {}
    if timings.exists():
        for line in timings.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec.get("ordered") and rec.get("filled") and not rec["failed"]:
                worker[f"O-{rec['approval_id']}"] = rec
    out: dict[str, list[float]] = {k: [] for k in STAGES}
    for oid, ((s0, _), seen_at) in measured.items():
        rec, enq = worker.get(oid), enqueued.get(oid[2:])
        if rec is None or enq is None:
            continue
        for k, v in zip(STAGES, (enq[0] - s0, enq[1] - enq[0], rec["dequeued"] - enq[1], rec["ordered"] - rec["dequeued"],
                                 rec["filled"] - rec["ordered"], sum(b - a for a, b in rec["commits"]),
                                 seen_at - rec["done"]), strict=True):
            out[k].append(v * 1000)
    return out


def ledger_peer(db: str, redis_url: str, n_fills: int, threads: int = 1) -> float:
    """The ledger applying ``n_fills`` fills straight to the fresh store ``db`` from ``threads``
    threads at once (``TradingEngine.store_fill``: one durable transaction per fill): fills/s.
    One thread fills INFY; with more, each thread fills its own instrument (fills of one position
    take turns on its row lock through their COMMIT), as the worker's threads do for approvals
    over several symbols."""
    from app.adapters.trading_store import schema as t
    from app.trading.rows import order_row
    from core.broker.events import Fill
    from core.charges import Charges
    from core.orders import Order, OrderStatus, Product, Side
    from tests.fixtures_store import instrument_rows
    from tests.fixtures_trading import INFY, T0, intent, make_desk

    lg = make_desk(db, redis_url)
    eng = lg.svc._engine
    lg.svc.funds(T0)
    equities = [(int(r["instrument_token"]), r["tradingsymbol"]) for r in instrument_rows()
                if r["segment"] == "NSE" and r["instrument_type"] == "EQ" and int(r["instrument_token"]) != INFY]
    symbols = [(INFY, "INFY"), *equities[:threads - 1]]
    orders: list[list] = [[] for _ in range(threads)]
    decision = dict(decision_id="RD-bench", trace_id="bench", approval_id=None, stage="system", approved=True,
                    reasons=[], messages=[], price=Decimal("1000"), at=T0)
    with lg.store.engine.begin() as conn:
        conn.execute(t.risk_decisions.insert().values(**decision))
        for i in range(n_fills):
            k = i % threads
            token, symbol = symbols[k]
            it = intent(token=token, symbol=symbol, qty=1, side=Side.BUY if (i // threads) % 2 == 0 else Side.SELL,
                        trace_id="bench")
            o = Order(f"L-{i}", it, OrderStatus.OPEN, T0, T0, Decimal("0.1"))
            orders[k].append((i, o))
            conn.execute(t.orders.insert().values(**order_row(o, approval_id=None, decision_id="RD-bench")))
    charges = Charges(brokerage=Decimal("0.30"), exchange_txn=Decimal("0.03"), stamp=Decimal("0.03"),
                      gst=Decimal("0.06"))
    failed: list[BaseException] = []

    def fill_all(mine: list) -> None:
        try:
            for i, o in mine:
                f = Fill(f"{o.order_id}-1", o.order_id, 1, o.intent.instrument_token, o.intent.tradingsymbol,
                         o.intent.side, Product.MIS, 1, Decimal("1000.00") + Decimal(i % 7), charges,
                         T0 + timedelta(milliseconds=i), "bench")
                ok = eng.store_fill(f, order_values=dict(status="COMPLETE", filled_quantity=1, fill_count=1,
                                                         filled_turnover=f.price),
                                    order_expect={"fill_count": 0}, strategy="")
                assert ok
        except BaseException as exc:  # noqa: BLE001  (reported below)
            failed.append(exc)

    workers = [threading.Thread(target=fill_all, args=(mine,)) for mine in orders]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    rate = n_fills / (time.perf_counter() - t0)
    if failed:
        raise failed[0]
    assert lg.store.count_fills() == n_fills and lg.svc.funds(T0 + timedelta(hours=1)).reconciled
    lg.sql.dispose()
    return rate


def commit_floor(db: str, n: int = 300) -> float:
    """Durable transactions of one single-row INSERT each, one thread, on the fresh store ``db``:
    txn/s. The floor under a one-transaction-per-fill ledger: on PostgreSQL every COMMIT waits for
    the WAL flush (``synchronous_commit`` on); SQLite in WAL mode with ``synchronous=NORMAL`` (the
    desk's) syncs at checkpoints, not at each COMMIT."""
    from sqlalchemy import text

    from app.adapters.store.sql import make_engine

    engine = make_engine(db)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE bench_commit_floor (i INTEGER)"))
        insert_one = text("INSERT INTO bench_commit_floor VALUES (:i)")
        t0 = time.perf_counter()
        for i in range(n):
            with engine.begin() as conn:
                conn.execute(insert_one, {"i": i})
        return n / (time.perf_counter() - t0)
    finally:
        engine.dispose()


def _pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * q / 100))]


def _watch(engine, fills, seen: dict[str, float], stop: threading.Event) -> None:
    """Record, into ``seen``, the wall time each new fill row (by order id) first became
    visible; polls every 2 ms until ``stop`` (reads the ids only when the count changed)."""
    count_q, ids_q = select(func.count()).select_from(fills), select(fills.c.order_id)
    last = -1
    while not stop.is_set():
        with engine.connect() as conn:
            count = conn.execute(count_q).scalar_one()
            ids = conn.execute(ids_q).scalars().all() if count != last else ()
        now = time.time()
        for order_id in ids:
            seen.setdefault(order_id, now)
        last = count
        time.sleep(0.002)


if __name__ == "__main__":
    sys.exit(main())
