"""SQL errors translated at the edge, once for every SQL store (``SqlStore``, the trading, scan,
strategy, analysis and auth stores all build their engine with ``make_engine``).

:func:`install_error_translation` hooks SQLAlchemy's ``handle_error`` event of an engine:
a failure to connect, a dropped connection, or a transient server condition becomes
``core.errors.StoreUnavailable`` (a ``TemporaryError``: actors retry, pages say "try again"),
naming the database without its password. Which errors count as transient:

* any error while opening a connection (server down, wrong port, unreadable SQLite file);
* a disconnect SQLAlchemy recognises (``is_disconnect``);
* PostgreSQL SQLSTATE class ``08`` (connection exception), ``57P01``–``57P03`` (server
  shutting down / cannot connect now), ``53300`` (too many connections), ``40001`` and
  ``40P01`` (serialization failure, deadlock: the transaction can be re-run);
* SQLite "database is locked" (another process held the write lock past the busy timeout),
  "unable to open database file", "disk I/O error".

A store that refuses writes (PostgreSQL ``25006`` read-only transaction, e.g. a database set
``default_transaction_read_only`` or a hot standby, ``53100`` disk full; SQLite "attempt to
write a readonly database", "database or disk is full") also becomes ``StoreUnavailable``, with
a message that says so: the write's transaction is rolled back, so nothing is half-written.

Everything else (a bad statement, an ``IntegrityError`` the repositories use as their
"already there" signal) passes through unchanged: a repository turns a unique-key clash a
user can cause into ``ConflictError`` itself (:func:`conflict`).
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext, make_url
from sqlalchemy.exc import IntegrityError

from core.errors import ConflictError, StoreUnavailable

_PG_TRANSIENT = {"57P01", "57P02", "57P03", "53300", "40001", "40P01"}
_SQLITE_TRANSIENT = ("database is locked", "unable to open database file", "disk i/o error")
#: Writes refused by the database itself: (SQLSTATE or SQLite message part) → what to say.
_PG_UNWRITABLE = {"25006": "read-only", "53100": "full (no disk space left)"}
_SQLITE_UNWRITABLE = {"readonly database": "read-only", "database or disk is full": "full (no disk space left)"}


def where(engine: Engine) -> str:
    """The engine's URL without its password (for messages)."""
    return make_url(str(engine.url)).render_as_string(hide_password=True)


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or "")


def is_transient(ctx: ExceptionContext) -> bool:
    """True when the error of ``ctx`` means "the database is unavailable for now"."""
    original = ctx.original_exception
    if ctx.connection is None or ctx.is_disconnect:
        return True
    state = _sqlstate(original)
    if state.startswith("08") or state in _PG_TRANSIENT:
        return True
    return ctx.dialect is not None and ctx.dialect.name == "sqlite" and any(
        m in str(original).lower() for m in _SQLITE_TRANSIENT)


def unwritable(ctx: ExceptionContext) -> str | None:
    """``"read-only"`` or ``"full …"`` when the database refused a write of ``ctx``, else ``None``."""
    original = ctx.original_exception
    found = _PG_UNWRITABLE.get(_sqlstate(original))
    if found is None and ctx.dialect is not None and ctx.dialect.name == "sqlite":
        text = str(original).lower()
        found = next((what for part, what in _SQLITE_UNWRITABLE.items() if part in text), None)
    return found


def _translate(ctx: ExceptionContext) -> None:
    if ctx.is_pre_ping:  # SQLAlchemy's pool pre-ping reconnects by itself: leave it alone
        return
    translated = _store_error(ctx.engine, ctx.original_exception, unwritable(ctx), is_transient(ctx))
    if translated is not None:
        raise translated from ctx.sqlalchemy_exception


def _store_error(engine: Engine, original: BaseException, state: str | None,
                 transient: bool) -> StoreUnavailable | None:
    """The ``StoreUnavailable`` for ``original`` (``state``: ``unwritable``'s answer), or None."""
    text = str(original).strip()
    detail = text.splitlines()[0][:200] if text else ""
    if state is not None:
        return StoreUnavailable(
            f"the store at {where(engine)} is {state} and refused the write "
            f"({type(original).__name__}: {detail}); nothing was saved: make the database "
            "writable (or free space), then try again")
    if transient:
        return StoreUnavailable(
            f"the store at {where(engine)} is unavailable ({type(original).__name__}: "
            f"{detail}); check that the database is running and DATABASE_URL is right, then try again")
    return None


def translate_driver_error(engine: Engine, exc: BaseException, *, disconnected: bool) -> BaseException:
    """What to raise for a PostgreSQL driver error ``exc`` raised outside SQLAlchemy's execution
    (``app.adapters.trading_store.pg_pipeline`` drives psycopg's pipeline itself): the
    ``StoreUnavailable`` the engine's hook would raise (same rules as the module's list;
    ``disconnected``: the connection was lost), else ``exc`` unchanged."""
    state = _sqlstate(exc)
    translated = _store_error(engine, exc, _PG_UNWRITABLE.get(state),
                              disconnected or state.startswith("08") or state in _PG_TRANSIENT)
    if translated is None:
        return exc
    translated.__cause__ = exc
    return translated


def install_error_translation(engine: Engine) -> Engine:
    """Make ``engine`` raise ``StoreUnavailable`` for transient failures (see the module); returns it."""
    if not event.contains(engine, "handle_error", _translate):
        event.listen(engine, "handle_error", _translate)
    return engine


def conflict(exc: IntegrityError, message: str) -> ConflictError:
    """A ``ConflictError`` with ``message`` (what clashed and what to do instead) for ``exc``."""
    err = ConflictError(message)
    err.__cause__ = exc
    return err
