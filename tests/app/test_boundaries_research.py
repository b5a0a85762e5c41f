"""Strategy and watchlist boundaries (issue 16, item 1): a symbol list given as one string,
wrong types, over-long names and a strategy enabled on an index are refused with the desk's
ValidationError naming the field and the value, and nothing changes in the store; so is
enabling a strategy on bars the live runner does not feed (the daily ``breakout_52w``)."""

from __future__ import annotations

import pytest

from app.adapters.strategy_store import StrategyStore
from app.market.instruments import InstrumentService
from app.market.watchlists import WatchlistService
from app.research.strategies import StrategyService
from core.errors import ValidationError
from tests.app.boundaries import sql_snapshot
from tests.fixtures_store import seed_instruments
from tests.fixtures_trading import T0

LONG = "N" * 100_000


@pytest.fixture()
def services(sqlite_store):
    seed_instruments(sqlite_store, {"INFY", "TCS", "SBIN", "NIFTY 50"})
    instruments = InstrumentService(sqlite_store)
    strategies = StrategyService(StrategyStore(sqlite_store.engine), instruments)
    strategies.save("sma_cross", {"fast": 5, "slow": 20}, ["INFY"], enabled=True, now=T0)
    watchlists = WatchlistService(sqlite_store, instruments, default=["NSE:INFY"])
    watchlists.keys()
    return sqlite_store, strategies, watchlists


CASES = [
    ("symbols as one string", lambda s, w: s.save("sma_cross", {}, "INFY,TCS", enabled=True, now=T0),
     ["symbols must be a list of strings", "'INFY,TCS'"]),
    ("enabled on NIFTY 50", lambda s, w: s.save("sma_cross", {}, ["INFY", "NIFTY 50"], enabled=True, now=T0),
     ["cannot be enabled on an index", "NIFTY 50"]),
    ("backtest-only strategy enabled", lambda s, w: s.save("breakout_52w", {}, ["INFY"], enabled=True, now=T0),
     ["breakout_52w cannot be enabled", "daily bars", "feeds closed 1-minute bars only", "backtest only"]),
    ("params a list", lambda s, w: s.save("sma_cross", [("fast", 5)], ["INFY"], enabled=True, now=T0),
     ["params must be a mapping", "[('fast', 5)]"]),
    ("enabled a string", lambda s, w: s.save("sma_cross", {}, ["INFY"], enabled="false", now=T0),
     ["enabled must be True or False", "'false'"]),
    ("now a string", lambda s, w: s.save("sma_cross", {}, ["INFY"], enabled=True, now="2016-08-17"),
     ["now must be a tz-aware datetime"]),
    ("strategy name 100 kB", lambda s, w: s.save(LONG, {}, ["INFY"], enabled=True, now=T0),
     ["strategy is 100,000 characters", "limit is 64"]),
    ("symbol not text", lambda s, w: s.save("sma_cross", {}, ["INFY", 532540], enabled=True, now=T0),
     ["each of symbols must be non-blank text", "532540"]),
    ("watchlist keys as one string", lambda s, w: w.replace("NSE:INFY,NSE:TCS"),
     ["keys must be a list of strings", "'NSE:INFY,NSE:TCS'"]),
    ("watchlist name 100 kB", lambda s, w: w.add("TCS", name=LONG),
     ["watchlist name is 100,000 characters", "limit is 64"]),
    ("watchlist key int", lambda s, w: w.add(408065),
     ["instrument key must be text", "408065"]),
    ("watchlist 1,000 keys", lambda s, w: w.replace(["NSE:INFY"] * 1000),
     ["keys has 1,000 items; the limit is 250"]),
]


@pytest.mark.parametrize(("call", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_refused_with_message_and_store_unchanged(services, call, fragments):
    store, strategies, watchlists = services
    before = sql_snapshot(store.engine)
    with pytest.raises(ValidationError) as err:
        call(strategies, watchlists)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    assert len(message) < 400
    assert sql_snapshot(store.engine) == before


def test_blank_form_entries_are_dropped_not_refused(services):
    _, strategies, _ = services
    saved = strategies.save("sma_cross", {}, "".split(","), enabled=False, now=T0)
    assert saved.symbols == () and not saved.enabled


def test_a_backtest_only_strategy_reads_as_not_enabled_even_if_a_row_says_so(services):
    """A row stored enabled before the refusal existed: the config (which the live runner, the
    API and the page read) says not enabled and not live; saving it disabled still works."""
    store, strategies, _ = services
    strategies.store.save_config("breakout_52w", {"lookback": 252, "exit_days": 50}, ["INFY"], True, T0)
    cfg = strategies.config("breakout_52w")
    assert (cfg.enabled, cfg.live, cfg.interval, cfg.symbols) == (False, False, "day", ("INFY",))
    assert [c.name for c in strategies.configs() if c.enabled] == ["sma_cross"]
    assert strategies.backtest_only("sma_cross") is None
    saved = strategies.save("breakout_52w", {"lookback": 100}, ["TCS"], enabled=False, now=T0)
    assert saved.params["lookback"] == 100 and saved.symbols == ("TCS",) and not saved.enabled
