"""Webhook intake under ``/api/v1/webhooks`` (TradingView, Chartink) → pending approvals.

Routes (``source`` is ``tradingview`` or ``chartink``)::

    POST /api/v1/webhooks/{source}/{secret}     # the URL to paste into TradingView / Chartink
    POST /api/v1/webhooks/{source}              # the secret in header X-Desk-Webhook-Secret

The body is the alert (``core.webhooks`` documents both payloads), ``application/json`` or
``text/plain`` holding JSON. Chartink's URL may carry ``?side=SELL&quantity=10&product=MIS``.
No API key: the per-user webhook secret authenticates (Settings → Webhooks). Each symbol
becomes a **pending approval**, never an order (``app.trading.webhook_intake``).

Answers (JSON; errors as ``{"error": {"code", "message", "field"?}}`` like every API error):

* 201 ``{"duplicate": false, "trace_id", "source", "approvals": [{approval_id, tradingsymbol, side,
  quantity, status, risk_ok, risk_reasons, expires_at}]}``;
* 200 ``{"duplicate": true, "trace_id", "approvals": []}`` for a repeat inside the window;
* 400 ``bad_json`` · 401 ``secret_missing|secret_malformed|secret_unknown|secret_revoked`` ·
  404 ``unknown_symbol`` (``field`` ``symbol``/``stocks``) · 413 ``too_large`` · 422 ``invalid``
  (``field`` names it) · 429 ``rate_limited`` (``Retry-After``) · 503 ``unavailable`` (Redis or the store down).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import ApiError, Services, get_services
from app.trading.webhook_intake import IntakeResult, RateLimited, SecretRefused, UnknownSymbol
from core import webhooks as wh
from core.errors import ValidationError

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

SECRET_HEADER = "X-Desk-Webhook-Secret"
Source = Literal["tradingview", "chartink"]

_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "a duplicate delivery inside the window: nothing created"},
    201: {"description": "one pending approval per symbol"},
    400: {"description": "malformed JSON"},
    401: {"description": "missing, malformed, unknown or revoked webhook secret"},
    429: {"description": "the secret's deliveries per minute are used up (``Retry-After``)"},
    404: {"description": "a symbol is not in the instrument master (nothing written)"},
    413: {"description": "body over 16 KiB"},
    422: {"description": "a field is missing or wrong (``field`` names it)"},
}


def _answer(result: IntakeResult) -> JSONResponse:
    approvals = [dict(approval_id=v.approval_id, tradingsymbol=v.tradingsymbol, side=str(v.side),
                      quantity=v.quantity, status=str(v.status), risk_ok=bool(v.risk_preview.approved),
                      risk_reasons=[str(r) for r in v.risk_preview.reasons],
                      expires_at=v.expires_at.isoformat() if v.expires_at else None)
                 for v in result.approvals]
    body = dict(duplicate=result.duplicate, source=result.source, trace_id=result.trace_id, approvals=approvals)
    return JSONResponse(body, status_code=200 if result.duplicate else 201)


async def _receive(source: str, secret: str | None, request: Request, svc: Services) -> JSONResponse:
    body = await request.body()
    try:
        result = await run_in_threadpool(svc.webhooks.receive, source, body, secret=secret,
                                         query=dict(request.query_params))
    except wh.PayloadTooLarge as exc:
        raise ApiError(413, "too_large", str(exc), field="body") from exc
    except SecretRefused as exc:
        raise ApiError(401, f"secret_{exc.reason}", str(exc), field="secret") from exc
    except RateLimited as exc:
        raise ApiError(429, "rate_limited", str(exc),
                       headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))}) from exc
    except wh.MalformedPayload as exc:
        raise ApiError(400, "bad_json", str(exc), field="body") from exc
    except UnknownSymbol as exc:
        raise ApiError(404, "unknown_symbol", str(exc), field=exc.field) from exc
    except wh.FieldError as exc:
        raise ApiError(422, "invalid", str(exc), field=exc.field) from exc
    except ValidationError as exc:
        raise ApiError(422, "invalid", str(exc)) from exc
    return _answer(result)


@router.post("/{source}/{secret}", responses=_ANSWERS, status_code=201,
             summary="Receive an alert (secret in the URL)")
async def receive_with_path_secret(source: Source, secret: str, request: Request,
                                   svc: Services = Depends(get_services)) -> JSONResponse:
    """The URL to paste into TradingView's or Chartink's webhook box (Settings → Webhooks)."""
    return await _receive(source, secret, request, svc)


@router.post("/{source}", responses=_ANSWERS, status_code=201, summary="Receive an alert (secret in a header)")
async def receive_with_header_secret(source: Source, request: Request,
                                     svc: Services = Depends(get_services)) -> JSONResponse:
    """As the path form, with the secret in ``X-Desk-Webhook-Secret`` (for senders that set headers)."""
    return await _receive(source, request.headers.get(SECRET_HEADER), request, svc)


__all__ = ["SECRET_HEADER", "router"]
