"""Split ticker subscriptions over KiteTicker connections (pure).

Kite allows up to 3,000 instruments per WebSocket connection and up to 3 connections per
api_key (``../shared/docs/indian-market.md`` §5; kite.trade forum 4340 and comment 40313), so
one api_key can stream at most 9,000 instruments.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import ValidationError

MAX_PER_CONNECTION = 3000
MAX_CONNECTIONS = 3
MODES = ("ltp", "quote", "full")
#: When one instrument is wanted in several modes, the richest wins.
_RANK = {m: i for i, m in enumerate(MODES)}


def merge_modes(*wanted: Mapping[int, str]) -> dict[int, str]:
    """Union of ``{instrument_token: mode}`` maps; a token wanted twice gets the richer mode
    (ltp < quote < full). Raises ``ValidationError`` for an unknown mode or a bad token."""
    out: dict[int, str] = {}
    for m in wanted:
        for token, mode in m.items():
            if mode not in _RANK:
                raise ValidationError(f"mode {mode!r} for instrument {token} is not one of {', '.join(MODES)}")
            if isinstance(token, bool) or not isinstance(token, int) or token <= 0:
                raise ValidationError(f"instrument_token must be a positive integer, was {token!r}")
            if token not in out or _RANK[mode] > _RANK[out[token]]:
                out[token] = mode
    return out


def shard(modes: Mapping[int, str], per_connection: int = MAX_PER_CONNECTION,
          max_connections: int = MAX_CONNECTIONS) -> list[dict[int, str]]:
    """Split ``{instrument_token: mode}`` into at most ``max_connections`` shards of at most
    ``per_connection`` instruments each (tokens sorted, filled in order; an empty map gives one
    empty shard so the ticker still connects).

    Raises ``ValidationError`` when there are more instruments than
    ``per_connection * max_connections`` (9,000 on Kite), saying how many to remove.
    """
    if per_connection <= 0 or max_connections <= 0:
        raise ValidationError("per_connection and max_connections must be positive")
    limit = per_connection * max_connections
    if len(modes) > limit:
        raise ValidationError(
            f"{len(modes):,} instruments requested but Kite streams at most {limit:,} per api_key "
            f"({max_connections} connections × {per_connection:,}); remove {len(modes) - limit:,} "
            "from the watchlists")
    tokens = sorted(modes)
    if not tokens:
        return [{}]
    return [{t: modes[t] for t in tokens[i:i + per_connection]} for i in range(0, len(tokens), per_connection)]
