"""core.scans: built-in scans on the bundled real NIFTY 500 data (known matches against a plain
per-symbol computation), no look-ahead for every scan, the scan backtest, ORB on real minutes."""

from __future__ import annotations

import pandas as pd
import pytest

from app.settings import DATA_DIR
from core import indicators as ind
from core.errors import ValidationError
from core.resample import resample_bars
from core.scan_lang import build_panel, parse
from core.scans import BUILTIN_SCANS, match_counts, resolve, scan_frame
from core.timeutil import IST

NIFTY500 = DATA_DIR / "daily_nifty500_yahoo_splitadj_2025-03_2026-06.csv.gz"
MINUTE = DATA_DIR / "minute_2016-08-16_2016-09-09.csv.gz"
DAILY_SCANS = sorted(k for k, s in BUILTIN_SCANS.items() if "minute" not in s.expression)


@pytest.fixture(scope="module")
def long() -> pd.DataFrame:
    d = pd.read_csv(NIFTY500)
    d["ts"] = pd.DatetimeIndex(pd.to_datetime(d["date"])).tz_localize(IST)
    return d


@pytest.fixture(scope="module")
def panel(long):
    return build_panel(long, sorted(long["symbol"].unique()), "day")


@pytest.fixture(scope="module")
def per_symbol(long) -> dict[str, pd.DataFrame]:
    return {s: g.set_index("ts")[["open", "high", "low", "close", "volume"]].astype(float)
            for s, g in long.groupby("symbol")}


def _reference(key: str, b: pd.DataFrame) -> bool:
    """The built-in scans written the plain way, one symbol at a time (core.indicators)."""
    c, h, o, lo, v = b["close"], b["high"], b["open"], b["low"], b["volume"]
    if key == "rsi_oversold":
        return ind.rsi(b, 14).iloc[-1] < 30
    if key == "rsi_overbought":
        return ind.rsi(b, 14).iloc[-1] > 70
    if key == "gap_up":
        return o.iloc[-1] > h.iloc[-2]
    if key == "gap_down":
        return o.iloc[-1] < lo.iloc[-2]
    if key == "volume_spike":
        return v.iloc[-1] > 2 * ind.volume_sma(b, 20).iloc[-2]
    if key == "breakout":
        return c.iloc[-1] > h.iloc[-21:-1].max() and v.iloc[-1] > 1.5 * ind.volume_sma(b, 20).iloc[-2]
    if key == "high_52w":
        return len(b) >= 252 and h.iloc[-1] >= h.iloc[-252:].max()
    if key == "momentum":
        e20, e50, r = ind.ema(b, 20).iloc[-1], ind.ema(b, 50).iloc[-1], ind.rsi(b, 14).iloc[-1]
        return c.iloc[-1] > e20 > e50 and 55 < r < 70 and v.iloc[-1] > ind.volume_sma(b, 20).iloc[-1]
    if key == "supertrend_flip":
        d = ind.supertrend(b, 10, 3.0)["supertrend_dir"]
        return d.iloc[-1] > 0 and d.iloc[-2] <= 0
    if key == "macd_bullish":
        m = ind.macd(b)
        return m["macd"].iloc[-1] > m["macd_signal"].iloc[-1] and m["macd"].iloc[-2] <= m["macd_signal"].iloc[-2]
    raise AssertionError(key)


@pytest.mark.parametrize("key", DAILY_SCANS)
def test_builtin_scan_matches_plain_per_symbol_computation_on_real_data(key, long, per_symbol):
    # alternate the as-of day between scans to cover two real dates without doubling the run time
    day = pd.Timestamp("2026-06-12" if DAILY_SCANS.index(key) % 2 else "2026-03-10", tz=IST)
    cut = long[long["ts"] <= day]
    p = build_panel(cut, sorted(cut["symbol"].unique()), "day")
    frame, _ = scan_frame(parse(BUILTIN_SCANS[key].expression), {"day": p})
    want = sorted(s for s, b in per_symbol.items() if len(b[b.index <= day]) > 60
                  and bool(_reference(key, b[b.index <= day])))
    assert frame["symbol"].tolist() == want, key


