"""Benchmark section: a daily-bar strategy over NIFTY 500 × 5 years (issue 17, target ≥ 1M bars/s
with charges and the risk gatekeeper on).

Strategy: ``breakout_52w`` (``core.strategies.breakout_52w``) with its defaults — buy CNC when
the close clears the previous 252 sessions' high, sell when it falls below the previous 50
sessions' low; 10 shares an entry. Decisions at each session's close, orders placed in the
next pre-open and filled at the next open on the session's replayed ticks with depth
(``core.backtest.daily``), Zerodha's dated charges on every fill, T+1 settlement and the DP
charge on every sell of held shares (``core.portfolio``), the desk's gatekeeper on every entry.

Limits: the desk's ``RiskLimits`` except those that only make sense for one intraday book:
50 open positions (a swing book holds many names; the desk's 5 would refuse nearly every
breakout) and a 30 % drawdown stop (the desk's 10 % would end entries for good in the first
correction of five years). Capital ₹10,00,000 as the desk.

Bars: the bundled NIFTY 500 daily files (``app/data/nse``), read directly here (the desk reads
the same kind of bars through the market-data service): ``daily_nifty500_yahoo_splitadj_2021-06_2025-02``
+ ``…_2025-03_2026-06`` = 491 symbols, 2021-06-14 → 2026-06-12, split/bonus-adjusted (Yahoo;
so a split is not a price crash; dividends are not adjusted).

Timed: ``core.backtest.run_backtest`` only (bars already in frames, as the desk's job has them
after its reads), wall clock and CPU time of this process. Prints bars/s, fills, round trips,
rejections, charges (₹, fills + DP), and PASS/FAIL against 1,000,000 bars/s (wall).

Run alone: ``.venv/bin/python bench/backtest_parts/daily.py``; ``bench/backtest.py`` prints
:func:`daily_section`.
"""

from __future__ import annotations

import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.adapters import nse_data  # noqa: E402
from core.backtest import BacktestConfig, InstrumentBars, run_backtest  # noqa: E402
from core.models import Instrument  # noqa: E402
from core.risk import RiskLimits  # noqa: E402
from core.strategies import make_strategy  # noqa: E402
from core.timeutil import IST  # noqa: E402

FILES = ("daily_nifty500_yahoo_splitadj_2021-06_2025-02.csv.gz", "daily_nifty500_yahoo_splitadj_2025-03_2026-06.csv.gz")
TARGET = 1_000_000  # bars/s (issue 17)
LIMITS = RiskLimits(max_open_positions=50, max_drawdown_pct=Decimal(30))


def universe() -> list[InstrumentBars]:
    """Every NIFTY 500 symbol of the files with a token in the bundled Kite dump."""
    frames = [pd.read_csv(nse_data.DATA_DIR / f) for f in FILES]
    daily = pd.concat(frames, ignore_index=True).sort_values(["symbol", "date"], kind="stable")
    inst = nse_data.load_instruments()
    inst = inst[inst["segment"] == "NSE"].drop_duplicates("tradingsymbol").set_index("tradingsymbol")
    out = []
    for sym, g in daily.groupby("symbol", sort=True):
        if sym not in inst.index:
            continue
        r = inst.loc[sym]
        i = Instrument(int(r["instrument_token"]), int(r["exchange_token"]), sym, str(r["name"]), "NSE", "NSE", "EQ",
                       Decimal("0.05"), 1)
        idx = pd.DatetimeIndex(pd.to_datetime(g["date"].to_numpy()), name="ts").tz_localize(IST)
        bars = pd.DataFrame({c: g[c].to_numpy(float) for c in ("open", "high", "low", "close", "volume")}, index=idx)
        out.append(InstrumentBars(i, bars))
    return out


def daily_section() -> list[str]:
    """Run the daily backtest once and return the printed lines (see the module docstring)."""
    uni = universe()
    strategy = make_strategy("breakout_52w")
    cfg = BacktestConfig(limits=LIMITS)
    t, c = time.perf_counter(), time.process_time()
    res = run_backtest(strategy, uni, cfg)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    first = min(u.bars.index[0] for u in uni).date()
    last = max(u.bars.index[-1] for u in uni).date()
    m = res.metrics
    rate = res.bars / wall
    return [
        f"daily: {strategy.describe()} over {len(uni)} NIFTY 500 stocks × daily bars {first} → {last} "
        f"({res.bars:,} bars), CNC, charges + DP, risk ON",
        f"daily: {rate:,.0f} bars/s wall ({wall:.2f} s), {res.bars / cpu:,.0f} bars/s CPU ({cpu:.2f} s)",
        f"daily: {len(res.fills):,} fills, {len(res.trades):,} round trips, {len(res.rejections):,} refused; "
        f"charges ₹{m.get('charges', 0.0):,.2f}; return {m.get('total_return_pct', 0.0):+.2f} %",
        f"daily: {'PASS' if rate >= TARGET else 'FAIL'} vs target ≥ {TARGET:,} bars/s (wall); "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


if __name__ == "__main__":
    for line in daily_section():
        print(line)
