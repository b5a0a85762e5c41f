"""Per-user API keys for the REST API (``app.api``): created with scopes, shown once, stored
hashed, revocable, rate-limited per key through the shared Redis limiter.

A token looks like ``pdk_<key_id>_<secret>``: ``key_id`` (12 hex characters) is the public
prefix the Settings page lists and the row's primary key; ``secret`` is 32 random bytes
(``secrets.token_urlsafe``). The store keeps only ``sha256(token)``. A plain SHA-256 is enough
here, unlike for passwords (``core.auth`` uses scrypt): the token has 256 bits of entropy, so
no guess list or offline brute force can find a pre-image, and a slow hash would add its cost
(scrypt ≈ 50–100 ms) to every API request. The comparison is constant-time.

Scopes: ``read`` (every GET), ``propose`` (send an order to approvals, submit scans,
analyses and backtests, validate an intent), ``trade`` (place, modify and cancel orders
directly, kill switch and resume), ``admin`` (risk limits and strategy configuration; it
grants every other scope too). A key has any non-empty subset.

Verified keys are remembered per process for ``AUTH_CACHE_S`` seconds (by the token's hash), so
a request costs no store read. A revocation still reaches every process at once: ``revoke``
leaves a notice in Redis (``desk:apikey:revoked:<key_id>``, kept ``REVOKED_NOTICE_S``) that a
remembered key is checked against on each request; should that notice be lost (Redis down while
revoking), the key is refused within ``AUTH_CACHE_S`` seconds, when the store is read again.
``last_used_at`` is written at most every ``TOUCH_EVERY_S`` seconds per key and process.

Rate limit: ``rate_per_minute`` permits in any 60 s window per key (default 600), counted in
Redis (``desk:ratelimit:api:<key_id>``) so every uvicorn worker shares one budget.

Errors: bad input (unknown scope, blank user, limit out of range) raises ``ValidationError``;
a refused token raises ``ApiKeyRefused`` with ``reason`` (``missing`` | ``malformed`` |
``unknown`` | ``revoked``); Redis down raises ``RedisUnavailable``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.adapters.api_key_store import ApiKeyStore
from app.adapters.rate_limit import RateLimit, RedisRateLimiter
from app.adapters.redis_client import REDIS_DOWN, redis_errors
from core.errors import DeskError, ValidationError

log = logging.getLogger(__name__)

SCOPES = ("read", "propose", "trade", "admin")
TOKEN_PREFIX = "pdk"
DEFAULT_RATE_PER_MINUTE = 600
MAX_RATE_PER_MINUTE = 60_000
#: ``last_used_at`` is written at most this often per key and process (a write per request
#: would cost more than the request).
TOUCH_EVERY_S = 30.0
#: A verified key is remembered this many seconds per process (the longest a revocation whose
#: Redis notice was lost can take to reach a process).
AUTH_CACHE_S = 5.0
#: How long the Redis revocation notice is kept (longer than any process remembers a key).
REVOKED_NOTICE_S = 60.0
REVOKED_PREFIX = "desk:apikey:revoked:"
#: At most this many verified keys are remembered per process (the memo is cleared beyond it).
AUTH_CACHE_MAX = 4096


class ApiKeyRefused(DeskError):
    """The request's key is missing, malformed, unknown or revoked (HTTP 401)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret: ``key_id`` (public prefix), ``username`` (owner),
    ``scopes`` (frozenset of ``SCOPES``), ``rate_per_minute``, UTC ``created_at`` /
    ``last_used_at`` / ``revoked_at`` (the last two may be None)."""

    key_id: str
    username: str
    label: str
    scopes: frozenset[str]
    rate_per_minute: int
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def prefix(self) -> str:
        """What the Settings page shows: ``pdk_<key_id>_…``."""
        return f"{TOKEN_PREFIX}_{self.key_id}_…"

    def allows(self, scope: str) -> bool:
        """True when this key carries ``scope`` (``admin`` carries every scope)."""
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key and its ``token``, returned once: show it, never store or log it."""

    key: ApiKey
    token: str

    def __repr__(self) -> str:  # the token must not reach a log through repr()
        return f"CreatedKey(key={self.key!r})"


def parse_scopes(scopes: Iterable[str] | str) -> frozenset[str]:
    """``scopes`` (names, or one space/comma-separated string) as a frozenset of ``SCOPES``.

    Raises ``ValidationError`` for an unknown name or an empty set."""
    items = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    names = frozenset(str(s).strip().lower() for s in items if str(s).strip())
    unknown = sorted(names - set(SCOPES))
    if unknown:
        raise ValidationError(f"unknown API key scope {', '.join(unknown)}; use {', '.join(SCOPES)}")
    if not names:
        raise ValidationError(f"an API key needs at least one scope of {', '.join(SCOPES)}")
    return names


