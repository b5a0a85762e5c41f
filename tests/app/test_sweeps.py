"""SweepService in-process (``tasks=None``): a grid stored and ranked, a heatmap, cancel, bad
input that stores nothing, and a walk-forward whose fit never reads out-of-sample bars.

Bars come only through ``MarketDataService`` (backfilled into a real SQLite store from a replay
server of 2016-08-19, which serves the 2016-08-16 … 08-18 sessions), market clock pinned at
2016-08-19 10:00 IST (the pattern of ``tests/app/test_backtests.py``).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.adapters.store import SqlStore
from app.adapters.strategy_store import StrategyStore
from app.adapters.sweep_store import SweepStore
from app.market.instruments import InstrumentService
from app.research.backtests import BacktestService
from app.research.sweeps import SweepService
from core.backtest import run_backtest
from core.backtest.sweep import window_bars
from core.errors import ValidationError
from core.models import Bar
from core.strategies import make_strategy
from core.timeutil import IST
from tests.app.replay_market import Pinned, market_on
from tests.fixtures_store import seed_instruments
from tests.fixtures_trading import T0

MARKET_NOW = datetime(2016, 8, 19, 10, 0, tzinfo=IST)
D16, D17, D18 = date(2016, 8, 16), date(2016, 8, 17), date(2016, 8, 18)
GRID = {"fast": [3, 5, 8], "slow": [10, 20]}


class Recorder:
    def __init__(self):
        self.sent = []

    def enqueue(self, queue, actor, **kw):
        self.sent.append((queue, actor, kw))
        return f"m{len(self.sent)}"


@pytest.fixture(scope="module")
def later(looping_replay):
    return looping_replay(MARKET_NOW.date().isoformat())


@pytest.fixture()
def make(tmp_path, later, redis_url):
    """``make(name, tasks=None) -> (SweepService, SqlStore)`` on a fresh SQLite store ``name``."""
    stores = []

    def build(name: str = "a", tasks=None):
        sql = SqlStore(f"sqlite:///{tmp_path / (name + '.db')}")
        stores.append(sql)
        seed_instruments(sql)
        market = market_on(sql, later, redis_url, Pinned(MARKET_NOW))
        bt = BacktestService(StrategyStore(sql.engine), InstrumentService(sql), market=market)
        return SweepService(SweepStore(sql.engine), bt, tasks=tasks), sql

    yield build
    for s in stores:
        s.dispose()


def test_grid_runs_every_valid_combination_ranked_by_the_metric(make):
    svc, _ = make()
    sid = svc.submit("sma_cross", {"quantity": 5}, GRID, ["INFY", "SBIN"], D17, D18, now=T0, metric="total_return_pct")
    prog = svc.progress(sid)
    assert (prog.status, prog.finished, prog.total, prog.counts) == ("complete", 6, 6, {"complete": 6})
    res = svc.results(sid)
    assert sorted(zip(res["fast"], res["slow"], strict=True)) == [(3, 10), (3, 20), (5, 10), (5, 20), (8, 10), (8, 20)]
    assert list(res["total_return_pct"]) == sorted(res["total_return_pct"], reverse=True)
    # each stored result is the engine's own on the same bars
    uni = svc._load(["INFY", "SBIN"], D17, D18, MARKET_NOW)
    top = res.iloc[0]
    direct = run_backtest(make_strategy("sma_cross", {"quantity": 5, "fast": int(top["fast"]), "slow": int(top["slow"])}),
                          uni, svc.backtests.config).metrics
    assert top["total_return_pct"] == pytest.approx(direct["total_return_pct"], abs=1e-12)
    assert top["trades"] == direct["trades"]
    heat = svc.heatmap(sid, "fast", "slow")
    assert list(heat.index) == [10, 20] and list(heat.columns) == [3, 5, 8]
    cell = res[(res["fast"] == 5) & (res["slow"] == 20)]["total_return_pct"].iloc[0]
    assert heat.loc[20, 5] == pytest.approx(cell, nan_ok=True)


def test_grid_leaves_out_combinations_that_break_the_strategys_rule(make):
    jobs = Recorder()
    svc, _ = make(tasks=jobs)
    sid = svc.submit("sma_cross", {}, {"fast": [5, 10, 20], "slow": [10, 20]}, ["INFY"], D17, D17, now=T0)
    # (10,10), (20,10), (20,20) break fast < slow
    assert svc.progress(sid).total == 3 and len(jobs.sent) == 3
    assert {(q, a) for q, a, _ in jobs.sent} == {("backtests", "run_sweep_run")}
    assert [kw["run_no"] for _, _, kw in jobs.sent] == [0, 1, 2]


def test_cancel_skips_the_queued_runs_and_a_redelivery_of_a_finished_run(make):
    jobs = Recorder()
    svc, _ = make(tasks=jobs)
    sid = svc.submit("sma_cross", {}, GRID, ["INFY"], D17, D17, now=T0)
    assert svc.run(sid, 0) == "complete"
    assert svc.run(sid, 0) == "skipped"  # redelivered: already finished
    assert svc.cancel(sid, T0) == 5
    assert [svc.run(sid, kw["run_no"]) for _, _, kw in jobs.sent[1:]] == ["skipped"] * 5
    prog = svc.progress(sid)
    assert prog.status == "cancelled" and prog.counts == {"complete": 1, "cancelled": 5} and prog.finished == 6


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(ranges={}), "no parameters"),
    (dict(ranges={"fast": []}), "has no values"),
    (dict(ranges={"speed": [1]}), r"no parameter\(s\) \['speed'\]"),
    (dict(ranges={"fast": [5, 1000]}), "out of range"),
    (dict(ranges={"fast": list(range(2, 30)), "slow": list(range(31, 60))}), "keep it to 500 or fewer"),
    (dict(ranges={"fast": [50], "slow": [10]}), "no combination"),
    (dict(metric="luck"), "cannot rank by 'luck'"),
    (dict(strategy="nope"), "unknown strategy"),
    (dict(symbols=[]), "universe is empty"),
    (dict(start=date(2020, 1, 1), end=date(2020, 1, 2)), "no bars for"),
    (dict(fit_sessions=0, test_sessions=1), "at least 1"),
    (dict(fit_sessions=2, test_sessions=0), "at least 1"),
    (dict(fit_sessions=2), "needs both"),
    (dict(fit_sessions=3, test_sessions=1), "too few"),
    (dict(fit_sessions=1, test_sessions=1, ranges={"fast": list(range(2, 30)), "slow": list(range(31, 40))}),
     "keep it to 500 or fewer"),
    (dict(start="2016-08-17"), "date"),
])
def test_bad_input_raises_and_stores_or_sends_nothing(make, kwargs, match):
    jobs = Recorder()
    svc, _ = make(tasks=jobs)
    args = dict(strategy="sma_cross", params={}, ranges=GRID, symbols=["INFY"], start=D16, end=D18) | kwargs
    with pytest.raises(ValidationError, match=match):
        svc.submit(args.pop("strategy"), args.pop("params"), args.pop("ranges"), args.pop("symbols"),
                   args.pop("start"), args.pop("end"), now=T0, **args)
    assert svc.sweeps() == [] and jobs.sent == []


def _poison(sql: SqlStore, svc: SweepService, days: list[date]) -> None:
    """Overwrite every stored INFY/SBIN bar of ``days`` with a wild zig-zag (after the market
    has backfilled them, so reads keep these)."""
    for sym in ("INFY", "SBIN"):
        bars = svc.backtests.bars(sym, D16, D18)
        token = svc.backtests.instruments.resolve(sym).instrument_token
        out = []
        for i, ts in enumerate(bars.index):
            if ts.date() in days:
                c = 500.0 + (i % 7) * 60.0
                out.append(Bar(token, "minute", ts.to_pydatetime(), c, c + 1, c - 1, c, 1000))
        sql.bars.upsert(out)
        svc.backtests.market.cache.invalidate(token)  # the service's in-process bar cache


def test_walk_forward_fit_never_sees_out_of_sample_bars(make):
    """Two identical walk-forwards (1-session fit, 1-session test: fit 16 Aug → test 17 Aug, fit
    17 Aug → test 18 Aug), one on a store whose 18 Aug bars (only ever out-of-sample) are
    poisoned. Every fit run's metrics and the params each window picks are identical; the
    poisoned test window's result is not (so the poison was read where it may be)."""
    clean, _ = make("clean")
    dirty, dirty_sql = make("dirty")
    _poison(dirty_sql, dirty, [D18])
    kw = dict(now=T0, metric="total_return_pct", fit_sessions=1, test_sessions=1)
    a = clean.submit("sma_cross", {}, GRID, ["INFY", "SBIN"], D16, D18, **kw)
    b = dirty.submit("sma_cross", {}, GRID, ["INFY", "SBIN"], D16, D18, **kw)
    assert clean.progress(a).status == dirty.progress(b).status == "complete"
    fits_a, fits_b = clean.results(a, phase="fit"), dirty.results(b, phase="fit")
    assert len(fits_a) == 12 and fits_a.equals(fits_b.assign(worker=fits_a["worker"]))
    wa, wb = clean.windows(a), dirty.windows(b)
    assert [(w.fit_start, w.fit_end, w.test_start, w.test_end) for w in wa.itertuples()] == [
        (D16, D16, D17, D17), (D17, D17, D18, D18)]
    assert wa[["fast", "slow", "fit_total_return_pct"]].equals(wb[["fast", "slow", "fit_total_return_pct"]])
    assert wa.loc[0, "total_return_pct"] == wb.loc[0, "total_return_pct"]  # test on 17 Aug: clean in both
    assert wa.loc[1, "total_return_pct"] != wb.loc[1, "total_return_pct"]  # test on 18 Aug: poisoned
    # the pick is the best fit by the metric, first in grid order on a tie
    fits0 = fits_a[fits_a["window"] == 0].sort_values("run_no")
    best = fits0.loc[fits0["total_return_pct"].idxmax()]
    assert (wa.loc[0, "fast"], wa.loc[0, "slow"]) == (best["fast"], best["slow"])


