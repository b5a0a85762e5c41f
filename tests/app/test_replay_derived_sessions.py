"""Daily-only stocks get a derived session in the replay (issue 12 §4).

A NIFTY 500 stock with a real NSE EOD row on the replay date but no recorded 1-minute bars
(SOBHA, an up day, and COROMANDEL, a down day, on 2016-09-09) is replayed from one
``core.tickpath`` path through that day's EOD OHLC, with the EOD volume spread over the
session. Driven by the real ``kiteconnect`` client (REST) and ``KiteTicker`` (websocket)
against ``python -m workers.replay``; the expected prices are rebuilt here from the bundled EOD
file and ``core.tickpath``, independently of the replay's arrays.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pytest

from app.adapters import nse_data
from core.tickpath import bars_ticks
from core.timeutil import IST
from tests.app.test_replay_ws import run_probe
from tests.fixtures_replay import start_replay, stop_replay

DAY = date(2016, 9, 9)
OPEN = datetime(2016, 9, 9, 9, 15)
K = 60  # the replay's default ticks per 1-minute bar
N = 375 * K
UP, DOWN = "SOBHA", "COROMANDEL"  # EOD close > open, close < open
TO = datetime(2016, 9, 9, 23, 59)


def _eod(symbol: str, day: date = DAY) -> dict:
    d = nse_data.load_replay_daily()
    row = d[(d["symbol"] == symbol) & (d["date"] == day) & (d["source"] == "nse_eod")]
    assert len(row) == 1, f"{symbol} needs one NSE EOD row on {day}"
    return row.iloc[0].to_dict()


def _expected_path(symbol: str) -> list[float]:
    r = _eod(symbol)
    path = bars_ticks([r["open"]], [r["high"]], [r["low"]], [r["close"]], [0], k=N, tick_size=0.05)
    return list(path.rupees)


def test_the_chosen_stocks_are_daily_only_on_the_replay_date():
    for path in (nse_data.MINUTE_FILE, nse_data.EXTRA_MINUTE_FILE):
        assert not {UP, DOWN} & set(nse_data.load_minute_bars(path)["symbol"].unique())
    assert _eod(UP)["close"] > _eod(UP)["open"] and _eod(DOWN)["close"] < _eod(DOWN)["open"]


@pytest.fixture(scope="module")
def midday(tmp_path_factory):
    """2016-09-09 at real speed from 14:00: both extremes of the derived paths are behind."""
    server = start_replay(tmp_path_factory.mktemp("derived-midday"), DAY.isoformat(), 1, "--start", "14:00")
    kite = server.kite()
    tokens = {r["tradingsymbol"]: r for r in kite.instruments("NSE")}
    yield server, kite, tokens
    stop_replay(server)


@pytest.fixture(scope="module")
def closed(tmp_path_factory):
    """2016-09-09 from 15:29 at speed 120, no loop: the session has closed within a second."""
    server = start_replay(tmp_path_factory.mktemp("derived-closed"), DAY.isoformat(), 120, "--start", "15:29")
    kite = server.kite()
    deadline = time.monotonic() + 20
    while kite.quote([f"NSE:{UP}"])[f"NSE:{UP}"]["timestamp"] < datetime(2016, 9, 9, 15, 29, 59):
        assert time.monotonic() < deadline, "the replay clock did not reach the close"
        time.sleep(0.2)
    tokens = {r["tradingsymbol"]: r["instrument_token"] for r in kite.instruments("NSE")}
    yield kite, tokens
    stop_replay(server)


@pytest.mark.parametrize("symbol", [UP, DOWN])
def test_quote_is_the_derived_tick_at_the_replay_clock(midday, symbol):
    _, kite, _ = midday
    key = f"NSE:{symbol}"
    q = kite.quote([key])[key]
    now, ltt = q["timestamp"], q["last_trade_time"]
    assert datetime(2016, 9, 9, 14, 0) <= now < datetime(2016, 9, 9, 14, 5)
    assert ltt <= now < ltt + timedelta(seconds=2)
    i = int((ltt - OPEN).total_seconds())  # one tick a second at K = 60
    assert q["last_price"] == pytest.approx(_expected_path(symbol)[i], abs=1e-6)
    r = _eod(symbol)
    # 14:00 is past both extremes (about 11:20 and 13:25), so the day's range is the EOD range
    assert q["ohlc"]["open"] == r["open"] and q["ohlc"]["high"] == r["high"] and q["ohlc"]["low"] == r["low"]
    assert q["ohlc"]["close"] == _eod(symbol, date(2016, 9, 8))["close"]  # previous close: 09-08 NSE EOD
    # EOD volume spread evenly over the session's ticks: floor(V * (i + 1) / N) after tick i
    assert q["volume"] == r["volume"] * (i + 1) // N and 0 < q["volume"] < r["volume"]
    assert r["low"] <= q["average_price"] <= r["high"]
    assert len(q["depth"]["buy"]) == 5 and len(q["depth"]["sell"]) == 5
    assert q["depth"]["buy"][0]["price"] == pytest.approx(q["last_price"] - 0.05)
    assert q["depth"]["sell"][0]["price"] == pytest.approx(q["last_price"] + 0.05)
    assert q["lower_circuit_limit"] < q["last_price"] < q["upper_circuit_limit"]


def test_ltp_and_ohlc_endpoints_and_instruments_serve_them(midday):
    _, kite, inst = midday
    keys = [f"NSE:{UP}", f"NSE:{DOWN}"]
    ltp, ohlc = kite.ltp(keys), kite.ohlc(keys)
    for key in keys:
        sym = key[4:]
        assert ltp[key]["instrument_token"] == inst[sym]["instrument_token"] and ltp[key]["last_price"] > 0
        assert ohlc[key]["ohlc"]["high"] == _eod(sym)["high"] and ohlc[key]["ohlc"]["low"] == _eod(sym)["low"]
        assert inst[sym]["last_price"] == _eod(sym, date(2016, 9, 8))["close"]  # the dump's previous close
        assert inst[sym]["tick_size"] == 0.05


@pytest.mark.parametrize("symbol", [UP, DOWN])
def test_minute_bars_follow_the_path_and_stop_at_the_clock(midday, symbol):
    _, kite, inst = midday
    token = inst[symbol]["instrument_token"]
    bars = kite.historical_data(token, datetime(2016, 9, 8), TO, "minute")
    now = kite.quote([f"NSE:{symbol}"])[f"NSE:{symbol}"]["timestamp"]
    assert bars, "a daily-only stock has derived minute bars on the replay date"
    starts = [b["date"].replace(tzinfo=None) for b in bars]
    assert starts[0] == OPEN and starts == [OPEN + timedelta(minutes=j) for j in range(len(bars))]
    # no bar after the clock: every served bar has closed by the quote's timestamp
    assert all(s + timedelta(minutes=1) <= now + timedelta(seconds=2) for s in starts)
    assert len(bars) >= (now - OPEN).total_seconds() // 60 - 1
    r = _eod(symbol)
    assert bars[0]["open"] == r["open"]
    assert max(b["high"] for b in bars) == r["high"] and min(b["low"] for b in bars) == r["low"]
    path = _expected_path(symbol)
    for j in (0, 64, 130, len(bars) - 1):  # rebuilt from the path, minute by minute
        seg = path[j * K:(j + 1) * K]
        assert (bars[j]["open"], bars[j]["high"], bars[j]["low"], bars[j]["close"]) == pytest.approx(
            (seg[0], max(seg), min(seg), seg[-1]))
    assert sum(b["volume"] for b in bars) <= r["volume"]
    five = kite.historical_data(token, datetime(2016, 9, 9), TO, "5minute")
    assert len(five) in (len(bars) // 5, len(bars) // 5 + 1) and five[0]["open"] == r["open"]
    day = kite.historical_data(token, datetime(2016, 8, 1), TO, "day")
    assert day[-1]["date"].date() == date(2016, 9, 8)  # the replay date's bar is still forming


def test_websocket_streams_derived_ticks(midday):
    server, _, inst = midday
    up, down = inst[UP]["instrument_token"], inst[DOWN]["instrument_token"]
    got = run_probe(server, 4.0, subscribe={"full": [up], "quote": [down]})
    assert got["connected"] and not got["errors"], got["errors"]
    ticks = {tok: [t for t in got["ticks"] if t["instrument_token"] == tok] for tok in (up, down)}
    assert ticks[up] and ticks[down]
    full = [t for t in ticks[up] if t["mode"] == "full"]  # subscribe sends quote until the mode change
    assert full and {t["mode"] for t in ticks[down]} == {"quote"}
    path = _expected_path(UP)
    for t in full:
        i = int(t["exchange_timestamp"] - OPEN.replace(tzinfo=IST).timestamp())  # unix seconds
        assert t["last_price"] == pytest.approx(path[i]) and len(t["depth"]["buy"]) == 5
        assert t["depth"]["buy"][0]["quantity"] > 0
    assert all(t["ohlc"]["high"] == _eod(DOWN)["high"] for t in ticks[down])


@pytest.mark.parametrize("symbol", [UP, DOWN])
def test_after_the_close_minute_and_day_bars_agree_with_the_eod_row(closed, symbol):
    kite, tokens = closed
    r = _eod(symbol)
    bars = kite.historical_data(tokens[symbol], datetime(2016, 9, 9), TO, "minute")
    assert len(bars) == 375 and bars[-1]["date"].replace(tzinfo=None) == datetime(2016, 9, 9, 15, 29)
    assert bars[0]["open"] == r["open"] and bars[-1]["close"] == pytest.approx(r["close"], abs=0.05)
    assert max(b["high"] for b in bars) == r["high"] and min(b["low"] for b in bars) == r["low"]
    assert sum(b["volume"] for b in bars) == r["volume"]
    day = kite.historical_data(tokens[symbol], datetime(2016, 9, 1), TO, "day")[-1]
    assert day["date"].date() == DAY
    assert (day["open"], day["high"], day["low"], day["close"], day["volume"]) == pytest.approx(
        (r["open"], r["high"], r["low"], r["close"], r["volume"]))
    q = kite.quote([f"NSE:{symbol}"])[f"NSE:{symbol}"]
    assert q["last_price"] == r["close"] and q["volume"] == r["volume"]


def test_every_stock_with_an_eod_row_on_the_replay_date_is_quoted(midday):
    """The daily scan's whole universe (every NIFTY 500 stock with 2016-09-09 EOD) can be quoted."""
    _, kite, _ = midday
    d = nse_data.load_replay_daily()
    symbols = sorted(set(d[(d["date"] == DAY) & (d["source"] == "nse_eod")]["symbol"]))
    assert len(symbols) >= 270
    keys = [f"NSE:{s}" for s in symbols]
    ohlc = kite.ohlc(keys)
    assert sorted(ohlc) == sorted(keys)
    eod = d[d["date"] == DAY].set_index("symbol")
    recorded = set()
    for path in (nse_data.MINUTE_FILE, nse_data.EXTRA_MINUTE_FILE):
        recorded |= set(nse_data.load_minute_bars(path)["symbol"].unique())
    derived = [k for k in keys if k[4:] not in recorded]
    assert len(derived) >= 150
    for key, q in ohlc.items():
        assert q["last_price"] > 0, key
    for key in derived:  # past both derived extremes: the day's range so far is the EOD range
        sym, q = key[4:], ohlc[key]
        assert (q["ohlc"]["open"], q["ohlc"]["high"], q["ohlc"]["low"]) == (
            eod.at[sym, "open"], eod.at[sym, "high"], eod.at[sym, "low"]), sym
        assert eod.at[sym, "low"] <= q["last_price"] <= eod.at[sym, "high"], sym
