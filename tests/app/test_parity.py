"""PARITY: one strategy on one session's bars, through the backtester and through the paper
desk fed the replay server's own ticks, makes the same trades.

Paper side: the replay's tick arrays (``ReplayMarket``) are encoded into the exact KiteTicker
frames the replay server sends (``app.adapters.replay.frames.encode_ticks``), decoded and
written into the real Redis ``TickCache`` as the ticker does. At each minute boundary (the
first tick of minute ``m`` has arrived) bar ``m-1`` is published on ``desk:bars:closed``; the
live ``StrategyRunner`` consumes it and proposes; each proposal is approved at market time and
``TradingService`` fills it against the latest cached tick. Backtest side: ``run_backtest`` on
the recorded bars of the same day with the same instruments, risk limits and charges.
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


def _paper_session(market: ReplayMarket, desk, strategy: str, params: dict) -> list[tuple]:
    store = StrategyStore(desk.sql.engine)
    svc = StrategyService(store, desk.svc.instruments)
    svc.save(strategy, params, ["INFY", "SBIN"], enabled=True, now=market.open_dt)
    runner = StrategyRunner(svc, desk.svc, desk.ticks)
    rows = np.array([market.row_of_token[t] for t in TOKENS])
    group = Group("full", False, np.array(TOKENS, dtype=np.int64), rows)
    k = market.k
    refused = []
    for m in range(1, 375):
        i = m * k  # first tick of minute m: bar m-1 has closed
        for frame in encode_ticks(market, [group], i, i):
            desk.ticks.write_frame(decode_frame(frame), market.tick_time(i))
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
    trades = sorted(desk.svc.trade_book(), key=lambda t: (t.filled_at, t.tradingsymbol))
    return [(t.filled_at.astimezone(IST), t.tradingsymbol, t.side, t.quantity, t.price, t.charges.total)
            for t in trades], refused


def _backtest(desk, strategy: str, params: dict):
    universe = []
    for token in TOKENS:
        inst = desk.svc.instruments.by_token(token)
        bars = nse_data.minute_bars_for(inst.tradingsymbol, DAY)
        assert len(bars) == 375, "the parity day must have every minute recorded"
        universe.append(InstrumentBars(inst, bars))
    cfg = BacktestConfig(capital=desk.svc.config.capital, slippage_bps=Decimal(0),
                         limits=desk.svc._engine.risk_limits_obj())
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
