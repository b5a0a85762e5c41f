"""The day's MIS square-offs that could not fill (``TradingService.square_off_refusals``), shown
on the Risk and Orders & Positions pages: one error banner plus a table, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from app.ui.formatting import inr, ist, qty
from core.timeutil import to_ist


def square_off_refusals(trading: Any, now: datetime, *, key: str) -> None:
    """Render the refusals of ``now``'s IST day (nothing when there are none). ``key`` prefixes
    the table's widget key (page-prefixed)."""
    try:
        rows = trading.square_off_refusals(to_ist(now).date())
    except Exception as exc:  # a read failure must not break the page
        st.warning(f"Square-off refusals unavailable: {exc}")
        return
    if not rows:
        return
    open_now = sorted({r.tradingsymbol for r in rows})
    latest = rows[0]
    code = latest.reasons[0] if latest.reasons else ""
    message = latest.messages[0] if latest.messages else ""
    st.error(f"MIS square-off could not fill for {', '.join(open_now)}: {code} — {message}. "
             "Retried every square-off run.", icon=":material/error:")
    st.dataframe(pd.DataFrame([{
        "time": ist(r.at), "symbol": r.tradingsymbol, "quantity": qty(r.quantity), "attempt": r.attempt,
        "reasons": ", ".join(r.reasons), "message": "; ".join(r.messages),
        "LTP": inr(r.price)} for r in rows]),
        hide_index=True, width="stretch", key=f"{key}_square_off_refusals")
