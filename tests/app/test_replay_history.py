"""The replay's Kite historical endpoint serves the whole bundled universe (issue 12, item 4).

Driven by the real, unmodified ``kiteconnect`` client against ``python -m workers.replay`` on
the latest recorded session (2016-09-09): NIFTY 500 daily history before the replay date,
index daily bars (NIFTY 50, NIFTY BANK, sector indices), no bar after the market clock, and
the same price level across intervals (unadjusted daily vs the 1-minute 2016 sessions).

What the shared data allows: NSE EOD (unadjusted) for the NIFTY 500 starts 2016-08-16; before
that the replay serves *derived* Yahoo bars rescaled to the NSE level from 2016-01-01 (see
``app/data/nse/README.md``), so a stock has at most 170 sessions before 2016-09-09 — fewer
than a 200-day average needs. NIFTY 50 and NIFTY BANK (Kite, from 2015) have more than 200.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pytest
from kiteconnect import KiteConnect

from app.adapters import nse_data
from tests.fixtures_replay import start_replay, stop_replay

DAY = date(2016, 9, 9)
FROM = datetime(2015, 1, 1)
TO = datetime(2016, 12, 31, 23, 59)
# NIFTY 500 names: the first four have no 1-minute bars before 2016-09-08 (extra F&O file) or none at all
SAMPLE = ["ACC", "BHEL", "PIDILITIND", "3MINDIA", "ABB", "AXISBANK", "RELIANCE", "TCS", "PAGEIND", "MRF"]


def _tokens(kite: KiteConnect) -> dict[str, int]:
    return {r["tradingsymbol"]: r["instrument_token"] for r in kite.instruments("NSE")}


@pytest.fixture(scope="module")
def open_replay(tmp_path_factory):
    """2016-09-09 at real speed from 09:20: the market clock stays near 09:20 for the module."""
    server = start_replay(tmp_path_factory.mktemp("hist-open"), DAY.isoformat(), 1, "--start", "09:20")
    kite = server.kite()
    yield kite, _tokens(kite)
    stop_replay(server)


@pytest.fixture(scope="module")
def closed_replay(tmp_path_factory):
    """2016-09-09 from 15:29 at speed 120, no loop: the session has closed within a second."""
    server = start_replay(tmp_path_factory.mktemp("hist-closed"), DAY.isoformat(), 120, "--start", "15:29")
    kite = server.kite()
    deadline = time.monotonic() + 20
    while kite.quote(["NSE:ACC"])["NSE:ACC"]["timestamp"] < datetime(2016, 9, 9, 15, 29, 59):
        assert time.monotonic() < deadline, "the replay clock did not reach the close"
        time.sleep(0.2)
    yield kite, _tokens(kite)
    stop_replay(server)


def _day(kite, token):
    return kite.historical_data(token, FROM, TO, "day")


@pytest.mark.parametrize("symbol", SAMPLE)
def test_nifty500_daily_history_before_the_replay_date(open_replay, symbol):
    kite, tokens = open_replay
    candles = _day(kite, tokens[symbol])
    dates = [c["date"].date() for c in candles]
    assert dates == sorted(set(dates)) and dates[-1] == date(2016, 9, 8)
    assert dates[0] == date(2016, 1, 1)  # all the shared data holds (Yahoo, rescaled; NSE EOD from 08-16)
    assert len(candles) >= 165  # the 200-day average is not reachable in 2016 (README, report)
    assert all(c["date"].utcoffset() == timedelta(hours=5, minutes=30) for c in candles)
    assert all(c["low"] <= min(c["open"], c["close"]) <= max(c["open"], c["close"]) <= c["high"] for c in candles)


def test_every_nifty500_symbol_with_2016_data_is_served(open_replay):
    kite, tokens = open_replay
    daily = nse_data.load_replay_daily()
    n500 = set(nse_data.nifty500_industries())
    have = sorted(n500 & set(daily[daily["date"] < DAY]["symbol"]) & set(tokens))
    assert len(have) >= 270
    for sym in have[::25]:  # a spread sample through the real client
        assert _day(kite, tokens[sym]), sym


def test_index_daily_bars_nifty50_bank_and_sectors(open_replay):
    kite, tokens = open_replay
    for index in ("NIFTY 50", "NIFTY BANK"):
        candles = _day(kite, tokens[index])
        before = [c for c in candles if c["date"].date() < DAY]
        assert len(before) >= 200 and before[-1]["date"].date() == date(2016, 9, 8), index
        assert all(c["volume"] == 0 for c in candles)
    nifty = {c["date"].date(): c["close"] for c in _day(kite, tokens["NIFTY 50"])}
    assert nifty[date(2016, 8, 16)] == 8642.55
    for sector in ("NIFTY AUTO", "NIFTY IT", "NIFTY PHARMA", "NIFTY METAL"):  # derived from 1-minute bars
        candles = _day(kite, tokens[sector])
        assert candles and candles[-1]["date"].date() == date(2016, 9, 8), sector
        mins = nse_data.load_minute_bars(nse_data.EXTRA_MINUTE_FILE)
        if sector != "NIFTY IT":
            last = mins[(mins.symbol == sector) & (mins.datetime.dt.date == date(2016, 9, 8))].close.iloc[-1]
            assert candles[-1]["close"] == last


def test_no_bar_after_the_market_clock(open_replay):
    kite, tokens = open_replay
    now = kite.quote(["NSE:ACC"])["NSE:ACC"]["timestamp"]  # the market clock (naive IST)
    assert datetime(2016, 9, 9, 9, 20) <= now < datetime(2016, 9, 9, 10, 0)
    for sym in ("ACC", "3MINDIA", "NIFTY 50", "NIFTY BANK", "NIFTY AUTO"):
        assert all(c["date"].date() < DAY for c in _day(kite, tokens[sym])), sym  # today's bar is forming
    for sym in ("ACC", "RELIANCE", "NIFTY 50", "NIFTY AUTO", "3MINDIA"):  # 3MINDIA: derived from its EOD row
        mins = kite.historical_data(tokens[sym], datetime(2016, 9, 9), TO, "minute")
        assert mins and all(c["date"].replace(tzinfo=None) + timedelta(minutes=1) <= now + timedelta(seconds=2)
                            for c in mins), sym
        assert len(mins) <= (now - datetime(2016, 9, 9, 9, 15)).total_seconds() // 60 + 1
    # a daily-only stock has derived minutes on the replay date only (none recorded, none derived before)
    assert kite.historical_data(tokens["3MINDIA"], datetime(2016, 9, 8), datetime(2016, 9, 8, 23, 59), "minute") == []


def test_extra_fno_stock_is_quoted_and_charted_in_the_replay(open_replay):
    kite, tokens = open_replay
    q = kite.quote(["NSE:ACC", "NSE:BHEL"])
    assert q["NSE:ACC"]["last_price"] > 0 and q["NSE:BHEL"]["depth"]["buy"]
    prev = [c for c in _day(kite, tokens["ACC"]) if c["date"].date() == date(2016, 9, 8)][0]
    assert q["NSE:ACC"]["ohlc"]["close"] == prev["close"]  # previous close = 2016-09-08 NSE EOD
    m5 = kite.historical_data(tokens["ACC"], datetime(2016, 9, 8), datetime(2016, 9, 8, 23, 59), "5minute")
    assert len(m5) == 75


@pytest.mark.parametrize("symbol", ["ACC", "RELIANCE", "BHEL", "TCS"])
def test_daily_close_on_the_replay_date_is_the_last_minute_close(closed_replay, symbol):
    kite, tokens = closed_replay
    day = [c for c in _day(kite, tokens[symbol]) if c["date"].date() == DAY]
    mins = kite.historical_data(tokens[symbol], datetime(2016, 9, 9), datetime(2016, 9, 9, 23, 59), "minute")
    assert len(mins) == 375 and len(day) == 1
    assert day[0]["close"] == mins[-1]["close"] and day[0]["open"] == mins[0]["open"]
    assert day[0]["high"] == max(c["high"] for c in mins) and day[0]["volume"] == sum(c["volume"] for c in mins)


def test_same_price_level_across_intervals_on_earlier_days(open_replay):
    """NSE EOD (unadjusted) closes agree with the 1-minute sessions (NSE's close is a 30-minute VWAP)."""
    kite, tokens = open_replay
    for sym in ("ACC", "BHEL", "RELIANCE", "MRF", "PAGEIND"):
        day = {c["date"].date(): c for c in _day(kite, tokens[sym])}
        mins = kite.historical_data(tokens[sym], datetime(2016, 9, 8), datetime(2016, 9, 8, 23, 59), "minute")
        assert abs(day[date(2016, 9, 8)]["close"] / mins[-1]["close"] - 1) < 0.01, sym
        # the derived (rescaled Yahoo) bars before 2016-08-16 continue at the same level
        assert abs(day[date(2016, 8, 12)]["close"] / day[date(2016, 8, 16)]["close"] - 1) < 0.1, sym
