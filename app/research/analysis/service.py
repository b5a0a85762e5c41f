"""``AnalysisService``: the one entry for analyses — snapshot, analyse, jobs, history, outcomes.

``analyse(symbol, at, headlines=None)`` builds the grounded snapshot
(:mod:`app.research.analysis.snapshots`) as of market time ``at``, asks Gemini
(:mod:`app.research.analysis.gemini_analyst`) or the offline rules analyst, and stores the
checked answer — or refuses clearly. Nothing invalid is ever stored as an analysis.

* **Cache**: by ``(symbol, trading day, snapshot hash, model)``; a hit returns the stored row
  (``cached=True``) without a call.
* **Offline analyst** when no Gemini analyst is wired (no ``GEMINI_API_KEY``) or on request,
  labelled "Offline analyst (rules)".
* Pasted **headlines** go into the prompt fenced as unverified text (and into the hash).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Protocol

import pandas as pd

from app.adapters.analysis_store import AnalysisStore, StoredAnalysis
from app.adapters.gemini import DEFAULT_MODEL
from app.adapters.store.ports import Job
from app.research.analysis.gemini_analyst import BudgetView, GeminiAnalyst, Progress, budget_of, wall_now
from app.research.analysis.outcomes import OutcomeScorer
from app.research.analysis.records import analysis_record
from app.research.analysis.refused import AnalysisRefused
from app.research.analysis.snapshots import SnapshotBuilder, clean_headlines, resolve_symbol
from app.settings import AnalysisSettings
from core.analysis import OFFLINE_LABEL, OFFLINE_MODEL, Snapshot, check_answer, offline_answer
from core.errors import ValidationError
from core.models import Instrument
from core.text_caps import shown
from core.timeutil import IST, require_aware
from core.validation import require_str_list

ANALYSIS_QUEUE = "analysis"
ANALYSIS_ACTOR = "run_analysis"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_COMPARE_COLUMNS = ["as of (IST)", "analyst", "verdict", "confidence", "LTP then", "entry", "stop", "target",
                    "horizon", "outcome", "cost ₹"]


class TaskQueue(Protocol):
    def enqueue(self, queue: str, actor: str, **kwargs: Any) -> str: ...


class AnalysisJobs(Protocol):
    """The job rows the Analysis page follows (``app.adapters.store.ports.JobRepository``)."""

    def create(self, kind: str, args: Mapping[str, Any], job_id: str | None = None) -> str: ...

    def fail(self, job_id: str, message: str) -> None: ...

    def get(self, job_id: str) -> Job | None: ...


class AnalysisService:
    """Grounded analyses, wired by ``app.container``.

    ``gemini``: the Gemini analyst, or ``None`` when no key is configured (offline only).
    ``queue`` and ``jobs``: the task queue and job rows for :meth:`enqueue`, or ``None``.
    ``wall_clock``: wall time, for the IST day of the budget.
    """

    def __init__(self, store: AnalysisStore, snapshots: SnapshotBuilder, config: AnalysisSettings, *,
                 gemini: GeminiAnalyst | None = None, queue: TaskQueue | None = None,
                 jobs: AnalysisJobs | None = None, wall_clock: Callable[[], datetime] = wall_now) -> None:
        self.store = store
        self.snapshots = snapshots
        self.instruments = snapshots.instruments
        self.config = config
        self.outcomes = OutcomeScorer(store, snapshots.instruments, snapshots.bars)
        self._gemini = gemini
        self._queue = queue
        self._jobs = jobs
        self._wall = wall_clock

    # ---- what is available ---------------------------------------------------------------

    @property
    def gemini_configured(self) -> bool:
        return self._gemini is not None

    def default_analyst(self) -> str:
        return "gemini" if self.gemini_configured else "offline"

    def budget(self, day: date | None = None) -> BudgetView:
        """The IST day's Gemini spend (today by the wall clock unless ``day`` is given)."""
        day = day or self._wall().astimezone(IST).date()
        return budget_of(self.store, day, self.config.daily_budget_inr)

    # ---- analyse -------------------------------------------------------------------------

    def resolve(self, symbol: str) -> Instrument:
        return resolve_symbol(self.instruments, symbol)

    def snapshot(self, symbol: str, at: datetime, headlines: Sequence[str] | None = None,
                 scan_hits: Sequence[str] = ()) -> Snapshot:
        """See :meth:`SnapshotBuilder.snapshot`."""
        return self.snapshots.snapshot(symbol, at, headlines, scan_hits)

    def analyse(self, symbol: str, at: datetime, headlines: Sequence[str] | None = None, *,
                analyst: str | None = None, model: str | None = None, scan_hits: Sequence[str] = (),
                progress: Progress | None = None) -> StoredAnalysis:
        """Analyse ``symbol`` at market time ``at``; return the stored (or cached) analysis.

        ``analyst``: ``"gemini"``, ``"offline"`` or ``None`` (Gemini when a key is configured).
        Raises ``ValidationError`` (bad input: unknown symbol, no data today, bad headlines or
        model name), :class:`AnalysisRefused` (no/invalid key, model rejected, budget spent,
        answer invalid: nothing stored), and :class:`GeminiTransientError` or
        ``RateLimitTimeout`` for 429/5xx/timeouts (the job retries).
        """
        step = progress or (lambda f, m: None)
        require_aware(at, "at")
        scan_hits = require_str_list("scan_hits", scan_hits, max_items=50, item_cap=200, allow_empty=True)
        analyst, model = self._choose(analyst, model)
        step(0.1, "building the snapshot from the desk's data")
        snap = self.snapshot(symbol, at, headlines, scan_hits)
        cached = self.store.find_cached(snap.key, snap.trading_day, snap.digest, model)
        if cached is not None:
            step(1.0, "same snapshot already analysed: using the stored answer")
            return replace(cached, cached=True)
        if analyst == "offline":
            step(0.6, "running the offline rules")
            return self._ask_offline(snap, model)
        assert self._gemini is not None  # _choose refused "gemini" without one
        return self._gemini.ask(snap, model, step)

    def _choose(self, analyst: str | None, model: str | None) -> tuple[str, str]:
        """``(analyst, model)`` after the input checks; refuses Gemini when it is not configured."""
        analyst = analyst or self.default_analyst()
        if analyst not in ("gemini", "offline"):
            raise ValidationError(f"analyst must be 'gemini' or 'offline', was {shown(analyst)}")
        if model is not None and not isinstance(model, str):
            raise ValidationError(f"model must be a name such as {DEFAULT_MODEL}, was {shown(model)}")
        model = OFFLINE_MODEL if analyst == "offline" else (model or self.config.model).strip()
        if not _MODEL_NAME.match(model):
            raise ValidationError(f"model name {shown(model)} is not valid; use a name such as {DEFAULT_MODEL}")
        if analyst == "gemini" and not self.gemini_configured:
            raise AnalysisRefused("No GEMINI_API_KEY is configured, so Gemini cannot be asked. Set GEMINI_API_KEY "
                                  f"or use the {OFFLINE_LABEL}.", "NO_KEY")
        return analyst, model

    def _ask_offline(self, snap: Snapshot, model: str) -> StoredAnalysis:
        checked = check_answer(offline_answer(snap), snap)
        if not checked.ok:  # pragma: no cover - the rules pass by construction
            raise AnalysisRefused("the offline analyst produced invalid levels: " + "; ".join(checked.problems),
                                  "INVALID_ANSWER", offline_available=False)
        return self.store.add(analysis_record(snap, "offline", model, checked.answer, checked.notes))

    # ---- jobs ----------------------------------------------------------------------------

    def enqueue(self, symbol: str, at: datetime, headlines: Sequence[str] | None = None, *,
                analyst: str | None = None, model: str | None = None) -> str:
        """Check the input, create an ``analysis`` job row and send ``run_analysis``; return the job id.

        Bad input (unknown symbol, bad headlines, naive time) raises ``ValidationError`` and
        nothing is queued.
        """
        if self._queue is None or self._jobs is None:
            raise ValidationError("no job queue is configured for analyses")
        inst = self.resolve(symbol)
        at = require_aware(at, "at")
        if analyst is not None and analyst not in ("gemini", "offline"):
            raise ValidationError(f"analyst must be 'gemini' or 'offline', was {shown(analyst)}")
        if model is not None and (not isinstance(model, str) or not _MODEL_NAME.match(model.strip())):
            raise ValidationError(f"model name {shown(model)} is not valid; use a name such as {DEFAULT_MODEL}")
        args = {"symbol": inst.key, "at_iso": at.isoformat(), "headlines": clean_headlines(headlines),
                "analyst": analyst, "model": model}
        job_id = self._jobs.create("analysis", args)
        try:
            self._queue.enqueue(ANALYSIS_QUEUE, ANALYSIS_ACTOR, job_id=job_id, **args)
        except Exception as exc:
            self._jobs.fail(job_id, f"could not queue the analysis: {exc}")
            raise
        return job_id

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id) if self._jobs is not None else None

    # ---- reading -------------------------------------------------------------------------

    def get(self, analysis_id: str) -> StoredAnalysis | None:
        return self.store.get(analysis_id)

    def history(self, symbol: str | None = None, limit: int = 100) -> list[StoredAnalysis]:
        key = self.resolve(symbol).key if symbol else None
        return self.store.history(key, limit)

    def latest(self, symbol: str | int) -> StoredAnalysis | None:
        """The newest analysis of ``symbol`` (any key form, or an instrument_token), or ``None``;
        unknown symbols → ``None``."""
        try:
            key = (self.instruments.resolve(symbol) if isinstance(symbol, int) else self.resolve(symbol)).key
        except ValidationError:
            return None
        rows = self.store.history(key, 1)
        return rows[0] if rows else None

    def compare_frame(self, symbol: str) -> pd.DataFrame:
        """One row per analysis of ``symbol`` (newest first): time IST, analyst, verdict,
        confidence, levels ₹, LTP then, outcome."""
        rows = [{
            "as of (IST)": a.as_of.astimezone(IST).strftime("%d %b %Y %H:%M"), "analyst": a.label,
            "verdict": a.verdict, "confidence": round(a.confidence, 2),
            "LTP then": a.snapshot.get("ltp"), "entry": _f(a.entry), "stop": _f(a.stop), "target": _f(a.target),
            "horizon": a.time_horizon, "outcome": a.outcome or "not scored", "cost ₹": float(a.cost_inr),
        } for a in self.history(symbol)]
        return pd.DataFrame(rows, columns=_COMPARE_COLUMNS)

    # ---- outcomes ------------------------------------------------------------------------

    def score_outcomes(self, now: datetime) -> int:
        """See :meth:`OutcomeScorer.score_outcomes`."""
        return self.outcomes.score_outcomes(now)

    def hit_rates(self, analyst: str | None = None) -> pd.DataFrame:
        """See :meth:`OutcomeScorer.hit_rates`."""
        return self.outcomes.hit_rates(analyst)


def _f(x: Any) -> float | None:
    return None if x is None else float(x)
