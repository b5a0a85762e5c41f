"""Backtests as jobs: submit (validated, stored ``queued``), run (progress, result stored in
one transaction with ``complete``), list and compare side by side. Parameter sweeps and
walk-forwards are ``app.research.sweeps`` (one of their runs opens here as a full run:
``SweepService.open_run``).

Bars are the strategy's bars of the range (``Strategy.interval``: 1-minute bars for the intraday
strategies, daily bars for the swing ones such as ``breakout_52w``) read through the market-data service
(``MarketDataService.ohlcv``, ``fill=True``: the missing part of the range is first backfilled
from the connected market into the store), bounded by market time: a range that ends after
market time is cut there, and no bundled bar file is read. A run that fails is marked
``failed`` with its message; nothing is stored as complete unless the whole run finished.

Construction: ``BacktestService(StrategyStore(engine), instruments, market=market_data, tasks=queue)``;
``tasks`` needs ``enqueue(queue, actor, **kwargs)`` (``None`` runs in-process).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.backtest import BacktestConfig, InstrumentBars, run_backtest
from core.backtest.report import buy_and_hold, monthly_returns, trade_rows
from core.errors import TemporaryError, ValidationError
from core.strategies import STRATEGIES, make_strategy
from core.text_caps import NAME_MAX_CHARS, shown
from core.timeutil import IST, UTC
from core.validation import require_aware_datetime, require_date_range, require_str_list, require_text

if TYPE_CHECKING:  # pragma: no cover
    from app.adapters.strategy_store import StrategyStore
    from app.market.history import MarketDataService
    from app.market.instruments import InstrumentService

log = logging.getLogger(__name__)

QUEUE = "backtests"
#: The benchmark a trader compares a run with: NIFTY 50, bought and held over the run's dates.
BENCHMARK = "NSE:NIFTY 50"
ACTOR = "run_backtest"


_OHLCV = ["open", "high", "low", "close", "volume"]


def default_config() -> BacktestConfig:
    """The desk's rules for a backtest: the bundled, dated MIS margin table and MIS list
    (``app.adapters.bundled_market.margin_table``, as ``app.container`` gives the desk's
    ``TradingConfig.margins``), so a backtest blocks and refuses as the desk does."""
    from app.adapters.bundled_market import margin_table

    return BacktestConfig(margins=margin_table())


class BacktestService:
    def __init__(self, store: StrategyStore, instruments: InstrumentService, *, market: MarketDataService,
                 tasks: Any = None, config: BacktestConfig | None = None) -> None:
        self.market = market
        self.store = store
        self.instruments = instruments
        self.tasks = tasks
        self.config = config or default_config()

    # ------------------------------------------------------------------ bars
    def bars(self, symbol: str, start: date, end: date, interval: str = "minute", *,
             as_of: datetime | None = None) -> pd.DataFrame:
        """``interval`` bars (``"minute"``, or ``"day"`` for a daily strategy) of ``symbol`` for IST
        dates ``start..end`` through the market-data service (backfilled from the connected
        market first), only bars closed by market time (and by ``as_of`` when it is earlier
        than the end of ``end``: a run opened from a sweep reads what the sweep read).

        Returns the ``ohlcv`` frame (IST ``ts`` index, float ``open high low close`` ₹, int
        ``volume``); empty when the range starts after market time or the market has none.
        Raises ``ValidationError`` for an unknown symbol, or dates that are not
        ``datetime.date`` or out of order.
        """
        require_date_range(start, end)
        lo = datetime.combine(start, time(0), IST)
        hi = datetime.combine(end, time(23, 59), IST)
        if as_of is not None and as_of < hi:
            hi = as_of
        if lo > self.market.now():
            return pd.DataFrame({c: pd.Series(dtype="float64") for c in _OHLCV},
                                index=pd.DatetimeIndex([], tz=IST, name="ts"))
        return self.market.ohlcv(symbol, interval, start=lo, as_of=hi, fill=True)[_OHLCV]

    def known_symbols(self, symbols: Iterable[str]) -> tuple[list[str], list[str]]:
        """``(known, unknown)``: ``symbols`` split by whether the instruments master has them
        (an index list may name a symbol the dump lacks, e.g. a new listing), order kept."""
        known, unknown = [], []
        for sym in symbols:
            try:
                known.append(self.instruments.resolve(sym).tradingsymbol)
            except ValidationError:
                unknown.append(sym)
        return known, unknown

    def interval_of(self, strategy: str) -> str:
        """The bar interval ``strategy`` runs on: ``"minute"`` (intraday, MIS) or ``"day"``
        (swing, CNC). Raises ``ValidationError`` for an unknown strategy."""
        make_strategy(strategy)
        return STRATEGIES[strategy].interval

    # ------------------------------------------------------------------ submit
    def submit(self, strategy: str, params: Mapping[str, Any], symbols: Sequence[str], start: date, end: date, *,
               now: datetime, label: str = "", as_of: datetime | None = None,
               sweep_id: str | None = None) -> list[str]:
        """Validate and queue one run; return ``[run_id]``.

        ``as_of`` (tz-aware) caps the bars at that time when it is before the end of ``end``
        (stored as the run's ``end``); ``sweep_id`` records the sweep a run was opened from.

        Raises ``ValidationError`` (nothing stored): unknown strategy, a parameter out of range,
        an empty universe, an unknown symbol, ``start > end``, no bars in the range; and at the
        boundary (``core.validation``): dates that are not ``datetime.date`` (a string such as
        ``"2016-09-01"``), symbols given as one string or more than 500, params not a mapping,
        a label over 200 characters, a naive ``now`` or ``as_of``.
        """
        strategy = require_text("strategy", strategy, cap=NAME_MAX_CHARS)
        if not isinstance(params, Mapping):
            raise ValidationError(f"params must be a mapping of parameter name to value, was {shown(params)}")
        require_date_range(start, end)
        require_aware_datetime("now", now)
        if as_of is not None:
            require_aware_datetime("as_of", as_of)
        label = require_text("label", label, cap=200, required=False)
        symbols = require_str_list("symbols", symbols, max_items=500, allow_empty=True, drop_blank=True)
        syms = [s.strip().upper() for s in symbols if s and s.strip()]
        if not syms:
            raise ValidationError("the universe is empty; pick at least one symbol to backtest")
        syms = [i.tradingsymbol for i in self.instruments.resolve_many(syms)]
        if start > end:
            raise ValidationError(f"start {start} is after end {end}; swap them")
        p = make_strategy(strategy, params).params
        interval = STRATEGIES[strategy].interval
        hi = min(datetime.combine(end, time(23, 59), IST), as_of or datetime.combine(end, time(23, 59), IST))
        if not any(len(self.bars(s, start, end, interval, as_of=hi)) for s in syms):  # stops at the first with bars
            raise ValidationError(
                f"no bars for {syms} between {start} and {end} up to market time "
                f"{self.market.now():%d %b %Y %H:%M} IST in the connected market; pick a range with data, or "
                "backfill it on the Chart page")
        run_id = f"B-{uuid.uuid4().hex[:16]}"
        name = label or f"{strategy}(" + ", ".join(f"{k}={v}" for k, v in p.items() if k != "quantity") + ")"
        self.store.create_run(dict(
            run_id=run_id, sweep_id=sweep_id, label=name[:200], strategy=strategy, params=p, symbols=syms,
            start=datetime.combine(start, time(0), IST), end=hi,
            status="queued", progress=0.0, message="queued", created_at=now))
        if self.tasks is None:
            self.run(run_id)
        else:
            try:
                self.tasks.enqueue(QUEUE, ACTOR, run_id=run_id)
            except Exception as exc:
                self.store.update_run(run_id, status="failed", message=f"could not queue the job: {exc}")
                raise
        return [run_id]

    # ------------------------------------------------------------------ run
    def run(self, run_id: str, *, now: Callable[[], datetime] | None = None) -> dict:
        """Run a queued run; idempotent (a complete run is returned as is). Returns the run row.

        Raises ``ValidationError`` for an unknown run, after marking the run failed for bad
        data (no bars)."""
        clock = now or (lambda: datetime.now(UTC))
        row = self.store.get_run(run_id)
        if row is None:
            raise ValidationError(f"no backtest run {run_id!r}")
        if row["status"] == "complete":
            return row
        self.store.update_run(run_id, status="running", progress=0.0, message="loading bars")
        try:
            strat = make_strategy(row["strategy"], row["params"])
            start, end = row["start"].astimezone(IST).date(), row["end"].astimezone(IST).date()
            universe = []
            for n, sym in enumerate(row["symbols"]):
                b = self.bars(sym, start, end, strat.interval, as_of=row["end"])
                if n % 25 == 24:
                    self.store.update_run(run_id, message=f"loading bars: {n + 1} of {len(row['symbols'])} symbols")
                if len(b):
                    universe.append(InstrumentBars(self.instruments.resolve(sym), b))
            if not universe:
                raise ValidationError(f"no bars for {row['symbols']} between {start} and {end}")
            last = [0.0]

            def progress(frac: float, msg: str) -> None:
                if frac - last[0] >= 0.05 or frac >= 1.0:
                    last[0] = frac
                    self.store.update_run(run_id, progress=min(frac, 0.99), message=msg)

            res = run_backtest(strat, universe, self.config, progress=progress)
            self.store.complete_run(run_id, metrics=res.metrics, bars=res.bars, result=_result_json(res),
                                    at=clock())
        except Exception as exc:
            self.store.update_run(run_id, status="failed", message=str(exc)[:500], finished_at=clock())
            raise
        return self.store.get_run(run_id)

    # ------------------------------------------------------------------ read
    def runs(self, limit: int = 50) -> pd.DataFrame:
        rows = self.store.runs(limit)
        cols = ["run_id", "label", "strategy", "status", "progress", "message", "symbols", "start", "end",
                "created_at", "sweep_id"]
        df = pd.DataFrame(rows, columns=[*cols, "params", "metrics", "bars", "finished_at"])
        for m in ("total_return_pct", "sharpe", "max_drawdown_pct", "trades"):
            df[m] = [(r or {}).get(m) for r in df["metrics"]] if len(df) else []
        return df.drop(columns=["metrics"])

    def run_row(self, run_id: str) -> dict:
        row = self.store.get_run(run_id)
        if row is None:
            raise ValidationError(f"no backtest run {run_id!r}; pick one from the list")
        return row

    def compare(self, run_ids: Iterable[str]) -> pd.DataFrame:
        """Metrics side by side: index = metric names, one column per complete run (its label)."""
        cols = {}
        for rid in run_ids:
            row = self.run_row(rid)
            if row["status"] == "complete":
                cols[f"{row['label']} [{rid[-4:]}]"] = {k: (float(v) if isinstance(v, (int, float)) else
                                                         (float(v) if v in ("inf", "-inf") else float("nan")))
                                                     for k, v in (row["metrics"] or {}).items()}
        return pd.DataFrame(cols)

    def equity(self, run_id: str) -> pd.DataFrame:
        res = self.store.result(run_id)
        if res is None:
            return pd.DataFrame(columns=["equity", "drawdown_pct"])
        df = pd.DataFrame(res["equity"], columns=["ts", "equity", "drawdown_pct"])
        df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("ts"), utc=True)).tz_convert(IST)
        return df

    def benchmark_closes(self, start: datetime, end: datetime) -> tuple[pd.Series, str]:
        """NIFTY 50 closes from ``start`` to ``end`` through the market-data service (1-minute
        bars; daily bars when the market has no minute bars of the index), as of market time.

        Returns ``(closes, note)``: float points indexed by the IST time each close became known
        (a minute bar's open + 1 minute; a daily bar's 15:30 IST), and a note saying which bars
        were used or why there are none (an empty series then: unknown index, market
        unreachable)."""
        for interval, known in (("minute", timedelta(minutes=1)), ("day", timedelta(hours=15, minutes=30))):
            try:
                bars = self.market.ohlcv(BENCHMARK, interval, start=start, as_of=end, fill=True)
            except (ValidationError, TemporaryError, OSError) as exc:
                log.warning("benchmark %s %s: %s", BENCHMARK, interval, exc)
                return pd.Series(dtype="float64"), f"{BENCHMARK} unavailable: {exc}"
            bars = bars[(bars.index >= start - (known if interval == "day" else timedelta(0)))]
            if len(bars):
                closes = pd.Series(bars["close"].astype(float).to_numpy(), index=bars.index + known)
                return closes, f"{BENCHMARK} {'1-minute' if interval == 'minute' else 'daily'} closes"
        return pd.Series(dtype="float64"), f"no {BENCHMARK} bars in the connected market for these dates"

    def report(self, run_id: str) -> BacktestReport:
        """The complete run ``run_id`` shaped for reading (:class:`BacktestReport`).

        Raises ``ValidationError`` for an unknown run or one that is not complete (say which)."""
        row = self.run_row(run_id)
        if row["status"] != "complete":
            raise ValidationError(f"backtest {row['label']!r} is {row['status']}; its results show when it completes")
        metrics = {k: (float(v) if isinstance(v, (int, float)) or v in ("inf", "-inf", "nan") else v)
                   for k, v in (row["metrics"] or {}).items()}
        capital = float(metrics.get("initial_capital") or self.config.capital)
        eq = self.equity(run_id)
        bench_ret, note = None, "no equity curve"
        if len(eq):
            first, last = (t.to_pydatetime() for t in (eq.index[0], eq.index[-1]))
            closes, note = self.benchmark_closes(first - timedelta(minutes=1), last)
            eq["buy_and_hold"] = buy_and_hold(eq.index, closes, capital)
            held = eq["buy_and_hold"].dropna()
            bench_ret = float(held.iloc[-1] / capital - 1.0) * 100.0 if len(held) else None
        else:
            eq["buy_and_hold"] = pd.Series(dtype="float64")
        return BacktestReport(run=row, metrics=metrics, equity=eq, benchmark=BENCHMARK,
                              benchmark_return_pct=bench_ret, benchmark_note=note,
                              monthly=monthly_returns(eq["equity"], capital), trades=trade_rows(self.trades(run_id)))

    def trades(self, run_id: str) -> pd.DataFrame:
        res = self.store.result(run_id)
        df = pd.DataFrame(res["trades"] if res else [])
        for c in ("entry_at", "exit_at"):
            if c in df:
                df[c] = pd.to_datetime(df[c], utc=True).dt.tz_convert(IST)
        return df


@dataclass(frozen=True)
class BacktestReport:
    """One complete run, shaped for reading (``BacktestService.report``).

    * ``run``: the stored run row (label, strategy, params, symbols, start/end, status …);
    * ``metrics``: ``core.backtest.metrics.compute_metrics`` floats (``initial_capital`` ₹ …);
    * ``equity``: IST bar-close index; float columns ``equity`` (₹), ``drawdown_pct`` (≤ 0) and
      ``buy_and_hold`` (₹: the same capital in ``benchmark`` on the same dates, ``NaN`` where the
      benchmark has no close yet);
    * ``benchmark``: its key (``"NSE:NIFTY 50"``); ``benchmark_return_pct`` its buy-and-hold
      return over the run (``None`` without bars); ``benchmark_note``: why it is missing, or how
      it was read;
    * ``monthly``: ``core.backtest.report.monthly_returns`` (years × Jan … Dec, Year; percent);
    * ``trades``: ``core.backtest.report.trade_rows`` (IST times, charges and net per trade ₹).
    """

    run: dict
    metrics: dict
    equity: pd.DataFrame
    benchmark: str
    benchmark_return_pct: float | None
    benchmark_note: str
    monthly: pd.DataFrame
    trades: pd.DataFrame = field(repr=False)

    def trades_csv(self) -> str:
        """The trades as CSV text: one row per round trip, times as ``YYYY-MM-DD HH:MM:SS`` IST,
        money in ₹ to the paisa, ``return_pct`` to 4 places."""
        out = self.trades.copy()
        for c in ("entry_at", "exit_at"):
            out[c] = out[c].dt.strftime("%Y-%m-%d %H:%M:%S") if len(out) else out[c]
        out = out.rename(columns={"entry_at": "entry_at_ist", "exit_at": "exit_at_ist"})
        money = ["entry_price", "exit_price", "gross", "charges", "net"]
        out[money] = out[money].astype(float).round(2)
        out["return_pct"] = out["return_pct"].astype(float).round(4)
        out["minutes_held"] = out["minutes_held"].astype(float).round(1)
        return out.to_csv(index=False)


def _iso(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else v


def _result_json(res) -> dict:
    eq = res.equity
    equity = [[ts.isoformat(), float(e), float(d)] for ts, e, d in
              zip(eq.index, eq["equity"], eq["drawdown_pct"], strict=True)]
    trades = [{k: _iso(v) if not isinstance(v, float) else v for k, v in r.items()}
              for r in res.trades.to_dict("records")]
    fills = [{k: (str(v) if k in ("price", "charges") else _iso(v)) for k, v in r.items()}
             for r in res.fills.to_dict("records")]
    rej = [{k: _iso(v) for k, v in r.items()} for r in res.rejections.to_dict("records")]
    return dict(equity=equity, trades=trades, fills=fills, rejections=rej)


__all__ = ["ACTOR", "BENCHMARK", "QUEUE", "BacktestReport", "BacktestService"]
