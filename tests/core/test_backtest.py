"""Backtest engine and metrics on hand-checked cases."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from core.backtest import BacktestConfig, InstrumentBars, backfilled_schedules, compute_metrics, run_backtest
from core.backtest.metrics import TRADE_COLUMNS
from core.charges import equity_charges, schedule_for
from core.errors import ValidationError
from core.margins import MarginRow, MarginRules, MarginTable
from core.orders import Product, Side
from core.risk import RiskLimits
from core.risk.price_bands import FixedBand
from core.strategies.base import Signal, Strategy
from tests.factories import SBIN, T0, ohlcv_frame


class Script(Strategy):
    """Buys at the close of bar ``buy_at`` and sells at the close of bar ``sell_at`` (test only)."""

    name = "script"

    def __init__(self, buy_at: int, sell_at: int, qty: int = 10) -> None:
        super().__init__(quantity=qty)
        self.buy_at, self.sell_at = buy_at, sell_at

    @property
    def warmup(self) -> int:
        return 0

    def features(self, bars: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"close": bars["close"], "i": range(len(bars))}, index=bars.index, dtype=float)

    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        if f["i"] == self.buy_at and position == 0:
            return Signal(Side.BUY, self.quantity, "scripted buy")
        if f["i"] == self.sell_at and position > 0:
            return Signal(Side.SELL, position, "scripted sell")
        return None


def bars(rows, start=T0) -> pd.DataFrame:
    return ohlcv_frame(rows, start)


ROWS = [(100, 100.5, 99.5, 100, 6000), (101, 102, 100.5, 101.5, 6000), (102, 103, 101, 102, 6000),
        (105, 106, 104, 105.5, 6000), (105, 105, 104, 104.5, 6000)]


def test_fills_at_next_bar_open_across_the_spread_with_zerodha_charges():
    res = run_backtest(Script(0, 2), [InstrumentBars(SBIN, bars(ROWS))])
    f = res.fills
    assert list(f["side"]) == ["BUY", "SELL"]
    assert list(f["filled_at"]) == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)]
    # depth as the replay: BUY at ask = open + one tick, SELL at bid = open − one tick
    assert list(f["price"]) == [Decimal("101.05"), Decimal("104.95")]
    sched = schedule_for(T0.date(), backfilled_schedules())
    buy = equity_charges(Side.BUY, Product.MIS, 10, Decimal("101.05"), sched).total
    sell = equity_charges(Side.SELL, Product.MIS, 10, Decimal("104.95"), sched).total
    assert list(f["charges"]) == [buy, sell]
    [t] = res.trades.itertuples()
    assert t.gross == pytest.approx(39.0)
    assert t.net == pytest.approx(39.0 - float(buy + sell))
    assert res.metrics["final_equity"] == pytest.approx(1_000_000 + 39.0 - float(buy + sell))
    assert res.metrics["exposure_pct"] == pytest.approx(40.0)  # closes of bars 1 and 2 of 5
    assert res.bars == 5


def test_risk_refusal_is_recorded_and_nothing_fills():
    cfg = BacktestConfig(limits=RiskLimits(max_order_quantity=5))
    res = run_backtest(Script(0, 2), [InstrumentBars(SBIN, bars(ROWS))], cfg)
    assert res.fills.empty
    assert list(res.rejections["reasons"]) == ["ORDER_QUANTITY"]
    assert res.metrics["final_equity"] == 1_000_000


def test_open_position_is_squared_off_on_the_last_bar_of_the_day_with_the_fee():
    res = run_backtest(Script(0, 99), [InstrumentBars(SBIN, bars(ROWS))])
    assert list(res.fills["tag"]) == ["script", "SQUAREOFF"]
    assert res.fills["price"].iloc[1] == Decimal("104.45")  # last tick = close 104.50, bid one tick lower
    assert res.metrics["charges"] > float(res.fills["charges"].sum())  # + ₹50 + GST fee


def test_empty_universe_and_missing_bars_are_refused():
    with pytest.raises(ValidationError, match="universe is empty"):
        run_backtest(Script(0, 2), [])
    with pytest.raises(ValidationError, match="no bars for"):
        run_backtest(Script(0, 2), [InstrumentBars(SBIN, bars([]))])


def _curve(values, exposure):
    idx = pd.DatetimeIndex([T0 + timedelta(days=d) for d in range(len(values))])
    return pd.DataFrame({"equity": values, "exposure": exposure}, index=idx)


def test_metrics_hand_checked():
    # three days: +10 %, −10 %, +10 % on ₹100
    eq = _curve([110.0, 99.0, 108.9, 108.9], [0, 5, 5, 0])
    eq.index = pd.DatetimeIndex([T0, T0 + timedelta(days=1), T0 + timedelta(days=2),
                                 T0 + timedelta(days=2, minutes=1)])
    trades = pd.DataFrame([dict(gross=35.0, charges=5.0, net=30.0), dict(gross=-5.0, charges=5.0, net=-10.0),
                           dict(gross=-2.0, charges=3.0, net=-5.0), dict(gross=20.0, charges=5.0, net=15.0)],
                          columns=TRADE_COLUMNS)
    m = compute_metrics(eq, trades, 100.0)
    assert m["total_return_pct"] == pytest.approx(8.9)
    assert m["days"] == 3
    assert m["annualized_return_pct"] == pytest.approx((1.089 ** 84 - 1) * 100)
    assert m["sharpe"] == pytest.approx((0.1 / 3) / math.sqrt(0.04 / 3) * math.sqrt(252))  # 4.5826
    assert m["sharpe"] == pytest.approx(4.5826, abs=1e-4)
    assert m["sortino"] == pytest.approx((0.1 / 3) / math.sqrt(0.01 / 3) * math.sqrt(252))  # 9.1652
    assert m["max_drawdown_pct"] == pytest.approx(-10.0)
    assert m["win_rate_pct"] == 50.0
    assert m["profit_factor"] == pytest.approx(3.0)
    assert m["expectancy"] == pytest.approx(7.5)
    assert m["exposure_pct"] == 50.0
    assert m["charges_pct_of_gross"] == pytest.approx(18 / 48 * 100)


def test_metrics_without_trades_or_losses():
    eq = _curve([100.0], [0])
    empty = pd.DataFrame(columns=TRADE_COLUMNS)
    m = compute_metrics(eq, empty, 100.0)
    assert m["trades"] == 0 and math.isnan(m["win_rate_pct"]) and math.isnan(m["profit_factor"])
    assert math.isnan(m["sharpe"]) and math.isnan(m["charges_pct_of_gross"])
    wins = pd.DataFrame([dict(gross=5.0, charges=1.0, net=4.0)], columns=TRADE_COLUMNS)
    assert compute_metrics(eq, wins, 100.0)["profit_factor"] == math.inf


# ---- issue 13: the desk's margin table and price-band rule in the backtest -------------------

def _table(**rows: MarginRow) -> MarginTable:
    return MarginTable(as_of=T0.date(), source="test table", rows=rows)


BIG = [(100, 100.5, 99.5, 100, 6000)] * 3  # the entry is judged at the close ₹100


@pytest.mark.parametrize(("capital", "refused"), [(Decimal("30000.00"), False), (Decimal("29999.99"), True)])
def test_mis_entry_blocks_the_tables_margin_above_the_floor(capital, refused):
    """Source: Zerodha support 'What are the margins for intraday equity (MIS)?' (SEBI peak
    margin): MIS blocks max(20 %, VaR + ELM + ad hoc). SBIN at 25 + 5 = 30 %: 1,000 shares at
    ₹100 block ₹30,000.00, the figure core.margins gives the desk; one paisa less is refused."""
    table = _table(SBIN=MarginRow("SBIN", Decimal(25), Decimal(5)))
    intent = Script(0, 99, qty=1000).intent(SBIN.instrument_token, "SBIN", Signal(Side.BUY, 1000, "x"))
    assert MarginRules(table).required(intent, Decimal(100)) == Decimal("30000.00")
    res = run_backtest(Script(0, 99, qty=1000), [InstrumentBars(SBIN, bars(BIG))],
                       BacktestConfig(capital=capital, margins=table))
    assert list(res.rejections["reasons"]) == (["INSUFFICIENT_MARGIN"] if refused else [])
    assert res.fills.empty is refused
    # without the table the flat 20 % floor (₹20,000) would have let it through
    flat = run_backtest(Script(0, 99, qty=1000), [InstrumentBars(SBIN, bars(BIG))],
                        BacktestConfig(capital=Decimal("29999.99")))
    assert flat.rejections.empty and list(flat.fills["tag"]) == ["script", "SQUAREOFF"]


def test_mis_entry_on_a_stock_off_the_mis_list_is_refused_as_on_the_desk():
    """Source: Zerodha support 'What are the margins for intraday equity (MIS)?': MIS only on
    the eligible list. The backtest refuses with the gatekeeper's MIS_NOT_ELIGIBLE, nothing fills."""
    table = _table(SBIN=MarginRow("SBIN", Decimal(10), Decimal(5), mis_eligible=False))
    res = run_backtest(Script(0, 2), [InstrumentBars(SBIN, bars(ROWS))], BacktestConfig(margins=table))
    assert list(res.rejections["reasons"]) == ["MIS_NOT_ELIGIBLE"]
    assert res.fills.empty and res.metrics["final_equity"] == 1_000_000


