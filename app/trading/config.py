"""The paper desk's knobs, read from ``Settings`` (``DESK_*`` variables) with safe defaults.

Money ``Decimal`` rupees; rates basis points; times IST wall clock. ``from_settings`` reads an
attribute when ``Settings`` has it and falls back to the default otherwise, so the desk runs
before every knob is added to ``app.settings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from typing import Any

from core.errors import ValidationError
from core.sessions import MIS_SQUARE_OFF


@dataclass(frozen=True, slots=True)
class TradingConfig:
    """Paper-desk configuration.

    * ``capital`` ₹ virtual capital (default ₹10,00,000); ``mis_leverage`` (5×);
    * ``slippage_bps`` against the trader when a tick has no depth; ``partial_fills``;
    * ``max_drift_bps``: approve refuses when the LTP moved more than this from the signal;
    * ``approval_ttl_seconds``: default time-to-live of a proposal (300 s);
    * ``square_off_cutoff`` IST (15:20, Zerodha) and ``square_off_fee`` (charge ₹50 + GST);
    * ``circuit_pct``: the day's band is previous close ± this percent, rounded to the tick
      (the replay server uses 10 %; Kite's quote endpoint gives real limits);
    * ``max_tick_age_seconds``: a tick older than this (by exchange time vs ``now``) is not a
      price for approving (``None`` = any age; replays pass market time).
    """

    capital: Decimal = Decimal("1000000.00")
    mis_leverage: Decimal = Decimal(5)
    slippage_bps: Decimal = Decimal(5)
    partial_fills: bool = False
    max_drift_bps: Decimal = Decimal(50)
    approval_ttl_seconds: int = 300
    square_off_cutoff: time = MIS_SQUARE_OFF
    square_off_fee: bool = True
    circuit_pct: Decimal = Decimal(10)
    max_tick_age_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.capital <= 0:
            raise ValidationError(f"capital must be positive rupees, was {self.capital}")
        if self.mis_leverage < 1:
            raise ValidationError(f"mis_leverage must be >= 1, was {self.mis_leverage}")
        for name in ("slippage_bps", "max_drift_bps", "circuit_pct"):
            if getattr(self, name) < 0:
                raise ValidationError(f"{name} must be >= 0, was {getattr(self, name)}")
        if self.approval_ttl_seconds <= 0:
            raise ValidationError(f"approval_ttl_seconds must be positive, was {self.approval_ttl_seconds}")

    @classmethod
    def from_settings(cls, settings: Any) -> TradingConfig:
        """Build from ``settings`` attributes ``desk_capital``, ``mis_leverage``,
        ``slippage_bps``, ``partial_fills``, ``max_drift_bps``, ``approval_ttl_seconds``,
        ``square_off_cutoff`` ("HH:MM" or time), ``square_off_fee``, ``circuit_pct``; missing
        ones take the defaults."""
        d = cls()
        kw: dict[str, Any] = {}
        for name, attr in (("capital", "desk_capital"), ("mis_leverage", "mis_leverage"),
                           ("slippage_bps", "slippage_bps"), ("max_drift_bps", "max_drift_bps"),
                           ("circuit_pct", "circuit_pct")):
            value = getattr(settings, attr, None)
            kw[name] = Decimal(str(value)) if value is not None else getattr(d, name)
        for name in ("partial_fills", "square_off_fee", "approval_ttl_seconds"):
            value = getattr(settings, name, None)
            kw[name] = value if value is not None else getattr(d, name)
        cutoff = getattr(settings, "square_off_cutoff", None)
        if isinstance(cutoff, str):
            hh, mm = cutoff.split(":")
            cutoff = time(int(hh), int(mm))
        kw["square_off_cutoff"] = cutoff or d.square_off_cutoff
        return cls(**kw)
