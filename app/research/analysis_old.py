"""Analyses: "what do you make of this setup?" answered from the desk's own numbers.

``AnalysisService.analyse(symbol, at, headlines=None)`` builds the grounded snapshot
(:mod:`core.analysis.snapshot`) as of market time ``at``, asks Gemini (or the offline rules
analyst), checks the answer against the snapshot and stores it — or refuses clearly. Nothing
invalid is ever stored as an analysis.

* **Cache**: by ``(symbol, trading day, snapshot hash, model)``; a hit returns the stored row
  (``cached=True``) without a call.
* **Budget**: each Gemini call's tokens (``usageMetadata``) are priced with
  :class:`core.analysis.TokenPrices` (configurable, defaults documented there) and recorded in
  ``analysis_calls``; when the IST day's estimate reaches ``daily_budget_inr`` new calls are
  refused (``AnalysisRefused`` code ``BUDGET``).
* **Rate limit**: a Redis sliding window (``desk:ratelimit:gemini:generate``) shared by every
  worker, ``rate_per_minute`` calls a minute.
* **Offline analyst** with no ``GEMINI_API_KEY`` or on request, labelled "Offline analyst (rules)".
* Pasted **headlines** go into the prompt fenced as unverified text (and into the hash).

Outcomes: ``score_outcomes(now)`` judges stored verdicts against later 1-minute bars;
``hit_rates()`` tabulates them per verdict and confidence band.

Configuration (environment; every rate documented in ``core.analysis.costs``):
``DESK_GEMINI_MODEL`` (gemini-2.5-flash), ``DESK_GEMINI_BASE_URL`` or
``GOOGLE_GEMINI_BASE_URL``, ``DESK_GEMINI_API_VERSION`` (v1beta), ``DESK_GEMINI_TIMEOUT_S`` (30),
``DESK_ANALYSIS_DAILY_BUDGET_INR`` (50), ``DESK_GEMINI_INPUT_USD_PER_M`` (0.30),
``DESK_GEMINI_OUTPUT_USD_PER_M`` (2.50), ``DESK_INR_PER_USD`` (88), ``DESK_GEMINI_RPM`` (10).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pandas as pd
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.adapters.analysis_store import AnalysisStore, StoredAnalysis
from app.adapters.gemini import (
    DEFAULT_API_VERSION,
    DEFAULT_MODEL,
    GeminiAuthError,
    GeminiClient,
    GeminiError,
    GeminiModelError,
    GeminiTransientError,
)
from app.settings import DATA_DIR, Settings
from core.analysis import (
    OFFLINE_LABEL,
    OFFLINE_MODEL,
    AnalysisAnswer,
    PositionFact,
    Snapshot,
    TokenPrices,
    build_prompt,
    build_snapshot,
    call_cost_inr,
    check_answer,
    hit_rate_table,
    offline_answer,
    score_outcome,
)
from core.errors import DeskError, ValidationError
from core.models import Instrument
from core.risk.limits import RiskLimits
from core.timeutil import IST, UTC, require_aware

log = logging.getLogger(__name__)

ANALYSIS_QUEUE = "analysis"
ANALYSIS_ACTOR = "run_analysis"
MAX_HEADLINES = 10
MAX_HEADLINE_CHARS = 500
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NIFTY50_TOKEN = 256265


class AnalysisConfig(BaseSettings):
    """Analysis knobs from the environment (see the module docstring)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    model: str = Field(DEFAULT_MODEL, validation_alias=AliasChoices("DESK_GEMINI_MODEL"))
    base_url: str | None = Field(None, validation_alias=AliasChoices("DESK_GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"))
    api_version: str = Field(DEFAULT_API_VERSION, validation_alias=AliasChoices("DESK_GEMINI_API_VERSION"))
    timeout_s: float = Field(30.0, gt=0, validation_alias=AliasChoices("DESK_GEMINI_TIMEOUT_S"))
    daily_budget_inr: Decimal = Field(Decimal("50"), ge=0, validation_alias=AliasChoices("DESK_ANALYSIS_DAILY_BUDGET_INR"))
    input_usd_per_m: Decimal = Field(Decimal("0.30"), ge=0, validation_alias=AliasChoices("DESK_GEMINI_INPUT_USD_PER_M"))
    output_usd_per_m: Decimal = Field(Decimal("2.50"), ge=0, validation_alias=AliasChoices("DESK_GEMINI_OUTPUT_USD_PER_M"))
    inr_per_usd: Decimal = Field(Decimal("88"), gt=0, validation_alias=AliasChoices("DESK_INR_PER_USD"))
    rate_per_minute: int = Field(10, gt=0, validation_alias=AliasChoices("DESK_GEMINI_RPM"))
    rate_wait_s: float = Field(20.0, ge=0, validation_alias=AliasChoices("DESK_GEMINI_RATE_WAIT_S"))

    @property
    def prices(self) -> TokenPrices:
        return TokenPrices(self.input_usd_per_m, self.output_usd_per_m, self.inr_per_usd)


