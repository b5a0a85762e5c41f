"""Small Streamlit building blocks shared by pages: status badges, clocks, the watchlist table."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from app.market.watch_view import MarketStatus, TickerHealth
from app.ui.colours import pnl_style
from app.ui.formatting import inr, number, qty, signed_pct, volume
from core.sessions import SessionPhase
from core.timeutil import IST

_PHASE_COLOUR = {
    SessionPhase.NORMAL: "green",
    SessionPhase.PRE_OPEN: "orange",
    SessionPhase.PRE_OPEN_MATCHING: "orange",
    SessionPhase.CLOSING: "orange",
    SessionPhase.POST_CLOSE: "violet",
    SessionPhase.CLOSED: "gray",
}
_LEVEL_COLOUR = {"ok": "green", "warning": "orange", "error": "red"}


def fmt_ist(when: datetime | None, with_date: bool = True) -> str:
    """``"Tue 16 Aug 2016 09:15:00 IST"`` (or ``"—"``)."""
    if when is None:
        return "—"
    local = when.astimezone(IST)
    return local.strftime("%a %d %b %Y %H:%M:%S IST" if with_date else "%H:%M:%S IST")


def phase_badge(status: MarketStatus) -> None:
    colour = _PHASE_COLOUR[status.phase]
    st.markdown(f"**Market:** :{colour}-badge[{status.phase_label}]")


def ticker_badge(health: TickerHealth) -> None:
    colour = _LEVEL_COLOUR[health.level]
    label = {"ok": "Live", "warning": "Stale", "error": "Down"}[health.level]
    st.markdown(f"**Ticker:** :{colour}-badge[{label}]")


def market_status_panel(status: MarketStatus) -> None:
    """Phase, clocks (wall and market), next open/close, and ticker health."""
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        phase_badge(status)
        if status.session is not None and status.session.special:
            st.caption(f"Special session: {status.session.name}")
    with c2:
        st.markdown(f"**Wall clock:** {fmt_ist(status.wall_clock)}")
        st.markdown(f"**Market time:** {fmt_ist(status.market_time)}")
        st.caption(f"Market time source: {status.market_time_source}")
    with c3:
        st.markdown(f"**Next open:** {fmt_ist(status.next_open)}")
        st.markdown(f"**Next close:** {fmt_ist(status.next_close)}")
    with c4:
        ticker_badge(status.ticker)
        t = status.ticker
        if t.cache_ok:
            st.caption(f"{qty(t.subscribed)} subscribed · {qty(t.ticks_total)} ticks · {t.reconnects} reconnects")
    if status.calendar_note:
        st.caption(status.calendar_note)
    health = status.ticker
    if health.level == "error":
        st.error(health.message, icon=":material/error:")
    elif health.level == "warning":
        st.warning(health.message, icon=":material/warning:")


def watchlist_styler(frame: pd.DataFrame) -> pd.io.formats.style.Styler:
    """The watchlist's display: ₹ and volumes grouped the Indian way, change with its sign (via
    ``app.ui.formatting``), ``—`` for missing values, change % green up / red down
    (``app.ui.colours``). The values stay numbers, so the table still sorts by them."""
    return (
        frame.reset_index(drop=True).style.format(
            {"LTP": inr, "change %": signed_pct, "volume": volume, "day high": inr, "day low": inr,
             "tick age s": lambda v: number(v, 1)},
            na_rep="—",
        ).map(pnl_style, subset=["change %"])
    )


def watchlist_table(frame: pd.DataFrame, key: str, **dataframe_kwargs) -> object:
    """The watchlist table (:func:`watchlist_styler`). Extra keyword arguments go to
    ``st.dataframe`` (e.g. row selection); returns what it returns."""
    view = frame.reset_index(drop=True)
    styled = watchlist_styler(view)
    # Tall enough for every row (35 px each plus the header): a watchlist should not scroll.
    return st.dataframe(styled, hide_index=True, width="stretch", key=key, height=35 * (len(view) + 1) + 3,
                        **dataframe_kwargs)


def token_banner(svc) -> None:
    """A warning at the top of every page when the Kite session is missing or expired, with a
    link to Settings (where the daily login is). Shows nothing while the session is active.
    Never shows a token. Redis being down is reported once, as a caption."""
    try:
        status = svc.kite_auth.status()
    except Exception as exc:  # noqa: BLE001 - Redis down: the page must still render
        st.caption(f"Kite session unknown: {type(exc).__name__} reading the session store")
        return
    if status.ok:
        return
    where = "Kite" if status.market == "kite" else "the replay market"
    if status.state == "missing":
        st.warning(f"Not logged in to {where}: open [Settings](/settings) and log in "
                   "(Kite sessions end at 06:00 IST each day).", icon=":material/key:")
    else:
        who = f" for {status.user_id}" if status.user_id else ""
        st.warning(f"The {where} session{who} has expired ({status.reason}): open [Settings](/settings) "
                   "and log in again.", icon=":material/key:")


def subscription_notice(svc) -> None:
    """The ticker's subscription report: an error when Kite's 9,000-instrument cap refused the
    wanted set, else a caption with connections and sources. Silent when Redis is down (the
    status panel already says so) or the ticker never reported."""
    from app.market.subscriptions import read_subscriptions

    try:
        report = read_subscriptions(svc.redis)
    except Exception:  # noqa: BLE001 - Redis down: reported by the status panel
        return
    if not report:
        return
    if report.get("refused"):
        st.error(report["refused"], icon=":material/block:")
        return
    sources = report.get("sources") or {}
    detail = " · ".join(f"{name} {count}" for name, count in sources.items())
    st.caption(f"Ticker subscriptions: {report.get('subscribed', 0)} on {report.get('connections', 0)} connection(s)"
               + (f" ({detail})" if detail else ""))
