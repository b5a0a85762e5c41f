"""Parameter sweeps and walk-forwards as Dramatiq fan-out: one message per backtest, results in
the SQL store keyed by sweep id (``app.adapters.sweep_store``).

``submit`` validates everything (``core.backtest.sweep``: grid, windows, caps), reads the
strategy's bars (``Strategy.interval``: 1-minute, or daily for ``breakout_52w``, whose windows
are then counted in daily sessions) once through the market-data service (``BacktestService.bars``: backfilled into the store, so
workers read them from the store), stores the sweep and one run row per backtest, and sends one
``run_sweep_run(sweep_id, run_no)`` message per queued run on the ``backtests`` queue. Any number
of ``worker`` processes, on any machines sharing Redis and the store, take those messages; there
is no scheduler of ours: Dramatiq's queue hands out the runs, the store counts them.

* **Progress**: runs finished / total (``progress``). **Cancel**: the sweep is marked cancelled
  and its queued runs too; a worker that receives a run of a cancelled sweep skips it.
* **Walk-forward**: each window's fit runs (every grid point on the fit sessions' bars only,
  ``core.backtest.sweep.window_bars``) are queued at once; the worker that finishes a window's
  last fit run picks the best point by the sweep's metric and releases that window's test run
  (one conditional update: exactly one worker wins and sends it).
* **Comparable**: every run reads the bars closed by the sweep's ``as_of`` (market time at
  submit) with the service's ``BacktestConfig``; the engine is deterministic, so the same
  params give the same metrics whichever worker runs them, and equal a serial run.
* **One run in full**: a sweep stores each run's metrics only; ``open_run`` queues one finished
  run again as an ordinary backtest (``BacktestService.submit``: same strategy, params,
  symbols, sessions and ``as_of``), whose stored result has the equity curve, trades, monthly
  returns and CSV of the Backtest page, with the same metrics.

Construction: ``SweepService(SweepStore(engine), backtests, tasks=queue)``; ``tasks`` needs
``enqueue(queue, actor, **kwargs)``; ``None`` runs every backtest in-process (serially).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.backtest import InstrumentBars, run_backtest
from core.backtest.sweep import (MAX_RUNS, Window, best_run, check_metric, metric_key, parameter_grid, sessions_of,
                                 walk_forward_runs, walk_forward_windows, window_bars)
from core.errors import ValidationError
from core.strategies import STRATEGIES, make_strategy
from core.text_caps import NAME_MAX_CHARS
from core.timeutil import IST, UTC
from core.validation import require_aware_datetime, require_date_range, require_str_list, require_text

if TYPE_CHECKING:  # pragma: no cover
    from app.adapters.sweep_store import SweepStore
    from app.research.backtests import BacktestService

log = logging.getLogger(__name__)

#: The queue and actor of one sweep run (the backtests' queue: the same workers take both).
QUEUE = "backtests"
ACTOR = "run_sweep_run"
#: Metrics shown per run (``core.backtest.metrics.compute_metrics`` keys).
SHOWN_METRICS = ("total_return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct", "net_pnl")
_FINISHED = ("complete", "failed", "cancelled")


@dataclass(frozen=True)
class SweepProgress:
    """Where a sweep stands: ``finished`` of ``total`` runs (complete + failed + cancelled),
    ``status`` ``running`` | ``complete`` | ``cancelled``, the per-status ``counts`` and the
    ``workers`` (``host:pid``) that ran its runs."""

    sweep_id: str
    label: str
    kind: str
    status: str
    finished: int
    total: int
    counts: Mapping[str, int]
    workers: tuple[str, ...]

    @property
    def fraction(self) -> float:
        return self.finished / self.total if self.total else 1.0


def worker_id() -> str:
    """This process as ``host:pid`` (recorded on each run it takes)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class SweepService:
    def __init__(self, store: SweepStore, backtests: BacktestService, *, tasks: Any = None,
                 cache_size: int = 2) -> None:
        self.store = store
        self.backtests = backtests
        self.tasks = tasks
        self._cache: OrderedDict[str, list[InstrumentBars]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ submit
    @staticmethod
    def catalog() -> list[tuple[str, str]]:
        """``(name, title)`` of every strategy a sweep can run: all of them, each on its own bars
        (``Strategy.interval``: 1-minute for the intraday ones, daily for ``breakout_52w``)."""
        return [(n, c.title) for n, c in STRATEGIES.items()]

    def submit(self, strategy: str, params: Mapping[str, Any], ranges: Mapping[str, Sequence[Any]],
               symbols: Sequence[str], start: date, end: date, *, now: datetime, metric: str = "sharpe",
               fit_sessions: int | None = None, test_sessions: int | None = None, anchored: bool = False,
               label: str = "") -> str:
        """Validate, store and queue a sweep; return its id (``W-…``).

        ``params``: the fixed parameters (defaults for missing ones); ``ranges``: swept parameter
        → values (``core.backtest.sweep.parameter_grid``); ``symbols``/``start``/``end``: the
        universe and IST dates, as for a backtest; ``metric``: what a fit ranks by and the
        results are sorted by (``core.backtest.sweep.METRIC_GOALS``). With ``fit_sessions`` and
        ``test_sessions`` it is a walk-forward (``anchored``: every fit starts at the first
        session) over the sessions that have bars.

        Raises ``ValidationError`` (nothing stored or sent): unknown strategy, parameter or
        metric; a value out of range; an empty grid; more than 500 runs in all; a zero-length
        window or too few sessions; an empty universe or no bars; dates that are not
        ``datetime.date`` or reversed; a naive ``now``.
        """
        strategy = require_text("strategy", strategy, cap=NAME_MAX_CHARS)
        cls = STRATEGIES.get(strategy)
        if cls is None:
            raise ValidationError(f"unknown strategy {strategy!r}; choose one of {sorted(STRATEGIES)}")
        if not isinstance(params, Mapping):
            raise ValidationError("params must be a mapping of parameter name to value")
        require_date_range(start, end)
        require_aware_datetime("now", now)
        check_metric(metric)
        label = require_text("label", label, cap=200, required=False)
        walk = fit_sessions is not None or test_sessions is not None
        grid = parameter_grid(cls, ranges, params)
        symbols = require_str_list("symbols", symbols, max_items=500, allow_empty=True, drop_blank=True)
        syms = [s.strip().upper() for s in symbols if s and s.strip()]
        if not syms:
            raise ValidationError("the universe is empty; pick at least one symbol to sweep")
        syms = [i.tradingsymbol for i in self.backtests.instruments.resolve_many(syms)]
        if walk and (fit_sessions is None or test_sessions is None):
            raise ValidationError("a walk-forward needs both a fit window and a test window (sessions)")
        as_of = min(self.backtests.market.now(), datetime.combine(end, time(23, 59), IST))
        universe = self._load(syms, start, end, as_of, cls.interval)
        windows: list[Window] = []
        if walk:
            windows = walk_forward_windows(sessions_of(universe), fit_sessions, test_sessions, anchored=anchored)
            total = walk_forward_runs(grid, windows)
        else:
            total = len(grid)
        sweep_id = f"W-{uuid.uuid4().hex[:12]}"
        runs: list[dict[str, Any]] = []
        if walk:
            for w in windows:
                runs += [dict(phase="fit", window=w.index, params=p, status="queued") for p in grid.runs]
                runs.append(dict(phase="test", window=w.index, params=None, status="pending"))
        else:
            runs = [dict(phase="grid", window=None, params=p, status="queued") for p in grid.runs]
        for i, r in enumerate(runs):
            r.update(sweep_id=sweep_id, run_no=i)
        swept = ", ".join(f"{k}×{len({p[k] for p in grid.runs})}" for k in grid.names)
        name = label or f"{strategy} {'walk-forward' if walk else 'sweep'} ({swept}; {len(runs)} runs)"
        self.store.create(dict(
            sweep_id=sweep_id, kind="walk_forward" if walk else "grid", label=name[:200], strategy=strategy,
            params={k: v for k, v in grid.runs[0].items() if k not in grid.names},
            ranges={k: list(dict.fromkeys(p[k] for p in grid.runs)) for k in grid.names}, symbols=syms,
            start=datetime.combine(start, time(0), IST), end=datetime.combine(end, time(23, 59), IST), as_of=as_of,
            metric=metric, windows=[w.as_dict() for w in windows] or None, total=total, status="active",
            created_at=now), runs)
        with self._lock:
            self._remember(sweep_id, universe)
        self._send(sweep_id, [r["run_no"] for r in runs if r["status"] == "queued"])
        return sweep_id

    def _send(self, sweep_id: str, run_nos: Sequence[int]) -> None:
        if self.tasks is None:
            for n in run_nos:
                self.run(sweep_id, n)
            return
        for i, n in enumerate(run_nos):
            try:
                self.tasks.enqueue(QUEUE, ACTOR, sweep_id=sweep_id, run_no=int(n))
            except Exception as exc:
                self.store.mark_failed(sweep_id, run_nos[i:], f"could not queue the job: {exc}")
                raise

    # ------------------------------------------------------------------ run (the worker's part)
    def run(self, sweep_id: str, run_no: int) -> str:
        """Run one backtest of a sweep (the ``run_sweep_run`` actor); return what happened:
        ``"complete"``, ``"failed"`` (its message stored) or ``"skipped"`` (cancelled sweep,
        run already finished, or not released yet). Idempotent: a redelivered message of a
        finished run is skipped. A walk-forward's last fit run of a window releases its test run."""
        row = self.store.claim(sweep_id, int(run_no), worker_id(), datetime.now(UTC))
        if row is None:
            return "skipped"
        sweep = self.store.get(sweep_id)
        outcome = "failed"
        try:
            universe = self._universe(sweep)
            if row["phase"] != "grid":
                w = Window.from_dict(sweep["windows"][row["window"]])
                universe = (window_bars(universe, w.fit_start, w.fit_end) if row["phase"] == "fit"
                            else window_bars(universe, w.test_start, w.test_end))
            if not universe:
                raise ValidationError("no bars in this run's sessions")
            res = run_backtest(make_strategy(sweep["strategy"], row["params"]), universe, self.backtests.config)
            self.store.finish(sweep_id, run_no, status="complete", metrics=res.metrics, bars=res.bars,
                              message="complete", at=datetime.now(UTC))
            outcome = "complete"
        except Exception as exc:  # noqa: BLE001 - stored on the run; a retry would only skip it
            log.warning("sweep %s run %s failed: %s", sweep_id, run_no, exc)
            self.store.finish(sweep_id, run_no, status="failed", message=str(exc), at=datetime.now(UTC))
        if row["phase"] == "fit":
            self._release_test(sweep, row["window"])
        return outcome

    def _release_test(self, sweep: Mapping[str, Any], window: int) -> None:
        """When every fit run of ``window`` has finished, queue its test run with the best
        params (by the sweep's metric, first in grid order on a tie)."""
        rows = self.store.runs(sweep["sweep_id"], window=window)
        fits = [r for r in rows if r["phase"] == "fit"]
        [test] = [r for r in rows if r["phase"] == "test"]
        if any(r["status"] not in _FINISHED for r in fits) or test["status"] != "pending":
            return
        done = [r for r in fits if r["status"] == "complete"]
        if not done:
            self.store.release(sweep["sweep_id"], test["run_no"], params=None, status="failed",
                               message="no in-sample run of this window completed")
            return
        best = done[best_run([r["metrics"] for r in done], sweep["metric"])]
        if self.store.release(sweep["sweep_id"], test["run_no"], params=best["params"],
                              message=f"best in-sample {sweep['metric']}: run {best['run_no']}"):
            self._send(sweep["sweep_id"], [test["run_no"]])

    def _load(self, symbols: Sequence[str], start: date, end: date, as_of: datetime,
              interval: str = "minute") -> list[InstrumentBars]:
        """``interval`` bars of ``symbols`` on IST ``start..end`` closed by ``as_of``;
        ``ValidationError`` if none."""
        out = []
        for sym in symbols:
            b = self.backtests.bars(sym, start, end, interval, as_of=as_of)
            if len(b):
                out.append(InstrumentBars(self.backtests.instruments.resolve(sym), b))
        if not out:
            raise ValidationError(f"no bars for {list(symbols)} between {start} and {end} up to "
                                  f"{as_of.astimezone(IST):%d %b %Y %H:%M} IST; pick a range with data")
        return out

    def _universe(self, sweep: Mapping[str, Any]) -> list[InstrumentBars]:
        """The sweep's bars, read once per process and kept for its next runs (a few sweeps)."""
        sid = sweep["sweep_id"]
        with self._lock:
            if sid in self._cache:
                self._cache.move_to_end(sid)
                return self._cache[sid]
        uni = self._load(sweep["symbols"], sweep["start"].astimezone(IST).date(), sweep["end"].astimezone(IST).date(),
                         sweep["as_of"], STRATEGIES[sweep["strategy"]].interval)
        with self._lock:
            self._remember(sid, uni)
        return uni

    def _remember(self, sweep_id: str, universe: list[InstrumentBars]) -> None:
        self._cache[sweep_id] = universe
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def open_run(self, sweep_id: str, run_no: int, now: datetime) -> str:
        """Queue complete run ``run_no`` of ``sweep_id`` as a full backtest and return its run id.

        The backtest has the run's strategy and params, the sweep's symbols and ``as_of``, and
        the run's sessions (a grid: the sweep's dates; a walk-forward: its window's fit or test
        dates); it is labelled ``"<sweep label> · run <n>"`` and carries ``sweep_id``. Raises
        ``ValidationError`` (nothing queued) for an unknown sweep or run, a run that is not
        complete, or a naive ``now``."""
        require_aware_datetime("now", now)
        sweep = self.sweep(sweep_id)
        if isinstance(run_no, bool) or not isinstance(run_no, int):
            raise ValidationError(f"run_no must be a whole number, was {run_no!r}")
        row = next((r for r in self.store.runs(sweep_id) if r["run_no"] == run_no), None)
        if row is None:
            raise ValidationError(f"sweep {sweep['label']!r} has no run {run_no}; pick one from its results")
        if row["status"] != "complete":
            raise ValidationError(f"run {run_no} of {sweep['label']!r} is {row['status']}; only a complete run "
                                  "opens as a full backtest")
        start, end = sweep["start"].astimezone(IST).date(), sweep["end"].astimezone(IST).date()
        if row["phase"] != "grid":
            w = Window.from_dict(sweep["windows"][row["window"]])
            start, end = (w.fit_start, w.fit_end) if row["phase"] == "fit" else (w.test_start, w.test_end)
        [run_id] = self.backtests.submit(sweep["strategy"], row["params"], sweep["symbols"], start, end, now=now,
                                         label=f"{sweep['label'][:180]} · run {run_no}", as_of=sweep["as_of"],
                                         sweep_id=sweep_id)
        return run_id

    # ------------------------------------------------------------------ control and read
    def cancel(self, sweep_id: str, now: datetime) -> int:
        """Cancel ``sweep_id``: its queued runs are skipped by the workers; runs already running
        finish. Returns the number of runs cancelled. ``ValidationError`` for an unknown sweep."""
        self.sweep(sweep_id)
        return self.store.cancel(sweep_id, require_aware_datetime("now", now))

    def sweep(self, sweep_id: str) -> dict:
        """The stored sweep row; ``ValidationError`` for an unknown id."""
        row = self.store.get(sweep_id)
        if row is None:
            raise ValidationError(f"no sweep {sweep_id!r}; pick one from the list")
        return row

    def sweeps(self, limit: int = 20) -> list[dict]:
        """Recent sweeps, newest first (rows of ``backtest_sweeps``)."""
        return self.store.sweeps(limit)

    def progress(self, sweep_id: str) -> SweepProgress:
        row = self.sweep(sweep_id)
        counts = self.store.counts(sweep_id)
        finished = sum(counts.get(s, 0) for s in _FINISHED)
        status = ("cancelled" if row["status"] == "cancelled" else
                  "complete" if finished >= row["total"] else "running")
        workers = tuple(sorted({r["worker"] for r in self.store.runs(sweep_id) if r["worker"]}))
        return SweepProgress(sweep_id, row["label"], row["kind"], status, finished, row["total"], counts, workers)

    def results(self, sweep_id: str, *, phase: str | None = None) -> pd.DataFrame:
        """One row per run, best first by the sweep's metric (unfinished and failed runs last, in
        run order): ``run_no, phase, window``, one column per swept parameter, the
        :data:`SHOWN_METRICS` (floats; NaN without a value), ``status, worker, message``."""
        row = self.sweep(sweep_id)
        names = list(row["ranges"])
        recs = []
        for r in self.store.runs(sweep_id, phase=phase):
            p, m = r["params"] or {}, r["metrics"] or {}
            recs.append({"run_no": r["run_no"], "phase": r["phase"], "window": r["window"],
                         **{k: p.get(k) for k in names}, **{k: _num(m.get(k)) for k in SHOWN_METRICS},
                         "status": r["status"], "worker": r["worker"] or "", "message": r["message"],
                         "_key": metric_key(m, row["metric"]) if r["status"] == "complete" else float("-inf")})
        cols = ["run_no", "phase", "window", *names, *SHOWN_METRICS, "status", "worker", "message"]
        df = pd.DataFrame(recs, columns=[*cols, "_key"])
        df = df.sort_values(["_key", "run_no"], ascending=[False, True], kind="mergesort")
        return df.drop(columns="_key").reset_index(drop=True)

    def heatmap(self, sweep_id: str, x: str, y: str, metric: str | None = None) -> pd.DataFrame:
        """``metric`` (default the sweep's) of the grid (or fit) runs as a table: index the
        values of ``y``, columns those of ``x`` (ascending); a walk-forward's cell is the mean
        over its windows' fits. ``ValidationError`` if ``x``/``y`` are not two swept parameters."""
        row = self.sweep(sweep_id)
        metric = check_metric(metric or row["metric"])
        if x == y or {x, y} - set(row["ranges"]):
            raise ValidationError(f"a heatmap needs two different swept parameters of {sorted(row['ranges'])}")
        df = self.results(sweep_id, phase="grid" if row["kind"] == "grid" else "fit")
        df = df[df["status"] == "complete"]
        vals = pd.DataFrame({x: df[x], y: df[y], metric: [_num(v) for v in self._metric_of(sweep_id, metric, df)]})
        return vals.pivot_table(index=y, columns=x, values=metric, aggfunc="mean").sort_index().sort_index(axis=1)

    def _metric_of(self, sweep_id: str, metric: str, df: pd.DataFrame) -> list[Any]:
        if metric in df:
            return list(df[metric])
        by_no = {r["run_no"]: (r["metrics"] or {}).get(metric) for r in self.store.runs(sweep_id)}
        return [by_no[n] for n in df["run_no"]]

    def windows(self, sweep_id: str) -> pd.DataFrame:
        """A walk-forward per window: ``window, fit_start, fit_end, test_start, test_end`` (IST
        dates), the best in-sample params (one column per swept parameter), ``fit_<metric>`` (the
        best fit's value), the test run's :data:`SHOWN_METRICS` and ``status``. Empty for a grid."""
        row = self.sweep(sweep_id)
        names, metric = list(row["ranges"]), row["metric"]
        runs = self.store.runs(sweep_id)
        recs = []
        for wd in row["windows"] or []:
            w = Window.from_dict(wd)
            fits = [r for r in runs if r["window"] == w.index and r["phase"] == "fit" and r["status"] == "complete"]
            [test] = [r for r in runs if r["window"] == w.index and r["phase"] == "test"]
            best = fits[best_run([r["metrics"] for r in fits], metric)] if fits else None
            p, m = test["params"] or {}, test["metrics"] or {}
            recs.append({"window": w.index, "fit_start": w.fit_start, "fit_end": w.fit_end, "test_start": w.test_start,
                         "test_end": w.test_end, **{k: p.get(k) for k in names},
                         f"fit_{metric}": _num((best["metrics"] or {}).get(metric)) if best else float("nan"),
                         **{k: _num(m.get(k)) for k in SHOWN_METRICS}, "status": test["status"]})
        return pd.DataFrame(recs, columns=["window", "fit_start", "fit_end", "test_start", "test_end", *names,
                                           f"fit_{metric}", *SHOWN_METRICS, "status"])


def _num(v: Any) -> float:
    try:
        return float(v) if v is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


__all__ = ["ACTOR", "MAX_RUNS", "QUEUE", "SHOWN_METRICS", "SweepProgress", "SweepService", "worker_id"]
