"""Benchmark: how fast every page of ``make run``'s desk renders in headless Chromium (issue 14).

Starts the whole desk the way ``make run`` does (``python -m app.launcher``: the 2016-09-09 replay,
ticker, worker, clock, web; ``tests.e2e.desk.running_desk``) and, as the peer in the same run, a
bare one-file Streamlit app written as Streamlit's docs would (``st.dataframe(df)``), served the
same way (``python -m app.ui.web run peer.py`` with the Procfile's web options, the repo's
``.streamlit/config.toml`` applying to both). One Chromium.

A page is *rendered* when its heading shows and Streamlit's script run has finished: the app's
``data-test-script-state`` is ``notRunning`` and the running indicator
(``[data-testid="stStatusWidget"]``) is gone. A re-run of the page shown (the peer's ``r``) must
also have shown a state other than ``notRunning`` (``rerunRequested`` or ``running``) since the
action; a sidebar visit needs none, the new page's heading proves its run. (On a loaded box a
quick run can go by without the page ever showing ``running``, or any state but ``notRunning``:
the browser applies the run's messages in one render. Waiting for ``running`` hung there.) The
time is taken from the action (navigation start, or the sidebar click) to the last script-state
change to ``notRunning`` (recorded by a ``MutationObserver`` in the page, in epoch ms), or, for a
switch that showed no state change, to when the wait (polling every 50 ms) saw it rendered.

*The desk is up* once the launcher's web answers its health check, its warm-up
(``app.ui.warmup``: page imports, services, the first Sectors/Chart/Scanner reads, started by
``app.ui.web`` at web start) has logged that it finished, and one browser session has rendered
Home (a trader opening the desk after ``make run``). That one-off start (the process's first
script run) is printed on its own as ``start``, not as a page's first render.

Per page:

* **first**: the first visit of that page in a session after the desk is up: a full load of
  ``/<page>`` in a new browser session, the first time this server renders that page (its
  caches cold for that page; Home's is the second session's);
* **reload**: the same full load again (new session, server warm);
* **warm**: opening the page from the sidebar of an already loaded page (the trader's click;
  same session), median of ``--visits``.

Live refresh: on Home, for ``--watch`` seconds, the median gap between script runs that finish
(the watchlist fragment's reruns) and between changes of the watchlist grid's text (new LTPs).

Targets: warm ≤ 1 s per page, first ≤ 2.5 s, live refresh ≤ 1 s. Ratios are against the peer's
first load, reload and rerun (``r``). Prints PASS/FAIL per page and target and the load average
(``uptime``) before and after; exits 0 unless something broke.
``python bench/pages.py [--visits 2] [--watch 10]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.desk import PAGES, launch_chromium, running_desk  # noqa: E402
from tests.servers import free_port  # noqa: E402

TARGET_WARM_S, TARGET_FIRST_S, TARGET_REFRESH_S = 1.0, 2.5, 1.0

PEER_APP = '''import numpy as np
import pandas as pd
import streamlit as st

df = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 8)), columns=list("abcdefgh"))
st.dataframe(df)
'''

#: Records every change of the app's script state with its time (epoch ms: ``performance.timeOrigin +
#: performance.now()``, so a click that loads a new document is still timed from the click).
RECORDER_JS = """
window.__states = [];
const watch = () => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app) { requestAnimationFrame(watch); return; }
  const note = () => window.__states.push([app.getAttribute('data-test-script-state'),
    performance.timeOrigin + performance.now()]);
  note();
  new MutationObserver(note).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
};
watch();
"""

NOW_JS = "performance.timeOrigin + performance.now()"

#: ``true`` once ``heading`` (or, for the peer, a dataframe) shows and the run has finished; with
#: ``needRun``, only after a state other than ``notRunning`` was recorded since ``since`` (a re-run of the
#: page shown). A sidebar visit needs none: the new page's heading proves its run, and a quick page
#: switch on a loaded box can go by without the page ever showing a state other than ``notRunning``.
DONE_JS = """([heading, since, needRun]) => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid=stStatusWidget]')) return false;
  const shown = heading === null
    ? !!document.querySelector('[data-testid=stDataFrame]')
    : [...document.querySelectorAll('[data-testid=stMain] h1, [data-testid=stMain] h2')]
        .some(h => h.textContent.trim() === heading);
  if (!shown) return false;
  return !needRun || (window.__states || []).some(([s, t]) => s !== 'notRunning' && t >= since);
}"""

LAST_DONE_JS = """since => { const done = (window.__states || []).filter(([s, t]) => s === 'notRunning' && t >= since);
  return done.length ? done[done.length - 1][1] : null; }"""


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
            return resp.read().strip() == b"ok"
    except OSError:
        return False


def start_peer(folder: Path) -> tuple[subprocess.Popen, str]:
    """The peer app on a free port, served as the Procfile serves the desk's web."""
    app = folder / "peer.py"
    app.write_text(PEER_APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.ui.web", "run", str(app), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the peer Streamlit app did not start")
        time.sleep(0.2)
    return proc, url


