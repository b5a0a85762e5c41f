"""The browser's sign-in cookie: a signed, expiring wrapper around a desk session token.

The cookie ``paperdesk_session`` holds ``itsdangerous.TimestampSigner(secret).sign(token)``:
the random session token (``AuthService``; Redis keeps only its SHA-256) plus the signing time
and an HMAC. It is set by the web process's own route (``app.ui.session_routes``) as
``HttpOnly; SameSite=Lax; Path=/`` (``Secure`` over HTTPS) with ``Max-Age`` = the session
lifetime (``DESK_SESSION_HOURS``), so page scripts never see it and it survives a reload.

A value that is unsigned, tampered, signed with another secret or older than the lifetime
unwraps to ``None``; a well-signed value is still only as good as its server-side session
(sign-out deletes it, so a copied cookie stops working).

The secret is 32 random bytes kept in Redis (``desk:auth:cookie_secret``, created once with
``SET NX``), so every web process of a desk signs alike without configuration.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, TimestampSigner

COOKIE_NAME = "paperdesk_session"
SECRET_KEY = "desk:auth:cookie_secret"


@dataclass(frozen=True)
class SessionCookie:
    """Signs and checks cookie values. ``secret``: bytes; ``lifetime``: the cookie's max age."""

    secret: bytes
    lifetime: timedelta

    @property
    def max_age(self) -> int:
        """Seconds for the cookie's ``Max-Age``."""
        return int(self.lifetime.total_seconds())

    def _signer(self) -> TimestampSigner:
        return TimestampSigner(self.secret, salt="paperdesk.session")

    def wrap(self, token: str) -> str:
        """The cookie value for ``token``."""
        return self._signer().sign(token).decode("ascii")

    def unwrap(self, value: str | None) -> str | None:
        """The token inside a cookie value, or ``None`` when it is missing, tampered or too old."""
        if not value:
            return None
        try:
            return self._signer().unsign(value, max_age=self.max_age).decode("ascii")
        except (BadSignature, UnicodeError):
            return None


def cookie_digest(value: str) -> str:
    """SHA-256 of a cookie value: names one cookie to clear without repeating it."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def cookie_secret(redis: Any) -> bytes:
    """The desk's cookie-signing secret from Redis, created on first use (``SET NX``)."""
    redis.set(SECRET_KEY, secrets.token_hex(32), nx=True)
    value = redis.get(SECRET_KEY)
    return value if isinstance(value, bytes) else str(value).encode("ascii")


__all__ = ["COOKIE_NAME", "SessionCookie", "cookie_digest", "cookie_secret"]
