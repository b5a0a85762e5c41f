"""Round trips of the fill path, counted on both stores (issue 16 item 8): an approved order's
worker run (``execute_approval``: the order, then its fill) and the fill transaction itself
(``TradingStore.apply_fill``). A statement added to either fails here, before it shows up as
latency on PostgreSQL, where every statement is a round trip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.fixtures_trading import INFY, T0, D, desk, intent, pg_desk  # noqa: F401

#: ``execute_approval`` of a MARKET order that fills at once: approval, order?, decision, limits,
#: positions, order precheck, order + audit, then the six of the fill.
WORKER_STATEMENTS = 14
#: The fill transaction: order update (RETURNING), position read, fill, ledger, position, audit.
FILL_STATEMENTS = 6


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


def test_a_worker_fill_is_bounded_in_statements_and_has_one_transaction_per_fill(any_desk):
    d = any_desk
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
        try:
            return apply_fill(*args, **kwargs)
        finally:
            fill_span.append(len(statements))

    d.store.apply_fill = counted_apply_fill
    view = d.svc.execute_approval(a.approval_id)
    worker, worker_commits = list(statements), list(commits)

    assert view is not None and view.status == "COMPLETE" and view.filled_quantity == 3
    assert d.store.count_fills() == 1 and d.svc.funds(T0 + timedelta(minutes=1)).reconciled
    start, end = fill_span
    fill = statements[start:end]
    assert fill == ["UPDATE", "SELECT", "INSERT", "INSERT", "INSERT", "INSERT"], fill  # a new position: INSERT
    assert len(fill) == FILL_STATEMENTS
    assert len(worker) <= WORKER_STATEMENTS, worker
    # two durable transactions: the order (with its audit row), then the fill with everything it books
    assert len(worker_commits) == 2 and worker_commits[-1] == end, (worker_commits, fill_span)
    assert sum(1 for c in worker_commits if start < c <= end) == 1

    # a redelivered message: no new order, no new fill, reads only
    statements.clear(), commits.clear()
    d.svc.execute_approval(a.approval_id)
    assert commits == [] and set(statements) == {"SELECT"}, statements
    assert d.store.count_fills() == 1
