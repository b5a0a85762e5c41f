"""Tick ingest benchmark: replay server → real KiteTicker → TickerService → real Redis.

    python bench/tick_ingest.py [--instruments 3000] [--connections 3] [--seconds 20]

Starts a throwaway ``redis-server`` and the replay server (``--fill-unrecorded --speed 1``: one
full-mode tick per instrument per second), opens ``--connections`` real ``kiteconnect.KiteTicker``
sockets of ``--instruments`` tokens each in one Twisted reactor, and feeds every binary message
into :class:`app.market.ticker_ingest.TickerService` (decode → one-round-trip Redis write →
1-minute bars → bar-closed events; the SQL bar sink is off unless ``--store``).

Measured:

* **ticks/s sustained**: per connection, packets of the 2nd..last frame of the measured window
  over the time from its 1st to last frame, summed over connections.
* **tick-to-cache latency**: from the moment autobahn hands the complete WebSocket message to
  ``on_message`` (the earliest point the client exposes after the socket read) until Redis has
  acknowledged the frame's pipeline (``TickCache.write_frame`` returned); weighted per tick.
* **keep-up check**: median of (wall clock − exchange_timestamp) in the first vs last quarter of
  the window; a growing lag means frames are queuing before ``on_message``.
* **peer**: on the same captured frames, kiteconnect's own ``KiteTicker._parse_binary`` (parse
  only) vs our ``decode_frame`` + ``TickCache.write_frame`` (parse plus the Redis write).

* **alerts** (``--alerts N``, default 1,000; 0 for none): the live path above runs with ``N``
  active alerts in the ticker's hook (``app.market.alerts.TickerAlerts`` over
  ``core.alerts.AlertEvaluator``; spread over the subscribed tokens, every attribute and operator,
  one in ten against another instrument, none of them firing, so the whole set is evaluated on
  every frame). On the captured frames, decode + cache write is then timed without and with
  the hook, interleaved, best of 9 each, and the ratio printed.

Targets (issue): sustain 9,000 ticks/s with p99 tick-to-cache < 50 ms; parse-plus-cache ≥ 4×
kiteconnect's parse rate; the same with 1,000 active alerts (issue 15), which cost at most 10 %
of the decode + cache throughput. Prints PASS/FAIL per target; exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

API_KEY, API_SECRET = "bench-key", "bench-secret"


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="tick ingest benchmark")
    p.add_argument("--instruments", type=int, default=3000, help="instruments per connection (<= 3000)")
    p.add_argument("--connections", type=int, default=3, help="WebSocket connections (<= 3)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured window")
    p.add_argument("--warmup", type=float, default=6.0, help="seconds before the window opens")
    p.add_argument("--capture", type=int, default=10, help="frames per connection kept for the peer test")
    p.add_argument("--date", default="2016-08-17")
    p.add_argument("--store", action="store_true", help="also upsert closed bars into a temp SQLite store")
    p.add_argument("--alerts", type=int, default=1000, help="active alerts in the ticker's hook (0: none)")
    return p.parse_args()


def _login(rest: str):
    import requests
    from kiteconnect import KiteConnect

    r = requests.get(f"{rest}/connect/login", params={"api_key": API_KEY, "v": 3}, allow_redirects=False, timeout=10)
    token = parse_qs(urlsplit(r.headers["location"]).query)["request_token"][0]
    kite = KiteConnect(API_KEY, root=rest)
    kite.generate_session(token, api_secret=API_SECRET)
    return kite


def _weighted_pct(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w) / w.sum()
    return float(v[min(np.searchsorted(cum, q / 100.0), len(v) - 1)])


def _bench_alerts(count: int, tokens: list[int]) -> list:
    """``count`` enabled alerts over ``tokens`` that never fire (so each frame evaluates them all)."""
    from core import alerts as al

    attrs = list(al.Attribute)
    ops = [al.Operator.GE, al.Operator.GT, al.Operator.EQ]
    out = []
    for i in range(count):
        token = tokens[i % len(tokens)]
        attr, op = attrs[i % len(attrs)], ops[i % len(ops)]
        if i % 10 == 9:  # instrument vs instrument: change % above the other's day volume
            other = tokens[(i + 1) % len(tokens)]
            out.append(al.Alert(f"AL-b{i}", "bench", token, "X", al.Attribute.CHANGE_PCT, al.Operator.GT,
                                rhs_token=other, rhs_tradingsymbol="Y", rhs_attribute=al.Attribute.VOLUME))
        else:
            value = 99.0 if attr is al.Attribute.CHANGE_PCT else 1e12
            out.append(al.Alert(f"AL-b{i}", "bench", token, "X", attr, op, value))
    return out


def _alerts_ratio(frames: list[bytes], client, hook) -> tuple[float, float]:
    """ticks/s of decode + cache write without and with ``hook``, interleaved, best of 9 each."""
    from app.adapters.tick_cache import TickCache
    from core.tick_batch import decode_frame

    cache = TickCache(client)
    packets = sum(len(decode_frame(f)) for f in frames)
    best = {False: float("inf"), True: float("inf")}
    for _ in range(9):
        for with_alerts in (False, True):
            now = datetime.now(UTC)
            t = time.perf_counter()
            for f in frames:
                batch = decode_frame(f)
                cache.write_frame(batch, now)
                if with_alerts:
                    hook(batch, now)
            best[with_alerts] = min(best[with_alerts], time.perf_counter() - t)
    return packets / best[False], packets / best[True]


def main() -> int:
    a = _args()
    if not (1 <= a.instruments <= 3000 and 1 <= a.connections <= 3):
        print("--instruments must be 1..3000 and --connections 1..3 (Kite's limits)", file=sys.stderr)
        return 2
    from tests.servers import free_port, run_redis, wait_port

    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    with run_redis(tmp / "redis") as (redis_url, _):
        port = free_port()
        env = dict(os.environ, DESK_REPLAY_API_KEY=API_KEY, DESK_REPLAY_API_SECRET=API_SECRET, PYTHONPATH=str(ROOT))
        log = open(tmp / "replay.log", "wb")
        replay = subprocess.Popen([sys.executable, "-m", "workers.replay", "--date", a.date, "--speed", "1",
                                   "--port", str(port), "--fill-unrecorded"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            wait_port(port, timeout=90)
            return _run(a, redis_url, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", tmp)
        finally:
            replay.terminate()
            replay.wait(timeout=20)
            log.close()


def _run(a, redis_url: str, rest: str, ws_root: str, tmp: Path) -> int:
    from kiteconnect import KiteTicker
    from twisted.internet import reactor

    from app.adapters.redis_client import redis_client
    from app.adapters.tick_cache import TickCache
    from app.market.ticker_ingest import TickerService
    from core.tick_batch import decode_frame

    kite = _login(rest)
    eq = [i["instrument_token"] for i in kite.instruments("NSE") if i.get("segment") == "NSE"]  # tradable equities
    need = a.instruments * a.connections
    distinct = min(need, len(eq))
    tokens = [eq[i % len(eq)] for i in range(need)]
    print(f"bench tick_ingest: {a.connections} connection(s) x {a.instruments} instruments (full mode), "
          f"replay {a.date} at speed 1 with --fill-unrecorded; {distinct} distinct tokens (repeated across connections when fewer exist); Redis {redis_url}")

    stamps: list[tuple[int, float, float, int, float]] = []  # (conn, t_recv, latency_s, n, wall-ets)
    captured: list[list[bytes]] = [[] for _ in range(a.connections)]
    window = {"open": False}

    class TimedCache(TickCache):
        """Records when Redis acknowledged each frame write."""

        last_ack = 0.0

        def write_frame(self, batch, received_at):
            n = super().write_frame(batch, received_at)
            TimedCache.last_ack = time.perf_counter()
            return n

    client = redis_client(redis_url)
    cache = TimedCache(client)
    sink = None
    if a.store:
        from app.adapters.store import SqlStore

        sink = SqlStore(f"sqlite:///{tmp / 'bench.db'}").bars.upsert
    hook = None
    if a.alerts > 0:
        from app.market.alerts import TickerAlerts

        bench_alerts = _bench_alerts(a.alerts, sorted(set(tokens)))
        fired: list = []
        hook = TickerAlerts(lambda: bench_alerts, lambda: 0, fired.append)
        hook.refresh(force=True)
        print(f"alerts: {len(hook.evaluator):,} active alerts on {len({t for x in bench_alerts for t in x.tokens}):,} "
              "tokens in the ticker's hook")
    service = TickerService(cache, market="replay", bar_sink=sink, background_bars=True, alerts=hook)

    tickers = []
    for c in range(a.connections):
        mine = tokens[c * a.instruments:(c + 1) * a.instruments]
        kws = KiteTicker(API_KEY, kite.access_token, root=ws_root, reconnect=False)
        kws.on_ticks = None

        def on_connect(ws, _resp, mine=mine):
            ws.subscribe(mine)
            ws.set_mode(ws.MODE_FULL, mine)

        def on_message(ws, payload, is_binary, c=c):
            t0 = time.perf_counter()
            wall = time.time()
            res = service.feed(payload, datetime.now(UTC), is_binary)
            if not is_binary or res.ticks == 0:
                return
            if len(payload) > 1000 and len(captured[c]) < a.capture:
                captured[c].append(bytes(payload))
            if window["open"]:
                ets = int.from_bytes(payload[4 + 60:4 + 64], "big") if len(payload) >= 68 else 0
                stamps.append((c, t0, TimedCache.last_ack - t0, res.ticks, wall - ets if ets else np.nan))

        kws.on_connect = on_connect
        kws.on_message = on_message
        tickers.append(kws)

    def connect_all():
        for kws in tickers:
            kws.connect()  # the reactor is running: this only opens the socket

    def open_window():
        window["open"] = True

    reactor.callWhenRunning(connect_all)
    reactor.callLater(a.warmup, open_window)
    reactor.callLater(a.warmup + a.seconds, reactor.stop)
    reactor.run(installSignalHandlers=False)
    service.close()

    if not stamps:
        print("FAIL: no frames were received in the measured window (see the replay log)", file=sys.stderr)
        return 1
    conn = np.array([s[0] for s in stamps])
    t_recv = np.array([s[1] for s in stamps])
    lat = np.array([s[2] for s in stamps]) * 1e3
    n = np.array([s[3] for s in stamps], dtype=float)
    lag = np.array([s[4] for s in stamps])
    rate = 0.0
    for c in range(a.connections):
        m = conn == c
        if m.sum() >= 2:
            rate += n[m][1:].sum() / (t_recv[m][-1] - t_recv[m][0])
    p50, p99 = _weighted_pct(lat, n, 50), _weighted_pct(lat, n, 99)
    q = max(1, len(lag) // 4)
    lag_growth = float(np.nanmedian(lag[-q:]) - np.nanmedian(lag[:q]))
    offered = a.instruments * a.connections
    print(f"\nmeasured window {a.seconds:.0f} s: {int(n.sum())} ticks in {len(n)} frames "
          f"(median {int(np.median(n))} ticks/frame); malformed frames {service.malformed_total}; "
          f"bars closed {service.bars_total}")
    print(f"ticks/s sustained          : {rate:,.0f}  (offered {offered:,}/s)")
    print(f"tick-to-cache latency (ms) : p50 {p50:.2f}  p99 {p99:.2f}  max {lat.max():.2f}  "
          "[on_message entry -> Redis ack of the frame's HSET+XADD pipeline]")
    print("slowest frames (ms):", np.round(np.sort(lat)[-6:], 1), "fastest:", np.round(np.sort(lat)[:3], 1))
    print(f"keep-up: lag (wall - exchange_timestamp) grew {lag_growth:+.2f} s over the window")

    frames = [f for per in captured for f in per]
    packets = sum(len(decode_frame(f)) for f in frames)
    kt = KiteTicker("k", "t")
    t = time.perf_counter()
    for f in frames:
        kt._parse_binary(f)
    kite_s = time.perf_counter() - t
    bench_cache = TickCache(client)
    now = datetime.now(UTC)
    t = time.perf_counter()
    for f in frames:
        bench_cache.write_frame(decode_frame(f), now)
    ours_s = time.perf_counter() - t
    kite_rate, ours_rate = packets / kite_s, packets / ours_s
    ratio = ours_rate / kite_rate
    print(f"\npeer, same {len(frames)} captured frames ({packets} packets):")
    print(f"  kiteconnect KiteTicker._parse_binary (parse only) : {kite_rate:,.0f} ticks/s")
    print(f"  core.tick_batch.decode_frame + TickCache.write_frame: {ours_rate:,.0f} ticks/s")
    print(f"  ratio: {ratio:.1f}x")

    alert_rows = []
    if hook is not None:
        plain, with_alerts = _alerts_ratio(frames, client, hook)
        alert_ratio = with_alerts / plain
        print(f"\nalerts, same {len(frames)} captured frames, {len(hook.evaluator):,} active alerts "
              f"({hook.triggers_total} fired during the run):")
        print(f"  decode_frame + write_frame          : {plain:,.0f} ticks/s")
        print(f"  decode_frame + write_frame + alerts : {with_alerts:,.0f} ticks/s")
        print(f"  ratio with/without alerts: {alert_ratio:.2f}x")
        alert_rows = [(f"{a.alerts:,} alerts cost <= 10% of decode+cache", alert_ratio >= 0.90,
                       f"{alert_ratio:.2f}x")]

    target_rate = 9000 if offered >= 9000 else offered
    suffix = f" (with {a.alerts:,} alerts)" if hook is not None else ""
    rows = [
        (f"sustain {target_rate:,} ticks/s{suffix}", rate >= target_rate * 0.99 and lag_growth < 1.0,
         f"{rate:,.0f}/s, lag growth {lag_growth:+.2f} s"),
        (f"p99 tick-to-cache < 50 ms{suffix}", p99 < 50.0, f"{p99:.2f} ms"),
        ("parse+cache >= 4x kiteconnect parse", ratio >= 4.0, f"{ratio:.1f}x"),
        *alert_rows,
    ]
    print()
    for name, ok, got in rows:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {got}")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
