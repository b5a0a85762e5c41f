"""The daily preparation's vectorised tick lookup (``core.backtest.daily_prepare._band_of``) puts
every reference price in the band ``TickRegime.tick_for`` picks: each paisa around every band
limit of every NSE regime, and a spread of prices up to ₹1,00,000."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from core.backtest.daily_prepare import _band_of
from core.orders.ticks import TICK_REGIMES


def test_band_of_equals_tick_for_at_every_limit_and_across_prices():
    rng = np.random.default_rng(17)
    for regime in TICK_REGIMES:
        limits = [int(b.limit * 100) for b in regime.bands if b.limit is not None]
        near = [p + d for p in limits for d in range(-3, 4)]
        paise = np.array(sorted(set(near) | {1, 2, 99, 100, 101} | set(rng.integers(1, 10_000_000, 3000).tolist())),
                         dtype=np.int64)
        got = [regime.bands[b].tick for b in _band_of(regime, paise).tolist()]
        want = [regime.tick_for(Decimal(int(p)).scaleb(-2)) for p in paise.tolist()]
        assert got == want, regime.describe()
