"""Processes killed and restarted (issue 16 item 9), on a real Redis, a real PostgreSQL, real
``workers.clock`` / ``dramatiq`` / ``workers.ticker`` subprocesses and the replay server:

1. the clock is SIGKILLed while the worker runs the MIS square-off it sent, and restarted at
   once (its square-off then overlaps the first one on another worker thread): every MIS
   position is flat, each squared off by exactly one order with exactly one ₹59 fee;
1b. the same overlap of two square-off runs at a fixed point (in-process, real PostgreSQL and
   Redis): run B has read the open positions and is held up on the first while run A closes
   the second; B must not square off the second again (it did: the position went short);
2. the ticker is SIGKILLed and restarted: it resubscribes from the store (the watchlist as
   edited on the dashboard, the open positions), not from its environment, and ticks resume.

Each test PRINTS what it tried and what it checked. Run: ``pytest -m faults tests/faults``.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis

from app.adapters.queue import NAMESPACE
from app.ops.operations import CLOCK_RUNS_KEY
from tests.app.test_operations import kill_group, start_worker
from tests.faults.harness import OPEN_LIMITS, fresh_desk, point_at_replay, start_clock
from core import kite_wire
from core.models import Tick
from core.orders import Product
from core.tick_batch import decode_frame
from core.timeutil import IST
from tests.fixtures_trading import T0, D, intent, later

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

#: One MIS position each. The worker reads each one's circuit limits from /quote (1 call/s shared),
#: so a square-off run takes about a second a position: long enough to kill the clock inside it.
SQUARE_OFF_SYMBOLS = ("INFY", "SBIN", "TCS", "RELIANCE", "HDFCBANK", "ICICIBANK", "ITC", "LT")
#: Market time the fake feed starts at: past the 15:20 IST MIS cut-off of the desk's T0 day.
AFTER_CUTOFF = datetime(2016, 8, 17, 15, 22, tzinfo=IST)
FEE = Decimal("59.00")  # ₹50 + 18 % GST per square-off order


class Feed(threading.Thread):
    """Writes a fresh full-mode tick for every token every 0.2 s, on a market clock that starts at
    ``start`` and runs with the wall clock (what the ticker does with the replay market)."""

    def __init__(self, cache, tokens: dict[int, float], start: datetime) -> None:
        super().__init__(daemon=True)
        self.cache, self.tokens, self.start_at = cache, tokens, start
        self.t0 = time.monotonic()
        self.stopping = threading.Event()
        self.write()

    def write(self) -> None:
        at = self.start_at + timedelta(seconds=time.monotonic() - self.t0)
        packets = [kite_wire.encode_packet(Tick(instrument_token=token, last_price=ltp, mode="full", volume_traded=1,
                                                close=ltp, last_trade_time=at, exchange_timestamp=at), "full")
                   for token, ltp in self.tokens.items()]
        # received now: the market clock is the newest tick's exchange time + the wall time since
        self.cache.write_frame(decode_frame(kite_wire.encode_frame(packets)), datetime.now(UTC))

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            self.write()


def _square_off_message(client: redis.Redis) -> str | None:
    raw = client.hget(CLOCK_RUNS_KEY, "square_off")
    entry = json.loads(raw) if raw else {}
    return entry.get("message_id") if entry.get("status") == "sent" else None


def test_clock_killed_during_square_off_restart_completes_it_exactly_once(tmp_path, fault_redis, fault_pg, say,
                                                                          replay_server, monkeypatch):
    point_at_replay(monkeypatch, replay_server)  # the worker reads circuit limits from its /quote
    d = fresh_desk(fault_pg, fault_redis.url, queued=False)  # entries fill in-process
    d.svc.save_risk_limits({**OPEN_LIMITS, "max_open_positions": 100}, user="risk")
    quotes = replay_server.kite().ltp([f"NSE:{s}" for s in SQUARE_OFF_SYMBOLS])
    prices = {q["instrument_token"]: round(q["last_price"], 1) for q in quotes.values()}
    tokens = {d.svc.instruments.resolve(f"NSE:{s}").instrument_token: s for s in SQUARE_OFF_SYMBOLS}
    assert set(tokens) == set(prices)
    for token, symbol in tokens.items():
        d.tick(token, prices[token])
        a = d.svc.propose(intent(token, symbol, qty=3), signal_price=D(str(prices[token])), reason="MIS entry", now=T0)
        assert d.svc.approve(a.approval_id, user="trader", now=later(1)).ok
    n = len(tokens)
    assert sum(1 for p in d.svc.positions(later(2)) if p.quantity == 3) == n
    client = redis.Redis.from_url(fault_redis.url)
    feed = Feed(d.ticks, prices, AFTER_CUTOFF)
    feed.start()
    watch = ",".join(f"NSE:{s}" for s in tokens.values())
    say(f"1. clock SIGKILL in the square-off: {n} open MIS positions, market time {AFTER_CUTOFF:%H:%M} IST "
        "(past the 15:20 cut-off), ticks refreshed every 0.2 s")
    worker, wlog = start_worker(tmp_path, fault_redis.url, "trading", db=fault_pg, threads=4)
    clock, clog = start_clock(tmp_path, fault_redis.url, fault_pg, watch)
    clock2 = None
    try:
        def squared() -> list[dict]:
            return [o for o in d.store.list_orders() if str(o["approval_id"]).startswith("SQ-")]

        t0 = time.monotonic()
        while not squared() and time.monotonic() - t0 < 45:
            assert clock.poll() is None and worker.poll() is None, clog.read_text()[-2000:] + wlog.read_text()[-2000:]
            time.sleep(0.005)
        kill_group(clock)
        at_kill = len(squared())
        first = _square_off_message(client)
        say(f"   tried: SIGKILL of the clock {time.monotonic() - t0:.1f} s after start, with {at_kill}/{n} "
            f"square-off orders placed by the worker (square_off message {first})")
        assert 0 < at_kill < n, "the square-off finished before the kill; add positions"
        clock2, clog = start_clock(tmp_path, fault_redis.url, fault_pg, watch)
        restarted = time.monotonic()
        while (_square_off_message(client) in (None, first)) and time.monotonic() - restarted < 30:
            time.sleep(0.05)
        second = _square_off_message(client)
        assert second not in (None, first), clog.read_text()[-3000:]
        while client.hexists(f"{NAMESPACE}:trading.msgs", second) and time.monotonic() - restarted < 30:
            time.sleep(0.05)
        took = time.monotonic() - restarted
        assert not client.hexists(f"{NAMESPACE}:trading.msgs", second), wlog.read_text()[-3000:]
        time.sleep(1.0)  # a late duplicate would show now
    finally:
        feed.stopping.set()
        for proc in (clock2, worker):
            if proc is not None:
                kill_group(proc, signal.SIGTERM)
    orders = squared()
    fees = [e for e in d.store.ledger_entries() if e["kind"] == "SQUARE_OFF_CHARGE"]
    mis = [p for p in d.store.positions() if p["product"] == "MIS"]
    open_mis = [p for p in mis if p["quantity"] != 0]
    per_token: dict[int, int] = {}
    for o in orders:
        per_token[int(o["instrument_token"])] = per_token.get(int(o["instrument_token"]), 0) + 1
    funds = d.svc.funds(AFTER_CUTOFF + timedelta(minutes=5))
    say(f"   restarted the clock: its square_off ({second}) was sent and processed {took:.1f} s later")
    say(f"   checked: {len(orders)} square-off orders for {n} positions (most for one position: "
        f"{max(per_token.values(), default=0)}), {sum(1 for o in orders if o['status'] == 'COMPLETE')} COMPLETE; "
        f"{len(fees)} fee entries totalling ₹{-sum(Decimal(str(f['amount'])) for f in fees)}; MIS positions still "
        f"open {len(open_mis)}; ledger reconciled {funds.reconciled}")
    assert len(orders) == n and set(per_token) == set(tokens) and max(per_token.values()) == 1
    assert all(o["status"] == "COMPLETE" for o in orders)
    assert len(fees) == n and all(Decimal(str(f["amount"])) == -FEE for f in fees)
    assert len({f["reference"] for f in fees}) == n
    assert len(mis) == n and not open_mis and funds.reconciled
    client.close()
    d.sql.dispose()


# --------------------------------------------------------------------------- 2. ticker killed

def test_ticker_killed_restart_resubscribes_from_the_store_and_ticks_resume(tmp_path, redis_url, say,
                                                                            replay_server):
    from app.adapters.redis_client import redis_client
    from app.adapters.tick_cache import STATUS_KEY, TickCache
    from app.container import Services
    from app.settings import Settings
    from tests.fixtures_trading import make_desk
    from tests.workers.test_ticker import WATCH, _tokens, start_ticker, wait_for

    db = tmp_path / "desk.db"
    client = redis_client(redis_url)
    cache = TickCache(client)
    added, held = "NSE:SBIN", "NSE:ITC"
    tokens = _tokens(replay_server, [*WATCH, added, held])
    # an open CNC position in ITC (the desk's store), then the dashboard adds SBIN to the watchlist
    d = make_desk(f"sqlite:///{db}", redis_url)
    itc = tokens[held]
    price = round(replay_server.kite().ltp([held])[held]["last_price"], 1)
    d.tick(itc, price)
    a = d.svc.propose(intent(itc, "ITC", qty=5, product=Product.CNC), signal_price=D(str(price)), reason="held",
                      now=T0)
    assert d.svc.approve(a.approval_id, user="trader", now=later(1)).ok

    def subscribed() -> int:
        status = cache.status()
        return status.subscribed if status is not None and status.connected else -1

    client.delete(STATUS_KEY)  # a heartbeat left by an earlier test
    proc, log = start_ticker(tmp_path, redis_url, replay_server.port)  # DESK_WATCHLIST = WATCH only
    proc2 = None
    try:
        wait_for(lambda: subscribed() == len(WATCH) + 1, 45, "watchlist + position subscribed",
                 proc, log)
        Services(Settings(database_url=f"sqlite:///{db}", state_dir=tmp_path / "state",
                          watchlist=",".join(WATCH))).watchlists.add(added)
        wait_for(lambda: subscribed() == len(tokens), 20, "the added symbol subscribed", proc, log)
        before = cache.status()
        say(f"2. ticker SIGKILL: subscribed to {before.subscribed} instruments ({len(WATCH)} from DESK_WATCHLIST, "
            f"{added} added to the stored watchlist, {held} an open position), {before.ticks_total} ticks")
        proc.kill()
        proc.wait(timeout=10)
        killed = datetime.now(UTC)
        time.sleep(1.5)
        stale = cache.status()
        age = stale.age_seconds(datetime.now(UTC))
        say(f"   tried: SIGKILL (exit {proc.returncode}); its last heartbeat then {age:.1f} s old, still saying "
            f"connected={stale.connected}")
        proc2, log = start_ticker(tmp_path, redis_url, replay_server.port)  # same environment as before
        restarted = time.monotonic()
        wait_for(lambda: len(cache.latest(tokens.values())) == len(tokens)
                 and all(t.received_at > killed for t in cache.latest(tokens.values()).values())
                 and subscribed() == len(tokens) and cache.status().ticks_total > 0,
                 45, "fresh ticks for every instrument after the restart", proc2, log)
        resumed = time.monotonic() - restarted
        after = cache.status()
        say(f"   checked: the restarted ticker subscribed to {after.subscribed} instruments and ticks for all "
            f"{len(tokens)} (incl. {added} and {held}) resumed {resumed:.1f} s after the restart; connected "
            f"{after.connected}; ticks since the restart {after.ticks_total}")
        assert after.connected and after.subscribed == len(tokens) and proc2.poll() is None
    finally:
        for p in (proc, proc2):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        client.close()
        d.sql.dispose()


# --------------------------------------------------------------------------- 1b. two square-off runs

class SecondRun:
    """A notifier that, at the first square-off refusal it hears of, runs ``other()`` (another
    worker's square-off) to the end: the two runs overlap at a known point, deterministically."""

    def __init__(self) -> None:
        self.other = None
        self.ran = False

    def notify(self, event) -> int:
        if self.other is not None and not self.ran:
            self.ran = True
            self.other()
        return 0


def test_overlapping_square_off_runs_close_each_position_once(fault_redis, fault_pg, say):
    """What test 1 exercises by timing, at a fixed point: run B reads the open positions, is held
    up on the first one (no price) while run A squares off the second; B then reaches the second."""
    from app.adapters.calendar_source import load_nse_calendar
    from app.adapters.tick_cache import LATEST_KEY
    from app.trading.config import TradingConfig
    from app.trading.service import TradingService
    from tests.fixtures_trading import INFY, SBIN, put_tick

    d = fresh_desk(fault_pg, fault_redis.url, queued=False)
    for token, symbol, price in ((INFY, "INFY", 1000.0), (SBIN, "SBIN", 250.0)):
        d.tick(token, price)
        a = d.svc.propose(intent(token, symbol, qty=4), signal_price=D(str(price)), reason="MIS entry", now=T0)
        assert d.svc.approve(a.approval_id, user="trader", now=later(1)).ok
    put_tick(d.ticks, SBIN, 250.0, at=AFTER_CUTOFF)
    d.ticks.client.hdel(LATEST_KEY, INFY)  # INFY: no price, so run B records a refusal there first
    second = SecondRun()
    b = TradingService(None, d.store, d.svc.instruments, d.ticks, None, calendar=load_nse_calendar(),
                       config=TradingConfig(slippage_bps=D(0)), notifier=second)
    second.other = lambda: d.svc.square_off_mis(AFTER_CUTOFF)  # run A, on another "worker"
    b.square_off_mis(AFTER_CUTOFF)
    sbin = [o for o in d.store.list_orders() if o["tag"] == "SQUAREOFF" and o["instrument_token"] == SBIN]
    fees = [e for e in d.store.ledger_entries() if e["kind"] == "SQUARE_OFF_CHARGE" and e["instrument_token"] == SBIN]
    [pos] = [p for p in d.store.positions() if p["instrument_token"] == SBIN]
    say(f"1b. overlapping square-off runs: run A ran inside run B ({second.ran}); SBIN square-off orders "
        f"{[(o['approval_id'], o['side'], o['quantity'], o['status']) for o in sbin]}, fees {len(fees)}, "
        f"position {pos['quantity']}")
    assert second.ran and len(sbin) == 1 and len(fees) == 1 and pos["quantity"] == 0
    d.sql.dispose()
