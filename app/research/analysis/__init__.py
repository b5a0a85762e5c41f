"""Analyses: "what do you make of this setup?" answered from the desk's own numbers.

One concept per module; :class:`AnalysisService` is the public entry. The knobs (model, budget,
token prices, rate limit) are ``app.settings.AnalysisSettings`` (``settings.analysis``).

* :mod:`~app.research.analysis.service` — ``AnalysisService`` (analyse, jobs, history, outcomes);
* :mod:`~app.research.analysis.snapshots` — the grounded snapshot from the desk's data, headlines;
* :mod:`~app.research.analysis.minute_bars` — bars as of the analysis time through the market-data service;
* :mod:`~app.research.analysis.gemini_analyst` — the Gemini call: budget, rate limit, checks;
* :mod:`~app.research.analysis.records` — a checked answer as the stored row;
* :mod:`~app.research.analysis.outcomes` — scoring verdicts against later bars, hit rates;
* :mod:`~app.research.analysis.refused` — ``AnalysisRefused``.
"""

from app.research.analysis.gemini_analyst import NO_RATE_LIMIT, BudgetView, GeminiAnalyst, wall_now
from app.research.analysis.minute_bars import MinuteBars
from app.research.analysis.outcomes import OutcomeScorer
from app.research.analysis.records import label_for
from app.research.analysis.refused import AnalysisRefused
from app.research.analysis.service import ANALYSIS_ACTOR, ANALYSIS_QUEUE, AnalysisService
from app.research.analysis.snapshots import MAX_HEADLINE_CHARS, MAX_HEADLINES, SnapshotBuilder, clean_headlines

__all__ = [
    "ANALYSIS_ACTOR", "ANALYSIS_QUEUE", "MAX_HEADLINES", "MAX_HEADLINE_CHARS", "NO_RATE_LIMIT",
    "AnalysisRefused", "AnalysisService", "BudgetView", "GeminiAnalyst", "MinuteBars", "OutcomeScorer",
    "SnapshotBuilder", "clean_headlines", "label_for", "wall_now",
]
