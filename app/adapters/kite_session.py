"""The desk's Kite session: which market to talk to, and a valid access token for it.

* Replay market (no ``KITE_API_KEY``): the local replay server. When Redis has no usable
  session, log in automatically like a user would: ``GET /connect/login`` → 302 with
  ``request_token`` → ``KiteConnect.generate_session(request_token, api_secret)``.
* Real Kite (``KITE_API_KEY`` set): the token a user obtained by logging in from Settings
  (stored under the same Redis key); without it, :class:`KiteLoginRequired` is raised.

The session lives in Redis key ``desk:kite:session`` as JSON ``{api_key, access_token,
user_id, user_name, login_time, expires_at, status}`` (ISO times, UTC; ``status`` is
``active`` or ``expired``). Kite access tokens expire at 06:00 IST the next morning (Kite
Connect docs, "Session expiry"; ``core.kite_session_rules.session_expiry``). A
``TokenException`` from any call made through :func:`kite_client` marks the session
``expired`` (and reaches the caller as ``KiteSessionExpired``) (the token is dropped, who was logged in is kept for the banner). Every process
reads the key per call, so a new login is picked up without a restart; Redis being down
raises ``RedisUnavailable`` (a ``TemporaryError``). Secrets and tokens are
never logged.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from app.adapters.kite_errors import (FunnelledKite, KiteLoginRequired, KiteSessionExpired, connect,
                                      kite_request)
from app.adapters.redis_client import redis_errors
from app.settings import Settings
from core.kite_session_rules import TOKEN_EXPIRY_IST, session_expiry
from core.timeutil import UTC

log = logging.getLogger(__name__)

SESSION_KEY = "desk:kite:session"
TOKEN_EXPIRY = TOKEN_EXPIRY_IST


def market_roots(settings: Settings) -> tuple[str | None, str | None]:
    """``(rest_root, ws_root)`` for KiteConnect/KiteTicker; ``(None, None)`` means real Kite."""
    if settings.market == "kite":
        return None, None
    return settings.replay_url, settings.replay_url.replace("http://", "ws://", 1) + "/ws"


def _expires_at(login: datetime) -> datetime:
    return session_expiry(login)


def read_session(redis_client) -> dict | None:
    """The stored session dict as is (active, expired or past its expiry), or None if missing
    or malformed. Contains the access token: never log or show it."""
    with redis_errors(redis_client, "Kite session store"):
        raw = redis_client.get(SESSION_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        datetime.fromisoformat(data["expires_at"])
        if not isinstance(data, dict):
            raise TypeError("not an object")
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a malformed Kite session in Redis key %s", SESSION_KEY)
        return None
    return data


def load_session(redis_client, now: datetime | None = None) -> dict | None:
    """The stored session dict, or None if missing, malformed, marked expired or past its
    06:00 IST expiry."""
    data = read_session(redis_client)
    if data is None or data.get("status", "active") != "active" or not data.get("access_token"):
        return None
    if datetime.fromisoformat(data["expires_at"]) <= (now or datetime.now(UTC)):
        return None
    return data


def store_session(redis_client, api_key: str, access_token: str, user_id: str,
                  login_time: datetime | None = None, user_name: str = "") -> dict:
    """Save an active session (e.g. after the Settings login) and return the stored dict.

    ``expires_at`` is the next 06:00 IST after ``login_time`` (default: now).
    """
    login_time = login_time or datetime.now(UTC)
    data = {"api_key": api_key, "access_token": access_token, "user_id": user_id, "user_name": user_name,
            "login_time": login_time.astimezone(UTC).isoformat(),
            "expires_at": _expires_at(login_time).isoformat(), "status": "active"}
    with redis_errors(redis_client, "Kite session store"):
        redis_client.set(SESSION_KEY, json.dumps(data))
    return data


_MARK_EXPIRED = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, data = pcall(cjson.decode, raw)
if not ok or type(data) ~= 'table' then return 0 end
if ARGV[1] ~= '' and data['access_token'] ~= ARGV[1] then return 0 end
if data['status'] == 'expired' then return 0 end
data['status'] = 'expired'
data['access_token'] = ''
data['expired_reason'] = ARGV[2]
data['expired_at'] = ARGV[3]
redis.call('SET', KEYS[1], cjson.encode(data))
return 1
"""


