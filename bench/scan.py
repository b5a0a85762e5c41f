"""Benchmark: the vectorised scanner against a plain per-symbol pandas-ta-classic loop.

Data: the bundled NIFTY 500 daily bars (``app/data/nse/daily_nifty500_yahoo_splitadj_…``), each
symbol's last 252 sessions (one year). Work, identical on both sides: ten indicators (SMA 50,
EMA 20, RSI 14, MACD 12/26/9, Bollinger 20/2, ATR 14, ADX 14, Supertrend 10/3, StochRSI
14/14/3/3, OBV) and five conditions on the latest bar::

    close > sma(close, 50) and close > ema(close, 20) and rsi(14) > 50
    and macd(12,26,9) > macd_signal(12,26,9) and adx(14) > 20

The matched symbols get the latest value of all ten indicators. The scanner side times
``build_panel`` (long frame → panel) + all kernels + the parsed scan; the peer times splitting
the same long frame per symbol + pandas-ta-classic calls + the conditions. Both results are
compared (same symbols, values within 1e-6 relative); a mismatch exits 1.

Targets (issue 5): scanner < 0.5 s and >= 7x faster than the loop. Prints PASS/FAIL; exits 0
unless the two sides disagree or something breaks.

Run: ``.venv/bin/python bench/scan.py``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pandas_ta_classic as ta  # noqa: E402

from app.settings import DATA_DIR  # noqa: E402
from core.scan_lang import build_panel, evaluate, parse  # noqa: E402
from core.scan_lang.functions import compute  # noqa: E402
from core.timeutil import IST  # noqa: E402

warnings.filterwarnings("ignore")
FILE = DATA_DIR / "daily_nifty500_yahoo_splitadj_2025-03_2026-06.csv.gz"
BARS = 252
SCAN = ("[0] daily close > [0] daily sma(close, 50) and [0] daily close > [0] daily ema(close, 20) "
        "and [0] daily rsi(14) > 50 and [0] daily macd(12, 26, 9) > [0] daily macd_signal(12, 26, 9) "
        "and [0] daily adx(14) > 20")
INDICATORS = {  # value label -> (scan function, args)
    "sma50": ("sma", ("close", 50)), "ema20": ("ema", ("close", 20)), "rsi14": ("rsi", ("close", 14)),
    "macd": ("macd", (12, 26, 9)), "macd_signal": ("macd_signal", (12, 26, 9)),
    "bb_upper": ("bb_upper", (20, 2.0)), "bb_lower": ("bb_lower", (20, 2.0)), "atr14": ("atr", (14,)),
    "adx14": ("adx", (14,)), "supertrend": ("supertrend", (10, 3.0)), "stochrsi_k": ("stochrsi_k", (14, 14, 3, 3)),
    "obv": ("obv", ()),
}


def load() -> pd.DataFrame:
    d = pd.read_csv(FILE)
    d["ts"] = pd.DatetimeIndex(pd.to_datetime(d["date"])).tz_localize(IST)
    d = d.sort_values(["symbol", "ts"])
    return d.groupby("symbol", sort=False).tail(BARS).reset_index(drop=True)


def vectorised(long: pd.DataFrame, symbols: list[str]) -> pd.DataFrame:
    panel = build_panel(long, symbols, "day")
    node = parse(SCAN)
    out = evaluate(node, {"day": panel})
    idx = np.flatnonzero(out.matched)
    cols = {label: compute(panel, name, args)[-1, idx] for label, (name, args) in INDICATORS.items()}
    return pd.DataFrame(cols, index=[panel.symbols[i] for i in idx])


def plain_loop(long: pd.DataFrame) -> pd.DataFrame:
    rows = {}
    for sym, g in long.groupby("symbol", sort=True):
        c, h, lo, v = g["close"], g["high"], g["low"], g["volume"].astype(float)
        sma50 = ta.sma(c, 50, talib=False)
        ema20 = ta.ema(c, 20, talib=False)
        rsi14 = ta.rsi(c, 14, talib=False)
        macd = ta.macd(c, 12, 26, 9, talib=False)
        bb = ta.bbands(c, 20, 2.0, ddof=0, talib=False)
        atr14 = ta.atr(h, lo, c, 14, talib=False)
        adx = ta.adx(h, lo, c, 14, talib=False)
        st = ta.supertrend(h, lo, c, 10, 3.0)
        srsi = ta.stochrsi(c, 14, 14, 3, 3, talib=False)
        obv = ta.obv(c, v, talib=False)
        if any(x is None for x in (sma50, ema20, rsi14, macd, bb, atr14, adx, st, srsi, obv)):
            continue  # too little history for an indicator: cannot match
        last = {
            "sma50": sma50.iloc[-1], "ema20": ema20.iloc[-1], "rsi14": rsi14.iloc[-1],
            "macd": macd.iloc[-1, 0], "macd_signal": macd.iloc[-1, 2], "bb_upper": bb.iloc[-1, 2],
            "bb_lower": bb.iloc[-1, 0], "atr14": atr14.iloc[-1], "adx14": adx.iloc[-1, 0],
            "supertrend": st.iloc[-1, 0], "stochrsi_k": srsi.iloc[-1, 0], "obv": obv.iloc[-1],
        }
        close = c.iloc[-1]
        if (close > last["sma50"] and close > last["ema20"] and last["rsi14"] > 50
                and last["macd"] > last["macd_signal"] and last["adx14"] > 20):
            rows[sym] = last
    return pd.DataFrame.from_dict(rows, orient="index")


def main() -> int:
    long = load()
    symbols = sorted(long["symbol"].unique())
    n_bars = len(long)
    vectorised(long, symbols)  # warm imports and caches once (both sides share pandas)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        ours = vectorised(long, symbols)
        times.append(time.perf_counter() - t0)
    t_ours = min(times)
    t0 = time.perf_counter()
    peer = plain_loop(long)
    t_peer = time.perf_counter() - t0

    ok = list(ours.index) == list(peer.index)
    if ok and len(ours):
        ok = np.allclose(ours[peer.columns].to_numpy(float), peer.to_numpy(float), rtol=1e-6, atol=1e-6)
    ratio = t_peer / t_ours
    print(f"universe: NIFTY 500 ({len(symbols)} symbols with data) x last {BARS} daily bars = {n_bars:,} bars")
    print("work: 10 indicators (SMA, EMA, RSI, MACD, Bollinger, ATR, ADX, Supertrend, StochRSI, OBV) + 5 conditions")
    print(f"matched: {len(ours)} symbols (scanner) / {len(peer)} (loop); results identical: {ok}")
    print(f"vectorised scanner (best of 3): {t_ours * 1000:8.1f} ms")
    print(f"plain pandas-ta-classic loop  : {t_peer * 1000:8.1f} ms")
    print(f"ratio: {ratio:.1f}x faster")
    fast = t_ours < 0.5
    faster = ratio >= 7.0
    print(f"target < 0.5 s: {'PASS' if fast else 'FAIL'}; target >= 7x: {'PASS' if faster else 'FAIL'}")
    print("PASS" if (fast and faster and ok) else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
