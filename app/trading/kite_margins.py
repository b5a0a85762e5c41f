"""Kite's ``order_margins`` as the desk's exact margin (``core.margins`` rule 5, issue 13).

:class:`KiteOrderMargins` is a ``core.margins.ExactMargin``: called with an ``OrderIntent`` and
the ₹ per share price the desk judges it at, it asks Kite's ``POST /margins/orders``
(``KiteConnect.order_margins``) for that one order and answers the ``total`` of Kite's reply as
``Decimal`` rupees. Any Kite failure — no session, an expired token, Kite down or refusing the
order, or a reply without a usable ``total`` — is logged and answered ``None``, so
``MarginRules.required`` falls back to the desk's own margin table.

Every call goes through the desk's Kite funnel (``app.adapters.kite_errors``). The container
wires it only when ``settings.market == "kite"`` (a real Kite account).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from app.adapters.kite_errors import funnelled, kite_request
from core.errors import DeskError
from core.orders import OrderIntent

log = logging.getLogger(__name__)


def order_margin_params(intent: OrderIntent, price: Decimal, exchange: str = "NSE",
                        variety: str = "regular") -> dict[str, Any]:
    """One order of Kite's ``order_margins`` body: ``exchange``, ``tradingsymbol``,
    ``transaction_type``, ``variety``, ``product``, ``order_type``, ``quantity`` (shares),
    ``price`` and ``trigger_price`` (₹ floats; ``price`` is the price the desk judges the order at,
    ``trigger_price`` 0 when the order has none)."""
    return {"exchange": exchange, "tradingsymbol": intent.tradingsymbol,
            "transaction_type": str(intent.side), "variety": variety, "product": str(intent.product),
            "order_type": str(intent.order_type), "quantity": intent.quantity, "price": float(price),
            "trigger_price": float(intent.trigger_price) if intent.trigger_price is not None else 0.0}


class KiteOrderMargins:
    """``ExactMargin`` backed by Kite: ``(intent, price) -> Decimal rupees | None``.

    ``kite`` is a callable returning a logged-in ``KiteConnect`` (the container's
    ``SessionKite``; it may raise ``KiteLoginRequired``); ``exchange`` the intents' exchange
    (the desk trades NSE equity)."""

    def __init__(self, kite: Callable[[], Any], exchange: str = "NSE", variety: str = "regular") -> None:
        self._kite = kite
        self._exchange = exchange
        self._variety = variety

    def __call__(self, intent: OrderIntent, price: Decimal) -> Decimal | None:
        what = f"order margins for {intent.side} {intent.quantity} {intent.tradingsymbol} {intent.product}"
        params = [order_margin_params(intent, price, self._exchange, self._variety)]
        try:
            with kite_request(what):
                answer = funnelled(self._kite()).order_margins(params)
        except DeskError as exc:
            log.warning("Kite %s failed, the desk's margin table is used: %s", what, exc)
            return None
        return _total(answer, what)


def _total(answer: Any, what: str) -> Decimal | None:
    """``total`` (₹) of the one order in Kite's ``order_margins`` reply, or ``None`` (logged)."""
    try:
        total = Decimal(str(answer[0]["total"]))
    except (TypeError, KeyError, IndexError, InvalidOperation):
        log.warning("Kite %s answered no usable total (%.200r); the desk's margin table is used", what, answer)
        return None
    if not total.is_finite() or total < 0:
        log.warning("Kite %s answered total %s; the desk's margin table is used", what, total)
        return None
    return total


__all__ = ["KiteOrderMargins", "order_margin_params"]