def test_known_matches_are_pinned(panel):
    frame, _ = scan_frame(parse(BUILTIN_SCANS["rsi_oversold"].expression), {"day": panel})
    assert frame["symbol"].tolist() == ["GLAXO", "NATCOPHARM", "NTPC", "OIL", "ONGC", "SBILIFE", "WHIRLPOOL"]
    assert frame["[0] daily rsi(14)"].lt(30).all()
    assert (frame["bar_time"] == pd.Timestamp("2026-06-12", tz=IST)).all()
    gaps, _ = scan_frame(parse(BUILTIN_SCANS["gap_up"].expression), {"day": panel})
    assert (gaps["[0] daily open"] > gaps["[1] daily high"]).all()


@pytest.mark.parametrize("key", DAILY_SCANS)
def test_builtin_scan_has_no_lookahead(key, long, panel):
    node = parse(BUILTIN_SCANS[key].expression)
    counts = match_counts(node, panel)
    dates = counts.index[-60::7]
    for day in dates:
        cut = long[long["ts"] <= day]
        p = build_panel(cut, panel.symbols, "day")
        frame, _ = scan_frame(node, {"day": p})
        assert len(frame) == counts.loc[day], f"{key} on {day.date()}"


def test_scan_backtest_counts_each_past_day(panel):
    counts = match_counts(parse("rsi(14) < 30"), panel)
    assert counts.name == "matches" and counts.dtype == "int64"
    assert len(counts) == panel.bars and counts.index.tz is not None
    assert counts.iloc[:14].eq(0).all() and counts.sum() > 0


def test_scan_backtest_rejects_mixed_timeframes(panel):
    with pytest.raises(ValidationError, match="one timeframe"):
        match_counts(parse("[0] 5 minute close > [0] daily close"), panel)


def test_resolve_builtin_and_expression():
    assert resolve("gap_up") == ("Gap up", BUILTIN_SCANS["gap_up"].expression)
    assert resolve("close > 1") == ("Custom scan", "close > 1")
    with pytest.raises(ValidationError, match="column"):
        resolve("close >")


def test_every_builtin_parses():
    for scan in BUILTIN_SCANS.values():
        parse(scan.expression)


# ---- intraday: ORB on real 2016 minutes through core.resample -----------------------------------


@pytest.fixture(scope="module")
def five_minute() -> pd.DataFrame:
    raw = pd.read_csv(MINUTE)
    raw = raw[raw["symbol"].isin(["RELIANCE", "INFY", "TCS", "SBIN", "ITC", "LT"])]
    raw["ts"] = pd.DatetimeIndex(pd.to_datetime(raw["datetime"])).tz_convert(IST)
    raw = raw[raw["ts"].dt.date == pd.Timestamp("2016-08-16").date()]
    frames = []
    for sym, g in raw.groupby("symbol"):
        r = resample_bars(g.set_index("ts")[["open", "high", "low", "close", "volume"]], "5minute")
        frames.append(r.reset_index(names="ts").assign(symbol=sym))
    return pd.concat(frames, ignore_index=True)


def test_orb_scan_on_real_minutes_has_no_lookahead_and_agrees_with_patterns(five_minute):
    from core.patterns import opening_range

    node = parse(BUILTIN_SCANS["orb"].expression)
    syms = sorted(five_minute["symbol"].unique())
    full = build_panel(five_minute, syms, "5minute")
    counts = match_counts(node, full)
    assert counts.sum() == 6  # breakouts above the 15-minute opening range in the bundled session
    for t in counts.index[3:40]:
        cut = five_minute[five_minute["ts"] <= t]
        frame, _ = scan_frame(node, {"5minute": build_panel(cut, syms, "5minute")})
        assert len(frame) == counts.loc[t]
        for sym in frame["symbol"]:
            b = cut[cut["symbol"] == sym].set_index("ts")
            o = opening_range(b, 15)
            assert b["close"].iloc[-1] > o["or_high"].iloc[-1] and b["close"].iloc[-2] <= o["or_high"].iloc[-2]
