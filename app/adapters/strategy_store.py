"""Tables of strategies and backtests (SQLAlchemy Core, their own ``MetaData``, on the SQL
store's engine; SQLite and PostgreSQL).

* ``strategy_configs``: one row per strategy name — validated ``params`` (JSON), ``symbols``
  (tradingsymbols the live runner feeds it), ``enabled``;
* ``strategy_signals``: one row per (strategy, instrument_token, bar_ts) the live runner acted
  on — the primary key makes the runner idempotent: a bar seen twice proposes once;
* ``strategy_cursors``: the runner's position in the ``desk:bars:closed`` stream;
* ``backtest_runs``: one row per run (status ``queued → running → complete | failed``,
  progress 0..1, ``metrics`` JSON, ``sweep_id`` grouping a parameter sweep);
* ``backtest_results``: equity curve, trades and fills of a *complete* run, written in the
  same transaction that marks the run complete (no partial result is stored as complete).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Float, Integer, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.adapters.store.schema import UtcDateTime
from core.errors import ValidationError

metadata = MetaData()

strategy_configs = Table(
    "strategy_configs", metadata,
    Column("name", String(40), primary_key=True),
    Column("params", JSON, nullable=False),
    Column("symbols", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

strategy_signals = Table(
    "strategy_signals", metadata,
    Column("strategy", String(40), primary_key=True),
    Column("instrument_token", Integer, primary_key=True, autoincrement=False),
    Column("bar_ts", UtcDateTime, primary_key=True),
    Column("tradingsymbol", String(40), nullable=False),
    Column("side", String(4), nullable=True),
    Column("quantity", Integer, nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("approval_id", String(40), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

strategy_cursors = Table(
    "strategy_cursors", metadata,
    Column("name", String(40), primary_key=True),
    Column("last_id", String(40), nullable=False),
)

backtest_runs = Table(
    "backtest_runs", metadata,
    Column("run_id", String(40), primary_key=True),
    Column("sweep_id", String(40), nullable=True, index=True),
    Column("label", String(200), nullable=False, default=""),
    Column("strategy", String(40), nullable=False),
    Column("params", JSON, nullable=False),
    Column("symbols", JSON, nullable=False),
    Column("start", UtcDateTime, nullable=False),
    Column("end", UtcDateTime, nullable=False),
    Column("status", String(10), nullable=False),
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=False, default=""),
    Column("metrics", JSON, nullable=True),
    Column("bars", Integer, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
)

backtest_results = Table(
    "backtest_results", metadata,
    Column("run_id", String(40), primary_key=True),
    Column("equity", JSON, nullable=False),
    Column("trades", JSON, nullable=False),
    Column("fills", JSON, nullable=False),
    Column("rejections", JSON, nullable=False),
)


def _json_safe(value: Any) -> Any:
    """NaN/inf → None (JSON has neither), recursively."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class StrategyStore:
    """Repository over the tables above. Creates them on first use (idempotent)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    # ------------------------------------------------------------------ configs
    def get_config(self, name: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(strategy_configs).where(strategy_configs.c.name == name)).mappings().first()
        return dict(row) if row else None

    def configs(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(strategy_configs).order_by(strategy_configs.c.name)).mappings()]

    def save_config(self, name: str, params: Mapping[str, Any], symbols: Sequence[str], enabled: bool,
                    at: datetime) -> None:
        values = dict(params=dict(params), symbols=list(symbols), enabled=bool(enabled), updated_at=at)
        with self.engine.begin() as conn:
            n = conn.execute(update(strategy_configs).where(strategy_configs.c.name == name).values(**values)).rowcount
            if n == 0:
                conn.execute(insert(strategy_configs).values(name=name, **values))

    # ------------------------------------------------------------------ live runner
    def claim_signal(self, strategy: str, token: int, bar_ts: datetime, tradingsymbol: str, at: datetime) -> bool:
        """Insert the (strategy, token, bar) marker; False if it already exists (seen before)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(strategy_signals).values(
                    strategy=strategy, instrument_token=int(token), bar_ts=bar_ts, tradingsymbol=tradingsymbol,
                    reason="", created_at=at))
            return True
        except IntegrityError:
            return False

    def record_signal(self, strategy: str, token: int, bar_ts: datetime, *, side: str | None, quantity: int | None,
                      reason: str, approval_id: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(strategy_signals).where(
                (strategy_signals.c.strategy == strategy) & (strategy_signals.c.instrument_token == int(token))
                & (strategy_signals.c.bar_ts == bar_ts)).values(side=side, quantity=quantity, reason=reason,
                                                               approval_id=approval_id))

    def signals(self, strategy: str | None = None, limit: int = 200, with_orders_only: bool = True) -> list[dict]:
        q = select(strategy_signals)
        if strategy:
            q = q.where(strategy_signals.c.strategy == strategy)
        if with_orders_only:
            q = q.where(strategy_signals.c.side.is_not(None))
        q = q.order_by(strategy_signals.c.bar_ts.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def cursor(self, name: str) -> str:
        with self.engine.connect() as conn:
            v = conn.execute(select(strategy_cursors.c.last_id).where(strategy_cursors.c.name == name)).scalar()
        return v or "0-0"

    def save_cursor(self, name: str, last_id: str) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(update(strategy_cursors).where(strategy_cursors.c.name == name)
                             .values(last_id=last_id)).rowcount
            if n == 0:
                conn.execute(insert(strategy_cursors).values(name=name, last_id=last_id))

    # ------------------------------------------------------------------ backtests
    def create_run(self, row: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(backtest_runs).values(**dict(row)))

    def get_run(self, run_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(backtest_runs).where(backtest_runs.c.run_id == run_id)).mappings().first()
        return dict(row) if row else None

    def runs(self, limit: int = 50, sweep_id: str | None = None) -> list[dict]:
        q = select(backtest_runs)
        if sweep_id:
            q = q.where(backtest_runs.c.sweep_id == sweep_id)
        q = q.order_by(backtest_runs.c.created_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def update_run(self, run_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(update(backtest_runs).where(backtest_runs.c.run_id == run_id).values(**values)).rowcount
        if n == 0:
            raise ValidationError(f"no backtest run {run_id!r}")

    def complete_run(self, run_id: str, *, metrics: Mapping[str, Any], bars: int, result: Mapping[str, Any],
                     at: datetime) -> None:
        """Store the result and mark the run complete in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(backtest_results.delete().where(backtest_results.c.run_id == run_id))
            conn.execute(insert(backtest_results).values(run_id=run_id, **_json_safe(dict(result))))
            conn.execute(update(backtest_runs).where(backtest_runs.c.run_id == run_id).values(
                status="complete", progress=1.0, metrics=_json_safe(dict(metrics)), bars=int(bars),
                finished_at=at, message="complete"))

    def result(self, run_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(backtest_results).where(backtest_results.c.run_id == run_id)).mappings().first()
        return dict(row) if row else None


def dumps(value: Any) -> str:
    return json.dumps(_json_safe(value))
