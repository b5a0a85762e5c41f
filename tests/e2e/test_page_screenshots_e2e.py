"""End to end in headless Chromium: every page of ``make run``'s desk renders, and a screenshot of
each is saved under the test run's output folder (``screenshots`` fixture:
``$DESK_TEST_OUTPUT/screenshots/<page>.png``, else pytest's base temporary folder).

The shared desk (``shared_desk``), one browser, one session: each page is opened from the sidebar as a trader would,
waited for until Streamlit's script run has finished (no running indicator), checked for an
exception box, then captured.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.desk import PAGES, launch_chromium, save_screenshot, wait_rendered

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # 13 pages on a desk still backfilling


def test_every_page_renders_and_is_captured(shared_desk, screenshots):
    from playwright.sync_api import sync_playwright

    saved, broken = [], []
    desk = shared_desk
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(desk.url)
            wait_rendered(page, "Home", timeout_ms=180_000)
            for title, heading, path in PAGES:
                t0 = time.monotonic()
                if title != "Home":
                    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=title, exact=True).click()
                wait_rendered(page, heading, timeout_ms=120_000)
                errors = page.locator("[data-testid=stException]")
                if errors.count():
                    broken.append(f"{title}: {errors.first.inner_text()[:500]}")
                took = time.monotonic() - t0
                saved.append(save_screenshot(page, screenshots, path or "home"))
                print(f"{title}: rendered in {took:.1f} s, captured in {time.monotonic() - t0 - took:.1f} s")
        finally:
            browser.close()
    print(f"screenshots of {len(saved)} pages in {screenshots}")
    assert not broken, "pages raised:\n" + "\n".join(broken)
    assert len(saved) == len(PAGES) and all(p.stat().st_size > 10_000 for p in saved), saved
