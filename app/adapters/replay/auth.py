"""In-memory Kite session state of the replay server: request tokens, access tokens, sockets.

Rules follow Kite Connect v3 (``kite-protocol.md`` §2.3): a request token is single-use; the
session exchange needs ``checksum = sha256(api_key + request_token + api_secret)``; an access
token lives until ``DELETE /session/token``. Tokens are random (``secrets``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading


class AuthError(Exception):
    """A refused credential; the message is safe to show (never contains a secret)."""


class AuthStore:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self._secret = api_secret
        self._request_tokens: set[str] = set()
        self._access: dict[str, str] = {}  # access_token -> user_id
        self._sockets = 0
        self._lock = threading.Lock()

    def issue_request_token(self, api_key: str) -> str:
        if api_key != self.api_key:
            raise AuthError("Invalid `api_key`.")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._request_tokens.add(token)
        return token

    def exchange(self, api_key: str, request_token: str, checksum: str) -> str:
        """Consume ``request_token``; return a new access token. Raises ``AuthError``."""
        if api_key != self.api_key:
            raise AuthError("Invalid `api_key`.")
        expected = hashlib.sha256(f"{api_key}{request_token}{self._secret}".encode()).hexdigest()
        if not hmac.compare_digest(expected, checksum or ""):
            raise AuthError("Invalid `checksum`.")
        with self._lock:
            if request_token not in self._request_tokens:
                raise AuthError("Token is invalid or has expired.")
            self._request_tokens.discard(request_token)
            access = secrets.token_urlsafe(24)
            self._access[access] = "PD0001"
        return access

    def valid(self, api_key: str | None, access_token: str | None) -> bool:
        return api_key == self.api_key and access_token in self._access

    def invalidate(self, access_token: str) -> bool:
        with self._lock:
            return self._access.pop(access_token, None) is not None

    def open_socket(self, limit: int) -> bool:
        with self._lock:
            if self._sockets >= limit:
                return False
            self._sockets += 1
            return True

    def close_socket(self) -> None:
        with self._lock:
            self._sockets = max(0, self._sockets - 1)
