"""Webhook intake: TradingView and Chartink alerts → **pending approvals** (never orders).

``WebhookIntake.receive(source, body, secret=…, query=…)`` does, in order, and writes nothing
until every check has passed:

1. size: a body over ``core.webhooks.MAX_BODY_BYTES`` is ``PayloadTooLarge`` (HTTP 413);
2. the secret (URL path or ``X-Desk-Webhook-Secret``) names its owner, or ``SecretRefused``
   (401: missing, malformed, unknown, revoked); one permit of the secret's own rate limit
   (``rate_per_minute``, default 120, counted in the shared Redis limiter) or ``RateLimited`` (429);
3. ``core.webhooks`` parses the JSON (``MalformedPayload`` 400, ``FieldError`` 422);
4. every symbol resolves in the instrument master, or ``UnknownSymbol`` (404, naming it);
   each becomes an ``OrderIntent`` checked by ``core.orders.validate_intent`` (lot, tick,
   index: 422);
5. the delivery's dedupe key is claimed in Redis (``SET NX`` with a TTL, default 10 min, per
   owner): a repeat inside the window returns ``duplicate=True`` and creates nothing;
6. each intent is proposed through ``TradingService.propose`` (the strategies' path: risk
   preview, audit ``propose``), all with one trace id, source ``webhook:<source>``, the alert
   (fenced as untrusted text) as the reason; then one audit row ``webhook_intake`` with the
   owner as actor. If the first proposal fails (store down), the dedupe claim is released so
   the sender's retry is not mistaken for a duplicate; if a later one fails, the claim stays
   (a retry must not propose the first ones twice) and ``webhook_intake_partial`` records which
   were proposed.

Secrets (``WebhookSecrets``) live hashed in the API key table (``app.adapters.api_key_store``)
as rows with scope ``webhook``: one active secret per user; rotating revokes the old one. A
secret ``pdw_<key_id>_<random>`` is not an API key (those start ``pdk_``) and carries no API
scope, so a leaked webhook URL can only propose approvals, which a trader still has to approve.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets as _secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from app.adapters.redis_client import redis_errors
from app.trading.rows import audit_row
from app.trading.views import ApprovalView
from core import webhooks as wh
from core.errors import DeskError, ValidationError
from core.models import Instrument
from core.orders import OrderIntent, price_from_float, validate_intent
from core.timeutil import require_aware, to_ist

if TYPE_CHECKING:  # pragma: no cover
    import redis

    from app.adapters.api_key_store import ApiKeyStore
    from app.market.instruments import InstrumentService
    from app.trading.service import TradingService

log = logging.getLogger("paperdesk.webhooks")

SECRET_PREFIX = "pdw"
SECRET_SCOPE = "webhook"
SECRET_LABEL = "webhook secret"
#: Default duplicate window, seconds.
DEDUPE_SECONDS = 600
#: Redis key prefix of the duplicate claims.
DEDUPE_PREFIX = "desk:webhook:seen"
#: Default deliveries per minute per secret.
RATE_PER_MINUTE = 120


class SecretRefused(DeskError):
    """The webhook's secret is missing, malformed, unknown or revoked (HTTP 401); ``reason`` says which."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RateLimited(DeskError):
    """The secret used up its deliveries per minute (HTTP 429); retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float, message: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownSymbol(ValidationError):
    """A symbol of the alert is not in the instrument master (HTTP 404); ``symbol`` names it."""

    def __init__(self, symbol: str, field: str, message: str) -> None:
        super().__init__(message)
        self.symbol, self.field = symbol, field


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    """A user's webhook secret without the secret: ``key_id`` (public), ``username``, UTC times."""

    key_id: str
    username: str
    created_at: datetime
    revoked_at: datetime | None = None
    rate_per_minute: int = 120

    @property
    def prefix(self) -> str:
        return f"{SECRET_PREFIX}_{self.key_id}_…"


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A freshly generated secret: ``secret`` is shown once (the URLs), never stored or logged."""

    info: WebhookSecret
    secret: str

    def __repr__(self) -> str:
        return f"NewSecret(info={self.info!r})"


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What one delivery did: ``approvals`` proposed (empty for a duplicate), its ``trace_id``
    (the first delivery's for a duplicate), the secret's ``owner`` and the ``dedupe_key``."""

    source: str
    owner: str
    trace_id: str
    duplicate: bool
    dedupe_key: str
    approvals: tuple[ApprovalView, ...] = ()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _info(row: Mapping[str, Any]) -> WebhookSecret:
    return WebhookSecret(row["key_id"], str(row["username"]), row["created_at"], row.get("revoked_at"),
                         int(row.get("rate_per_minute") or RATE_PER_MINUTE))


