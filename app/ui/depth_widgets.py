"""The order ticket's side panel: 5-level market depth and the day's price band (lower/upper
circuit), from the desk's tick cache (``WatchView.depth``) and the band every order is checked
against (``TradingService.price_band``)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from app.ui.formatting import MISSING, inr, qty

#: Columns of the depth table, Kite's layout: bids on the left, offers on the right.
DEPTH_COLUMNS = ["bid orders", "bid qty", "bid ₹", "ask ₹", "ask qty", "ask orders"]
DEPTH_LEVELS = 5


def depth_frame(depth) -> pd.DataFrame:
    """The depth table of ``depth`` (``app.market.watch_view.MarketDepth``): ``DEPTH_LEVELS``
    rows, best first, columns ``DEPTH_COLUMNS`` as display text (``"—"`` where a level is
    missing), plus a ``total`` row of the pending buy/sell quantities."""
    rows = []
    for i in range(DEPTH_LEVELS):
        bid = depth.bids[i] if i < len(depth.bids) else None
        ask = depth.asks[i] if i < len(depth.asks) else None
        rows.append({
            "bid orders": qty(bid.orders) if bid else MISSING,
            "bid qty": qty(bid.quantity) if bid else MISSING,
            "bid ₹": inr(bid.price) if bid and bid.price > 0 else MISSING,
            "ask ₹": inr(ask.price) if ask and ask.price > 0 else MISSING,
            "ask qty": qty(ask.quantity) if ask else MISSING,
            "ask orders": qty(ask.orders) if ask else MISSING,
        })
    rows.append({"bid orders": "total", "bid qty": qty(depth.total_buy_quantity), "bid ₹": "",
                 "ask ₹": "", "ask qty": qty(depth.total_sell_quantity), "ask orders": ""})
    return pd.DataFrame(rows, columns=DEPTH_COLUMNS)


def band_text(band: tuple[Decimal | float, Decimal | float] | None) -> str:
    """``"Day's band ₹900.00 – ₹1,100.00 (lower – upper circuit)"``, or a note when unknown."""
    if band is None:
        return "Day's band: — (no previous close cached yet, so no circuit limits)"
    return f"Day's band {inr(band[0])} – {inr(band[1])} (lower – upper circuit)"


def depth_panel(depth, band: tuple[Decimal | float, Decimal | float] | None, *, key: str) -> None:
    """Render the depth table (or a clear note when there is none) and the day's band.
    ``key`` prefixes the widget keys (page-prefixed)."""
    st.markdown("**Market depth**")
    if depth is None:
        st.caption("Pick a symbol to see its market depth and the day's band.")
        return
    if depth.error:
        st.warning(f"Depth unavailable: {depth.error}")
    elif not depth.has_depth:
        st.info("No market depth for this symbol yet: — (the ticker has sent no full-mode tick with "
                "5-level depth; LTP-only and quote ticks carry none).", icon=":material/info:")
    else:
        st.dataframe(depth_frame(depth), hide_index=True, key=f"{key}_depth_table")
    st.caption(f"LTP {inr(depth.ltp)} · {band_text(band)}")
