"""Start the whole desk the way ``make run`` does, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port, unavailable

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

#: The shared desk's watchlist, what its tests need, in this order: AXISBANK and ASIANPAINT first
#: (the row actions tick the second row and chart it; Backtest's default form takes the first
#: symbol: both have the bundled 1-minute history of the weeks before), RELIANCE (Home's moving
#: LTP), INFY (the webhook's alert), then F&O names early in NIFTY 500 order, recorded on
#: 2016-09-09: they tick from the first second and their daily history lands early in the
#: morning backfill (Scanner).
SHARED_WATCHLIST = (
    "NSE:AXISBANK", "NSE:ASIANPAINT", "NSE:RELIANCE", "NSE:INFY", "NSE:ACC", "NSE:ADANIPORTS",
    "NSE:ADANIENT", "NSE:ADANIPOWER", "NSE:AJANTPHARM", "NSE:AMBUJACEM", "NSE:APOLLOHOSP",
    "NSE:APOLLOTYRE", "NSE:ASHOKLEY", "NSE:AUROPHARMA", "NSE:NIFTY 50",
)
#: No file watcher: in a shared working tree an edit elsewhere would make Streamlit reload
#: modules mid-test (a new OrderIntent class is never equal to the previewed one).
NO_FILE_WATCHER = {"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
SHARED_ENV = {"DESK_WATCHLIST": ",".join(SHARED_WATCHLIST), **NO_FILE_WATCHER}


@dataclass(frozen=True)
class RunningDesk:
    url: str
    state_dir: Path
    log: Path
    api_url: str = ""


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
            return resp.read().strip() == b"ok"
    except OSError:
        return False


@contextmanager
def running_desk(state_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[RunningDesk]:
    """``python -m app.launcher`` on free ports with embedded Redis and a fresh SQLite store."""
    web_port, replay_port, api_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL", "DESK_BROKER"}}
    env.update({
        "DESK_ENV": "dev", "DESK_STATE_DIR": str(state_dir), "PORT": str(web_port),
        "DESK_REPLAY_PORT": str(replay_port), "DESK_API_PORT": str(api_port), "TZ": "Asia/Kolkata",
    })
    env.update(extra_env or {})
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "desk.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.launcher"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.monotonic() + 120
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"desk did not start; log:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield RunningDesk(url=url, state_dir=state_dir, log=log, api_url=f"http://127.0.0.1:{api_port}")
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM the desk's process group, then SIGKILL whatever of its process tree is left after
    ``grace`` seconds: honcho runs each Procfile process in a group of its own, and a graceful
    stop waits ~10 s on the worker, whose embedded Redis is already gone."""
    import psutil

    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    _gone, alive = psutil.wait_procs(tree, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    proc.wait(timeout=10)


def launch_chromium(playwright):
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} missing (apt-get install chromium; make test does it)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


#: Every page of the desk: (sidebar link title, page heading, url path), in sidebar order.
PAGES = (
    ("Home", "Home", ""), ("Chart", "Chart", "chart"), ("Scanner", "Scanner", "scanner"),
    ("Sectors", "Sectors", "sectors"), ("Approvals", "Approvals", "approvals"), ("Analysis", "Analysis", "analysis"),
    ("Orders & Positions", "Orders & Positions", "orders"), ("Strategies", "Strategies", "strategies"),
    ("Backtest", "Backtest", "backtest"), ("Risk", "Risk", "risk"), ("P&L", "P&L", "pnl"),
    ("System", "System", "system"), ("Settings", "Settings", "settings"),
)

#: True once Streamlit has finished the script run: the app's script state is ``notRunning``
#: and its running indicator (``stStatusWidget``) is gone.
RENDERED_JS = """() => { const app = document.querySelector('[data-testid=stApp]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid=stStatusWidget]'); }"""


def wait_rendered(page, heading: str, timeout_ms: int = 60_000) -> None:
    """Wait until the page titled ``heading`` shows and Streamlit's script run has finished."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=timeout_ms)
    page.wait_for_function(RENDERED_JS, timeout=timeout_ms)


def save_screenshot(page, folder: Path, name: str, max_height: int = 6000) -> Path:
    """A whole-page PNG of ``page`` as ``folder/<name>.png`` (the ``screenshots`` fixture's folder).

    Streamlit scrolls inside its main block, not the document, so Playwright's ``full_page``
    sees one viewport: the viewport is grown to the main block's height (up to ``max_height``
    px) for the capture, then restored."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                           " return m ? m.scrollHeight : 0; }")
    grow = bool(size) and height > size["height"]
    if grow:
        page.set_viewport_size({"width": size["width"], "height": min(height + 40, max_height)})
        page.wait_for_timeout(300)  # let charts relayout at the new size
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if grow:
            page.set_viewport_size(size)
    return path
