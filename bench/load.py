"""Benchmark: the whole desk under load (issue 16 item 7).

For each session count (``--sessions 1,5,10,20``) a fresh desk starts the way ``make run`` does
(``tests.e2e.desk.running_desk``: launcher, replay, web, worker, ticker, clock, strategies, api),
with a ``--symbols``-instrument watchlist and the replay at ``--speed`` (one tick per instrument
per market second, so ``symbols × speed`` ticks/s are offered; 110 × 82 = 9,020; the session lasts
375 min / speed, about 4.5 min of wall time, start-up included). Then, for
``--seconds``:

* N headless Chromium sessions (one browser, N contexts) sit on Home; each records when its
  live watchlist fragment finishes a run. **Refresh latency** = the gap between consecutive
  finished runs of one session (the fragment reruns every second), p50/p99 over all sessions;
* this process proposes and approves ``--rate`` orders/s through the services (INFY, qty 1,
  MIS market buys) and watches the fills table: **approval→fill** = approve
  call to fill row visible, p99; **lost** = approvals approved but never filled within 30 s;
* the ticker's heartbeat is read every second: ticks/s reached, and the **ticker lag** = wall
  time since its last tick; **lag growth** = last third's mean lag minus the first third's (s);
* every desk process's CPU (% of one core, over the window) and peak RSS.

Targets: refresh p99 ≤ 2 s, approval→fill p99 ≤ 500 ms, lag growth ≤ 0.5 s (none beyond
sampling), nothing lost, the approval rate held (≥ 95 % of those sent taken), every Procfile
process ≤ 512 MB RSS (the replay is not deployed). The resident memory of every process (RSS,
PSS, USS) is printed once per desk before the load. The **limit** is the first session count
where a target fails. Prints PASS/FAIL per run and the load average (2 cores, shared).
``python bench/load.py [--sessions 1,5,10,20] [--seconds 45] [--rate 20] [--symbols 110] [--speed 82]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psutil  # noqa: E402

from desk_processes import DESK, desk_processes, memory_report, memory_table, name_of  # noqa: E402
from pages import RECORDER_JS  # noqa: E402
from tests.e2e.desk import launch_chromium, running_desk, wait_rendered  # noqa: E402

TARGET_REFRESH_P99_S, TARGET_FILL_P99_MS, TARGET_LAG_GROWTH_S, TARGET_RSS_MB = 2.0, 500.0, 0.5, 512.0
INFY = 408065
#: The processes a PaaS runs (the replay market is the local stand-in for Kite, not deployed).
PROCFILE = ("web", "worker", "ticker", "clock", "strategies", "api")


def pct(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0–1, nearest rank) of ``values``, ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def watchlist_symbols(n: int) -> list[str]:
    """``n`` NSE keys (INFY first) with recorded 1-minute bars on the replay's 09 Sep 2016 that the
    bundled instruments dump still lists."""
    from app.adapters import nse_data

    known = {r["tradingsymbol"] for r in nse_data.instrument_records() if r["segment"] == "NSE"}
    syms = sorted(set(nse_data.load_minute_bars(nse_data.EXTRA_MINUTE_FILE)["symbol"]) & known)
    stocks = [s for s in syms if not s.startswith(("NIFTY", "INDIA VIX"))]
    return [f"NSE:{s}" for s in ["INFY", *[s for s in stocks if s != "INFY"]][:n]]


@dataclass
class Run:
    sessions: int
    refresh: list[float] = field(default_factory=list)
    fills_ms: list[float] = field(default_factory=list)
    approved: int = 0
    refused: list[str] = field(default_factory=list)
    lost: int = 0
    offered: int = 0
    ticks_per_s: float = 0.0
    lag: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    market: str = ""

    @property
    def lag_growth(self) -> float | None:
        third = len(self.lag) // 3
        if third < 2:
            return None
        return statistics.mean(self.lag[-third:]) - statistics.mean(self.lag[:third])

    def verdicts(self) -> dict[str, bool]:
        p99r, p99f, growth = pct(self.refresh, 0.99), pct(self.fills_ms, 0.99), self.lag_growth
        return {
            "refresh p99 ≤ 2 s": p99r is not None and p99r <= TARGET_REFRESH_P99_S,
            "approval→fill p99 ≤ 500 ms": p99f is not None and p99f <= TARGET_FILL_P99_MS,
            "ticker lag growth 0": growth is not None and growth <= TARGET_LAG_GROWTH_S,
            "nothing lost": self.lost == 0 and not self.refused and self.approved > 0,
            "the approval rate held": self.approved >= 0.95 * self.offered > 0,
            "every Procfile process ≤ 512 MB": bool(self.rss) and max(
                v for k, v in self.rss.items() if k in PROCFILE) <= TARGET_RSS_MB,
        }


class Approver(threading.Thread):
    """Proposes and approves ``rate`` orders/s through the desk's services until ``stop``;
    records approve-call → fill-visible latency per order (ms)."""

    def __init__(self, svc, rate: float, stop: threading.Event, run: Run) -> None:
        super().__init__(daemon=True)
        self.svc, self.rate, self.stop, self.run_ = svc, rate, stop, run
        self.sent: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self._done = False

    def run(self) -> None:  # noqa: D401 - Thread API
        from concurrent.futures import ThreadPoolExecutor

        watcher = threading.Thread(target=self._watch, daemon=True)
        watcher.start()
        start, i = time.time(), 0
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="approver")  # the rate, not one call's time
        while not self.stop.is_set():
            time.sleep(max(0.0, start + i / self.rate - time.time()))
            i += 1
            pool.submit(self._one)
        pool.shutdown(wait=True, cancel_futures=True)  # what the desk could not take in time is not sent
        self.run_.offered = i
        deadline = time.time() + 30
        while time.time() < deadline and not set(self.sent) <= set(self.seen):
            time.sleep(0.1)
        self._done = True
        watcher.join(timeout=2)
        self.run_.fills_ms = [(self.seen[o] - t) * 1000 for o, t in self.sent.items() if o in self.seen]
        self.run_.lost = sum(1 for o in self.sent if o not in self.seen)

    def _one(self) -> None:
        """Propose and approve one INFY MIS market buy (a SELL right after a BUY is a wash
        trade the gatekeeper refuses) at market time; a refusal or error is counted."""
        from core.orders import OrderIntent, OrderType, Product, Side

        trading, clock = self.svc.trading, self.svc.market_clock
        try:
            ltp = self.svc.ticks.latest([INFY]).get(INFY)
            price = Decimal(str(ltp.tick.last_price)) if ltp else Decimal("1000")
            view = trading.propose(OrderIntent(INFY, "INFY", Side.BUY, 1, Product.MIS, OrderType.MARKET),
                                   signal_price=price, reason="load bench", source="bench", ttl_seconds=86_400,
                                   now=clock.now().now)
            t0 = time.time()
            out = trading.approve(view.approval_id, user="bench", now=clock.now().now)
        except Exception as exc:  # noqa: BLE001 - counted as refused, reported
            self.run_.refused.append(f"{type(exc).__name__}: {exc}"[:160])
            return
        if not out.ok:
            self.run_.refused.append("; ".join(out.messages)[:160])
            return
        self.sent[out.order_id] = t0
        self.run_.approved += 1

    def _watch(self) -> None:
        from sqlalchemy import select

        from app.adapters.trading_store import schema as t

        engine, query = self.svc.trading.store.engine, select(t.fills.c.order_id)
        while not self._done:
            with engine.connect() as conn:
                ids = conn.execute(query).scalars().all()
            now = time.time()
            for order_id in ids:
                self.seen.setdefault(order_id, now)
            time.sleep(0.005)


def _sample(procs: dict[str, list[psutil.Process]], run: Run) -> None:
    for name, plist in procs.items():
        if name not in DESK:
            continue
        rss = 0.0
        for p in plist:
            try:
                rss = max(rss, p.memory_info().rss / 1e6)
            except psutil.NoSuchProcess:
                pass
        run.rss[name] = max(run.rss.get(name, 0.0), rss)


def one_run(sessions: int, args: argparse.Namespace) -> Run:
    from playwright.sync_api import sync_playwright

    run = Run(sessions)
    # market time runs ``speed`` × the wall clock: the fresh-tick rule's 30 s of market time would
    # be 0.3 s of wall time at 100×, so it is scaled to 30 s of wall time
    env = {"DESK_WATCHLIST": ",".join(watchlist_symbols(args.symbols)), "DESK_REPLAY_SPEED": str(args.speed),
           "DESK_REPLAY_DATE": "2016-09-09", "DESK_MAX_TICK_AGE_SECONDS": str(min(3600, 30 * args.speed))}
    with running_desk(Path(tempfile.mkdtemp(prefix="paperdesk-load-")), env) as desk:
        launcher = next(c for c in psutil.Process().children() if name_of(c) == "launcher")
        ticker = desk_processes(launcher.pid)["ticker"][0]
        os.environ.update(ticker.environ())  # the desk's Redis, store, replay port and settings
        from app.container import reset_services, services

        reset_services()
        svc = services()
        svc.trading.save_risk_limits({"max_orders_per_day": 100_000, "max_orders_per_symbol_per_day": 100_000,
                                      "wash_trade_minutes": 0, "max_order_notional": "100000000"}, user="bench")
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            pages = []
            for _ in range(sessions):
                page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                page.add_init_script(RECORDER_JS)
                page.goto(desk.url, wait_until="domcontentloaded", timeout=180_000)
                pages.append(page)
            for page in pages:
                wait_rendered(page, "Home", timeout_ms=180_000)
            time.sleep(3)
            print(f"\n== {sessions} session(s): memory before the load\n{memory_report(memory_table(launcher.pid))}",
                  flush=True)
            procs = desk_processes(launcher.pid)
            for plist in procs.values():
                for p in plist:
                    p.cpu_percent(None)
            marks = [page.evaluate("performance.now()") for page in pages]
            stop = threading.Event()
            approver = Approver(svc, args.rate, stop, run)
            approver.start()
            first, market_from = svc.ticks.status(), svc.market_clock.now().now
            t_first, end = time.time(), time.time() + args.seconds
            while time.time() < end:
                status = svc.ticks.status()
                if status is not None and status.last_tick_at is not None:
                    run.lag.append((datetime.now(UTC) - status.last_tick_at).total_seconds())
                _sample(procs, run)
                time.sleep(1.0)
            last = svc.ticks.status()
            from core.timeutil import IST

            market_to = svc.market_clock.now().now
            run.market = f"{market_from.astimezone(IST):%H:%M}–{market_to.astimezone(IST):%H:%M} IST market time"
            if first is not None and last is not None:
                run.ticks_per_s = (last.ticks_total - first.ticks_total) / max(time.time() - t_first, 1e-9)
            for name, plist in procs.items():
                if name in DESK:
                    run.cpu[name] = sum(_cpu(p) for p in plist)
            for page, mark in zip(pages, marks, strict=True):
                done = page.evaluate("s => (window.__states || []).filter(([st, t]) => st === 'notRunning' && t >= s)"
                                     ".map(([st, t]) => t)", mark)
                run.refresh += [(b - a) / 1000.0 for a, b in zip(done, done[1:], strict=False)]
            stop.set()
            approver.join()
            run.load = os.getloadavg()
            browser.close()
        reset_services()
    return run


def _cpu(p: psutil.Process) -> float:
    try:
        return p.cpu_percent(None)
    except psutil.NoSuchProcess:
        return 0.0


def report(run: Run) -> str:
    def f(v: float | None, unit: str, scale: float = 1.0) -> str:
        return "n/a" if v is None else f"{v * scale:.2f} {unit}"

    growth = run.lag_growth
    lines = [
        f"-- {run.sessions} session(s), load average {run.load[0]:.2f} {run.load[1]:.2f} {run.load[2]:.2f} (2 cores), "
        f"{run.market} (MIS entries stop at 15:20: a later window is not the stated load)",
        f"   watchlist refresh: p50 {f(pct(run.refresh, 0.5), 's')}, p99 {f(pct(run.refresh, 0.99), 's')} "
        f"({len(run.refresh)} refreshes)",
        f"   approval→fill: p50 {f(pct(run.fills_ms, 0.5), 'ms')}, p99 {f(pct(run.fills_ms, 0.99), 'ms')}; "
        f"{run.offered} sent, {run.approved} approved, {len(run.fills_ms)} filled, {run.lost} not filled 30 s later, "
        f"{len(run.refused)} refused"
        + (f" (first: {run.refused[0]})" if run.refused else ""),
        f"   ticker: {run.ticks_per_s:,.0f} ticks/s; lag (wall time since last tick) mean "
        f"{f(statistics.mean(run.lag) if run.lag else None, 's')}, growth {f(growth, 's')}",
        "   CPU % of a core / peak RSS MB: " + ", ".join(
            f"{n} {run.cpu.get(n, 0):.0f}%/{run.rss.get(n, 0):.0f}" for n in DESK if n in run.rss),
    ]
    lines += [f"   {'PASS' if ok else 'FAIL'} {name}" for name, ok in run.verdicts().items()]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="1,5,10,20", help="comma-separated session counts, 1 first (the peer)")
    ap.add_argument("--seconds", type=float, default=45.0, help="seconds of load per session count")
    ap.add_argument("--rate", type=float, default=20.0, help="approvals per second")
    ap.add_argument("--symbols", type=int, default=110, help="watchlist size (instruments streamed, at most 111)")
    ap.add_argument("--speed", type=float, default=82.0, help="replay speed (ticks/s = symbols × speed)")
    ap.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)  # one count, in a fresh process
    args = ap.parse_args()
    if args.one:
        run = one_run(args.one, args)
        print(report(run), flush=True)
        print("RESULT " + json.dumps({"ok": all(run.verdicts().values()), "refresh_p99": pct(run.refresh, 0.99),
                                      "fill_p99": pct(run.fills_ms, 0.99)}), flush=True)
        return 0
    counts = [int(x) for x in args.sessions.split(",") if x.strip()]
    print(f"load bench: sessions {counts}, {args.seconds:.0f} s each, {args.rate:g} approvals/s, "
          f"{args.symbols} instruments × speed {args.speed:g} = {args.symbols * args.speed:,.0f} ticks/s offered")
    results: dict[int, dict] = {}
    limit = None
    for n in counts:  # each count in its own process: a fresh service graph, broker and Redis client
        cmd = [sys.executable, __file__, "--one", str(n), "--seconds", str(args.seconds), "--rate", str(args.rate),
               "--symbols", str(args.symbols), "--speed", str(args.speed)]
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        result = None
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                result = json.loads(line.removeprefix("RESULT "))
            elif not line.startswith(("honcho", "redis")):
                print(line, flush=True)
        if result is None:
            why = [line for line in proc.stderr.splitlines() if line.strip() and "WARNING" not in line][-3:]
            print(f"-- {n} session(s): the run broke (exit {proc.returncode}): {' / '.join(why)[-600:]}; "
                  f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
            limit = limit or n
            break
        results[n] = result
        if limit is None and not result["ok"]:
            limit = n
    base = results.get(counts[0])
    for n, r in results.items():
        if base and n != counts[0] and base["refresh_p99"] and r["refresh_p99"]:
            ratio_fill = (r["fill_p99"] / base["fill_p99"]) if base["fill_p99"] and r["fill_p99"] else None
            print(f"{n} sessions vs {counts[0]}: refresh p99 ×{r['refresh_p99'] / base['refresh_p99']:.2f}, "
                  f"approval→fill p99 " + (f"×{ratio_fill:.2f}" if ratio_fill else "n/a"))
    print("limit: " + (f"a target first fails at {limit} session(s)" if limit else
                       f"every target held up to {counts[-1]} session(s)"))
    print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    print("PASS" if limit is None else "FAIL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
