"""Trading strategies: a small interface (``core.strategies.base``) and its implementations.

``STRATEGIES`` maps a strategy's ``name`` to its class; :func:`make_strategy` builds one from
stored parameters and raises ``ValidationError`` for an unknown name or a bad parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import ValidationError
from core.strategies.base import Param, Signal, Strategy, bar_end_of, validate_params
from core.strategies.breakout_52w import Breakout52w
from core.strategies.mean_reversion import MeanReversion
from core.strategies.momentum import Momentum
from core.strategies.orb import OpeningRangeBreakout
from core.strategies.sma_cross import SmaCross
from core.strategies.stochrsi_ema import StochRsiEma

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Momentum, MeanReversion, StochRsiEma, OpeningRangeBreakout, SmaCross, Breakout52w)
}


def make_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy:
    """The strategy ``name`` with ``params`` (defaults for missing ones)."""
    cls = STRATEGIES.get(name)
    if cls is None:
        raise ValidationError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    return cls(**dict(params or {}))


__all__ = ["STRATEGIES", "Breakout52w", "MeanReversion", "Momentum", "OpeningRangeBreakout", "Param", "Signal", "SmaCross",
           "StochRsiEma", "Strategy", "bar_end_of", "make_strategy", "validate_params"]
