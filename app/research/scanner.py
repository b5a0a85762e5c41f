"""The scanner use cases: universes, running a scan (now or as a job), history, schedules and
the scan backtest.

Data (``BundledBars``; see ``app/data/nse/README.md``):

* **daily**: NIFTY 500 daily bars, Yahoo, split/bonus-adjusted, 2025-03-03 → 2026-06-12, for
  an ``as_of`` on or after the first date plus warm-up; for an earlier ``as_of`` the bundled
  NSE EOD bars (unadjusted, 20 stocks, 2016 →) are used. ``weekly`` bars are built from them.
* **intraday** (1/5/15/30/60 minute): the bundled Kite 1-minute bars (18 sessions in
  Aug–Sep 2016, 20 stocks) aggregated by ``core.resample``; only minutes that have closed by
  ``as_of`` are used, so the last bar can be the one still forming (as a live scanner sees it).
  For an intraday ``as_of`` the daily bar of that day is built from those minutes too.

Every result says which data it ran on (``data_label``) and as of when (IST).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from app.adapters.bundled_market import INDEX_UNIVERSES, NIFTY500_LIST, BundledBars, index_members, nse_list
from app.adapters.scan_store import ScanRun, ScanStore, ScheduledScan
from core.errors import ValidationError
from core.resample import resample_bars
from core.scan_lang import Panel, build_panel, parse, required_bars
from core.scan_lang.evaluator import check_history
from core.scans import BUILTIN_SCANS, match_counts, resolve, scan_frame
from core.timeutil import IST, require_aware

log = logging.getLogger(__name__)

WATCHLIST_PREFIX = "Watchlist: "
SCAN_QUEUE = "scans"
RUN_SCAN_ACTOR = "run_scan"
SEND_SCHEDULED_ACTOR = "send_scheduled_scans"
SESSION_OPEN, SESSION_CLOSE = time(9, 15), time(15, 30)
_COLS = ["open", "high", "low", "close", "volume"]
#: Bars kept per symbol and timeframe (enough for a 252-bar 52-week window plus offsets).
MAX_BARS = 400

Progress = Callable[[float, str], None]


def _weekly(daily: pd.DataFrame) -> pd.DataFrame:
    d = daily.copy()
    d["week"] = d["ts"].dt.tz_localize(None).dt.to_period("W-SUN")
    g = d.sort_values("ts").groupby(["symbol", "week"], sort=False)
    w = g.agg(ts=("ts", "first"), open=("open", "first"), high=("high", "max"), low=("low", "min"),
              close=("close", "last"), volume=("volume", "sum")).reset_index()
    return w[["symbol", "ts", *_COLS]]


def _intraday(minutes: pd.DataFrame, interval: str) -> pd.DataFrame:
    if interval == "minute":
        return minutes
    frames = []
    for sym, g in minutes.groupby("symbol", sort=False):
        r = resample_bars(g.set_index("ts")[_COLS], interval)
        frames.append(r.reset_index(names="ts").assign(symbol=sym))
    return pd.concat(frames, ignore_index=True) if frames else minutes.iloc[:0]


# ---- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    """One scan's outcome. ``frame``: matched rows (``symbol``, ``company``, ``industry``,
    ``bar_time`` (IST), one column per operand); ``as_of`` tz-aware IST."""

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

    @property
    def summary(self) -> str:
        extra = f"; {self.insufficient} without enough history" if self.insufficient else ""
        stale = f"; {len(self.stale)} skipped (no bar on the latest date)" if self.stale else ""
        return (f"{len(self.frame)} of {self.with_data} symbols with data matched ({self.universe}, "
                f"{self.universe_size} members){extra}{stale}")


class ScannerService:
    """Scans over universes. ``store``: the desk's ``SqlStore`` (jobs, engine); ``watchlists``:
    the ``WatchlistService``; ``queue``: the ``DramatiqTaskQueue`` (for jobs); ``calendar``: the
    NSE calendar (schedules only run on trading days)."""

    def __init__(self, store: Any, watchlists: Any = None, queue: Any = None, calendar: Any = None,
                 bars: BundledBars | None = None, market: Any = None) -> None:
        self.market = market
        self.jobs = store.jobs
        self.results = ScanStore(store.engine)
        self.watchlists = watchlists
        self.queue = queue
        self.calendar = calendar
        self.bars = bars or BundledBars()

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
        an unknown universe or an empty one."""
        if universe.startswith(WATCHLIST_PREFIX):
            if self.watchlists is None:
                raise ValidationError("watchlists are not available in this process")
            name = universe[len(WATCHLIST_PREFIX):]
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

    # ---- running ----------------------------------------------------------------------------

    def _panels(self, node, symbols: list[str], as_of: datetime) -> tuple[dict[str, Panel], str]:
        need = required_bars(node)
        panels: dict[str, Panel] = {}
        labels = []
        daily_cache: tuple[pd.DataFrame, str] | None = None
        for tf in need:
            if tf in ("day", "week"):
                if daily_cache is None:
                    daily_cache = self.bars.daily(symbols, as_of)
                long, label = daily_cache
                if tf == "week":
                    long, label = _weekly(long), "weekly bars from " + label
            else:
                lo, hi = self.bars.minute_range()
                long = _intraday(self.bars.minutes(symbols, as_of), tf)
                label = (f"{tf} bars from bundled Kite 1-minute bars ({lo:%d %b %Y} – {hi:%d %b %Y}, "
                         f"20 stocks)")
            panels[tf] = build_panel(long, symbols, tf, max_bars=MAX_BARS)
            labels.append(label)
        return panels, "; ".join(dict.fromkeys(labels))

    def run(self, scan: str, universe: str, as_of: datetime | None = None,
            progress: Progress | None = None) -> ScanResult:
        """Evaluate ``scan`` (a built-in key or an expression) over ``universe`` at ``as_of``
        (tz-aware; default: the end of the latest bundled data for the scan's timeframes).

        Raises ``ValidationError`` (``ScanSyntaxError`` with the column for a malformed
        expression) for an unknown/empty universe, no data for the universe, or too little
        history. Nothing is stored (see ``execute``).
        """
        report = progress or (lambda f, m: None)
        title, expression = resolve(scan)
        node = parse(expression)
        intraday = any(tf not in ("day", "week") for tf in required_bars(node))
        as_of = require_aware(as_of, "as_of").astimezone(IST) if as_of is not None else self.bars.default_as_of(intraday)
        members = self.members(universe)
        symbols = members["symbol"].tolist()
        report(0.1, f"loading bars for {len(symbols)} symbols")
        panels, data_label = self._panels(node, symbols, as_of)
        has = np.zeros(len(symbols), bool)
        for p in panels.values():
            if p.bars:
                has |= ~np.isnan(p.fields["close"][-1])
        with_data = int(has.sum())
        if with_data == 0:
            raise ValidationError(f"no bars for any {universe} symbol up to {as_of:%d %b %Y %H:%M} IST in the "
                                  f"bundled data ({data_label}); pick another date or universe")
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
        return ScanResult(title, expression, universe, as_of, data_label, frame, len(symbols), with_data,
                          int((out.insufficient & has).sum()), stale)

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
                schedule_id: int | None = None) -> ScanResult:
        """Run the scan and store it (``scan_runs`` + ``scan_hits``), reporting progress to
        job ``job_id`` if given. A failure marks the run (and job) failed with the message and
        re-raises; nothing partial is stored as done."""
        def progress(fraction: float, message: str) -> None:
            if job_id is not None:
                self.jobs.update(job_id, fraction, message)

        title, expression = resolve(scan)
        run_id = job_id if job_id is not None and self.results.run(job_id) is not None else None
        stamp = require_aware(as_of, "as_of") if as_of is not None else datetime.now(IST)
        run_id = self.results.create_run(scan=scan, title=title, expression=expression, universe=universe,
                                         as_of=stamp, data_label="", job_id=job_id, schedule_id=schedule_id,
                                         run_id=run_id or job_id)
        try:
            result = self.run(scan, universe, as_of, progress)
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

    def enqueue(self, scan: str, universe: str, as_of: datetime | None = None, schedule_id: int | None = None) -> str:
        """Check the scan and universe, create a ``scan`` job and send ``run_scan``; return the
        job id. A malformed scan or an unknown/empty universe raises ``ValidationError`` and
        nothing is queued."""
        if self.queue is None:
            raise ValidationError("no task queue in this process; run the scan directly")
        resolve(scan)
        self.members(universe)
        args = {"scan": scan, "universe": universe,
                "as_of_iso": require_aware(as_of, "as_of").isoformat() if as_of is not None else None,
                "schedule_id": schedule_id}
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
        """How many symbols of ``universe`` matched on each past bar (daily scans: each
        session) between ``start`` and ``end`` (IST dates, inclusive; default: the whole
        bundled range after warm-up). Returns an ``int64`` Series indexed by IST bar time.

        Raises ``ValidationError`` for a multi-timeframe scan, ``start > end``, or a range with
        no data.
        """
        title, expression = resolve(scan)
        node = parse(expression)
        tfs = set(required_bars(node))
        if len(tfs) != 1:
            raise ValidationError("a scan backtest runs on one timeframe; this scan uses " + ", ".join(sorted(tfs)))
        if start and end and start > end:
            raise ValidationError(f"start {start} is after end {end}; swap them")
        intraday = tfs != {"day"} and tfs != {"week"}
        as_of = (datetime.combine(end, SESSION_CLOSE, IST) if end and not intraday
                 else datetime.combine(end, time(23, 59), IST) if end else self.bars.default_as_of(intraday))
        symbols = self.members(universe)["symbol"].tolist()
        panels, _ = self._panels(node, symbols, as_of)
        (tf, panel), = panels.items()
        check_history(node, panels)
        counts = match_counts(node, panel)
        if start:
            counts = counts[counts.index >= pd.Timestamp(start, tz=IST)]
        if end:
            counts = counts[counts.index < pd.Timestamp(end, tz=IST) + pd.Timedelta(days=1)]
        if counts.empty:
            raise ValidationError(f"no bars between {start} and {end} in the bundled data; pick dates inside it")
        warm = max(required_bars(node).values()) - 1
        return counts.iloc[warm:] if start is None and len(counts) > warm else counts

    # ---- schedules --------------------------------------------------------------------------

    def schedule(self, scan: str, universe: str, every_minutes: int) -> int:
        """Re-run ``scan`` on ``universe`` every ``every_minutes`` during NSE sessions; return
        the schedule id. Validates the scan and universe first (``ValidationError``)."""
        resolve(scan)
        self.members(universe)
        return self.results.add_schedule(scan, universe, every_minutes)

    def schedules(self) -> list[ScheduledScan]:
        return self.results.schedules()

    def due(self, now: datetime) -> list[ScheduledScan]:
        """Enabled schedules due at ``now`` (tz-aware): inside 09:15–15:30 IST of a trading day
        and at least ``every_minutes`` since the last send."""
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
        """Queue a run for every due schedule (as of ``now``); return the job ids."""
        ids = []
        for s in self.due(now):
            try:
                ids.append(self.enqueue(s.scan, s.universe, as_of=now, schedule_id=s.id))
            except ValidationError as exc:
                log.warning("scheduled scan %s skipped: %s", s.id, exc)
            self.results.mark_sent(s.id, now)
        return ids


__all__ = ["BUILTIN_SCANS", "BundledBars", "INDEX_UNIVERSES", "ScanResult", "ScannerService",
           "index_members"]
