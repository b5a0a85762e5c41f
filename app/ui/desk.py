"""What a desk page needs to know first: who is acting, the market clock, an LTP."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import streamlit as st

from app.market.clock import DeskClock
from app.ui.feedback import INFRA_ERRORS
from core.orders import price_from_float


def current_user() -> str:
    """Who is acting: the signed-in desk user, else Streamlit's OIDC user, else ``"trader"``."""
    from app.ui.auth import signed_in_user

    if user := signed_in_user():
        return user
    try:
        if st.user.get("is_logged_in"):
            return str(st.user.get("email") or st.user.get("name") or "trader")
    except Exception:  # noqa: BLE001 - auth not configured
        pass
    return "trader"


def desk_clock(svc: Any, wall: datetime | None = None) -> DeskClock:
    """The market clock (``services().market_clock``); never raises for a dead Redis."""
    return svc.market_clock.now(wall)


def ltp_of(svc: Any, token: int) -> Decimal | None:
    """The latest cached LTP of ``token`` in ₹, or ``None`` (no tick, or Redis down)."""
    try:
        cached = svc.ticks.latest([token]).get(token)
    except INFRA_ERRORS:
        return None
    if cached is None or not cached.tick.last_price or cached.tick.last_price <= 0:
        return None
    return price_from_float(cached.tick.last_price)
