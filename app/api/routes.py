"""The API's endpoints under ``/api/v1`` (errors and auth: ``app.api.server``, ``app.api.deps``).

Every endpoint calls the service the page calls, with the page's arguments: the order ticket's
``ticket_intent`` builds the ``OrderIntent``, ``TradingService`` judges and records it
(``core.gatekeeper`` through ``place_manual`` / ``preview_order`` / ``modify_order``), the
research services queue the long work and the jobs table reports it. Time is the desk's market
time (``market_clock``), as on the pages. Writes are audited by the services with the key's
owner (``Principal.user``) as the actor.

Scopes: ``read`` every GET; ``propose`` proposals, validation and research jobs; ``trade``
direct orders, modify, cancel, kill switch and resume; ``admin`` risk limits and strategy
configuration (and everything else).

Money is ₹ as JSON numbers (the services' ``Decimal`` values converted exactly to the nearest
float), quantities are shares, times are ISO 8601 with their offset (IST for market times).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import sys
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ApiError, Principal, Services, get_services, require_scope
from app.api.models import model_of
from app.trading.views import (
    ActionOutcome,
    ApprovalView,
    FundsView,
    LimitsView,
    OrderPreview,
    OrderView,
    PositionView,
    RiskStatusView,
    TradeView,
)
from app.ui.order_ticket import ticket_intent
from core.errors import ValidationError
from core.timeutil import IST

router = APIRouter()

READ, PROPOSE, TRADE, ADMIN = (Depends(require_scope(s)) for s in ("read", "propose", "trade", "admin"))


# ---- JSON ---------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` as JSON-simple data: dataclasses → dicts, ``Decimal`` → float, datetimes →
    ISO 8601, enums → their value, frames → lists of row dicts, NaN → None."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    pd = sys.modules.get("pandas")  # not imported yet: no pandas value exists
    if isinstance(value, datetime) or (pd is not None and isinstance(value, pd.Timestamp)):
        return None if pd is not None and pd.isna(value) else value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    shape = _dataclass_shape(type(value))
    if shape is not None:
        names, with_total = shape
        out = {name: jsonable(getattr(value, name)) for name in names}
        if with_total and isinstance(total := getattr(value, "total", None), Decimal):  # Charges
            out["total"] = jsonable(total)
        return out
    if pd is not None and isinstance(value, pd.DataFrame):
        return [jsonable(r) for r in value.reset_index().to_dict("records")] if value.index.name else \
            [jsonable(r) for r in value.to_dict("records")]
    if pd is not None and isinstance(value, pd.Series):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)


def answer(value: Any, status_code: int = 200) -> JSONResponse:
    """``value`` (``jsonable``) as the JSON response itself. FastAPI passes a returned
    ``Response`` through as it is, so the route's ``response_model`` documents the shape
    (OpenAPI) without validating every row of the answer again on the way out (for a book of
    rows that re-validation cost more than building the answer)."""
    return JSONResponse(jsonable(value), status_code=status_code)


@lru_cache(maxsize=None)
def _dataclass_shape(cls: type) -> tuple[tuple[str, ...], bool] | None:
    """A dataclass's field names and whether it adds a ``total`` property (``Charges``); None
    for any other type. Worked out once per type: a book of rows asks for every row."""
    if not dataclasses.is_dataclass(cls):
        return None
    names = tuple(f.name for f in dataclasses.fields(cls))
    return names, "total" not in names and isinstance(getattr(cls, "total", None), property)


def _now(svc: Services) -> datetime:
    """The desk's market time (tz-aware), as the pages' ``desk_clock``."""
    return svc.market_clock.now().now


def _instrument(svc: Services, symbol: str, field: str = "symbol") -> Any:
    """The instrument for ``symbol`` (``NSE:INFY``, ``INFY`` or a token); 404 if unknown."""
    key: str | int = int(symbol) if str(symbol).isdigit() else str(symbol)
    try:
        found = svc.instruments.find(key)
    except ValidationError as exc:
        raise ApiError(422, "invalid", str(exc), field=field) from exc
    if found is None:
        hint = svc.instruments.suggestions(str(symbol)) if isinstance(key, str) else []
        raise ApiError(404, "unknown_symbol", f"unknown symbol {symbol!r}"
                       + (f"; did you mean {', '.join(hint)}?" if hint else ""), field=field)
    return found


def _not_after_market_time(svc: Services, when: datetime | None, field: str) -> None:
    """422 for a naive ``when`` or one after market time (the desk does not see the future)."""
    if when is None:
        return
    if when.tzinfo is None:
        raise ApiError(422, "invalid", f"{field} needs a UTC offset, e.g. 2016-09-09T10:00:00+05:30", field=field)
    market_now = svc.market_data.now()
    if when > market_now:
        raise ApiError(422, "invalid", f"{field} {when.isoformat()} is after market time "
                                       f"{market_now.isoformat()}; ask for a time up to it", field=field)


def _refused(out: Any) -> None:
    """A gatekeeper (or state) refusal as 409 with its reason codes."""
    if not out.ok and not out.noop:
        raise ApiError(409, "refused", "; ".join(out.messages) or "refused by the desk's rules",
                       reasons=[str(r) for r in out.reasons])


# ---- health and market data ---------------------------------------------------------------------


class Health(BaseModel):
    """``status`` ``ok``; ``market`` ``replay`` | ``kite``; ``time`` wall clock UTC; ``market_time``
    the desk's market time (IST)."""

    status: str
    market: str
    time: datetime
    market_time: datetime | None = None


