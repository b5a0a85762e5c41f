"""core.tick_batch against the two oracles: kiteconnect's own parser and core.kite_wire."""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kiteconnect import KiteTicker

from core import kite_wire
from core.errors import DataError
from core.models import DepthLevel, Tick
from core.tick_batch import FULL_LEN, decode_frame, decode_packet

KT = KiteTicker("k", "t")

# Tokens of several segments: NSE (1), CDS (3), BCD (6), indices (9), NCO (12), NFO (2).
TOKENS = [408065, 884737, 256265, 260105, 1 << 8 | 3, 77 << 8 | 6, 99 << 8 | 12, 12345 << 8 | 2]


def _as_kiteconnect(batch) -> list[dict]:
    """Our columns rendered the way KiteTicker._parse_binary renders a packet."""
    out = []
    for i in range(len(batch)):
        n = int(batch.packet_length[i])
        tok = int(batch.instrument_token[i])
        d = {"tradable": (tok & 0xFF) != 9, "instrument_token": tok, "last_price": float(batch.last_price[i])}
        if n == 8:
            d["mode"] = "ltp"
        elif n in (28, 32):
            d["mode"] = "quote" if n == 28 else "full"
            d["ohlc"] = {"high": batch.high[i], "low": batch.low[i], "open": batch.open[i], "close": batch.close[i]}
            c = batch.close[i]
            d["change"] = (batch.last_price[i] - c) * 100 / c if c != 0 else 0
            if n == 32:
                d["exchange_timestamp"] = datetime.fromtimestamp(int(batch.exchange_timestamp[i]))
        else:
            d["mode"] = "quote" if n == 44 else "full"
            d.update(last_traded_quantity=batch.last_traded_quantity[i],
                     average_traded_price=batch.average_traded_price[i], volume_traded=batch.volume_traded[i],
                     total_buy_quantity=batch.total_buy_quantity[i], total_sell_quantity=batch.total_sell_quantity[i])
            d["ohlc"] = {"open": batch.open[i], "high": batch.high[i], "low": batch.low[i], "close": batch.close[i]}
            c = batch.close[i]
            d["change"] = (batch.last_price[i] - c) * 100 / c if c != 0 else 0
            if n == FULL_LEN:
                d["last_trade_time"] = datetime.fromtimestamp(int(batch.last_trade_time[i]))
                d["oi"] = batch.oi[i]
                d["oi_day_high"] = batch.oi_day_high[i]
                d["oi_day_low"] = batch.oi_day_low[i]
                d["exchange_timestamp"] = datetime.fromtimestamp(int(batch.exchange_timestamp[i]))
                levels = [{"quantity": batch.depth_quantity[i, k], "price": batch.depth_price[i, k],
                           "orders": batch.depth_orders[i, k]} for k in range(10)]
                d["depth"] = {"buy": levels[:5], "sell": levels[5:]}
        out.append(d)
    return out


def _random_tick(rng: random.Random, token: int) -> Tick:
    top = 400 if token & 0xFF == 3 else 40_000  # CDS prices are in 1e-7 rupee units on the wire
    px = lambda: round(rng.uniform(0.01, top), 2)  # noqa: E731
    when = datetime.fromtimestamp(rng.randint(1_400_000_000, 1_800_000_000), UTC)
    return Tick(
        token, px(), mode="full", tradable=(token & 0xFF) != 9, last_traded_quantity=rng.randint(0, 10**6),
        average_traded_price=px(), volume_traded=rng.randint(0, 4 * 10**9), total_buy_quantity=rng.randint(0, 10**7),
        total_sell_quantity=rng.randint(0, 10**7), open=px(), high=px(), low=px(), close=rng.choice([0.0, px()]),
        last_trade_time=when, exchange_timestamp=when, oi=rng.randint(0, 10**6),
        bids=tuple(DepthLevel(px(), rng.randint(0, 10**5), rng.randint(0, 65535)) for _ in range(5)),
        asks=tuple(DepthLevel(px(), rng.randint(0, 10**5), rng.randint(0, 65535)) for _ in range(5)),
    )


