"""A checked answer and its snapshot as the row the analysis store keeps."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from app.adapters.analysis_store import StoredAnalysis
from core.analysis import OFFLINE_LABEL, AnalysisAnswer, Snapshot
from core.timeutil import UTC

_PAISA = Decimal("0.01")


def label_for(analyst: str, model: str) -> str:
    """How the analyst is named on every page: the offline label, or ``"Gemini (<model>)"``."""
    return OFFLINE_LABEL if analyst == "offline" else f"Gemini ({model})"


def _rupees(x: float | None) -> Decimal | None:
    return None if x is None else Decimal(str(x)).quantize(_PAISA)


def analysis_record(snap: Snapshot, analyst: str, model: str, a: AnalysisAnswer, notes: Sequence[str], *,
                    prompt_tokens: int = 0, output_tokens: int = 0,
                    cost_inr: Decimal = Decimal(0)) -> StoredAnalysis:
    """The unsaved row (``id=""``) for answer ``a`` to ``snap``: levels rounded to the paisa, times UTC."""
    return StoredAnalysis(
        id="", symbol=snap.key, instrument_token=snap.instrument_token, trading_day=snap.trading_day,
        as_of=snap.as_of.astimezone(UTC), snapshot_hash=snap.digest, model=model, analyst=analyst,
        label=label_for(analyst, model), verdict=a.verdict, confidence=float(a.confidence), entry=_rupees(a.entry),
        stop=_rupees(a.stop), target=_rupees(a.target), time_horizon=a.time_horizon, reasons=list(a.reasons),
        risks=list(a.risks), notes=list(notes), snapshot=snap.to_dict(), prompt_tokens=prompt_tokens,
        output_tokens=output_tokens, cost_inr=cost_inr)
