"""The live strategy runner process: ``python -m workers.strategy_runner``.

Why a process and not an actor per closed-bar batch: the runner keeps each instrument's bars
of the session in memory (indicators need the history), reads ``desk:bars:closed`` in order
with one cursor, and must handle bar ``t`` before bar ``t+1`` of the same instrument. An actor
per batch would reload history from the store on every minute and could run batches out of
order across worker threads; one small process does neither, restarts cleanly (the cursor
and the (strategy, bar) claims are in the SQL store, so nothing is proposed twice) and never
blocks the ticker or the worker pool.

It polls the stream every ``--interval`` seconds (bars close once a minute) and stops on
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

log = logging.getLogger("strategy_runner")


def build():
    from app.container import services
    from app.research.strategies import StrategyRunner

    s = services()
    return StrategyRunner(s.strategies, s.trading, s.ticks, market=s.market_data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Feed closed bars to enabled strategies; propose approvals.")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between stream polls")
    ap.add_argument("--once", action="store_true", help="handle what is in the stream, then exit")
    args = ap.parse_args(argv)
    from app.lean_pandas import without_pyarrow

    without_pyarrow()  # before pandas (app.lean_pandas): ~32 MB less; strategies never use Arrow
    from app.logging_setup import configure_logging

    configure_logging("strategies")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner = build()
    while not stop.is_set():
        try:
            report = runner.poll_once()
            if report.bars:
                log.info("bars=%d proposals=%d duplicates=%d", report.bars, len(report.proposals), report.duplicates)
        except Exception:  # keep the process alive through a Redis/DB blip; log and retry
            log.exception("strategy runner poll failed; retrying")
        if args.once:
            break
        stop.wait(args.interval)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
