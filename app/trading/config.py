"""The paper desk's knobs, built from ``settings.trading`` (the ``DESK_*`` trading variables).

Money ``Decimal`` rupees; rates basis points; times IST wall clock. The defaults below equal
``app.settings.TradingSettings``'s; tests construct ``TradingConfig`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

from core.broker.freshness import stale_tick
from core.errors import ValidationError
from core.margins import ExactMargin, MarginRules, MarginTable
from core.sessions import MIS_SQUARE_OFF

if TYPE_CHECKING:  # pragma: no cover
    from app.settings import Settings, TradingSettings


@dataclass(frozen=True, slots=True)
class TradingConfig:
    """Paper-desk configuration.

    * ``capital`` ₹ virtual capital (default ₹10,00,000);
    * ``mis_leverage``: the *ceiling* on MIS leverage (5× = SEBI's 20 % floor): MIS margin is
      ``max(20 %, VaR + ELM + ad hoc, 100 / mis_leverage %)`` per stock (``core.margins``), so a
      value below 5 makes every MIS margin larger; above 5 changes nothing;
    * ``margins``: the per-stock margin table and MIS list (``core.margins.MarginTable``; the
      container passes the bundled one); ``None`` puts every stock at the floor, all eligible;
    * ``exact_margin``: Kite's ``order_margins`` (``core.margins`` rule 5; the container wires
      ``app.trading.kite_margins.KiteOrderMargins`` with a real Kite account), else ``None``;
    * ``slippage_bps`` against the trader when a tick has no depth; ``partial_fills``;
    * ``max_drift_bps``: approve refuses when the LTP moved more than this from the signal;
    * ``approval_ttl_seconds``: default time-to-live of a proposal (300 s);
    * ``square_off_cutoff`` IST (15:20, Zerodha) and ``square_off_fee`` (charge ₹50 + GST);
    * ``max_tick_age_seconds``: a tick older than this in market time (exchange time vs ``now``)
      is not a price, neither to approve at nor to fill at (``core.broker.freshness``: the
      order waits for a fresh tick and says so). ``None`` = any age, the default of a config
      built directly; the desk's ``DESK_MAX_TICK_AGE_SECONDS`` defaults to 30 s. Replays pass
      market time, so their ticks are fresh.
    """

    capital: Decimal = Decimal("1000000.00")
    mis_leverage: Decimal = Decimal(5)
    slippage_bps: Decimal = Decimal(5)
    partial_fills: bool = False
    max_drift_bps: Decimal = Decimal(50)
    approval_ttl_seconds: int = 300
    square_off_cutoff: time = MIS_SQUARE_OFF
    square_off_fee: bool = True
    max_tick_age_seconds: float | None = None
    margins: MarginTable | None = None
    exact_margin: ExactMargin | None = None

    def __post_init__(self) -> None:
        if self.capital <= 0:
            raise ValidationError(f"capital must be positive rupees, was {self.capital}")
        if self.mis_leverage < 1:
            raise ValidationError(f"mis_leverage must be >= 1, was {self.mis_leverage}")
        for name in ("slippage_bps", "max_drift_bps"):
            if getattr(self, name) < 0:
                raise ValidationError(f"{name} must be >= 0, was {getattr(self, name)}")
        if self.approval_ttl_seconds <= 0:
            raise ValidationError(f"approval_ttl_seconds must be positive, was {self.approval_ttl_seconds}")

    @property
    def margin_rules(self) -> MarginRules:
        """The desk's margin rules: ``margins`` with ``mis_leverage`` as the ceiling, and Kite's
        ``exact_margin`` when wired."""
        return MarginRules(self.margins, self.mis_leverage, self.exact_margin)

    def stale_tick_age(self, tick_time: datetime, now: datetime) -> float | None:
        """Seconds ``tick_time`` (the tick's exchange time, tz-aware) lies before ``now`` when that
        exceeds ``max_tick_age_seconds``, else ``None`` (also with no limit set): the fill
        path's rule, ``core.broker.freshness.stale_tick``."""
        stale = stale_tick(tick_time, now, self.max_tick_age_seconds)
        return None if stale is None else stale.age_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> TradingConfig:
        """Build from ``settings.trading`` (the ``DESK_*`` trading variables, validated there)."""
        return cls.from_section(settings.trading)

    @classmethod
    def from_section(cls, trading: TradingSettings) -> TradingConfig:
        """Build from a ``TradingSettings`` section: every field is copied, none defaulted
        (``margins`` is data, not a setting: the container adds the bundled table)."""
        return cls(
            capital=trading.capital,
            mis_leverage=trading.mis_leverage,
            slippage_bps=trading.slippage_bps,
            partial_fills=trading.partial_fills,
            max_drift_bps=trading.max_drift_bps,
            approval_ttl_seconds=trading.approval_ttl_seconds,
            square_off_cutoff=trading.square_off_cutoff,
            square_off_fee=trading.square_off_fee,
            max_tick_age_seconds=trading.max_tick_age_seconds,
        )
