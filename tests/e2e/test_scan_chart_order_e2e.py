"""End to end in headless Chromium: Scanner → first hit's Chart → order ticket, one market date.

Runs on the shared desk (``shared_desk``: ``make run``'s desk, the 2016-09-09 replay at speed 1)
and drives it as a trader would:

1. **Home** shows the replay's market time (``Market time: Fri 09 Sep 2016 …``).
2. **Scanner**: NIFTY 500, a built-in daily scan, *Run now* (a job on the worker) until it
   lists a hit; the page says it scans as of market time and shows the store's coverage.
3. **Chart** of the first hit: its row ticked in the results grid and the Scanner's *Chart*
   button (``/chart?symbol=NSE:XYZ``), on daily bars: the Plotly figure has the candles and
   both EMA traces with values, no "EMA … needs N bars" shortfall, the as-of is the market date.
4. **Orders & Positions**: the ticket places a CNC MARKET buy of 1 share of the hit (a daily
   hit need not be on the MIS list); the position appears and the order book lists the order, live.

Home, Scanner and Chart must all show the same market date: the replay's (09 Sep 2016).

Run time: the morning backfill fetches NIFTY 500 daily history at Kite's 3 requests a second
(about 3 minutes), in NIFTY 500 order. A scan sees only what is stored so far, and in session a
daily scan matches only symbols with a bar today (a tick). So the shared desk runs with a watchlist
of F&O names from the start of NIFTY 500 (``SHARED_WATCHLIST``): they tick from the first second and
their daily history lands in the first ~20 s of the backfill; the test tries a few built-in
daily scans until one lists a hit (the hit itself may be any NIFTY 500 stock). Screenshots of each step go to ``$E2E_SHOTS`` (default
``/tmp/e2e_shots``).
"""

from __future__ import annotations

import os
import re
import time
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.e2e.desk import launch_chromium

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ.get("E2E_SHOTS", "/tmp/e2e_shots"))
#: The default world: ``make run`` replays the recorded NSE session of this day.
MARKET_DAY = date(2016, 9, 9)
#: Built-in daily scans tried in turn (titles as the Scanner lists them) until one has a hit.
SCANS = ("Gap up", "Momentum (emerging)", "RSI overbought", "Gap down", "RSI oversold",
         "Volume spike", "Breakout (20-day high on volume)", "MACD bullish crossover")
SCAN_DEADLINE_S = 120
_DATE = r"(\d{2} [A-Z][a-z]{2} \d{4})"


def _day(text: str) -> date:
    return datetime.strptime(text, "%d %b %Y").date()


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"scan_chart_order_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _main_text(page) -> str:
    return page.locator("[data-testid=stMain]").inner_text()


def _goto(page, link: str, heading: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=30_000)


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label``."""
    from playwright.sync_api import expect

    box = page.get_by_role("combobox", name=re.compile(label))
    expect(box).to_be_visible(timeout=30_000)
    if box.input_value() == option:
        return
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option, timeout=10_000)


def _scan_hits(page, title: str) -> list[str]:
    """Run the built-in scan ``title`` on NIFTY 500; its hit symbols in result order ([] if none)."""
    from playwright.sync_api import expect

    _pick(page, "Built-in scan", title)
    page.get_by_role("button", name="Run now").click()
    heading = page.get_by_role("heading", name=f"{title} · NIFTY 500")
    expect(heading).to_be_visible(timeout=60_000)
    results = page.locator(".st-key-scanner_results")
    none = page.get_by_text("No symbol matched.")
    expect(results.or_(none).first).to_be_visible(timeout=30_000)
    if none.is_visible():
        return []
    # The grid draws on a canvas; its accessible table (hidden from the a11y tree) has the text.
    expect(results.locator("table tbody tr").first).to_be_attached(timeout=30_000)
    headers = [h.strip() for h in results.locator("table thead th").all_inner_texts()]
    col = headers.index("symbol")
    symbols = []
    for row in results.locator("table tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        if len(cells) > col and cells[col]:
            symbols.append(cells[col])
    return symbols


def _plotly_traces(page) -> list[dict]:
    """Name, type and count of non-null y values of each trace of the Chart page's figure."""
    plot = page.locator(".stPlotlyChart .js-plotly-plot").first
    # Plotly.py sends arrays base64-encoded ({dtype, bdata}); plotly.js decodes them into
    # _fullData, so count values there.
    return plot.evaluate("""el => (el._fullData || el.data).map(t => ({
        name: t.name || '', type: t.type || '',
        values: Array.from(t.y || t.close || []).filter(v => v !== null && !Number.isNaN(v)).length}))""")