def mark_expired(redis_client, reason: str, access_token: str | None = None) -> bool:
    """Mark the stored session expired (atomically, in Redis) and drop its token.

    With ``access_token`` only that token's session is marked, so a late error from an old
    token never expires a newer login. ``reason`` is shown to the user; it must not contain
    a secret. Returns True if a session was marked.
    """
    with redis_errors(redis_client, "Kite session store"):
        marked = bool(redis_client.eval(_MARK_EXPIRED, 1, SESSION_KEY, access_token or "", reason[:200],
                                        datetime.now(UTC).isoformat()))
    if marked:
        log.warning("Kite session marked expired: %s", reason)
    return marked


def clear_session(redis_client) -> None:
    """Forget the stored session (logout)."""
    with redis_errors(redis_client, "Kite session store"):
        redis_client.delete(SESSION_KEY)


def _replay_login(settings: Settings, rest_root: str) -> tuple[str, str]:
    import requests

    with kite_request("replay login"):
        resp = requests.get(f"{rest_root}/connect/login", params={"api_key": settings.replay_api_key, "v": 3},
                            allow_redirects=False, timeout=10)
    location = resp.headers.get("location", "")
    tokens = parse_qs(urlsplit(location).query).get("request_token")
    if resp.status_code != 302 or not tokens:
        raise KiteLoginRequired(f"replay server at {rest_root} refused the login (HTTP {resp.status_code}); "
                                "check DESK_REPLAY_API_KEY and that the replay server is running")
    kite = connect(settings.replay_api_key, root=rest_root)
    try:
        data = kite.generate_session(tokens[0], api_secret=settings.replay_api_secret.get_secret_value())
    except KiteSessionExpired as exc:
        raise KiteLoginRequired(f"replay server refused the session exchange ({exc}); "
                                "check DESK_REPLAY_API_SECRET") from None
    return data["access_token"], data.get("user_id", "")


def ensure_access_token(settings: Settings, redis_client, auto_login: bool = True) -> str:
    """A valid access token for the configured market.

    Replay: the stored token if the server still accepts it, else (``auto_login``) a fresh
    automatic login (stored). Real Kite, or replay without ``auto_login``: the stored token,
    else :class:`KiteLoginRequired`. Network errors to the replay server raise
    ``KiteUnavailable`` (a ``TemporaryError``).
    """
    rest_root, _ = market_roots(settings)
    stored = load_session(redis_client)
    if settings.market == "kite":
        if stored and stored.get("api_key") == settings.kite_api_key:
            return stored["access_token"]
        raise KiteLoginRequired("no valid Kite session: log in to Kite from the Settings page "
                                "(Kite access tokens expire daily at 06:00 IST)")
    if not auto_login:
        if stored and stored.get("api_key") == settings.replay_api_key:
            return stored["access_token"]
        raise KiteLoginRequired("no valid replay session: log in from the Settings page")
    if stored and stored.get("api_key") == settings.replay_api_key:
        probe = connect(settings.replay_api_key, access_token=stored["access_token"], root=rest_root)
        try:
            probe.profile()
            return stored["access_token"]
        except KiteSessionExpired:
            log.info("stored replay session was refused (server restarted?); logging in again")
    access_token, user_id = _replay_login(settings, rest_root)
    store_session(redis_client, settings.replay_api_key, access_token, user_id)
    log.info("logged in to the replay market at %s", rest_root)
    return access_token


def api_key_of(settings: Settings) -> str:
    """The api_key of the configured market (``KITE_API_KEY`` or the replay's)."""
    return settings.kite_api_key if settings.market == "kite" else settings.replay_api_key


def kite_client(settings: Settings, redis_client) -> FunnelledKite:
    """A funnelled ``KiteConnect`` pointed at the configured market, with a valid access token.

    Its session-expiry hook marks the stored session expired when a call fails with
    ``TokenException`` (HTTP 403), so every page shows the login banner; the caller gets
    ``KiteSessionExpired``. Every call's errors are the desk's (``app.adapters.kite_errors``).
    Raises :class:`KiteLoginRequired` when there is no session.
    """
    rest_root, _ = market_roots(settings)
    api_key = api_key_of(settings)
    token = ensure_access_token(settings, redis_client)
    kite = connect(api_key, access_token=token, root=rest_root)
    kite.set_session_expiry_hook(
        lambda: mark_expired(redis_client, "Kite refused the access token (TokenException)", token))
    return kite
