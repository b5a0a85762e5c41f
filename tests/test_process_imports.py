"""What the desk's small processes import (issue 16 item 7: the ticker and the clock import only
what they use), each checked in a fresh interpreter; and ``app.lean_pandas``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Libraries neither the ticker nor the clock uses: the dashboard's (Streamlit, plotly), the
#: analytics' (pandas, pyarrow), Gemini's SDK, and the PostgreSQL driver (the default store is SQLite).
HEAVY = ("pandas", "pyarrow", "plotly", "streamlit", "google.genai", "psycopg")

#: The modules each process's ``main`` imports and the services it builds (``services()``).
PROCESSES = {
    "ticker": ("workers.ticker", "kiteconnect", "app.container", "app.adapters.kite_session",
               "app.market.subscriptions", "app.market.ticker_ingest", "app.market.quote_fallback",
               "app.adapters.rate_limit", "app.adapters.trading_store", "app.market.open_book",
               "app.market.watchlists", "app.market.instruments", "app.adapters.store", "app.logging_setup"),
    "clock": ("workers.clock", "app.container", "app.market.history_warmup", "app.ops.operations",
              "app.adapters.queue", "app.adapters.calendar_source", "app.adapters.pmc_table", "app.logging_setup"),
}


def _loaded(code: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True, env=None if env is None else {**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_the_process_imports_none_of_the_heavy_libraries(process):
    imports = "; ".join(f"import {m}" for m in PROCESSES[process])
    found = _loaded(f"import sys, json; {imports}; "
                    f"print(json.dumps(sorted(h for h in {HEAVY!r} if sys.modules.get(h) is not None)))")
    assert found == [], f"{process} imports {found}"


def test_without_pyarrow_keeps_pandas_strings_and_loads_no_arrow():
    found = _loaded(
        "import sys, json; from app.lean_pandas import without_pyarrow; first = without_pyarrow(); "
        "import pandas as pd; s = pd.Series(['INFY', None]); "
        "print(json.dumps([first, without_pyarrow(), sys.modules.get('pyarrow') is None, str(s.dtype), "
        "bool(s.isna()[1]), s.str.lower()[0]]))")
    assert found == [True, True, True, "str", True, "infy"]


def test_without_pyarrow_changes_nothing_once_pandas_is_loaded():
    found = _loaded("import sys, json, pandas; from app.lean_pandas import without_pyarrow; "
                    "print(json.dumps([without_pyarrow(), sys.modules.get('pyarrow') is not None]))")
    assert found == [False, True]


def test_the_calendar_is_built_without_pandas_pmc_or_the_holidays_package(tmp_path):
    """``load_nse_calendar`` gets pmc's table and the fallback years' holidays from the child, which
    the next process reads from the state folder (a damaged file: the child again)."""
    code = ("import sys, json; from app.adapters.calendar_source import load_nse_calendar; "
            "from app.adapters.pmc_table import cache_file; c = load_nse_calendar(); "
            "print(json.dumps([str(c.covered_until), len(c.trading_days(c.covered_from, c.covered_until)), len(c.holidays), len(c.special_sessions()), "
            "cache_file().name, sorted(m for m in ('pandas', 'pandas_market_calendars', 'holidays') "
            "if m in sys.modules)]))")
    env = {"DESK_STATE_DIR": str(tmp_path)}
    first = _loaded(code, env)
    assert first[0] == "2030-12-31" and first[1] > 8000 and first[5] == []
    kept = tmp_path / first[4]
    assert kept.exists()
    assert _loaded(code, env) == first
    kept.write_text("{")
    assert _loaded(code, env) == first


def test_the_api_app_is_built_without_pandas(tmp_path):
    """``python -m app.api``'s application (every route imported) loads neither pandas nor numpy
    until a request needs them (issue 16 item 7: ~45 MB less RSS at idle)."""
    heavy = ("numpy", *HEAVY)
    found = _loaded("import sys, json; from app.api.server import create_app; create_app(); "
                    f"print(json.dumps(sorted(h for h in {heavy!r} if sys.modules.get(h) is not None)))",
                    {"DESK_STATE_DIR": str(tmp_path)})
    assert found == [], f"the API imports {found}"


def test_the_strategy_runner_with_nothing_enabled_runs_without_pandas(tmp_path, redis_url):
    """``python -m workers.strategy_runner``'s runner (every service it builds) reads closed bars
    off the real Redis stream with no strategy enabled and never imports pandas: the runner
    keeps plain bar rows, and the strategies, the trading service and the market-data service
    load pandas on first use (issue 16 item 7). The bars are handled (cursor advanced)."""
    code = ("import sys, json; from datetime import datetime, timedelta; from core.models import Bar; "
            "from core.timeutil import IST; import workers.strategy_runner as w; from app.container import services; "
            "r = w.build(); t0 = datetime(2016, 9, 9, 9, 15, tzinfo=IST); "
            "services().ticks.publish_bars_closed([Bar(408065, 'minute', t0 + timedelta(minutes=i), 100.0, 101.0, 99.0, "
            "100.5, 1000) for i in range(30)]); rep = r.poll_once(); again = r.poll_once(); "
            "print(json.dumps([rep.bars, again.bars, len(r._history[408065]), "
            f"sorted(h for h in {HEAVY!r} if sys.modules.get(h) is not None)]))")
    found = _loaded(code, {"DESK_STATE_DIR": str(tmp_path), "REDIS_URL": redis_url,
                           "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}"})
    assert found[:3] == [30, 0, 30]
    assert found[3] == [], f"the strategy runner imports {found[3]}"
