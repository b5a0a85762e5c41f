"""End to end in headless Chromium: ticket → pending approval → approve (dialog) → position.

Starts the whole desk like ``make run`` (embedded Redis, replay market at speed 1, ticker,
worker, clock, web) and drives the dashboard the way a trader would. Screenshots of each step
go to ``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.desk import ROOT, launch_chromium, running_desk

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "artifacts"
SYMBOL = "NSE:INFY"
QUANTITY = 120  # ~₹1.2 lakh notional at 2016 prices: above the ₹1 lakh confirmation threshold


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"approve_e2e_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _goto(page, link: str, heading: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=30_000)


def test_ticket_proposal_approved_in_browser_shows_the_position(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with running_desk(tmp_path / "state") as desk, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            # The fresh server's first request names a page: it must still come through the
            # entrypoint (grouped navigation, sidebar), not run pages/orders.py on its own.
            page.goto(f"{desk.url}/orders")
            expect(page.get_by_role("heading", name="Orders & Positions", exact=True)).to_be_visible(timeout=60_000)
            expect(page.get_by_role("heading", name="PaperDesk", exact=True)).to_be_visible(timeout=30_000)
            expect(page.get_by_role("link", name="Home", exact=True)).to_be_visible()
            assert page.get_by_role("link", name="streamlit app").count() == 0
            _shot(page, "01_orders_first_request")

            # 1. Orders & Positions: fill the ticket and send it to approvals.
            _goto(page, "Orders & Positions", "Orders & Positions")
            symbol = page.get_by_role("combobox", name=re.compile("Symbol"))
            expect(symbol).to_be_visible(timeout=30_000)
            symbol.click()
            symbol.fill(SYMBOL)
            page.keyboard.press("Enter")
            qty = page.get_by_label("Quantity (shares)")
            qty.fill(str(QUANTITY))
            qty.press("Enter")
            expect(page.get_by_text(re.compile(r"INFY · LTP"))).to_be_visible(timeout=30_000)
            sent = page.get_by_text("Sent to approvals")
            deadline = time.monotonic() + 90  # the ticker needs a first INFY tick for the signal price
            while True:
                page.get_by_role("button", name="Send to approvals").click()
                try:
                    expect(sent).to_be_visible(timeout=5_000)
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        _shot(page, "02_ticket_failed")
                        raise
            _shot(page, "02_ticket_sent")

            # 2. Approvals: the card is there; approve it and confirm the size dialog.
            _goto(page, "Approvals", "Approvals")
            approve = page.get_by_role("button", name="Approve", exact=True)
            expect(approve).to_be_visible(timeout=30_000)
            expect(page.get_by_text("manual ticket")).to_be_visible()
            _shot(page, "03_pending_card")
            approve.click()
            dialog = page.get_by_role("dialog")
            expect(dialog).to_be_visible(timeout=15_000)
            expect(dialog.get_by_text("above your confirmation threshold")).to_be_visible()
            _shot(page, "04_confirm_dialog")
            dialog.get_by_role("button", name="Confirm approve").click()
            expect(page.get_by_text(re.compile(r"Approved A-"))).to_be_visible(timeout=30_000)
            _shot(page, "05_approved")

            # 3. Orders & Positions: the worker fills it; the live positions table shows it.
            _goto(page, "Orders & Positions", "Orders & Positions")
            cells = page.locator(".st-key-orders_positions [role=gridcell]")
            deadline = time.monotonic() + 60
            while not (cells.count() and cells.filter(has_text="INFY").count()):
                if time.monotonic() > deadline:
                    _shot(page, "06_position_missing")
                    raise AssertionError(f"no INFY position after 60 s; desk log:\n{desk.log.read_text()[-3000:]}")
                time.sleep(1)
            expect(cells.filter(has_text=str(QUANTITY)).first).to_be_attached()
            _shot(page, "06_position")

            # 4. The Risk and P&L pages see the same account.
            _goto(page, "Risk", "Risk")
            expect(page.get_by_text("Open positions", exact=True)).to_be_visible(timeout=30_000)
            expect(page.get_by_text("1 / 5", exact=True)).to_be_visible(timeout=30_000)
            _shot(page, "07_risk")
            _goto(page, "P&L", "P&L")
            expect(page.get_by_text("Gross P&L", exact=True)).to_be_visible(timeout=30_000)
            expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)  # the equity curve
            _shot(page, "08_pnl")
        finally:
            browser.close()
