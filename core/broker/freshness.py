"""A fill needs a fresh price: the stale-tick rule of the paper broker's fill path.

A tick is a price to fill at only while it is at most ``max_age_seconds`` old in **market
time**: its exchange time (else its receive time) against the market time the order is matched
at (the desk clock's ``now``; for a replayed session that is the replay's own clock, so a
replay at any speed ages ticks in market seconds). An order whose latest tick is older stays
OPEN (or TRIGGER PENDING) and waits for the next tick; the order book says why with
:func:`waiting_message`, e.g. ``"waiting for a fresh tick (last 09 Sep 2016 09:23:05 IST, 3 h
old)"``.

Pure: times come in as arguments; nothing here reads a clock. Replays and backtests feed
ticks in time order at their own market time, so their ticks are fresh by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.errors import ValidationError
from core.timeutil import require_aware, to_ist

#: The start of every waiting message (the fill path recognises and clears its own message).
WAITING_PREFIX = "waiting for a fresh tick"


@dataclass(frozen=True, slots=True)
class StaleTick:
    """A tick too old to fill at: its market time ``tick_at`` (tz-aware), the market time
    ``now`` it was judged at, its ``age_seconds`` and the limit ``max_age_seconds``."""

    tick_at: datetime
    now: datetime
    age_seconds: float
    max_age_seconds: float

    @property
    def message(self) -> str:
        return waiting_message(self)


def stale_tick(tick_at: datetime, now: datetime, max_age_seconds: float | None) -> StaleTick | None:
    """The ``StaleTick`` when ``tick_at`` lies more than ``max_age_seconds`` before ``now``,
    else ``None`` (a fresh tick, a tick from after ``now``, or no limit: ``None``).

    ``tick_at``, ``now``: tz-aware market times. ``max_age_seconds``: seconds > 0, or ``None``
    for any age. Raises ``ValidationError`` for a naive time or a limit that is not a positive
    finite number.
    """
    require_aware(tick_at, "tick_at")
    require_aware(now, "now")
    if max_age_seconds is None:
        return None
    if isinstance(max_age_seconds, bool) or not isinstance(max_age_seconds, (int, float)) \
            or not 0 < max_age_seconds < float("inf"):
        raise ValidationError(f"max_age_seconds must be a positive number of seconds or None, "
                              f"was {max_age_seconds!r}")
    age = (now - tick_at).total_seconds()
    if age <= max_age_seconds:
        return None
    return StaleTick(tick_at, now, age, float(max_age_seconds))


def waiting_message(stale: StaleTick) -> str:
    """``"waiting for a fresh tick (last 09 Sep 2016 09:23:05 IST, 3 h old)"``: the last tick's
    time in IST and its age, rounded down to the largest whole unit (s, min, h, days)."""
    at = to_ist(stale.tick_at).strftime("%d %b %Y %H:%M:%S IST")
    return f"{WAITING_PREFIX} (last {at}, {format_age(stale.age_seconds)} old)"


def format_age(seconds: float) -> str:
    """An age as a trader says it: ``"8 s"``, ``"4 min"``, ``"3 h"``, ``"2 days"``, ``"83 years"``."""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        return f"{s // 3600} h"
    days = s // 86_400
    if days < 730:
        return f"{days} day" if days == 1 else f"{days} days"
    return f"{days // 365} years"


__all__ = ["WAITING_PREFIX", "StaleTick", "format_age", "stale_tick", "waiting_message"]
