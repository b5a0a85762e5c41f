"""Scanner, backtest and analysis-service boundaries (issue 16, item 1): dates as strings,
a scan that is not text, a schedule of 10**15 minutes, symbols as one string, wrong types for
the analyst or the market time are refused with the desk's ValidationError naming the field
and the value, before any work, and nothing changes in the store or Redis."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import redis as redis_lib

from app.adapters.strategy_store import StrategyStore
from app.market.instruments import InstrumentService
from app.research.backtests import BacktestService
from app.research.scanner import ScannerService
from core.errors import ValidationError
from tests.app.boundaries import redis_snapshot, sql_snapshot
from tests.app.test_analysis_service import AT, fake, later, market, sql, svc  # noqa: F401
from tests.fixtures_trading import T0


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list = []

    def enqueue(self, queue: str, actor: str, **kwargs) -> str:
        self.sent.append((queue, actor, kwargs))
        return "m-1"


@pytest.fixture()
def research(sql, market, redis_url):
    """Scanner and backtests on the analysis tests' store and market (one replay server per
    module: the 2016-08-25 one, its historical endpoint serving 2016-08-24)."""
    queue = RecordingQueue()
    scanner = ScannerService(sql, None, queue=queue, market=market)
    backtests = BacktestService(StrategyStore(sql.engine), InstrumentService(sql), market=market, tasks=queue)
    client = redis_lib.Redis.from_url(redis_url)
    yield sql, scanner, backtests, queue, client
    client.close()


D1, D2 = date(2016, 8, 16), date(2016, 8, 17)

CASES = [
    ("scan a list", lambda sc, bt: sc.run(["close > 10"], "NIFTY 50"), ["scan must be text", "['close > 10']"]),
    ("scan None enqueue", lambda sc, bt: sc.enqueue(None, "NIFTY 50"), ["scan must be text", "None"]),
    ("as_of a string", lambda sc, bt: sc.run("breakout", "NIFTY 50", as_of="2016-08-17 10:00"),
     ["as_of must be a tz-aware datetime", "'2016-08-17 10:00'"]),
    ("backtest start a string", lambda sc, bt: sc.backtest("breakout", "NIFTY 50", start="2016-08-01"),
     ["start must be a date", "'2016-08-01'"]),
    ("schedule 1e15 minutes", lambda sc, bt: sc.schedule("breakout", "NIFTY 50", 10**15),
     ["every_minutes must be from 1 to 375 minutes", "1000000000000000"]),
    ("schedule '5'", lambda sc, bt: sc.schedule("breakout", "NIFTY 50", "5"),
     ["every_minutes must be a whole number", "'5'"]),
    ("universe a list", lambda sc, bt: sc.run("breakout", ["NIFTY 50"]), ["universe must be a name"]),
    ("submit dates as strings", lambda sc, bt: bt.submit("sma_cross", {}, ["INFY"], "2016-08-16", "2016-08-17", now=T0),
     ["start must be a date", "'2016-08-16'"]),
    ("submit start after end", lambda sc, bt: bt.submit("sma_cross", {}, ["INFY"], D2, D1, now=T0),
     ["start 2016-08-17 is after end 2016-08-16"]),
    ("submit symbols one string", lambda sc, bt: bt.submit("sma_cross", {}, "INFY,TCS", D1, D2, now=T0),
     ["symbols must be a list of strings", "'INFY,TCS'"]),
    ("submit params a list", lambda sc, bt: bt.submit("sma_cross", ["fast"], ["INFY"], D1, D2, now=T0),
     ["params must be a mapping"]),
    ("submit as_of naive", lambda sc, bt: bt.submit("sma_cross", {}, ["INFY"], D1, D2, now=T0,
                                                     as_of=datetime(2016, 8, 17, 10, 0)),
     ["as_of must be tz-aware", "naive"]),
    ("submit now naive", lambda sc, bt: bt.submit("sma_cross", {}, ["INFY"], D1, D2, now=datetime(2016, 8, 17)),
     ["now must be tz-aware"]),
    ("submit label 1 MB", lambda sc, bt: bt.submit("sma_cross", {}, ["INFY"], D1, D2, now=T0, label="L" * 1_048_576),
     ["label is 1,048,576 characters", "limit is 200"]),
    ("bars dates as datetimes", lambda sc, bt: bt.bars("INFY", T0, T0), ["start must be a date"]),
]


@pytest.mark.parametrize(("call", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_refused_before_any_work(research, call, fragments):
    store, scanner, backtests, queue, client = research
    before = (sql_snapshot(store.engine), redis_snapshot(client))
    with pytest.raises(ValidationError) as err:
        call(scanner, backtests)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    assert len(message) < 400
    assert (sql_snapshot(store.engine), redis_snapshot(client)) == before and queue.sent == []


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"at": "2016-08-24 11:00"}, "at must be a tz-aware datetime"),
    ({"analyst": ["gemini"]}, "analyst must be 'gemini' or 'offline', was ['gemini']"),
    ({"model": 25}, "model must be a name such as"),
    ({"scan_hits": "breakout"}, "scan_hits must be a list of strings"),
])
def test_analysis_bad_input_refused_before_any_call(svc, fake, kwargs, fragment):
    before = (len(fake.requests), sql_snapshot(svc.store._engine))
    args = {"symbol": "INFY", "at": AT, **kwargs}
    with pytest.raises(ValidationError) as err:
        svc.analyse(args.pop("symbol"), args.pop("at"), **args)
    assert fragment in str(err.value)
    assert (len(fake.requests), sql_snapshot(svc.store._engine)) == before
