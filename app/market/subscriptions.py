"""What the ticker streams, and over which KiteTicker connection (Twisted-free, testable).

* :class:`DeskSubscriptions` — the *source*: the watchlist's instruments, the open positions'
  and the pending approvals' (the trading desk's ``positions(now)`` / ``pending(now)``; an
  empty trading store adds nothing) and the enabled alerts' (``quote`` mode: LTP, OHLC and
  volume are what an alert reads), each with a mode
  (``ltp``/``quote``/``full``; the richest wins when a token comes from several sources).
* :class:`ShardedSubscriptions` — the *assignment*: up to 3,000 instruments per connection and
  up to 3 connections per api_key (``core.ticker_shards``; ``../shared/docs/indian-market.md``
  §5). Tokens stay on the connection they were first placed on (so an edit never moves a
  token between sockets); new ones fill the first connection with room, opening the next
  connection when needed. More than 9,000 instruments are refused as a whole: the current
  subscriptions stay and :attr:`ShardedSubscriptions.refused` holds the message the ticker
  publishes (``desk:ticker:subscriptions``) for the dashboard.

Per connection it tracks what was *wanted* and what was *sent* on the live socket, so a
reconnect resubscribes everything (per mode) and an edit sends only the difference.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.errors import ValidationError
from core.ticker_shards import MAX_CONNECTIONS, MAX_PER_CONNECTION, MODES, merge_modes, shard

log = logging.getLogger(__name__)

#: Redis key where the ticker publishes :meth:`ShardedSubscriptions.snapshot` (JSON) plus
#: ``sources``, ``fallback`` and ``updated_at``; read it with :func:`read_subscriptions`.
SUBSCRIPTIONS_KEY = "desk:ticker:subscriptions"


def read_subscriptions(redis_client: Any) -> dict[str, Any] | None:
    """The ticker's last subscription report, or ``None`` if it never wrote one (or it is not
    JSON). ``refused`` is non-empty when the wanted instruments exceed Kite's 9,000 and says
    how many to remove; show it on the dashboard."""
    raw = redis_client.get(SUBSCRIPTIONS_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class WantedSubscriptions:
    """``modes`` = ``{instrument_token: mode}`` to stream; ``sources`` = how many tokens each
    source contributed (``watchlist``, ``positions``, ``approvals``)."""

    modes: dict[int, str]
    sources: dict[str, int]


class OpenBook(Protocol):
    """What the subscriptions read from the trading desk: open positions and PENDING approvals
    at market time ``now`` (``TradingService`` satisfies it)."""

    def positions(self, now: datetime) -> Iterable[Any]: ...

    def pending(self, now: datetime) -> Iterable[Any]: ...


class DeskSubscriptions:
    """The *source* of the ticker's subscriptions (see the module docstring).

    ``watchlist_tokens()`` returns the watchlist's instrument_tokens
    (``WatchlistService.tokens``); ``book`` gives open positions and pending approvals, or
    ``None`` when the process has no trading desk (then only the watchlist is streamed);
    ``alert_tokens()`` the tokens the enabled alerts read (``AlertService.tokens``), or ``None``.
    """

    def __init__(self, watchlist_tokens: Callable[[], Iterable[int]], book: OpenBook | None = None,
                 alert_tokens: Callable[[], Iterable[int]] | None = None) -> None:
        self._watchlist_tokens = watchlist_tokens
        self._book = book
        self._alert_tokens = alert_tokens

    def wanted(self, now: datetime, *, watchlist: Iterable[int] | Mapping[int, str] | None = None,
               watchlist_mode: str = "full", position_mode: str = "full",
               approval_mode: str = "full", alert_mode: str = "quote") -> WantedSubscriptions:
        """The instruments the desk needs streamed at market time ``now`` (tz-aware).

        ``watchlist`` overrides ``watchlist_tokens()`` (tokens, or ``{token: mode}``). Open
        positions (quantity ≠ 0) and PENDING approvals come from the book. Positions and
        approvals are streamed in ``full`` mode by default: the paper broker fills against
        5-level depth. Raises ``ValidationError`` for a bad mode or token; store errors
        propagate (the ticker then keeps its current subscriptions).
        """
        if watchlist is None:
            watchlist = self._watchlist_tokens()
        watch = dict(watchlist) if isinstance(watchlist, Mapping) else {int(t): watchlist_mode for t in watchlist}
        positions: dict[int, str] = {}
        approvals: dict[int, str] = {}
        if self._book is not None:
            positions = {int(p.instrument_token): position_mode for p in self._book.positions(now) if p.quantity}
            approvals = {int(a.instrument_token): approval_mode for a in self._book.pending(now)}
        alerts = {int(t): alert_mode for t in self._alert_tokens()} if self._alert_tokens is not None else {}
        modes = merge_modes(watch, positions, approvals, alerts)
        sources = {"watchlist": len(watch), "positions": len(positions), "approvals": len(approvals)}
        if alerts:
            sources["alerts"] = len(alerts)
        return WantedSubscriptions(modes, sources)


def parse_tokens(text: str, default_mode: str = "full") -> dict[int, str]:
    """``"408065,884737:ltp"`` → ``{408065: "full", 884737: "ltp"}`` (``--tokens``).

    Raises ``ValidationError`` for a non-integer token or an unknown mode."""
    out: dict[int, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        tok, _, mode = part.partition(":")
        try:
            token = int(tok)
        except ValueError:
            raise ValidationError(f"--tokens entry {part!r} must be an instrument_token, optionally "
                                  "':ltp', ':quote' or ':full'") from None
        out[token] = mode or default_mode
    return merge_modes(out)


@dataclass
class Shard:
    """One KiteTicker connection's subscriptions: ``wanted`` and ``sent`` (on the live socket)."""

    index: int
    wanted: dict[int, str] = field(default_factory=dict)
    sent: dict[int, str] = field(default_factory=dict)
    connected: bool = False
    since: dict[int, float] = field(default_factory=dict)  # token -> monotonic time it was sent


