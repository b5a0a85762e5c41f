"""End to end in headless Chromium: ``make run``'s desk, the Home page, a price that moves.

On the shared desk (``shared_desk``: ``make run``'s desk, embedded Redis, replay market at
speed 1, ticker, worker, clock, web), opens the Home page and waits until a
watchlist LTP cell changes. Screenshots go to ``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.desk import ROOT, launch_chromium

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "artifacts"


def _row_values(page, symbol: str) -> list[str]:
    """The grid cells of the watchlist row whose first cell is ``symbol``."""
    cells = [c.strip() for c in page.locator("[role=gridcell]").all_inner_texts()]
    for i, text in enumerate(cells):
        if text == symbol:
            return cells[i:i + 6]
    return []


def test_home_shows_watchlist_ltp_changing_in_browser(shared_desk):
    from playwright.sync_api import expect, sync_playwright

    desk = shared_desk
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(desk.url)
            expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible(timeout=60_000)
            deadline = time.monotonic() + 90
            first: list[str] = []
            while not first or not re.search(r"\d", first[1] if len(first) > 1 else ""):
                assert time.monotonic() < deadline, f"no RELIANCE tick on the Home page; log:\n{desk.log.read_text()[-3000:]}"
                page.wait_for_timeout(1000)
                first = _row_values(page, "RELIANCE")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "home_e2e_1.png"), full_page=True)
            deadline = time.monotonic() + 60
            later = first
            while later[:2] == first[:2]:
                assert time.monotonic() < deadline, f"RELIANCE LTP stayed {first[1]} for 60 s"
                page.wait_for_timeout(1000)
                later = _row_values(page, "RELIANCE")
            page.screenshot(path=str(ARTIFACTS / "home_e2e_2.png"), full_page=True)
            assert later[1] != first[1]
        finally:
            browser.close()
