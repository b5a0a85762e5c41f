"""The live runner: recorded bars of a session through the real Redis ``desk:bars:closed``
stream → enabled strategies → PENDING approvals (never orders); idempotent on (strategy, bar)."""

from __future__ import annotations

from datetime import date

import pytest

from app.adapters import nse_data
from app.adapters.strategy_store import StrategyStore
from app.research.strategies import StrategyRunner, StrategyService
from core.errors import ValidationError
from core.models import Bar
from tests.fixtures_trading import INFY, T0, make_desk

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
