"""Sign-in for the deployed dashboard: users, password check, sessions in Redis, lockout.

When it applies (``AuthConfig.required``): ``DESK_AUTH=on``, or ``DESK_AUTH=auto`` (the default)
with ``DESK_ENV=prod``. ``DESK_AUTH=off`` (or a dev/test run on auto) is a local single-user
run without sign-in, and the sidebar says so.

Users come from ``DESK_USERS`` (a file of ``name:hash`` lines) when set, else the
``desk_users`` table on the store (``python -m app.ops.sign_in add-user NAME``).

Redis keys (never holding a password or a usable token):

* ``desk:auth:session:<sha256 of the token>``: JSON ``{user, issued_at, last_seen}``; the
  browser session holds the token itself. Sessions end after ``DESK_SESSION_IDLE_MINUTES``
  (60) without use or ``DESK_SESSION_HOURS`` (12) after sign-in (``core.auth.SessionRule``).
* ``desk:auth:handoff:<sha256 of a code>``: the session key a just-signed-in page hands to the
  browser's cookie route (60 s, read once): ``hand_off`` / ``redeem`` below, so the cookie is
  set by an HTTP response (``HttpOnly``) without the token passing through page scripts.
* ``desk:auth:fail:<user>``: sorted set of wrong-password times; ``DESK_SIGNIN_MAX_FAILURES``
  (5) within ``DESK_SIGNIN_LOCKOUT_MINUTES`` (15) lock the name for as long
  (``core.auth.LockoutRule``). Unknown names count too, and take as long to refuse.

Errors: a Redis outage raises ``AuthUnavailable`` (sign-in fails closed with a clear message);
bad input to ``add_user`` raises ``ValidationError``. Logs name users, never passwords,
hashes or tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from app.adapters.auth_store import UserStore
from app.settings import AuthSettings
from app.ops.session_cookie import SessionCookie, cookie_secret
from app.ops.user_names import look_alike
from core import auth as rules
from core.errors import DeskError, ValidationError

log = logging.getLogger(__name__)

SESSION_PREFIX = "desk:auth:session:"
FAIL_PREFIX = "desk:auth:fail:"
HANDOFF_PREFIX = "desk:auth:handoff:"
HANDOFF_SECONDS = 60


class AuthUnavailable(DeskError):
    """Sign-in cannot be checked (Redis or the user store is unreachable)."""


#: Sign-in settings: the ``auth`` section of the one settings object (``settings.auth``).
AuthConfig = AuthSettings


@dataclass(frozen=True)
class SignInResult:
    """``ok`` with ``user``, ``token`` (keep it in the browser session only) and ``expires_at``;
    else ``message`` says why (``locked`` when the lockout refused it)."""

    ok: bool
    message: str
    user: str | None = None
    token: str | None = None
    expires_at: datetime | None = None
    locked: bool = False

    def __repr__(self) -> str:  # the token must not reach a log through repr()
        return f"SignInResult(ok={self.ok}, user={self.user!r}, locked={self.locked}, message={self.message!r})"


@dataclass(frozen=True)
class SessionCheck:
    """``state``: ``active`` (``user``, ``expires_at``), ``expired`` (``message`` says why) or
    ``missing`` (no such session: never signed in, signed out, or forgotten by Redis)."""

    state: Literal["active", "expired", "missing"]
    user: str | None = None
    expires_at: datetime | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "active"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so they take as long as known ones."""
    return rules.hash_password("paperdesk-no-such-user", salt=b"paperdesk-dummy!")


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _token_key(token: str) -> str:
    return SESSION_PREFIX + _sha(token)


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValidationError("now must be timezone-aware")
    return now.astimezone(UTC)


