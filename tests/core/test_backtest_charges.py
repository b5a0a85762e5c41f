"""The backtester charges STT per scrip per day to the rupee, as the desk's ledger does
(support.zerodha.com, "How is the STT calculated?"; core.charges.scrip_day_stt)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import pandas as pd

from core.backtest import BacktestConfig, InstrumentBars, backfilled_schedules, run_backtest
from core.charges import equity_charges, schedule_for
from core.orders import Product, Side
from core.strategies.base import Signal, Strategy
from tests.factories import SBIN, T0, ohlcv_frame

D = Decimal
ROWS = [(100, 100.5, 99.5, 100, 6000)] * 6


class TwoRoundTrips(Strategy):
    """Buys 12 at bars 0 and 2, sells the position at bars 1 and 3 (test only)."""

    name = "two_round_trips"

    @property
    def warmup(self) -> int:
        return 0

    def features(self, bars: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"i": range(len(bars))}, index=bars.index, dtype=float)

    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        if f["i"] in (0, 2) and position == 0:
            return Signal(Side.BUY, 12, "scripted buy")
        if f["i"] in (1, 3) and position > 0:
            return Signal(Side.SELL, position, "scripted sell")
        return None


def test_second_sell_of_the_day_carries_the_rupee_of_day_stt():
    """Two MIS sells of 12 SBIN at ₹99.95 (bid = open − one tick) = ₹1,199.40 each: per order
    0.025% = 0.29985 → ₹0, but the scrip-day sell turnover ₹2,398.80 × 0.025% = 0.5997 → ₹1,
    so the second sell carries R(2,398.80) − R(1,199.40) = ₹1 − ₹0 = ₹1, as on the desk."""
    cfg = BacktestConfig(use_risk=False)  # no re-entry cool-down between the two round trips
    res = run_backtest(TwoRoundTrips(quantity=12), [InstrumentBars(SBIN, ohlcv_frame(ROWS, T0))], cfg)
    f = res.fills
    assert list(f["side"]) == ["BUY", "SELL", "BUY", "SELL"]
    sched = schedule_for(T0.date(), backfilled_schedules())
    sells = [D(str(p)) for p in f.loc[f["side"] == "SELL", "price"]]
    assert sells == [D("99.95"), D("99.95")]
    first = equity_charges(Side.SELL, Product.MIS, 12, sells[0], sched)
    second = equity_charges(Side.SELL, Product.MIS, 12, sells[1], sched, prior_day_turnover=sells[0] * 12)
    assert (first.stt, second.stt) == (D("0.00"), D("1.00"))
    assert list(f.loc[f["side"] == "SELL", "charges"]) == [first.total, second.total]
