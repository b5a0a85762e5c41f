"""The scanner use cases: universes, running a scan (now or as a job), history, schedules and
the scan backtest.

Bars come from the connected market through :class:`app.market.history.MarketDataService`
(``market``): the store, kept filled by the morning backfill and the ticker, read through the
in-process bar cache (``market.panel``; no network during a scan). Universes (index
constituents) are the bundled reference lists (``app.adapters.bundled_market``).

* Every read is bounded by ``as_of``, which defaults to **market time** (``market.now()``) and
  is capped at it: only bars closed by ``as_of`` are seen, so a scan at 09:20 never sees a bar
  closing after 09:20 (``core.bars_asof``).
* **daily** / **weekly**: when ``as_of`` is inside the session of a trading day (09:15–15:30
  IST), today's daily bar is the one still forming (``panel(..., forming=True)``: the latest
  tick's day OHLC; without a tick, today's closed 1-minute bars so far). Weekly bars are built
  from the daily ones (Monday–Sunday; the current week is the one forming).
* **intraday** (1/5/15/30/60 minute): aggregated from stored 1-minute bars; closed bars only
  unless the scan asks for the forming bar (``forming=True``: the bucket holding ``as_of``,
  from its closed minutes and the latest tick).

Every result says which data it ran on (``data_label``: the panel coverage, e.g. ``"NIFTY 500
daily: 275 of 500 symbols, bars to 09 Sep 2016 (store, the connected market)"``) and as of when
(IST).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from app.adapters.bundled_market import INDEX_UNIVERSES, NIFTY500_LIST, index_members, nse_list
from app.adapters.scan_store import ScanRun, ScanStore, ScheduledScan
from core import bars_asof
from core.errors import ValidationError
from core.models import INTERVAL_MINUTES
from core.scan_lang import Panel, build_panel, parse, required_bars
from core.scan_lang.evaluator import check_history
from core.scans import BUILTIN_SCANS, match_counts, resolve, scan_frame
from core.text_caps import shown
from core.timeutil import IST, require_aware
from core.validation import require_aware_datetime, require_date, require_int

log = logging.getLogger(__name__)

WATCHLIST_PREFIX = "Watchlist: "
SCAN_QUEUE = "scans"
RUN_SCAN_ACTOR = "run_scan"
SEND_SCHEDULED_ACTOR = "send_scheduled_scans"
SESSION_OPEN, SESSION_CLOSE = time(9, 15), time(15, 30)
_COLS = ["open", "high", "low", "close", "volume"]
#: Bars kept per symbol and timeframe (enough for a 252-bar 52-week window plus offsets).
MAX_BARS = 400
SOURCE = "store, the connected market"
_TF_NAME = {"minute": "1-minute", "5minute": "5-minute", "15minute": "15-minute", "30minute": "30-minute",
            "60minute": "60-minute", "day": "daily", "week": "weekly"}

Progress = Callable[[float, str], None]


# ---- results ----------------------------------------------------------------------------------


def _scan_text(scan: object) -> str:
    """The boundary check of a scan argument: a built-in key or an expression, as text
    (a list or a number is refused naming the field, not a ``TypeError`` deep in the parser)."""
    if not isinstance(scan, str):
        raise ValidationError(f"scan must be text: a built-in key such as 'breakout' or an expression, "
                              f"was {shown(scan)}")
    return scan


@dataclass(frozen=True)
class Coverage:
    """How much of a universe the store covers for one timeframe as of a market time.

    ``text``: e.g. ``"275 of 500 symbols, bars to 09 Sep 2016"``; ``with_data`` / ``requested``
    symbol counts; ``last_bar``: the newest bar open (IST) or ``None``."""

    timeframe: str
    text: str
    with_data: int
    requested: int
    last_bar: pd.Timestamp | None

    @property
    def partial(self) -> bool:
        return self.with_data < self.requested

    @property
    def label(self) -> str:
        """The timeframe as a trader says it: ``daily``, ``5-minute`` …"""
        return _TF_NAME.get(self.timeframe, self.timeframe)


@dataclass(frozen=True)
class ScanResult:
    """One scan's outcome. ``frame``: matched rows (``symbol``, ``company``, ``industry``,
    ``bar_time`` (IST), one column per operand); ``as_of`` tz-aware IST (market time of the
    read); ``coverage``: one entry per timeframe the scan reads."""

    title: str
    expression: str
    universe: str
    as_of: datetime
    data_label: str
    frame: pd.DataFrame
    universe_size: int
    with_data: int
    insufficient: int
    stale: list[str] = field(default_factory=list)
    run_id: str | None = None
    coverage: tuple[Coverage, ...] = ()
    zero_division: int = 0

    @property
    def summary(self) -> str:
        extra = f"; {self.insufficient} without enough history" if self.insufficient else ""
        stale = f"; {len(self.stale)} skipped (no bar on the latest date)" if self.stale else ""
        zero = (f"; a divisor was 0 for {self.zero_division} symbols (division by zero never matches)"
                if self.zero_division else "")
        return (f"{len(self.frame)} of {self.with_data} symbols with data matched ({self.universe}, "
                f"{self.universe_size} members){extra}{stale}{zero}")


class ScannerService:
    """Scans over universes. ``store``: the desk's ``SqlStore`` (jobs, engine); ``watchlists``:
    the ``WatchlistService``; ``queue``: the ``DramatiqTaskQueue`` (for jobs); ``calendar``: the
    NSE calendar (schedules only run on trading days; today's daily bar forms only on one);
    ``market``: the :class:`~app.market.history.MarketDataService` every bar comes from
    (required; ``ValueError`` without it)."""

    def __init__(self, store: Any, watchlists: Any = None, queue: Any = None, calendar: Any = None,
                 market: Any = None) -> None:
        if market is None or not hasattr(market, "panel") or not hasattr(market, "now"):
            raise ValueError("ScannerService needs market=, the desk's MarketDataService "
                             "(app.container: services().market_data); it reads every bar through it")
        self.market = market
        self.jobs = store.jobs
        self.results = ScanStore(store.engine)
        self.watchlists = watchlists
        self.queue = queue
        self.calendar = calendar

    # ---- universes --------------------------------------------------------------------------

    def universes(self) -> list[str]:
        """Index universes, then one per watchlist (``"Watchlist: default"``)."""
        names = list(INDEX_UNIVERSES)
        if self.watchlists is not None:
            try:
                names += [WATCHLIST_PREFIX + n for n in self.watchlists.names()]
            except Exception as exc:  # a broken watchlist store must not hide the index universes
                log.warning("could not list watchlists: %s", exc)
        return names

    def members(self, universe: str) -> pd.DataFrame:
        """``symbol``, ``company``, ``industry`` of ``universe``. Raises ``ValidationError`` for
        an unknown universe (an unknown watchlist is named as unknown, with the known ones) or
        an empty one."""
        if not isinstance(universe, str):
            raise ValidationError(f"universe must be a name such as 'NIFTY 50' or '{WATCHLIST_PREFIX}default', "
                                  f"was {type(universe).__name__}")
        if universe.startswith(WATCHLIST_PREFIX):
            if self.watchlists is None:
                raise ValidationError("watchlists are not available in this process")
            name = universe[len(WATCHLIST_PREFIX):]
            known = self.watchlists.names()
            if name not in known:
                shown = name if len(name) <= 40 else name[:40] + "…"
                raise ValidationError(f"unknown watchlist {shown!r}; known watchlists: "
                                      f"{', '.join(sorted(known)) or 'none'}")
            keys = self.watchlists.keys(name)
            syms = [k.split(":", 1)[1] for k in keys if k.startswith("NSE:")]
            meta = nse_list(NIFTY500_LIST).set_index("symbol")
            out = pd.DataFrame({"symbol": syms})
            out["company"] = out["symbol"].map(meta["company"]).fillna("")
            out["industry"] = out["symbol"].map(meta["industry"]).fillna("")
        else:
            out = index_members(universe)
        if out.empty:
            raise ValidationError(f"universe {universe!r} is empty; add NSE symbols to it first")
        return out

    # ---- market time and reads --------------------------------------------------------------

    def now(self) -> datetime:
        """Market time (tz-aware IST): the default ``as_of`` of every scan."""
        return self.market.now()

    def _as_of(self, as_of: datetime | None) -> datetime:
        """``as_of`` in IST, capped at market time; default market time."""
        now = self.market.now().astimezone(IST)
        if as_of is None:
            return now
        return min(require_aware_datetime("as_of", as_of).astimezone(IST), now)

    def _in_session(self, as_of: datetime) -> bool:
        """Whether ``as_of`` is inside the session of a trading day (today's daily bar is forming)."""
        if not SESSION_OPEN <= as_of.time() < SESSION_CLOSE:
            return False
        return self.calendar is None or self.calendar.is_trading_day(as_of.date())

    def _daily_long(self, keys: list[str], as_of: datetime, bars: int, start: datetime | None,
                    forming: bool) -> tuple[pd.DataFrame, Any, str]:
        """Daily bars (long, ``symbol ts`` OHLCV), the market panel and a note on today's bar."""
        panel = self.market.panel(keys, "day", as_of=as_of, bars=bars, start=start, forming=forming)
        long = panel.frame
        note = ""
        if forming:
            day = pd.Timestamp(as_of.date(), tz=IST)
            have = set(long.loc[long["ts"] == day, "symbol"])
            history = set(long["symbol"])  # a symbol without daily history has nothing to scan
            missing = [k for k in keys if k.split(":", 1)[-1] in history - have]
            if missing:  # no tick for them: today's bar from its closed 1-minute bars so far
                minutes = self.market.panel(missing, "minute", as_of=as_of,
                                            start=datetime.combine(as_of.date(), time(0, 0), IST)).frame
                if len(minutes):
                    g = minutes.sort_values("ts").groupby(["symbol", "instrument_token"], sort=False)
                    today = g.agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
                                  close=("close", "last"), volume=("volume", "sum")).reset_index()
                    today["ts"] = day
                    long = pd.concat([long, today[long.columns]], ignore_index=True)
            if (long["ts"] == day).any():
                note = f", today's bar forming to {as_of:%H:%M} IST"
        return long, panel, note

    def _panels(self, node, symbols: list[str], as_of: datetime, universe: str, *, forming: bool = False,
                start: datetime | None = None, live: bool = True
                ) -> tuple[dict[str, Panel], str, tuple[Coverage, ...]]:
        """Scan panels per timeframe of ``node`` from the market as of ``as_of`` (IST, already
        capped), the data label and the coverage. ``forming``: intraday bars include the one
        forming; ``live``: a daily bar forms during the session (off for backtests)."""
        need = required_bars(node)
        keys = [f"NSE:{s}" for s in symbols]
        panels: dict[str, Panel] = {}
        labels: list[str] = []
        coverage: list[Coverage] = []
        daily: tuple[pd.DataFrame, Any, str] | None = None
        max_bars = None if start is not None else MAX_BARS
        for tf in need:
            if tf in ("day", "week"):
                if daily is None:
                    bars = max(MAX_BARS, 5 * need.get("week", 0) + 10)
                    daily = self._daily_long(keys, as_of, bars, start, live and self._in_session(as_of))
                long, mp, note = daily
                if tf == "week":
                    long = bars_asof.resample_long(long, "week", by="symbol")
            else:
                mp = self.market.panel(keys, tf, as_of=as_of, bars=MAX_BARS, start=start, forming=forming)
                long = mp.frame
                note = f", the forming bar to {as_of:%H:%M} IST" if forming else ", closed bars only"
            with_data = int(long["symbol"].nunique()) if len(long) else 0
            last = long["ts"].max() if len(long) else None
            text = self._coverage_text(tf, with_data, len(symbols), last, as_of)
            coverage.append(Coverage(tf, text, with_data, len(symbols), last))
            labels.append(f"{universe} {_TF_NAME.get(tf, tf)}: {text} ({SOURCE}{note})")
            panels[tf] = build_panel(long[["symbol", "ts", *_COLS]], symbols, tf, max_bars=max_bars)
        return panels, "; ".join(labels), tuple(coverage)

    @staticmethod
    def _coverage_text(tf: str, with_data: int, requested: int, last: pd.Timestamp | None, as_of: datetime) -> str:
        if last is None:
            return f"0 of {requested} symbols have bars up to {as_of:%d %b %Y %H:%M} IST"
        fmt = "%d %b %Y" if tf in ("day", "week") else "%d %b %Y %H:%M IST"
        return f"{with_data} of {requested} symbols, bars to {pd.Timestamp(last).tz_convert(IST).strftime(fmt)}"

    def coverage(self, scan: str, universe: str, as_of: datetime | None = None) -> tuple[datetime, tuple[Coverage, ...]]:
        """``(as_of, coverage per timeframe)`` the scan would read now (no evaluation, no
        network): for the page's "487 of 500 symbols, bars to …" line. Raises
        ``ValidationError`` for a malformed scan or an unknown/empty universe."""
        _, expression = resolve(_scan_text(scan))
        node = parse(expression)
        at = self._as_of(as_of)
        symbols = self.members(universe)["symbol"].tolist()
        _, _, cov = self._panels(node, symbols, at, universe)
        return at, cov

    # ---- running ----------------------------------------------------------------------------

    def run(self, scan: str, universe: str, as_of: datetime | None = None,
            progress: Progress | None = None, *, forming: bool = False) -> ScanResult:
        """Evaluate ``scan`` (a built-in key or an expression) over ``universe`` at ``as_of``
        (tz-aware; default and upper bound: market time, ``market.now()``). ``forming``: intraday
        timeframes include the bar still forming at ``as_of`` (default: closed bars only).

        Raises ``ValidationError`` (``ScanSyntaxError`` with the column for a malformed
        expression) for an unknown/empty universe, no bars for the universe in the store, or
        too little history. Nothing is stored (see ``execute``).
        """
        report = progress or (lambda f, m: None)
        title, expression = resolve(_scan_text(scan))
        node = parse(expression)
        as_of = self._as_of(as_of)
        members = self.members(universe)
        symbols = members["symbol"].tolist()
        report(0.1, f"loading bars for {len(symbols)} symbols")
        panels, data_label, coverage = self._panels(node, symbols, as_of, universe, forming=forming)
        has = np.zeros(len(symbols), bool)
        for p in panels.values():
            if p.bars:
                has |= ~np.isnan(p.fields["close"][-1])
        with_data = int(has.sum())
        if with_data == 0:
            raise ValidationError(f"no bars for any {universe} symbol up to {as_of:%d %b %Y %H:%M} IST in the store "
                                  f"({data_label}); backfill them (the morning backfill, or System → backfill) "
                                  f"or pick another date or universe")
        report(0.4, "evaluating")
        check_history(node, panels, f"{as_of:%d %b %Y %H:%M} IST")
        frame, out = scan_frame(node, panels)
        stale = self._stale(panels)
        if stale:
            frame = frame[~frame["symbol"].isin(stale)].reset_index(drop=True)
        meta = members.set_index("symbol")
        frame.insert(1, "company", frame["symbol"].map(meta["company"]).fillna(""))
        frame.insert(2, "industry", frame["symbol"].map(meta["industry"]).fillna(""))
        report(0.8, f"{len(frame)} matched")
        zero = 0
        if out.zero_division is not None:
            zero = int((out.zero_division & has & ~np.isin(np.asarray(symbols), stale)).sum())
        return ScanResult(title, expression, universe, as_of, data_label, frame, len(symbols), with_data,
                          int((out.insufficient & has).sum()), stale, coverage=coverage, zero_division=zero)

    @staticmethod
    def _stale(panels: dict[str, Panel]) -> list[str]:
        out: set[str] = set()
        for p in panels.values():
            if not p.bars:
                continue
            last = p.ts[-1]
            has = last != np.iinfo("int64").min
            if has.any():
                newest = last[has].max()
                lag = newest - last
                out |= {p.symbols[i] for i in np.flatnonzero(has & (lag > 0))}
        return sorted(out)

    def execute(self, scan: str, universe: str, as_of: datetime | None = None, job_id: str | None = None,
                schedule_id: int | None = None, *, forming: bool = False) -> ScanResult:
        """Run the scan (``as_of`` default: market time) and store it (``scan_runs`` +
        ``scan_hits``), reporting progress to job ``job_id`` if given. A failure marks the run
        (and job) failed with the message and re-raises; nothing partial is stored as done."""
        def progress(fraction: float, message: str) -> None:
            if job_id is not None:
                self.jobs.update(job_id, fraction, message)

        title, expression = resolve(scan)
        run_id = job_id if job_id is not None and self.results.run(job_id) is not None else None
        stamp = self._as_of(as_of)
        run_id = self.results.create_run(scan=scan, title=title, expression=expression, universe=universe,
                                         as_of=stamp, data_label="", job_id=job_id, schedule_id=schedule_id,
                                         run_id=run_id or job_id)
        try:
            result = self.run(scan, universe, stamp, progress, forming=forming)
            hits = [{"symbol": r["symbol"], "bar_time": r["bar_time"].to_pydatetime() if pd.notna(r["bar_time"]) else None,
                     "values": {c: r[c] for c in result.frame.columns
                                if c not in ("symbol", "company", "industry", "bar_time")}}
                    for _, r in result.frame.iterrows()]
            self.results.finish_run(run_id, hits, universe_size=result.universe_size,
                                    insufficient=result.insufficient, message=result.summary,
                                    as_of=result.as_of, data_label=result.data_label)
        except Exception as exc:
            self.results.fail_run(run_id, str(exc))
            raise
        return ScanResult(**{**result.__dict__, "run_id": run_id})

    def enqueue(self, scan: str, universe: str, as_of: datetime | None = None, schedule_id: int | None = None,
                *, forming: bool = False) -> str:
        """Check the scan and universe, create a ``scan`` job and send ``run_scan``; return the
        job id. The job runs as of ``as_of`` (default: market time when queued, capped at it),
        so a worker that picks it up later still scans the moment the user asked for. A
        malformed scan or an unknown/empty universe raises ``ValidationError`` and nothing is
        queued."""
        if self.queue is None:
            raise ValidationError("no task queue in this process; run the scan directly")
        resolve(_scan_text(scan))
        self.members(universe)
        args: dict[str, Any] = {"scan": scan, "universe": universe, "as_of_iso": self._as_of(as_of).isoformat(),
                                "schedule_id": schedule_id}
        if forming:
            args["forming"] = True
        job_id = self.jobs.create("scan", args)
        try:
            self.queue.enqueue(SCAN_QUEUE, RUN_SCAN_ACTOR, job_id=job_id, **args)
        except Exception as exc:
            self.jobs.fail(job_id, f"could not queue the scan: {exc}")
            raise
        return job_id

    # ---- history, backtest ------------------------------------------------------------------

    def history(self, limit: int = 50) -> list[ScanRun]:
        return self.results.runs(limit)

    def hits_frame(self, run_id: str) -> pd.DataFrame:
        """A stored run's hits as a frame: ``symbol``, ``bar_time`` (IST), one column per value."""
        rows = self.results.hits(run_id)
        frame = pd.DataFrame([{"symbol": r["symbol"], "bar_time": r["bar_time"], **r["values"]} for r in rows])
        if len(frame) and frame["bar_time"].notna().any():
            frame["bar_time"] = pd.to_datetime(frame["bar_time"], utc=True).dt.tz_convert(IST)
        return frame

    def backtest(self, scan: str, universe: str, start: date | None = None, end: date | None = None) -> pd.Series:
        """How many symbols of ``universe`` matched on each past closed bar (daily scans: each
        session) between ``start`` and ``end`` (IST dates, inclusive; default: the stored bars
        up to market time, after warm-up). Returns an ``int64`` Series indexed by IST bar time.
        No bar after market time is used, and no forming bar.

        Raises ``ValidationError`` for a multi-timeframe scan, ``start > end``, or a range with
        no bars in the store.
        """
        if start is not None:
            require_date("start", start)
        if end is not None:
            require_date("end", end)
        title, expression = resolve(_scan_text(scan))
        node = parse(expression)
        tfs = set(required_bars(node))
        if len(tfs) != 1:
            raise ValidationError("a scan backtest runs on one timeframe; this scan uses " + ", ".join(sorted(tfs)))
        if start and end and start > end:
            raise ValidationError(f"start {start} is after end {end}; swap them")
        intraday = tfs != {"day"} and tfs != {"week"}
        as_of = self._as_of(datetime.combine(end, SESSION_CLOSE if not intraday else time(23, 59), IST)
                            if end else None)
        read_from = None
        if start is not None:
            (tf, need), = required_bars(node).items()
            sessions = need * 5 if tf == "week" else need if tf == "day" else need * INTERVAL_MINUTES[tf] / 375
            back = sessions * 1.5 + 10
            read_from = datetime.combine(start - timedelta(days=int(back)), time(0, 0), IST)
            if read_from > as_of:
                raise ValidationError(f"start {start} is after market time {as_of:%d %b %Y %H:%M} IST; "
                                      f"pick an earlier start")
        symbols = self.members(universe)["symbol"].tolist()
        panels, _, _ = self._panels(node, symbols, as_of, universe, start=read_from, live=False)
        (tf, panel), = panels.items()
        check_history(node, panels)
        counts = match_counts(node, panel)
        if start:
            counts = counts[counts.index >= pd.Timestamp(start, tz=IST)]
        if end:
            counts = counts[counts.index < pd.Timestamp(end, tz=IST) + pd.Timedelta(days=1)]
        if counts.empty:
            raise ValidationError(f"no bars between {start} and {end} in the store (up to market time "
                                  f"{as_of:%d %b %Y %H:%M} IST); pick dates inside the stored range")
        warm = max(required_bars(node).values()) - 1
        return counts.iloc[warm:] if start is None and len(counts) > warm else counts

    # ---- schedules --------------------------------------------------------------------------

    def schedule(self, scan: str, universe: str, every_minutes: int) -> int:
        """Re-run ``scan`` on ``universe`` every ``every_minutes`` during NSE sessions; return
        the schedule id. Validates the scan and universe first (``ValidationError``), and
        ``every_minutes``: a whole number from 1 to 375 (one session)."""
        every_minutes = require_int("every_minutes", every_minutes, low=1, high=375, unit="minutes")
        resolve(_scan_text(scan))
        self.members(universe)
        return self.results.add_schedule(scan, universe, every_minutes)

    def schedules(self) -> list[ScheduledScan]:
        return self.results.schedules()

    def due(self, now: datetime) -> list[ScheduledScan]:
        """Enabled schedules due at ``now`` (tz-aware market time): inside 09:15–15:30 IST of a
        trading day and at least ``every_minutes`` since the last send."""
        now = require_aware(now, "now").astimezone(IST)
        if not SESSION_OPEN <= now.time() <= SESSION_CLOSE:
            return []
        if self.calendar is not None and not self.calendar.is_trading_day(now.date()):
            return []
        out = []
        for s in self.results.schedules(enabled_only=True):
            if s.last_sent_at is None or now - s.last_sent_at >= timedelta(minutes=s.every_minutes):
                out.append(s)
        return out

    def send_due(self, now: datetime) -> list[str]:
        """Queue a run for every due schedule, as of ``now`` (market time, sent by the clock;
        capped at the market's own time, so a late message never reads ahead); return the job ids."""
        ids = []
        for s in self.due(now):
            try:
                ids.append(self.enqueue(s.scan, s.universe, as_of=now, schedule_id=s.id))
            except ValidationError as exc:
                log.warning("scheduled scan %s skipped: %s", s.id, exc)
            self.results.mark_sent(s.id, now)
        return ids


__all__ = ["BUILTIN_SCANS", "INDEX_UNIVERSES", "Coverage", "ScanResult", "ScannerService", "index_members"]
