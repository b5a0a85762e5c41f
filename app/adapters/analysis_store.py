"""The analysis tables, on the store's engine with their own ``MetaData``.

* ``analyses``: one row per *valid* analysis (an invalid answer is never stored here). The
  cache key ``(symbol, trading_day, snapshot_hash, model)`` is unique, so a redelivered job
  or a concurrent ask stores one row. Outcome columns are filled in later by scoring.
* ``analysis_calls``: every model call, valid or not: tokens, the ₹ estimate and what
  happened (``ok``, ``invalid``, ``error``). The daily budget sums ``cost_inr`` by IST day.

Times are UTC (``UtcDateTime``); levels ₹ ``Numeric(12, 2)``; costs ₹ ``Numeric(14, 4)``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from app.adapters.store.schema import UtcDateTime, create_tables
from core.errors import ValidationError
from core.timeutil import UTC

metadata = MetaData()

analyses = Table(
    "analyses",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("symbol", String(64), nullable=False),  # "NSE:INFY"
    Column("instrument_token", BigInteger, nullable=False),
    Column("trading_day", Date, nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("snapshot_hash", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    Column("analyst", String(16), nullable=False),  # "gemini" | "offline"
    Column("label", String(64), nullable=False),
    Column("verdict", String(8), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("entry", Numeric(12, 2), nullable=True),
    Column("stop", Numeric(12, 2), nullable=True),
    Column("target", Numeric(12, 2), nullable=True),
    Column("time_horizon", String(16), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("risks", JSON, nullable=False),
    Column("notes", JSON, nullable=False),
    Column("snapshot", JSON, nullable=False),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("cost_inr", Numeric(14, 4), nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("outcome", String(8), nullable=True),  # hit | miss | pending
    Column("outcome_detail", Text, nullable=True),
    Column("outcome_return_pct", Float, nullable=True),
    Column("outcome_at", UtcDateTime, nullable=True),
    UniqueConstraint("symbol", "trading_day", "snapshot_hash", "model", name="uq_analyses_cache_key"),
)
Index("ix_analyses_symbol_asof", analyses.c.symbol, analyses.c.as_of)

analysis_calls = Table(
    "analysis_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("day", Date, nullable=False),  # IST wall-clock date (the budget's day)
    Column("symbol", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    Column("status", String(8), nullable=False),  # ok | invalid | error
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("cost_inr", Numeric(14, 4), nullable=False, default=0),
    Column("message", Text, nullable=False, default=""),
)
Index("ix_analysis_calls_day", analysis_calls.c.day)


@dataclass(frozen=True)
class StoredAnalysis:
    """One stored analysis. Levels ₹ ``Decimal`` (``None`` for hold/avoid without levels);
    ``as_of``/``created_at`` UTC; ``label`` is what the UI shows ("Gemini (gemini-2.5-flash)"
    or "Offline analyst (rules)"); ``outcome`` ``hit``/``miss``/``pending`` or ``None``."""

    id: str
    symbol: str
    instrument_token: int
    trading_day: date
    as_of: datetime
    snapshot_hash: str
    model: str
    analyst: str
    label: str
    verdict: str
    confidence: float
    entry: Decimal | None
    stop: Decimal | None
    target: Decimal | None
    time_horizon: str
    reasons: list[str]
    risks: list[str]
    notes: list[str]
    snapshot: dict[str, Any]
    prompt_tokens: int = 0
    output_tokens: int = 0
    cost_inr: Decimal = Decimal(0)
    created_at: datetime | None = None
    outcome: str | None = None
    outcome_detail: str | None = None
    outcome_return_pct: float | None = None
    outcome_at: datetime | None = None
    cached: bool = field(default=False, compare=False)

    @property
    def offline(self) -> bool:
        return self.analyst == "offline"


_FIELDS = [c.name for c in analyses.columns]


def _row(r: RowMapping) -> StoredAnalysis:
    return StoredAnalysis(**{k: r[k] for k in _FIELDS})


class AnalysisStore:
    """Repository over ``analyses`` and ``analysis_calls`` (tables created on construction)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(metadata, engine)

    # ---- analyses ------------------------------------------------------------------------

    def find_cached(self, symbol: str, trading_day: date, snapshot_hash: str, model: str) -> StoredAnalysis | None:
        q = select(analyses).where(analyses.c.symbol == symbol, analyses.c.trading_day == trading_day,
                                   analyses.c.snapshot_hash == snapshot_hash, analyses.c.model == model)
        with self._engine.connect() as conn:
            r = conn.execute(q).mappings().first()
        return _row(r) if r else None

    def add(self, record: StoredAnalysis) -> StoredAnalysis:
        """Store ``record`` (its ``id`` may be empty: one is made). Idempotent on the cache key:
        if the same key is already stored, that row is returned instead."""
        values = {k: getattr(record, k) for k in _FIELDS}
        values["id"] = record.id or uuid.uuid4().hex
        values["created_at"] = record.created_at or datetime.now(UTC)
        if values["verdict"] not in ("buy", "sell", "hold", "avoid"):
            raise ValidationError(f"verdict {values['verdict']!r} is not buy, sell, hold or avoid")
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(analyses).values(**values))
        except IntegrityError:
            found = self.find_cached(record.symbol, record.trading_day, record.snapshot_hash, record.model)
            if found is None:
                raise
            return found
        return self.get(values["id"])  # type: ignore[return-value]

    def get(self, analysis_id: str) -> StoredAnalysis | None:
        with self._engine.connect() as conn:
            r = conn.execute(select(analyses).where(analyses.c.id == analysis_id)).mappings().first()
        return _row(r) if r else None

    def history(self, symbol: str | None = None, limit: int = 100) -> list[StoredAnalysis]:
        """Newest first (by ``as_of``, then ``created_at``), optionally for one ``symbol`` key."""
        q = select(analyses).order_by(analyses.c.as_of.desc(), analyses.c.created_at.desc()).limit(limit)
        if symbol is not None:
            q = q.where(analyses.c.symbol == symbol)
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(q).mappings().all()]

    def symbols(self) -> list[str]:
        with self._engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(select(analyses.c.symbol).distinct()).all())

    def unscored(self, limit: int = 500) -> list[StoredAnalysis]:
        """Analyses with no outcome yet, or still pending (oldest first)."""
        q = (select(analyses).where(or_(analyses.c.outcome.is_(None), analyses.c.outcome == "pending"))
             .order_by(analyses.c.as_of).limit(limit))
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(q).mappings().all()]

    def set_outcome(self, analysis_id: str, outcome: str, detail: str, return_pct: float | None,
                    at: datetime | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(analyses).where(analyses.c.id == analysis_id).values(
                outcome=outcome, outcome_detail=detail, outcome_return_pct=return_pct, outcome_at=at))

    def outcome_rows(self) -> list[tuple[str, float, str, str]]:
        """``(verdict, confidence, outcome or "pending", analyst)`` for every analysis."""
        q = select(analyses.c.verdict, analyses.c.confidence, analyses.c.outcome, analyses.c.analyst)
        with self._engine.connect() as conn:
            return [(v, float(c), o or "pending", a) for v, c, o, a in conn.execute(q).all()]

    # ---- calls and budget ----------------------------------------------------------------

    def record_call(self, *, at: datetime, day: date, symbol: str, model: str, status: str,
                    prompt_tokens: int = 0, output_tokens: int = 0, cost_inr: Decimal = Decimal(0),
                    message: str = "") -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(analysis_calls).values(
                at=at, day=day, symbol=symbol, model=model, status=status, prompt_tokens=prompt_tokens,
                output_tokens=output_tokens, cost_inr=cost_inr, message=message[:2000]))

    def spent_on(self, day: date) -> Decimal:
        """₹ estimated for every call on IST ``day``."""
        with self._engine.connect() as conn:
            total = conn.execute(select(func.coalesce(func.sum(analysis_calls.c.cost_inr), 0))
                                 .where(analysis_calls.c.day == day)).scalar_one()
        return Decimal(str(total))

    def calls(self, day: date | None = None, limit: int = 200) -> list[dict[str, Any]]:
        q = select(analysis_calls).order_by(analysis_calls.c.id.desc()).limit(limit)
        if day is not None:
            q = q.where(analysis_calls.c.day == day)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings().all()]