@router.get("/health", response_model=Health, tags=["health"])
def health(svc: Services = Depends(get_services)) -> Health:
    """Liveness (no key needed): the market mode and the desk's market time."""
    try:
        market_time = _now(svc).astimezone(IST)
    except Exception:  # noqa: BLE001 - health answers even with Redis down
        market_time = None
    return Health(status="ok", market=svc.settings.market, time=datetime.now(UTC), market_time=market_time)


def _inst_json(inst: Any) -> dict:
    return {"instrument_token": inst.instrument_token, "exchange": inst.exchange, "tradingsymbol": inst.tradingsymbol,
            "key": inst.key, "name": inst.name, "lot_size": inst.lot_size, "tick_size": jsonable(inst.tick_size),
            "segment": getattr(inst, "segment", None), "instrument_type": getattr(inst, "instrument_type", None)}


@router.get("/instruments", tags=["market"])
def instruments(q: str = Query(..., min_length=1, max_length=40, description="symbol prefix, e.g. INF"),
                limit: int = Query(20, ge=1, le=200), _p: Principal = READ,
                svc: Services = Depends(get_services)) -> list[dict]:
    """Instruments whose tradingsymbol starts with ``q`` (case-insensitive)."""
    return [_inst_json(i) for i in svc.instruments.search(q.strip().split(":")[-1], limit=limit)]


