"""The SQL schema of the desk's store (SQLAlchemy Core, one ``MetaData``).

Tables: ``instruments`` (Kite's master, one dump at a time), ``bars`` (OHLCV candles),
``bar_coverage`` (time ranges already fetched from Kite, so backfills skip them),
``watchlists`` + ``watchlist_names``, ``jobs`` (background work the UI follows) and
``schema_version``. Times are stored in UTC (``UtcDateTime``); money-like instrument fields
(``tick_size``, ``strike``) are exact ``Numeric``.

The schema is created idempotently at start (``metadata.create_all``). Versioned migrations
arrive with the Supabase store; ``SCHEMA_VERSION`` is recorded so they have a starting point.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.types import TypeDecorator

from core.timeutil import UTC, require_aware

#: Bumped by every schema change; the migrations tool will start from this number.
SCHEMA_VERSION = 1


class UtcDateTime(TypeDecorator):
    """A tz-aware datetime stored as UTC; always read back tz-aware in UTC.

    PostgreSQL keeps it in ``timestamptz``; SQLite (no time zones) keeps naive UTC text.
    Binding a naive datetime raises ``core.errors.ValidationError``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        value = require_aware(value).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

instruments = Table(
    "instruments",
    metadata,
    Column("instrument_token", BigInteger, primary_key=True, autoincrement=False),
    Column("exchange_token", BigInteger, nullable=False),
    Column("tradingsymbol", String(64), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("exchange", String(16), nullable=False),
    Column("segment", String(32), nullable=False),
    Column("instrument_type", String(16), nullable=False),
    Column("tick_size", Numeric(18, 6, asdecimal=True), nullable=False),
    Column("lot_size", Integer, nullable=False),
    Column("expiry", Date, nullable=True),
    Column("strike", Numeric(18, 6, asdecimal=True), nullable=False),
    Column("last_price", Float, nullable=False, default=0.0),
    Column("dump_date", Date, nullable=False),
    UniqueConstraint("exchange", "tradingsymbol", name="uq_instruments_exchange_symbol"),
)
Index("ix_instruments_tradingsymbol", instruments.c.tradingsymbol)

bars = Table(
    "bars",
    metadata,
    Column("instrument_token", BigInteger, primary_key=True, autoincrement=False),
    Column("interval", String(16), primary_key=True),
    Column("ts", UtcDateTime, primary_key=True),
    Column("open", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("close", Float, nullable=False),
    Column("volume", BigInteger, nullable=False),
    Column("oi", BigInteger, nullable=False, default=0),
)

bar_coverage = Table(
    "bar_coverage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instrument_token", BigInteger, nullable=False),
    Column("interval", String(16), nullable=False),
    Column("start_ts", UtcDateTime, nullable=False),
    Column("end_ts", UtcDateTime, nullable=False),
)
Index("ix_bar_coverage_key", bar_coverage.c.instrument_token, bar_coverage.c.interval)

watchlist_names = Table(
    "watchlist_names",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

watchlists = Table(
    "watchlists",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("instrument_key", String(96), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("args", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=False, default=""),
    Column("result", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_jobs_created_at", jobs.c.created_at)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UtcDateTime, nullable=False),
)


def create_tables(metadata: MetaData, engine: Engine) -> None:
    """``metadata.create_all(engine)``, idempotent across processes: when another process
    creates the same tables at the same moment (an IntegrityError/ProgrammingError/
    OperationalError from the race), it runs once more, which checks that everything is there."""
    try:
        metadata.create_all(engine)
    except (IntegrityError, ProgrammingError, OperationalError):
        metadata.create_all(engine)
