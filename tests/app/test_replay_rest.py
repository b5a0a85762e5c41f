"""The replay server's REST API driven by the real, unmodified kiteconnect client."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from app.adapters import nse_data
from core.models import INTERVAL_MINUTES

INTERVALS = ["minute", "3minute", "5minute", "10minute", "15minute", "30minute", "60minute", "day"]


@pytest.fixture(scope="module")
def kite(replay_server) -> KiteConnect:
    return replay_server.kite()


def test_login_redirects_with_request_token(replay_server):
    r = requests.get(f"{replay_server.rest_root}/connect/login",
                     params={"api_key": replay_server.api_key, "v": 3, "redirect_url": "http://x.test/cb?a=1"},
                     allow_redirects=False, timeout=5)
    assert r.status_code == 302
    assert r.headers["location"].startswith("http://x.test/cb?a=1&request_token=")
    assert "action=login&status=success" in r.headers["location"]


def test_login_with_unknown_api_key_is_input_error(replay_server):
    r = requests.get(f"{replay_server.rest_root}/connect/login", params={"api_key": "nope"},
                     allow_redirects=False, timeout=5)
    assert r.status_code == 400 and r.json()["error_type"] == "InputException"


def test_generate_session_with_good_checksum_returns_token(replay_server):
    k = KiteConnect(replay_server.api_key, root=replay_server.rest_root)
    data = k.generate_session(replay_server.request_token(), api_secret=replay_server.api_secret)
    assert data["access_token"] and k.access_token == data["access_token"]
    assert isinstance(data["login_time"], datetime)
    assert k.profile()["user_id"] == data["user_id"]


def test_bad_checksum_raises_token_exception(replay_server):
    k = KiteConnect(replay_server.api_key, root=replay_server.rest_root)
    with pytest.raises(kex.TokenException) as err:
        k.generate_session(replay_server.request_token(), api_secret="wrong-secret")
    assert err.value.code == 403


def test_request_token_is_single_use(replay_server):
    k = KiteConnect(replay_server.api_key, root=replay_server.rest_root)
    rt = replay_server.request_token()
    k.generate_session(rt, api_secret=replay_server.api_secret)
    with pytest.raises(kex.TokenException, match="invalid or has expired"):
        k.generate_session(rt, api_secret=replay_server.api_secret)


def test_unknown_request_token_raises_token_exception(replay_server):
    k = KiteConnect(replay_server.api_key, root=replay_server.rest_root)
    with pytest.raises(kex.TokenException):
        k.generate_session("made-up", api_secret=replay_server.api_secret)


def test_data_endpoint_without_token_raises_token_exception(replay_server):
    k = KiteConnect(replay_server.api_key, access_token="bogus", root=replay_server.rest_root)
    for call in (k.profile, k.margins, lambda: k.ltp(["NSE:INFY"]), lambda: k.instruments("NSE")):
        with pytest.raises(kex.TokenException):
            call()


def test_invalidated_token_is_refused(replay_server):
    k = replay_server.kite()
    assert k.profile()
    assert k.invalidate_access_token() is True
    with pytest.raises(kex.TokenException):
        k.profile()


def test_margins_have_equity_segment(kite):
    assert kite.margins()["equity"]["available"]["cash"] > 0
    assert kite.margins("equity")["enabled"] is True


def test_instruments_csv_is_parsed_with_2016_tick_size_and_prev_close(kite):
    rows = kite.instruments("NSE")
    assert len(rows) == len(nse_data.load_instruments())
    by = {r["tradingsymbol"]: r for r in rows}
    assert by["RELIANCE"]["instrument_token"] == 738561
    assert by["MARUTI"]["tick_size"] == 0.05 and by["HDFCBANK"]["tick_size"] == 0.05  # pre-Jun-2024 regime
    assert by["RELIANCE"]["last_price"] == 1023.65  # 2016-08-16 last minute close (EOD starts 08-22)
    assert by["ASIANPAINT"]["last_price"] == 1129.65  # 2016-08-16 NSE EOD close
    assert by["NIFTY 50"]["last_price"] == 8642.55 and by["NIFTY 50"]["segment"] == "INDICES"
    assert len(kite.instruments()) == len(rows)


@pytest.mark.parametrize("interval", INTERVALS)
def test_historical_every_interval_served_from_bundled_data(kite, interval):
    candles = kite.historical_data(738561, datetime(2016, 8, 16), datetime(2016, 8, 16, 23, 59), interval)
    minute = nse_data.minute_bars_for("RELIANCE", date(2016, 8, 16))
    assert candles, interval
    assert candles[0]["date"].utcoffset() == timedelta(hours=5, minutes=30)
    assert candles[0]["open"] == minute.open.iloc[0]
    assert sum(c["volume"] for c in candles) == minute.volume.sum()
    assert max(c["high"] for c in candles) == minute.high.max()
    assert min(c["low"] for c in candles) == minute.low.min()
    assert candles[-1]["close"] == minute.close.iloc[-1]


@pytest.mark.parametrize("interval", INTERVALS[:-1])
def test_intraday_candles_start_at_the_open_and_step_by_the_interval(kite, interval):
    candles = kite.historical_data(738561, datetime(2016, 8, 16), datetime(2016, 8, 16, 23, 59), interval)
    starts = [c["date"] for c in candles]
    step = timedelta(minutes=INTERVAL_MINUTES[interval])
    assert starts[0].strftime("%H:%M") == "09:15" and starts[1] - starts[0] == step
    assert all(b > a and (b - a) % step == timedelta(0) for a, b in zip(starts, starts[1:]))


def test_historical_day_uses_nse_eod_before_replay_date_only(kite):
    acc = kite.historical_data(5633, datetime(2016, 8, 16), datetime(2016, 9, 30), "day")  # ACC: no minute bars
    assert [c["date"].date() for c in acc] == [date(2016, 8, 16)]  # NIFTY 500 NSE EOD, before 2016-08-17
    asian = kite.historical_data(60417, datetime(2016, 8, 16), datetime(2016, 9, 30), "day")
    assert [c["date"].date() for c in asian] == [date(2016, 8, 16)]
    assert asian[0]["close"] == 1129.65


def test_historical_nifty50_day_is_real_and_intraday_is_derived(kite):
    day = kite.historical_data(256265, datetime(2016, 8, 16), datetime(2016, 8, 16), "day")
    assert [(c["open"], c["high"], c["low"], c["close"]) for c in day] == [(8670.25, 8682.35, 8600.45, 8642.55)]
    mins = kite.historical_data(256265, datetime(2016, 8, 16, 9, 15), datetime(2016, 8, 16, 15, 30), "minute")
    assert len(mins) == 375
    assert mins[0]["open"] == 8670.25 and mins[-1]["close"] == 8642.55
    assert max(c["high"] for c in mins) == 8682.35 and min(c["low"] for c in mins) == 8600.45


def test_historical_does_not_leak_the_future(kite):
    for _ in range(3):  # the replay session loops: retry a read that straddled a restart
        before = kite.quote(["NSE:RELIANCE"])["NSE:RELIANCE"]["timestamp"]
        candles = kite.historical_data(738561, datetime(2016, 8, 17), datetime(2016, 9, 30, 23, 59), "minute",
                                       oi=True)
        after = kite.quote(["NSE:RELIANCE"])["NSE:RELIANCE"]["timestamp"]
        if after >= before:
            break
    assert after >= before, "the replay session restarted during every read"
    assert len(candles) < 375  # the session is in progress
    assert {c["date"].date() for c in candles} <= {date(2016, 8, 17)}
    assert all(c["date"].replace(tzinfo=None) + timedelta(minutes=1) <= after for c in candles)
    assert len(candles) >= (before - datetime(2016, 8, 17, 9, 15)).total_seconds() // 60 - 1
    assert all(len(c) == 7 and c["oi"] == 0 for c in candles)
    assert kite.historical_data(738561, datetime(2016, 8, 18), datetime(2016, 8, 19), "day") == []


def test_bad_interval_raises_input_exception(kite):
    with pytest.raises(kex.InputException, match="interval"):
        kite.historical_data(738561, datetime(2016, 8, 16), datetime(2016, 8, 17), "2minute")


def test_from_after_to_raises_input_exception(kite):
    with pytest.raises(kex.InputException, match="after"):
        kite.historical_data(738561, datetime(2016, 8, 17), datetime(2016, 8, 16), "minute")


def test_quote_has_kite_fields_depth_and_circuits(kite):
    q = kite.quote(["NSE:RELIANCE", "NSE:NIFTY 50", "NSE:NOSUCH"])
    assert set(q) == {"NSE:RELIANCE", "NSE:NIFTY 50"}
    r = q["NSE:RELIANCE"]
    for field in ("instrument_token", "timestamp", "last_trade_time", "last_price", "last_quantity",
                  "buy_quantity", "sell_quantity", "volume", "average_price", "oi", "oi_day_high",
                  "oi_day_low", "net_change", "lower_circuit_limit", "upper_circuit_limit", "ohlc", "depth"):
        assert field in r, field
    assert r["ohlc"]["close"] == 1023.65 and r["ohlc"]["open"] == 1024.5
    assert (r["lower_circuit_limit"], r["upper_circuit_limit"]) == (921.3, 1126.0)
    assert len(r["depth"]["buy"]) == 5 and len(r["depth"]["sell"]) == 5
    assert r["depth"]["buy"][0]["price"] < r["last_price"] < r["depth"]["sell"][0]["price"]
    assert r["ohlc"]["low"] <= r["last_price"] <= r["ohlc"]["high"]
    assert r["timestamp"].date() == date(2016, 8, 17)
    assert q["NSE:NIFTY 50"]["ohlc"]["close"] == 8642.55


def test_ohlc_and_ltp_endpoints(kite):
    o = kite.ohlc(["NSE:INFY", "NSE:INDIA VIX"])
    assert o["NSE:INFY"]["instrument_token"] == 408065 and o["NSE:INFY"]["ohlc"]["open"] > 0
    lt = kite.ltp(["NSE:INFY"])
    assert set(lt["NSE:INFY"]) == {"instrument_token", "last_price"}


def test_quote_without_instruments_raises_input_exception(kite):
    with pytest.raises(kex.InputException):
        kite.quote([])


def test_malformed_requests_do_not_kill_the_server(replay_server, kite):
    r = requests.get(f"{replay_server.rest_root}/instruments/historical/abc/minute",
                     headers={"Authorization": f"token {replay_server.api_key}:{kite.access_token}"}, timeout=5)
    assert r.status_code == 400 and r.json()["status"] == "error"
    r = requests.post(f"{replay_server.rest_root}/session/token", data=b"\xff\x00garbage", timeout=5,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code in (400, 403, 500) and r.json()["status"] == "error"
    assert kite.profile()["user_id"]


def test_checksum_is_sha256_of_key_token_secret(replay_server):
    rt = replay_server.request_token()
    checksum = hashlib.sha256(f"{replay_server.api_key}{rt}{replay_server.api_secret}".encode()).hexdigest()
    r = requests.post(f"{replay_server.rest_root}/session/token", timeout=5,
                      data={"api_key": replay_server.api_key, "request_token": rt, "checksum": checksum})
    assert r.status_code == 200 and r.json()["data"]["access_token"]
