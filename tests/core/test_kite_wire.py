"""core.kite_wire against the real kiteconnect parser (the oracle)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import numpy as np
import pytest
from kiteconnect import KiteTicker

from core.errors import DataError, ValidationError
from core.kite_wire import (HEARTBEAT, decode_frame, encode_frame, encode_packet, encode_records,
                            frame_from_records)
from core.models import DepthLevel, Tick

TS = datetime(2016, 8, 17, 4, 0, 5, tzinfo=UTC)
PARSER = KiteTicker("k", "t")


def full_tick(token=738561, mode="full"):
    return Tick(token, 1026.85, mode=mode, last_traded_quantity=124, average_traded_price=1025.93,
                volume_traded=50650, total_buy_quantity=1860, total_sell_quantity=1700, open=1024.5,
                high=1028.7, low=1023.85, close=1023.65, last_trade_time=TS, exchange_timestamp=TS, oi=0,
                bids=tuple(DepthLevel(round(1026.85 - 0.05 * k, 2), 100 * k, k) for k in range(1, 6)),
                asks=tuple(DepthLevel(round(1026.85 + 0.05 * k, 2), 90 * k, k + 1) for k in range(1, 6)))


@pytest.mark.parametrize("mode,length", [("ltp", 8), ("quote", 44), ("full", 184)])
def test_equity_packet_lengths_match_protocol(mode, length):
    assert len(encode_packet(full_tick(mode=mode))) == length


@pytest.mark.parametrize("mode,length", [("quote", 28), ("full", 32)])
def test_index_packet_lengths_match_protocol(mode, length):
    tick = Tick(256265, 8640.63, mode=mode, tradable=False, open=8639.79, high=8650.0, low=8630.1,
                close=8642.55, exchange_timestamp=TS)
    assert len(encode_packet(tick)) == length


def test_full_packet_roundtrips_through_kiteconnect_parser():
    tick = full_tick()
    [parsed] = PARSER._parse_binary(encode_frame([encode_packet(tick)]))
    assert parsed["mode"] == "full" and parsed["tradable"] is True
    assert parsed["instrument_token"] == 738561
    assert parsed["last_price"] == 1026.85
    assert parsed["last_traded_quantity"] == 124
    assert parsed["average_traded_price"] == 1025.93
    assert parsed["volume_traded"] == 50650
    assert parsed["total_buy_quantity"] == 1860 and parsed["total_sell_quantity"] == 1700
    assert parsed["ohlc"] == {"open": 1024.5, "high": 1028.7, "low": 1023.85, "close": 1023.65}
    assert parsed["exchange_timestamp"] == datetime.fromtimestamp(TS.timestamp())
    assert parsed["last_trade_time"] == datetime.fromtimestamp(TS.timestamp())
    assert [d["quantity"] for d in parsed["depth"]["buy"]] == [100, 200, 300, 400, 500]
    assert [d["price"] for d in parsed["depth"]["sell"]] == [round(1026.85 + 0.05 * k, 2) for k in range(1, 6)]
    assert [d["orders"] for d in parsed["depth"]["sell"]] == [2, 3, 4, 5, 6]


def test_mixed_frame_roundtrips_and_decodes_to_same_ticks():
    index = Tick(256265, 8640.63, mode="full", tradable=False, open=8639.79, high=8650.0, low=8630.1,
                 close=8642.55, exchange_timestamp=TS)
    ticks = [full_tick(), full_tick(408065, "quote"), full_tick(884737, "ltp"), index]
    frame = encode_frame([encode_packet(t) for t in ticks])
    parsed = PARSER._parse_binary(frame)
    assert [p["mode"] for p in parsed] == ["full", "quote", "ltp", "full"]
    assert parsed[3]["tradable"] is False and parsed[3]["ohlc"]["high"] == 8650.0
    decoded = decode_frame(frame)
    assert decoded[0] == ticks[0]
    assert decoded[2] == Tick(884737, 1026.85, mode="ltp")
    assert decoded[3] == index
    assert decoded[0].exchange_timestamp.tzinfo is not None


def test_heartbeat_is_one_byte_and_decodes_to_nothing():
    assert HEARTBEAT == b"\x00" and decode_frame(HEARTBEAT) == []
    assert PARSER._parse_binary(HEARTBEAT) == []


def test_cds_price_divisor_roundtrips():
    token = (12345 << 8) | 3
    [parsed] = PARSER._parse_binary(encode_frame([encode_packet(Tick(token, 82.1234567, mode="ltp"))]))
    assert parsed["last_price"] == pytest.approx(82.1234567)


def test_truncated_frame_raises_data_error_naming_offset():
    frame = encode_frame([encode_packet(full_tick())])
    with pytest.raises(DataError, match="offset 4"):
        decode_frame(frame[:100])


def test_unknown_packet_length_raises_data_error():
    frame = struct.pack(">HH", 1, 164) + bytes(164)
    with pytest.raises(DataError, match="unknown length 164"):
        decode_frame(frame)


def test_trailing_bytes_raise_data_error():
    with pytest.raises(DataError, match="trailing"):
        decode_frame(encode_frame([encode_packet(full_tick(mode="ltp"))]) + b"\x01")


def test_negative_price_is_refused():
    with pytest.raises(ValidationError, match="unsigned"):
        encode_packet(Tick(738561, -1.0, mode="ltp"))


def test_vectorised_records_equal_scalar_packets():
    tick = full_tick()
    cols = {"token": np.array([738561, 738561]), "last_price": 102685, "last_traded_quantity": 124,
            "average_traded_price": 102593, "volume_traded": 50650, "total_buy_quantity": 1860,
            "total_sell_quantity": 1700, "open": 102450, "high": 102870, "low": 102385, "close": 102365,
            "last_trade_time": int(TS.timestamp()), "exchange_timestamp": int(TS.timestamp()),
            "bid_price": np.array([[102685 - 5 * k for k in range(1, 6)]] * 2),
            "bid_quantity": np.array([[100 * k for k in range(1, 6)]] * 2),
            "bid_orders": np.array([[k for k in range(1, 6)]] * 2),
            "ask_price": np.array([[102685 + 5 * k for k in range(1, 6)]] * 2),
            "ask_quantity": np.array([[90 * k for k in range(1, 6)]] * 2),
            "ask_orders": np.array([[k + 1 for k in range(1, 6)]] * 2)}
    frame = frame_from_records([encode_records("full", False, cols, 2)], 2)
    assert frame == encode_frame([encode_packet(tick)] * 2)
