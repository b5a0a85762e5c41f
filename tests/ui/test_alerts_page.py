"""AppTest for the Alerts page (create, bad input, disable/enable, delete, trigger log) and Home's
"Alert" row action, on a fresh SQLite store and the session's real Redis."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from app.container import services
from core import alerts as al
from tests.ui.test_row_actions import desk  # noqa: F401  (fresh SQLite store, real Redis, watchlist INFY, TCS, NIFTY 50)

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")


def _alerts_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/alerts.py").run()
    assert not at.exception, at.exception
    assert at.header[0].value == "Alerts"
    return at


def test_create_an_alert_lists_it_and_publishes_it_for_the_ticker(desk):
    at = _alerts_page()
    assert any("No alerts yet" in i.value for i in at.info)
    at.text_input(key="alerts_new_name").input("INFY breakout")
    at.text_input(key="alerts_new_instrument").input("NSE:INFY")
    at.selectbox(key="alerts_new_operator").set_value(">=")
    at.number_input(key="alerts_new_value").set_value(1500.0)
    at.button(key="alerts_create").click().run()
    assert not at.exception, at.exception
    assert any("INFY LTP >= 1500" in s.value for s in at.success)
    (view,) = services().alerts.list()
    assert view.alert.rhs_constant == 1500.0 and view.alert.status is al.AlertStatus.ENABLED
    assert [a.alert_id for a in services().alerts.active()] == [view.alert_id]
    assert at.dataframe[0].value.index.tolist() == [view.alert_id]

    at.button(key="alerts_toggle").click().run()
    assert not at.exception, at.exception
    assert services().alerts.get(view.alert_id).alert.status is al.AlertStatus.DISABLED
    at.button(key="alerts_delete").click().run()
    assert services().alerts.list() == [] and not at.exception


def test_bad_input_shows_the_services_message_and_stores_nothing(desk):
    at = _alerts_page()
    at.text_input(key="alerts_new_name").input("typo")
    at.text_input(key="alerts_new_instrument").input("NSE:INFYY")
    at.number_input(key="alerts_new_value").set_value(10.0)
    at.button(key="alerts_create").click().run()
    assert not at.exception, at.exception
    assert any("INFYY" in e.value for e in at.error)
    at.text_input(key="alerts_new_instrument").input("NSE:INFY")
    at.radio(key="alerts_new_kind").set_value("ato").run()
    at.selectbox(key="alerts_new_order_type").set_value("LIMIT")
    at.button(key="alerts_create").click().run()  # a LIMIT order without a price
    assert any("price" in e.value for e in at.error)
    assert services().alerts.list() == []


def test_home_alert_row_action_opens_the_alerts_page_on_that_symbol(desk):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.button(key="home_row_alert").disabled
    at.session_state["home_watchlist_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    at.button(key="home_row_alert").click().run()
    assert not at.exception, at.exception
    assert at.header[0].value == "Alerts"
    assert at.text_input(key="alerts_new_instrument").value == "NSE:TCS"
    assert "alert_prefill" not in at.session_state


def test_a_trigger_shows_in_the_log_and_toasts_once_on_the_next_page_load(desk):
    from app.market.alerts import trigger_payload
    from tests.core.test_alerts import batch, tick

    svc = services().alerts
    made = svc.create(name="INFY 1000", instrument="NSE:INFY", attribute="LTP", operator=">=", value=1000)
    # a quote packet has no exchange time: the trigger is logged at the desk's market time (now)
    (trigger,) = al.AlertEvaluator(svc.active()).evaluate(batch(tick(ltp=1001.0, mode="quote")))
    svc.record_trigger(trigger_payload(trigger))
    at = AppTest.from_file(APP, default_timeout=60).run()  # Home: the trigger toasts on the first page load
    assert not at.exception, at.exception
    assert [t.value for t in at.toast if "INFY 1000" in t.value]
    at.switch_page("pages/alerts.py").run()
    assert not at.exception, at.exception
    assert not [t.value for t in at.toast if "INFY 1000" in t.value]  # once per session
    log = at.dataframe[1].value
    assert log["Name"].tolist() == ["INFY 1000"] and log["LTP"].tolist() == [1001.0]
    assert svc.get(made.alert_id).alert.status is al.AlertStatus.DISABLED
