"""``TradingStore``: the paper desk's rows on the engine it is given (SQLite or PostgreSQL).

Rows go in and out as plain dicts keyed by column name (``Decimal`` money, tz-aware UTC times),
so the service layer owns the domain conversion. Each public write method is one transaction;
reads are single statements, on PostgreSQL in autocommit (no BEGIN/ROLLBACK round trips). On
PostgreSQL the hot writes (an approval, its decision, the order, the fill) are pipelined:
their statements go out together, one or two round trips each (``pg_pipeline``).
Concurrency: the fill transaction starts with a *write* (the optimistic order update, or the
fill insert), which on SQLite takes the write lock before anything is read and on PostgreSQL
row-locks the order; the position row is then read ``FOR UPDATE``. Unique keys turn a replay
into a no-op (see ``schema``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from app.adapters.trading_store import schema as t

Row = dict[str, Any]
#: The fill columns ``fill_sums`` adds up.
_FILL_SUM_COLUMNS = ("realized", "brokerage", "stt", "exchange_txn", "sebi", "ipft", "stamp", "square_off_fee", "gst")
ZERO = Decimal("0.00")
DESK = "desk"


class Conflict(Exception):
    """Raised inside a transaction to roll it back as a no-op (someone else got there first)."""


def _rows(result) -> list[Row]:
    return [dict(r._mapping) for r in result]


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the nullable columns of ``schema`` that an existing database lacks (a table created
    by an older release; ``create_all`` never alters a table). SQLite and PostgreSQL alike:
    ``ALTER TABLE <table> ADD COLUMN <column> <type>``; on PostgreSQL ``IF NOT EXISTS`` makes two
    processes starting at once harmless. Returns ``"table.column"`` for each column added.

    Raises ``ValidationError`` for a missing NOT NULL column: that needs a hand-written
    migration with a default (``supabase/migrations``, see ``app.adapters.migrations``)."""
    from sqlalchemy import inspect, text
    from sqlalchemy.schema import CreateColumn

    from core.errors import ValidationError

    insp = inspect(engine)
    pg = engine.dialect.name == "postgresql"
    added: list[str] = []
    for table in t.metadata.sorted_tables:
        if not insp.has_table(table.name):
            continue
        have = {c["name"] for c in insp.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable:
                raise ValidationError(f"{table.name}.{column.name} is missing and NOT NULL: apply the "
                                      "migration that adds it with a default (python -m app.adapters.migrations)")
            ddl = str(CreateColumn(column).compile(dialect=engine.dialect))
            exists = "IF NOT EXISTS " if pg else ""
            with engine.begin() as conn:
                try:
                    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {exists}{ddl}"))
                except OperationalError:  # SQLite: another process added it at the same moment
                    if column.name not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
                        raise
            added.append(f"{table.name}.{column.name}")
    return added


class TradingStore:
    """Approvals, risk decisions, orders, fills, ledger, positions, audit, limits, desk state.

    ``TradingStore(engine)`` creates its tables idempotently (safe when several processes
    start at once). Thread-safe: share one per process.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            t.metadata.create_all(engine)
        except (IntegrityError, ProgrammingError, OperationalError):
            t.metadata.create_all(engine)  # another process created them at the same moment
        add_missing_columns(engine)
        self._pg = engine.dialect.name == "postgresql"
        # Reads on PostgreSQL run in autocommit: a single SELECT needs no BEGIN/ROLLBACK round
        # trips around it (and psycopg keeps its prepared statements, which a ROLLBACK clears).
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT") if self._pg else engine
        self._stmt_cache: dict = {}
        #: the connection a ``reading()`` block holds, per thread
        self._held = threading.local()
        self._write_lock = None if self._pg else threading.RLock()
        #: PostgreSQL's order and fill transactions pipelined (``pg_pipeline``); None on SQLite
        self._pipelined = None
        if self._pg:  # imported here: SQLite processes never load psycopg (nor the PG dialect)
            from sqlalchemy.dialects.postgresql import insert as insert_new

            from app.adapters.trading_store.pg_pipeline import PipelinedWrites

            self._pipelined = PipelinedWrites(engine)
        else:
            from sqlalchemy.dialects.sqlite import insert as insert_new
        #: ``INSERT … ON CONFLICT DO NOTHING`` builder of this dialect
        self._insert_new = insert_new
        pos_key = and_(t.positions.c.instrument_token == bindparam("k_token"),
                       t.positions.c.product == bindparam("k_product"))
        self._position_select = self._lock(select(t.positions).where(pos_key))
        self._position_update = update(t.positions).where(pos_key).values(
            {c.name: bindparam(f"v_{c.name}") for c in t.positions.columns})
        self._fill_exists = select(t.fills.c.fill_id).where(t.fills.c.fill_id == bindparam("k"))
        self._order_insert = insert(t.orders).returning(*t.orders.c)
        self._order_precheck = select(
            select(t.risk_decisions.c.approved).where(t.risk_decisions.c.decision_id == bindparam("k_decision"))
            .scalar_subquery().label("approved"),
            exists().where(or_(t.orders.c.order_id == bindparam("k_order"),
                               t.orders.c.approval_id == bindparam("k_approval"))).label("exists"))
        self._positions_of = select(t.positions).where(t.positions.c.instrument_token == bindparam("k_token"))
        self._fill_sums = select(
            *[func.sum(t.fills.c[c]).label(c) for c in _FILL_SUM_COLUMNS],
            func.sum(case((t.fills.c.product == "MIS", t.fills.c.realized), else_=0)).label("mis_realized"),
        ).where(t.fills.c.day == bindparam("k_day"))
        # the gatekeeper's reads on every approve and fill, built once (building a statement costs
        # more CPU than running it; SQLAlchemy caches the compiled form of a reused one)
        by_id = lambda table, col: select(table).where(table.c[col] == bindparam("k"))  # noqa: E731
        self._approval_by_id = by_id(t.approvals, "approval_id")
        self._order_by_id = by_id(t.orders, "order_id")
        self._order_by_approval = by_id(t.orders, "approval_id")
        self._desk_row = by_id(t.desk_state, "key")
        self._approved_decision = (
            select(t.risk_decisions)
            .where(and_(t.risk_decisions.c.approval_id == bindparam("k"), t.risk_decisions.c.approved.is_(True),
                        t.risk_decisions.c.stage != "preview"))
            .order_by(t.risk_decisions.c.at.desc()).limit(1))
        self._latest_limits = select(t.risk_limits).order_by(t.risk_limits.c.version.desc()).limit(1)
        self._all_positions = select(t.positions).order_by(t.positions.c.instrument_token, t.positions.c.product)
        sums = select(t.ledger.c.kind, func.sum(t.ledger.c.amount)).group_by(t.ledger.c.kind)
        self._ledger_sums, self._ledger_sums_of_day = sums, sums.where(t.ledger.c.day == bindparam("k_day"))
        self._ledger_sums_both = select(  # every day's and one day's sums by kind in one pass
            t.ledger.c.kind, func.sum(t.ledger.c.amount),
            func.sum(case((t.ledger.c.day == bindparam("k_day"), t.ledger.c.amount), else_=0)),
            func.count(case((t.ledger.c.day == bindparam("k_day"), 1)))).group_by(t.ledger.c.kind)
        open_status = t.orders.c.status.in_(["OPEN", "TRIGGER PENDING"])
        self._open_orders = select(t.orders).where(open_status).order_by(t.orders.c.placed_at.desc(),
                                                                          t.orders.c.order_id)
        self._closing_fills = (select(t.fills.c.realized, t.fills.c.charges_total, t.fills.c.filled_at)
                               .where(t.fills.c.realized != 0).order_by(t.fills.c.filled_at.desc())
                               .limit(bindparam("k_limit", type_=Integer)))
        latest = (select(t.fills.c.tradingsymbol, func.max(t.fills.c.filled_at).label("at"))
                  .where(t.fills.c.day == bindparam("k_day")).group_by(t.fills.c.tradingsymbol).subquery())
        self._last_fills = (select(t.fills.c.tradingsymbol, t.fills.c.side, t.fills.c.filled_at)
                            .join(latest, and_(t.fills.c.tradingsymbol == latest.c.tradingsymbol,
                                               t.fills.c.filled_at == latest.c.at)))
        self._t1_cnc_buys = (select(t.fills.c.instrument_token, func.sum(t.fills.c.quantity))
                             .where(and_(t.fills.c.product == "CNC", t.fills.c.side == "BUY",
                                         t.fills.c.settles_on == bindparam("k_day"), t.fills.c.day < bindparam("k_day")))
                             .group_by(t.fills.c.instrument_token))
        self._capital_row = select(t.ledger.c.id).where(t.ledger.c.entry_id == bindparam("k"))
        self._inserts = {name: insert(getattr(t, name)) for name in ("approvals", "risk_decisions", "audit")}
        self._order_counts = (select(t.orders.c.tradingsymbol, t.orders.c.tag, func.count().label("n"))
                              .where(and_(t.orders.c.day == bindparam("k_day"), t.orders.c.status != "REJECTED"))
                              .group_by(t.orders.c.tradingsymbol, t.orders.c.tag))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # ------------------------------------------------------------------ generic helpers

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One write transaction. On SQLite, writers of this process take turns on a lock
        first: SQLite allows one writer at a time and its busy handler backs off in steps of
        up to 100 ms, which would dominate latency under thread contention."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
        else:
            with self._write_lock, self.engine.begin() as conn:
                yield conn

    @staticmethod
    def _audit(conn: Connection, rows: Iterable[Row]) -> None:
        """Insert audit ``rows`` in one statement (none: no statement)."""
        rows = list(rows)
        if rows:
            conn.execute(insert(t.audit), rows)

    def _lock(self, stmt):
        return stmt.with_for_update() if self._pg else stmt

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Every read of this thread inside the block runs on one connection (one pool checkout,
        not one per read: the gatekeeper's dozen reads of one decision). Nested blocks share it;
        writes still take their own transaction. On PostgreSQL the connection is in autocommit as
        every read (each statement its own snapshot, as outside the block)."""
        if getattr(self._held, "conn", None) is not None:
            yield
            return
        with self._reader.connect() as conn:
            self._held.conn = conn
            try:
                yield
            finally:
                self._held.conn = None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """The connection of the enclosing ``reading()`` block, else a fresh one for this read."""
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self._reader.connect() as conn:
            yield conn


    # ------------------------------------------------------------------ account

    def ensure_capital(self, entry: Row) -> bool:
        """Insert the opening CAPITAL ledger row once (keyed by ``entry_id``); True if inserted."""
        with self._read() as conn:
            if conn.execute(self._capital_row, {"k": entry["entry_id"]}).first():
                return False
        return self.append_ledger([entry])

    # ------------------------------------------------------------------ approvals

    def insert_approval(self, row: Row, decision: Row | None = None, audit: Row | None = None) -> None:
        """Insert a new approval (with its preview risk decision and audit row), atomically (on
        PostgreSQL in one round trip, ``pg_pipeline``). Raises ``IntegrityError`` when the
        approval id exists."""
        if self._pipelined is not None:
            inserts = [(t.approvals, [row]), (t.risk_decisions, [decision] if decision is not None else []),
                       (t.audit, [audit] if audit is not None else [])]
            if not self._pipelined.write(inserts):
                raise IntegrityError("INSERT INTO trading_approvals", None,
                                     Exception(f"approval {row['approval_id']!r} exists"))
            return
        with self._tx() as conn:  # pre-built inserts: building ``.values(**row)`` costs more than the SQL
            conn.execute(self._inserts["approvals"], row)
            if decision is not None:
                conn.execute(self._inserts["risk_decisions"], decision)
            if audit is not None:
                conn.execute(self._inserts["audit"], audit)

    def get_approval(self, approval_id: str) -> Row | None:
        with self._read() as conn:
            r = conn.execute(self._approval_by_id, {"k": approval_id}).first()
        return dict(r._mapping) if r else None

    def list_approvals(self, statuses: Sequence[str], *, limit: int | None = None, newest_first: bool = False,
                       trace_id: str | None = None) -> list[Row]:
        q = select(t.approvals)
        if statuses:
            q = q.where(t.approvals.c.status.in_(list(statuses)))
        if trace_id is not None:
            q = q.where(t.approvals.c.trace_id == trace_id)
        if newest_first:
            q = q.order_by(func.coalesce(t.approvals.c.decided_at, t.approvals.c.created_at).desc(),
                           t.approvals.c.approval_id.desc())
        else:
            q = q.order_by(t.approvals.c.created_at, t.approvals.c.approval_id)
        if limit is not None:
            q = q.limit(limit)
        with self._read() as conn:
            return _rows(conn.execute(q))

    def decide_approval(self, approval_id: str, values: Row, *, decision: Row | None = None,
                        audit: Iterable[Row] = (), from_status: str = "PENDING") -> bool:
        """Move ``approval_id`` out of ``from_status`` with ``values``, writing ``decision``
        and ``audit`` in the same transaction (on PostgreSQL in two round trips,
        ``pg_pipeline``). False (nothing written) when it was no longer in ``from_status``
        (approved twice, decided concurrently)."""
        if self._pipelined is not None:
            stmt = self._approval_update_stmt(tuple(sorted(values)))
            params = {**{f"v_{k}": v for k, v in values.items()}, "k_id": approval_id, "k_status": from_status}
            return self._pipelined.write([(t.risk_decisions, [decision] if decision is not None else []),
                                          (t.audit, list(audit))], guard=stmt, guard_params=params)
        with self._tx() as conn:
            res = conn.execute(
                update(t.approvals)
                .where(and_(t.approvals.c.approval_id == approval_id, t.approvals.c.status == from_status))
                .values(**values)
            )
            if res.rowcount != 1:
                return False
            if decision is not None:
                conn.execute(insert(t.risk_decisions), decision)
            self._audit(conn, audit)
            return True

    def update_approval(self, approval_id: str, values: Row, *, decision: Row | None = None,
                        audit: Iterable[Row] = ()) -> None:
        """Unconditional update (risk preview refresh) with its decision and audit rows."""
        with self._tx() as conn:
            conn.execute(update(t.approvals).where(t.approvals.c.approval_id == approval_id).values(**values))
            if decision is not None:
                conn.execute(insert(t.risk_decisions), decision)
            self._audit(conn, audit)

    def approved_without_order(self) -> list[Row]:
        """APPROVED approvals that have no order yet (a lost or unprocessed message)."""
        q = (select(t.approvals)
             .outerjoin(t.orders, t.orders.c.approval_id == t.approvals.c.approval_id)
             .where(and_(t.approvals.c.status == "APPROVED", t.orders.c.order_id.is_(None)))
             .order_by(t.approvals.c.decided_at))
        with self._read() as conn:
            return _rows(conn.execute(q))

    # ------------------------------------------------------------------ risk decisions

    def get_decision(self, decision_id: str) -> Row | None:
        with self._read() as conn:
            r = conn.execute(select(t.risk_decisions).where(t.risk_decisions.c.decision_id == decision_id)).first()
        return dict(r._mapping) if r else None

    def approved_decision_for(self, approval_id: str) -> Row | None:
        """The latest approved decision of ``approval_id`` (stage approval/manual/system)."""
        with self._read() as conn:
            r = conn.execute(self._approved_decision, {"k": approval_id}).first()
        return dict(r._mapping) if r else None

    def decisions(self, trace_id: str) -> list[Row]:
        q = select(t.risk_decisions).where(t.risk_decisions.c.trace_id == trace_id).order_by(t.risk_decisions.c.at)
        with self._read() as conn:
            return _rows(conn.execute(q))

    # ------------------------------------------------------------------ orders

    def insert_order(self, row: Row, audit: Row | None = None) -> bool:
        """Insert an order for an **approved** risk decision; False if the order id or its
        approval already has one (exactly once). Raises ``ValueError`` if the decision is
        missing or not approved."""
        return self.place_order(row, audit) is not None

    def place_order(self, row: Row, audit: Row | None = None) -> Row | None:
        """``insert_order`` returning the order row as stored (``RETURNING``: no re-read), or
        None when the order id or its approval already has one. One read (the decision and the
        duplicate check in one statement), then the order and its audit row in one transaction
        (on PostgreSQL one round trip, ``pg_pipeline``). Raises ``ValueError`` if the decision is
        missing or not approved."""
        with self._read() as conn:
            approved, exists = conn.execute(self._order_precheck, {"k_decision": row["decision_id"],
                                                                   "k_order": row["order_id"],
                                                                   "k_approval": row["approval_id"]}).one()
        if not approved:
            raise ValueError(f"order {row['order_id']} needs an approved risk decision, got {row['decision_id']!r}")
        if exists:
            return None
        if self._pipelined is not None:  # one round trip: BEGIN, INSERT … RETURNING, audit, COMMIT
            return self._pipelined.insert_returning(self._order_insert, t.orders, row, audit)
        try:
            with self._tx() as conn:
                stored = conn.execute(self._order_insert, row).one()
                if audit is not None:
                    conn.execute(insert(t.audit), audit)
            return dict(stored._mapping)
        except IntegrityError:
            return None

    def get_order(self, order_id: str) -> Row | None:
        with self._read() as conn:
            r = conn.execute(self._order_by_id, {"k": order_id}).first()
        return dict(r._mapping) if r else None

    def order_for_approval(self, approval_id: str) -> Row | None:
        with self._read() as conn:
            r = conn.execute(self._order_by_approval, {"k": approval_id}).first()
        return dict(r._mapping) if r else None

    def list_orders(self, *, day: date | None = None, open_only: bool = False, trace_id: str | None = None,
                    newest_first: bool = True) -> list[Row]:
        if open_only and day is None and trace_id is None and newest_first:
            with self._read() as conn:  # the gatekeeper's reserved margin: a pre-built statement
                return _rows(conn.execute(self._open_orders))
        q = select(t.orders)
        if day is not None:
            q = q.where(t.orders.c.day == day)
        if open_only:
            q = q.where(t.orders.c.status.in_(["OPEN", "TRIGGER PENDING"]))
        if trace_id is not None:
            q = q.where(t.orders.c.trace_id == trace_id)
        q = q.order_by(t.orders.c.placed_at.desc() if newest_first else t.orders.c.placed_at, t.orders.c.order_id)
        with self._read() as conn:
            return _rows(conn.execute(q))

    def update_order(self, order_id: str, values: Row, *, expect: Mapping[str, Any], audit: Row | None = None) -> bool:
        """Update ``order_id`` only if its columns still equal ``expect`` (optimistic); False otherwise."""
        conds = [t.orders.c.order_id == order_id] + [t.orders.c[k] == v for k, v in expect.items()]
        with self._tx() as conn:
            res = conn.execute(update(t.orders).where(and_(*conds)).values(**values))
            if res.rowcount != 1:
                return False
            if audit is not None:
                conn.execute(insert(t.audit).values(**audit))
            return True

    def count_orders(self, day: date) -> list[Row]:
        """Today's non-rejected orders: ``tradingsymbol``, ``tag``, ``n``."""
        with self._read() as conn:
            return _rows(conn.execute(self._order_counts, {"k_day": day}))

    # ------------------------------------------------------------------ fills (the one transaction)

    def apply_fill(
        self,
        fill: Row,
        *,
        order_values: Row | None,
        order_expect: Mapping[str, Any] | None,
        book: Callable[[Row | None], tuple[Row, list[Row], Decimal]],
        audit: Row | None = None,
        order_out: dict | None = None,
    ) -> bool:
        """Store one fill, its ledger entries and the position change in ONE transaction.

        ``order_values``/``order_expect``: the order's new state, applied only if it still
        matches ``order_expect`` (e.g. ``fill_count``); ``book(position_row_or_None)`` returns
        ``(position_row, ledger_rows, realized)`` computed from the locked current position.
        Returns False and writes nothing when the fill was already stored or the order moved
        on (a redelivery or a concurrent matcher): exactly once. ``order_out``: a dict that, once
        the fill is stored with ``order_values``, holds the order row as updated (``RETURNING``).

        Statements: the order update, the position read (``FOR UPDATE`` on PostgreSQL), the fill,
        the ledger entries (one statement), the position insert/update and the audit row: six,
        in one transaction (``tests/app/test_fill_statements.py`` bounds them). On PostgreSQL
        they go out in two batches, two round trips in all (``pg_pipeline``).
        """
        position_key = {"k_token": fill["instrument_token"], "k_product": fill["product"]}
        if order_values is not None:
            expect = dict(order_expect or {})
            guard = self._order_update_stmt(tuple(sorted(order_values)), tuple(sorted(expect)),
                                            returning=order_out is not None)
            guard_params = {**{f"v_{k}": v for k, v in order_values.items()},
                            **{f"e_{k}": v for k, v in expect.items()}, "k_order_id": fill["order_id"]}
        else:
            guard, guard_params = self._fill_exists, {"k": fill["fill_id"]}
        if self._pipelined is not None:
            stored, updated = self._pipelined.apply_fill(
                fill, guard=guard, guard_params=guard_params, returns_order=order_out is not None,
                guard_is_update=order_values is not None, position_select=self._position_select,
                position_update=self._position_update, position_key=position_key, book=book, audit=audit)
            if stored and updated is not None and order_out is not None:
                order_out.update(updated)
            return stored
        try:
            with self._tx() as conn:
                res = conn.execute(guard, guard_params)
                if order_values is None:
                    moved_on = res.first() is not None  # stored already
                elif order_out is not None:  # RETURNING the row: no re-read after the fill
                    updated = res.first()
                    moved_on = updated is None
                else:
                    moved_on = res.rowcount != 1
                if moved_on:
                    raise Conflict
                cur = conn.execute(self._position_select, position_key).first()
                current = dict(cur._mapping) if cur else None
                position, entries, realized = book(current)
                conn.execute(insert(t.fills), [{**fill, "realized": realized}])
                if entries:
                    conn.execute(insert(t.ledger), entries)
                if current is None:
                    conn.execute(insert(t.positions), [position])
                else:
                    conn.execute(self._position_update, {**{f"v_{k}": v for k, v in position.items()},
                                                         **position_key})
                if audit is not None:
                    conn.execute(insert(t.audit), audit)
            if order_out is not None and order_values is not None:
                order_out.update(updated._mapping)
            return True
        except Conflict:
            return False
        except IntegrityError:
            return False

    # Pre-built statements with bound parameters: SQLAlchemy caches their compilation, which
    # keeps the fill transaction cheap (building ``.values(**row)`` per call costs more than
    # the SQL itself).
    def _order_update_stmt(self, value_keys: tuple[str, ...], expect_keys: tuple[str, ...], *, returning: bool):
        key = (value_keys, expect_keys, returning)
        stmt = self._stmt_cache.get(key)
        if stmt is None:
            conds = [t.orders.c.order_id == bindparam("k_order_id")]
            conds += [t.orders.c[k] == bindparam(f"e_{k}") for k in expect_keys]
            stmt = update(t.orders).where(and_(*conds)).values({k: bindparam(f"v_{k}") for k in value_keys})
            if returning:
                stmt = stmt.returning(*t.orders.c)
            self._stmt_cache[key] = stmt
        return stmt

    def _approval_update_stmt(self, value_keys: tuple[str, ...]):
        """``UPDATE trading_approvals SET <value_keys> WHERE approval_id = :k_id AND status =
        :k_status``, built once per set of columns."""
        key = ("approval", value_keys)
        stmt = self._stmt_cache.get(key)
        if stmt is None:
            stmt = (update(t.approvals)
                    .where(and_(t.approvals.c.approval_id == bindparam("k_id"),
                                t.approvals.c.status == bindparam("k_status")))
                    .values({k: bindparam(f"v_{k}") for k in value_keys}))
            self._stmt_cache[key] = stmt
        return stmt

    def list_fills(self, *, day: date | None = None, trace_id: str | None = None, order_id: str | None = None,
                   newest_first: bool = False) -> list[Row]:
        q = select(t.fills)
        if day is not None:
            q = q.where(t.fills.c.day == day)
        if trace_id is not None:
            q = q.where(t.fills.c.trace_id == trace_id)
        if order_id is not None:
            q = q.where(t.fills.c.order_id == order_id)
        q = q.order_by(t.fills.c.filled_at.desc() if newest_first else t.fills.c.filled_at, t.fills.c.fill_id)
        with self._read() as conn:
            return _rows(conn.execute(q))

    def last_fills(self, day: date) -> list[Row]:
        """The latest fill of each tradingsymbol on ``day``: ``tradingsymbol``, ``side``, ``filled_at``."""
        with self._read() as conn:
            return _rows(conn.execute(self._last_fills, {"k_day": day}))

    def position(self, instrument_token: int, product: str) -> Row | None:
        with self._read() as conn:
            r = conn.execute(select(t.positions).where(and_(t.positions.c.instrument_token == instrument_token,
                                                            t.positions.c.product == product))).first()
        return dict(r._mapping) if r else None

    def positions_of(self, instrument_token: int) -> dict[str, Row]:
        """Every product's position row of ``instrument_token``, by product (``{"MIS": row}``), in one read."""
        with self._read() as conn:
            return {r.product: dict(r._mapping) for r in conn.execute(self._positions_of,
                                                                      {"k_token": int(instrument_token)})}

    def closing_fills(self, limit: int = 50) -> list[Row]:
        """The latest fills that realized P&L (``realized != 0``), newest first."""
        with self._read() as conn:
            return _rows(conn.execute(self._closing_fills, {"k_limit": int(limit)}))

    def count_fills(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(t.fills)).scalar_one())

    # ------------------------------------------------------------------ ledger and positions

    def append_ledger(self, entries: Sequence[Row], audit: Row | None = None) -> bool:
        """Append entries (all or nothing); False if any ``entry_id`` already exists."""
        try:
            with self._tx() as conn:
                conn.execute(insert(t.ledger), list(entries))
                if audit is not None:
                    conn.execute(insert(t.audit).values(**audit))
            return True
        except IntegrityError:
            return False

    def ledger_entries(self) -> list[Row]:
        with self._read() as conn:
            return _rows(conn.execute(select(t.ledger).order_by(t.ledger.c.id)))

    def ledger_sums(self, day: date | None = None) -> dict[str, Decimal]:
        """Sum of ``amount`` ₹ by ``kind`` (every day, or only ``day``)."""
        q, params = (self._ledger_sums, {}) if day is None else (self._ledger_sums_of_day, {"k_day": day})
        with self._read() as conn:
            return {k: Decimal(v or 0) for k, v in conn.execute(q, params)}

    def ledger_sums_with_day(self, day: date) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """``(ledger_sums(), ledger_sums(day))`` in one aggregate read."""
        every: dict[str, Decimal] = {}
        of_day: dict[str, Decimal] = {}
        with self._read() as conn:
            for kind, total, today, n_today in conn.execute(self._ledger_sums_both, {"k_day": day}):
                every[kind] = Decimal(total or 0)
                if n_today:
                    of_day[kind] = Decimal(today or 0)
        return every, of_day

    def positions(self) -> list[Row]:
        with self._read() as conn:
            return _rows(conn.execute(self._all_positions))

    def fill_sums(self, day: date) -> dict[str, Decimal]:
        """Today's ``realized`` ₹ and each charge component ₹ summed over fills of ``day``, and
        ``mis_realized``: the ``realized`` ₹ of its MIS fills alone. One aggregate read."""
        with self._read() as conn:
            r = conn.execute(self._fill_sums, {"k_day": day}).first()
        return {c: Decimal(getattr(r, c) or 0) for c in (*_FILL_SUM_COLUMNS, "mis_realized")}

    def pending_cnc_buys(self, as_of: date) -> dict[int, int]:
        """CNC shares bought but not yet settled on ``as_of`` (T+1), by instrument_token."""
        q = (select(t.fills.c.instrument_token, func.sum(t.fills.c.quantity))
             .where(and_(t.fills.c.product == "CNC", t.fills.c.side == "BUY", t.fills.c.settles_on > as_of))
             .group_by(t.fills.c.instrument_token))
        with self._read() as conn:
            return {int(k): int(v) for k, v in conn.execute(q)}

    def t1_cnc_buys(self, day: date) -> dict[int, int]:
        """CNC shares bought on an earlier day that settle on ``day`` (T1 on ``day``: selling
        them is BTST), by instrument_token."""
        with self._read() as conn:
            return {int(k): int(v) for k, v in conn.execute(self._t1_cnc_buys, {"k_day": day})}

    # ------------------------------------------------------------------ square-off marks

    def record_square_off(self, row: Row, fee_entries: Sequence[Row] = ()) -> None:
        """Record the day's square-off of one position (``row``: ``square_offs``; kept as it is
        if the position's row of that day exists) and every fee ledger entry not stored yet (by
        ``entry_id``), in one transaction (``INSERT … ON CONFLICT DO NOTHING``). Idempotent: a
        re-run, or two runs writing the same deterministic rows, add each row once."""
        with self._tx() as conn:
            conn.execute(self._insert_new(t.square_offs).on_conflict_do_nothing(
                index_elements=["day", "instrument_token", "product"]), [row])
            if fee_entries:
                conn.execute(self._insert_new(t.ledger).on_conflict_do_nothing(index_elements=["entry_id"]),
                             list(fee_entries))

    def approvals_traced(self, prefix: str) -> list[Row]:
        """Approvals whose ``trace_id`` starts with ``prefix`` (the day's square-offs:
        ``SQ-YYYYMMDD-``), oldest first."""
        q = (select(t.approvals).where(t.approvals.c.trace_id.startswith(prefix, autoescape=True))
             .order_by(t.approvals.c.created_at, t.approvals.c.approval_id))
        with self._read() as conn:
            return _rows(conn.execute(q))

    def ledger_entry_ids(self, day: date, kind: str) -> set[str]:
        """``entry_id`` of every ledger entry of ``kind`` on ``day``."""
        q = select(t.ledger.c.entry_id).where(and_(t.ledger.c.day == day, t.ledger.c.kind == kind))
        with self._read() as conn:
            return set(conn.execute(q).scalars())

    # ------------------------------------------------------------------ audit

    def add_audit(self, row: Row) -> None:
        with self._tx() as conn:
            conn.execute(insert(t.audit).values(**row))

    def audit_rows(self, trace_id: str) -> list[Row]:
        q = select(t.audit).where(t.audit.c.trace_id == trace_id).order_by(t.audit.c.id)
        with self._read() as conn:
            return _rows(conn.execute(q))

    # ------------------------------------------------------------------ limits and desk state

    def latest_limits(self) -> Row | None:
        with self._read() as conn:
            r = conn.execute(self._latest_limits).first()
        return dict(r._mapping) if r else None

    def save_limits(self, limits: Row, *, saved_by: str, saved_at: datetime, audit: Row | None = None) -> int:
        """Append a new limits version; return it. Retries once on a concurrent save."""
        for _ in range(3):
            try:
                with self._tx() as conn:
                    top = conn.execute(select(func.max(t.risk_limits.c.version))).scalar()
                    version = int(top or 0) + 1
                    conn.execute(insert(t.risk_limits).values(version=version, limits=limits, saved_by=saved_by,
                                                              saved_at=saved_at))
                    if audit is not None:
                        conn.execute(insert(t.audit).values(**audit))
                return version
            except IntegrityError:
                continue
        raise RuntimeError("could not save risk limits: concurrent saves kept colliding; retry")

    def desk_state(self) -> Row | None:
        with self._read() as conn:
            r = conn.execute(self._desk_row, {"k": DESK}).first()
        return dict(r._mapping) if r else None

    def set_desk_state(self, values: Row, audit: Row | None = None) -> None:
        """Upsert the desk's flags (halted, safe mode, equity peak)."""
        for _ in range(3):
            try:
                with self._tx() as conn:
                    res = conn.execute(update(t.desk_state).where(t.desk_state.c.key == DESK).values(**values))
                    if res.rowcount == 0:
                        conn.execute(insert(t.desk_state).values(key=DESK, **values))
                    if audit is not None:
                        conn.execute(insert(t.audit).values(**audit))
                return
            except IntegrityError:
                continue  # created concurrently: update it now

    def dispose(self) -> None:
        self.engine.dispose()
