"""An exit plan: the stop and target an entry carries, and an optional trailing stop.

Prices are ``Decimal`` rupees per share; the plan is judged against the entry's reference price
(``entry``: the limit price or the LTP when proposed, the average fill price when placed).

Rules (bad input raises ``ValidationError`` and nothing is created):

* a **BUY** entry's stop is below its entry and its target above; a **SELL** entry's the reverse
  (a stop on the wrong side would trigger at once, a target on the wrong side would fill at once);
* the stop is an **SL-M** (Kite's ``market_protection``: ``None``/-1 automatic, else a percent) or
  an **SL** with a limit price on the far side of the trigger (an exit SELL SL needs ``price <=
  trigger``, an exit BUY SL ``price >= trigger``: Kite's SL rule, ``core.orders.models``);
* every price is a multiple of the instrument's tick (``core.orders.tick_size_for``);
* trailing needs a stop and a step **> 0**: ₹ per share, a percent of the price (< 100), or a
  multiple of the ATR (₹, > 0, given when the plan is made). It only moves the stop in the
  trader's favour (``core.exits.oco.trail``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from core.errors import ValidationError
from core.orders import OrderType, Side, is_tick_multiple, round_to_tick
from core.orders.models import check_market_protection

_HUNDRED = Decimal(100)


class TrailKind(StrEnum):
    """How far behind the best price a trailing stop follows."""

    RUPEES = "RUPEES"  # ₹ per share
    PERCENT = "PERCENT"  # % of the best price
    ATR = "ATR"  # a multiple of the ATR (₹) measured when the plan was made


@dataclass(frozen=True, slots=True)
class Trailing:
    """``step`` ₹ / % / ATR multiple (> 0); ``atr`` ₹ (> 0), only and always for ``TrailKind.ATR``."""

    kind: TrailKind
    step: Decimal
    atr: Decimal | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, TrailKind):
            raise ValidationError(f"trailing kind must be one of {', '.join(TrailKind)}, was {self.kind!r:.40}")
        if isinstance(self.step, bool) or not isinstance(self.step, Decimal) or not self.step.is_finite():
            raise ValidationError(f"trailing step must be a Decimal > 0, was {self.step!r:.40}")
        if self.step <= 0:
            raise ValidationError(f"trailing step must be > 0 ({_unit(self.kind)}), was {self.step}; "
                                  "a step of zero would sit on the price")
        if self.kind is TrailKind.PERCENT and self.step >= _HUNDRED:
            raise ValidationError(f"trailing step must be a percent 0 < p < 100, was {self.step}")
        if self.kind is TrailKind.ATR:
            if not isinstance(self.atr, Decimal) or not self.atr.is_finite() or self.atr <= 0:
                raise ValidationError(f"an ATR trailing stop needs the ATR in rupees (> 0), was {self.atr!r:.40}")
        elif self.atr is not None:
            raise ValidationError("atr is only for an ATR trailing stop")

    def distance(self, price: Decimal) -> Decimal:
        """₹ between ``price`` (the best price so far) and the trailing stop."""
        if self.kind is TrailKind.RUPEES:
            return self.step
        if self.kind is TrailKind.PERCENT:
            return price * self.step / _HUNDRED
        assert self.atr is not None
        return self.step * self.atr

    def describe(self) -> str:
        if self.kind is TrailKind.RUPEES:
            return f"trails ₹{self.step} behind"
        if self.kind is TrailKind.PERCENT:
            return f"trails {self.step}% behind"
        return f"trails {self.step} × ATR ₹{self.atr} behind"


def _unit(kind: TrailKind) -> str:
    return {TrailKind.RUPEES: "rupees per share", TrailKind.PERCENT: "percent",
            TrailKind.ATR: "ATR multiple"}[kind]


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """The exits of one entry. ``side`` is the entry's side (the exits take the opposite);
    ``stop`` the stop's trigger ₹, ``stop_limit`` an SL's limit ₹ (``None`` for SL-M);
    ``target`` the LIMIT target ₹; ``market_protection`` the SL-M's Kite parameter."""

    side: Side
    stop: Decimal | None = None
    target: Decimal | None = None
    stop_type: OrderType = OrderType.SL_M
    stop_limit: Decimal | None = None
    market_protection: Decimal | None = None
    trailing: Trailing | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.side, Side):
            raise ValidationError(f"side must be BUY or SELL, was {self.side!r:.40}")
        for name in ("stop", "target", "stop_limit"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, Decimal)
                                      or not value.is_finite() or value <= 0):
                raise ValidationError(f"{name} must be positive Decimal rupees, was {value!r:.40}")
        if self.stop is None and self.target is None:
            raise ValidationError("an exit plan needs a stop, a target or both")
        if self.stop_type not in (OrderType.SL, OrderType.SL_M):
            raise ValidationError(f"the stop is an SL or an SL-M order, was {self.stop_type!r:.40}")
        if self.stop_type is OrderType.SL and self.stop is not None:
            if self.stop_limit is None:
                raise ValidationError("an SL stop needs its limit price (stop_limit, ₹); or use SL-M")
            if self.exit_side is Side.SELL and self.stop_limit > self.stop:
                raise ValidationError(f"a SELL SL exit needs its limit {self.stop_limit} <= its trigger {self.stop}")
            if self.exit_side is Side.BUY and self.stop_limit < self.stop:
                raise ValidationError(f"a BUY SL exit needs its limit {self.stop_limit} >= its trigger {self.stop}")
        elif self.stop_limit is not None:
            raise ValidationError("stop_limit is only for an SL stop (an SL-M stop has no limit price)")
        check_market_protection(self.market_protection)
        if self.trailing is not None:
            if not isinstance(self.trailing, Trailing):
                raise ValidationError("trailing must be a core.exits.Trailing")
            if self.stop is None:
                raise ValidationError("a trailing stop needs a stop to start from")
        if self.stop is not None and self.target is not None:
            low, high = (self.stop, self.target) if self.side is Side.BUY else (self.target, self.stop)
            if low >= high:
                raise ValidationError(f"the stop {self.stop} and target {self.target} are on the wrong sides of each "
                                      f"other for a {self.side} entry")

    @property
    def exit_side(self) -> Side:
        return self.side.opposite

    def check_against(self, entry: Decimal, tick_size: Decimal) -> None:
        """Raise ``ValidationError`` unless the stop and target are on the right side of the
        entry price ``entry`` (₹) and every price is a multiple of ``tick_size`` (₹)."""
        if not isinstance(entry, Decimal) or not entry.is_finite() or entry <= 0:
            raise ValidationError(f"the entry price must be positive Decimal rupees, was {entry!r:.40}")
        buy = self.side is Side.BUY
        if self.stop is not None and (self.stop >= entry if buy else self.stop <= entry):
            where = "below" if buy else "above"
            raise ValidationError(f"a {self.side}'s stop must be {where} its entry: stop {self.stop}, entry {entry}; "
                                  f"{'lower' if buy else 'raise'} the stop")
        if self.target is not None and (self.target <= entry if buy else self.target >= entry):
            where = "above" if buy else "below"
            raise ValidationError(f"a {self.side}'s target must be {where} its entry: target {self.target}, "
                                  f"entry {entry}; {'raise' if buy else 'lower'} the target")
        for name in ("stop", "target", "stop_limit"):
            value = getattr(self, name)
            if value is not None and not is_tick_multiple(value, tick_size):
                raise ValidationError(f"{name} {value} is not a multiple of the tick size {tick_size}; "
                                      f"use {round_to_tick(value, tick_size, up=False)} or "
                                      f"{round_to_tick(value, tick_size, up=True)}")

    def describe(self) -> str:
        parts = []
        if self.stop is not None:
            limit = f" limit {self.stop_limit}" if self.stop_limit is not None else ""
            parts.append(f"stop {self.stop_type} {self.stop}{limit}")
        if self.target is not None:
            parts.append(f"target LIMIT {self.target}")
        if self.trailing is not None:
            parts.append(self.trailing.describe())
        return " · ".join(parts)


__all__ = ["ExitPlan", "TrailKind", "Trailing"]
