"""The domain's error hierarchy.

Three outcomes (DESIGN.md §3): bad input raises ``ValidationError`` with a message that says
what to fix; a business refusal is a returned decision with reason codes (never raised); a
no-op is reported as such. ``DataError`` marks bad data from outside (a corrupt CSV row, a
malformed tick frame) that a process logs and skips without dying.

Errors from outside are translated at the edge, by the adapter that talks to the outside
(the Kite request funnel ``app.adapters.kite_errors``, the SQL, Supabase and Redis adapters),
into these classes, so the UI and the actors catch the desk's types only:

* ``TemporaryError``: worth retrying later (Kite down or rate-limited, the store or Redis
  unreachable). Actors retry it with backoff; pages show "try again".
* ``ValidationError`` (and its ``ConflictError``): never retried; the message says what to fix.
* any other ``DeskError``: a permanent failure (e.g. no Kite login); not retried either.
"""

from __future__ import annotations


class DeskError(Exception):
    """Base class of every error PaperDesk raises on purpose."""


class ValidationError(DeskError, ValueError):
    """Bad input. The message says what was wrong and what to send instead."""


class ConflictError(ValidationError):
    """The input clashes with what is stored (a unique key already taken); nothing was written."""


class DataError(DeskError):
    """Malformed data from outside (file row, wire frame); the caller logs it and skips it."""


class TemporaryError(DeskError):
    """Something outside is unavailable for now (network, rate limit, server down): retry later.

    The one type actors retry and pages report as "try again"; the message names the
    service and what to check.
    """


class StoreUnavailable(TemporaryError):
    """The database (SQLite file, PostgreSQL or Supabase) cannot be reached or is busy."""


class RedisUnavailable(TemporaryError):
    """Redis cannot be reached (connection refused, timeout). The message names the server."""


def is_retryable(exc: BaseException) -> bool:
    """True for a ``TemporaryError`` or an error the desk did not raise on purpose (a bug or a
    time limit: a retry may succeed); False for every other ``DeskError`` (bad input, a
    conflict, a missing login), which a retry cannot fix."""
    return isinstance(exc, TemporaryError) or not isinstance(exc, DeskError)
