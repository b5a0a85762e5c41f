"""The fill transaction on PostgreSQL in two round trips (psycopg's pipeline mode).

``TradingStore.apply_fill`` on PostgreSQL runs here: the same statements as on SQLite, in one
transaction with one durable ``COMMIT``, but sent in two batches without waiting for each reply
(psycopg, "Pipeline mode support": https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html):

1. ``BEGIN``, the guard (the optimistic order update, ``… RETURNING`` when the caller wants the
   row, or the fill-exists check of a direct fill) and the position read ``FOR UPDATE``; one
   flush, then the only wait before ``book``: both results;
2. ``book(position)`` (Python), then the fill, the ledger entries (one ``executemany``), the
   position insert or update, the audit row and ``COMMIT``; one Sync, the second wait.

Sent one by one, the same transaction is eight waits (``BEGIN``, six statements, ``COMMIT``):
on a loaded 2-core box each costs a context switch to the server and back, which made the
PostgreSQL ledger about three times slower than SQLite's.

``BEGIN``/``COMMIT`` are explicit statements on a connection in autocommit (psycopg would
otherwise wait for its own ``BEGIN`` before anything else goes out). The commit stays durable
(the server's ``synchronous_commit``). A failure anywhere rolls the transaction back: a unique
key or the guard (a redelivery, a concurrent matcher) makes the call a no-op (False); a lost
connection or a store that refuses the write raises ``core.errors.StoreUnavailable``
(``app.adapters.store.errors.translate_driver_error``), the connection is dropped from the pool.

Statements are the store's SQLAlchemy Core statements, compiled once for the dialect;
parameters pass through ``Compiled.construct_params`` (column defaults) and the column types'
bind processors (``UtcDateTime`` to UTC, JSON serialised), rows read come back through their
result processors: what SQLAlchemy itself would send and return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from app.adapters.store.errors import translate_driver_error
from app.adapters.trading_store import schema as t

if TYPE_CHECKING:  # pragma: no cover
    import psycopg

# psycopg (~9 MB resident) is imported where a fill runs on PostgreSQL, not with this module:
# ``TradingStore`` imports it in every process that reads trades, SQLite included.

Row = dict[str, Any]
Book = Callable[[Row | None], tuple[Row, list[Row], Decimal]]


class _Compiled:
    """One statement compiled for the dialect: its SQL, defaults and parameter processors; the
    result processors of its columns are set from the first reply (they need the type oids)."""

    __slots__ = ("_compiled", "sql", "_bind", "_result")

    def __init__(self, stmt: Any, dialect: Any, column_keys: list[str] | None = None) -> None:
        self._compiled = stmt.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(self._compiled)
        self._bind = [(name, proc) for name, bp in self._compiled.binds.items()
                      if (proc := bp.type.dialect_impl(dialect).bind_processor(dialect)) is not None]
        self._result: list[tuple[str, Callable]] | None = None

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        params = self._compiled.construct_params(values)
        for name, proc in self._bind:
            if name in params:
                params[name] = proc(params[name])
        return params

    def row(self, cursor: psycopg.Cursor, columns: Mapping[str, Any], dialect: Any) -> Row | None:
        """The one row ``cursor`` holds (None: no row), processed as SQLAlchemy would."""
        row = cursor.fetchone()
        if row is None:
            return None
        if self._result is None:
            procs = []
            for d in cursor.description or ():
                column = columns.get(d.name)
                if column is None:
                    continue
                proc = column.type.dialect_impl(dialect).result_processor(dialect, d.type_code)
                if proc is not None:
                    procs.append((d.name, proc))
            self._result = procs
        for name, proc in self._result:
            row[name] = proc(row[name])
        return row


class PipelinedFills:
    """``apply_fill`` on a PostgreSQL ``engine`` in two round trips (see the module)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")  # BEGIN/COMMIT are ours
        self._dialect = engine.dialect
        self._compiled: dict[Any, _Compiled] = {}

    def _sql(self, stmt: Any) -> _Compiled:
        """``stmt`` (one of the store's pre-built statements) compiled, once."""
        found = self._compiled.get(stmt)
        if found is None:
            found = self._compiled[stmt] = _Compiled(stmt, self._dialect)
        return found

    def _insert(self, table: Any, row: Mapping[str, Any]) -> _Compiled:
        """The INSERT of ``row``'s columns into ``table``, compiled once per set of columns."""
        key = (table.name, *sorted(row))
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _Compiled(insert(table), self._dialect, sorted(row))
        return found

    def apply_fill(self, fill: Row, *, guard: Any, guard_params: Row, returns_order: bool, guard_is_update: bool,
                   position_select: Any, position_update: Any, position_key: Row, book: Book,
                   audit: Row | None) -> tuple[bool, Row | None]:
        """Store ``fill`` as ``TradingStore.apply_fill`` does. ``guard``: the order update (True
        when it matched a row) or, ``guard_is_update`` False, the fill-exists select (a row: a
        replay); ``returns_order``: the update has ``RETURNING``. Returns ``(stored, order row as
        updated or None)``; ``(False, None)`` and nothing written on a replay or a moved-on order."""
        import psycopg

        g = self._sql(guard)
        pos_sql = self._sql(position_select)
        with self._engine.connect() as sa_conn:
            raw = sa_conn.connection.driver_connection
            try:
                return self._run(raw, fill, g, guard_params, returns_order, guard_is_update, pos_sql,
                                 position_update, position_key, book, audit)
            except psycopg.errors.IntegrityError:
                self._rollback(raw)
                return False, None
            except psycopg.Error as exc:
                disconnected = raw.broken or raw.closed
                if disconnected:
                    sa_conn.invalidate()
                else:
                    self._rollback(raw)
                raise translate_driver_error(self._engine, exc, disconnected=disconnected) from None

    def _run(self, raw: psycopg.Connection, fill: Row, g: _Compiled, guard_params: Row, returns_order: bool,
             guard_is_update: bool, pos_sql: _Compiled, position_update: Any, position_key: Row, book: Book,
             audit: Row | None) -> tuple[bool, Row | None]:
        from psycopg.rows import dict_row

        dialect = self._dialect
        with raw.pipeline() as pipe:
            guard_cur, pos_cur = raw.cursor(row_factory=dict_row), raw.cursor(row_factory=dict_row)
            guard_cur.execute("BEGIN")
            guard_cur.execute(g.sql, g.params(guard_params))
            pos_cur.execute(pos_sql.sql, pos_sql.params(position_key))
            pipe.sync()  # round trip 1: both results (a Sync inside BEGIN … COMMIT keeps the transaction)
            if guard_is_update and returns_order:
                updated = g.row(guard_cur, t.orders.c, dialect)
                clear = updated is not None
            elif guard_is_update:
                updated, clear = None, guard_cur.rowcount == 1
            else:
                updated, clear = None, guard_cur.fetchone() is None
            current = pos_sql.row(pos_cur, t.positions.c, dialect)
            if not clear:
                guard_cur.execute("ROLLBACK")
                return False, None
            position, entries, realized = book(current)
            cur = raw.cursor()
            row = {**fill, "realized": realized}
            f = self._insert(t.fills, row)
            cur.execute(f.sql, f.params(row))
            if entries:
                led = self._insert(t.ledger, entries[0])
                cur.executemany(led.sql, [led.params(e) for e in entries])
            if current is None:
                p = self._insert(t.positions, position)
                cur.execute(p.sql, p.params(position))
            else:
                p = self._sql(position_update)
                cur.execute(p.sql, p.params({**{f"v_{k}": v for k, v in position.items()}, **position_key}))
            if audit is not None:
                a = self._insert(t.audit, audit)
                cur.execute(a.sql, a.params(audit))
            cur.execute("COMMIT")
        # round trip 2: the pipeline's Sync at the block's end (raises the first error, if any)
        return True, updated

    @staticmethod
    def _rollback(raw: psycopg.Connection) -> None:
        """End a transaction an error left open (a no-op when none is)."""
        import psycopg

        if not raw.closed and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raw.execute("ROLLBACK")