#: What the page shows when a wait times out: the recorded script states, the running indicator, the headings.
STUCK_JS = """since => ({states: (window.__states || []).filter(([s, t]) => t >= since - 1000),
  now: performance.timeOrigin + performance.now(), status: !!document.querySelector('[data-testid=stStatusWidget]'),
  state: document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state'),
  headings: [...document.querySelectorAll('[data-testid=stMain] h1, [data-testid=stMain] h2')].map(h => h.textContent)})"""


def _wait_done(page, heading: str | None, since: float, timeout_ms: int = 120_000, need_run: bool = True) -> float:
    """Seconds from ``since`` (epoch ms, :data:`NOW_JS`) to the end of the run that rendered ``heading``.

    Raises ``SystemExit`` naming what the page showed when it is not rendered within ``timeout_ms``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(DONE_JS, arg=[heading, since, need_run], timeout=timeout_ms, polling=50)
    except PlaywrightTimeout:
        raise SystemExit(f"{page.url}: not rendered ({heading or 'peer'}) within {timeout_ms / 1000:.0f} s: "
                         f"{page.evaluate(STUCK_JS, since)}") from None
    end = page.evaluate(LAST_DONE_JS, since) or page.evaluate(NOW_JS)  # a quiet switch: when it was seen
    return (end - since) / 1000.0


def full_load(context, url: str, heading: str | None) -> float:
    """Seconds from navigation start to the rendered page, in a new tab (a new Streamlit session)."""
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit")
        return _wait_done(page, heading, page.evaluate("performance.timeOrigin"))  # navigation start
    finally:
        page.close()


def sidebar_visit(page, title: str, heading: str) -> float:
    """Seconds from a click on ``title`` in the sidebar to its rendered page (same session, unless the
    click loaded a new document: said on stdout, still timed from the click)."""
    since, origin = page.evaluate(NOW_JS), page.evaluate("performance.timeOrigin")
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=title, exact=True).click()
    took = _wait_done(page, heading, since, need_run=False)
    if page.evaluate("performance.timeOrigin") != origin:
        print(f"  note: the sidebar click on {title} loaded a new document (a new session)", flush=True)
    return took


def peer_rerun(page) -> float:
    since = page.evaluate(NOW_JS)
    page.locator("[data-testid=stMain]").click(position={"x": 5, "y": 5})
    page.keyboard.press("r")
    return _wait_done(page, None, since)


def live_refresh(page, seconds: float) -> tuple[float | None, float | None]:
    """Median seconds between finished script runs, and between watchlist grid text changes, on Home."""
    page.evaluate("""() => { window.__grid = []; let last = null;
      const tick = () => { const g = document.querySelector('[data-testid=stMain] [data-testid=stDataFrame] table');
        const text = g ? g.innerText : null;
        if (text !== null && text !== last) {
          window.__grid.push(performance.timeOrigin + performance.now()); last = text; }
        requestAnimationFrame(tick); }; tick(); }""")
    since = page.evaluate(NOW_JS)
    time.sleep(seconds)
    runs = page.evaluate("s => (window.__states || []).filter(([st, t]) => st === 'notRunning' && t >= s)"
                         ".map(([st, t]) => t)", since)
    grid = page.evaluate("s => window.__grid.filter(t => t >= s)", since)

    def median_gap(ts: list[float]) -> float | None:
        gaps = [(b - a) / 1000.0 for a, b in zip(ts, ts[1:], strict=False)]
        return statistics.median(gaps) if gaps else None

    return median_gap(runs), median_gap(grid)


WARM_UP_LINE = "web warm-up finished"


def wait_warm_up(log: Path, timeout_s: float = 180.0) -> float:
    """Seconds until the desk's log says the web's warm-up (``app.ui.warmup``) has finished.
    Raises ``SystemExit`` when it does not within ``timeout_s``."""
    started = time.monotonic()
    while WARM_UP_LINE not in log.read_text(errors="replace"):
        if time.monotonic() - started > timeout_s:
            raise SystemExit(f"the web's warm-up did not finish within {timeout_s:.0f} s; see {log}")
        time.sleep(0.5)
    return time.monotonic() - started


def _uptime() -> str:
    """``uptime``'s line (load averages over 1, 5 and 15 min)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _ok(value: float | None, target: float) -> str:
    return "—" if value is None else ("PASS" if value <= target else "FAIL")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--visits", type=int, default=2, help="sidebar visits per page for the warm time")
    ap.add_argument("--watch", type=float, default=10.0, help="seconds on Home to measure live refresh")
    ap.add_argument("--only", default="", help="comma-separated sidebar titles to time (default: every page)")
    args = ap.parse_args()
    only = {t.strip() for t in args.only.split(",") if t.strip()}
    pages = [p for p in PAGES if not only or p[0] in only]
    uptime_before = _uptime()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        folder = Path(tmp)
        peer, peer_url = start_peer(folder)
        try:
            with running_desk(folder / "state") as desk, sync_playwright() as p:
                browser = launch_chromium(p)
                context = browser.new_context(viewport={"width": 1500, "height": 1000})
                context.add_init_script(RECORDER_JS)
                peer_first = full_load(context, peer_url, None)
                peer_reload = statistics.median(full_load(context, peer_url, None) for _ in range(3))
                page = context.new_page()
                page.goto(peer_url, wait_until="commit")
                _wait_done(page, None, page.evaluate("performance.timeOrigin"))
                peer_warm = statistics.median(peer_rerun(page) for _ in range(3))
                page.close()
                print(f"  peer: first {peer_first:.2f} s, reload {peer_reload:.2f} s, rerun {peer_warm:.2f} s",
                      flush=True)

                warm = wait_warm_up(desk.log)
                for line in desk.log.read_text(errors="replace").splitlines():
                    if "web warm-up" in line:
                        print(f"  {line[line.index('web warm-up'):].strip()}", flush=True)
                start = full_load(context, desk.url, "Home")  # the desk is up: one session rendered Home
                print(f"  desk: web warm-up finished {warm:.1f} s after the launcher was healthy", flush=True)
                print(f"  desk: start (first session after the launcher is healthy) {start:.2f} s", flush=True)
                rows = []
                for title, heading, path in pages:
                    first = full_load(context, f"{desk.url}/{path}", heading)
                    reload = full_load(context, f"{desk.url}/{path}", heading)
                    rows.append([title, heading, first, reload])
                    print(f"  {title}: first {first:.2f} s, reload {reload:.2f} s", flush=True)
                page = context.new_page()
                page.goto(desk.url, wait_until="commit")
                _wait_done(page, "Home", page.evaluate("performance.timeOrigin"))
                current = "Home"
                for row in rows:
                    title, heading = row[0], row[1]
                    visits = []
                    for _ in range(args.visits):
                        if current == title:  # a click on the page shown starts no run: go elsewhere first
                            other = "Settings" if title == "Home" else "Home"
                            sidebar_visit(page, other, other)
                        visits.append(sidebar_visit(page, title, heading))
                        current = title
                    row.append(statistics.median(visits))
                    print(f"  {title}: warm {row[-1]:.2f} s", flush=True)
                if current != "Home":
                    sidebar_visit(page, "Home", "Home")
                run_gap, grid_gap = live_refresh(page, args.watch)
                browser.close()
        finally:
            os.killpg(peer.pid, signal.SIGTERM)
            peer.wait(timeout=20)

    print(f"bench/pages.py — {len(rows)} pages of make run's desk in headless Chromium; "
          f"peer: a one-file st.dataframe(df) app served the same way")
    print(f"desk start (first session after the launcher is healthy, not a target): {start:.2f} s")
    print(f"peer: first load {peer_first:.2f} s · reload {peer_reload:.2f} s · rerun {peer_warm:.2f} s")
    print(f"{'page':<20} {'first s':>8} {'×peer':>6} {'reload s':>9} {'×peer':>6} {'warm s':>7} {'×peer':>6}  "
          f"first≤{TARGET_FIRST_S}  warm≤{TARGET_WARM_S}")
    for title, _, first, reload, warm in rows:
        print(f"{title:<20} {first:8.2f} {first / peer_first:6.1f} {reload:9.2f} {reload / peer_reload:6.1f} "
              f"{warm:7.2f} {warm / peer_warm:6.1f}  {_ok(first, TARGET_FIRST_S):<9} {_ok(warm, TARGET_WARM_S)}")
    worst_first = max(r[2] for r in rows)
    worst_warm = max(r[4] for r in rows)
    print(f"worst first {worst_first:.2f} s ({_ok(worst_first, TARGET_FIRST_S)}), "
          f"worst warm {worst_warm:.2f} s ({_ok(worst_warm, TARGET_WARM_S)})")
    fmt = (lambda v: "—" if v is None else f"{v:.2f} s")
    print(f"Home live refresh: watchlist fragment run every {fmt(run_gap)} ({_ok(run_gap, TARGET_REFRESH_S)}), "
          f"grid text changed every {fmt(grid_gap)} ({_ok(grid_gap, TARGET_REFRESH_S)}) over {args.watch:.0f} s")
    print(f"warm ≤ {TARGET_WARM_S} s: {_ok(worst_warm, TARGET_WARM_S)} · first ≤ {TARGET_FIRST_S} s: "
          f"{_ok(worst_first, TARGET_FIRST_S)} · live refresh ≤ {TARGET_REFRESH_S} s: {_ok(run_gap, TARGET_REFRESH_S)}")
    print(f"uptime before: {uptime_before}")
    print(f"uptime after:  {_uptime()} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