class WebhookSecrets:
    """One active webhook secret per user, hashed in the API key table (scope ``webhook``)."""

    def __init__(self, store: ApiKeyStore) -> None:
        self.store = store

    def rotate(self, username: str, *, now: datetime, rate_per_minute: int = RATE_PER_MINUTE) -> NewSecret:
        """Revoke ``username``'s current secret (if any) and generate a new one allowing
        ``rate_per_minute`` deliveries; the old URLs stop working at once. Raises
        ``ValidationError`` for a blank user, a naive ``now`` or a rate outside 1 – 6,000."""
        user = str(username or "").strip()
        if not user:
            raise ValidationError("a webhook secret needs an owner: sign in first")
        if not 1 <= int(rate_per_minute) <= 6000:
            raise ValidationError(f"rate_per_minute must be 1 – 6,000 deliveries, was {rate_per_minute}")
        at = require_aware(now, "now").astimezone(UTC)
        key_id = _secrets.token_hex(6)
        secret = f"{SECRET_PREFIX}_{key_id}_{_secrets.token_urlsafe(24)}"
        for old in self._rows(user):
            if old["revoked_at"] is None:
                self.store.revoke(user, old["key_id"], at)
        self.store.insert(dict(key_id=key_id, username=user, label=SECRET_LABEL, scopes=SECRET_SCOPE,
                               token_hash=_hash(secret), rate_per_minute=int(rate_per_minute), created_at=at,
                               last_used_at=None, revoked_at=None))
        return NewSecret(WebhookSecret(key_id, user, at, rate_per_minute=int(rate_per_minute)), secret)

    def current(self, username: str) -> WebhookSecret | None:
        """``username``'s active secret (without the secret), or ``None``."""
        for row in self._rows(str(username or "").strip()):
            if row["revoked_at"] is None:
                return _info(row)
        return None

    def revoke(self, username: str, *, now: datetime) -> bool:
        """Revoke ``username``'s active secret; False when there is none."""
        cur = self.current(username)
        return bool(cur) and self.store.revoke(cur.username, cur.key_id, require_aware(now, "now").astimezone(UTC))

    def owner_of(self, secret: str | None) -> str:
        """The user whose active secret ``secret`` is. Raises ``SecretRefused``."""
        return self.check(secret).username

    def check(self, secret: str | None) -> WebhookSecret:
        """The active secret ``secret`` is (owner, key id, rate). Raises ``SecretRefused``."""
        if not secret or not secret.strip():
            raise SecretRefused("missing", "no webhook secret: put it in the URL "
                                           "(/api/v1/webhooks/<source>/<secret>) or the X-Desk-Webhook-Secret header")
        secret = secret.strip()
        parts = secret.split("_", 2)
        if len(parts) != 3 or parts[0] != SECRET_PREFIX or not parts[1] or not parts[2]:
            raise SecretRefused("malformed", f"not a PaperDesk webhook secret ({SECRET_PREFIX}_…); "
                                             "copy the URL from the Settings page")
        row = self.store.get(parts[1])
        if (row is None or row.get("scopes") != SECRET_SCOPE
                or not hmac.compare_digest(str(row["token_hash"]), _hash(secret))):
            raise SecretRefused("unknown", "unknown webhook secret; copy the URL from the Settings page")
        if row["revoked_at"] is not None:
            raise SecretRefused("revoked", f"webhook secret {SECRET_PREFIX}_{parts[1]}_… was rotated or revoked; "
                                           "copy the new URL from the Settings page")
        return _info(row)

    def _rows(self, user: str) -> list[dict[str, Any]]:
        return [r for r in self.store.for_user(user) if r.get("scopes") == SECRET_SCOPE] if user else []


