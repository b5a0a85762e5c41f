"""The web's warm-up: what the first visit of a page would otherwise pay, done once at web start.

:func:`start` (``app.ui.web`` calls it when it serves the desk's ``streamlit_app.py``) runs
:func:`warm_up` in a daemon thread of the web process, beside the server:

1. imports every module the pages and the entrypoint import (Plotly, Babel, the widget
   modules, …: read from their ``import`` statements with :mod:`ast`; no page is run);
2. builds the service graph (``app.container.services()``, the one ``get_services()``
   returns) and the services the pages read first (:data:`PAGE_SERVICES`);
3. reads what the pages read first, so it sits in the store and the services' caches:
   the Sectors view (NIFTY 50 and the sector indices' daily bars are backfilled from the market
   once per closed session, then the 500 members' daily panel), the Chart's default bars (the
   first watchlist symbol, 5-minute, as of market time) and the Scanner's default coverage.

Every read is as of market time (the services' own bound), so nothing shown later is past it.
A step that fails (market unreachable, empty store) is logged and skipped: the page then does
that read itself, as it would without a warm-up. The thread logs ``web warm-up finished in
<s> s`` at INFO (logger ``paperdesk.web.warmup``). :func:`wait` lets a page whose first read
the warm-up is doing (Sectors) wait for it rather than race it.
"""

from __future__ import annotations

import ast
import importlib
import logging
import threading
import time
from pathlib import Path

log = logging.getLogger("paperdesk.web.warmup")

ROOT = Path(__file__).resolve().parents[2]
_done = threading.Event()
_started = threading.Event()


def page_modules(root: Path = ROOT) -> list[str]:
    """Top-level modules imported by ``streamlit_app.py`` and ``pages/*.py``, sorted, without
    duplicates (``from a.b import c`` → ``a.b``). Raises ``SyntaxError`` for a page that does not parse."""
    names: set[str] = set()
    for path in [root / "streamlit_app.py", *sorted((root / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return sorted(names - {"__future__"})


def _step(name: str, fn) -> None:
    started = time.monotonic()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 — a warm-up step never takes the web down
        log.warning("web warm-up: %s skipped (%s: %s)", name, type(exc).__name__, exc)
    else:
        log.info("web warm-up: %s in %.2f s", name, time.monotonic() - started)


def _import_pages() -> None:
    for name in page_modules():
        importlib.import_module(name)
    importlib.import_module("plotly.io")  # st.plotly_chart serialises through it


#: Services the pages read on their first run, built here (each is built once per process).
PAGE_SERVICES = ("store", "instruments", "calendar", "market_data", "watchlists", "watch_view", "trading",
                 "analysis", "contract_notes", "scanner", "sectors", "strategies", "backtests")


def _touch_services() -> None:
    from app.ui.state import get_services as services

    svc = services()
    for name in PAGE_SERVICES:
        getattr(svc, name)


def _sectors() -> None:
    from app.ui.state import get_services as services

    services().sectors.view()


def _chart() -> None:
    from app.ui.state import get_services as services
    from app.market.watch_view import chart_bars

    svc = services()
    keys = svc.watchlists.keys()
    if keys:
        chart_bars(svc.market_data, keys[0], "5minute", svc.market_data.now())


def _scanner() -> None:
    from app.ui.state import get_services as services
    from app.research.scanner import BUILTIN_SCANS

    scanner = services().scanner
    universes = scanner.universes()
    scanner.coverage(next(iter(BUILTIN_SCANS)), universes[min(2, len(universes) - 1)], scanner.now())


def warm_up() -> float:
    """Run the warm-up steps (module docstring) in this thread; returns the seconds taken.
    Never raises: a failed step is logged and skipped."""
    started = time.monotonic()
    try:
        from app.logging_setup import configure_logging

        configure_logging("web")
        for name, fn in (("page imports", _import_pages), ("services", _touch_services),
                         ("sectors view", _sectors), ("chart bars", _chart), ("scanner coverage", _scanner)):
            _step(name, fn)
    finally:
        _done.set()
    took = time.monotonic() - started
    log.info("web warm-up finished in %.1f s", took)
    return took


def start() -> threading.Thread:
    """Start :func:`warm_up` in a daemon thread (once per process) and return it."""
    _started.set()
    thread = threading.Thread(target=warm_up, name="web-warm-up", daemon=True)
    thread.start()
    return thread


def wait(timeout: float = 60.0) -> bool:
    """Block until a started warm-up has finished (at most ``timeout`` s); ``True`` when none
    was started or it has finished."""
    return not _started.is_set() or _done.wait(timeout)
