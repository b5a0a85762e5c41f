"""Alerts (Kite-style): create, modify, delete and list price alerts, and the trigger log. A
simple alert notifies; an ATO alert proposes its order to the Approvals page, never an order."""

import streamlit as st

from app.ui.alert_widgets import alert_inputs, alerts_frame, triggers_frame
from app.ui.auth import guard_page
from app.ui.desk import current_user
from app.ui.feedback import guarded
from app.ui.row_actions import ALERT_PREFILL
from app.ui.state import get_services
from core.errors import ValidationError

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services().alerts

st.header("Alerts")
st.caption("Evaluated by the ticker on every tick batch (replayed sessions too). A triggered alert fires once "
           "and is disabled until you enable it again. At most 200 alerts, as on Kite.")

prefill = st.session_state.pop(ALERT_PREFILL, None)  # the Home watchlist's "Alert" row action
if prefill:
    st.session_state["alerts_new_instrument"] = prefill
flash = st.session_state.pop("alerts_flash", None)
if flash:
    st.success(flash)


def act(call, flash) -> None:
    """Run ``call()``; show its ``ValidationError``, or keep ``flash(result)`` for the rerun."""
    try:
        result = call()
    except ValidationError as exc:
        st.error(str(exc))
    else:
        st.session_state["alerts_flash"] = flash(result)
        st.rerun()


with st.expander("New alert", expanded=True):
    fields = alert_inputs("alerts_new")
    if st.button("Create alert", key="alerts_create", type="primary"):
        act(lambda: svc.create(**fields, user=current_user()),
            lambda made: f"Alert {made.alert.name!r} created: {made.alert.condition()}")

st.subheader("Your alerts")
views = guarded("the alerts", svc.list)
if views is None:
    st.stop()
if not views:
    st.info("No alerts yet: create one above, or press Alert on a Home watchlist row.")
else:
    with st.container(key="alerts_list"):
        st.dataframe(alerts_frame(views))
    by_id = {v.alert_id: v for v in views}
    pick = st.selectbox("Alert", list(by_id), key="alerts_pick",
                        format_func=lambda i: f"{by_id[i].alert.name} · {by_id[i].alert.condition()} ({by_id[i].alert.status})")
    chosen = by_id[pick].alert
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    new_value = c1.number_input("New value", value=chosen.rhs_constant, key="alerts_edit_value",
                                disabled=chosen.rhs_token is not None)
    actions = {
        "alerts_save": (c2, "Save value", lambda: svc.modify(pick, value=new_value), "saved"),
        "alerts_toggle": (c3, "Disable" if chosen.active else "Enable",
                          lambda: svc.modify(pick, enabled=not chosen.active), "updated"),
        "alerts_delete": (c4, "Delete", lambda: svc.delete(pick), "deleted"),
    }
    for key, (col, label, call, done) in actions.items():
        if col.button(label, key=key, disabled=key == "alerts_save" and chosen.rhs_token is not None):
            act(call, lambda _result, done=done: f"Alert {chosen.name!r} {done}.")

st.subheader("Trigger log")
log = guarded("the trigger log", svc.triggers, 100)
if log:
    with st.container(key="alerts_log"):
        st.dataframe(triggers_frame(log), hide_index=True)
elif log is not None:
    st.caption("Nothing has triggered yet.")
