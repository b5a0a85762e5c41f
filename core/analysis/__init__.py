"""LLM-assisted analysis grounded in the desk's own numbers (pure: no I/O, no clock).

* :mod:`core.analysis.snapshot` — the grounded :class:`Snapshot` and its builder;
* :mod:`core.analysis.schema` — the pydantic answer schema the model must fill;
* :mod:`core.analysis.prompt` — the prompt text built from a snapshot;
* :mod:`core.analysis.validate` — checks an answer's levels against the snapshot;
* :mod:`core.analysis.offline` — the deterministic "Offline analyst (rules)";
* :mod:`core.analysis.outcomes` — scoring verdicts against later prices, hit-rate tables;
* :mod:`core.analysis.costs` — token prices and the ₹ cost of a call.
"""

from core.analysis.costs import TokenPrices, call_cost_inr
from core.analysis.offline import OFFLINE_LABEL, OFFLINE_MODEL, offline_answer
from core.analysis.outcomes import Outcome, confidence_band, hit_rate_table, score_outcome
from core.analysis.prompt import build_prompt
from core.analysis.schema import AnalysisAnswer, Verdict
from core.analysis.snapshot import BarRow, NewsLine, PositionFact, Snapshot, build_snapshot
from core.analysis.validate import Checked, check_answer

__all__ = [
    "OFFLINE_LABEL", "OFFLINE_MODEL", "AnalysisAnswer", "BarRow", "NewsLine", "Checked", "Outcome", "PositionFact",
    "Snapshot", "TokenPrices", "Verdict", "build_prompt", "build_snapshot", "call_cost_inr", "check_answer",
    "confidence_band", "hit_rate_table", "offline_answer", "score_outcome",
]