DAY1 = [(100, 100.5, 99.5, 100, 6000)] * 3
DAY2 = [(100, 105, 100, 105, 6000), (105, 110, 105, 110, 6000), (110, 115, 110, 114.5, 6000),
        (114.5, 115, 114, 114.8, 6000), (114.8, 115, 114.5, 115, 6000)]


def _two_days() -> pd.DataFrame:
    return pd.concat([bars(DAY1), bars(DAY2, T0 + timedelta(days=1))])


def test_fno_stock_15pct_rally_is_not_refused_by_a_synthetic_10pct_band():
    """Source: NSE operating range for F&O securities (10 %, flexed 5 % in the trend's
    direction; Zerodha tradingqna t/18973). Previous close ₹100, the day trades to ₹115: a buy
    at ₹114.50 and its exit fill; a flat ±10 % band (₹90–110) would have refused both."""
    res = run_backtest(Script(5, 6), [InstrumentBars(SBIN, _two_days())])
    assert res.rejections.empty
    assert list(res.fills["side"]) == ["BUY", "SELL"]
    assert res.fills["price"].iloc[0] > Decimal(110)


def test_fixed_band_stock_stays_inside_its_band():
    """Source: NSE price bands (fixed 2/5/10/20 % for non-F&O securities, nseindia.com price band
    list): with a 10 % row in force the same ₹114.50 buy is outside ₹90–110 and refused."""
    band = FixedBand("SBIN", 10, T0.date(), "test row")
    res = run_backtest(Script(5, 6), [InstrumentBars(SBIN, _two_days())], BacktestConfig(fixed_bands=(band,)))
    assert list(res.rejections["reasons"]) == ["OUTSIDE_CIRCUIT"]
    assert res.fills.empty
