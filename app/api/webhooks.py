"""Webhook intake (TradingView, Chartink) under ``/api/v1/webhooks``: filled in by the webhook work."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
