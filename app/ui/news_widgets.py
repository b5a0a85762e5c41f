"""The News panel (Home, Chart) and the Scanner's sentiment cell (issue 15 item 3).

Item text is untrusted (it comes from the internet): every title, source and feed message is
drawn as *text* (``st.dataframe`` cells and ``st.text``), never as markdown or HTML, so a
headline with ``**``, ``<script>`` or ``[link](javascript:…)`` shows as those characters.
Scores are VADER's compound score in [-1, 1] (``app.research.news``), and Gemini's score beside
it when a Gemini key is set (``app.research.news_gemini``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import streamlit as st

from app.ui.formatting import ist_time, number
from core.errors import DeskError
from core.news import label_for_score

#: rows a News panel shows
PANEL_ITEMS = 15


def score_text(score: float | None) -> str:
    """``"+0.44 positive"``, ``"-0.18 negative"``, ``"0.00 neutral"``; ``"—"`` without a score."""
    if score is None:
        return "—"
    return f"{number(score, 2, sign=True)} {label_for_score(score)}"


def _rows(items: Sequence[Any], with_symbols: bool) -> list[dict[str, str]]:
    """Table rows; a ``Gemini`` column when any item has Gemini's score (a Gemini key is set)."""
    gemini = any(getattr(i, "gemini_score", None) is not None for i in items)
    rows = []
    for item in items:
        row = {"time (IST)": ist_time(item.when), "source": item.source, "score": score_text(item.score)}
        if gemini:
            row["Gemini"] = score_text(item.gemini_score)
        row["headline"] = item.title
        if with_symbols:
            row["symbols"] = ", ".join(item.symbols)
        rows.append(row)
    return rows


def _feed_notes(svc: Any) -> None:
    """Configured feeds that failed at their last poll (as text); a hint when none is configured."""
    if not svc.settings.news.feed_urls:
        st.caption("No news feeds are configured: set DESK_NEWS_FEEDS to RSS/Atom URLs (README, Configuration).")
        return
    try:
        statuses = svc.news.feed_statuses()
    except DeskError as exc:
        st.text(f"News feeds: could not read their status ({exc})")
        return
    configured = set(svc.settings.news.feed_urls)
    for status in statuses:
        if status.url in configured and status.status != "ok":
            st.text(f"Feed {status.status} at {ist_time(status.polled_at)}: {status.message}")


def news_panel(svc: Any, *, key: str, symbol: str | None = None, until: datetime | None = None,
               limit: int = PANEL_ITEMS) -> None:
    """The newest items (of ``symbol``, an ``NSE:XYZ`` key, when given) published by ``until``
    (default: the desk's market time, so no page sees news from past its "now") as a text
    table: time, source, score, headline (and the symbols each names on Home)."""
    try:
        until = until or svc.market_data.now()
        items = (svc.news.for_symbol(symbol, limit=limit, until=until) if symbol
                 else svc.news.latest(limit=limit, until=until))
    except DeskError as exc:
        st.error(f"Could not read the news: {exc}")
        return
    if not items:
        st.caption(f"No news items for {symbol} yet." if symbol else "No news items yet.")
    else:
        st.dataframe(_rows(items, with_symbols=symbol is None), hide_index=True, key=key,
                     column_config={"headline": st.column_config.TextColumn(width="large")})
        st.caption("Headlines are unverified text from the configured feeds; score: VADER sentiment, "
                   "-1 (negative) to +1 (positive).")
    _feed_notes(svc)


def sentiment_cells(svc: Any, symbols: Sequence[str], as_of: datetime) -> list[str]:
    """One ``"+0.44 (3)"`` cell per symbol: the mean news score over the items naming it in the
    24 h up to ``as_of`` and how many; ``"—"`` without any (or when the news store fails)."""
    try:
        scores = svc.news.sentiment(list(symbols), as_of)
    except DeskError:
        return ["—"] * len(symbols)
    out = []
    for s in symbols:
        got = scores.get(s.split(":")[-1].upper())
        out.append("—" if got is None else f"{number(got[0], 2, sign=True)} ({got[1]})")
    return out


__all__ = ["PANEL_ITEMS", "news_panel", "score_text", "sentiment_cells"]
