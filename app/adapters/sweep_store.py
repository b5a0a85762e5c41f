"""Tables of parameter sweeps and walk-forwards (SQLAlchemy Core, their own ``MetaData``, on the
SQL store's engine; SQLite and PostgreSQL, Supabase's Postgres through the generated migration).

* ``backtest_sweeps``: one row per sweep — ``kind`` (``grid`` | ``walk_forward``), strategy,
  fixed ``params`` and swept ``ranges`` (JSON), symbols, IST dates as UTC ``start``/``end``,
  ``as_of`` (market time at submit: every run reads bars closed by then, so a run repeated
  later reads the same bars), the ranking ``metric``, walk-forward ``windows`` (JSON, see
  ``core.backtest.sweep.Window.as_dict``), ``total`` runs and ``status`` (``active`` |
  ``cancelled``; done/complete is counted from the runs);
* ``backtest_sweep_runs``: one row per backtest of a sweep, keyed ``(sweep_id, run_no)`` —
  ``phase`` (``grid`` | ``fit`` | ``test``), ``window`` (walk-forward index, else NULL),
  ``params`` (NULL for a test run until its window's fit has picked them), ``status``
  (``pending`` → ``queued`` → ``running`` → ``complete`` | ``failed``; ``cancelled``),
  ``metrics`` JSON (``core.backtest.metrics.compute_metrics``), ``bars``, the ``worker`` that
  ran it (``host:pid``) and its times.

Every state change is one conditional ``UPDATE`` (``WHERE status IN …``), so two workers that
race for one run, or for releasing one test run, never both win.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, Text, func, insert, select, update
from sqlalchemy.engine import Engine

from app.adapters.store.schema import UtcDateTime
from app.adapters.strategy_store import _json_safe

metadata = MetaData()

backtest_sweeps = Table(
    "backtest_sweeps", metadata,
    Column("sweep_id", String(40), primary_key=True),
    Column("kind", String(12), nullable=False),
    Column("label", String(200), nullable=False, default=""),
    Column("strategy", String(40), nullable=False),
    Column("params", JSON, nullable=False),
    Column("ranges", JSON, nullable=False),
    Column("symbols", JSON, nullable=False),
    Column("start", UtcDateTime, nullable=False),
    Column("end", UtcDateTime, nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("metric", String(40), nullable=False),
    Column("windows", JSON, nullable=True),
    Column("total", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
)

backtest_sweep_runs = Table(
    "backtest_sweep_runs", metadata,
    Column("sweep_id", String(40), primary_key=True),
    Column("run_no", Integer, primary_key=True, autoincrement=False),
    Column("phase", String(8), nullable=False),
    Column("window", Integer, nullable=True),
    Column("params", JSON, nullable=True),
    Column("status", String(10), nullable=False),
    Column("metrics", JSON, nullable=True),
    Column("bars", Integer, nullable=True),
    Column("worker", String(80), nullable=True),
    Column("message", Text, nullable=False, default=""),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
)

#: Run states that still count as "to do"; the rest are finished.
OPEN = ("pending", "queued", "running")


class SweepStore:
    """Repository over the two tables above. Creates them on first use (idempotent)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def create(self, sweep: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> None:
        """Insert the sweep row and all its run rows in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(insert(backtest_sweeps).values(**dict(sweep)))
            if runs:
                conn.execute(insert(backtest_sweep_runs), [{"message": "", **dict(r)} for r in runs])

    def get(self, sweep_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(backtest_sweeps).where(backtest_sweeps.c.sweep_id == sweep_id)).mappings().first()
        return dict(row) if row else None

    def sweeps(self, limit: int = 20) -> list[dict]:
        q = select(backtest_sweeps).order_by(backtest_sweeps.c.created_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def runs(self, sweep_id: str, *, phase: str | None = None, window: int | None = None) -> list[dict]:
        """Run rows of ``sweep_id`` in ``run_no`` order (optionally one phase / one window)."""
        t = backtest_sweep_runs
        q = select(t).where(t.c.sweep_id == sweep_id)
        if phase is not None:
            q = q.where(t.c.phase == phase)
        if window is not None:
            q = q.where(t.c.window == window)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q.order_by(t.c.run_no)).mappings()]

    def counts(self, sweep_id: str) -> dict[str, int]:
        """``{status: runs}`` of ``sweep_id``."""
        t = backtest_sweep_runs
        q = select(t.c.status, func.count()).where(t.c.sweep_id == sweep_id).group_by(t.c.status)
        with self.engine.connect() as conn:
            return {s: int(n) for s, n in conn.execute(q)}

    def claim(self, sweep_id: str, run_no: int, worker: str, at: datetime) -> dict | None:
        """Mark run ``run_no`` running on ``worker`` and return its row, or ``None`` when there is
        nothing to run: the sweep is cancelled, or the run is finished, cancelled or still
        pending. A run left ``running`` by a worker that died is claimed again (a redelivery)."""
        s, t = backtest_sweeps, backtest_sweep_runs
        with self.engine.begin() as conn:
            live = conn.execute(select(s.c.status).where(s.c.sweep_id == sweep_id)).scalar()
            if live != "active":
                return None
            n = conn.execute(update(t).where((t.c.sweep_id == sweep_id) & (t.c.run_no == run_no)
                                             & t.c.status.in_(("queued", "running")))
                             .values(status="running", worker=worker[:80], started_at=at, message="running")).rowcount
            if n == 0:
                return None
            row = conn.execute(select(t).where((t.c.sweep_id == sweep_id) & (t.c.run_no == run_no))).mappings().one()
        return dict(row)

    def finish(self, sweep_id: str, run_no: int, *, status: str, at: datetime, metrics: Mapping[str, Any] | None = None,
               bars: int | None = None, message: str = "") -> bool:
        """Store a running run's outcome (``complete`` with metrics, or ``failed``); False if it
        was not running (already finished by a redelivered twin)."""
        t = backtest_sweep_runs
        with self.engine.begin() as conn:
            n = conn.execute(update(t).where((t.c.sweep_id == sweep_id) & (t.c.run_no == run_no)
                                             & (t.c.status == "running"))
                             .values(status=status, metrics=_json_safe(dict(metrics)) if metrics is not None else None,
                                     bars=bars, message=message[:500], finished_at=at)).rowcount
        return n == 1

    def release(self, sweep_id: str, run_no: int, *, params: Mapping[str, Any] | None, status: str = "queued",
                message: str = "") -> bool:
        """Move a ``pending`` run to ``status`` with ``params`` (a test run once its fit is done);
        True for the one caller that moved it."""
        t = backtest_sweep_runs
        values: dict[str, Any] = {"status": status, "message": message[:500]}
        if params is not None:
            values["params"] = dict(params)
        with self.engine.begin() as conn:
            n = conn.execute(update(t).where((t.c.sweep_id == sweep_id) & (t.c.run_no == run_no)
                                             & (t.c.status == "pending")).values(**values)).rowcount
        return n == 1

    def cancel(self, sweep_id: str, at: datetime) -> int:
        """Mark the sweep cancelled and its queued/pending runs ``cancelled``; how many runs
        were cancelled (running ones finish)."""
        s, t = backtest_sweeps, backtest_sweep_runs
        with self.engine.begin() as conn:
            conn.execute(update(s).where((s.c.sweep_id == sweep_id) & (s.c.status == "active"))
                         .values(status="cancelled", cancelled_at=at))
            return conn.execute(update(t).where((t.c.sweep_id == sweep_id) & t.c.status.in_(("queued", "pending")))
                                .values(status="cancelled", message="cancelled")).rowcount

    def mark_failed(self, sweep_id: str, run_nos: Sequence[int], message: str) -> None:
        """Mark queued runs failed (their messages could not be sent)."""
        t = backtest_sweep_runs
        with self.engine.begin() as conn:
            conn.execute(update(t).where((t.c.sweep_id == sweep_id) & t.c.run_no.in_(list(run_nos))
                                         & t.c.status.in_(("queued", "pending")))
                         .values(status="failed", message=message[:500]))