def _drive(page, url: str) -> None:
    """The whole flow on a running desk at ``url``."""
    from playwright.sync_api import expect


    # 1. Home: the market time is the replay's (after its first tick).
    page.goto(url)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible(timeout=60_000)
    market = page.locator("[data-testid=stMarkdownContainer]", has_text="Market time:").first
    expect(market).to_be_visible(timeout=30_000)
    expect(page.get_by_text("replay (latest tick's exchange time)")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid=stMain] [data-testid=stDataFrame]").first).to_be_visible(timeout=30_000)
    home = re.search(r"Market time:\s*\w{3} " + _DATE, market.inner_text())
    _shot(page, "01_home")
    assert home, f"no market date on Home: {market.inner_text()!r}"
    assert _day(home.group(1)) == MARKET_DAY, f"Home market time {market.inner_text()!r}"

    # 2. Scanner: NIFTY 500, as of market time; built-in daily scans until one has a hit.
    _goto(page, "Scanner", "Scanner")
    expect(page.get_by_role("combobox", name=re.compile("Universe"))).to_be_visible(timeout=30_000)
    assert page.get_by_text("Latest bundled data").count() == 0
    _pick(page, "Universe", "NIFTY 500")
    as_of = page.get_by_text(re.compile(r"As of .* IST \(market time\)"))
    expect(as_of).to_be_visible(timeout=30_000)
    scanner_as_of = re.search(_DATE, as_of.inner_text())
    assert scanner_as_of and _day(scanner_as_of.group(1)) == MARKET_DAY, as_of.inner_text()
    expect(page.get_by_text(re.compile(r"Coverage, NIFTY 500 .*of 500 symbols")).first).to_be_visible(
        timeout=30_000)
    _shot(page, "02_scanner")
    deadline = time.monotonic() + SCAN_DEADLINE_S
    hits: list[str] = []
    tried: list[str] = []
    while not hits:
        for title in SCANS:
            hits = _scan_hits(page, title)
            tried.append(f"{title}: {len(hits)}")
            if hits:
                break
            if time.monotonic() > deadline:
                _shot(page, "03_scanner_no_hit")
                raise AssertionError(f"no built-in daily scan matched a NIFTY 500 symbol in "
                                     f"{SCAN_DEADLINE_S} s: {tried}; page:\n{_main_text(page)[-3000:]}")
    run_caption = page.get_by_text(re.compile(r"^Data: NIFTY 500 daily"))
    expect(run_caption).to_be_visible()
    run_as_of = re.search(r"as of " + _DATE, run_caption.inner_text())
    _shot(page, "03_scanner_hits")
    assert run_as_of and _day(run_as_of.group(1)) == MARKET_DAY, run_caption.inner_text()
    symbol = hits[0]
    key = f"NSE:{symbol}"

    # 3. Chart of the first hit: tick its row (the grid's row marker, on the canvas) and press
    #    the Scanner's Chart button, which opens /chart?symbol=NSE:XYZ.
    grid = page.locator(".st-key-scanner_results [data-testid=stDataFrame] canvas").first
    box = grid.bounding_box()
    assert box, "the Scanner's results grid has no canvas"
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)  # the first row's checkbox
    chart = page.get_by_role("button", name="Chart", exact=True)
    expect(chart).to_be_enabled(timeout=30_000)
    chart.click()
    page.wait_for_url(re.compile(r"/chart\?symbol=NSE(%3A|:)" + re.escape(symbol)), timeout=30_000)
    expect(page.get_by_role("heading", name="Chart", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_role("combobox", name=re.compile("Symbol"))).to_have_value(key, timeout=30_000)
    # A daily scan's hit, on daily bars (a daily-only stock has no intraday history before today).
    page.get_by_role("radiogroup", name="Interval").get_by_text("day", exact=True).click()
    expect(page.get_by_role("radio", name="day", exact=True)).to_be_checked(timeout=10_000)
    plot = page.locator(".stPlotlyChart .js-plotly-plot").first
    expect(plot).to_be_visible(timeout=30_000)
    page.wait_for_function("""t => { const el = document.querySelector('.stPlotlyChart .js-plotly-plot');
        const l = el && el._fullLayout; return !!(l && l.title && (l.title.text || '').replace(/<[^>]+>/g, '') === t); }""",
                           arg=f"{key} · Daily", timeout=60_000)
    caption = page.get_by_text(re.compile(r"\d+ bars · .* · as of "))
    expect(caption).to_be_visible(timeout=30_000)
    _shot(page, "04_chart")
    text = _main_text(page)
    assert not re.search(r"EMA \d+ needs \d+ bars", text), text
    traces = {t["name"]: t for t in _plotly_traces(page)}
    assert "OHLC" in traces and traces["OHLC"]["values"] > 0, traces
    for ema in ("EMA 20", "EMA 50"):
        assert ema in traces and traces[ema]["values"] > 0, f"{ema} not drawn: {traces}"
    chart_as_of = re.search(r"as of " + _DATE, caption.inner_text())
    assert chart_as_of and _day(chart_as_of.group(1)) == MARKET_DAY, caption.inner_text()
    picked = [page.get_by_role("spinbutton", name=f"{part}, As of (IST)").inner_text().strip()
              for part in ("year", "month", "day")]
    assert picked == MARKET_DAY.strftime("%Y %m %d").split(), f"Chart's As of (IST) date input shows {picked}"

    # 4. Orders & Positions: a CNC (delivery) MARKET buy of the hit from the ticket; a daily
    #    scan's hit need not be on the MIS list, so the trade is a delivery one.
    _goto(page, "Orders & Positions", "Orders & Positions")
    box = page.get_by_role("combobox", name=re.compile("Symbol"))
    expect(box).to_be_visible(timeout=30_000)
    box.click()
    box.fill(key)
    page.keyboard.press("Enter")
    page.get_by_role("radiogroup", name="Product").get_by_text("CNC", exact=True).click()
    expect(page.get_by_role("radio", name="CNC", exact=True)).to_be_checked(timeout=10_000)
    expect(page.get_by_text(re.compile(rf"^{re.escape(symbol)} · LTP ₹\d"))).to_be_visible(timeout=30_000)
    # The ticket sends what its preview shows (issue 14): Review, then Place.
    page.get_by_role("button", name="Review", exact=True).click()
    expect(page.get_by_text(f"BUY 1 {symbol} CNC MARKET", exact=False).first).to_be_visible(timeout=30_000)
    placed = page.get_by_text(re.compile(rf"Placed BUY 1 {re.escape(symbol)} CNC MARKET · order"))
    refused = page.get_by_text(re.compile(r"^(Refused \[|Not sent)"))
    page.get_by_role("button", name="Place", exact=True).click()
    expect(placed.or_(refused).first).to_be_visible(timeout=30_000)
    _shot(page, "05_order_placed")
    assert not refused.count(), f"the order for {key} was refused: {refused.first.inner_text()}"
    order_id = re.search(r"· order (\S+)", placed.inner_text()).group(1)
    # The worker fills it; the live fragments show the position and list the order in the order
    # book without a reload (issue 14: live books).
    positions = page.locator(".st-key-orders_positions table td", has_text=re.compile(rf"^{re.escape(symbol)}$"))
    expect(positions.first).to_be_attached(timeout=30_000)
    expect(page.get_by_role("heading", name="Order book")).to_be_visible(timeout=30_000)
    row = page.locator("[data-testid=stDataFrame] table tr", has=page.locator("td", has_text=order_id))
    expect(row.first).to_be_attached(timeout=30_000)
    cells = [c.strip() for c in row.first.locator("td").all_inner_texts()]
    assert symbol in cells and "BUY" in cells and "CNC" in cells, f"order book row of {order_id}: {cells}"
    page.get_by_role("heading", name="Order book").scroll_into_view_if_needed()
    _shot(page, "06_order_book")


def test_scan_nifty500_open_first_hit_chart_and_order_it_one_market_date(shared_desk):
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