def test_walk_forward_fit_runs_read_only_their_window(make):
    """A fit run's stored bar count is its fit sessions' bars, not the sweep's."""
    svc, _ = make()
    sid = svc.submit("sma_cross", {}, {"fast": [5]}, ["INFY"], D16, D18, now=T0, fit_sessions=2, test_sessions=1,
                     anchored=True)
    uni = svc._load(["INFY"], D16, D18, MARKET_NOW)
    fit_bars = sum(len(ib.bars) for ib in window_bars(uni, D16, D17))
    [fit] = svc.store.runs(sid, phase="fit")
    [test] = svc.store.runs(sid, phase="test")
    assert fit["bars"] == fit_bars < sum(len(ib.bars) for ib in uni)
    assert test["bars"] == sum(len(ib.bars) for ib in window_bars(uni, D18, D18)) and test["status"] == "complete"


def test_open_run_gives_a_full_backtest_with_the_sweep_runs_metrics(make):
    """The old 50-run sweep box stored every run in full; the sweep stores metrics only, so a
    trader opens one run as a backtest: same metrics and bars, plus equity and trades."""
    svc, _ = make()
    sid = svc.submit("sma_cross", {"quantity": 5}, GRID, ["INFY", "SBIN"], D17, D18, now=T0, metric="sharpe")
    best = svc.results(sid).iloc[0]
    run_id = svc.open_run(sid, int(best["run_no"]), T0)
    [swept] = [r for r in svc.store.runs(sid) if r["run_no"] == best["run_no"]]
    full = svc.backtests.run_row(run_id)
    assert (full["status"], full["sweep_id"], full["params"], full["bars"]) == ("complete", sid, swept["params"],
                                                                                swept["bars"])
    assert full["metrics"] == swept["metrics"] and full["label"].endswith(f"· run {best['run_no']}")
    report = svc.backtests.report(run_id)
    assert len(report.equity) == swept["bars"] // 2 and len(report.trades) == swept["metrics"]["trades"]