class WebhookIntake:
    """Turn webhook deliveries into pending approvals (see the module docstring).

    Parameters
    ----------
    trading : TradingService
        ``propose`` (the approvals path), ``ticks`` (LTP when the alert has no price) and
        ``store.add_audit``.
    instruments : InstrumentService
        ``find`` for symbol look-ups.
    secrets : WebhookSecrets
        Who a secret belongs to.
    redis : redis.Redis
        The duplicate claims (``SET NX EX``).
    clock : callable
        Market time now (tz-aware): the approvals' ``created_at`` and risk preview time.
    limiter : callable, optional
        ``limiter(name, per_minute)`` → an object with ``try_acquire() -> float`` (seconds to
        wait, 0 when granted): ``app.adapters.rate_limit.RedisRateLimiter``. ``None``: no limit.
    dedupe_seconds : int
        The duplicate window (default 600 s).
    """

    def __init__(self, trading: TradingService, instruments: InstrumentService, secrets: WebhookSecrets,
                 redis: redis.Redis, *, clock: Callable[[], datetime], dedupe_seconds: int = DEDUPE_SECONDS,
                 limiter: Callable[[str, int], Any] | None = None) -> None:
        if dedupe_seconds <= 0:
            raise ValidationError(f"dedupe_seconds must be positive, was {dedupe_seconds}")
        self.trading, self.instruments, self.secrets = trading, instruments, secrets
        self._redis, self._clock, self.dedupe_seconds = redis, clock, int(dedupe_seconds)
        self._limiter, self._limiters = limiter, {}

    def receive(self, source: str, body: bytes, *, secret: str | None,
                query: Mapping[str, str] | None = None) -> IntakeResult:
        """Handle one delivery from ``source`` (``tradingview`` | ``chartink``).

        ``body`` the raw request body; ``secret`` from the URL path or header; ``query`` the
        URL's query string (Chartink's side/quantity/product; TradingView takes none).

        Raises (nothing written): ``PayloadTooLarge``, ``SecretRefused``, ``RateLimited``, ``MalformedPayload``,
        ``FieldError``, ``UnknownSymbol``, ``ValidationError`` (lot size, tick, index, no price),
        ``RedisUnavailable`` / ``StoreUnavailable``.
        """
        if source not in wh.SOURCES:
            raise ValidationError(f"unknown webhook source {source!r}; use {', '.join(wh.SOURCES)}")
        if len(body) > wh.MAX_BODY_BYTES:
            raise wh.PayloadTooLarge(f"body is {len(body):,} bytes; the limit is {wh.MAX_BODY_BYTES:,} bytes")
        info = self.secrets.check(secret)
        owner = info.username
        self._take_permit(info)
        payload = wh.decode_body(body)
        query = dict(query or {})
        if source == "tradingview":
            if query:
                raise wh.FieldError(sorted(query)[0], "the TradingView URL takes no query parameters; "
                                                      "put everything in the alert's JSON")
            delivery = wh.parse_tradingview(payload)
        else:
            delivery = wh.parse_chartink(payload, wh.parse_chartink_defaults(query))
        now = require_aware(self._clock(), "clock()")
        trace = f"T-{uuid.uuid4().hex[:20]}"
        planned = [self._plan(a, trace, now, source) for a in delivery.intents]
        claim = f"{DEDUPE_PREFIX}:{owner}:{delivery.dedupe_key}"
        with redis_errors(self._redis, "webhook duplicate check"):
            claimed = self._redis.set(claim, trace, nx=True, ex=self.dedupe_seconds)
            first = None if claimed else self._redis.get(claim)
        if not claimed:
            first_trace = first.decode() if isinstance(first, bytes) else str(first or "")
            log.info("webhook %s from %s: duplicate of %s, nothing created", source, owner, first_trace)
            return IntakeResult(source, owner, first_trace, True, delivery.dedupe_key)
        done: list[ApprovalView] = []
        try:
            for alert, intent, price in planned:
                done.append(self.trading.propose(intent, signal_price=price, reason=alert.reason,
                                                 source=f"webhook:{source}", now=now))
        except BaseException as exc:
            if not done:  # nothing written: the sender's retry is a new delivery
                with redis_errors(self._redis, "webhook duplicate release"):
                    self._redis.delete(claim)
            else:  # some approvals exist: keep the claim (a retry must not propose them twice), say so
                log.error("webhook %s from %s: %d of %d approval(s) proposed before %s; trace %s", source, owner,
                          len(done), len(planned), type(exc).__name__, trace)
                self.trading.store.add_audit(audit_row(
                    trace, at=now, actor=owner, action="webhook_intake_partial", source=source,
                    dedupe_key=delivery.dedupe_key, approvals=[v.approval_id for v in done],
                    error=f"{type(exc).__name__}: {exc}"[:300]))
            raise
        views = tuple(done)
        self.trading.store.add_audit(audit_row(
            trace, at=now, actor=owner, action="webhook_intake", source=source, label=delivery.label,
            dedupe_key=delivery.dedupe_key, approvals=[v.approval_id for v in views],
            symbols=[v.tradingsymbol for v in views]))
        log.info("webhook %s from %s: %d approval(s) proposed, trace %s", source, owner, len(views), trace)
        return IntakeResult(source, owner, trace, False, delivery.dedupe_key, views)

    # ------------------------------------------------------------------ helpers

    def _take_permit(self, info: WebhookSecret) -> None:
        if self._limiter is None:
            return
        slot = (info.key_id, info.rate_per_minute)
        limiter = self._limiters.get(slot)
        if limiter is None:
            limiter = self._limiters[slot] = self._limiter(f"webhook:{info.key_id}", info.rate_per_minute)
        wait = limiter.try_acquire()
        if wait > 0:
            raise RateLimited(wait, f"webhook secret {info.prefix} is limited to {info.rate_per_minute} deliveries "
                                    f"a minute; retry in {wait:.1f} s")

    def _plan(self, alert: wh.AlertIntent, trace: str, now: datetime,
              source: str) -> tuple[wh.AlertIntent, OrderIntent, Decimal]:
        inst = self._instrument(alert, "symbol" if source == "tradingview" else "stocks")
        intent = OrderIntent(
            instrument_token=inst.instrument_token, tradingsymbol=inst.tradingsymbol, side=alert.side,
            quantity=alert.quantity, product=alert.product, order_type=alert.order_type, price=alert.price,
            trigger_price=alert.trigger_price, stop_loss=alert.stop_loss, target=alert.target,
            strategy=alert.strategy, trace_id=trace,
        )
        validate_intent(intent, inst, on=to_ist(now).date())
        price = alert.signal_price if alert.signal_price is not None else self._ltp(inst)
        if price is None:
            field = "price" if source == "tradingview" else "trigger_prices"
            raise wh.FieldError(field, f"the alert has no price and no LTP is cached for {inst.exchange}:"
                                       f"{inst.tradingsymbol}; send the price the alert fired at")
        return alert, replace(intent, trace_id=trace), price

    def _instrument(self, alert: wh.AlertIntent, field: str) -> Instrument:
        for key in wh.symbol_candidates(alert.exchange, alert.symbol):
            inst = self.instruments.find(key)
            if inst is not None:
                return inst
        close = self.instruments.suggestions(alert.key)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownSymbol(alert.key, field, f"unknown symbol {alert.key} (not in the instrument master){hint}; "
                                              "nothing was proposed")

    def _ltp(self, inst: Instrument) -> Decimal | None:
        cached = self.trading.ticks.latest([inst.instrument_token]).get(inst.instrument_token)
        if cached is None or not cached.tick.last_price or cached.tick.last_price <= 0:
            return None
        return price_from_float(cached.tick.last_price)


__all__ = ["DEDUPE_SECONDS", "IntakeResult", "NewSecret", "RateLimited", "SecretRefused", "UnknownSymbol", "WebhookIntake",
           "WebhookSecret", "WebhookSecrets"]