class AuthService:
    """Sign-in, sessions and sign-out. ``redis``: a redis-py client; ``users``: a ``UserStore``;
    ``clock``: the wall clock (tests pass their own)."""

    def __init__(self, config: AuthConfig, users: UserStore, redis: Any,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.users = users
        self.redis = redis
        self.clock = clock
        self._cookie: SessionCookie | None = None

    # ------------------------------------------------------------------ state

    @property
    def required(self) -> bool:
        return self.config.required

    def local_run_notice(self) -> str:
        """The sidebar sentence for a run without sign-in."""
        if self.config.mode == "off":
            return "Sign-in is off (DESK_AUTH=off): anyone who can open this page can trade on it."
        return ("Local single-user run: no sign-in. Set DESK_AUTH=on (or deploy with DESK_ENV=prod) "
                "to require one.")

    def users_configured(self) -> bool:
        try:
            return self.users.count() > 0
        except ValidationError:
            raise
        except Exception as exc:  # noqa: BLE001 - the store is down
            raise AuthUnavailable(f"Sign-in is unavailable: cannot read {self.users.describe()} "
                                  f"({type(exc).__name__})") from None

    def no_users_message(self) -> str:
        return ("No users are set up, so nobody can sign in. On the server run "
                "`python -m app.ops.sign_in add-user NAME`, or set DESK_USERS to a file of "
                "name:hash lines (`python -m app.ops.sign_in hash NAME` prints one).")

    # ------------------------------------------------------------------ sign-in

    def sign_in(self, username: str, password: str, now: datetime | None = None) -> SignInResult:
        """Check ``password`` for ``username``; on success open a session.

        Refusals are results, never exceptions: a blank name, a wrong name or password (same
        message either way, with the tries left), or a locked name (``locked=True``). Raises
        ``AuthUnavailable`` when Redis or the user store is unreachable.
        """
        now = _utc(now or self.clock())
        try:
            name = rules.check_username(username)
        except ValidationError as exc:
            return SignInResult(False, str(exc).capitalize() + ".")
        if not password:
            return SignInResult(False, "Enter the password.")
        rule = self.config.lockout_rule
        try:
            state = rules.lockout_state(self._failures(name, now), now, rule)
            if state.locked:
                log.warning("sign-in refused for %s: locked after %d wrong passwords", name, rule.max_failures)
                return SignInResult(False, rules.lock_message(state, now), locked=True)
            record = self.users.get(name)
        except (AuthUnavailable, ValidationError):
            raise
        except Exception as exc:  # noqa: BLE001 - Redis or the store is down
            raise AuthUnavailable(f"Sign-in is unavailable: {type(exc).__name__} reaching Redis or the "
                                  "user store; try again shortly.") from None
        good = rules.verify_password(password, record.password_hash if record else _dummy_hash())
        if good and record is not None and not record.disabled:
            return self._open(name, now)
        state = self._record_failure(name, now)
        if state.locked:
            log.warning("sign-in refused for %s: wrong password; now locked for %s min", name,
                        self.config.lockout_minutes)
            return SignInResult(False, "Wrong user name or password. " + rules.lock_message(state, now), locked=True)
        log.info("sign-in refused for %s: wrong user name or password (%d left)", name, state.remaining)
        minutes = int(self.config.lockout_minutes)
        return SignInResult(
            False, f"Wrong user name or password. {state.remaining} more wrong "
                   f"{'try' if state.remaining == 1 else 'tries'} and sign-in for this user is locked "
                   f"for {minutes} minutes.")

    def _failures(self, name: str, now: datetime) -> list[datetime]:
        key = FAIL_PREFIX + name
        rule = self.config.lockout_rule
        horizon = (now - rule.window - rule.lockout).timestamp()
        self.redis.zremrangebyscore(key, "-inf", horizon)
        return [datetime.fromtimestamp(score, UTC) for _, score in self.redis.zrange(key, 0, -1, withscores=True)]

    def _record_failure(self, name: str, now: datetime) -> rules.LockoutState:
        key = FAIL_PREFIX + name
        rule = self.config.lockout_rule
        try:
            pipe = self.redis.pipeline()
            pipe.zadd(key, {secrets.token_hex(8): now.timestamp()})
            pipe.expire(key, int((rule.window + rule.lockout).total_seconds()) + 60)
            pipe.execute()
            return rules.lockout_state(self._failures(name, now), now, rule)
        except Exception as exc:  # noqa: BLE001
            raise AuthUnavailable(f"Sign-in is unavailable: {type(exc).__name__} reaching Redis") from None

    def _open(self, name: str, now: datetime, issued: datetime | None = None) -> SignInResult:
        token = secrets.token_urlsafe(32)
        issued = issued or now
        record = {"user": name, "issued_at": issued.isoformat(), "last_seen": now.isoformat()}
        rule = self.config.session_rule
        try:
            pipe = self.redis.pipeline()
            pipe.set(_token_key(token), json.dumps(record), ex=int(rule.lifetime.total_seconds()) + 3600)
            pipe.delete(FAIL_PREFIX + name)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001
            raise AuthUnavailable(f"Sign-in is unavailable: {type(exc).__name__} reaching Redis") from None
        log.info("signed in: %s", name)
        return SignInResult(True, f"Signed in as {name}.", user=name, token=token,
                            expires_at=rule.expires_at(issued, now))

    # ------------------------------------------------------------------ browser cookie

    def cookie(self) -> SessionCookie:
        """The signer of the browser's session cookie (secret shared through Redis). Raises
        ``AuthUnavailable`` when Redis is unreachable."""
        if self._cookie is None:
            try:
                secret = cookie_secret(self.redis)
            except Exception as exc:  # noqa: BLE001
                raise AuthUnavailable(f"Sign-in is unavailable: {type(exc).__name__} reaching Redis") from None
            self._cookie = SessionCookie(secret, self.config.session_rule.lifetime)
        return self._cookie

    def hand_off(self, token: str) -> str:
        """A one-time code (valid 60 s) that ``redeem`` turns into this session's cookie token.
        Redis keeps only the code's hash and the session's key. Raises ``AuthUnavailable``."""
        code = secrets.token_urlsafe(32)
        try:
            self.redis.set(HANDOFF_PREFIX + _sha(code), _token_key(token), ex=HANDOFF_SECONDS)
        except Exception as exc:  # noqa: BLE001
            raise AuthUnavailable(f"Sign-in is unavailable: {type(exc).__name__} reaching Redis") from None
        return code

    def redeem(self, code: str | None, now: datetime | None = None) -> SignInResult:
        """Exchange a ``hand_off`` code (once) for a fresh token of the same session: the page's
        token is revoked and the new one keeps the sign-in time, so the lifetime does not
        restart. A used, unknown or expired code, or an ended session, is refused."""
        now = _utc(now or self.clock())
        refused = SignInResult(False, "This sign-in link has expired: sign in again.")
        if not code or len(code) > 128:
            return refused
        try:
            key = self.redis.getdel(HANDOFF_PREFIX + _sha(code))
            raw = self.redis.get(key) if key else None
            if raw is None:
                return refused
            data = json.loads(raw)
            issued, seen = datetime.fromisoformat(data["issued_at"]), datetime.fromisoformat(data["last_seen"])
            self.redis.delete(key)
        except (ValueError, KeyError, TypeError):
            return refused
        except Exception as exc:  # noqa: BLE001
            raise AuthUnavailable(f"Sign-in is unavailable: {type(exc).__name__} reaching Redis") from None
        if self.config.session_rule.is_expired(issued, seen, now):
            return SignInResult(False, "Your session has expired: sign in again.")
        return self._open(data["user"], now, issued=issued)

    # ------------------------------------------------------------------ sessions

    def session(self, token: str | None, now: datetime | None = None, *, touch: bool = True) -> SessionCheck:
        """The session of ``token`` at ``now``; ``touch`` renews its idle timer. An expired
        session is deleted and reported with the reason. Raises ``AuthUnavailable`` when Redis
        is unreachable."""
        if not token:
            return SessionCheck("missing")
        now = _utc(now or self.clock())
        key = _token_key(token)
        try:
            raw = self.redis.get(key)
            if raw is None:
                return SessionCheck("missing")
            data = json.loads(raw)
            issued, seen = datetime.fromisoformat(data["issued_at"]), datetime.fromisoformat(data["last_seen"])
            rule = self.config.session_rule
            if rule.is_expired(issued, seen, now):
                self.redis.delete(key)
                log.info("session of %s expired", data.get("user"))
                return SessionCheck("expired", user=data.get("user"),
                                    message=f"Your session has expired ({rule.why_expired(issued, seen, now)}): "
                                            "sign in again.")
            if touch and now > seen:
                data["last_seen"] = now.isoformat()
                self.redis.set(key, json.dumps(data), keepttl=True)
                seen = now
            return SessionCheck("active", user=data["user"], expires_at=rule.expires_at(issued, seen))
        except (ValueError, KeyError, TypeError):
            return SessionCheck("missing")
        except Exception as exc:  # noqa: BLE001 - Redis down: fail closed
            raise AuthUnavailable(f"Sign-in is unavailable: {type(exc).__name__} reaching Redis; "
                                  "try again shortly.") from None

    def sign_out(self, token: str | None) -> bool:
        """End the session of ``token``; True when one was open. Never raises for Redis down
        (the browser forgets the token anyway)."""
        if not token:
            return False
        try:
            raw = self.redis.get(_token_key(token))
            gone = bool(self.redis.delete(_token_key(token)))
        except Exception as exc:  # noqa: BLE001
            log.warning("sign-out could not reach Redis (%s); the browser session is cleared", type(exc).__name__)
            return False
        if raw:
            try:
                log.info("signed out: %s", json.loads(raw).get("user"))
            except ValueError:
                pass
        return gone

    # ------------------------------------------------------------------ users

    def add_user(self, username: str, password: str, now: datetime | None = None) -> bool:
        """Create ``username`` or set its password (table store only); True when created.

        The name is NFKC-normalised and lower-cased (``core.auth.check_username``). Raises
        ``ValidationError`` for a bad name, a look-alike of another user's name (same Unicode
        TR39 skeleton, e.g. a Cyrillic ``а`` for a Latin ``a``: ``app.ops.user_names``), a weak
        password, or a read-only users file; nothing is written then."""
        name = rules.check_username(username)
        rules.check_new_password(password, name)
        if not getattr(self.users, "writable", False):
            raise ValidationError(f"users come from {self.users.describe()} (DESK_USERS), which the desk "
                                  "does not write: add a line made by `python -m app.ops.sign_in hash NAME`")
        names = getattr(self.users, "names", None)
        other = look_alike(name, names()) if names is not None else None
        if other is not None:
            raise ValidationError(f"the user name {name!r} looks like the existing user {other!r} (characters "
                                  "from another script that look the same); choose a clearly different name")
        encoded = rules.hash_password(password, salt=secrets.token_bytes(rules.SALT_BYTES))
        created = self.users.set_password(name, encoded, _utc(now or self.clock()))
        log.info("%s user %s", "created" if created else "updated the password of", name)
        return created


def make_hash_line(username: str, password: str) -> str:
    """A ``name:hash`` line for a ``DESK_USERS`` file. Raises ``ValidationError`` like ``add_user``."""
    name = rules.check_username(username)
    rules.check_new_password(password, name)
    return f"{name}:{rules.hash_password(password, salt=secrets.token_bytes(rules.SALT_BYTES))}"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValidationError("the two passwords differ")
    return first


def main(argv: list[str] | None = None, auth: AuthService | Callable[[], AuthService] | None = None) -> int:
    """``python -m app.ops.sign_in add-user NAME | hash NAME | disable NAME [--stdin]``.

    ``auth`` is the desk's ``AuthService`` (or a callable building it; the CLI entry below
    takes the composition root's). ``hash`` needs none."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m app.ops.sign_in", description="PaperDesk sign-in users")
    parser.add_argument("command", choices=["add-user", "hash", "disable"])
    parser.add_argument("username")
    parser.add_argument("--stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)
    try:
        if args.command == "hash":
            print(make_hash_line(args.username, _read_password(args.stdin)))
            return 0
        if auth is None:
            raise ValidationError("no user store: run this as `python -m app.ops.sign_in`")
        svc = auth() if callable(auth) else auth
        if args.command == "disable":
            if not getattr(svc.users, "writable", False):
                raise ValidationError(f"remove the line from {svc.users.describe()} instead")
            done = svc.users.disable(rules.check_username(args.username), datetime.now(UTC))
            print(f"disabled {args.username}" if done else f"no user {args.username}")
            return 0 if done else 1
        created = svc.add_user(args.username, _read_password(args.stdin))
        print(f"{'created' if created else 'updated'} user {rules.check_username(args.username)}")
        return 0
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _cli() -> int:  # pragma: no cover - the process entry point
    """The CLI process: the user store and Redis of this desk's composition root."""
    from app.container import services

    return main(auth=lambda: services().auth)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_cli())


__all__ = ["AuthConfig", "AuthService", "AuthUnavailable", "SessionCheck", "SignInResult", "make_hash_line"]
