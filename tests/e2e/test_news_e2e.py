"""End to end in headless Chromium: news items in the desk's store show on Home's News panel
and on the Chart's News expander as text (a headline with markdown and a ``javascript:`` link
is drawn as those characters, no link is made), with source and score.

On the shared desk (its SQLite store in the desk's state folder): the items are stored the way
a poll stores them (``NewsStore.save_poll``), since the desk has no internet; the poll itself
is tested against a loopback feed server in ``tests/app/test_news_feed.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine

from app.adapters.news_store import NewsStore
from core.news import Tag, normalise_entry
from tests.e2e.desk import launch_chromium, save_screenshot, wait_rendered

pytestmark = pytest.mark.e2e

HOSTILE = "**Infosys** e2e surges [click](javascript:alert(1)) <b>bold</b>"
#: what the desk stores and shows: HTML tags dropped (plain text), markdown characters kept as they are
SHOWN = "**Infosys** e2e surges [click](javascript:alert(1)) bold"
CALM = "Reliance e2e story: board meets on Friday"
INFY_TOKEN, RELIANCE_TOKEN = 408065, 738561


def _store_items(desk) -> None:
    engine = create_engine(f"sqlite:///{desk.state_dir / 'paperdesk.db'}")
    try:
        store = NewsStore(engine)
        rows = []
        for n, (title, tag) in enumerate(((HOSTILE, Tag(INFY_TOKEN, "INFY", "Infosys")),
                                          (CALM, Tag(RELIANCE_TOKEN, "RELIANCE", "Reliance")))):
            item = normalise_entry({"title": title, "id": f"e2e-{n}", "link": f"https://news.test/e2e/{n}",
                                    "published_at": datetime(2016, 9, 8, 4, 30 + n, tzinfo=UTC)},
                                   feed_url="https://news.test/e2e.xml", source="E2E Wire")
            rows.append((item, [tag], 0.6 if n == 0 else 0.0, "vader-3.3.2+finance"))
        store.save_poll("https://news.test/e2e.xml", datetime.now(UTC), "ok", "e2e", rows)
    finally:
        engine.dispose()


def _cells(page) -> list[str]:
    return [c.strip() for c in page.locator("[role=gridcell]").all_inner_texts()]


def test_news_panels_show_headlines_as_text_in_browser(shared_desk, screenshots):
    from playwright.sync_api import expect, sync_playwright

    desk = shared_desk
    _store_items(desk)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1400})
            page.goto(desk.url)
            wait_rendered(page, "Home")
            expect(page.get_by_role("heading", name="News", exact=True)).to_be_visible(timeout=60_000)
            page.get_by_role("heading", name="News", exact=True).scroll_into_view_if_needed()
            try:
                page.wait_for_function("(t) => [...document.querySelectorAll('[role=gridcell]')]"
                                       ".some(c => c.innerText.trim() === t)", arg=SHOWN, timeout=60_000)
            except Exception:
                save_screenshot(page, screenshots, "news_home_failed")
                raise AssertionError(f"no news row on Home; cells: {_cells(page)[-30:]}; "
                                     f"shot in {screenshots}") from None
            cells = _cells(page)
            assert SHOWN in cells and CALM in cells, cells[-20:]
            assert "E2E Wire" in cells and "+0.60 positive" in cells
            assert page.locator("a[href^='javascript']").count() == 0  # the markdown link was not made
            save_screenshot(page, screenshots, "news_home")

            page.goto(f"{desk.url}/chart?symbol=NSE:INFY")
            wait_rendered(page, "Chart")
            page.get_by_text("News · NSE:INFY").click()
            page.wait_for_function("(t) => [...document.querySelectorAll('[role=gridcell]')]"
                                   ".some(c => c.innerText.trim() === t)", arg=SHOWN, timeout=60_000)
            assert CALM not in _cells(page)  # only the charted symbol's items
            save_screenshot(page, screenshots, "news_chart")
        finally:
            browser.close()
