"""core.tickpath: exact unit tests and hypothesis properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ValidationError
from core.tickpath import bar_ticks, bars_ticks, split_volume, turning_offsets


def test_up_bar_goes_open_low_high_close():
    path = bar_ticks(100.0, 101.0, 99.0, 100.5, 125, k=8)
    assert path.prices.tolist() == [10000, 9950, 9900, 10000, 10100, 10085, 10065, 10050]
    assert path.volumes.tolist() == [15] * 7 + [20]


def test_down_bar_visits_high_before_low():
    path = bar_ticks(100.0, 101.0, 99.0, 99.5, 10, k=4)
    assert path.prices.tolist() == [10000, 10100, 9900, 9950]


def test_turning_offsets_for_default_k():
    assert turning_offsets(60) == (19, 39)


def test_k_below_four_is_refused():
    with pytest.raises(ValidationError, match=">= 4"):
        bar_ticks(100, 101, 99, 100, 1, k=3)


def test_bar_with_high_below_low_is_refused():
    with pytest.raises(ValidationError, match="below low"):
        bar_ticks(100, 99, 101, 100, 1)


def test_volume_remainder_goes_to_last_tick():
    assert split_volume(7, 4).tolist() == [1, 1, 1, 4]
    assert split_volume(3, 4).tolist() == [0, 0, 0, 3]


def test_vectorised_equals_scalar_per_bar():
    bars = [(100.0, 101.0, 99.0, 100.5, 125), (100.5, 100.5, 98.0, 98.0, 0), (50.0, 50.0, 50.0, 50.0, 9)]
    many = bars_ticks(*zip(*bars), k=10)
    for j, bar in enumerate(bars):
        one = bar_ticks(*bar, k=10)
        assert many.prices[j * 10:(j + 1) * 10].tolist() == one.prices.tolist()
        assert many.volumes[j * 10:(j + 1) * 10].tolist() == one.volumes.tolist()


@st.composite
def bars(draw):
    tick = draw(st.sampled_from([1, 5, 10]))
    low = draw(st.integers(1, 10_000)) * tick
    high = low + draw(st.integers(0, 400)) * tick
    o = draw(st.integers(low // tick, high // tick)) * tick
    c = draw(st.integers(low // tick, high // tick)) * tick
    return o, high, low, c, draw(st.integers(0, 10**7)), tick, draw(st.integers(4, 120))


@settings(max_examples=300, deadline=None)
@given(bars())
def test_path_properties_hold_for_any_bar(bar):
    o, h, lo, c, v, tick, k = bar
    path = bar_ticks(o / 100, h / 100, lo / 100, c / 100, v, k=k, tick_size=tick / 100)
    p = path.prices
    assert len(p) == k and p[0] == o and p[-1] == c
    assert p.min() == lo and p.max() == h
    assert ((p >= lo) & (p <= h)).all()
    assert (p % tick == 0).all()
    assert path.volumes.sum() == v and (path.volumes >= 0).all()
    assert np.cumsum(path.volumes)[-1] == v
