"""Kite's row habits for every list of symbols: select a row, then Chart · Buy · Sell · Analyse.

One widget for the Home watchlist, the Scanner's results and the Chart page's symbol, so every
list behaves the same way:

- :func:`symbol_table` draws a list with single-row selection (``st.dataframe(...,
  on_select="rerun", selection_mode="single-row")``) and returns the picked row's instrument key
  (``"NSE:INFY"``). The table's widget key is its identity, so the pick survives the live
  refresh of an ``st.fragment(run_every=…)`` re-drawing the rows with new ticks.
- :func:`action_bar` draws the buttons for that key (disabled, with the reason, until a row is
  picked; Buy/Sell disabled for an index, which cannot be traded). Pressing one hands the key to
  the target page through session state and switches page:

  ========  ===================================================================================
  Chart     ``pages/chart.py`` with ``?symbol=NSE:XYZ`` (the Chart page's link parameter)
  Buy/Sell  ``pages/orders.py`` with ``st.session_state["ticket_prefill"] = {"tradingsymbol":
            "XYZ", "exchange": "NSE", "side": "BUY" | "SELL"}`` (the ticket consumes it)
  Analyse   ``pages/analysis.py`` with ``st.session_state["analysis_prefill"] = "NSE:XYZ"``
            (the Analysis page moves it into its symbol field once)
  Alert     ``pages/alerts.py`` with ``st.session_state["alert_prefill"] = "NSE:XYZ"`` (the Alerts
            page moves it into its new-alert instrument field once); offered where the list
            passes ``actions=WATCHLIST_ACTIONS`` (Home's watchlist)
  ========  ===================================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from core.errors import ValidationError

CHART_PAGE = "pages/chart.py"
ORDERS_PAGE = "pages/orders.py"
ANALYSIS_PAGE = "pages/analysis.py"
ALERTS_PAGE = "pages/alerts.py"
#: Session keys the target pages read (and pop) on their next run.
TICKET_PREFILL = "ticket_prefill"
ANALYSIS_PREFILL = "analysis_prefill"
ALERT_PREFILL = "alert_prefill"
#: The default actions, in the order the bar shows them.
ACTIONS = ("Chart", "Buy", "Sell", "Analyse")
#: Home's watchlist: the defaults plus "Alert" (Kite's "Create alert" on an instrument).
WATCHLIST_ACTIONS = (*ACTIONS, "Alert")
_KNOWN = WATCHLIST_ACTIONS
_HELP = {
    "Chart": "Open {key} on the Chart page",
    "Buy": "Open the order ticket on Orders & Positions with BUY {key} filled in",
    "Sell": "Open the order ticket on Orders & Positions with SELL {key} filled in",
    "Analyse": "Ask the Analysis page for a second opinion on {key}",
    "Alert": "Create an alert on {key} (Alerts page)",
}


def split_key(key: str) -> tuple[str, str]:
    """``"NSE:INFY"`` → ``("NSE", "INFY")``; a bare ``"INFY"`` is taken as NSE.

    Raises ``ValidationError`` for an empty key or an empty part (``"NSE:"``)."""
    exchange, sep, symbol = key.strip().rpartition(":") if ":" in key else ("NSE", "", key.strip())
    exchange, symbol = exchange.strip().upper(), symbol.strip().upper()
    if not exchange or not symbol:
        raise ValidationError(f"instrument key must look like NSE:INFY (or INFY), was {key!r}")
    return exchange, symbol


def ticket_prefill(key: str, side: str) -> dict[str, str]:
    """The ``ticket_prefill`` value for ``key`` (``"NSE:INFY"`` or ``"INFY"``) and ``side``.

    Returns ``{"tradingsymbol": "INFY", "exchange": "NSE", "side": "BUY"}``. Raises
    ``ValidationError`` for a malformed key or a side other than ``"BUY"``/``"SELL"``."""
    if side not in ("BUY", "SELL"):
        raise ValidationError(f"side must be BUY or SELL, was {side!r}")
    exchange, symbol = split_key(key)
    return {"tradingsymbol": symbol, "exchange": exchange, "side": side}


def selected_key(event: Any, keys: Sequence[str]) -> str | None:
    """The instrument key of the row picked in an ``st.dataframe`` selection ``event``.

    ``keys[i]`` is the key of row ``i`` as drawn. ``None`` when nothing is picked, when the
    event has no selection (selection off) or when the pick is past the end (the list shrank)."""
    selection = getattr(event, "selection", None)
    rows = list(getattr(selection, "rows", None) or [])
    if not rows or not 0 <= rows[0] < len(keys):
        return None
    return keys[rows[0]]


def symbol_table(data: Any, keys: Sequence[str], *, key: str, **dataframe_kwargs: Any) -> str | None:
    """Draw ``data`` (a DataFrame or Styler, one row per entry of ``keys``) with single-row
    selection and return the picked row's instrument key, or ``None``.

    ``key`` is required: it is the table's identity, so the pick survives new data (a live
    refresh). Other keyword arguments go to ``st.dataframe``."""
    event = st.dataframe(data, key=key, on_select="rerun", selection_mode="single-row", **dataframe_kwargs)
    return selected_key(event, keys)


def open_chart(key: str) -> None:
    """Switch to the Chart page on ``key`` (``"NSE:INFY"``); does not return."""
    exchange, symbol = split_key(key)
    st.switch_page(CHART_PAGE, query_params={"symbol": f"{exchange}:{symbol}"})


def open_ticket(key: str, side: str) -> None:
    """Switch to Orders & Positions with the ticket prefilled for ``side`` ``key``; does not return."""
    st.session_state[TICKET_PREFILL] = ticket_prefill(key, side)
    st.switch_page(ORDERS_PAGE)


def open_analysis(key: str) -> None:
    """Switch to the Analysis page with ``key`` in its symbol field; does not return."""
    exchange, symbol = split_key(key)
    st.session_state[ANALYSIS_PREFILL] = f"{exchange}:{symbol}"
    st.switch_page(ANALYSIS_PAGE)


def action_bar(
    instrument_key: str | None,
    *,
    key: str,
    tradable: bool = True,
    actions: Sequence[str] = ACTIONS,
    before_chart: Callable[[str], bool] | None = None,
    nothing_picked: str = "Pick a row to chart, buy, sell or analyse it.",
) -> None:
    """The row-action buttons for ``instrument_key`` (``"NSE:INFY"``, or ``None``: nothing picked).

    Parameters
    ----------
    instrument_key : str or None
        The picked row's key; ``None`` disables every button and shows ``nothing_picked``.
    key : str
        Prefix of the buttons' widget keys: ``f"{key}_chart"``, ``_buy``, ``_sell``, ``_analyse``.
    tradable : bool
        ``False`` (an index) disables Buy and Sell, saying why.
    actions : sequence of str
        Which of ``WATCHLIST_ACTIONS`` to show, in that order (default ``ACTIONS``; the Chart page
        leaves out Chart, Home adds Alert).
    before_chart : callable, optional
        Called with the key before Chart switches page; returning ``False`` stays (e.g. the
        Scanner adds the symbol to the watchlist and stops on a refusal it has shown).

    Raises
    ------
    ValidationError
        For an action not in ``ACTIONS``.
    """
    unknown = [a for a in actions if a not in _KNOWN]
    if unknown:
        raise ValidationError(f"row actions must be among {list(_KNOWN)}, was {unknown}")
    picked = instrument_key is not None
    cols = st.columns([1] * len(actions) + [max(1, 6 - len(actions))], vertical_alignment="center")
    pressed: str | None = None
    for col, action in zip(cols, actions, strict=False):
        trade = action in ("Buy", "Sell")
        disabled = not picked or (trade and not tradable)
        help_text = _HELP[action].format(key=instrument_key) if picked else nothing_picked
        if picked and trade and not tradable:
            help_text = f"{instrument_key} is an index: it cannot be bought or sold"
        if col.button(action, key=f"{key}_{action.lower()}", disabled=disabled, help=help_text,
                      type="primary" if action == "Buy" else "secondary", width="stretch"):
            pressed = action
    note = cols[-1]
    if not picked:
        note.caption(nothing_picked)
    elif not tradable:
        note.caption(f"{instrument_key} · an index: chart and analyse only")
    else:
        note.caption(f"Selected **{instrument_key}**")
    if pressed is None or instrument_key is None:
        return
    if pressed == "Chart":
        if before_chart is not None and not before_chart(instrument_key):
            return
        open_chart(instrument_key)
    elif pressed == "Analyse":
        open_analysis(instrument_key)
    elif pressed == "Alert":
        exchange, symbol = split_key(instrument_key)
        st.session_state[ALERT_PREFILL] = f"{exchange}:{symbol}"
        st.switch_page(ALERTS_PAGE)
    else:
        open_ticket(instrument_key, pressed.upper())
