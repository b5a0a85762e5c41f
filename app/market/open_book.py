"""The ticker's view of the trading desk: which instruments have an open position or a PENDING
approval, read straight from the trading store.

``DeskSubscriptions`` needs only tokens and quantities, so the ticker process does not build
the whole ``TradingService`` (broker, margins table, gatekeeper, charges: pandas and ~80 MB
resident) to ask for them. Same rows, same rules as ``TradingService.positions``/``pending``:
a position counts while its quantity is not zero, an approval while it is PENDING and
``expires_at > now``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.timeutil import require_aware


class _TradingRows(Protocol):
    """The two reads used (``app.adapters.trading_store.TradingStore`` satisfies it)."""

    def positions(self) -> list[Mapping[str, Any]]: ...

    def list_approvals(self, statuses: Sequence[str]) -> list[Mapping[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class OpenInstrument:
    """One position or pending approval as the subscriptions see it (``quantity`` signed shares;
    1 for an approval)."""

    instrument_token: int
    quantity: int = 1


class StoreOpenBook:
    """``OpenBook`` (``app.market.subscriptions``) on the trading store's rows. Store errors
    propagate (the ticker then keeps its current subscriptions)."""

    def __init__(self, store: _TradingRows) -> None:
        self._store = store

    def positions(self, now: datetime) -> list[OpenInstrument]:
        """Open positions (quantity ≠ 0) at ``now`` (tz-aware; raises ``ValidationError`` if naive)."""
        require_aware(now, "now")
        return [OpenInstrument(int(r["instrument_token"]), int(r["quantity"])) for r in self._store.positions()
                if int(r["quantity"]) != 0]

    def pending(self, now: datetime) -> list[OpenInstrument]:
        """PENDING approvals still inside their TTL at ``now`` (tz-aware)."""
        require_aware(now, "now")
        return [OpenInstrument(int(r["instrument_token"])) for r in self._store.list_approvals(("PENDING",))
                if r["expires_at"] > now]