@dataclass(frozen=True)
class ShardDiff:
    """What to send on one live connection: ``unsubscribe`` tokens, ``subscribe`` new tokens
    per mode (subscribe, then set that mode), ``modes`` = mode changes of subscribed tokens."""

    unsubscribe: list[int]
    subscribe: dict[str, list[int]]
    modes: dict[str, list[int]]

    def __bool__(self) -> bool:
        return bool(self.unsubscribe or self.subscribe or self.modes)


def _by_mode(modes: Mapping[int, str], tokens: Iterable[int]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for t in sorted(tokens):
        out.setdefault(modes[t], []).append(t)
    return {m: out[m] for m in MODES if m in out}


class ShardedSubscriptions:
    """Sticky assignment of ``{instrument_token: mode}`` to at most ``max_connections``
    connections of at most ``per_connection`` instruments (Kite: 3 × 3,000)."""

    def __init__(self, per_connection: int = MAX_PER_CONNECTION, max_connections: int = MAX_CONNECTIONS) -> None:
        self.per_connection = per_connection
        self.max_connections = max_connections
        self.shards: list[Shard] = [Shard(0)]
        self.refused = ""
        self.requested = 0

    @property
    def limit(self) -> int:
        return self.per_connection * self.max_connections

    def update(self, modes: Mapping[int, str]) -> list[int]:
        """Make ``modes`` the wanted subscriptions; return the indexes of connections that must
        be opened for them. More than ``limit`` instruments (or a bad mode/token): raises
        ``ValidationError`` with the message, keeps everything as it was and records the
        message in :attr:`refused` (cleared by the next accepted update)."""
        self.requested = len(modes)
        try:
            merged = merge_modes(modes)
            shard(merged, self.per_connection, self.max_connections)  # the 9,000 check and its message
        except ValidationError as exc:
            self.refused = str(exc)
            raise
        self.refused = ""
        for s in self.shards:
            s.wanted = {t: merged[t] for t in s.wanted if t in merged}
        placed = {t for s in self.shards for t in s.wanted}
        opened: list[int] = []
        for t in sorted(set(merged) - placed):
            target = next((s for s in self.shards if len(s.wanted) < self.per_connection), None)
            if target is None:  # cannot exceed max_connections: shard() checked the total
                target = Shard(len(self.shards))
                self.shards.append(target)
                opened.append(target.index)
            target.wanted[t] = merged[t]
        return opened

    def diff(self, index: int) -> ShardDiff:
        """What connection ``index`` must send now (recorded as sent); empty when it is down."""
        s = self.shards[index]
        if not s.connected:
            return ShardDiff([], {}, {})
        unsub = sorted(set(s.sent) - set(s.wanted))
        new = [t for t in s.wanted if t not in s.sent]
        changed = [t for t in s.wanted if t in s.sent and s.sent[t] != s.wanted[t]]
        s.sent = dict(s.wanted)
        now = time.monotonic()
        for t in unsub:
            s.since.pop(t, None)
        for t in new:
            s.since[t] = now
        return ShardDiff(unsub, _by_mode(s.wanted, new), _by_mode(s.wanted, changed))

    def on_connected(self, index: int) -> dict[str, list[int]]:
        """Connection ``index`` is (re)connected: everything it wants, per mode, to send now."""
        s = self.shards[index]
        s.connected = True
        s.sent = dict(s.wanted)
        now = time.monotonic()
        s.since = {t: now for t in s.sent}
        return _by_mode(s.wanted, s.wanted)

    def on_disconnected(self, index: int) -> None:
        s = self.shards[index]
        s.connected = False
        s.sent = {}
        s.since = {}

    def all_disconnected(self) -> None:
        for s in self.shards:
            self.on_disconnected(s.index)

    @property
    def connected(self) -> bool:
        """Every connection is open."""
        return all(s.connected for s in self.shards)

    def subscribed(self) -> set[int]:
        """Tokens subscribed on live sockets."""
        return {t for s in self.shards for t in s.sent}

    def streaming_since(self) -> dict[int, float]:
        """``{token: monotonic time subscribed}`` for tokens on live sockets (a new dict, safe
        to hand to another thread)."""
        return {t: at for s in self.shards if s.connected for t, at in s.since.items()}

    def wanted(self) -> set[int]:
        return {t for s in self.shards for t in s.wanted}

    def snapshot(self) -> dict[str, Any]:
        """JSON-simple summary for ``desk:ticker:subscriptions`` (the dashboard reads it)."""
        return {
            "connections": len(self.shards),
            "connected": sum(s.connected for s in self.shards),
            "requested": self.requested,
            "wanted": len(self.wanted()),
            "subscribed": len(self.subscribed()),
            "limit": self.limit,
            "per_connection": self.per_connection,
            "refused": self.refused,
            "shards": [{"index": s.index, "connected": s.connected, "wanted": len(s.wanted), "subscribed": len(s.sent),
                        "modes": {m: n for m in MODES if (n := sum(1 for v in s.wanted.values() if v == m))}}
                       for s in self.shards],
        }
