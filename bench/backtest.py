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

Prints bars/s for each (wall clock and CPU time of this process: the machine may be
shared), the ratio, whether the trades match (symbol, entry time, exit time, size) and the
load average. PaperDesk and backtesting.py each run three times, alternating, and the best run
of each is reported (timeit's rule: another process's work only ever adds time); the ratio's
PASS/FAIL is on CPU time. Then the daily NIFTY 500 and the sweep sections
(``bench/backtest_parts``). Run: ``.venv/bin/python bench/backtest.py`` (``make bench`` installs
the peer); :func:`minute_section` alone returns the 1-minute lines and a result dict.
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
REPEATS = 3  # each side's runs; the best of each is reported (see minute_section)
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
    t, c = time.perf_counter(), time.process_time()
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
    return time.perf_counter() - t, time.process_time() - c, sorted(trades)


def run_desk(uni: list[InstrumentBars], use_risk: bool, skip_idle: bool = True):
    strat = make_strategy("sma_cross", {"fast": FAST, "slow": SLOW, "quantity": QTY})
    t, c = time.perf_counter(), time.process_time()
    res = run_backtest(strat, uni, BacktestConfig(use_risk=use_risk, skip_idle=skip_idle))
    return time.perf_counter() - t, time.process_time() - c, res


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def minute_section(repeats: int = REPEATS) -> tuple[list[str], dict]:
    """The 1-minute section: PaperDesk vs backtesting.py on :func:`universe`. Each side runs
    ``repeats`` times, alternating, and the best (least CPU) run of each is reported (a shared
    machine's other work only ever adds time); the full engine and the risk-on run once.
    Returns ``(printed lines, result dict)``: ``desk_cpu_s``, ``peer_cpu_s``, ``desk_wall_s``,
    ``peer_wall_s``, ``ratio_cpu``, ``ratio_wall``, ``same_trades``, ``bars``."""
    lines: list[str] = []
    uni = universe()
    bars = sum(len(u.bars) for u in uni)
    lines.append(f"universe: {len(uni)} symbols × 18 sessions, {bars:,} one-minute bars; load average "
                 f"{_load()} on {os.cpu_count()} CPUs")
    run_desk(uni[:1], False)  # warm imports/caches on both sides alike
    peer_runs, desk_runs = [], []
    for _ in range(repeats):
        peer_runs.append(run_peer(uni))
        desk_runs.append(run_desk(uni, use_risk=False))
    peer_s, peer_cpu, peer_trades = min(peer_runs, key=lambda r: r[1])
    desk_s, desk_cpu, res = min(desk_runs, key=lambda r: r[1])
    full_s, full_cpu, res_full = run_desk(uni, use_risk=False, skip_idle=False)
    risk_s, risk_cpu, res_risk = run_desk(uni, use_risk=True)
    naive = lambda t: pd.Timestamp(t).tz_convert("Asia/Kolkata").tz_localize(None)  # noqa: E731
    ours = sorted((r.tradingsymbol, naive(r.entry_at), naive(r.exit_at), int(r.quantity))
                  for r in res.trades.itertuples())
    same = ours == peer_trades and all(r[2] == peer_trades for r in peer_runs)
    same = same and all(d[2].fills.equals(res.fills) for d in desk_runs)

    def rate(name: str, wall: float, cpu: float, extra: str) -> None:
        lines.append(f"{name:<72} {wall:6.2f} s {bars / wall:9,.0f} bars/s "
                     f"(CPU {cpu:6.2f} s {bars / cpu:9,.0f} bars/s)  {extra}")

    rate(f"PaperDesk backtester (paper broker + ticks + Zerodha charges, risk off; best of {repeats})", desk_s,
         desk_cpu, f"trades={len(ours)}  charges=₹{res.metrics['charges']:,.2f}")
    rate("PaperDesk full engine (every bar visited, risk off)", full_s, full_cpu,
         f"same fills and equity as skipping idle bars: "
         f"{res.fills.equals(res_full.fills) and res.equity.equals(res_full.equity)}")
    rate("PaperDesk backtester (risk gatekeeper ON)", risk_s, risk_cpu,
         f"trades={len(res_risk.trades)} refused={len(res_risk.rejections)}")
    rate(f"backtesting.py 0.6.5 (fair: self.I arrays, no charges; best of {repeats})", peer_s, peer_cpu,
         f"trades={len(peer_trades)}")
    lines.append(f"ratio PaperDesk/backtesting.py bars/s: wall {peer_s / desk_s:.2f}x, "
                 f"CPU {peer_cpu / desk_cpu:.2f}x "
                 f"(risk on: wall {peer_s / risk_s:.2f}x, CPU {peer_cpu / risk_cpu:.2f}x); target >= 3.0x: "
                 f"{'PASS' if peer_cpu / desk_cpu >= 3.0 else 'FAIL'} (CPU)")
    lines.append(f"load average after the runs: {_load()}")
    lines.append(f"same trades (symbol, entry time, exit time, size): {same}")
    if not same:
        a, b = set(ours), set(peer_trades)
        lines.append(f"  only PaperDesk: {sorted(a - b)[:5]} ({len(a - b)})")
        lines.append(f"  only backtesting.py: {sorted(b - a)[:5]} ({len(b - a)})")
    result = dict(bars=bars, desk_cpu_s=desk_cpu, peer_cpu_s=peer_cpu, desk_wall_s=desk_s, peer_wall_s=peer_s,
                  ratio_cpu=peer_cpu / desk_cpu, ratio_wall=peer_s / desk_s, same_trades=same)
    return lines, result


def main() -> None:
    """Every section of the benchmark: 1-minute bars vs backtesting.py, then the daily and
    sweep sections of ``bench/backtest_parts`` (each prints its own lines)."""
    lines, _ = minute_section()
    print("\n".join(lines), flush=True)
    from bench.backtest_parts.daily import daily_section
    from bench.backtest_parts.sweep import sweep_section

    for section in (daily_section, sweep_section):
        print("\n".join(section()), flush=True)


if __name__ == "__main__":
    main()
