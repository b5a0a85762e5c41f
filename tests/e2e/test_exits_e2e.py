"""End to end in headless Chromium: an entry with a stop and a target manages its own exits.

On the shared desk (``shared_desk``: ``make run``'s desk on the 2016-09-09 replay), a trader
places an MIS MARKET buy of one ADANIPORTS share from the ticket with a stop-loss 3 % below the LTP
and a target 3 % above it; the worker fills it and places the two exits (an SL-M stop and a LIMIT
target, one OCO group). Orders & Positions shows them in the Exits table; the trader moves the
stop up, then cancels the exits.
"""

from __future__ import annotations

import os
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest

from tests.e2e.desk import launch_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SHOTS = Path(os.environ.get("E2E_SHOTS", "/tmp/e2e_shots"))
SYMBOL = "ADANIPORTS"  # on the shared watchlist; no other end-to-end test trades it
TICK = Decimal("0.05")  # NSE's 2016 tick


def _on_tick(price: Decimal, up: bool) -> Decimal:
    return (price / TICK).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR) * TICK


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"exits_{name}.png"), full_page=True)


def _drive(page, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/orders")
    expect(page.get_by_role("heading", name="Order ticket")).to_be_visible(timeout=60_000)
    box = page.get_by_role("combobox", name=re.compile("Symbol"))
    box.click()
    box.fill(f"NSE:{SYMBOL}")
    page.keyboard.press("Enter")
    caption = page.get_by_text(re.compile(rf"^{SYMBOL} · LTP ₹[\d,]+\.\d\d"))
    expect(caption).to_be_visible(timeout=60_000)
    ltp = Decimal(re.search(r"LTP ₹([\d,]+\.\d\d)", caption.inner_text()).group(1).replace(",", ""))
    stop, target = _on_tick(ltp * Decimal("0.97"), up=False), _on_tick(ltp * Decimal("1.03"), up=True)
    page.get_by_role("radiogroup", name="Product").get_by_text("MIS", exact=True).click()
    page.locator(".st-key-orders_stop input").fill(str(stop))
    page.locator(".st-key-orders_target input").fill(str(target))
    page.get_by_role("button", name="Review", exact=True).click()
    expect(page.get_by_text(f"BUY 1 {SYMBOL} MIS MARKET", exact=False).first).to_be_visible(timeout=30_000)
    placed = page.get_by_text(re.compile(rf"Placed BUY 1 {SYMBOL} MIS MARKET · order"))
    refused = page.get_by_text(re.compile(r"^(Refused \[|Not sent)"))
    page.get_by_role("button", name="Place", exact=True).click()
    expect(placed.or_(refused).first).to_be_visible(timeout=30_000)
    assert not refused.count(), f"the entry was refused: {refused.first.inner_text()}"

    # The worker fills the entry and places its exits; the live Exits table shows them.
    row = page.locator(".st-key-orders_exits table tr", has=page.locator("td", has_text=re.compile(rf"^{SYMBOL}$")))
    expect(row.first).to_be_attached(timeout=60_000)
    expect(row.first.locator("td", has_text=re.compile(r"^ACTIVE$"))).to_be_attached(timeout=30_000)
    cells = [c.strip() for c in row.first.locator("td").all_inner_texts()]
    assert f"₹{stop:,.2f}" in cells and f"₹{target:,.2f}" in cells and "SL-M" in cells, cells
    _shot(page, "01_exits_placed")

    # Move the stop up (the expander is drawn on a full run: reload), then cancel the exits.
    page.reload()
    expect(page.get_by_role("heading", name="Order ticket")).to_be_visible(timeout=60_000)
    page.get_by_text(re.compile(r"^Move, trail or cancel exits")).click()
    picker = page.get_by_role("combobox", name=re.compile("Exits of"))
    expect(picker).to_be_visible(timeout=30_000)
    if SYMBOL not in picker.input_value():
        picker.click()
        page.get_by_role("option", name=re.compile(rf"^{SYMBOL} MIS")).first.click()
    new_stop = _on_tick(ltp * Decimal("0.98"), up=False)
    page.get_by_role("textbox", name="New stop trigger (₹)").fill(str(new_stop))
    page.get_by_role("button", name="Move exits").click()
    moved = page.get_by_text(f"Moved the exits of {SYMBOL}")
    refused = page.get_by_text(re.compile(r"^Refused \[|must stay"))
    expect(moved.or_(refused).first).to_be_visible(timeout=30_000)
    assert not refused.count(), refused.first.inner_text()
    expect(row.first.locator("td", has_text=f"₹{new_stop:,.2f}")).to_be_attached(timeout=30_000)
    _shot(page, "02_stop_moved")
    page.get_by_role("button", name="Cancel these exits").click()
    expect(page.get_by_text(f"Cancelled the exits of {SYMBOL}")).to_be_visible(timeout=30_000)
    expect(row.first.locator("td", has_text=re.compile(r"^CANCELLED$"))).to_be_attached(timeout=30_000)
    _shot(page, "03_exits_cancelled")


def test_entry_with_stop_and_target_places_exits_that_the_trader_moves_and_cancels(shared_desk):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1400})
            try:
                _drive(page, shared_desk.url)
            except BaseException:
                _shot(page, "failed")
                raise
        finally:
            browser.close()
