"""End to end in headless Chromium: a Kite-style alert on ``make run``'s shared desk (issue 15.2).

1. **Home**: tick the watchlist's first row, press *Alert*: the Alerts page opens with that
   instrument in the new-alert form.
2. **Alerts**: name it, ``LTP > 1``, *Create alert*: it is listed as enabled.
3. The desk's own ticker (the replay at speed 1) evaluates it on the next tick batch and sends the
   trigger to the worker, which logs it with the tick: the trigger log shows it, the alert is
   now disabled (trigger once).

Screenshots go to ``$E2E_SHOTS`` (default ``/tmp/e2e_shots``).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.e2e.desk import SHARED_WATCHLIST, launch_chromium
from tests.e2e.test_row_actions_e2e import _button, _grid_column, _tick_row

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SHOTS = Path(os.environ.get("E2E_SHOTS", "/tmp/e2e_shots"))
FIRST = SHARED_WATCHLIST[0]
TRIGGER_DEADLINE_S = 90


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"alerts_{name}.png"), full_page=True)


def _alert_log_lines(log: Path) -> str:
    """The desk log's lines about alerts (what the ticker and the worker did), for a failure."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return "\n".join(line for line in lines if "alert" in line.lower())[-4000:]


def _drive(page, url: str, log: Path) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible(timeout=60_000)
    alert = _button(page, "home_row_alert")
    expect(alert).to_be_disabled(timeout=60_000)
    _tick_row(page, ".st-key-home_watchlist_table", 0)
    expect(page.get_by_text(f"Selected {FIRST}")).to_be_visible(timeout=30_000)
    alert.click()
    page.wait_for_url(re.compile(r"/alerts"), timeout=30_000)
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible(timeout=60_000)
    instrument = page.get_by_role("textbox", name="Instrument", exact=True)
    expect(instrument).to_have_value(FIRST, timeout=30_000)

    name = f"e2e {FIRST} ticks"
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    operator = page.get_by_role("combobox", name="Operator")
    operator.click()
    page.get_by_role("option", name=">", exact=True).click()
    value = page.get_by_role("spinbutton", name=re.compile("Value"))
    value.fill("1")
    value.press("Enter")
    _button(page, "alerts_create").click()
    expect(page.get_by_text(re.compile(rf"Alert '{re.escape(name)}' created"))).to_be_visible(timeout=30_000)
    _shot(page, "01_created")

    deadline = time.monotonic() + TRIGGER_DEADLINE_S
    while True:  # the ticker fires it on its next batch; the worker logs it
        page.reload()
        expect(page.get_by_role("heading", name="Trigger log")).to_be_visible(timeout=60_000)
        if page.locator(".st-key-alerts_log [data-testid=stDataFrame]").count():
            break
        if time.monotonic() > deadline:
            _shot(page, "no_trigger")
            raise AssertionError(f"the alert did not trigger within {TRIGGER_DEADLINE_S} s; the desk's alert "
                                 f"lines:\n{_alert_log_lines(log)}")
        page.wait_for_timeout(2000)
    assert name in _grid_column(page, ".st-key-alerts_log", "Name")
    assert "disabled" in _grid_column(page, ".st-key-alerts_list", "Status")
    _shot(page, "02_triggered")


def test_home_alert_row_action_creates_an_alert_the_ticker_triggers(shared_desk):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            try:
                _drive(page, shared_desk.url, shared_desk.log)
            except BaseException:
                _shot(page, "failed")
                raise
        finally:
            browser.close()