def _mixed_frame(seed: int, n: int, modes=("ltp", "quote", "full")) -> bytes:
    rng = random.Random(seed)
    pkts = [kite_wire.encode_packet(_random_tick(rng, rng.choice(TOKENS)), rng.choice(modes)) for _ in range(n)]
    return kite_wire.encode_frame(pkts)


def _assert_agrees(frame: bytes) -> None:
    batch = decode_frame(frame)
    assert _as_kiteconnect(batch) == KT._parse_binary(frame)
    assert batch.to_ticks() == kite_wire.decode_frame(frame)


@pytest.mark.parametrize("seed", range(8))
def test_mixed_modes_frame_agrees_with_kiteconnect_and_kite_wire(seed):
    _assert_agrees(_mixed_frame(seed, 40))


def test_uniform_full_frame_of_3000_agrees_with_both_oracles():
    frame = _mixed_frame(99, 3000, modes=("full",))
    batch = decode_frame(frame)
    assert len(batch) == 3000
    assert set(batch.packet_length.tolist()) <= {184, 32}
    _assert_agrees(frame)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**31), st.sampled_from(["ltp", "quote", "full"])), max_size=30))
def test_any_sequence_of_packets_agrees_with_both_oracles(spec):
    rng = random.Random(len(spec))
    pkts = [kite_wire.encode_packet(_random_tick(rng, tok), mode) for tok, mode in spec]
    _assert_agrees(kite_wire.encode_frame(pkts))


def test_heartbeat_decodes_to_empty_batch():
    assert len(decode_frame(kite_wire.HEARTBEAT)) == 0
    assert len(decode_frame(b"")) == 0
    assert len(decode_frame(b"\x00\x00")) == 0


def test_prices_use_segment_divisor_exactly():
    frame = kite_wire.encode_frame([struct.pack(">II", 1 << 8 | 3, 123456789), struct.pack(">II", 5 << 8 | 6, 1234),
                                    struct.pack(">II", 408065, 250075)])
    batch = decode_frame(frame)
    assert batch.last_price.tolist() == [12.3456789, 0.1234, 2500.75]


def test_truncated_frame_raises_data_error_naming_offset():
    frame = _mixed_frame(1, 5)
    with pytest.raises(DataError, match=r"truncated at byte offset \d+"):
        decode_frame(frame[:-3])
    with pytest.raises(DataError, match="length of packet 1 of 1 missing"):
        decode_frame(b"\x00\x01\x00")
    with pytest.raises(DataError, match="needs 184 bytes"):
        decode_frame(b"\x00\x01\x00\xb8" + b"\x00" * 100)


def test_trailing_bytes_raise_data_error():
    with pytest.raises(DataError, match="3 unexpected trailing bytes"):
        decode_frame(_mixed_frame(2, 3) + b"abc")


def test_unknown_length_packet_is_skipped_and_reported_like_kiteconnect():
    good = kite_wire.encode_packet(Tick(408065, 100.5))
    legacy = b"\x00" * 164
    frame = kite_wire.encode_frame([good, legacy, good])
    batch = decode_frame(frame)
    assert batch.instrument_token.tolist() == [408065, 408065]
    assert batch.unknown == ((2 + 2 + 8 + 2, 164),)
    assert _as_kiteconnect(batch) == KT._parse_binary(frame)


def test_packet_bytes_round_trip_through_decode_packet():
    frame = _mixed_frame(5, 12)
    batch = decode_frame(frame)
    assert [decode_packet(p) for p in batch.packets()] == kite_wire.decode_frame(frame)
    with pytest.raises(DataError, match="unknown length 7"):
        decode_packet(b"1234567")


def test_columns_have_documented_dtypes():
    batch = decode_frame(_mixed_frame(3, 10))
    assert batch.instrument_token.dtype == np.int64
    assert batch.last_price.dtype == np.float64
    assert batch.depth_price.shape == (10, 10)
    ltp_rows = batch.packet_length == 8
    assert (batch.exchange_timestamp[ltp_rows] == -1).all()
