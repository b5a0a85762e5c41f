"""core.ticker_shards: 3,000 per connection, 3 connections, refuse beyond 9,000."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.ticker_shards import merge_modes, shard


def _modes(n: int, mode: str = "full") -> dict[int, str]:
    return {256265 + i * 256: mode for i in range(n)}


@pytest.mark.parametrize("n, sizes", [(0, [0]), (1, [1]), (3000, [3000]), (3001, [3000, 1]),
                                      (6000, [3000, 3000]), (9000, [3000, 3000, 3000])])
def test_shard_sizes_fill_connections_in_order(n, sizes):
    shards = shard(_modes(n))
    assert [len(s) for s in shards] == sizes
    merged = {t: m for s in shards for t, m in s.items()}
    assert merged == _modes(n)
    flat = [t for s in shards for t in s]
    assert flat == sorted(flat)


def test_shard_9001_instruments_refused_with_count_to_remove():
    with pytest.raises(ValidationError, match=r"9,001 instruments .* at most 9,000 .* remove 1 "):
        shard(_modes(9001))


def test_shard_keeps_mode_per_instrument():
    modes = {1: "ltp", 2: "quote", 3: "full"}
    assert shard(modes, per_connection=2) == [{1: "ltp", 2: "quote"}, {3: "full"}]


def test_merge_modes_richer_mode_wins():
    assert merge_modes({1: "ltp", 2: "full"}, {1: "quote", 2: "ltp", 3: "ltp"}) == {1: "quote", 2: "full", 3: "ltp"}


def test_merge_modes_unknown_mode_raises():
    with pytest.raises(ValidationError, match="not one of ltp, quote, full"):
        merge_modes({1: "depth"})
