"""PARITY: one strategy on one session's bars, through the backtester and through the paper
desk fed the replay server's own ticks, makes the same trades.

Paper side: the replay's tick arrays (``ReplayMarket``) are encoded into the exact KiteTicker
frames the replay server sends (``app.adapters.replay.frames.encode_ticks``), decoded and
written into the real Redis ``TickCache`` as the ticker does. At each minute boundary (the
first tick of minute ``m`` has arrived) bar ``m-1`` is published on ``desk:bars:closed``; the
live ``StrategyRunner`` consumes it and proposes; each proposal is approved at market time and
``TradingService`` fills it against the latest cached tick. Backtest side: ``run_backtest`` on
the recorded bars of the same day with the same instruments, risk limits and charges.

With exits (``core.backtest.exits.ExitRule`` on both sides: the backtest's ``BacktestConfig.exits``
and the runner's ``exits``): every entry carries a stop and a target, the desk places its OCO exits
when it fills. The stop and the target fill inside a minute, so the paper side is fed *every*
tick (the replay at 6 ticks a minute, the backtest's ``ticks_per_bar`` = 6) and runs its match pass
on each tick while it has open orders, and the MIS square-off at 15:20; fills, charges and the
final equity must match.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from app.adapters import nse_data
from app.adapters.replay.frames import Group, encode_ticks
from app.adapters.replay.market import ReplayMarket
from app.adapters.strategy_store import StrategyStore
from app.research.strategies import StrategyRunner, StrategyService
from core.backtest import BacktestConfig, InstrumentBars, run_backtest
from core.backtest.exits import ExitRule
from core.models import Bar
from core.strategies import make_strategy
from core.tick_batch import decode_frame
from core.timeutil import IST
from tests.fixtures_trading import INFY, SBIN, make_desk

DAY = date(2016, 8, 17)
TOKENS = (INFY, SBIN)


@pytest.fixture(scope="module")
def market() -> ReplayMarket:
    return ReplayMarket(DAY)


def _paper_session(market: ReplayMarket, desk, strategy: str, params: dict,
                   exits: ExitRule | None = None) -> list[tuple]:
    store = StrategyStore(desk.sql.engine)
    svc = StrategyService(store, desk.svc.instruments)
    svc.save(strategy, params, ["INFY", "SBIN"], enabled=True, now=market.open_dt)
    runner = StrategyRunner(svc, desk.svc, desk.ticks, exits=exits)
    rows = np.array([market.row_of_token[t] for t in TOKENS])
    group = Group("full", False, np.array(TOKENS, dtype=np.int64), rows)
    k = market.k
    refused = []
    for m in range(1, 375):
        i = m * k  # first tick of minute m: bar m-1 has closed
        if exits is not None and desk.svc._engine.store.list_orders(open_only=True):
            # exits fill inside a minute: every tick of minute m-1 first (orders are only placed on
            # the minute's first tick or by a fill, so a minute that starts without any needs none)
            for j in range((m - 1) * k + 1, i):
                _feed(market, desk, group, j)
                desk.svc.match_open_orders(market.tick_time(j))
        _feed(market, desk, group, i)
        bars = []
        for token, r in zip(TOKENS, rows, strict=True):
            p = market.price[r, (m - 1) * k:m * k] / 100.0
            v = int(market.ltq[r, (m - 1) * k:m * k].sum())
            bars.append(Bar(token, "minute", market.tick_time((m - 1) * k), float(p[0]), float(p.max()),
                            float(p.min()), float(p[-1]), v))
        desk.ticks.publish_bars_closed(bars)
        runner.poll_once()
        now = market.tick_time(i)
        for view in desk.svc.pending(now):
            out = desk.svc.approve(view.approval_id, user="parity", now=now)
            if not out.ok:
                refused.append((now, view.tradingsymbol, out.reasons))
                desk.svc.reject(view.approval_id, user="parity", reason="refused by risk", now=now)
        if exits is not None:
            desk.svc.square_off_mis(now)  # a no-op before the 15:20 cut-off
            if desk.svc._engine.store.list_orders(open_only=True):
                desk.svc.match_open_orders(now)
    trades = sorted(desk.svc.trade_book(), key=lambda t: (t.filled_at, t.tradingsymbol))
    return [(t.filled_at.astimezone(IST), t.tradingsymbol, t.side, t.quantity, t.price, t.charges.total)
            for t in trades], refused


def _feed(market: ReplayMarket, desk, group: Group, i: int) -> None:
    """Tick ``i`` of the session into the tick cache, as the ticker writes it."""
    for frame in encode_ticks(market, [group], i, i):
        desk.ticks.write_frame(decode_frame(frame), market.tick_time(i))


def _backtest(desk, strategy: str, params: dict, exits: ExitRule | None = None, ticks_per_bar: int = 60):
    universe = []
    for token in TOKENS:
        inst = desk.svc.instruments.by_token(token)
        bars = nse_data.minute_bars_for(inst.tradingsymbol, DAY)
        assert len(bars) == 375, "the parity day must have every minute recorded"
        universe.append(InstrumentBars(inst, bars))
    cfg = BacktestConfig(capital=desk.svc.config.capital, slippage_bps=Decimal(0),
                         limits=desk.svc._engine.risk_limits_obj(), exits=exits, ticks_per_bar=ticks_per_bar)
    res = run_backtest(make_strategy(strategy, params), universe, cfg)
    f = res.fills.sort_values(["filled_at", "tradingsymbol"], kind="stable")
    return [(t.filled_at.astimezone(IST), t.tradingsymbol, t.side, t.quantity, t.price, t.charges)
            for t in f.itertuples()], res


@pytest.mark.parametrize("strategy,params", [
    ("sma_cross", dict(fast=5, slow=20, quantity=10)),
    ("mean_reversion", dict(period=20, entry_z=2.0, exit_z=0.25, quantity=7)),
])
def test_backtest_and_replayed_paper_trading_make_the_same_trades(tmp_path, redis_url, market, strategy, params):
    desk = make_desk(f"sqlite:///{tmp_path / 'desk.db'}", redis_url)
    try:
        paper, refused = _paper_session(market, desk, strategy, params)
        backtest, res = _backtest(desk, strategy, params)
    finally:
        desk.sql.dispose()
    assert len(paper) >= 4, "the session must trade to prove anything"
    # same entry/exit times, sides, quantities, prices and charges, fill by fill
    assert backtest == paper
    # the desk's refusals are the backtest's rejections (same minute, symbol and reason codes)
    assert sorted((at, sym, ",".join(codes)) for at, sym, codes in refused) == sorted(
        (r.at.astimezone(IST), r.tradingsymbol, r.reasons) for r in res.rejections.itertuples())
    # fills at the next bar's open, MARKET BUY at the best ask (open + one tick)
    first = paper[0]
    assert first[0].second == 0


@pytest.fixture(scope="module")
def market6() -> ReplayMarket:
    return ReplayMarket(DAY, ticks_per_bar=6)


@pytest.mark.parametrize("strategy,params,rule", [
    ("sma_cross", dict(fast=5, slow=20, quantity=10), ExitRule(Decimal("0.3"), Decimal("0.5"))),
])
def test_backtest_and_replayed_paper_trading_make_the_same_trades_with_exits(tmp_path, redis_url, market6,
                                                                              strategy, params, rule):
    desk = make_desk(f"sqlite:///{tmp_path / 'desk.db'}", redis_url)
    try:
        paper, refused = _paper_session(market6, desk, strategy, params, exits=rule)
        end = market6.tick_time(market6.n - 1)
        funds = desk.svc.funds(end)
        exits = desk.svc.exit_book()
        backtest, res = _backtest(desk, strategy, params, exits=rule, ticks_per_bar=market6.k)
    finally:
        desk.sql.dispose()
    tags = res.fills["tag"].tolist()
    assert tags.count("EXIT") >= 2 and "SQUAREOFF" in tags, "stops, targets and a square-off must happen"
    assert len(exits) == tags.count(strategy[:20]), "every entry got its exits on the desk"
    # each group closed by its exits, or cancelled by the square-off that flattened it
    statuses = sorted(e.status for e in exits)
    assert statuses == sorted(["DONE"] * tags.count("EXIT") + ["CANCELLED"] * tags.count("SQUAREOFF"))
    assert backtest == paper  # fill by fill: time, symbol, side, quantity, price, charges
    assert sorted((at, sym, ",".join(codes)) for at, sym, codes in refused) == sorted(
        (r.at.astimezone(IST), r.tradingsymbol, r.reasons) for r in res.rejections.itertuples()
        if r.signal not in ("stop exit", "target exit"))
    # the same money: the desk's equity at the close (flat, square-off fees included) is the backtest's
    assert float(funds.equity) == pytest.approx(res.equity["equity"].iloc[-1], abs=0.005)
