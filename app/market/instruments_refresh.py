"""The clock's morning job: refresh the instruments master from Kite before 09:00 IST.

Kite publishes a fresh instruments dump every trading morning (Kite Connect docs,
"Instruments"); tokens of expired F&O contracts disappear and new ones appear, so the master
must be reloaded daily. ``refresh_instruments`` asks ``instruments(exchange)`` for each
exchange (NSE and NFO by default), stores the dated dump, and rebuilds the in-memory index
(look-ups by tradingsymbol and token are dictionary hits). The replay market serves NSE only:
its NFO answer is empty and is reported, not treated as an error. If every exchange comes back
empty the old master is kept (``DataError``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.adapters.kite_errors import funnelled, kite_request
from core.errors import DataError

log = logging.getLogger(__name__)

DEFAULT_EXCHANGES = ("NSE", "NFO")


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """Rows stored, per-exchange counts, and exchanges that returned nothing."""

    stored: int
    per_exchange: dict[str, int]
    empty: tuple[str, ...]


def refresh_instruments(instruments: Any, kite: Any, now: datetime,
                        exchanges: Sequence[str] = DEFAULT_EXCHANGES) -> RefreshResult:
    """Replace the master with ``kite.instruments(ex)`` for ``exchanges`` (dated ``now`` IST).

    ``instruments`` is an ``InstrumentService``; ``kite`` a logged-in ``KiteConnect`` (put
    behind the Kite request funnel here). Raises ``DataError`` (old master kept) when no
    exchange returned rows, ``KiteUnavailable`` (a ``TemporaryError``: retry) when Kite is
    down or rate-limits, ``KiteSessionExpired`` when it refuses the token.
    """
    kite = funnelled(kite)
    counts: dict[str, int] = {}
    keep: list[str] = []
    for ex in exchanges:
        with kite_request(f"instruments dump of {ex}"):
            rows = kite.raw.instruments(ex)
        counts[ex] = len(rows)
        if rows:
            keep.append(ex)
    empty = tuple(ex for ex in exchanges if counts[ex] == 0)
    if not keep:
        raise DataError(f"Kite returned no instruments for {', '.join(exchanges)}; kept the old master")
    stored = instruments.refresh_from_kite(kite, keep, now=now)
    if empty:
        log.warning("instruments refresh: %s returned no rows (the replay market serves NSE only)", ", ".join(empty))
    return RefreshResult(stored, counts, empty)