@router.get("/instruments/{symbol}", tags=["market"])
def instrument(symbol: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    """One instrument (``NSE:INFY``, ``INFY`` or an instrument_token); 404 if unknown."""
    return _inst_json(_instrument(svc, symbol))


@router.get("/quote", tags=["market"])
def quote(symbols: str = Query(..., description="comma-separated, e.g. NSE:INFY,TCS"), _p: Principal = READ,
          svc: Services = Depends(get_services)) -> JSONResponse:
    """The latest tick of each symbol from the tick cache: ``{key: {instrument_token, ltp,
    change_pct, volume, ohlc {open, high, low, close (previous)}, exchange_timestamp,
    received_at, age_seconds, depth {buy, sell}}}``; ``ltp`` null when it has not ticked."""
    keys = [s.strip() for s in symbols.split(",") if s.strip()]
    if not keys or len(keys) > 500:
        raise ApiError(422, "invalid", f"give 1 – 500 symbols, got {len(keys)}", field="symbols")
    insts = [_instrument(svc, k, field="symbols") for k in keys]
    cached = svc.ticks.latest([i.instrument_token for i in insts])
    wall = datetime.now(UTC)
    out: dict[str, Any] = {}
    for inst in insts:
        c = cached.get(inst.instrument_token)
        t = c.tick if c else None
        out[inst.key] = {
            "instrument_token": inst.instrument_token, "tradingsymbol": inst.tradingsymbol,
            "ltp": t.last_price if t and t.last_price > 0 else None,
            "change_pct": jsonable(t.change_pct) if t else None,
            "volume": t.volume_traded if t else None,
            "ohlc": {"open": t.open, "high": t.high, "low": t.low, "close": t.close} if t else None,
            "exchange_timestamp": jsonable(t.exchange_timestamp) if t else None,
            "received_at": jsonable(c.received_at) if c else None,
            "age_seconds": round(c.age_seconds(wall), 3) if c else None,
            "depth": {"buy": [jsonable(d) for d in t.bids], "sell": [jsonable(d) for d in t.asks]} if t else None,
        }
    return JSONResponse(out)  # already JSON-simple: no second encoding pass


@router.get("/ohlcv/{symbol}", tags=["market"])
def ohlcv(symbol: str, interval: str = Query("day", description="minute, 3minute … 60minute, day, week"),
          as_of: datetime | None = Query(None, description="ISO 8601 with offset; not after market time"),
          bars: int = Query(250, ge=1, le=5000), forming: bool = False, _p: Principal = READ,
          svc: Services = Depends(get_services)) -> dict:
    """OHLCV as of market time (``MarketDataService.ohlcv``: the Chart page's read): only bars
    closed by ``as_of`` (default market now), plus the forming bar with ``forming``. An
    ``as_of`` after market time is refused (the desk does not see the future)."""
    inst = _instrument(svc, symbol)
    market_now = svc.market_data.now()
    _not_after_market_time(svc, as_of, "as_of")
    try:
        frame = svc.market_data.ohlcv(inst.instrument_token, interval, as_of=as_of, bars=bars, forming=forming)
    except ValidationError as exc:
        raise ApiError(422, "invalid", str(exc), field="interval") from exc
    frame = frame.tail(bars)
    rows = [{"ts": ts.isoformat(), "open": float(r.open), "high": float(r.high), "low": float(r.low),
             "close": float(r.close), "volume": int(r.volume)} for ts, r in zip(frame.index, frame.itertuples())]
    return {"key": inst.key, "interval": interval, "as_of": jsonable(frame.attrs.get("as_of")),
            "market_time": market_now.isoformat(), "warning": frame.attrs.get("warning"), "bars": rows}


# ---- jobs ---------------------------------------------------------------------------------------


def _job_json(job: Any) -> dict:
    return {"job_id": job.id, "kind": job.kind, "status": jsonable(job.status), "progress": job.progress,
            "message": job.message, "finished": job.finished, "result": jsonable(job.result),
            "created_at": jsonable(job.created_at), "updated_at": jsonable(job.updated_at)}


def _job(svc: Services, job_id: str, kind: str) -> Any:
    job = svc.store.jobs.get(job_id)
    if job is None or job.kind != kind:
        raise ApiError(404, "not_found", f"no {kind} job {job_id!r}", field="job_id")
    return job


def _finished(job: Any) -> None:
    if not job.finished:
        raise ApiError(409, "not_ready", f"job {job.id} is {jsonable(job.status)} ({job.message}); poll its status")
    if jsonable(job.status) == "failed":
        raise ApiError(422, "job_failed", f"job {job.id} failed: {job.message}")


class ScanRequest(BaseModel):
    """A built-in scan key or a Chartink-like expression over a universe (``NIFTY 50`` …)."""

    model_config = ConfigDict(extra="forbid")
    scan: str = Field(..., min_length=1, max_length=2000)
    universe: str = Field(..., min_length=1, max_length=100)
    as_of: datetime | None = None
    forming: bool = False


class JobAccepted(BaseModel):
    job_id: str
    status_url: str


@router.post("/scans", status_code=202, response_model=JobAccepted, tags=["research"])
def submit_scan(body: ScanRequest, _p: Principal = PROPOSE, svc: Services = Depends(get_services)) -> JobAccepted:
    """Queue a scan (``ScannerService.enqueue``); poll ``/scans/{job_id}``."""
    _not_after_market_time(svc, body.as_of, "body.as_of")
    job_id = svc.scanner.enqueue(body.scan, body.universe, body.as_of, forming=body.forming)
    return JobAccepted(job_id=job_id, status_url=f"/api/v1/scans/{job_id}")


@router.get("/scans/{job_id}", tags=["research"])
def scan_status(job_id: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    return _job_json(_job(svc, job_id, "scan"))


@router.get("/scans/{job_id}/result", tags=["research"])
def scan_result(job_id: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    """The finished scan's hits (409 while it runs)."""
    job = _job(svc, job_id, "scan")
    _finished(job)
    run_id = (job.result or {}).get("run_id") or job_id
    return {"job_id": job_id, "run_id": run_id, "matched": (job.result or {}).get("matched"),
            "hits": jsonable(svc.scanner.hits_frame(run_id))}


class AnalysisRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(..., min_length=1, max_length=40)
    at: datetime | None = None
    headlines: list[str] | None = Field(None, max_length=20)
    analyst: str | None = None


@router.post("/analyses", status_code=202, response_model=JobAccepted, tags=["research"])
def submit_analysis(body: AnalysisRequest, _p: Principal = PROPOSE,
                    svc: Services = Depends(get_services)) -> JobAccepted:
    """Queue a second opinion on ``symbol`` at ``at`` (default market time); poll ``/analyses/jobs/{job_id}``."""
    inst = _instrument(svc, body.symbol)
    _not_after_market_time(svc, body.at, "body.at")
    at = body.at or _now(svc)
    job_id = svc.analysis.enqueue(inst.key, at, body.headlines, analyst=body.analyst)
    return JobAccepted(job_id=job_id, status_url=f"/api/v1/analyses/jobs/{job_id}")


@router.get("/analyses/jobs/{job_id}", tags=["research"])
def analysis_status(job_id: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    return _job_json(_job(svc, job_id, "analysis"))


@router.get("/analyses/jobs/{job_id}/result", tags=["research"])
def analysis_result(job_id: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    """The finished job's analysis (409 while it runs)."""
    job = _job(svc, job_id, "analysis")
    _finished(job)
    result = job.result or {}
    found = svc.analysis.get(str(result.get("analysis_id") or ""))
    return {"job_id": job_id, "analysis": jsonable(found) if found is not None else None, "result": jsonable(result)}


@router.get("/analyses/{analysis_id}", tags=["research"])
def analysis(analysis_id: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    found = svc.analysis.get(analysis_id)
    if found is None:
        raise ApiError(404, "not_found", f"no analysis {analysis_id!r}", field="analysis_id")
    return jsonable(found)


class BacktestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strategy: str = Field(..., min_length=1, max_length=60)
    params: dict[str, float | int] = Field(default_factory=dict)
    symbols: list[str] = Field(..., min_length=1, max_length=50)
    start: date
    end: date
    label: str = Field("", max_length=200)


class BacktestAccepted(BaseModel):
    run_ids: list[str]


@router.post("/backtests", status_code=202, response_model=BacktestAccepted, tags=["research"])
def submit_backtest(body: BacktestRequest, _p: Principal = PROPOSE,
                    svc: Services = Depends(get_services)) -> BacktestAccepted:
    """Queue a backtest on the desk's broker, charges and risk (``BacktestService.submit``);
    poll ``/backtests/{run_id}``."""
    ids = svc.backtests.submit(body.strategy, body.params, body.symbols, body.start, body.end,
                               now=datetime.now(UTC), label=body.label)
    return BacktestAccepted(run_ids=ids)


def _run(svc: Services, run_id: str) -> dict:
    try:
        return svc.backtests.run_row(run_id)
    except ValidationError as exc:
        raise ApiError(404, "not_found", str(exc), field="run_id") from exc


@router.get("/backtests/{run_id}", tags=["research"])
def backtest_status(run_id: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    row = _run(svc, run_id)
    return {k: jsonable(row.get(k)) for k in ("run_id", "label", "strategy", "status", "progress", "message",
                                               "params", "symbols", "start", "end", "created_at", "finished_at")}


@router.get("/backtests/{run_id}/result", tags=["research"])
def backtest_result(run_id: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    """Metrics, equity curve and trades of a complete run (409 while it runs)."""
    row = _run(svc, run_id)
    if row["status"] != "complete":
        raise ApiError(409, "not_ready", f"backtest {run_id} is {row['status']} ({row.get('message')}); poll it")
    report = svc.backtests.report(run_id)
    return {"run_id": run_id, "metrics": jsonable(report.metrics), "equity": jsonable(report.equity),
            "trades": jsonable(report.trades), "benchmark": report.benchmark,
            "benchmark_return_pct": jsonable(report.benchmark_return_pct)}


# ---- strategies ---------------------------------------------------------------------------------


def _strategy(svc: Services, name: str) -> Any:
    if name not in {n for n, _, _ in svc.strategies.catalog()}:
        raise ApiError(404, "not_found", f"no strategy {name!r}; see /api/v1/strategies", field="name")
    cfg = svc.strategies.config(name)
    return {**jsonable(cfg), "params_spec": jsonable(svc.strategies.param_specs(name))}


@router.get("/strategies", tags=["strategies"])
def strategies(_p: Principal = READ, svc: Services = Depends(get_services)) -> list[dict]:
    return [{"name": n, "title": t, "description": d, **jsonable(svc.strategies.config(n))}
            for n, t, d in svc.strategies.catalog()]


@router.get("/strategies/signals", tags=["strategies"])
def signals(name: str | None = None, limit: int = Query(100, ge=1, le=1000), _p: Principal = READ,
            svc: Services = Depends(get_services)) -> list[dict]:
    """The live runner's recent signals, newest first."""
    return jsonable(svc.strategies.recent_signals(name, limit=limit))


@router.get("/strategies/{name}", tags=["strategies"])
def strategy(name: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    return _strategy(svc, name)


class StrategyConfigRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    params: dict[str, float | int] = Field(default_factory=dict)
    symbols: list[str] = Field(default_factory=list, max_length=200)
    enabled: bool = False


@router.put("/strategies/{name}/config", tags=["strategies"])
def put_strategy_config(name: str, body: StrategyConfigRequest, _p: Principal = ADMIN,
                        svc: Services = Depends(get_services)) -> dict:
    """Validate and store a strategy's parameters, symbols and switch (the Strategies page's save)."""
    _strategy(svc, name)
    svc.strategies.save(name, body.params, body.symbols, enabled=body.enabled, now=datetime.now(UTC))
    return _strategy(svc, name)


# ---- risk ---------------------------------------------------------------------------------------


@router.get("/risk/limits", response_model=model_of(LimitsView), tags=["risk"])
def risk_limits(_p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    return jsonable(svc.trading.risk_limits())


@router.put("/risk/limits", response_model=model_of(LimitsView), tags=["risk"])
def put_risk_limits(body: dict[str, Any], p: Principal = ADMIN, svc: Services = Depends(get_services)) -> dict:
    """Save a new version of the limits (fields of ``GET /risk/limits``; unknown fields or bad
    values → 422 naming the field; nothing saved). Audited with the key's owner."""
    current = {k: v for k, v in jsonable(svc.trading.risk_limits()).items() if k not in ("version", "saved_by", "saved_at")}
    unknown = sorted(set(body) - set(current))
    if unknown:
        raise ApiError(422, "invalid", f"unknown risk limit field {', '.join(unknown)}; use {', '.join(current)}",
                       field=unknown[0])
    merged = {**current, **body}
    merged["square_off_cutoff"] = time.fromisoformat(str(merged["square_off_cutoff"]))
    for k, v in list(merged.items()):
        if isinstance(v, float):
            merged[k] = Decimal(str(v))
    return jsonable(svc.trading.save_risk_limits(merged, user=p.user, now=_now(svc)))


@router.get("/risk/status", response_model=model_of(RiskStatusView), tags=["risk"])
def risk_status(_p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    return jsonable(svc.trading.risk_status(_now(svc)))


class OrderRequest(BaseModel):
    """An order as the ticket takes it. ``price`` for LIMIT/SL, ``trigger_price`` for SL/SL-M
    (₹); ``market_protection`` percent 0 < p <= 100 on MARKET/SL-M, or omitted for Kite's
    automatic band; ``stop_loss``/``target`` ₹ (optional)."""

    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(..., min_length=1, max_length=40, description="NSE:INFY or INFY")
    side: Literal["BUY", "SELL"]
    quantity: int = Field(..., gt=0, le=10_000_000, description="shares")
    product: Literal["MIS", "CNC"] = "MIS"
    order_type: Literal["MARKET", "LIMIT", "SL", "SL-M"] = "MARKET"
    price: float | None = Field(None, gt=0)
    trigger_price: float | None = Field(None, gt=0)
    validity: Literal["DAY", "IOC"] = "DAY"
    stop_loss: float | None = Field(None, gt=0)
    target: float | None = Field(None, gt=0)
    market_protection: float | None = Field(None, gt=0, le=100)


class ProposeRequest(OrderRequest):
    """An order for the approval queue: ``reason`` (shown on the card), ``signal_price`` ₹
    (default: the LIMIT price, the trigger, else the LTP), ``ttl_seconds``."""

    reason: str = Field("api", min_length=1, max_length=500)
    signal_price: float | None = Field(None, gt=0)
    ttl_seconds: int | None = Field(None, ge=10, le=86_400)


def _intent(svc: Services, body: OrderRequest, strategy: str = "manual") -> tuple[Any, Any]:
    inst = _instrument(svc, body.symbol)
    intent = ticket_intent(
        inst, side=body.side, quantity=body.quantity, product=body.product, order_type=body.order_type,
        price=body.price, trigger_price=body.trigger_price, validity=body.validity, stop_loss=body.stop_loss,
        target=body.target, strategy=strategy,
        protection_mode="Percent" if body.market_protection is not None else "Automatic",
        protection_percent=body.market_protection)
    return inst, intent


@router.post("/risk/validate", response_model=model_of(OrderPreview), tags=["risk"])
def validate(body: OrderRequest, _p: Principal = PROPOSE, svc: Services = Depends(get_services)) -> dict:
    """What placing ``body`` now would meet: the gatekeeper's decision, margin and charges
    (``TradingService.preview_order``); nothing is stored. 200 either way: ``approved`` and
    ``reasons`` say it."""
    _inst, intent = _intent(svc, body)
    return jsonable(svc.trading.preview_order(intent, now=_now(svc)))


@router.post("/risk/kill-switch", response_model=model_of(ActionOutcome), tags=["risk"])
def kill_switch(p: Principal = TRADE, svc: Services = Depends(get_services)) -> dict:
    """Halt the desk: cancel open orders, flatten positions, refuse entries until resume. Audited."""
    out = svc.trading.kill_switch(user=p.user, now=_now(svc))
    _refused(out)
    return jsonable(out)


@router.post("/risk/resume", response_model=model_of(ActionOutcome), tags=["risk"])
def resume(p: Principal = TRADE, svc: Services = Depends(get_services)) -> dict:
    """Lift the kill switch and safe mode (a no-op when not halted). Audited."""
    out = svc.trading.resume(user=p.user, now=_now(svc))
    _refused(out)
    return jsonable(out)


# ---- orders, approvals, books -------------------------------------------------------------------


@router.post("/orders/propose", status_code=201, response_model=model_of(ApprovalView), tags=["orders"])
def propose(body: ProposeRequest, p: Principal = PROPOSE, svc: Services = Depends(get_services)) -> JSONResponse:
    """Send an order to the approval queue (a pending card, never an order): the Orders page's
    "Send to approvals". The card carries a risk preview; approving re-checks everything."""
    inst, intent = _intent(svc, body)
    signal = body.signal_price or body.price or body.trigger_price
    if signal is None:
        c = svc.ticks.latest([inst.instrument_token]).get(inst.instrument_token)
        signal = c.tick.last_price if c and c.tick.last_price > 0 else None
    if signal is None:
        raise ApiError(422, "invalid", f"no price for {inst.tradingsymbol} yet (no tick cached); give "
                                       "signal_price or a LIMIT price", field="signal_price")
    view = svc.trading.propose(intent, signal_price=Decimal(str(signal)), reason=body.reason.strip(),
                               source=f"api:{p.user}", ttl_seconds=body.ttl_seconds, now=_now(svc))
    return answer(view, status_code=201)


@router.get("/approvals", response_model=list[model_of(ApprovalView)], tags=["orders"])
def approvals(_p: Principal = READ, svc: Services = Depends(get_services)) -> list[dict]:
    """Pending approvals, oldest first."""
    return jsonable(svc.trading.pending(_now(svc)))


@router.get("/approvals/{approval_id}", response_model=model_of(ApprovalView), tags=["orders"])
def approval(approval_id: str, _p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    try:
        return jsonable(svc.trading.approval(approval_id))
    except ValidationError as exc:
        raise ApiError(404, "not_found", str(exc), field="approval_id") from exc


@router.post("/orders", status_code=201, response_model=model_of(ActionOutcome), tags=["orders"])
def place(body: OrderRequest, p: Principal = TRADE, svc: Services = Depends(get_services)) -> dict:
    """Place an order straight through the gatekeeper (the Orders page's "Place"; needs the
    ``trade`` scope). A refusal is 409 with the reason codes; no order is written."""
    _inst, intent = _intent(svc, body)
    out = svc.trading.place_manual(intent, user=p.user, now=_now(svc))
    _refused(out)
    return jsonable(out)


class ModifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int | None = Field(None, gt=0, le=10_000_000)
    price: float | None = Field(None, gt=0)
    trigger_price: float | None = Field(None, gt=0)
    order_type: Literal["MARKET", "LIMIT", "SL", "SL-M"] | None = None


def _known_order(svc: Services, order_id: str) -> None:
    if not any(o.order_id == order_id for o in svc.trading.order_book()):
        raise ApiError(404, "not_found", f"no order {order_id!r}", field="order_id")


@router.put("/orders/{order_id}", response_model=model_of(ActionOutcome), tags=["orders"])
def modify(order_id: str, body: ModifyRequest, p: Principal = TRADE, svc: Services = Depends(get_services)) -> dict:
    """Modify an open order (same gatekeeper as a new one); 409 on refusal, the order unchanged."""
    _known_order(svc, order_id)
    out = svc.trading.modify_order(
        order_id, quantity=body.quantity, price=Decimal(str(body.price)) if body.price else None,
        trigger_price=Decimal(str(body.trigger_price)) if body.trigger_price else None,
        order_type=body.order_type, user=p.user, now=_now(svc))
    _refused(out)
    return jsonable(out)


@router.delete("/orders/{order_id}", response_model=model_of(ActionOutcome), tags=["orders"])
def cancel(order_id: str, p: Principal = TRADE, svc: Services = Depends(get_services)) -> dict:
    _known_order(svc, order_id)
    out = svc.trading.cancel_order(order_id, user=p.user, now=_now(svc))
    _refused(out)
    return jsonable(out)


@router.get("/orders", response_model=list[model_of(OrderView)], tags=["orders"])
def order_book(day: date | None = None, _p: Principal = READ, svc: Services = Depends(get_services)) -> JSONResponse:
    """The order book (IST ``day``, default every day), newest first."""
    return answer(svc.trading.order_book(day))


@router.get("/trades", response_model=list[model_of(TradeView)], tags=["orders"])
def trade_book(day: date | None = None, _p: Principal = READ, svc: Services = Depends(get_services)) -> JSONResponse:
    """The trade book with charges, newest first."""
    return answer(svc.trading.trade_book(day))


@router.get("/positions", response_model=list[model_of(PositionView)], tags=["portfolio"])
def positions(_p: Principal = READ, svc: Services = Depends(get_services)) -> JSONResponse:
    """Positions marked to the latest ticks (open, and closed today)."""
    return answer(svc.trading.positions(_now(svc)))


@router.get("/funds", response_model=model_of(FundsView), tags=["portfolio"])
def funds(_p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    return jsonable(svc.trading.funds(_now(svc)))


@router.get("/pnl", tags=["portfolio"])
def pnl(_p: Principal = READ, svc: Services = Depends(get_services)) -> dict:
    """The P&L page's numbers: funds, today's charges, P&L per symbol and per strategy, and the
    equity curve (``ts``, ``equity`` ₹, ``drawdown`` ₹, ``drawdown_pct``)."""
    now = _now(svc)
    return {"funds": jsonable(svc.trading.funds(now)), "charges_today": jsonable(svc.trading.charges_today(now)),
            "by_symbol": jsonable(svc.trading.pnl_by_symbol()), "by_strategy": jsonable(svc.trading.pnl_by_strategy()),
            "equity_curve": jsonable(svc.trading.equity_curve(now))}


__all__ = ["jsonable", "router"]
