"""Benchmark: the ``api`` process's quote and order-book reads and approval proposals, against a
bare Starlette handler returning the same JSON, measured side by side in one run.

Starts a throwaway ``redis-server`` and a SQLite store (the default desk), seeds the bundled
instruments, caches a tick for INFY/SBIN/TCS and fills a small order book (20 orders through the
gatekeeper and the paper broker), then for 1 and 4 uvicorn workers:

* the desk: ``python -m app.api --workers N`` (the Procfile's ``api`` process);
* the peer: Starlette as its docs write it, a ``Route`` per path returning a ``JSONResponse`` of
  the desk's own answer (fetched once), served by uvicorn with N workers through the same
  ``app.api.serving.serve`` as the desk (no access log): the cost of HTTP, the event loop and
  JSON alone, with no auth, no rate limit, no Redis and no store. Plain ``uvicorn --workers N``
  (0.54) would add ~40 ms to every keep-alive answer of both sides (its shared socket loses
  ``TCP_NODELAY``, Kludex/uvicorn#3149); ``serve`` binds it as TCP, so neither side pays it.

Each call (``GET /api/v1/quote?symbols=NSE:INFY,NSE:SBIN,NSE:TCS``, ``GET /api/v1/orders``,
``POST /api/v1/orders/propose``: auth, rate-limit permit, risk preview, one approval + risk
decision + audit row written) is driven by an ``httpx.AsyncClient`` under both load models,
for ``--seconds`` each:

* open loop: requests sent on a fixed schedule of ``--rate`` per second whether or not the
  earlier ones were answered (the target's "at 200 req/s": a server that falls behind meets a
  growing queue, as it would from independent clients);
* closed loop: ``--concurrency`` clients back to back (the most the server completes).

Latency is from send to the last byte of the answer; a request not answered within 10 s, or
answered with another status than 200/201, counts as an error.

Targets (issue 18), each judged on the load model it names: reads p99 < 50 ms open-loop at
200 req/s (and served at that rate); proposals ≥ 200/s closed-loop. Prints PASS/FAIL per target
and worker count, with the desk/peer ratios and the load average; exits 0 unless something
broke. The client shares the machine with the servers, so on a small box it takes part of
their CPU: the peer pays the same tax, hence the ratios.

``python bench/api.py [--seconds 5] [--rate 200] [--concurrency 16] [--workers 1,4]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUOTE = "/api/v1/quote?symbols=NSE:INFY,NSE:SBIN,NSE:TCS"
ORDERS = "/api/v1/orders"
PROPOSE = "/api/v1/orders/propose"
TCS = 2953217
PROPOSAL = {"symbol": "NSE:INFY", "side": "BUY", "quantity": 1, "reason": "bench proposal"}
READ_P99_MS = 50.0
PROPOSALS_PER_S = 200.0
#: A request not answered within this many seconds counts as an error (an overloaded server).
REQUEST_TIMEOUT_S = 10.0


# ---------------------------------------------------------------------------------- the peer


def peer_app():
    """The bare Starlette peer (uvicorn ``--factory``): the same paths, the desk's answers
    (read from the JSON file named by ``BENCH_PEER_JSON``), nothing else."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    answers = json.loads(Path(os.environ["BENCH_PEER_JSON"]).read_text())

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def quote(request: Request) -> JSONResponse:
        return JSONResponse(answers["quote"])

    async def orders(request: Request) -> JSONResponse:
        return JSONResponse(answers["orders"])

    async def propose(request: Request) -> JSONResponse:
        await request.json()  # the desk parses the body too
        return JSONResponse(answers["propose"], status_code=201)

    return Starlette(routes=[
        Route("/api/v1/health", health),
        Route("/api/v1/quote", quote),
        Route("/api/v1/orders", orders),
        Route("/api/v1/orders/propose", propose, methods=["POST"]),
    ])


# ---------------------------------------------------------------------------------- set-up


def _free_port() -> int:
    from tests.servers import free_port

    return free_port()


def _wait(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode}; log:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not healthy after {timeout:.0f} s; log:\n{log.read_text()[-3000:]}")


