"""The API's endpoints under ``/api/v1`` (see ``app.api.server`` for errors and auth)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.api.deps import Services, get_services

router = APIRouter()


class Health(BaseModel):
    """``status`` ``ok``; ``market`` ``replay`` | ``kite``; ``time`` (UTC, ISO 8601)."""

    status: str
    market: str
    time: datetime


@router.get("/health", response_model=Health, tags=["health"])
def health(svc: Services = Depends(get_services)) -> Health:
    """Liveness: answers without a key."""
    return Health(status="ok", market=svc.settings.market, time=datetime.now(UTC))
