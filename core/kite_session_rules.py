"""Kite Connect session rules: checksum, token expiry, and the login redirect (pure).

Sources: Kite Connect v3 docs, "User: Login flow" (``checksum = SHA-256(api_key +
request_token + api_secret)``, the redirect carries ``request_token``, ``action=login`` and
``status=success``) and "Session expiry" (an access token is valid until about 06:00 IST the
next morning; ``../shared/docs/indian-market.md`` §5). Nothing here reads a clock: callers pass
the time in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta

from core.errors import ValidationError
from core.timeutil import IST, UTC, require_aware

#: Kite flushes every session at this IST wall time (Kite Connect docs, "Session expiry").
TOKEN_EXPIRY_IST = time(6, 0)

# Kite request tokens are short alphanumerics; the replay issues url-safe base64. Anything else
# (spaces, quotes, very long strings) is refused before it reaches the network.
_REQUEST_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{6,128}$")


def checksum(api_key: str, request_token: str, api_secret: str) -> str:
    """Hex SHA-256 of ``api_key + request_token + api_secret`` (Kite's session checksum)."""
    return hashlib.sha256(f"{api_key}{request_token}{api_secret}".encode()).hexdigest()


def session_expiry(login_at: datetime) -> datetime:
    """The first 06:00 IST strictly after ``login_at``, returned in UTC.

    A login at 05:59:59 IST expires at 06:00 the same day; a login at exactly 06:00 IST (or
    later) expires at 06:00 the next day. Raises ``ValidationError`` for a naive time.
    """
    ist = require_aware(login_at, "login_at").astimezone(IST)
    day = ist.date() if ist.time() < TOKEN_EXPIRY_IST else ist.date() + timedelta(days=1)
    return datetime.combine(day, TOKEN_EXPIRY_IST, IST).astimezone(UTC)


def is_expired(expires_at: datetime, now: datetime) -> bool:
    """True when ``now`` is at or past ``expires_at`` (both tz-aware)."""
    return require_aware(now, "now") >= require_aware(expires_at, "expires_at")


def request_token_from_redirect(params: Mapping[str, str | list[str]]) -> str | None:
    """The ``request_token`` of Kite's login redirect, or ``None`` when the query has none.

    ``params`` is the redirect's query string (values may be lists, as ``parse_qs`` gives).
    Raises ``ValidationError`` when the redirect reports a failed login (``status`` other
    than ``success``) or the token is malformed (e.g. tampered or truncated); the message
    says to log in again and never echoes the token.
    """

    def one(name: str) -> str | None:
        v = params.get(name)
        if isinstance(v, list):
            v = v[0] if v else None
        return v.strip() if isinstance(v, str) else None

    token = one("request_token")
    if token is None:
        return None
    status = one("status") or "success"
    if status != "success":
        raise ValidationError(f"Kite reported the login as {status!r}; log in to Kite again from Settings")
    if not _REQUEST_TOKEN.fullmatch(token):
        raise ValidationError("the request_token in the address is malformed (tampered or cut off); "
                              "log in to Kite again from Settings")
    return token
