"""What a desk page needs to know first: who is acting, the market clock, an LTP, and the
notices about proposals (expired undecided, refused by risk) and triggered alerts
(``AlertService.notices``), shown as a toast on the next page load and listed on Home."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import streamlit as st

from app.market.clock import DeskClock
from app.ui.feedback import INFRA_ERRORS
from core.orders import price_from_float
from core.timeutil import to_ist

#: Session key: the notice ids this browser session has already been told about.
NOTICES_SEEN = "desk_notices_seen"
#: On a session's first page, only notices this recent (market time) are toasted.
FIRST_LOAD_WINDOW = timedelta(hours=1)
#: At most this many toasts per page load; the rest are counted in one more toast.
MAX_TOASTS = 3
_ICONS = {"expired": ":material/timer_off:", "refused": ":material/block:", "alert": ":material/notifications_active:"}


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


def _notices(svc: Any) -> tuple[list, datetime] | None:
    """``(notices newest first, market now)``, or ``None`` when the store or Redis is down. The
    triggered alerts join when their store answers."""
    try:
        notices, now = svc.trading.notices(), desk_clock(svc).now
    except INFRA_ERRORS:
        return None
    try:
        notices = sorted([*notices, *svc.alerts.notices()], key=lambda n: n.at, reverse=True)
    except INFRA_ERRORS:
        pass
    return notices, now


def page_notices(svc: Any) -> int:
    """Toast each notice (``TradingService.notices``: a proposal expired undecided or refused by
    risk) once per browser session, on the first page load after it happened — whatever the
    page. A session's first page only toasts notices of the last ``FIRST_LOAD_WINDOW`` of market
    time (older ones are listed on Home). Returns how many notices were new. Never raises."""
    got = _notices(svc)
    if got is None:
        return 0
    notices, now = got
    seen = st.session_state.get(NOTICES_SEEN)
    first = seen is None
    seen = set() if seen is None else set(seen)
    fresh = [n for n in notices if n.notice_id not in seen and (not first or n.at >= now - FIRST_LOAD_WINDOW)]
    for n in fresh[:MAX_TOASTS]:
        st.toast(n.text, icon=_ICONS.get(n.kind, ":material/notifications:"))
    if len(fresh) > MAX_TOASTS:
        st.toast(f"{len(fresh) - MAX_TOASTS} more notices: see Home", icon=":material/notifications:")
    st.session_state[NOTICES_SEEN] = seen | {n.notice_id for n in notices}
    return len(fresh)


def home_notices(svc: Any, limit: int = 5) -> None:
    """Home's list of the market day's notices (newest first, at most ``limit``); nothing when
    there are none. A store outage shows a caption, never an exception."""
    got = _notices(svc)
    if got is None:
        st.caption("Notices are unavailable right now (store or Redis down).")
        return
    notices, now = got
    today = [n for n in notices if to_ist(n.at).date() == to_ist(now).date()]
    if not today:
        return
    with st.container(border=True, key="home_notices"):
        st.markdown(f"**Notices** · {len(today)} today")
        for n in today[:limit]:
            getattr(st, n.level if n.level in ("warning", "error") else "info")(
                f"{to_ist(n.at):%H:%M} IST · {n.text}", icon=_ICONS.get(n.kind, ":material/notifications:"))
        if len(today) > limit:
            st.caption(f"{len(today) - limit} older today: see the Approvals page.")