class AnalysisRefused(DeskError):
    """A clear refusal (never retried). ``code``: ``NO_KEY``, ``BAD_KEY``, ``MODEL_REJECTED``,
    ``REQUEST_REFUSED``, ``BUDGET`` or ``INVALID_ANSWER``. ``offline_available``: the trader
    can ask the offline analyst instead."""

    def __init__(self, message: str, code: str, *, offline_available: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.offline_available = offline_available


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


@lru_cache(maxsize=1)
def industries() -> dict[str, str]:
    """NSE symbol → industry, from NSE's NIFTY 500 list bundled in ``app/data/nse``."""
    path = DATA_DIR / "ind_nifty500list_2026-03.csv"
    try:
        with path.open(newline="") as fh:
            return {r["Symbol"].strip().upper(): r["Industry"].strip() for r in csv.DictReader(fh)}
    except OSError:
        return {}


#: Industry → the sector index whose bundled minute bars give sector context.
SECTOR_INDEX = {"Information Technology": "NIFTY IT"}


def label_for(analyst: str, model: str) -> str:
    return OFFLINE_LABEL if analyst == "offline" else f"Gemini ({model})"


class AnalysisService:
    """Grounded analyses. Build it with :func:`build_analysis_service` from the container."""

    def __init__(self, settings: Settings, store: AnalysisStore, instruments: Any, *, bars_store: Any = None,
                 ticks: Any = None, trading: Any = None, redis: Any = None, queue: Any = None,
                 jobs: Any = None, config: AnalysisConfig | None = None,
                 gemini_factory: Callable[..., GeminiClient] | None = None,
                 wall_clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.instruments = instruments
        self.config = config or AnalysisConfig()
        self._bars_store = bars_store
        self._ticks = ticks
        self._trading = trading
        self._redis = redis
        self._queue = queue
        self._jobs = jobs
        self._gemini_factory = gemini_factory or GeminiClient
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self._client: GeminiClient | None = None
        self._limiter = None

    # ---- what is available ---------------------------------------------------------------

    @property
    def gemini_configured(self) -> bool:
        key = self.settings.gemini_api_key
        return bool(key and key.get_secret_value().strip())

    def default_analyst(self) -> str:
        return "gemini" if self.gemini_configured else "offline"

    def budget(self, day: date | None = None) -> BudgetView:
        day = day or self._wall().astimezone(IST).date()
        calls = self.store.calls(day, limit=10_000)
        return BudgetView(day, self.store.spent_on(day), self.config.daily_budget_inr, len(calls))

    # ---- the snapshot --------------------------------------------------------------------

    def resolve(self, symbol: str) -> Instrument:
        if not isinstance(symbol, str) or not symbol.strip():
            raise ValidationError("type a symbol such as INFY or NSE:INFY")
        return self.instruments.resolve(symbol)

    def snapshot(self, symbol: str, at: datetime, headlines: Sequence[str] | None = None,
                 scan_hits: Sequence[str] = ()) -> Snapshot:
        """The grounded snapshot of ``symbol`` at market time ``at`` (no look-ahead).

        Raises ``ValidationError`` for an unknown symbol, an index, bad headlines or no data
        on ``at``'s day up to ``at``.
        """
        at = require_aware(at, "at").astimezone(IST)
        inst = self.resolve(symbol)
        lines = clean_headlines(headlines)
        if not inst.tradable:
            raise ValidationError(f"{inst.key} is an index and cannot be traded; analyse a stock instead")
        industry = industries().get(inst.tradingsymbol.upper(), "")
        return build_snapshot(
            inst, at, self._minute_bars(inst, at), tick=self._tick(inst.instrument_token), daily=self._daily(inst),
            industry=industry, market=self._market_context(at, industry), scan_hits=list(scan_hits),
            positions=self._positions(inst, at), limits=self._limits(), headlines=lines)

    def _minute_bars(self, inst: Instrument, at: datetime) -> pd.DataFrame:
        frame = None
        if self._bars_store is not None:
            try:
                frame = self._bars_store.bars.frame(inst.instrument_token, "minute", at - timedelta(days=7), at)
            except Exception as exc:  # the store being down should not hide bundled data
                log.warning("minute bars of %s unavailable from the store: %s", inst.key, exc)
        if (frame is None or frame.empty) and self.settings.market == "replay":
            from app.adapters.nse_data import minute_bars_for

            frame = minute_bars_for(inst.tradingsymbol)
        return frame if frame is not None else pd.DataFrame()

    def _daily(self, inst: Instrument) -> pd.DataFrame | None:
        from app.adapters.nse_data import load_daily

        d = load_daily()
        d = d[d["symbol"] == inst.tradingsymbol]
        return d.set_index("date")[["open", "high", "low", "close", "volume"]] if len(d) else None

    def _tick(self, token: int):
        if self._ticks is None:
            return None
        try:
            cached = self._ticks.latest([token]).get(token)
        except Exception as exc:
            log.warning("tick cache unavailable for the snapshot: %s", exc)
            return None
        return cached.tick if cached is not None else None

    def _market_context(self, at: datetime, industry: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        tick = self._tick(NIFTY50_TOKEN)
        if tick is not None and tick.exchange_timestamp is not None and tick.close \
                and tick.exchange_timestamp <= at and tick.exchange_timestamp.astimezone(IST).date() == at.date():
            out["nifty50_change_pct"] = round(tick.change_pct or 0.0, 2)
        else:
            from app.adapters.nse_data import load_daily

            d = load_daily()
            n = d[(d["symbol"] == "NIFTY 50") & (d["date"] < at.date())].tail(2)
            if len(n) == 2:
                out["nifty50_prev_session_change_pct"] = round(
                    float((n["close"].iloc[1] - n["close"].iloc[0]) * 100 / n["close"].iloc[0]), 2)
        index = SECTOR_INDEX.get(industry)
        if index and self.settings.market == "replay":
            from app.adapters.nse_data import minute_bars_for

            m = minute_bars_for(index)
            m = m[m.index + pd.Timedelta(minutes=1) <= pd.Timestamp(at)]
            today, before = m[m.index.date == at.date()], m[m.index.date < at.date()]
            if len(today) and len(before):
                prev = float(before["close"].iloc[-1])
                out[f"{index.lower().replace(' ', '_')}_change_pct"] = round(
                    (float(today["close"].iloc[-1]) - prev) * 100 / prev, 2)
        return out

    def _positions(self, inst: Instrument, at: datetime) -> list[PositionFact]:
        if self._trading is None:
            return []
        try:
            rows = self._trading.positions(at)
        except Exception as exc:
            log.warning("positions unavailable for the snapshot: %s", exc)
            return []
        return [PositionFact(p.product, p.quantity, float(p.average_price), float(p.unrealized))
                for p in rows if p.instrument_token == inst.instrument_token and p.quantity]

    def _limits(self) -> RiskLimits | None:
        if self._trading is None:
            return RiskLimits()
        try:
            view = self._trading.risk_limits()
            return RiskLimits(**{f.name: getattr(view, f.name) for f in fields(RiskLimits)})
        except Exception as exc:
            log.warning("risk limits unavailable for the snapshot: %s", exc)
            return RiskLimits()

    # ---- analyse -------------------------------------------------------------------------

    def analyse(self, symbol: str, at: datetime, headlines: Sequence[str] | None = None, *,
                analyst: str | None = None, model: str | None = None, scan_hits: Sequence[str] = (),
                progress: Callable[[float, str], None] | None = None) -> StoredAnalysis:
        """Analyse ``symbol`` at market time ``at``; return the stored (or cached) analysis.

        ``analyst``: ``"gemini"``, ``"offline"`` or ``None`` (Gemini when a key is configured).
        Raises ``ValidationError`` (bad input: unknown symbol, no data today, bad headlines or
        model name), :class:`AnalysisRefused` (no/invalid key, model rejected, budget spent,
        answer invalid: nothing stored), and :class:`GeminiTransientError` or
        ``RateLimitTimeout`` for 429/5xx/timeouts (the job retries).
        """
        step = progress or (lambda f, m: None)
        analyst = analyst or self.default_analyst()
        if analyst not in ("gemini", "offline"):
            raise ValidationError(f"analyst must be 'gemini' or 'offline', was {analyst!r}")
        model = OFFLINE_MODEL if analyst == "offline" else (model or self.config.model).strip()
        if not _MODEL_NAME.match(model):
            raise ValidationError(f"model name {model!r} is not valid; use a name such as {DEFAULT_MODEL}")
        if analyst == "gemini" and not self.gemini_configured:
            raise AnalysisRefused("No GEMINI_API_KEY is configured, so Gemini cannot be asked. Set GEMINI_API_KEY "
                                  f"or use the {OFFLINE_LABEL}.", "NO_KEY")
        step(0.1, "building the snapshot from the desk's data")
        snap = self.snapshot(symbol, at, headlines, scan_hits)
        cached = self.store.find_cached(snap.key, snap.trading_day, snap.digest, model)
        if cached is not None:
            step(1.0, "same snapshot already analysed: using the stored answer")
            return replace(cached, cached=True)
        if analyst == "offline":
            step(0.6, "running the offline rules")
            checked = check_answer(offline_answer(snap), snap)
            if not checked.ok:  # pragma: no cover - the rules pass by construction
                raise AnalysisRefused("the offline analyst produced invalid levels: " + "; ".join(checked.problems),
                                      "INVALID_ANSWER", offline_available=False)
            return self._store(snap, "offline", model, checked.answer, checked.notes)
        return self._ask_gemini(snap, model, step)

    def _ask_gemini(self, snap: Snapshot, model: str, step: Callable[[float, str], None]) -> StoredAnalysis:
        budget = self.budget()
        if budget.exhausted:
            raise AnalysisRefused(
                f"Today's Gemini budget is spent: ₹{budget.spent:,.2f} of ₹{budget.limit:,.2f} estimated over "
                f"{budget.calls} call(s) on {budget.day:%d %b %Y} (IST). New calls resume tomorrow; raise "
                f"DESK_ANALYSIS_DAILY_BUDGET_INR or use the {OFFLINE_LABEL}.", "BUDGET")
        step(0.3, "waiting for the shared Gemini rate limit")
        self._acquire_permit()
        step(0.4, f"asking {model}")
        wall = self._wall()
        record = dict(at=wall, day=wall.astimezone(IST).date(), symbol=snap.key, model=model)
        try:
            reply = self._gemini().generate(model, build_prompt(snap), AnalysisAnswer)
        except GeminiError as exc:
            self.store.record_call(status="error", message=str(exc), **record)
            if isinstance(exc, GeminiTransientError):
                raise
            code = "BAD_KEY" if isinstance(exc, GeminiAuthError) else \
                "MODEL_REJECTED" if isinstance(exc, GeminiModelError) else "REQUEST_REFUSED"
            raise AnalysisRefused(str(exc), code) from None
        cost = call_cost_inr(reply.prompt_tokens, reply.output_tokens, self.config.prices)
        usage = dict(prompt_tokens=reply.prompt_tokens, output_tokens=reply.output_tokens, cost_inr=cost)
        step(0.8, "checking the answer against the snapshot")
        if reply.parsed is None:
            self.store.record_call(status="invalid", message=reply.parse_error or "", **usage, **record)
            raise AnalysisRefused(f"Gemini's answer was rejected: {reply.parse_error}. Nothing was stored.",
                                  "INVALID_ANSWER")
        checked = check_answer(reply.parsed, snap)  # type: ignore[arg-type]
        if not checked.ok:
            why = "; ".join(checked.problems)
            self.store.record_call(status="invalid", message=why, **usage, **record)
            raise AnalysisRefused(f"Gemini's levels failed the desk's checks: {why}. Nothing was stored.",
                                  "INVALID_ANSWER")
        self.store.record_call(status="ok", **usage, **record)
        return self._store(snap, "gemini", model, checked.answer, checked.notes, **usage)

    def _store(self, snap: Snapshot, analyst: str, model: str, a: AnalysisAnswer, notes: Sequence[str],
               prompt_tokens: int = 0, output_tokens: int = 0, cost_inr: Decimal = Decimal(0)) -> StoredAnalysis:
        def dec(x: float | None) -> Decimal | None:
            return None if x is None else Decimal(str(x)).quantize(Decimal("0.01"))

        return self.store.add(StoredAnalysis(
            id="", symbol=snap.key, instrument_token=snap.instrument_token, trading_day=snap.trading_day,
            as_of=snap.as_of.astimezone(UTC), snapshot_hash=snap.digest, model=model, analyst=analyst,
            label=label_for(analyst, model), verdict=a.verdict, confidence=float(a.confidence), entry=dec(a.entry),
            stop=dec(a.stop), target=dec(a.target), time_horizon=a.time_horizon, reasons=list(a.reasons),
            risks=list(a.risks), notes=list(notes), snapshot=snap.to_dict(), prompt_tokens=prompt_tokens,
            output_tokens=output_tokens, cost_inr=cost_inr))

    def _gemini(self) -> GeminiClient:
        if self._client is None:
            key = self.settings.gemini_api_key.get_secret_value()  # type: ignore[union-attr]
            self._client = self._gemini_factory(key, base_url=self.config.base_url,
                                                api_version=self.config.api_version, timeout_s=self.config.timeout_s)
        return self._client

    def _acquire_permit(self) -> None:
        if self._redis is None:
            return
        if self._limiter is None:
            from app.adapters.rate_limit import RateLimit, RedisRateLimiter

            self._limiter = RedisRateLimiter(self._redis, RateLimit("gemini:generate", self.config.rate_per_minute, 60.0))
        self._limiter.acquire(timeout=self.config.rate_wait_s)

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
        args = {"symbol": inst.key, "at_iso": at.isoformat(), "headlines": clean_headlines(headlines),
                "analyst": analyst, "model": model}
        job_id = self._jobs.create("analysis", args)
        try:
            self._queue.enqueue(ANALYSIS_QUEUE, ANALYSIS_ACTOR, job_id=job_id, **args)
        except Exception as exc:
            self._jobs.fail(job_id, f"could not queue the analysis: {exc}")
            raise
        return job_id

    def job(self, job_id: str):
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
        return pd.DataFrame(rows, columns=["as of (IST)", "analyst", "verdict", "confidence", "LTP then", "entry",
                                           "stop", "target", "horizon", "outcome", "cost ₹"])

    # ---- outcomes ------------------------------------------------------------------------

    def score_outcomes(self, now: datetime) -> int:
        """Score every unscored or pending analysis against bars up to market time ``now``;
        return how many were updated to hit or miss."""
        now = require_aware(now, "now")
        done = 0
        for a in self.store.unscored():
            if a.as_of > now:
                continue
            try:
                inst = self.instruments.by_token(a.instrument_token)
            except ValidationError:
                continue
            later = self._minute_bars(inst, now)
            ref = float(a.entry) if a.entry is not None else float(a.snapshot.get("ltp") or 0)
            if ref <= 0:
                continue
            o = score_outcome(a.verdict, ref, at=a.as_of, time_horizon=a.time_horizon, later=later, now=now,
                              stop=_f(a.stop), target=_f(a.target))
            self.store.set_outcome(a.id, o.status, o.detail, o.return_pct, o.resolved_at)
            done += o.status != "pending"
        return done

    def hit_rates(self, analyst: str | None = None) -> pd.DataFrame:
        """Hit rates per verdict and confidence band (see ``core.analysis.hit_rate_table``)."""
        rows = [(v, c, o) for v, c, o, who in self.store.outcome_rows() if analyst is None or who == analyst]
        return hit_rate_table(rows)


def _f(x: Decimal | None) -> float | None:
    return None if x is None else float(x)


def clean_headlines(headlines: Sequence[str] | str | None) -> list[str]:
    """Trader-pasted headlines: one per line (a string) or a list; blanks dropped.

    Raises ``ValidationError`` for more than ``MAX_HEADLINES`` lines or a line longer than
    ``MAX_HEADLINE_CHARS`` characters.
    """
    if headlines is None:
        return []
    items = headlines.splitlines() if isinstance(headlines, str) else list(headlines)
    out = [" ".join(str(h).split()) for h in items if str(h).strip()]
    if len(out) > MAX_HEADLINES:
        raise ValidationError(f"paste at most {MAX_HEADLINES} headlines (one per line), got {len(out)}")
    long = [h for h in out if len(h) > MAX_HEADLINE_CHARS]
    if long:
        raise ValidationError(f"a headline is longer than {MAX_HEADLINE_CHARS} characters; paste the headline, "
                              "not the article")
    return out


def build_analysis_service(svc: Any) -> AnalysisService:
    """The service wired from the container's parts (``app.container.Services``)."""
    trading = None
    try:
        trading = svc.trading
    except Exception as exc:  # the desk still analyses without the trading store
        log.warning("trading service unavailable for analyses: %s", exc)
    return AnalysisService(svc.settings, AnalysisStore(svc.sql.engine), svc.instruments, bars_store=svc.store,
                           ticks=svc.ticks, trading=trading, redis=svc.redis, queue=svc.jobs, jobs=svc.store.jobs)


def analysis_service(svc: Any) -> AnalysisService:
    """``svc.analysis`` once the container has it; until then one service per ``svc``, built
    with :func:`build_analysis_service` and kept on the instance."""
    if hasattr(type(svc), "analysis"):
        return svc.analysis
    found = vars(svc).get("_analysis_service")
    if found is None:
        found = vars(svc)["_analysis_service"] = build_analysis_service(svc)
    return found