def test_open_run_of_a_walk_forward_test_reads_only_its_window(make):
    svc, _ = make()
    sid = svc.submit("sma_cross", {}, {"fast": [3, 5]}, ["INFY"], D16, D18, now=T0, fit_sessions=1, test_sessions=1)
    [test] = [r for r in svc.store.runs(sid, phase="test") if r["window"] == 1]
    full = svc.backtests.run_row(svc.open_run(sid, test["run_no"], T0))
    assert (full["start"].astimezone(IST).date(), full["end"].astimezone(IST).date()) == (D18, D18)
    assert full["bars"] == test["bars"] == 375 and full["metrics"] == test["metrics"]


@pytest.mark.parametrize(("run_no", "now", "match"), [
    (0, T0, "is queued; only a complete run"),
    (99, T0, "has no run 99"),
    ("0", T0, "run_no must be a whole number"),
    (0, datetime(2016, 8, 19, 10, 0), "now must be tz-aware"),
])
def test_open_run_refuses_and_queues_nothing(make, run_no, now, match):
    jobs = Recorder()
    svc, _ = make(tasks=jobs)
    sid = svc.submit("sma_cross", {}, GRID, ["INFY"], D17, D17, now=T0)
    sent = list(jobs.sent)
    with pytest.raises(ValidationError, match=match):
        svc.open_run(sid, run_no, now)
    assert svc.backtests.store.runs() == [] and jobs.sent == sent
    with pytest.raises(ValidationError, match="no sweep 'W-nope'"):
        svc.open_run("W-nope", 0, T0)


def test_a_daily_strategy_sweeps_on_daily_bars_and_opens_in_full(make):
    """breakout_52w (daily, CNC) sweeps on one bar a session, as its backtest does (the old
    sweep box could sweep it; the section can too): each run is the engine's own on daily bars,
    and an opened run has the same metrics."""
    svc, _ = make()
    start = date(2016, 3, 1)
    sid = svc.submit("breakout_52w", {}, {"lookback": [20, 40], "exit_days": [5, 10]}, ["INFY", "SBIN", "TCS"],
                     start, D18, now=T0, metric="total_return_pct")
    assert svc.progress(sid).counts == {"complete": 4}
    uni = svc._load(["INFY", "SBIN", "TCS"], start, D18, MARKET_NOW, "day")
    assert 3 * 100 < sum(len(ib.bars) for ib in uni) < 3 * 200  # one bar a session
    for r in svc.store.runs(sid):
        direct = run_backtest(make_strategy("breakout_52w", r["params"]), uni, svc.backtests.config)
        assert r["bars"] == direct.bars and r["metrics"]["net_pnl"] == pytest.approx(direct.metrics["net_pnl"])
    best = svc.results(sid).iloc[0]
    full = svc.backtests.run_row(svc.open_run(sid, int(best["run_no"]), T0))
    assert full["strategy"] == "breakout_52w" and full["metrics"]["total_return_pct"] == best["total_return_pct"]
