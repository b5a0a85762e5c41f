"""BacktestService: submit → run (inline) → stored complete result; compare; as_of; bad input.

Bars come only through ``MarketDataService`` (backfilled into a real SQLite store from a replay
server of 2016-08-19, whose historical endpoint serves the 2016-08-16 … 08-18 sessions), with
the market clock pinned at 2016-08-19 10:00 IST.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from app.adapters.store import SqlStore
from app.adapters.strategy_store import StrategyStore
from app.research.backtests import BacktestService
from app.market.instruments import InstrumentService
from core.errors import ValidationError
from core.timeutil import IST
from tests.app.replay_market import Pinned, market_on, minute_bars
from tests.fixtures_store import seed_instruments
from tests.fixtures_trading import T0

INFY = 408065
MARKET_NOW = datetime(2016, 8, 19, 10, 0, tzinfo=IST)
D17 = date(2016, 8, 17)


class Recorder:
    def __init__(self):
        self.sent = []

    def enqueue(self, queue, actor, **kw):
        self.sent.append((queue, actor, kw))
        return "m1"


@pytest.fixture(scope="module")
def later(looping_replay):
    return looping_replay(MARKET_NOW.date().isoformat())


@pytest.fixture()
def sql(tmp_path):
    s = SqlStore(f"sqlite:///{tmp_path / 'bt.db'}")
    seed_instruments(s)
    yield s
    s.dispose()


@pytest.fixture()
def market(sql, later, redis_url):
    return market_on(sql, later, redis_url, Pinned(MARKET_NOW))


@pytest.fixture()
def service(sql, market):
    """``service(sql, tasks=None)``: the BacktestService on ``sql`` and the pinned market."""
    def make(_sql=None, tasks=None):
        return BacktestService(StrategyStore(sql.engine), InstrumentService(sql), market=market, tasks=tasks)
    return make


def test_run_inline_stores_a_complete_result_and_compares(sql, service):
    svc = service(sql)
    [a] = svc.submit("orb", {"range_minutes": 15}, ["INFY", "SBIN"], date(2016, 8, 17), date(2016, 8, 18), now=T0)
    [b] = svc.submit("sma_cross", {"fast": 10, "slow": 30}, ["INFY", "SBIN"], date(2016, 8, 17), date(2016, 8, 18),
                     now=T0)
    row = svc.run_row(a)
    assert row["status"] == "complete" and row["progress"] == 1.0 and row["bars"] == 4 * 375
    eq = svc.equity(a)
    assert len(eq) == 750 and eq.index.tz is not None
    table = svc.compare([a, b])
    assert table.shape[1] == 2 and "sharpe" in table.index and "charges_pct_of_gross" in table.index
    assert svc.run(a)["status"] == "complete"  # idempotent


def test_submit_queues_one_job_and_as_of_caps_the_bars(sql, service):
    jobs = Recorder()
    [rid] = service(sql, jobs).submit("sma_cross", {}, ["INFY"], D17, D17, now=T0)
    assert [s[:2] for s in jobs.sent] == [("backtests", "run_backtest")]
    assert service(sql).run_row(rid)["status"] == "queued" and service(sql).run_row(rid)["sweep_id"] is None
    svc = service(sql)
    cut = datetime(2016, 8, 17, 10, 0, tzinfo=IST)  # 45 bars of the session closed by 10:00
    [run] = svc.submit("sma_cross", {"fast": 5, "slow": 20}, ["INFY"], D17, D17, now=T0, as_of=cut, sweep_id="W-1")
    row = svc.run_row(run)
    assert (row["status"], row["bars"], row["end"], row["sweep_id"]) == ("complete", 45, cut, "W-1")


def test_bad_input_stores_nothing(sql, service):
    svc = service(sql)
    with pytest.raises(ValidationError, match="no bars for"):
        svc.submit("orb", {}, ["INFY"], date(2020, 1, 1), date(2020, 1, 31), now=T0)
    with pytest.raises(ValidationError, match="universe is empty"):
        svc.submit("orb", {}, [], date(2016, 8, 17), date(2016, 8, 17), now=T0)
    with pytest.raises(ValidationError, match="out of range"):
        svc.submit("sma_cross", {"fast": 1000}, ["INFY"], D17, D17, now=T0)
    assert svc.store.runs() == []


def test_bars_come_from_the_store_through_the_market_service(sql, service):
    """Bars only in the store (2016-08-12: neither the market nor the bundle has that day) are
    backtested; the stored bars are exactly what the run reads."""
    sql.bars.upsert(minute_bars(INFY, datetime(2016, 8, 12, 9, 15, tzinfo=IST),
                                [1000.0 + (i % 40) for i in range(375)]))
    svc = service(sql)
    [run] = svc.submit("sma_cross", {"fast": 5, "slow": 20}, ["INFY"], date(2016, 8, 12), date(2016, 8, 12), now=T0)
    assert svc.run_row(run)["status"] == "complete" and svc.run_row(run)["bars"] == 375
    assert svc.bars("INFY", date(2016, 8, 12), date(2016, 8, 12))["close"].max() == 1039.0


def test_bars_are_bounded_by_market_time_and_the_bundle_is_not_read(sql, service):
    svc = service(sql)
    # stored bars of the whole 19 Aug session: only those closed by the market's 10:00 are read
    sql.bars.upsert(minute_bars(INFY, datetime(2016, 8, 19, 9, 15, tzinfo=IST), [1050.0] * 375))
    today = svc.bars("INFY", date(2016, 8, 19), date(2016, 8, 19))
    assert len(today) == 45 and today.index[-1] == pd.Timestamp(datetime(2016, 8, 19, 9, 59, tzinfo=IST))
    # 22-23 Aug are in the bundled files but after market time: no bars
    with pytest.raises(ValidationError, match="no bars for .* up to market time 19 Aug 2016 10:00 IST"):
        svc.submit("orb", {}, ["INFY"], date(2016, 8, 22), date(2016, 8, 23), now=T0)
    assert svc.store.runs() == []


def test_service_backtests_with_the_desks_bundled_margin_table(service):
    """Source: Zerodha support 'What are the margins for intraday equity (MIS)?' (issue 13): a
    service backtest blocks and refuses MIS by the same bundled, dated table app.container gives
    the desk (``TradingConfig.margins``), not a flat 20 % with every stock eligible."""
    from app.adapters.bundled_market import margin_table

    margins = service().config.margins
    assert margins is not None and margins == margin_table()
    assert margins.rows and margins.source.strip()
    assert any(not r.mis_eligible for r in margins.rows.values())


def test_report_shapes_a_run_for_a_trader_with_nifty_buy_and_hold_on_the_same_dates(sql, service):
    """The report of a complete run: NIFTY 50 bought and held over the run's own bars (read
    through the market service from the replay, closes known at each bar close), monthly returns
    against the run's capital, trade rows with charges, CSV with IST times."""
    svc = service(sql)
    [run] = svc.submit("sma_cross", {"fast": 5, "slow": 20}, ["INFY", "SBIN"], date(2016, 8, 17), date(2016, 8, 18),
                       now=T0)
    rep = svc.report(run)
    eq = rep.equity
    assert list(eq.columns) == ["equity", "drawdown_pct", "buy_and_hold"]
    assert rep.benchmark == "NSE:NIFTY 50" and "1-minute" in rep.benchmark_note
    capital = rep.metrics["initial_capital"]
    held = eq["buy_and_hold"]
    assert held.notna().all() and held.iloc[0] == pytest.approx(capital)
    nifty = svc.market.ohlcv("NSE:NIFTY 50", "minute", start=(eq.index[0] - pd.Timedelta(minutes=1)).to_pydatetime(),
                             as_of=eq.index[-1].to_pydatetime())
    # the last point holds NIFTY's last close known then, from the first close of the range
    expected = capital * nifty["close"].iloc[-1] / nifty["close"].iloc[0]
    assert held.iloc[-1] == pytest.approx(expected)
    assert rep.benchmark_return_pct == pytest.approx((expected / capital - 1) * 100)
    assert list(rep.monthly.index) == [2016]
    assert rep.monthly.loc[2016, "Aug"] == pytest.approx(rep.metrics["total_return_pct"])
    assert len(rep.trades) == rep.metrics["trades"] and (rep.trades["charges"] > 0).all()
    assert str(rep.trades["entry_at"].dt.tz) == "Asia/Kolkata"
    csv = rep.trades_csv().splitlines()
    assert csv[0].startswith("tradingsymbol,direction,quantity,entry_at_ist,entry_price,exit_at_ist")
    assert len(csv) == len(rep.trades) + 1 and "+05:30" not in "".join(csv)


def test_report_of_a_queued_run_says_it_is_not_complete(sql, service):
    jobs = Recorder()
    [run] = service(sql, jobs).submit("orb", {}, ["INFY"], date(2016, 8, 17), date(2016, 8, 17), now=T0)
    with pytest.raises(ValidationError, match="is queued; its results show when it completes"):
        service(sql).report(run)
    with pytest.raises(ValidationError, match="no backtest run"):
        service(sql).report("B-nope")
