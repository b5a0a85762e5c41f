"""The replay clock: wall time → replay time (IST) at a chosen speed.

``speed`` replay seconds pass per wall second (1 = real time, 60 = one replay minute per wall
second). The clock starts at ``start`` (IST) on the replay date when the server starts. At the
close (15:30) it stops there, or with ``loop`` it restarts from ``start`` (a new ``lap``).
The wall clock is injectable (``monotonic``) so tests can drive it.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from core.timeutil import IST

SESSION_CLOSE = time(15, 30)


class ReplayClock:
    def __init__(self, day: date, speed: float, start: time = time(9, 15), loop: bool = False,
                 monotonic: Callable[[], float] = _time.monotonic) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0 (got {speed})")
        self.start = datetime.combine(day, start, IST)
        self.close = datetime.combine(day, SESSION_CLOSE, IST)
        if self.start >= self.close:
            raise ValueError(f"start {start} must be before the close {SESSION_CLOSE}")
        self.speed = float(speed)
        self.loop = loop
        self._mono = monotonic
        self._wall0 = monotonic()
        self._length = (self.close - self.start).total_seconds()

    def _elapsed(self) -> float:
        return (self._mono() - self._wall0) * self.speed

    def lap(self) -> int:
        """How many times the session has restarted (always 0 without ``loop``)."""
        return int(self._elapsed() // self._length) if self.loop else 0

    def now(self) -> datetime:
        """Current replay time (tz-aware IST)."""
        e = self._elapsed()
        e = e % self._length if self.loop else min(e, self._length)
        return self.start + timedelta(seconds=e)
