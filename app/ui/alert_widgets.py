"""The Alerts page's parts: the new-alert inputs, the alerts table and the trigger log.

Widget keys are prefixed ``alerts_``. The inputs only collect; validation is the service's
(``app.market.alerts.AlertService``), whose ``ValidationError`` the page shows as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from app.ui.formatting import ist_time
from core.alerts import ATTRIBUTE_LABELS, AlertType, Attribute, Operator

ATTRIBUTES = [a.value for a in Attribute]
OPERATORS = [o.value for o in Operator]
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")


def _attr_label(value: str) -> str:
    return ATTRIBUTE_LABELS.get(Attribute(value), value)


def alert_inputs(prefix: str, instrument: str = "") -> dict[str, Any]:
    """Draw the fields of one alert (keys ``{prefix}_…``); return them as ``AlertService.create``
    keyword arguments (``value`` or ``rhs_instrument``/``rhs_attribute``; ``order`` for ATO)."""
    c1, c2, c3 = st.columns([2, 2, 1])
    name = c1.text_input("Name", key=f"{prefix}_name", placeholder="e.g. INFY breakout")
    inst = c2.text_input("Instrument", value=instrument, key=f"{prefix}_instrument", placeholder="NSE:INFY")
    kind = c3.radio("Type", [t.value for t in AlertType], key=f"{prefix}_kind", horizontal=True,
                    format_func=lambda v: "Simple" if v == "simple" else "ATO (proposes an order)")
    c1, c2, c3 = st.columns([2, 1, 2])
    attribute = c1.selectbox("Attribute", ATTRIBUTES, key=f"{prefix}_attribute", format_func=_attr_label)
    operator = c2.selectbox("Operator", OPERATORS, key=f"{prefix}_operator")
    against = c3.radio("Compare with", ("Value", "Another instrument"), key=f"{prefix}_against", horizontal=True)
    fields: dict[str, Any] = dict(name=name, instrument=inst, attribute=attribute, operator=operator, kind=kind)
    if against == "Value":
        fields["value"] = st.number_input("Value (₹, % or shares)", value=None, key=f"{prefix}_value",
                                          placeholder="e.g. 1500")
    else:
        o1, o2 = st.columns(2)
        fields["rhs_instrument"] = o1.text_input("Other instrument", key=f"{prefix}_rhs_instrument",
                                                 placeholder="NSE:TCS")
        fields["rhs_attribute"] = o2.selectbox("Its attribute", ATTRIBUTES, key=f"{prefix}_rhs_attribute",
                                               format_func=_attr_label)
    if kind == AlertType.ATO.value:
        st.caption("When it triggers, the order below waits on the Approvals page: nothing is placed "
                   "until you approve it.")
        o1, o2, o3, o4, o5, o6 = st.columns(6)
        fields["order"] = dict(
            side=o1.radio("Side", ("BUY", "SELL"), key=f"{prefix}_side", horizontal=True),
            quantity=int(o2.number_input("Quantity", min_value=1, value=1, step=1, key=f"{prefix}_quantity")),
            product=o3.radio("Product", ("MIS", "CNC"), key=f"{prefix}_product", horizontal=True),
            order_type=o4.selectbox("Order type", ORDER_TYPES, key=f"{prefix}_order_type"),
            price=_price(o5.text_input("Price ₹", key=f"{prefix}_price")),
            trigger_price=_price(o6.text_input("Trigger ₹", key=f"{prefix}_trigger_price")),
        )
    return fields


def _price(text: str) -> str | None:
    return text.strip() or None


def alerts_frame(views: Sequence[Any]) -> pd.DataFrame:
    """One row per alert (``AlertView``), index the alert id."""
    rows = []
    for v in views:
        a = v.alert
        rows.append({"Alert": v.alert_id, "Name": a.name, "Condition": a.condition(), "Type": str(a.kind).upper(),
                     "Order": a.order.describe() if a.order else "", "Status": str(a.status),
                     "Triggers": a.alert_count, "Note": v.disabled_reason, "Updated": ist_time(v.updated_at)})
    return pd.DataFrame(rows).set_index("Alert") if rows else pd.DataFrame()


def triggers_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The trigger log: when, which alert, the condition, the value and the tick that fired it."""
    out = []
    for r in rows:
        tick = r.get("tick") or {}
        out.append({"Triggered": ist_time(r["triggered_at"]), "Name": r["name"], "Condition": r["condition"],
                    "Value": r["lhs_value"], "LTP": tick.get("last_price"), "Volume": tick.get("volume_traded"),
                    "#": r["sequence"], "Approval": r.get("approval_id") or "", "Note": r.get("note") or "",
                    "Trace": r["trace_id"]})
    return pd.DataFrame(out)
