"""AppTest: the System page's "Morning backfill" section reads the newest morning backfill's
children from the real store (SQLite file) and lists the failed ones."""

from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from app.adapters.store import SqlStore
from app.market.history_warmup import MORNING_KIND, refresh_morning_job
from tests.ui.test_system_page import PAGE, _frames, _text, env  # noqa: F401  (fixture)


def _seed(url: str) -> None:
    store = SqlStore(url)
    ids = [f"mb:2016-09-09:day:{t}" for t in (1, 2, 3, 4)]
    store.jobs.create(MORNING_KIND, {"day": "2016-09-09", "children": ids}, job_id="morning:2016-09-09")
    for i, job_id in enumerate(ids):
        store.jobs.create("backfill", {"key": f"NSE:S{i}", "interval": "day"}, job_id=job_id)
    store.jobs.finish(ids[0], {"rows": 5}, "stored 5 new day bars for NSE:S0")
    store.jobs.finish(ids[1], {"rows": 0}, "stored 0 new day bars for NSE:S1; NSE:S1: corporate action? "
                                           "replaced the stored daily history (10 bars) with 10 adjusted bars")
    store.jobs.fail(ids[2], "historical day for instrument 3 failed 5 times (NetworkException 503)")
    refresh_morning_job(store.jobs, "morning:2016-09-09")
    store.dispose()


def test_system_page_shows_morning_backfill_progress_and_failures(env):  # noqa: F811
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert "No morning backfill yet" in _text(at)
    _seed(os.environ["DATABASE_URL"])
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    text, frames = _text(at), _frames(at)
    [bar] = [e for e in at.get("progress")]
    assert bar.proto.value == 75  # percent: 3 of 4 children finished
    assert "Morning backfill 09 Sep 2016: 2 of 4 done, 1 failed" in bar.proto.text
    assert "1 backfill(s) failed" in text
    assert "NSE:S2 day" in frames and "failed 5 times (NetworkException 503)" in frames
    assert "corporate action?" in text
