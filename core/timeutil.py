"""Time zones and conversions. ``core`` never reads a clock: callers pass the time in.

Store UTC, show IST (``Asia/Kolkata``, UTC+05:30, no DST).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from core.errors import ValidationError

IST = ZoneInfo("Asia/Kolkata")
UTC = ZoneInfo("UTC")
# tzinfo classes whose utcoffset() is never None: a datetime carrying one is aware
_ALWAYS_AWARE = frozenset({ZoneInfo, timezone})


def require_aware(when: datetime, name: str = "time") -> datetime:
    """Return ``when`` unchanged if tz-aware; raise ``ValidationError`` for a naive datetime
    (or anything that is not a datetime: a string, a date)."""
    if when.__class__ is datetime and when.tzinfo.__class__ in _ALWAYS_AWARE:  # hot path (every order and fill)
        return when
    if not isinstance(when, datetime):
        raise ValidationError(f"{name} must be a tz-aware datetime (IST or UTC), was {repr(when)[:60]}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValidationError(f"{name} must be timezone-aware (got naive {when.isoformat()}); pass IST or UTC")
    return when


def to_ist(when: datetime) -> datetime:
    """Convert a tz-aware datetime to IST. Raises ``ValidationError`` if naive."""
    if when.__class__ is datetime and when.tzinfo is IST:  # what astimezone(IST) returns for it
        return when
    return require_aware(when).astimezone(IST)


def to_utc(when: datetime) -> datetime:
    """Convert a tz-aware datetime to UTC. Raises ``ValidationError`` if naive."""
    return require_aware(when).astimezone(UTC)


def ist_range(start: datetime | date, end: datetime | date) -> tuple[datetime, datetime]:
    """``(start, end)`` as tz-aware datetimes; a ``date`` means the whole IST day (00:00:00 for
    ``start``, 23:59:59 for ``end``).

    Raises ``ValidationError`` for a naive datetime or ``start > end``.
    """
    if not isinstance(start, datetime):
        start = datetime.combine(start, datetime.min.time(), IST)
    if not isinstance(end, datetime):
        end = datetime.combine(end, datetime.max.time().replace(microsecond=0), IST)
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if start > end:
        raise ValidationError(f"start {start.isoformat()} is after end {end.isoformat()}; swap them")
    return start, end
