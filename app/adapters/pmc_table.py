"""pandas-market-calendars' NSE table without pandas in the calling process.

``calendar_source`` builds the calendar from pmc's schedule, which needs pandas (~90 MB
resident) and pmc itself (with exchange_calendars, ~14 MB more in a process that already holds
pandas: its modules and the schedule frames); the holidays package's fallback years cost ~12 MB
more (its modules). Every process gets the tables from a short-lived
child, ``python -m app.adapters.pmc_table``, which computes it and prints it as JSON; the
child's memory is returned when it exits, and the JSON is kept in the state folder so the next
process (the others of ``make run``, a restart) reads it instead of starting a child. Only a process that has already imported pmc for its
own work computes it in place. If the child fails, the table is computed in place (logged), so
the calendar is never missing.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from app.settings import ROOT
from core.calendar import Holiday, HolidayStatus, TradingSession
from core.timeutil import IST

log = logging.getLogger(__name__)

#: (sessions, pmc's holidays, the holidays package's fallback-year holidays)
Table = tuple[tuple[TradingSession, ...], dict[date, Holiday], dict[date, Holiday]]
CHILD_TIMEOUT_S = 60


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(IST)


def dumps(table: Table) -> str:
    """``table`` (sessions, holidays, fallback holidays) as JSON; :func:`loads` gives back an equal table."""
    sessions, holidays, fallback = table
    return json.dumps({
        "sessions": [[s.date.isoformat(), _when(s.open), _when(s.close), s.special, s.name, _when(s.break_start),
                      _when(s.break_end)] for s in sessions],
        "holidays": [[h.date.isoformat(), h.name, h.source, h.status.value] for h in holidays.values()],
        "fallback": [[h.date.isoformat(), h.name, h.source, h.status.value] for h in fallback.values()],
    })


def loads(text: str) -> Table:
    """The table :func:`dumps` wrote. Raises ``ValueError``/``KeyError`` on anything else."""
    data: dict[str, Any] = json.loads(text)
    sessions = tuple(TradingSession(date=date.fromisoformat(d), open=_at(o), close=_at(c), special=bool(sp), name=n,
                                    break_start=_at(bs), break_end=_at(be))
                     for d, o, c, sp, n, bs, be in data["sessions"])
    holidays, fallback = ({date.fromisoformat(d): Holiday(date.fromisoformat(d), n, src, HolidayStatus(st))
                           for d, n, src, st in data[key]} for key in ("holidays", "fallback"))
    return sessions, holidays, fallback


def cache_file() -> Path:
    """Where the child's answer is kept for the next process: the state folder, one file per
    pandas-market-calendars and holidays version and per content of the code and bundled file
    that build it (``calendar_source``, this module, the weekend sessions): any change computes
    it again."""
    import hashlib
    from importlib.metadata import version

    from app.adapters import calendar_source
    from app.settings import get_settings

    digest = hashlib.sha256()
    for path in (Path(calendar_source.__file__), Path(__file__), calendar_source.WEEKEND_SESSIONS_FILE):
        digest.update(path.read_bytes())
    tag = f"pmc{version('pandas_market_calendars')}-holidays{version('holidays')}-{digest.hexdigest()[:12]}"
    return get_settings().state_dir / f"nse-calendar-table-{tag}.json"


def load(compute: Callable[[], Table]) -> Table:
    """``compute()`` here when pandas-market-calendars is already loaded; else the table a
    previous process kept (:func:`cache_file`), else the child process's (then kept; a folder
    that cannot be written is skipped)."""
    if "pandas_market_calendars" in sys.modules:
        return compute()
    cache = cache_file()
    try:
        return loads(cache.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet (or unreadable): ask the child
    try:  # `-m` from ROOT puts ROOT on the child's sys.path; it inherits this environment
        out = subprocess.run([sys.executable, "-m", "app.adapters.pmc_table"], cwd=ROOT, check=True,
                             capture_output=True, text=True, timeout=CHILD_TIMEOUT_S).stdout
        table = loads(out)
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError) as exc:
        log.warning("NSE calendar child process failed (%s); computing it in this process", exc)
        return compute()
    try:  # whole file or none: processes start together
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(out)
        os.replace(tmp, cache)
    except OSError as exc:
        log.info("NSE calendar table not kept in %s (%s)", cache.parent, exc)
    return table


if __name__ == "__main__":
    from app.adapters.calendar_source import tables_here

    sys.stdout.write(dumps(tables_here()))
