"""Asking Gemini about a snapshot: the daily budget, the shared rate limit, the call, the checks.

* **Budget**: each call's tokens (``usageMetadata``) are priced with
  :class:`core.analysis.TokenPrices` and recorded in ``analysis_calls``; when the IST day's
  estimate reaches ``daily_budget_inr`` new calls are refused (``AnalysisRefused`` ``BUDGET``).
* **Rate limit**: a permit from a limiter shared by every worker (Redis
  ``desk:ratelimit:gemini:generate``); :data:`NO_RATE_LIMIT` where there is none.
* **Checks**: an answer that does not parse or whose levels fail
  :func:`core.analysis.check_answer` is refused; nothing invalid is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from app.adapters.analysis_store import AnalysisStore, StoredAnalysis
from app.adapters.gemini import (
    GeminiAuthError,
    GeminiError,
    GeminiModelError,
    GeminiReply,
    GeminiTransientError,
)
from app.research.analysis.records import analysis_record
from app.research.analysis.refused import AnalysisRefused
from app.settings import AnalysisSettings
from core.analysis import OFFLINE_LABEL, AnalysisAnswer, Snapshot, build_prompt, call_cost_inr, check_answer
from core.timeutil import IST, UTC

Progress = Callable[[float, str], None]


class Generator(Protocol):
    """The Gemini client's one call (``app.adapters.gemini.GeminiClient.generate``)."""

    def generate(self, model: str, prompt: str, schema: type[AnalysisAnswer]) -> GeminiReply: ...


class RateLimiter(Protocol):
    def acquire(self, timeout: float = 30.0) -> float: ...


class _NoRateLimit:
    """The null limiter: every permit is free (no shared Redis window)."""

    def acquire(self, timeout: float = 30.0) -> float:
        return 0.0


NO_RATE_LIMIT: RateLimiter = _NoRateLimit()


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def wall_now() -> datetime:
    """The wall clock (UTC): the budget's IST day and each call's record time."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class BudgetView:
    """The IST day's Gemini spend estimate: ``spent``/``limit``/``remaining`` ₹, ``calls``."""

    day: date
    spent: Decimal
    limit: Decimal
    calls: int

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.limit - self.spent)

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.limit


def budget_of(store: AnalysisStore, day: date, limit: Decimal) -> BudgetView:
    """``day``'s (IST) spend and call count from the ``analysis_calls`` records."""
    return BudgetView(day, store.spent_on(day), limit, len(store.calls(day, limit=10_000)))


class GeminiAnalyst:
    """Asks Gemini for an :class:`AnalysisAnswer` and stores it when it passes the checks.

    Raises :class:`AnalysisRefused` (budget spent, key or model rejected, invalid answer),
    :class:`GeminiTransientError` (429, 5xx, timeouts) and ``RateLimitTimeout`` (no permit).
    Every call, failed or not, is recorded with its tokens and estimated cost *before* its
    answer is judged; negative usage counts are recorded as 0 and flagged in the call's message
    and the stored analysis's notes.
    """

    def __init__(self, store: AnalysisStore, client: Generator, config: AnalysisSettings, *,
                 limiter: RateLimiter = NO_RATE_LIMIT, wall_clock: Callable[[], datetime] = wall_now) -> None:
        self.store = store
        self.config = config
        self._client = client
        self._limiter = limiter
        self._wall = wall_clock

    def budget(self, day: date | None = None) -> BudgetView:
        day = day or self._wall().astimezone(IST).date()
        return budget_of(self.store, day, self.config.daily_budget_inr)

    def ask(self, snap: Snapshot, model: str, step: Progress) -> StoredAnalysis:
        """Ask ``model`` about ``snap``; return the stored analysis (see the class docstring)."""
        self._check_budget()
        step(0.3, "waiting for the shared Gemini rate limit")
        self._limiter.acquire(timeout=self.config.rate_wait_s)
        step(0.4, f"asking {model}")
        wall = self._wall()
        record = dict(at=wall, day=wall.astimezone(IST).date(), symbol=snap.key, model=model)
        reply = self._generate(snap, model, record)
        # The call is paid for: its usage goes into the budget log whatever the answer turns out
        # to be. Token counts are clamped to >= 0 here too (any ``Generator``, not only ours), the
        # answer is checked inside the try, and the call is recorded before anything is raised.
        prompt_tokens, output_tokens = max(int(reply.prompt_tokens), 0), max(int(reply.output_tokens), 0)
        flag = getattr(reply, "usage_note", "") or (
            "" if (prompt_tokens, output_tokens) == (reply.prompt_tokens, reply.output_tokens)
            else f"Gemini sent negative usage counts ({reply.prompt_tokens}, {reply.output_tokens}); recorded as 0")
        cost = call_cost_inr(prompt_tokens, output_tokens, self.config.prices)
        usage = dict(prompt_tokens=prompt_tokens, output_tokens=output_tokens, cost_inr=cost)
        step(0.8, "checking the answer against the snapshot")
        checked, refusal = None, None
        try:
            if reply.parsed is None:
                refusal = f"Gemini's answer was rejected: {reply.parse_error}. Nothing was stored."
                why = reply.parse_error or ""
            else:
                checked = check_answer(reply.parsed, snap)  # type: ignore[arg-type]
                why = "; ".join(checked.problems)
                if not checked.ok:
                    refusal = f"Gemini's levels failed the desk's checks: {why}. Nothing was stored."
        except Exception as exc:  # a bug in the checks must not drop the paid call from the log
            self.store.record_call(status="invalid", message=_joined(f"check failed: {exc}"[:300], flag),
                                   **usage, **record)
            raise
        self.store.record_call(status="invalid" if refusal else "ok", message=_joined(why if refusal else "", flag),
                               **usage, **record)
        if refusal:
            raise AnalysisRefused(refusal, "INVALID_ANSWER")
        assert checked is not None
        notes = (*checked.notes, flag) if flag else checked.notes
        return self.store.add(analysis_record(snap, "gemini", model, checked.answer, notes, **usage))

    def _check_budget(self) -> None:
        budget = self.budget()
        if budget.exhausted:
            raise AnalysisRefused(
                f"Today's Gemini budget is spent: ₹{budget.spent:,.2f} of ₹{budget.limit:,.2f} estimated over "
                f"{budget.calls} call(s) on {budget.day:%d %b %Y} (IST). New calls resume tomorrow; raise "
                f"DESK_ANALYSIS_DAILY_BUDGET_INR or use the {OFFLINE_LABEL}.", "BUDGET")

    def _generate(self, snap: Snapshot, model: str, record: dict[str, Any]) -> GeminiReply:
        """The call itself; a failed call is recorded, a non-transient failure becomes a refusal."""
        try:
            return self._client.generate(model, build_prompt(snap), AnalysisAnswer)
        except GeminiError as exc:
            self.store.record_call(status="error", message=str(exc), **record)
            if isinstance(exc, GeminiTransientError):
                raise
            code = "BAD_KEY" if isinstance(exc, GeminiAuthError) else \
                "MODEL_REJECTED" if isinstance(exc, GeminiModelError) else "REQUEST_REFUSED"
            raise AnalysisRefused(str(exc), code) from None
