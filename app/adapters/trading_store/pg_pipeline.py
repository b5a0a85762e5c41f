"""The worker's two write transactions on PostgreSQL in as few round trips as they allow
(psycopg's pipeline mode: https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html).

``TradingStore`` hands these over on PostgreSQL; the statements are the same as on SQLite, in
one transaction each with one durable ``COMMIT``, but sent in batches without waiting for each
reply:

* **the fill** (``apply_fill``), two round trips: (1) ``BEGIN``, the guard (the optimistic
  order update, ``… RETURNING`` when the caller wants the row, or the fill-exists check of a
  direct fill) and the position read ``FOR UPDATE``; (2) after ``book(position)`` in Python, the
  fill, the ledger entries (one ``executemany``), the position insert or update, the audit row
  and ``COMMIT``. Sent one by one it was eight waits (``BEGIN``, six statements, ``COMMIT``).
* **the order** (``insert_returning``), one round trip: ``BEGIN``, the order ``INSERT …
  RETURNING``, its audit row and ``COMMIT``; was four.
* **an approval's decision and a new approval** (``write``): ``BEGIN``, the approval's guarded
  update (``WHERE status = 'PENDING'``) or insert, the risk decision and audit rows; then
  ``COMMIT`` (or ``ROLLBACK`` when the guard matched nothing): two round trips, one for an
  insert; was five.

On a loaded 2-core box every wait costs a context switch to the server and back (milliseconds
each at a load of 5). ``BEGIN``/``COMMIT`` are explicit statements on a connection in
autocommit (psycopg would otherwise wait for its own ``BEGIN`` before anything else goes out).
Commits stay durable (the server's ``synchronous_commit``). A failure anywhere rolls the
transaction back: a unique key or the fill's guard (a redelivery, a concurrent matcher) makes
the call a no-op; a lost connection or a store that refuses the write raises
``core.errors.StoreUnavailable`` (``app.adapters.store.errors.translate_driver_error``) and the
connection leaves the pool.

Statements are the store's SQLAlchemy Core statements, compiled once for the dialect;
parameters pass through ``Compiled.construct_params`` (column defaults) and the column types'
bind processors (``UtcDateTime`` to UTC, JSON serialised), rows read come back through their
result processors: what SQLAlchemy itself would send and return.

Imported by ``TradingStore`` only on PostgreSQL (psycopg is ~9 MB resident: processes on SQLite
never load it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import insert
from sqlalchemy.engine import Connection, Engine

from app.adapters.store.errors import translate_driver_error
from app.adapters.trading_store import schema as t

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


class _Clash(Exception):
    """A unique key or a guard refused the transaction: it was rolled back, nothing written."""


class PipelinedWrites:
    """``apply_fill`` and ``insert_returning`` on a PostgreSQL ``engine`` (see the module)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")  # BEGIN/COMMIT are ours
        self._dialect = engine.dialect
        self._compiled: dict[Any, _Compiled] = {}
        self._inserts: dict[str, Any] = {}

    def _sql(self, stmt: Any, row: Mapping[str, Any] | None = None) -> _Compiled:
        """``stmt`` (one of the store's pre-built statements) compiled once; an INSERT once per
        set of ``row``'s columns (as SQLAlchemy compiles it for the parameters it is given)."""
        key = stmt if row is None else (stmt, *sorted(row))
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _Compiled(stmt, self._dialect, None if row is None else sorted(row))
        return found

    def _insert(self, table: Any, row: Mapping[str, Any]) -> _Compiled:
        """The INSERT of ``row``'s columns into ``table``, compiled once per set of columns."""
        stmt = self._inserts.get(table.name)
        if stmt is None:
            stmt = self._inserts[table.name] = insert(table)
        return self._sql(stmt, row)

    def _transaction(self, body: Callable[[psycopg.Connection, Connection], Any]) -> Any:
        """``body(raw, sa_conn)`` on a pooled connection in autocommit (it sends its own BEGIN and
        COMMIT); a unique key, or ``body`` raising ``_Clash``, rolls back and returns ``_Clash``;
        other driver errors are translated (see the module)."""
        with self._engine.connect() as sa_conn:
            raw = sa_conn.connection.driver_connection
            try:
                return body(raw, sa_conn)
            except (_Clash, psycopg.errors.IntegrityError):
                self._rollback(raw)
                return _Clash
            except psycopg.Error as exc:
                disconnected = raw.broken or raw.closed
                if disconnected:
                    sa_conn.invalidate()
                else:
                    self._rollback(raw)
                raise translate_driver_error(self._engine, exc, disconnected=disconnected) from None

    def insert_returning(self, stmt: Any, table: Any, row: Row, audit: Row | None) -> Row | None:
        """``stmt`` (an ``INSERT … RETURNING`` of ``table``'s columns) with ``row``, and the audit
        row, in one transaction and one round trip: the row as stored, or None when a unique key
        refused it (nothing written)."""
        ins = self._sql(stmt, row)

        def body(raw: psycopg.Connection, _sa: Connection) -> Row | None:
            with raw.pipeline():
                tx, cur = raw.cursor(), raw.cursor(row_factory=dict_row)
                tx.execute("BEGIN")
                cur.execute(ins.sql, ins.params(row))
                if audit is not None:
                    a = self._insert(t.audit, audit)
                    tx.execute(a.sql, a.params(audit))
                tx.execute("COMMIT")
            return ins.row(cur, table.c, self._dialect)  # the one round trip: the block's Sync

        stored = self._transaction(body)
        return None if stored is _Clash else stored

    def write(self, inserts: list[tuple[Any, list[Row]]], *, guard: Any = None, guard_params: Row | None = None) -> bool:
        """One transaction: ``guard`` (an UPDATE that must match exactly one row; None: none),
        then each ``(table, rows)`` of ``inserts`` (one ``executemany`` per table). Without a
        guard, one round trip; with one, a second for the ``COMMIT`` once its row count is known.
        False, nothing written, when the guard matched no row or a unique key refused a row."""
        g = None if guard is None else self._sql(guard)

        def body(raw: psycopg.Connection, _sa: Connection) -> bool:
            with raw.pipeline() as pipe:
                tx, guard_cur = raw.cursor(), raw.cursor()
                tx.execute("BEGIN")
                if g is not None:
                    guard_cur.execute(g.sql, g.params(guard_params or {}))
                for table, rows in inserts:
                    if rows:
                        ins = self._insert(table, rows[0])
                        tx.executemany(ins.sql, [ins.params(r) for r in rows])
                if g is not None:
                    pipe.sync()  # round trip 1: the guard's row count
                    if guard_cur.rowcount != 1:
                        raise _Clash
                tx.execute("COMMIT")
            return True

        return self._transaction(body) is True

    def apply_fill(self, fill: Row, *, guard: Any, guard_params: Row, returns_order: bool, guard_is_update: bool,
                   position_select: Any, position_update: Any, position_key: Row, book: Book,
                   audit: Row | None) -> tuple[bool, Row | None]:
        """Store ``fill`` as ``TradingStore.apply_fill`` does. ``guard``: the order update (True
        when it matched a row) or, ``guard_is_update`` False, the fill-exists select (a row: a
        replay); ``returns_order``: the update has ``RETURNING``. Returns ``(stored, order row as
        updated or None)``; ``(False, None)`` and nothing written on a replay or a moved-on order."""
        g, pos_sql, dialect = self._sql(guard), self._sql(position_select), self._dialect

        def body(raw: psycopg.Connection, _sa: Connection) -> Row | None:
            with raw.pipeline() as pipe:
                guard_cur, pos_cur = raw.cursor(row_factory=dict_row), raw.cursor(row_factory=dict_row)
                tx = raw.cursor()
                tx.execute("BEGIN")
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
                    raise _Clash
                position, entries, realized = book(current)
                row = {**fill, "realized": realized}
                f = self._insert(t.fills, row)
                tx.execute(f.sql, f.params(row))
                if entries:
                    led = self._insert(t.ledger, entries[0])
                    tx.executemany(led.sql, [led.params(e) for e in entries])
                if current is None:
                    p = self._insert(t.positions, position)
                    tx.execute(p.sql, p.params(position))
                else:
                    p = self._sql(position_update)
                    tx.execute(p.sql, p.params({**{f"v_{k}": v for k, v in position.items()}, **position_key}))
                if audit is not None:
                    a = self._insert(t.audit, audit)
                    tx.execute(a.sql, a.params(audit))
                tx.execute("COMMIT")
            # round trip 2: the pipeline's Sync at the block's end (raises the first error, if any)
            return updated

        updated = self._transaction(body)
        return (False, None) if updated is _Clash else (True, updated)

    @staticmethod
    def _rollback(raw: psycopg.Connection) -> None:
        """End a transaction an error left open (a no-op when none is)."""
        if not raw.closed and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raw.execute("ROLLBACK")
