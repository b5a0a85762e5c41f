"""Sign-in rules, pure: password hashing policy, session expiry, and the wrong-password lockout.

No I/O, clock or randomness: the caller passes the salt (``secrets.token_bytes``), the time
and the recorded failures. The service (``app.ops.sign_in``) stores hashes, sessions and
failures.

* **Passwords** are hashed with scrypt (``hashlib.scrypt``, RFC 7914) and a per-user random
  salt. The encoded form carries its own parameters, ``scrypt$<n>$<r>$<p>$<salt b64>$<hash
  b64>``, so the policy can be raised later (:func:`needs_rehash`). Parameters follow OWASP's
  Password Storage Cheat Sheet (scrypt, r=8, p=1) with N=2**15 (32 MiB, ~0.1 s): a trader's
  dashboard on a small PaaS box, not a bank. Verification compares digests in constant time
  (``hmac.compare_digest``).
* **Sessions** end ``idle`` after the last request or ``lifetime`` after sign-in, whichever
  comes first (defaults 60 minutes and 12 hours).
* **Lockout**: ``max_failures`` wrong passwords for one user name within ``window`` lock that
  name for ``lockout`` (defaults 5, 15 minutes, 15 minutes); while locked even the right
  password is refused, so guessing gains nothing.
"""

from __future__ import annotations

import base64
import unicodedata
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import ValidationError

SCHEME = "scrypt"
MIN_PASSWORD_LENGTH = 10
#: Longer inputs are refused before hashing (scrypt cost is per byte of input only mildly,
#: but an unbounded form field is an easy way to burn CPU).
MAX_PASSWORD_LENGTH = 1024
SALT_BYTES = 16


@dataclass(frozen=True)
class HashPolicy:
    """scrypt cost: ``n`` (CPU/memory, a power of two), ``r`` (block size), ``p`` (parallelism),
    ``dklen`` bytes of output. Memory used is ``128 * r * n * p`` bytes."""

    n: int = 2**15
    r: int = 8
    p: int = 1
    dklen: int = 32

    @property
    def maxmem(self) -> int:
        return 128 * self.r * self.n * self.p + 1024 * 1024


DEFAULT_POLICY = HashPolicy()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def check_new_password(password: str, username: str = "") -> None:
    """Raise ``ValidationError`` unless ``password`` may be set: at least
    ``MIN_PASSWORD_LENGTH`` characters, at most ``MAX_PASSWORD_LENGTH``, not the user name."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if username and password.strip().lower() == username.strip().lower():
        raise ValidationError("the password must not be the user name")


def check_username(username: str) -> str:
    """The canonical user name: NFKC-normalised (full-width ``ｔｒａｄｅｒ`` and ``trader`` are one
    name), stripped, lower-case. Raises ``ValidationError`` when it is not text, empty, longer
    than 64 characters or has characters other than letters, digits, ``._@-``. Look-alikes of
    another user's name (a Cyrillic ``а`` for a Latin ``a``) are refused when a user is added
    (``app.ops.user_names``, Unicode TR39 skeletons)."""
    if username is not None and not isinstance(username, str):
        raise ValidationError("a user name is text (letters, digits or . _ @ -)")
    name = unicodedata.normalize("NFKC", username or "").strip().lower()
    if not name:
        raise ValidationError("enter a user name")
    if len(name) > 64 or not all(c.isalnum() or c in "._@-" for c in name):
        raise ValidationError("a user name has at most 64 letters, digits or . _ @ -")
    return name


def hash_password(password: str, *, salt: bytes, policy: HashPolicy = DEFAULT_POLICY) -> str:
    """The encoded scrypt hash of ``password`` with ``salt`` (``SALT_BYTES`` random bytes).

    Raises ``ValidationError`` for a salt shorter than 16 bytes or an over-long password.
    """
    if len(salt) < SALT_BYTES:
        raise ValidationError(f"the salt must have at least {SALT_BYTES} random bytes")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=policy.n, r=policy.r, p=policy.p,
                            dklen=policy.dklen, maxmem=policy.maxmem)
    return f"{SCHEME}${policy.n}${policy.r}${policy.p}${_b64(salt)}${_b64(digest)}"


@dataclass(frozen=True)
class ParsedHash:
    policy: HashPolicy
    salt: bytes
    digest: bytes


def parse_hash(encoded: str) -> ParsedHash:
    """Split an encoded hash. Raises ``ValidationError`` when it is not ``scrypt$n$r$p$salt$hash``
    (the message never contains the hash)."""
    parts = (encoded or "").strip().split("$")
    try:
        if len(parts) != 6 or parts[0] != SCHEME:
            raise ValueError
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or len(salt) < SALT_BYTES or len(digest) < 16:
            raise ValueError
    except (ValueError, binascii.Error):
        raise ValidationError("not a PaperDesk password hash (expected scrypt$n$r$p$salt$hash); "
                              "make one with `python -m app.ops.sign_in hash`") from None
    return ParsedHash(HashPolicy(n=n, r=r, p=p, dklen=len(digest)), salt, digest)


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; the digests are compared in constant time.
    A malformed hash or an over-long password is simply ``False``."""
    try:
        parsed = parse_hash(encoded)
    except ValidationError:
        return False
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return False
    pol = parsed.policy
    candidate = hashlib.scrypt(password.encode("utf-8"), salt=parsed.salt, n=pol.n, r=pol.r, p=pol.p,
                               dklen=pol.dklen, maxmem=pol.maxmem)
    return hmac.compare_digest(candidate, parsed.digest)


