"""End to end in headless Chromium: a backtest's results appear by themselves (issue 14, live books).

On the shared desk (``shared_desk``: ``make run``'s desk, replay of 2016-09-09, worker, web
…), whose only backtests are this test's, opens Backtest (``/backtest``), runs the default form (the first
watchlist symbol over the last closed sessions before market time) and, without any reload,
waits for the worker's job to show progress and then its results: the equity chart (with NIFTY
50 bought and held over the same dates), the drawdown and the trades-on-price charts, the metric
cards and the trades list. A marker set on ``window`` before the run must survive, so the page
was never reloaded. Screenshots go to the ``screenshots`` fixture's folder.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.desk import launch_chromium, save_screenshot, wait_rendered

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

#: How long the worker may take for the job (bars fetched from the replay's historical API).
RESULTS_TIMEOUT_MS = 180_000


#: Title → traces (name, count of drawn points) of every Plotly chart in the results.
FIGURES_JS = """() => Object.fromEntries([...document.querySelectorAll('.st-key-backtest_results .js-plotly-plot')]
    .map(el => [((el._fullLayout && el._fullLayout.title && el._fullLayout.title.text) || '').replace(/<[^>]+>/g, ''),
                (el._fullData || []).map(t => ({name: t.name || '',
                    n: Array.from(t.y || t.close || []).filter(v => v !== null && !Number.isNaN(v)).length}))]))"""


def test_backtest_results_and_charts_appear_without_a_reload(shared_desk, screenshots):
    from playwright.sync_api import expect, sync_playwright

    desk = shared_desk
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        try:
            page.goto(f"{desk.url}/backtest")
            wait_rendered(page, "Backtest", timeout_ms=180_000)
            expect(page.get_by_text("No backtests yet.")).to_be_visible(timeout=30_000)
            # one symbol keeps the job short: drop the second default
            remove = page.locator(".st-key-backtest_symbols").get_by_role("button", name=re.compile(r"^Remove "))
            expect(remove.first).to_be_visible(timeout=30_000)
            while remove.count() > 1:  # one symbol keeps the job short
                n = remove.count()
                remove.last.click()
                expect(remove).to_have_count(n - 1, timeout=10_000)
            page.evaluate("window.__deskNoReload = 'still here'")
            page.get_by_role("button", name="Run backtest").click()
            expect(page.get_by_text(re.compile(r"Backtest queued: 1 run\(s\)")).first).to_be_visible(timeout=30_000)
            # the job's progress, then its results, drawn by themselves when the worker completes it
            progress = page.locator("[data-testid=stProgress]", has_text=re.compile(r"queued|running"))
            results = page.get_by_role("heading", name=re.compile(r"^Results — "))
            expect(progress.or_(results).first).to_be_visible(timeout=60_000)
            save_screenshot(page, screenshots, "backtest_progress")
            expect(results).to_be_visible(timeout=RESULTS_TIMEOUT_MS)
            page.wait_for_function("() => document.querySelectorAll('.st-key-backtest_results .js-plotly-plot')"
                                   ".length >= 3", timeout=60_000)
            assert page.evaluate("window.__deskNoReload") == "still here", "the page was reloaded"
            figs = page.evaluate(FIGURES_JS)
            equity = {t["name"]: t["n"] for t in figs.get("Equity (₹)", [])}
            assert "NIFTY 50 buy & hold" in equity and equity["NIFTY 50 buy & hold"] > 0, figs.keys()
            assert any(n > 0 for name, n in equity.items() if name != "NIFTY 50 buy & hold"), equity
            drawdown = [v for k, v in figs.items() if k.startswith("Drawdown")]
            price = [v for k, v in figs.items() if "1-minute bars" in k]
            assert drawdown and all(t["n"] > 0 for t in drawdown[0]), figs.keys()
            assert price and price[0][0]["n"] > 0, figs.keys()
            main = page.locator("[data-testid=stMain]")
            for label in ("Net P&L", "Total return", "Max drawdown", "Sharpe ratio", "Time in market"):
                expect(main.locator("[data-testid=stMetricLabel]").get_by_text(label, exact=True)).to_be_visible()
            expect(page.get_by_role("heading", name="Monthly returns")).to_be_visible()
            expect(page.get_by_role("button", name=re.compile("Download trades"))).to_be_visible()
            assert "total_return_pct" not in main.inner_text()
            results.scroll_into_view_if_needed()
            save_screenshot(page, screenshots, "backtest_results")
        except BaseException:
            save_screenshot(page, screenshots, "backtest_failed")
            raise
        finally:
            browser.close()
