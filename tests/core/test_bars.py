"""core.bars: exact hand examples, vectorised == per-tick reference, causality, tick-path round trip."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.bars import MinuteBarBuilder, ReferenceBarBuilder
from core.errors import ValidationError
from core.models import Bar
from core.tickpath import bars_ticks
from core.timeutil import IST

DAY = datetime(2016, 8, 16, tzinfo=IST)


def at(hh: int, mm: int, ss: int = 0, day: datetime = DAY) -> int:
    """Unix seconds of an IST wall time."""
    return int(day.replace(hour=hh, minute=mm, second=ss).timestamp())


def bar(token, hh, mm, o, h, low, c, v, day=DAY) -> Bar:
    return Bar(token, "minute", day.replace(hour=hh, minute=mm).astimezone(UTC), o, h, low, c, v)


def feed(builder: MinuteBarBuilder, ticks) -> list[Bar]:
    """ticks: (token, price, cum, ts) one frame."""
    if not ticks:
        return builder.update([], [], [], [])
    tok, px, cum, ts = zip(*ticks, strict=True)
    return builder.update(np.array(tok), np.array(px), np.array(cum), np.array(ts))


def test_hand_example_closes_exact_bar_on_next_minute_tick():
    b = MinuteBarBuilder()
    assert feed(b, [(1, 100.0, 10, at(9, 15, 0)), (1, 102.0, 25, at(9, 15, 20))]) == []
    assert feed(b, [(1, 99.0, 30, at(9, 15, 40))]) == []
    closed = feed(b, [(1, 101.0, 42, at(9, 16, 5))])
    assert closed == [bar(1, 9, 15, 100.0, 102.0, 99.0, 99.0, 30)]
    assert closed[0].ts.utcoffset() == timedelta(0)
    assert closed[0].ts.astimezone(IST).strftime("%H:%M") == "09:15"


def test_flush_waits_for_grace_then_closes_quiet_instrument():
    b = MinuteBarBuilder(grace_seconds=3)
    feed(b, [(1, 100.0, 10, at(9, 15, 0)), (1, 101.0, 12, at(9, 16, 5))])
    assert b.flush(datetime.fromtimestamp(at(9, 17, 2), UTC)) == []
    assert b.flush(datetime.fromtimestamp(at(9, 17, 3), UTC)) == [bar(1, 9, 16, 101.0, 101.0, 101.0, 101.0, 2)]
    assert b.flush(datetime.fromtimestamp(at(9, 30), UTC)) == []  # closed once


def test_flush_with_naive_time_raises_validation_error():
    with pytest.raises(ValidationError, match="timezone-aware"):
        MinuteBarBuilder().flush(datetime(2016, 8, 16, 9, 20))


def test_first_tick_at_open_counts_day_volume_from_zero():
    b = MinuteBarBuilder()
    feed(b, [(7, 50.0, 500, at(9, 15, 1))])  # 500 includes the pre-open match
    assert feed(b, [(7, 51.0, 520, at(9, 16, 0))]) == [bar(7, 9, 15, 50.0, 50.0, 50.0, 50.0, 500)]


def test_mid_session_join_drops_partial_first_bar_then_is_exact():
    b = MinuteBarBuilder()
    assert feed(b, [(3, 10.0, 5000, at(10, 0, 30))]) == []
    assert feed(b, [(3, 11.0, 5100, at(10, 1, 0)), ]) == []  # partial 10:00 bar is not emitted
    feed(b, [(3, 9.0, 5150, at(10, 1, 30))])
    assert feed(b, [(3, 9.5, 5160, at(10, 2, 0))]) == [bar(3, 10, 1, 11.0, 11.0, 9.0, 9.0, 150)]


def test_falling_cumulative_volume_never_gives_negative_volume():
    b = MinuteBarBuilder()
    feed(b, [(1, 10.0, 100, at(9, 15, 0)), (1, 10.0, 60, at(9, 15, 10)), (1, 10.0, 130, at(9, 15, 20))])
    closed = feed(b, [(1, 10.0, 130, at(9, 16, 0))])
    assert closed[0].volume == 130  # 100 + 0 + 30
    assert all(x.volume >= 0 for x in closed)


def test_new_day_resets_volume_baseline():
    b = MinuteBarBuilder()
    day2 = DAY + timedelta(days=1)
    feed(b, [(1, 10.0, 90_000, at(15, 28, 10))])  # joined mid-session: partial 15:28 bar
    feed(b, [(1, 10.0, 90_200, at(15, 29, 0))])
    feed(b, [(1, 10.0, 90_500, at(15, 29, 30))])
    closed = feed(b, [(1, 12.0, 40, at(9, 15, 0, day2))])
    assert closed == [bar(1, 15, 29, 10.0, 10.0, 10.0, 10.0, 500)]
    closed = feed(b, [(1, 12.5, 70, at(9, 16, 0, day2))])
    assert closed == [bar(1, 9, 15, 12.0, 12.0, 12.0, 12.0, 40, day=day2)]


def test_late_tick_is_ignored_and_its_volume_carried_forward():
    b = MinuteBarBuilder()
    feed(b, [(1, 10.0, 10, at(9, 15, 0)), (1, 11.0, 20, at(9, 16, 0))])
    feed(b, [(1, 99.0, 15, at(9, 15, 59))])  # late for 09:15, already closed
    assert b.late_ticks == 1
    closed = feed(b, [(1, 12.0, 40, at(9, 17, 0))])
    assert closed == [bar(1, 9, 16, 11.0, 11.0, 11.0, 11.0, 10)]
    assert feed(b, [(1, 12.0, 41, at(9, 18, 0))])[0].volume == 20  # 09:17: 40 - 20 (late 5 included)


def test_duplicate_token_in_one_frame_is_processed_in_order():
    b = MinuteBarBuilder()
    closed = feed(b, [(1, 10.0, 1, at(9, 15, 0)), (2, 5.0, 1, at(9, 15, 0)), (1, 12.0, 3, at(9, 15, 30)),
                      (1, 11.0, 6, at(9, 16, 0)), (1, 13.0, 7, at(9, 16, 30))])
    assert closed == [bar(1, 9, 15, 10.0, 12.0, 10.0, 12.0, 3)]
    assert [x.close for x in b.open_bars()] == [5.0, 13.0]  # by (ts, token)


def test_mismatched_array_lengths_raise_validation_error():
    with pytest.raises(ValidationError, match="length 2"):
        MinuteBarBuilder().update(np.array([1, 2]), np.array([1.0, 2.0]), np.array([1]), np.array([1, 2]))


def _random_stream(seed: int, n_tokens: int = 6, n_ticks: int = 400):
    rng = random.Random(seed)
    t = at(9, 14, 30)
    cum = {tok: 0 for tok in range(n_tokens)}
    ticks = []
    for _ in range(n_ticks):
        t += rng.choice([0, 0, 1, 3, 7, 20])
        tok = rng.randrange(n_tokens)
        if rng.random() < 0.05:
            cum[tok] = max(0, cum[tok] - rng.randint(0, 50))  # glitch: falls
        else:
            cum[tok] += rng.randint(0, 100)
        ts = t - (rng.choice([rng.randint(60, 120), 3600]) if rng.random() < 0.03 else 0)  # late ticks, restarts
        ticks.append((tok * 256 + 1, round(rng.uniform(90, 110), 2), cum[tok], ts))
    return ticks


def _frames(ticks, rng: random.Random):
    i = 0
    while i < len(ticks):
        k = rng.randint(1, 40)
        yield ticks[i:i + k]
        i += k


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_vectorised_builder_equals_per_tick_reference(seed):
    ticks = _random_stream(seed)
    ref = ReferenceBarBuilder()
    want = [x for tk in ticks for x in ref.add(tk[0], tk[1], tk[2], tk[3])]
    vec = MinuteBarBuilder()
    got = [x for fr in _frames(ticks, random.Random(seed)) for x in feed(vec, fr)]
    key = lambda x: (x.ts, x.instrument_token)  # noqa: E731
    assert sorted(got, key=key) == sorted(want, key=key)
    end = ticks[-1][3] + 600
    assert vec.flush(datetime.fromtimestamp(end, UTC)) == ref.flush(end)
    assert vec.late_ticks == ref.late_ticks


@pytest.mark.parametrize("seed", range(5))
def test_bars_closed_after_k_frames_are_a_prefix_of_all_bars(seed):
    ticks = _random_stream(seed)
    frames = list(_frames(ticks, random.Random(seed)))
    full = MinuteBarBuilder()
    per_frame = [feed(full, fr) for fr in frames]
    k = random.Random(seed).randrange(1, len(frames))
    prefix = MinuteBarBuilder()
    got = [x for fr in frames[:k] for x in feed(prefix, fr)]
    everything = [x for chunk in per_frame for x in chunk]
    assert got == everything[:len(got)]
    assert got == [x for chunk in per_frame[:k] for x in chunk]
    assert len(everything) > len(got)  # later ticks closed more bars, none revised


def test_bars_rebuilt_from_tick_paths_equal_the_recorded_bars():
    rng = np.random.default_rng(3)
    n_bars, k = 30, 60
    opens = np.round(rng.uniform(100, 200, n_bars), 1)
    highs = np.round(opens + rng.uniform(0, 3, n_bars), 1)
    lows = np.round(opens - rng.uniform(0, 3, n_bars), 1)
    closes = np.round(np.clip(opens + rng.uniform(-3, 3, n_bars), lows, highs), 1)
    vols = rng.integers(0, 50_000, n_bars)
    recorded = [bar(408065, 9, 15 + j, opens[j], highs[j], lows[j], closes[j], int(vols[j])) for j in range(n_bars)]
    recorded = [Bar(b.instrument_token, b.interval, b.ts, float(b.open), float(b.high), float(b.low),
                    float(b.close), b.volume) for b in recorded]
    path = bars_ticks(opens, highs, lows, closes, vols, k=k, tick_size=0.05)
    ts = at(9, 15) + np.arange(n_bars * k) * 60 // k
    cum = np.cumsum(path.volumes)
    b = MinuteBarBuilder()
    got = []
    for i in range(0, n_bars * k, 37):  # frames that straddle minute boundaries
        sl = slice(i, i + 37)
        got += b.update(np.full(len(ts[sl]), 408065), path.rupees[sl], cum[sl], ts[sl])
    got += b.flush(datetime.fromtimestamp(int(ts[-1]) + 120, UTC))
    assert got == recorded


def test_special_session_open_treats_its_first_minute_as_open():
    b = MinuteBarBuilder(session_open=time(18, 15))  # e.g. Muhurat trading
    feed(b, [(1, 10.0, 300, at(18, 15, 0))])
    assert feed(b, [(1, 10.0, 310, at(18, 16, 0))])[0].volume == 300


def test_replay_loop_back_to_the_open_is_a_session_restart_not_late_ticks():
    b = MinuteBarBuilder()
    feed(b, [(1, 10.0, 90_000, at(9, 15, 0))])
    feed(b, [(1, 10.5, 95_000, at(15, 29, 30))])  # jumped ahead: 09:15 bar emitted
    closed = feed(b, [(1, 9.0, 40, at(9, 15, 0))])  # the replay looped to the open
    assert closed == [bar(1, 15, 29, 10.5, 10.5, 10.5, 10.5, 5_000)] and b.late_ticks == 0
    assert feed(b, [(1, 9.5, 70, at(9, 16, 0))]) == [bar(1, 9, 15, 9.0, 9.0, 9.0, 9.0, 40)]
    feed(b, [(1, 9.5, 71, at(9, 0, 0))])  # 16 minutes back: within reset_minutes → late
    assert b.late_ticks == 1
