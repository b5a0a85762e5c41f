"""Round trips of the fill path, counted on both stores (issue 16 item 8): an approved order's
worker run (``execute_approval``: the order, then its fill) and the fill transaction itself
(``TradingStore.apply_fill``). A statement added to either fails here, before it shows up as
latency on PostgreSQL, where every statement not pipelined is a round trip.

On PostgreSQL the fill transaction drives psycopg's pipeline itself (``pg_pipeline``), below
SQLAlchemy's events: it is counted on the wire instead, from libpq's protocol trace of the
connection it used (``Parse`` messages: its statements; ``ReadyForQuery`` replies: its round
trips)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.fixtures_trading import INFY, T0, D, desk, intent, pg_desk  # noqa: F401

#: ``execute_approval`` of a MARKET order that fills at once: approval, order?, decision, limits,
#: positions, order precheck, order + audit, then the six of the fill.
WORKER_STATEMENTS = 14
#: The fill transaction: order update (RETURNING), position read, fill, ledger, position, audit.
FILL_STATEMENTS = 6
#: Round trips on PostgreSQL (``pg_pipeline``): the fill is BEGIN + the guard + the position
#: read, then the writes + COMMIT; the order is its precheck read, then BEGIN + INSERT + audit +
#: COMMIT; the worker's whole run adds its five reads (approval, order?, decision, limits, positions).
PG_FILL_ROUND_TRIPS = 2
PG_ORDER_ROUND_TRIPS = 2
PG_WORKER_ROUND_TRIPS = 5 + PG_ORDER_ROUND_TRIPS + PG_FILL_ROUND_TRIPS


class _Enqueued:
    """The desk's task queue, recording instead of running (the worker is called by hand)."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def enqueue(self, queue: str, actor: str, **kwargs) -> str:
        self.ids.append(kwargs["approval_id"])
        return f"m-{len(self.ids)}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_desk(request):
    return request.getfixturevalue("desk" if request.param == "sqlite" else "pg_desk")


def _count(engine) -> tuple[list[str], list[int]]:
    """(statements sent, one entry per COMMIT) on ``engine`` from now on."""
    statements: list[str] = []
    commits: list[int] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: statements.append(statement.split(None, 1)[0].upper()))
    event.listen(engine, "commit", lambda conn: commits.append(len(statements)))
    return statements, commits


class _WireTrace:
    """libpq's protocol trace of every connection checked out of ``engine``'s pool while ``on``
    (a label: the part of the run it belongs to)."""

    def __init__(self, engine, folder: Path) -> None:
        self.on, self.folder, self.files = "", folder, []
        event.listen(engine, "checkout", self._checkout)
        event.listen(engine, "checkin", self._checkin)

    def _checkout(self, dbapi_conn, record, _proxy) -> None:
        if self.on:
            from psycopg.pq import Trace

            path = self.folder / f"wire-{len(self.files)}.txt"
            self.files.append((self.on, path))
            record.info["wire_trace"] = out = path.open("w")
            # every statement with its text (Parse), even one the connection prepared earlier
            record.info["prepare_threshold"], dbapi_conn.prepare_threshold = dbapi_conn.prepare_threshold, None
            dbapi_conn.pgconn.trace(out.fileno())
            dbapi_conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)

    def _checkin(self, dbapi_conn, record) -> None:
        out = record.info.pop("wire_trace", None)
        if out is not None:
            dbapi_conn.pgconn.untrace()  # flushes libpq's buffer
            dbapi_conn.prepare_threshold = record.info.pop("prepare_threshold")
            out.close()

    def read(self, label: str | None = None) -> tuple[list[str], int]:
        """(first word of each statement parsed, ReadyForQuery replies) over the checkouts traced
        (those under ``label`` only, if given). An ``executemany`` (the same text parsed again
        right after itself) is one statement, as SQLAlchemy counts it."""
        statements, round_trips = [], 0
        for on, path in self.files:
            if label is not None and on != label:
                continue
            last = None
            for line in path.read_text().splitlines():
                if m := re.match(r'F\t\d+\tParse\t "[^"]*" "((\w+)[^"]*)', line):  # (its first line)
                    if m.group(1) != last:
                        statements.append(m.group(2).upper())
                    last = m.group(1)
                round_trips += line.startswith("B") and "\tReadyForQuery\t" in line
        return statements, round_trips


def test_a_worker_fill_is_bounded_in_statements_and_has_one_transaction_per_fill(any_desk, tmp_path):
    d = any_desk
    pg = d.store.dialect == "postgresql"
    wire = _WireTrace(d.store.engine, tmp_path) if pg else None
    d.tick(INFY, 1000.0)
    tasks = _Enqueued()
    d.svc.tasks = tasks
    a = d.svc.propose(intent(qty=3), signal_price=D("1000"), reason="bench", now=T0)
    assert d.svc.approve(a.approval_id, user="trader", now=T0 + timedelta(seconds=2)).ok
    assert tasks.ids == [a.approval_id] and d.store.count_fills() == 0

    statements, commits = _count(d.store.engine)
    fill_span: list[int] = []
    apply_fill = d.store.apply_fill

    def counted_apply_fill(*args, **kwargs):
        fill_span.append(len(statements))
        if wire is not None:
            wire.on = "fill"
        try:
            return apply_fill(*args, **kwargs)
        finally:
            fill_span.append(len(statements))
            if wire is not None:
                wire.on = "worker"

    d.store.apply_fill = counted_apply_fill
    if wire is not None:
        wire.on = "worker"
    view = d.svc.execute_approval(a.approval_id)
    worker, worker_commits = list(statements), list(commits)
    if wire is not None:
        wire.on = ""

    assert view is not None and view.status == "COMPLETE" and view.filled_quantity == 3
    assert d.store.count_fills() == 1 and d.svc.funds(T0 + timedelta(minutes=1)).reconciled
    start, end = fill_span
    if pg:  # the writes run below SQLAlchemy (pipelined): counted on the wire
        assert statements[start:end] == [] and worker_commits == [], (statements, worker_commits)
        fill, round_trips = wire.read("fill")
        assert fill[0] == "BEGIN" and fill[-1] == "COMMIT" and fill.count("COMMIT") == 1, fill
        fill = fill[1:-1]
        assert round_trips == PG_FILL_ROUND_TRIPS, (round_trips, wire.files)
        run, run_trips = wire.read()
        # two durable transactions: the order (with its audit row), then the fill with everything it books
        assert run.count("BEGIN") == 2 and run.count("COMMIT") == 2, run
        assert len(run) - 4 <= WORKER_STATEMENTS, run
        assert run_trips == PG_WORKER_ROUND_TRIPS, (run, run_trips)
        order = run[run.index("BEGIN"):run.index("COMMIT") + 1]
        assert order == ["BEGIN", "INSERT", "INSERT", "COMMIT"], run  # the order and its audit row
    else:
        fill = statements[start:end]
        assert len(worker) <= WORKER_STATEMENTS, worker
        # two durable transactions: the order (with its audit row), then the fill with everything it books
        assert len(worker_commits) == 2 and worker_commits[-1] == end, (worker_commits, fill_span)
        assert sum(1 for c in worker_commits if start < c <= end) == 1
    assert fill == ["UPDATE", "SELECT", "INSERT", "INSERT", "INSERT", "INSERT"], fill  # a new position: INSERT
    assert len(fill) == FILL_STATEMENTS

    # a redelivered message: no new order, no new fill, reads only
    statements.clear(), commits.clear()
    d.svc.execute_approval(a.approval_id)
    assert commits == [] and set(statements) == {"SELECT"}, statements
    assert d.store.count_fills() == 1
