"""The live runner: recorded bars of a session through the real Redis ``desk:bars:closed``
stream → enabled strategies → PENDING approvals (never orders); idempotent on (strategy, bar);
its warm-up history read through ``MarketDataService`` (the session's replay server, a pinned
clock). The recorded bars stand in for the ticker's closed bars (test input)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from app.adapters import nse_data
from app.adapters.strategy_store import StrategyStore
from app.research.strategies import StrategyRunner, StrategyService
from core.errors import ValidationError
from core.models import Bar
from core.timeutil import IST
from tests.app.replay_market import Pinned, market_on, minute_bars
from tests.fixtures_trading import INFY, SBIN, T0, make_desk

DAY = date(2016, 8, 17)


@pytest.fixture()
def desk(tmp_path, redis_url):
    d = make_desk(f"sqlite:///{tmp_path / 'desk.db'}", redis_url)
    yield d
    d.sql.dispose()


def recorded_bars(symbol: str, token: int, n: int) -> list[Bar]:
    b = nse_data.minute_bars_for(symbol, DAY).iloc[:n]
    return [Bar(token, "minute", ts.to_pydatetime(), float(r.open), float(r.high), float(r.low), float(r.close),
                int(r.volume))
            for ts, r in b.iterrows()]


def test_replayed_bars_become_pending_approvals_once(desk):
    svc = StrategyService(StrategyStore(desk.sql.engine), desk.svc.instruments)
    svc.save("sma_cross", {"fast": 5, "slow": 20, "quantity": 10}, ["INFY"], enabled=True, now=T0)
    runner = StrategyRunner(svc, desk.svc, desk.ticks)
    bars = recorded_bars("INFY", INFY, 120)
    desk.ticks.publish_bars_closed(bars)
    report = runner.poll_once()
    assert report.bars == 120
    assert report.proposals, "sma_cross(5, 20) crosses at least once in INFY's first two hours"
    approvals = [desk.svc.approval(a) for a in report.proposals]
    assert {a.status for a in approvals} <= {"PENDING", "EXPIRED"}
    assert all(a.source == "strategy:sma_cross" and a.strategy == "sma_cross" for a in approvals)
    assert desk.store.count_fills() == 0 and desk.svc.order_book() == []  # never straight into orders
    first = approvals[0]
    assert first.tradingsymbol == "INFY" and first.side == "BUY" and first.quantity == 10
    # the same bars again (redelivery) and a restarted runner: nothing new
    desk.ticks.publish_bars_closed(bars)
    again = runner.poll_once()
    assert again.proposals == [] and again.duplicates == 120
    fresh = StrategyRunner(svc, desk.svc, desk.ticks)
    assert fresh.poll_once().bars == 0  # the stored cursor: resumes after the last handled bar
    assert len(svc.recent_signals("sma_cross")) == len(report.proposals)


def test_disabled_strategy_and_other_symbols_propose_nothing(desk):
    svc = StrategyService(StrategyStore(desk.sql.engine), desk.svc.instruments)
    svc.save("sma_cross", {"fast": 5, "slow": 20}, ["SBIN"], enabled=True, now=T0)
    svc.save("momentum", {}, ["INFY"], enabled=False, now=T0)
    desk.ticks.publish_bars_closed(recorded_bars("INFY", INFY, 120))
    report = StrategyRunner(svc, desk.svc, desk.ticks).poll_once()
    assert report.bars == 120 and report.proposals == []


def test_saving_bad_parameters_or_an_empty_universe_is_refused(desk):
    svc = StrategyService(StrategyStore(desk.sql.engine), desk.svc.instruments)
    with pytest.raises(ValidationError, match="out of range"):
        svc.save("momentum", {"lookback": 0}, ["INFY"], enabled=True, now=T0)
    with pytest.raises(ValidationError, match="universe is empty"):
        svc.save("momentum", {}, [], enabled=True, now=T0)
    with pytest.raises(ValidationError):
        svc.save("momentum", {}, ["NOSUCHSTOCK"], enabled=True, now=T0)
    assert svc.store.get_config("momentum") is None
    assert svc.config("momentum").params["lookback"] == 15  # defaults


def test_warm_up_reads_earlier_bars_through_the_market_service(desk, replay_server, redis_url):
    """With the market wired, the first bar of a traded instrument loads the bars closed before
    it through ``MarketDataService`` (the session's replay server serves 2016-08-16): bars only
    in the store are used, bars after that first bar are not, untraded instruments are not warmed."""
    svc = StrategyService(StrategyStore(desk.sql.engine), desk.svc.instruments)
    svc.save("sma_cross", {"fast": 5, "slow": 20, "quantity": 10}, ["INFY"], enabled=True, now=T0)
    only_stored = datetime(2016, 8, 12, 15, 29, tzinfo=IST)  # neither the market nor the stream has it
    later = datetime(2016, 8, 17, 10, 30, tzinfo=IST)  # after the first streamed bar
    desk.sql.bars.upsert(minute_bars(INFY, only_stored, [999.0]) + minute_bars(INFY, later, [9999.0]))
    market = market_on(desk.sql, replay_server, redis_url, Pinned(datetime(2016, 8, 17, 11, 15, tzinfo=IST)))
    runner = StrategyRunner(svc, desk.svc, desk.ticks, market=market)
    desk.ticks.publish_bars_closed(recorded_bars("INFY", INFY, 120) + recorded_bars("SBIN", SBIN, 5))
    assert runner.poll_once().bars == 125
    history = runner.history(INFY)
    days = pd.Series(history.index.date).value_counts()
    assert history.index[0] == pd.Timestamp(only_stored) and history["close"].iloc[0] == 999.0
    assert days[date(2016, 8, 16)] == 375 and days[DAY] == 120  # the market's 16 Aug, then the stream
    assert 9999.0 not in set(history["close"])  # the stored 10:30 bar came after the warm-up's bar
    assert desk.sql.bars.count(INFY, "minute") >= 375 + 2 and desk.sql.bars.count(SBIN, "minute") == 0
    # the 16 Aug bars are the market's, as the store holds them
    stored = market.ohlcv(INFY, "minute", start=date(2016, 8, 16), as_of=datetime(2016, 8, 17, 9, 15, tzinfo=IST),
                          fill=False)
    assert len(stored) == 375  # the whole 16 Aug session
    pd.testing.assert_series_equal(history.loc[stored.index, "close"], stored["close"].astype("float64"),
                                   check_names=False)


def _frame_as_before(bars: list[Bar], keep: int) -> pd.DataFrame:
    """The runner's history as it was kept before the plain rows: one frame per bar, concatenated."""
    frame = None
    for bar in bars:
        ts = pd.Timestamp(bar.ts).tz_convert(IST)
        row = pd.DataFrame({"open": [bar.open], "high": [bar.high], "low": [bar.low], "close": [bar.close],
                            "volume": [float(bar.volume)]}, index=pd.DatetimeIndex([ts]))
        if frame is not None and frame.index[-1] >= ts:
            continue
        frame = row if frame is None else pd.concat([frame, row])
        frame = frame.iloc[-keep:]
    return frame


def test_the_remembered_rows_give_the_same_frame_as_before_and_no_frame_without_a_strategy(desk, monkeypatch):
    """With no strategy enabled the runner keeps plain rows (no pandas needed); the frame built
    from them equals the old per-bar concatenation (index, dtypes, values), repeated and late
    bars dropped and the oldest beyond ``HISTORY_BARS`` forgotten."""
    import app.research.strategies as strategies_module

    monkeypatch.setattr(strategies_module, "HISTORY_BARS", 50)
    svc = StrategyService(StrategyStore(desk.sql.engine), desk.svc.instruments)
    runner = StrategyRunner(svc, desk.svc, desk.ticks)
    bars = recorded_bars("INFY", INFY, 80)
    fed = [*bars[:40], bars[10], bars[39], *bars[40:]]  # a late and a repeated bar in the stream
    desk.ticks.publish_bars_closed(fed)
    built = []
    monkeypatch.setattr(runner, "history", lambda token: built.append(token))
    assert runner.poll_once().bars == len(fed)
    assert built == []  # nothing enabled: no frame was built
    monkeypatch.undo()
    before = _frame_as_before(fed, 50)
    before.index = before.index.as_unit("ns")  # was µs alone, ns once concatenated with a warm-up frame
    pd.testing.assert_frame_equal(runner.history(INFY), before)
    assert len(runner.history(INFY)) == 50 and runner.history(SBIN) is None
