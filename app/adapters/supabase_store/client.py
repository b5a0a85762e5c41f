"""The supabase-py client of the store, its start-up check and error translation.

Wrong configuration fails at construction with a ``SupabaseConfigError`` that names the
setting to fix (``SUPABASE_URL`` or ``SUPABASE_KEY``) or the missing migrations; a Data API
that cannot be reached later raises ``core.errors.StoreUnavailable`` (a ``TemporaryError``:
retry later); a duplicate key is a ``ConflictError``. :func:`run` is the one place httpx's and
postgrest's errors are translated (:func:`explain`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from postgrest.exceptions import APIError

from app.adapters.migrations import DESK_OWNER
from core.errors import ConflictError, DeskError, StoreUnavailable, ValidationError
from core.timeutil import UTC

T = TypeVar("T")

#: Rows per request when reading everything (hosted Supabase answers at most 1000 by default).
PAGE = 1000

_KEY_HELP = ("use the project's service_role (secret) key from Supabase Dashboard → Project Settings → API "
             "for the desk's backend")
_MIGRATE_HELP = "apply the migrations: `python -m app.adapters.migrations <postgres url>` or `supabase db push`"


class SupabaseConfigError(ValidationError):
    """``SUPABASE_URL``/``SUPABASE_KEY`` are wrong or the project lacks the desk's schema."""


def check_settings(url: str | None, key: str | None) -> tuple[str, str]:
    url = (url or "").strip().rstrip("/")
    key = (key or "").strip()
    if not url.startswith(("http://", "https://")):
        raise SupabaseConfigError(f"SUPABASE_URL {url!r} must be the project URL, like https://<ref>.supabase.co")
    if not key:
        raise SupabaseConfigError(f"SUPABASE_KEY is empty; {_KEY_HELP}")
    return url, key


def key_owner(key: str) -> str:
    """The ``owner`` of rows written with ``key``: a user's access token's ``sub``, else
    ``DESK_OWNER`` (the service_role key, or a non-JWT secret key). Reads the token's claims
    without checking its signature: the Data API checks it; this only picks the filter."""
    try:
        part = key.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return DESK_OWNER
    sub = claims.get("sub") if isinstance(claims, dict) and claims.get("role") == "authenticated" else None
    return str(sub) if sub else DESK_OWNER


def explain(exc: Exception, url: str, what: str = "") -> DeskError:
    """A ``DeskError`` whose message says what to fix, for an error of a Data API call."""
    where = f" ({what})" if what else ""
    if isinstance(exc, httpx.TransportError | OSError):
        return StoreUnavailable(f"cannot reach the Supabase Data API at {url}/rest/v1{where}: {exc}; "
                                "check SUPABASE_URL and that the project is up")
    if isinstance(exc, APIError):
        code = str(exc.code or "")
        msg = exc.message or str(exc)
        if code in {"PGRST300", "PGRST301", "PGRST302", "PGRST303"} or "JWT" in msg or "JWS" in msg:
            return SupabaseConfigError(f"SUPABASE_KEY was rejected by {url}{where}: {msg}; {_KEY_HELP}")
        if code == "42501":
            return SupabaseConfigError(f"permission denied{where}: {msg}. SUPABASE_KEY is not allowed to do "
                                       f"this (an anon/publishable key?); {_KEY_HELP}")
        if code in {"PGRST202", "PGRST205", "42P01", "42883", "PGRST204", "42703"}:
            return SupabaseConfigError(f"the Supabase project lacks the desk's schema{where}: {msg}; {_MIGRATE_HELP}")
        if code.isdigit() and len(code) == 3:  # not a PostgREST/Postgres answer: a plain HTTP status
            return SupabaseConfigError(f"{url}/rest/v1 answered HTTP {code}{where}, not the Supabase Data API; "
                                       "check SUPABASE_URL (https://<ref>.supabase.co, no path)")
        if code == "23505":
            return ConflictError(f"duplicate key{where}: {exc.details or msg}; use another name or id")
        if code.startswith("22") or code.startswith("23"):
            return ValidationError(f"the store refused the data{where}: {msg} {exc.details or ''}".strip())
        return StoreUnavailable(f"Supabase Data API error{where}: {code} {msg}")
    return StoreUnavailable(f"Supabase Data API error{where}: {exc}")


def probe(url: str, key: str, timeout: float = 10.0) -> None:
    """One cheap authenticated read; raise ``SupabaseConfigError``/``StoreUnavailable`` saying
    what to fix. Not retried, so a wrong URL fails at once."""
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    try:
        resp = httpx.get(f"{url}/rest/v1/instruments", params={"select": "instrument_token", "limit": "1"},
                         headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise explain(exc, url, "start-up check") from exc
    if resp.status_code == 200:
        return
    try:
        body = resp.json()
        err = APIError(body if isinstance(body, dict) else {"message": str(body), "code": str(resp.status_code)})
        if not err.code:
            err.code = str(resp.status_code)
    except (json.JSONDecodeError, ValueError):
        err = APIError({"message": resp.text[:200], "code": str(resp.status_code)})
    if resp.status_code == 401 and str(err.code) == "401":  # a gateway's 401 (no PostgREST error body)
        raise SupabaseConfigError(f"SUPABASE_KEY was rejected by {url} (HTTP 401: {err.message}); {_KEY_HELP}")
    raise explain(err, url, "start-up check")


def run(url: str, what: str, call: Callable[[], T]) -> T:
    """Run one client call, translating its errors with ``explain``."""
    try:
        return call()
    except (APIError, httpx.HTTPError, OSError) as exc:
        raise explain(exc, url, what) from exc


def paged(url: str, what: str, query: Callable[[], Any], page: int = PAGE) -> Iterator[dict[str, Any]]:
    """Every row of an ordered ``query()`` (a fresh builder each call), ``page`` rows a request."""
    start = 0
    while True:
        rows = run(url, what, lambda: query().range(start, start + page - 1).execute().data) or []
        yield from rows
        if not rows:
            return
        start += len(rows)


def iso(ts: datetime) -> str:
    """UTC ISO-8601 with ``Z`` (no ``+`` to escape in query strings)."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def jsonable(value: Any) -> Any:
    """A JSON-simple copy of a row value (``Decimal`` as string, times as ISO strings)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