@contextmanager
def serve(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """Run ``cmd`` (which listens on ``{port}``) and yield its base URL once healthy."""
    port = _free_port()
    argv = [c.replace("{port}", str(port)) for c in cmd]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def seed_desk(svc) -> None:
    """Instruments, a tick for INFY/SBIN/TCS at a session time, and 20 filled BUY orders (1 share each)."""
    from core.orders import OrderIntent, OrderType, Product, Side
    from tests.fixtures_store import seed_instruments
    from tests.fixtures_trading import INFY, SBIN, T0, put_tick

    seed_instruments(svc.sql)
    for token, ltp in ((INFY, 1000.0), (SBIN, 250.0), (TCS, 2500.0)):
        put_tick(svc.ticks, token, ltp)
    for i in range(20):
        token, symbol = ((INFY, "INFY"), (SBIN, "SBIN"), (TCS, "TCS"))[i % 3]
        intent = OrderIntent(token, symbol, Side.BUY, 1, Product.MIS, OrderType.MARKET)
        out = svc.trading.place_manual(intent, user="bench", now=T0)
        if not out.ok:
            raise SystemExit(f"seeding the order book failed: {out.messages}")
        svc.trading.execute_approval(out.approval_id, now=T0)


# ---------------------------------------------------------------------------------- load


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def _send(client, method: str, path: str, body: dict | None):
    return await (client.get(path) if method == "GET" else client.post(path, json=body))


def _ok(method: str, status: int) -> bool:
    return status == (200 if method == "GET" else 201)


def _result(n: int, elapsed: float, latencies: list[float], errors: int) -> dict:
    return dict(n=n, rps=n / elapsed, p50=_pct(latencies, 50), p99=_pct(latencies, 99), errors=errors)


async def open_loop(url: str, method: str, path: str, headers: dict, body: dict | None, rate: float,
                    seconds: float) -> dict:
    """``method`` ``path`` at a fixed ``rate``/s for ``seconds``: each request is sent on its
    schedule whether or not the earlier ones were answered (open loop), and its latency runs
    from its scheduled slot (a send the client made late, or queued for a connection, counts:
    no coordinated omission). ``rps`` is the rate they were answered at (below ``rate`` when
    the server fell behind)."""
    import httpx

    n = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S,
                                 limits=httpx.Limits(max_connections=32, max_keepalive_connections=32)) as client:
        await _send(client, method, path, body)  # warm the connection and the handler

        loop = asyncio.get_running_loop()

        async def one(due: float) -> None:
            nonlocal errors
            try:
                r = await _send(client, method, path, body)
            except httpx.HTTPError:
                errors += 1
                return
            latencies.append((loop.time() - due) * 1000)  # from its slot: a late send counts too
            errors += not _ok(method, r.status_code)

        start = loop.time() + 0.05
        tasks = []
        for i in range(n):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
    return _result(n, elapsed, latencies, errors)


async def closed_loop(url: str, method: str, path: str, headers: dict, body: dict | None, concurrency: int,
                      seconds: float) -> dict:
    """``method`` ``path`` from ``concurrency`` clients back to back for ``seconds`` (closed
    loop: the most the server completes; latency then includes no queue beyond the clients')."""
    import httpx

    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S,
                                 limits=httpx.Limits(max_connections=concurrency + 4)) as client:
        await _send(client, method, path, body)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    r = await _send(client, method, path, body)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - t) * 1000)
                errors += not _ok(method, r.status_code)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return _result(len(latencies), elapsed, latencies, errors)


