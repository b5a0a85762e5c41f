"""``SqlStore``: the SQL store on SQLite (default) or PostgreSQL, behind repository attributes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import time

from sqlalchemy import create_engine, event, insert, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, InvalidatePoolError
from sqlalchemy.pool import StaticPool

from app.adapters.store.bars_repo import SqlBarRepository
from app.adapters.store.errors import install_error_translation
from app.adapters.store.instruments_repo import SqlInstrumentRepository
from app.adapters.store.jobs_repo import SqlJobRepository
from app.adapters.store.schema import SCHEMA_VERSION, create_tables, metadata, schema_version
from app.adapters.store.watchlists_repo import SqlWatchlistRepository
from core.errors import StoreUnavailable, ValidationError
from core.timeutil import UTC

#: SQLite waits this long (ms) for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: A pooled PostgreSQL connection idle for longer than this (s) is pinged before it is handed
#: out; one used more recently is handed out as is (a ping is a round trip on every checkout).
PG_PING_AFTER_IDLE_S = 5.0
#: PostgreSQL pool: connections kept open, and extra ones allowed under a burst. The worker
#: runs 4 threads by default (``DESK_WORKER_THREADS``), each holding one connection at a time.
PG_POOL_SIZE, PG_MAX_OVERFLOW = 8, 8


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///path`` (WAL, foreign keys, busy timeout; the folder is
    created), ``sqlite://`` (in memory, one shared connection) or ``postgresql+psycopg://…``.

    The engine raises ``StoreUnavailable`` (a ``TemporaryError``) when the database cannot be
    reached (``app.adapters.store.errors``). Raises ``ValidationError`` for any other URL
    scheme, ``StoreUnavailable`` when the SQLite file's folder cannot be created.
    """
    return install_error_translation(_engine(url))


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"cannot create the SQLite folder {folder} ({exc.strerror}); "
                                       "fix DATABASE_URL or the folder's permissions") from exc
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        else:
            engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":  # plain URL (as a PaaS sets it): use psycopg 3
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        engine = create_engine(url, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW)
        _ping_when_idle(engine, PG_PING_AFTER_IDLE_S)
        return engine
    raise ValidationError(f"unsupported database URL scheme {parsed.drivername!r}; use sqlite:/// or postgresql://")


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Pessimistic disconnect handling, only where it pays: a connection handed back to the
    pool is stamped; on checkout one idle for more than ``idle_s`` seconds is pinged first
    (SQLAlchemy's ``pool_pre_ping`` pings on *every* checkout, a round trip per read). A failed
    ping invalidates the pool, so the checkout (and every later one) gets a fresh connection
    (a server restart). A connection that died within ``idle_s`` of its last use fails its
    statement instead: ``StoreUnavailable`` (``app.adapters.store.errors``), the pool is
    invalidated with it and the caller's retry reconnects."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= idle_s:
            return  # fresh, or used a moment ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(f"pooled connection failed its ping ({exc})") from exc


class SqlStore:
    """The desk's store. Repositories: ``instruments``, ``bars``, ``watchlists``, ``jobs``.

    ``SqlStore("sqlite:///.state/paperdesk.db")`` or ``SqlStore("postgresql+psycopg://…")``.
    The schema is created idempotently on construction (safe if several processes start at
    once). Thread-safe: share one per process.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._create_schema()
        self.instruments = SqlInstrumentRepository(self.engine)
        self.bars = SqlBarRepository(self.engine)
        self.watchlists = SqlWatchlistRepository(self.engine)
        self.jobs = SqlJobRepository(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _create_schema(self) -> None:
        create_tables(metadata, self.engine)
        with self.engine.begin() as conn:
            if conn.execute(select(schema_version.c.version)).first() is not None:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(schema_version).values(version=SCHEMA_VERSION, applied_at=datetime.now(UTC)))
        except IntegrityError:
            pass

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc())).scalar_one())

    def dispose(self) -> None:
        """Close pooled connections (tests, shutdown)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlStore({make_url(self.url).render_as_string(hide_password=True)!r})"
