"""NSE equity session phases and their IST wall-clock boundaries.

Source: NSE market timings (pre-open 09:00–09:08 order entry, 09:08–09:15 matching and
buffer; normal market 09:15–15:30; closing session 15:30–15:40; post-close 15:40–16:00), as
summarised in ``../shared/docs/indian-market.md`` §1. Special sessions (Muhurat, Budget
Saturday) have their own open/close and are handled by ``core.calendar``.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum


class SessionPhase(StrEnum):
    """Where an NSE equity trading day stands at a given moment (IST)."""

    CLOSED = "closed"  # holiday, weekend, before 09:00 or after 16:00
    PRE_OPEN = "pre_open"  # 09:00–09:08 order entry (orders queue, fill at the open)
    PRE_OPEN_MATCHING = "pre_open_matching"  # 09:08–09:15 price discovery + buffer; no entry
    NORMAL = "normal"  # 09:15–15:30 continuous trading
    CLOSING = "closing"  # 15:30–15:40 closing price calculation
    POST_CLOSE = "post_close"  # 15:40–16:00 orders at the closing price (CNC only)


PRE_OPEN_START = time(9, 0)
PRE_OPEN_ORDER_END = time(9, 8)
NORMAL_OPEN = time(9, 15)
NORMAL_CLOSE = time(15, 30)
CLOSING_END = time(15, 40)
POST_CLOSE_END = time(16, 0)
#: Zerodha's MIS auto square-off for equity (support.zerodha.com, intraday auto square-off timings).
MIS_SQUARE_OFF = time(15, 20)
