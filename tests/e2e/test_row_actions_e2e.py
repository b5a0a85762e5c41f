"""End to end in headless Chromium: Kite's row habits (issue 14, item 5a) on ``make run``.

Runs on the shared desk (``shared_desk``: ``make run``'s desk, the 2016-09-09 replay at speed 1,
with a watchlist of ticking F&O names, ``SHARED_WATCHLIST``) and drives it as a trader would, clicking only what a trader clicks:

1. **Home**: tick the watchlist's second row (the grid's row marker, on the canvas, while the
   table refreshes every second), press *Chart*: the Chart page opens on that symbol
   (``/chart?symbol=NSE:XYZ``, the Symbol box shows it).
2. **Chart**: press *Sell*: Orders & Positions opens with the ticket on that symbol, side SELL.
3. **Scanner**: a daily expression on the watchlist universe, *Run now* (a job on the worker)
   until it lists a hit; tick the first hit's row, press *Buy*: the ticket opens on the hit,
   side BUY.

Screenshots go to ``$E2E_SHOTS`` (default ``/tmp/e2e_shots``).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.e2e.desk import SHARED_WATCHLIST, launch_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]  # a desk start on a busy machine takes minutes

SHOTS = Path(os.environ.get("E2E_SHOTS", "/tmp/e2e_shots"))
#: The shared desk's first two watchlist symbols (``SHARED_WATCHLIST``): the test ticks the second.
FIRST, SECOND = (key.split(":", 1)[1] for key in SHARED_WATCHLIST[:2])
#: Matches every watchlist symbol with a daily bar (history plus today's forming bar).
EXPRESSION = "[0] daily close > 0"
SCAN_DEADLINE_S = 150
ROW_PX, HEADER_PX = 35, 35  # Streamlit's grid: row and header height


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"row_actions_{name}.png"), full_page=True)


def _button(page, key: str):
    """The visible button of the widget keyed ``key`` (a button with help is drawn twice)."""
    return page.locator(f".st-key-{key} button:visible").first


def _tick_row(page, grid_scope: str, row: int) -> None:
    """Tick data row ``row`` (0-based) of the grid inside ``grid_scope`` by its row marker."""
    from playwright.sync_api import expect

    canvas = page.locator(f"{grid_scope} [data-testid=stDataFrame] canvas").first
    expect(canvas).to_be_visible(timeout=30_000)
    box = canvas.bounding_box()
    assert box, f"no grid canvas in {grid_scope}"
    page.mouse.click(box["x"] + 14, box["y"] + HEADER_PX + ROW_PX * row + ROW_PX / 2)


def _grid_column(page, grid_scope: str, column: str) -> list[str]:
    """The cells of ``column`` in the grid's accessible table (the canvas has no text)."""
    from playwright.sync_api import expect

    table = page.locator(f"{grid_scope} [data-testid=stDataFrame] table").first
    expect(table.locator("tbody tr").first).to_be_attached(timeout=30_000)
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    col = headers.index(column)
    out = []
    for row in table.locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        if len(cells) > col:
            out.append(cells[col])
    return out


def _ticket_is(page, key: str, side: str) -> None:
    from playwright.sync_api import expect

    page.wait_for_url(re.compile(r"/orders"), timeout=30_000)
    expect(page.get_by_role("heading", name="Order ticket")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("combobox", name=re.compile("Symbol"))).to_have_value(key, timeout=30_000)
    expect(page.get_by_role("radio", name=side, exact=True)).to_be_checked(timeout=10_000)


