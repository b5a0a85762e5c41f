"""The daily Kite login, as the Settings page and every process see it.

Flow (Kite Connect v3 docs, "User: Login flow"; ``../shared/docs/kite-protocol.md`` §2.3):
the user opens :meth:`KiteAuthService.login_url`, logs in at Kite, and Kite redirects back to
the dashboard with ``?request_token=…&action=login&status=success``;
:meth:`KiteAuthService.complete_login` exchanges the token (``POST /session/token`` with
``checksum = sha256(api_key + request_token + api_secret)``) and stores the session in Redis
(``desk:kite:session``) with its expiry, the next 06:00 IST. :meth:`logout` invalidates the
token at Kite (``DELETE /session/token``) and forgets it. :meth:`status` tells the banner
whether the session is missing, active or expired, without ever exposing the token.

For the replay market the login link points at the replay server's ``/connect/login`` and
carries ``redirect_url`` (the dashboard), so the same round trip works locally.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from app.adapters.kite_errors import (FunnelledKite, KitePermissionDenied, KiteSessionExpired, KiteUnavailable,
                                      connect)
from app.adapters.kite_session import (api_key_of, clear_session, market_roots, mark_expired, read_session,
                                       store_session)
from app.settings import Settings
from core.errors import ValidationError
from core.kite_session_rules import is_expired, request_token_from_redirect
from core.events import Notifier, NullNotifier, kite_token_expired
from core.timeutil import IST, UTC

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """What the banner and Settings page show. Never holds a token or secret.

    ``state``: ``missing`` (never logged in / logged out), ``active``, or ``expired`` (past
    06:00 IST, or Kite refused the token). Times are tz-aware UTC; show them in IST.
    """

    state: Literal["missing", "active", "expired"]
    market: str
    user_id: str = ""
    user_name: str = ""
    login_time: datetime | None = None
    expires_at: datetime | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "active"


def _when(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(raw) if raw else None
    except (TypeError, ValueError):
        return None


class KiteAuthService:
    """Login link, token exchange, logout and session status for the configured market."""

    def __init__(self, settings: Settings, redis_client: Any, notifier: Notifier | None = None) -> None:
        """``notifier`` hears of an expired session (default: none, ``NullNotifier``)."""
        self._settings = settings
        self._redis = redis_client
        self._notifier = notifier or NullNotifier()

    @property
    def market(self) -> str:
        return self._settings.market

    @property
    def api_key(self) -> str:
        return api_key_of(self._settings)

    def _secret(self) -> str:
        s = self._settings
        secret = s.kite_api_secret if s.market == "kite" else s.replay_api_secret
        if secret is None or not secret.get_secret_value():
            raise ValidationError("KITE_API_SECRET is not set: add it to the environment (or .env) and restart")
        return secret.get_secret_value()

    def _client(self, access_token: str | None = None) -> FunnelledKite:
        rest_root, _ = market_roots(self._settings)
        return connect(self.api_key, access_token=access_token, root=rest_root)

    # ------------------------------------------------------------------ login
    def login_url(self, redirect_url: str | None = None) -> str:
        """The Kite login link (``https://kite.zerodha.com/connect/login?api_key=…&v=3``).

        Real Kite redirects to the URL registered for the app in the Kite developer console,
        so ``redirect_url`` is ignored there. For the replay market the link points at the
        replay's ``/connect/login`` and carries ``redirect_url`` (e.g. the Settings page URL).
        """
        kite = self._client()
        if self.market == "replay":
            kite.raw._default_login_uri = f"{self._settings.replay_url}/connect/login"
            url = kite.login_url()
            return url + ("&" + urlencode({"redirect_url": redirect_url}) if redirect_url else "")
        return kite.login_url()

    def complete_login(self, params: dict[str, Any], now: datetime | None = None) -> SessionStatus | None:
        """Exchange the ``request_token`` of Kite's redirect (its query params) for a session.

        Returns ``None`` when ``params`` has no ``request_token`` (nothing to do), else the new
        active status. Raises ``ValidationError`` for a failed, tampered or reused request
        token, a wrong API key or secret (the stored session is left as it was), and
        ``KiteUnavailable`` when the market cannot be reached. Messages never contain the
        token or the secret.
        """
        request_token = request_token_from_redirect(params)
        if request_token is None:
            return None
        secret = self._secret()
        kite = self._client()
        try:
            data = kite.generate_session(request_token, api_secret=secret)
        except (KiteSessionExpired, ValidationError, KitePermissionDenied) as exc:
            log.warning("Kite login refused: %s", type(exc).__name__)
            raise ValidationError(
                f"Kite refused the login ({_safe(exc, request_token, secret)}). The request token is single-use "
                "and valid for a few minutes, and must come with the right KITE_API_KEY and KITE_API_SECRET: "
                "check them and log in again") from None
        except KiteUnavailable as exc:
            raise KiteUnavailable(f"Kite could not complete the login at the {self.market} market "
                                  f"({exc.kite_type}); check the network and try again") from None
        login_at = now or datetime.now(UTC)
        store_session(self._redis, self.api_key, data["access_token"], data.get("user_id", ""), login_at,
                      user_name=data.get("user_name") or data.get("user_shortname") or "")
        log.info("Kite login for %s stored; expires %s IST", data.get("user_id", "?"),
                 self.status(login_at).expires_at.astimezone(IST).strftime("%Y-%m-%d %H:%M"))
        return self.status(login_at)

    def logout(self) -> bool:
        """Invalidate the token at Kite (``DELETE /session/token``) and forget it.

        Returns True if Kite invalidated a live token, False if there was nothing to
        invalidate (already expired or logged out). The local session is cleared either way;
        ``KiteUnavailable`` if the market cannot be reached (the session is cleared anyway).
        """
        data = read_session(self._redis)
        token = (data or {}).get("access_token")
        clear_session(self._redis)
        if not token:
            return False
        try:
            self._client(token).invalidate_access_token(token)
            return True
        except KiteSessionExpired:
            return False
        except KiteUnavailable as exc:
            raise KiteUnavailable(f"logged out locally, but could not reach the {self.market} market to "
                                  f"invalidate the token ({exc.kite_type})") from None

    # ------------------------------------------------------------------ status
    def status(self, now: datetime | None = None) -> SessionStatus:
        """The session as the banner shows it (``missing``/``active``/``expired``)."""
        now = now or datetime.now(UTC)
        data = read_session(self._redis)
        if data is None or data.get("api_key") != self.api_key:
            return SessionStatus("missing", self.market)
        expires = _when(data.get("expires_at"))
        common = dict(market=self.market, user_id=str(data.get("user_id", "")),
                      user_name=str(data.get("user_name", "")), login_time=_when(data.get("login_time")),
                      expires_at=expires)
        if data.get("status", "active") == "expired" or not data.get("access_token"):
            return SessionStatus("expired", reason=str(data.get("expired_reason") or "Kite refused the token"),
                                 **common)
        if expires is None or is_expired(expires, now):
            return SessionStatus("expired", reason="Kite sessions end at 06:00 IST", **common)
        return SessionStatus("active", **common)

    def mark_expired(self, reason: str) -> bool:
        """Mark the session expired (e.g. after a ``TokenException``)."""
        done = mark_expired(self._redis, reason)
        if done:
            self._notifier.notify(kite_token_expired(self.status()))
        return done


def _safe(exc: Exception, *secrets: str) -> str:
    """Kite's error message with any secret or token removed."""
    text = str(exc)
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text[:200]