def hash_token(token: str) -> str:
    """sha256 of ``token`` as 64 lower-case hex characters."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _is_api_key(row: dict[str, Any]) -> bool:
    """True for an API key row (the table also holds webhook secrets, scope ``webhook``:
    ``app.trading.webhook_intake``); those are neither listed, revoked nor accepted here."""
    names = set(str(row.get("scopes") or "").split())
    return bool(names) and names <= set(SCOPES)


def _key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(key_id=row["key_id"], username=row["username"], label=row.get("label") or "",
                  scopes=frozenset(str(row["scopes"]).split()), rate_per_minute=int(row["rate_per_minute"]),
                  created_at=row["created_at"], last_used_at=row.get("last_used_at"),
                  revoked_at=row.get("revoked_at"))


def _revoked(key: ApiKey) -> ApiKeyRefused:
    return ApiKeyRefused("revoked", f"API key {key.prefix} was revoked; create a new one on the Settings "
                                    "page")


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValidationError("now must be timezone-aware")
    return now.astimezone(UTC)


class ApiKeyService:
    """Create, list, revoke and check API keys; rate-limit each key through Redis."""

    def __init__(self, store: ApiKeyStore, redis: Any, *, cache_s: float = AUTH_CACHE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``cache_s`` how long a verified key is remembered (0 reads the store every time);
        ``clock`` monotonic seconds (tests pass their own)."""
        self.store = store
        self._redis = redis
        self.cache_s = cache_s
        self._clock = clock
        self._limiters: dict[tuple[str, int], RedisRateLimiter] = {}
        self._touched: dict[str, datetime] = {}
        self._verified: dict[str, tuple[float, ApiKey]] = {}
        self._lock = threading.Lock()

    def create(self, username: str, scopes: Iterable[str] | str, *, now: datetime, label: str = "",
               rate_per_minute: int = DEFAULT_RATE_PER_MINUTE) -> CreatedKey:
        """A new key for ``username`` with ``scopes``; the returned token is shown once.

        Raises ``ValidationError`` for a blank user, an unknown/empty scope, a label over 80
        characters or ``rate_per_minute`` outside 1 – 60,000."""
        user = str(username or "").strip()
        if not user:
            raise ValidationError("an API key needs an owner: sign in first")
        names = parse_scopes(scopes)
        label = str(label or "").strip()
        if len(label) > 80:
            raise ValidationError(f"the key's label is at most 80 characters, was {len(label)}")
        if not 1 <= int(rate_per_minute) <= MAX_RATE_PER_MINUTE:
            raise ValidationError(f"rate_per_minute must be 1 – {MAX_RATE_PER_MINUTE:,}, was {rate_per_minute}")
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        row = dict(key_id=key_id, username=user, label=label, scopes=" ".join(s for s in SCOPES if s in names),
                   token_hash=hash_token(token), rate_per_minute=int(rate_per_minute), created_at=_utc(now),
                   last_used_at=None, revoked_at=None)
        self.store.insert(row)
        return CreatedKey(_key(row), token)

    def keys(self, username: str) -> list[ApiKey]:
        """``username``'s keys, newest first, revoked ones included (not the webhook secrets that
        share the table: scope ``webhook``, ``app.trading.webhook_intake``)."""
        return [_key(r) for r in self.store.for_user(str(username or "").strip()) if _is_api_key(r)]

    def revoke(self, username: str, key_id: str, *, now: datetime) -> bool:
        """Revoke ``username``'s key ``key_id`` from ``now`` on; False when it is not theirs or
        already revoked. The next request with it gets 401 in every process (through the Redis
        notice; within ``AUTH_CACHE_S`` seconds if that notice cannot be left now)."""
        row = self.store.get(str(key_id or "").strip())
        if row is None or not _is_api_key(row):
            return False
        done = self.store.revoke(str(username or "").strip(), row["key_id"], _utc(now))
        if done:
            self._forget(row["key_id"])
            try:
                self._redis.set(REVOKED_PREFIX + row["key_id"], "1", px=int(REVOKED_NOTICE_S * 1000))
            except REDIS_DOWN as exc:  # the store is the truth; remembered copies expire soon
                log.warning("API key %s revoked, but the Redis notice failed (%s): other processes "
                            "refuse it within %.0f s", row["key_id"], exc, self.cache_s)
        return done

    def _forget(self, key_id: str) -> None:
        with self._lock:
            for digest in [d for d, (_, k) in self._verified.items() if k.key_id == key_id]:
                del self._verified[digest]

    def authenticate(self, token: str | None, *, now: datetime) -> ApiKey:
        """The active key ``token`` belongs to (and note its use).

        Raises ``ApiKeyRefused`` (``missing`` | ``malformed`` | ``unknown`` | ``revoked``);
        ``RedisUnavailable`` if Redis is down when a remembered key is checked."""
        key, remembered = self._verify(token)
        if remembered:
            with redis_errors(self._redis, "API key revocations"):
                self._refuse_if_revoked(key, self._redis.exists(REVOKED_PREFIX + key.key_id))
        self._touch(key, _utc(now))
        return key

    def admit(self, token: str | None, scope: str, *, now: datetime) -> tuple[ApiKey, float]:
        """One API request: ``(key, wait)``, the active key of ``token`` and, when it carries
        ``scope``, one rate-limit permit taken (``wait`` 0.0), or the seconds until one may be
        (nothing taken); when it lacks ``scope`` no permit is asked for (``wait`` 0.0). The
        revocation check and the permit share one Redis round trip.

        Raises ``ApiKeyRefused`` as :meth:`authenticate`; ``RedisUnavailable`` if Redis is down."""
        key, remembered = self._verify(token)
        limiter = self._limiter(key) if key.allows(scope) else None
        pipe = self._redis.pipeline(transaction=False)
        if remembered:
            pipe.exists(REVOKED_PREFIX + key.key_id)
        if limiter is not None:
            limiter.queue(pipe)
        with redis_errors(self._redis, f"rate limit api:{key.key_id}"):
            answers = pipe.execute() if len(pipe) else []
        if remembered:
            self._refuse_if_revoked(key, answers[0])
        self._touch(key, _utc(now))
        return key, limiter.wait_of(answers[-1]) if limiter is not None else 0.0

    def _verify(self, token: str | None) -> tuple[ApiKey, bool]:
        """``(key, remembered)``: the key of ``token`` from this process's memo (``remembered``:
        its revocation notice is still to be checked) or from the store (active, checked)."""
        if not token:
            raise ApiKeyRefused("missing", "no API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key'")
        parts = token.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
            raise ApiKeyRefused("malformed", f"the API key is not a PaperDesk key ({TOKEN_PREFIX}_…); "
                                             "create one on the Settings page")
        digest = hash_token(token.strip())
        with self._lock:
            hit = self._verified.get(digest)
        if hit is not None and self._clock() < hit[0]:
            return hit[1], True
        row = self.store.get(parts[1])
        if row is None or not _is_api_key(row) or not hmac.compare_digest(row["token_hash"], digest):
            raise ApiKeyRefused("unknown", "unknown API key; create one on the Settings page")
        key = _key(row)
        if not key.active:
            raise _revoked(key)
        self._remember(digest, key)
        return key, False

    def _refuse_if_revoked(self, key: ApiKey, notice: Any) -> None:
        if notice:
            self._forget(key.key_id)
            raise _revoked(key)

    def _remember(self, digest: str, key: ApiKey) -> None:
        if self.cache_s <= 0:
            return
        with self._lock:
            if len(self._verified) >= AUTH_CACHE_MAX:
                self._verified.clear()
            self._verified[digest] = (self._clock() + self.cache_s, key)

    def _touch(self, key: ApiKey, now: datetime) -> None:
        with self._lock:
            last = self._touched.get(key.key_id) or key.last_used_at
            if last is not None and (now - last).total_seconds() < TOUCH_EVERY_S:
                return
            self._touched[key.key_id] = now
        self.store.touch(key.key_id, now)

    def retry_after(self, key: ApiKey) -> float:
        """Take one request permit for ``key``: 0.0 when granted, else the seconds until the next
        one may be (nothing taken). Raises ``RedisUnavailable`` if Redis is down."""
        return self._limiter(key).try_acquire()

    def _limiter(self, key: ApiKey) -> RedisRateLimiter:
        slot = (key.key_id, key.rate_per_minute)
        limiter = self._limiters.get(slot)
        if limiter is None:
            limiter = RedisRateLimiter(self._redis, RateLimit(f"api:{key.key_id}", key.rate_per_minute, 60.0))
            self._limiters[slot] = limiter
        return limiter


__all__ = ["AUTH_CACHE_S", "ApiKey", "ApiKeyRefused", "ApiKeyService", "CreatedKey", "SCOPES", "hash_token",
           "parse_scopes"]
