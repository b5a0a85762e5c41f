"""The replay server's ticker WebSocket driven by the real KiteTicker (one subprocess per session).

KiteTicker runs a Twisted reactor that cannot be restarted, so each session runs in its own
``python -c`` subprocess (PROBE below) that prints what it received as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date

import pytest
import websockets

from app.adapters import nse_data
from core.kite_wire import decode_frame

PROBE = r"""
import json, os, sys, threading, time
from kiteconnect import KiteTicker
cfg = json.loads(os.environ["PROBE_CONFIG"])
out = {"ticks": [], "errors": [], "heartbeats": 0, "closed": None, "connected": False}
kws = KiteTicker(cfg["api_key"], cfg["access_token"], root=cfg["ws_root"], reconnect=False)
def on_ticks(ws, ticks):
    for t in ticks:
        t = dict(t)
        for k in ("exchange_timestamp", "last_trade_time"):
            if t.get(k) is not None:
                t[k] = t[k].timestamp()
        out["ticks"].append(t)
def on_message(ws, payload, is_binary):
    if is_binary and len(payload) == 1:
        out["heartbeats"] += 1
def on_connect(ws, response):
    out["connected"] = True
    for mode, tokens in cfg.get("subscribe", {}).items():
        ws.subscribe(tokens)
        ws.set_mode(mode, tokens)
    if cfg.get("bad_subscribe"):
        ws.subscribe(cfg["bad_subscribe"])
def on_error(ws, code, reason):
    out["errors"].append([code, str(reason)])
def on_close(ws, code, reason):
    out["closed"] = [code, str(reason)]