def needs_rehash(encoded: str, policy: HashPolicy = DEFAULT_POLICY) -> bool:
    """True when ``encoded`` was made with weaker parameters than ``policy`` (or is malformed)."""
    try:
        pol = parse_hash(encoded).policy
    except ValidationError:
        return True
    return pol.n < policy.n or pol.r < policy.r or pol.p < policy.p or pol.dklen < policy.dklen


# ---- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRule:
    """A session ends ``idle`` after its last use or ``lifetime`` after sign-in."""

    idle: timedelta = timedelta(minutes=60)
    lifetime: timedelta = timedelta(hours=12)

    def __post_init__(self) -> None:
        if self.idle <= timedelta(0) or self.lifetime <= timedelta(0):
            raise ValidationError("session idle timeout and lifetime must be positive")

    def expires_at(self, issued_at: datetime, last_seen: datetime) -> datetime:
        """When a session issued at ``issued_at`` and last used at ``last_seen`` ends."""
        return min(last_seen + self.idle, issued_at + self.lifetime)

    def is_expired(self, issued_at: datetime, last_seen: datetime, now: datetime) -> bool:
        return now >= self.expires_at(issued_at, last_seen)

    def why_expired(self, issued_at: datetime, last_seen: datetime, now: datetime) -> str:
        """A sentence for the sign-in page (empty while the session is valid)."""
        if now >= issued_at + self.lifetime:
            return f"sessions last at most {_span(self.lifetime)}"
        if now >= last_seen + self.idle:
            return f"no activity for {_span(self.idle)}"
        return ""


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# ---- lockout -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockoutRule:
    """``max_failures`` wrong passwords within ``window`` lock the user name for ``lockout``."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValidationError("max_failures must be at least 1")
        if self.window <= timedelta(0) or self.lockout <= timedelta(0):
            raise ValidationError("the lockout window and duration must be positive")


@dataclass(frozen=True)
class LockoutState:
    """``locked`` until ``locked_until``; ``failures`` counted in the window; ``remaining``
    wrong passwords allowed before the lock (0 when locked)."""

    locked: bool
    failures: int
    remaining: int
    locked_until: datetime | None = None

    def retry_after(self, now: datetime) -> timedelta:
        return max(timedelta(0), (self.locked_until - now)) if self.locked_until else timedelta(0)


def lockout_state(failures: Iterable[datetime], now: datetime, rule: LockoutRule = LockoutRule()) -> LockoutState:
    """Whether a user name is locked at ``now`` given the times of its wrong passwords.

    Locked when some run of ``max_failures`` failures fits inside ``window`` and the last of
    them is less than ``lockout`` ago; the lock ends ``lockout`` after that failure.
    """
    times = sorted(t for t in failures if t <= now and now - t < rule.window + rule.lockout)
    locked_until: datetime | None = None
    k = rule.max_failures
    for i in range(k - 1, len(times)):
        if times[i] - times[i - k + 1] < rule.window:
            until = times[i] + rule.lockout
            if until > now and (locked_until is None or until > locked_until):
                locked_until = until
    recent = sum(1 for t in times if now - t < rule.window)
    if locked_until is not None:
        return LockoutState(True, recent, 0, locked_until)
    return LockoutState(False, recent, max(0, k - recent))


def lock_message(state: LockoutState, now: datetime) -> str:
    """"Too many wrong passwords …" with the wait, in whole minutes (at least 1)."""
    minutes = max(1, -(-int(state.retry_after(now).total_seconds()) // 60))
    return (f"Too many wrong passwords: sign-in for this user is locked for {minutes} more "
            f"minute{'s' if minutes != 1 else ''}.")


__all__ = [
    "DEFAULT_POLICY", "HashPolicy", "LockoutRule", "LockoutState", "SessionRule", "check_new_password",
    "check_username", "hash_password", "lock_message", "lockout_state", "needs_rehash", "parse_hash",
    "verify_password",
]
