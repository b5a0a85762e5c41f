"""Replay server entry: ``python -m workers.replay --date YYYY-MM-DD --speed N --port P``.

Options: ``--host`` (127.0.0.1), ``--start HH:MM`` (09:15), ``--ticks-per-bar K`` (60),
``--loop`` (restart the session at the close), ``--fill-unrecorded`` (benchmark only: tokens
without recorded bars borrow a recorded stock's path), ``--test-endpoints`` (TEST ONLY:
``app.adapters.replay.testing``), ``--adjust SYMBOL:FACTOR:YYYY-MM-DD`` (repeatable: the historical
endpoint serves SYMBOL's bars before the date with prices divided by FACTOR, as Kite does after
a split; ``app.adapters.replay.adjust``). The date defaults to the latest
recorded session; a date that is not recorded exits with status 2 naming the recorded dates.
API key and secret come from settings (``DESK_REPLAY_API_KEY``/``DESK_REPLAY_API_SECRET``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime, time

from app.lean_pandas import without_pyarrow
from app.settings import get_settings


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    s = get_settings()
    p = argparse.ArgumentParser(prog="python -m workers.replay", description=__doc__.splitlines()[0])
    p.add_argument("--date", default=s.replay_date, help="recorded session YYYY-MM-DD (default: latest)")
    p.add_argument("--speed", type=float, default=s.replay_speed, help="replay seconds per wall second")
    p.add_argument("--port", type=int, default=s.replay_port)
    p.add_argument("--host", default=s.replay_host)
    p.add_argument("--start", default="09:15", help="replay start time HH:MM IST")
    p.add_argument("--ticks-per-bar", type=int, default=60)
    p.add_argument("--loop", action="store_true", help="restart the session at the close")
    p.add_argument("--test-endpoints", action="store_true",
                   help="TEST ONLY: mount /_test/* (inject REST failures, invalidate tokens, order frames)")
    p.add_argument("--fill-unrecorded", action="store_true",
                   help="benchmark only: unrecorded NSE tokens borrow a recorded stock's price path")
    p.add_argument("--adjust", action="append", default=[], metavar="SYMBOL:FACTOR:DATE",
                   help="serve SYMBOL's history before DATE divided by FACTOR (a split/bonus; repeatable)")
    return p.parse_args(argv)


def _release_build_memory() -> None:
    """After the market is built: drop the raw bundled 1-minute and daily frames (the market keeps
    its per-symbol copies; nothing reads the raw ones again) and hand the freed heap back to the
    OS (glibc ``malloc_trim(0)``, a no-op elsewhere): ~40 MB RSS less on 2016-09-09."""
    import ctypes
    import gc

    from app.adapters import nse_data

    nse_data.load_minute_bars.cache_clear()
    nse_data.load_daily.cache_clear()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def main(argv: list[str] | None = None) -> int:
    without_pyarrow()  # before pandas (app.lean_pandas): ~32 MB less; the replay never uses Arrow
    from app.adapters.nse_data import recorded_sessions

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parse_args(argv)
    sessions = recorded_sessions()
    names = ", ".join(d.isoformat() for d in sessions)
    try:
        day = date.fromisoformat(args.date) if args.date else sessions[-1]
    except ValueError:
        print(f"error: --date {args.date!r} is not YYYY-MM-DD; recorded sessions: {names}", file=sys.stderr)
        return 2
    if day not in sessions:
        print(f"error: {day} is not a recorded session; recorded sessions: {names}", file=sys.stderr)
        return 2
    try:
        start = datetime.strptime(args.start, "%H:%M").time()
    except ValueError:
        print(f"error: --start {args.start!r} must be HH:MM", file=sys.stderr)
        return 2
    if not (time(9, 15) <= start < time(15, 30)):
        print("error: --start must be within the session 09:15–15:29", file=sys.stderr)
        return 2
    if args.speed <= 0 or args.ticks_per_bar < 4:
        print("error: --speed must be > 0 and --ticks-per-bar >= 4", file=sys.stderr)
        return 2

    from app.adapters.replay.adjust import parse_adjustments

    try:
        adjust = parse_adjustments(args.adjust)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from app.adapters.replay.server import ReplayConfig, create_app

    s = get_settings()
    config = ReplayConfig(day=day, speed=args.speed, start=start, ticks_per_bar=args.ticks_per_bar,
                          loop=args.loop, fill_unrecorded=args.fill_unrecorded,
                          test_endpoints=args.test_endpoints, adjust=adjust, api_key=s.replay_api_key,
                          api_secret=s.replay_api_secret.get_secret_value())
    try:
        app = create_app(config)
    except ValueError as exc:  # e.g. an --adjust symbol the dump does not have
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _release_build_memory()
    logging.getLogger(__name__).info(
        "replay %s at %sx from %s on http://%s:%d (ws /ws)%s", day, args.speed, start, args.host, args.port,
        " with --fill-unrecorded (benchmark only)" if args.fill_unrecorded else "")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws="websockets-sansio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