kws.on_ticks, kws.on_message, kws.on_connect, kws.on_error, kws.on_close = on_ticks, on_message, on_connect, on_error, on_close
kws.connect(threaded=True)
time.sleep(cfg["seconds"])
print(json.dumps(out))
sys.stdout.flush()
os._exit(0)
"""

RELIANCE, INFY, TCS, SBIN, NIFTY50, NIFTYIT = 738561, 408065, 2953217, 779521, 256265, 259849


def run_probe(server, seconds: float, access_token: str | None = None, **cfg) -> dict:
    config = {"api_key": server.api_key, "access_token": access_token or server.login(),
              "ws_root": server.ws_root, "seconds": seconds, **cfg}
    env = dict(os.environ, PROBE_CONFIG=json.dumps(config), TZ="Asia/Kolkata")
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=seconds + 30)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def session(replay_server) -> dict:
    return run_probe(replay_server, 7.0, subscribe={"full": [RELIANCE, INFY, NIFTY50], "quote": [TCS, NIFTYIT],
                                                    "ltp": [SBIN]},
                     bad_subscribe=[999999999])


def test_ticks_arrive_in_every_mode(session):
    modes = {(t["instrument_token"], t["mode"]) for t in session["ticks"]}
    assert {(RELIANCE, "full"), (INFY, "full"), (TCS, "quote"), (SBIN, "ltp")} <= modes


def test_full_ticks_carry_depth_and_day_fields(session):
    full = [t for t in session["ticks"] if t["instrument_token"] == RELIANCE and t["mode"] == "full"]
    t = full[-1]
    assert len(t["depth"]["buy"]) == 5 and len(t["depth"]["sell"]) == 5
    assert t["depth"]["buy"][0]["price"] < t["last_price"] < t["depth"]["sell"][0]["price"]
    assert t["ohlc"]["close"] == 1023.65 and t["ohlc"]["open"] == 1024.5
    assert t["ohlc"]["low"] <= t["average_traded_price"] <= t["ohlc"]["high"]
    assert t["volume_traded"] > 0 and t["exchange_timestamp"] == t["last_trade_time"]


def test_index_packets_are_parsed_as_not_tradable(session):
    nifty = [t for t in session["ticks"] if t["instrument_token"] == NIFTY50]
    it = [t for t in session["ticks"] if t["instrument_token"] == NIFTYIT]
    assert nifty and it
    assert all(t["tradable"] is False for t in nifty + it)
    assert nifty[-1]["mode"] == "full" and "exchange_timestamp" in nifty[-1]
    assert nifty[-1]["ohlc"]["close"] == 8642.55
    assert it[-1]["mode"] == "quote"


def test_heartbeats_arrive_and_do_not_break_parsing(session):
    assert session["heartbeats"] >= 3
    assert len(session["ticks"]) > 100


def test_bad_subscribe_reaches_on_error(session):
    assert any(code == 0 and "999999999" in reason for code, reason in session["errors"])


def test_bars_rebuilt_from_ticks_equal_recorded_minute_bars(session):
    ticks = [t for t in session["ticks"] if t["instrument_token"] == RELIANCE and t["mode"] == "full"]
    run = [ticks[0]]
    for t in ticks[1:]:  # stop at a loop restart
        if t["exchange_timestamp"] < run[-1]["exchange_timestamp"]:
            break
        run.append(t)
    by_minute = defaultdict(list)
    for t in run:
        by_minute[int(t["exchange_timestamp"]) // 60 * 60].append(t)
    minutes = sorted(by_minute)
    recorded = nse_data.minute_bars_for("RELIANCE", date(2016, 8, 17))
    checked = 0
    for prev, cur in zip(minutes, minutes[1:]):
        ts = [t["exchange_timestamp"] for t in by_minute[cur]]
        if cur == minutes[-1] or prev != cur - 60 or ts[0] != cur or len(set(ts)) != 60:
            continue  # only minutes fully received, with the previous minute's last tick
        prices = [t["last_price"] for t in by_minute[cur]]
        volume = by_minute[cur][-1]["volume_traded"] - by_minute[prev][-1]["volume_traded"]
        bar = recorded[[int(x.timestamp()) == cur for x in recorded.index]].iloc[0]
        assert (prices[0], max(prices), min(prices), prices[-1], volume) == (
            bar.open, bar.high, bar.low, bar.close, bar.volume), cur
        checked += 1
    assert checked >= 3


def test_bad_credentials_are_refused(replay_server):
    out = run_probe(replay_server, 2.0, access_token="not-a-token", subscribe={"full": [RELIANCE]})
    assert not out["connected"] and out["ticks"] == []
    assert any("403" in reason for _, reason in out["errors"]) or "403" in str(out["closed"])


def _ws_url(server, token):
    return f"{server.ws_root}?api_key={server.api_key}&access_token={token}"


async def _recv_text(ws, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        msg = await asyncio.wait_for(ws.recv(), deadline - asyncio.get_running_loop().time())
        if isinstance(msg, str):
            return json.loads(msg)


def test_malformed_messages_get_error_frames_and_socket_survives(replay_server):
    token = replay_server.login()

    async def go():
        async with websockets.connect(_ws_url(replay_server, token)) as ws:
            await ws.send("{not json")
            assert "malformed JSON" in (await _recv_text(ws))["data"]
            await ws.send(json.dumps({"a": "explode", "v": []}))
            assert "unknown action" in (await _recv_text(ws))["data"]
            await ws.send(json.dumps({"a": "subscribe", "v": ["738561"]}))
            assert "integer" in (await _recv_text(ws))["data"]
            await ws.send(json.dumps({"a": "subscribe", "v": [RELIANCE]}))
            await ws.send(json.dumps({"a": "mode", "v": ["ltp", [RELIANCE]]}))
            while True:
                msg = await asyncio.wait_for(ws.recv(), 5)
                if isinstance(msg, bytes) and len(msg) > 1:
                    ticks = decode_frame(msg)
                    if ticks and ticks[-1].mode == "ltp":
                        return ticks

    ticks = asyncio.run(go())
    assert ticks[-1].instrument_token == RELIANCE


def test_fourth_connection_is_refused_with_error_text(replay_server):
    token = replay_server.login()

    async def go():
        socks = [await websockets.connect(_ws_url(replay_server, token)) for _ in range(3)]
        try:
            async with websockets.connect(_ws_url(replay_server, token)) as fourth:
                msg = await _recv_text(fourth)
                with pytest.raises(websockets.ConnectionClosed):
                    while True:
                        await asyncio.wait_for(fourth.recv(), 5)
                return msg
        finally:
            for s in socks:
                await s.close()

    msg = asyncio.run(go())
    assert msg["type"] == "error" and "403" in msg["data"] and "3" in msg["data"]


def test_more_than_3000_instruments_is_an_error(replay_server):
    token = replay_server.login()
    tokens = nse_data.load_instruments().instrument_token.tolist()[:3001]

    async def go():
        async with websockets.connect(_ws_url(replay_server, token)) as ws:
            await ws.send(json.dumps({"a": "subscribe", "v": tokens}))
            return await _recv_text(ws)

    assert "at most 3000" in asyncio.run(go())["data"]
