"""End to end in headless Chromium: a TradingView-style webhook → approval card → approve →
position.

On the shared desk (``shared_desk``: ``make run``'s desk, embedded Redis, replay market, ticker,
worker, clock, web, api). The trader creates a webhook secret on Settings (the URL is shown once); the test
posts a TradingView alert to that URL on the running ``api`` process, as TradingView would;
the card appears on Approvals with the alert as its reason, the trader approves it, and the
worker's fill shows as a position. Screenshots go to ``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.desk import ROOT, launch_chromium

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "artifacts"
QUANTITY = 7  # small: below the confirmation threshold, so Approve places it without a dialog
ALERT = {"symbol": "NSE:INFY", "action": "buy", "quantity": str(QUANTITY), "product": "MIS",
         "order_type": "MARKET", "strategy": "tv-e2e", "message": "EMA cross on 5m **bold?**"}


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"webhook_e2e_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _goto(page, link: str, heading: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=30_000)


def _post_alert(api_url: str, path: str, desk_log: Path) -> dict:
    """POST the alert until the ticker has cached an INFY tick (no price in the alert: the LTP)."""
    body = json.dumps(ALERT)
    deadline = time.monotonic() + 120
    while True:
        try:
            r = httpx.post(f"{api_url}{path}", content=body, headers={"content-type": "text/plain"}, timeout=30)
        except httpx.HTTPError:
            r = None  # the api process is still starting
        if r is not None and r.status_code == 201:
            return r.json()
        if r is not None and r.status_code not in (422, 503):
            raise AssertionError(f"webhook answered {r.status_code}: {r.text}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no 201 from the webhook after 120 s (last: {r and r.text}); desk log:\n"
                                 f"{desk_log.read_text()[-3000:]}")
        time.sleep(0.5)


def test_tradingview_webhook_appears_as_an_approval_card_and_becomes_a_position(shared_desk):
    from playwright.sync_api import expect, sync_playwright

    desk = shared_desk
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(desk.url)
            expect(page.get_by_role("heading", name="PaperDesk", exact=True)).to_be_visible(timeout=60_000)

            # 1. Settings → Webhooks: create the secret; the URLs are shown once.
            _goto(page, "Settings", "Settings")
            page.get_by_role("button", name="Create webhook secret").click()
            url_block = page.locator("code").filter(has_text="/api/v1/webhooks/tradingview/")
            expect(url_block.first).to_be_visible(timeout=30_000)
            found = re.search(r"(/api/v1/webhooks/tradingview/pdw_[A-Za-z0-9_\-]+)", url_block.first.inner_text())
            assert found, url_block.first.inner_text()
            _shot(page, "01_secret")

            # 2. TradingView posts the alert to the api process.
            answer = _post_alert(desk.api_url, found.group(1), desk.log)
            (proposal,) = answer["approvals"]
            assert proposal["tradingsymbol"] == "INFY" and proposal["status"] == "PENDING"
            again = httpx.post(f"{desk.api_url}{found.group(1)}", content=json.dumps(ALERT), timeout=30)
            assert again.status_code == 200 and again.json()["duplicate"] is True  # TradingView retried: nothing new

            # 3. Approvals: the card carries the alert (fenced) as its reason; approve it.
            _goto(page, "Approvals", "Approvals")
            expect(page.get_by_text(re.compile(r"TradingView alert: BUY 7 NSE:INFY"))).to_be_visible(timeout=30_000)
            expect(page.get_by_text("EMA cross on 5m **bold?**")).to_be_visible()  # literal, not Markdown
            expect(page.get_by_text(re.compile(r"webhook:tradingview"))).to_be_visible()
            _shot(page, "02_card")
            page.get_by_role("button", name="Approve", exact=True).click()
            expect(page.get_by_text(re.compile(r"Approved A-"))).to_be_visible(timeout=30_000)
            _shot(page, "03_approved")

            # 4. Orders & Positions: the worker fills it; the live positions table shows it.
            _goto(page, "Orders & Positions", "Orders & Positions")
            cells = page.locator(".st-key-orders_positions [role=gridcell]")
            deadline = time.monotonic() + 60
            while not (cells.count() and cells.filter(has_text="INFY").count()):
                if time.monotonic() > deadline:
                    _shot(page, "04_position_missing")
                    raise AssertionError(f"no INFY position after 60 s; desk log:\n{desk.log.read_text()[-3000:]}")
                time.sleep(1)
            expect(cells.filter(has_text=re.compile(rf"^{QUANTITY}$")).first).to_be_attached()
            _shot(page, "04_position")
        finally:
            browser.close()
