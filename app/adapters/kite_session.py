"""The desk's Kite session: which market to talk to, and a valid access token for it.

* Replay market (no ``KITE_API_KEY``): the local replay server. When Redis has no usable
  session, log in automatically like a user would: ``GET /connect/login`` → 302 with
  ``request_token`` → ``KiteConnect.generate_session(request_token, api_secret)``.
* Real Kite (``KITE_API_KEY`` set): the token a user obtained by logging in from Settings
  (stored under the same Redis key); without it, :class:`KiteLoginRequired` is raised.

The session lives in Redis key ``desk:kite:session`` as JSON ``{api_key, access_token,
user_id, login_time, expires_at}`` (ISO times, UTC). Kite access tokens expire at 06:00 IST the
next morning (Kite Connect docs, "Session expiry"). Secrets and tokens are never logged.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from app.settings import Settings
from core.errors import DeskError
from core.timeutil import IST, UTC

log = logging.getLogger(__name__)

SESSION_KEY = "desk:kite:session"
TOKEN_EXPIRY = time(6, 0)


class KiteLoginRequired(DeskError):
    """No valid Kite session: the user must log in to Kite from the Settings page."""


def market_roots(settings: Settings) -> tuple[str | None, str | None]:
    """``(rest_root, ws_root)`` for KiteConnect/KiteTicker; ``(None, None)`` means real Kite."""
    if settings.market == "kite":
        return None, None
    return settings.replay_url, settings.replay_url.replace("http://", "ws://", 1) + "/ws"


def _expires_at(login: datetime) -> datetime:
    ist = login.astimezone(IST)
    day = ist.date() if ist.time() < TOKEN_EXPIRY else ist.date() + timedelta(days=1)
    return datetime.combine(day, TOKEN_EXPIRY, IST).astimezone(UTC)


def load_session(redis_client) -> dict | None:
    """The stored session dict, or None if missing, malformed or expired."""
    raw = redis_client.get(SESSION_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        if datetime.fromisoformat(data["expires_at"]) <= datetime.now(UTC):
            return None
        if not data.get("access_token"):
            return None
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a malformed Kite session in Redis key %s", SESSION_KEY)
        return None
    return data


def store_session(redis_client, api_key: str, access_token: str, user_id: str,
                  login_time: datetime | None = None) -> dict:
    """Save a session (e.g. after the Settings login) and return the stored dict."""
    login_time = login_time or datetime.now(UTC)
    data = {"api_key": api_key, "access_token": access_token, "user_id": user_id,
            "login_time": login_time.astimezone(UTC).isoformat(),
            "expires_at": _expires_at(login_time).isoformat()}
    redis_client.set(SESSION_KEY, json.dumps(data))
    return data


def _replay_login(settings: Settings, rest_root: str) -> tuple[str, str]:
    resp = requests.get(f"{rest_root}/connect/login", params={"api_key": settings.replay_api_key, "v": 3},
                        allow_redirects=False, timeout=10)
    location = resp.headers.get("location", "")
    tokens = parse_qs(urlsplit(location).query).get("request_token")
    if resp.status_code != 302 or not tokens:
        raise KiteLoginRequired(f"replay server at {rest_root} refused the login (HTTP {resp.status_code}); "
                                "check DESK_REPLAY_API_KEY and that the replay server is running")
    kite = KiteConnect(settings.replay_api_key, root=rest_root)
    try:
        data = kite.generate_session(tokens[0], api_secret=settings.replay_api_secret.get_secret_value())
    except kite_errors.TokenException as exc:
        raise KiteLoginRequired(f"replay server refused the session exchange ({exc}); "
                                "check DESK_REPLAY_API_SECRET") from None
    return data["access_token"], data.get("user_id", "")


def ensure_access_token(settings: Settings, redis_client) -> str:
    """A valid access token for the configured market.

    Replay: the stored token if the server still accepts it, else a fresh automatic login
    (stored). Real Kite: the stored token, else :class:`KiteLoginRequired`. Network errors to
    the replay server raise ``requests.ConnectionError``.
    """
    rest_root, _ = market_roots(settings)
    stored = load_session(redis_client)
    if settings.market == "kite":
        if stored and stored.get("api_key") == settings.kite_api_key:
            return stored["access_token"]
        raise KiteLoginRequired("no valid Kite session: log in to Kite from the Settings page "
                                "(Kite access tokens expire daily at 06:00 IST)")
    if stored and stored.get("api_key") == settings.replay_api_key:
        probe = KiteConnect(settings.replay_api_key, access_token=stored["access_token"], root=rest_root)
        try:
            probe.profile()
            return stored["access_token"]
        except kite_errors.TokenException:
            log.info("stored replay session was refused (server restarted?); logging in again")
    access_token, user_id = _replay_login(settings, rest_root)
    store_session(redis_client, settings.replay_api_key, access_token, user_id)
    log.info("logged in to the replay market at %s", rest_root)
    return access_token


def kite_client(settings: Settings, redis_client) -> KiteConnect:
    """A ``KiteConnect`` pointed at the configured market, with a valid access token set."""
    rest_root, _ = market_roots(settings)
    api_key = settings.kite_api_key if settings.market == "kite" else settings.replay_api_key
    token = ensure_access_token(settings, redis_client)
    return KiteConnect(api_key, access_token=token, root=rest_root)
