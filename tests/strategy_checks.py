"""Checks every bundled strategy must pass on real bars (issue 17): vectorised features equal
the bar-by-bar computation, and the ``Active`` masks are exactly where ``decide`` signals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.strategies import Strategy


def assert_features_bar_by_bar(s: Strategy, bars: pd.DataFrame, every: int) -> None:
    """``s.features`` of the whole of ``bars`` equals, at every ``every``-th bar ``t``, the last
    row of ``s.features`` of the bars up to ``t`` (no look-ahead, exactly)."""
    full = s.features(bars)
    for t in range(0, len(bars), every):
        one = s.features(bars.iloc[: t + 1]).iloc[-1]
        np.testing.assert_array_equal(one.to_numpy(float), full.iloc[t].to_numpy(float),
                                      err_msg=f"{s.name} at bar {t} ({bars.index[t]})")


def assert_masks_are_decide(s: Strategy, bars: pd.DataFrame, ends: pd.DatetimeIndex) -> None:
    """``s.active`` on ``bars``' features (bars ending at ``ends``) is True exactly where
    ``s.decide`` signals, flat, long and short; a position that never signals (but short) fails."""
    feats = s.features(bars)
    act = s.active(feats, ends)
    rows = feats.to_dict("records")
    for position, mask in ((0, act.flat), (s.quantity, act.long), (-s.quantity, act.short)):
        want = np.array([s.decide(end, f, position) is not None for end, f in zip(ends, rows, strict=True)])
        assert want.any() or position < 0, f"{s.name}: no signal at all for position {position}; a weak test"
        np.testing.assert_array_equal(np.asarray(mask, bool), want, err_msg=f"{s.name} position {position}")