# ---------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds per measurement")
    ap.add_argument("--rate", type=float, default=200.0, help="read requests offered per second")
    ap.add_argument("--concurrency", type=int, default=16, help="concurrent proposal clients")
    ap.add_argument("--workers", default="1,4", help="uvicorn worker counts, comma-separated")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally blocks: stop the servers

    from tests.servers import run_redis

    tmp = Path(tempfile.mkdtemp(prefix="paperdesk-bench-api-"))
    with run_redis(tmp / "redis") as (redis_url, _redis):
        env_vars = {"DATABASE_URL": f"sqlite:///{tmp / 'desk.db'}", "REDIS_URL": redis_url,
                    "DESK_STATE_DIR": str(tmp / "state"), "DESK_REPLAY_PORT": str(_free_port()),
                    "TZ": "Asia/Kolkata", "DESK_ENV": "test"}
        (tmp / "state").mkdir()
        os.environ.update(env_vars)
        os.environ.pop("SUPABASE_URL", None)
        from app.container import services

        svc = services()
        seed_desk(svc)
        env = {**os.environ, **env_vars, "DESK_ENV": "dev", "DESK_LOG_FORMAT": "text", "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": str(ROOT)}
        rows: list[tuple] = []
        for workers in counts:
            def key() -> dict:  # a fresh key per measurement: its own 60,000/min budget
                token = svc.api_keys.create("bench", ("read", "propose"), now=datetime.now(UTC),
                                            rate_per_minute=60_000, label="bench").token
                return {"Authorization": f"Bearer {token}"}

            desk_cmd = [sys.executable, "-m", "app.api", "--port", "{port}", "--workers", str(workers)]
            with serve(desk_cmd, env, tmp / f"api-{workers}.log") as desk_url:
                import httpx

                with httpx.Client(base_url=desk_url, headers=key(), timeout=30) as c:
                    answers = {"quote": c.get(QUOTE).json(), "orders": c.get(ORDERS).json(),
                               "propose": c.post(PROPOSE, json=PROPOSAL).json()}
                if len(answers["orders"]) != 20 or "approval_id" not in answers["propose"]:
                    raise SystemExit(f"unexpected desk answers: {str(answers)[:600]}")
                peer_file = tmp / "peer.json"
                peer_file.write_text(json.dumps(answers))
                peer_cmd = [sys.executable, "-c", "from app.api.serving import serve; serve('bench.api:peer_app', "
                            f"host='127.0.0.1', port={{port}}, workers={workers})"]
                with serve(peer_cmd, {**env, "BENCH_PEER_JSON": str(peer_file)},
                           tmp / f"peer-{workers}.log") as peer_url:
                    calls = (("quote", "GET", QUOTE, None), ("order book", "GET", ORDERS, None),
                             ("propose", "POST", PROPOSE, PROPOSAL))
                    for what, method, path, body in calls:
                        for mode in ("open", "closed"):
                            for name, url in (("desk", desk_url), ("peer", peer_url)):
                                if mode == "open":
                                    r = asyncio.run(open_loop(url, method, path, key(), body, args.rate,
                                                              args.seconds))
                                else:
                                    r = asyncio.run(closed_loop(url, method, path, key(), body,
                                                                args.concurrency, args.seconds))
                                rows.append((workers, what, mode, name, r))
        svc.sql.dispose()

    report(rows, counts, args)
    return 0


def report(rows: list[tuple], counts: list[int], args: argparse.Namespace) -> None:
    """The table (every call, both load models, desk and peer) and a PASS/FAIL line per target.

    The targets are judged on the load model they name: reads "p99 < 50 ms at 200 req/s" on the
    open-loop run (requests sent on a fixed schedule whether or not earlier ones were answered,
    so a slow server meets a growing queue, as it would from real clients), which must also
    have been served at that rate; proposals "≥ 200/s" on the closed-loop run (the most the
    server completes with ``--concurrency`` clients back to back)."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nPaperDesk api vs a bare Starlette handler (same JSON), {args.seconds:g} s each; open-loop at "
          f"{args.rate:g} req/s (fixed schedule), closed-loop × {args.concurrency} clients back to back; "
          f"{os.cpu_count()} CPUs, load average {load}")
    print(f"{'workers':>7}  {'call':<10}  {'load':<6}  {'server':<6}  {'req/s':>8}  {'p50 ms':>8}  "
          f"{'p99 ms':>8}  {'errors':>6}")
    for workers, what, mode, name, r in rows:
        print(f"{workers:>7}  {what:<10}  {mode:<6}  {name:<6}  {r['rps']:>8.1f}  {r['p50']:>8.2f}  "
              f"{r['p99']:>8.2f}  {r['errors']:>6}")
    print()
    by = {(w, what, mode, name): r for w, what, mode, name, r in rows}
    for workers in counts:
        for what in ("quote", "order book", "propose"):
            mode = "closed" if what == "propose" else "open"
            d, p = by[(workers, what, mode, "desk")], by[(workers, what, mode, "peer")]
            ratio = f"desk/peer p50 {d['p50'] / p['p50']:.1f}×, p99 {d['p99'] / p['p99']:.1f}×"
            if what == "propose":
                ratio += f", throughput {d['rps'] / p['rps']:.2f}× the peer's {p['rps']:.0f}/s"
                ok = d["rps"] >= PROPOSALS_PER_S and not d["errors"]
                target = f"closed-loop ≥ {PROPOSALS_PER_S:g}/s: {d['rps']:.0f}/s"
            else:
                kept_up = d["rps"] >= 0.95 * args.rate
                ok = d["p99"] < READ_P99_MS and not d["errors"] and kept_up
                target = (f"open-loop p99 < {READ_P99_MS:g} ms at {args.rate:g}/s: {d['p99']:.1f} ms"
                          + ("" if kept_up else f" (served only {d['rps']:.0f}/s)"))
            print(f"{workers} worker(s) {what:<10} {'PASS' if ok else 'FAIL'}  {target}  ({ratio})")


if __name__ == "__main__":
    sys.exit(main())