def _scan_hits(page) -> list[str]:
    """Run ``EXPRESSION`` on the watchlist universe; the hit symbols ([] if none matched)."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Run now").click()
    results = page.locator(".st-key-scanner_results")
    none = page.get_by_text("No symbol matched.")
    expect(page.get_by_text(re.compile(r"^Data: "))).to_be_visible(timeout=60_000)
    expect(results.or_(none).first).to_be_visible(timeout=30_000)
    if none.is_visible():
        return []
    return _grid_column(page, ".st-key-scanner_results", "symbol")


def _drive(page, url: str) -> None:
    from playwright.sync_api import expect

    # 1. Home: tick the second watchlist row while the table refreshes, then Chart.
    page.goto(url)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("replay (latest tick's exchange time)")).to_be_visible(timeout=60_000)
    chart = _button(page, "home_row_chart")
    expect(chart).to_be_disabled(timeout=60_000)  # nothing ticked yet
    symbols = _grid_column(page, ".st-key-home_watchlist_table", "symbol")
    assert symbols[:2] == [FIRST, SECOND], symbols
    page.wait_for_timeout(1500)  # one live refresh has redrawn the grid: the pick must survive it
    _tick_row(page, ".st-key-home_watchlist_table", 1)
    expect(page.get_by_text(f"Selected NSE:{SECOND}")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(2500)  # two more refreshes: still picked
    expect(page.get_by_text(f"Selected NSE:{SECOND}")).to_be_visible()
    _shot(page, "01_home_row_picked")
    chart.click()
    page.wait_for_url(re.compile(r"/chart\?symbol=NSE(%3A|:)" + re.escape(SECOND)), timeout=30_000)
    expect(page.get_by_role("heading", name="Chart", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_role("combobox", name=re.compile("Symbol"))).to_have_value(f"NSE:{SECOND}", timeout=30_000)
    _shot(page, "02_chart")

    # 2. Chart: Sell the charted symbol.
    _button(page, "chart_row_sell").click()
    _ticket_is(page, f"NSE:{SECOND}", "SELL")
    _shot(page, "03_ticket_sell")

    # 3. Scanner: a hit's row → Buy.
    page.get_by_role("link", name="Scanner", exact=True).click()
    expect(page.get_by_role("heading", name="Scanner", exact=True)).to_be_visible(timeout=60_000)
    universe = page.get_by_role("combobox", name=re.compile("Universe"))
    expect(universe).to_be_visible(timeout=30_000)
    universe.click()
    page.get_by_role("option", name="Watchlist: default", exact=True).click()
    expect(universe).to_have_value("Watchlist: default", timeout=10_000)
    page.get_by_role("radiogroup", name="Scan").get_by_text("Expression", exact=True).click()
    expr = page.get_by_role("textbox", name="Expression")
    expect(expr).to_be_visible(timeout=30_000)
    expr.fill(EXPRESSION)
    expr.press("Control+Enter")
    run = page.get_by_role("button", name="Run now")
    expect(run).to_be_enabled(timeout=30_000)
    deadline = time.monotonic() + SCAN_DEADLINE_S
    hits: list[str] = []
    while not hits:
        hits = _scan_hits(page)
        if not hits:
            if time.monotonic() > deadline:
                raise AssertionError(f"{EXPRESSION!r} matched nothing on the watchlist in {SCAN_DEADLINE_S} s")
            page.wait_for_timeout(2000)  # the morning backfill is still storing daily history
    buy = _button(page, "scanner_buy")
    expect(buy).to_be_disabled()
    _tick_row(page, ".st-key-scanner_results", 0)
    expect(page.get_by_text(f"Selected NSE:{hits[0]}")).to_be_visible(timeout=30_000)
    expect(buy).to_be_enabled(timeout=10_000)
    _shot(page, "04_scanner_row_picked")
    buy.click()
    _ticket_is(page, f"NSE:{hits[0]}", "BUY")
    _shot(page, "05_ticket_buy")


def test_watchlist_row_opens_chart_and_scanner_row_buy_opens_prefilled_ticket(shared_desk):
    from playwright.sync_api import sync_playwright

    desk = shared_desk
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            try:
                _drive(page, desk.url)
            except BaseException:
                _shot(page, "failed")
                raise
        finally:
            browser.close()
