"""AppTest for the Sectors page on the connected market: a real replay server of 2016-09-09, a
real SQLite store holding the members' daily bars (backfilled from the replay), real Redis, and
the market clock pinned at 10:00 IST on 09 Sep 2016."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.ui.formatting import signed_pct
from app.container import reset_services, services
from app.research.sectors import SectorService
from tests.app.test_sectors_market import (  # noqa: F401 - sep9_server is a fixture
    Pinned, at, backfill_members, constituents, market_on, sep9_server,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "sectors.py")
TIMEOUT = 90


@pytest.fixture()
def clock() -> Pinned:
    return Pinned(at(10, 0))


@pytest.fixture()
def market(sqlite_store, sep9_server, redis_url, clock):
    m = market_on(sqlite_store, sep9_server, redis_url, clock)
    backfill_members(m)
    return m


@pytest.fixture()
def sector_service(market) -> SectorService:
    return SectorService(market=market, load_constituents=constituents, max_age_s=0)


@pytest.fixture()
def page(monkeypatch, tmp_path, redis_url, sector_service) -> Iterator[None]:
    """Fresh service graph whose ``sectors`` is the service on the replay market."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    vars(services())["sectors"] = sector_service
    yield
    reset_services()
    st.cache_resource.clear()


def _run() -> AppTest:
    at_ = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at_.exception, at_.exception
    return at_


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _values(arr) -> list[float]:
    """Plotly 6 encodes numeric arrays as ``{"dtype", "bdata"}`` (base64); decode either form."""
    if isinstance(arr, dict):
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=np.dtype(arr["dtype"])).tolist()
    return list(arr)


def _figures(at_: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at_.get("plotly_chart")]


def test_sectors_page_states_market_as_of_coverage_and_shows_heatmap_and_table(page, sector_service):
    at_ = _run()
    assert [h.value for h in at_.header] == ["Sectors"]
    captions = _texts(at_.caption)
    assert "As of the close of Thu 08 Sep 2016 (market time Fri 09 Sep 2016 10:00 IST)" in captions
    assert "9 of 11 members have bars (1 not in the instruments master)" in captions
    assert "equal-weighted" in captions
    assert "sector-index daily bars are derived from 1-minute bars" in captions
    treemap = _figures(at_)[0]["data"][0]
    assert treemap["type"] == "treemap"
    table: pd.DataFrame = at_.dataframe[0].value
    assert set(table["industry"]) == {"Information Technology", "Automobile and Auto Components", "Metals & Mining"}
    expected = sector_service.view().sector_table("1D")
    it = treemap["ids"].index("sector/Information Technology")
    assert _values(treemap["marker"]["colors"])[it] == pytest.approx(expected.loc["Information Technology", "return_pct"])
    row = table.set_index("industry").loc["Information Technology"]
    assert row["return %"] == signed_pct(expected.loc["Information Technology", "return_pct"])  # "+1.25 %"
    assert row["NSE index"] == "NIFTY IT"
    assert row["index %"] == signed_pct(expected.loc["Information Technology", "index_pct"])
    assert "None" not in table.to_string() and "nan" not in table.to_string()  # "—" for missing
    config = at_.dataframe[0].proto.columns
    assert "Equal-weighted" in config, config  # the return column carries its tooltip
    assert "from the close of 07 Sep 2016 to the close of 08 Sep 2016" in captions
    assert "Pick a symbol" in _texts(at_.info)
    assert at_.toggle(key="sectors_today").value is False  # the session is open: "today so far" offered


def test_sectors_period_selector_switches_table_to_1w(page, sector_service):
    at_ = _run()
    one_day = at_.dataframe[0].value.set_index("industry")["return %"]
    at_.radio(key="sectors_period").set_value("1W").run()
    assert not at_.exception
    one_week = at_.dataframe[0].value.set_index("industry")["return %"]
    expected = sector_service.view().sector_table("1W")["return_pct"]
    assert dict(one_week) == {k: signed_pct(v) for k, v in expected.items()}
    assert not one_week.sort_index().equals(one_day.sort_index())
    assert "from the close of 31 Aug 2016" in _texts(at_.caption)  # 05 Sep was a holiday


def test_sectors_symbol_picker_shows_rs_lines_against_market_nifty50(page, sector_service):
    at_ = _run()
    at_.selectbox(key="sectors_industry").select("Information Technology").run()
    assert at_.selectbox(key="sectors_symbol").options == ["INFY", "TCS", "WIPRO"]
    at_.selectbox(key="sectors_symbol").select("INFY").run()
    at_.radio(key="sectors_rs_window").set_value("6M").run()
    assert not at_.exception
    lines = _figures(at_)[1]["data"]
    assert [t["name"] for t in lines] == ["INFY RS vs sector", "INFY RS vs NIFTY 50"]
    rs = sector_service.view().relative_strength("INFY", "6M")
    sector_line, nifty_line = _values(lines[0]["y"]), _values(lines[1]["y"])
    assert sector_line == pytest.approx(rs["rs_vs_sector"].tolist()) and len(sector_line) == 127
    assert nifty_line == pytest.approx(rs["rs_vs_nifty50"].tolist())
    assert not np.isnan(nifty_line).any()  # NIFTY 50 daily bars from the market cover the window
    metrics = {m.label: m.value for m in at_.metric}
    assert metrics["RS vs Information Technology"] == f"{rs['rs_vs_sector'].iloc[-1]:.1f}"
    assert all("-" not in x for x in lines[0]["x"][:3]) and lines[0]["x"][-1].endswith("2016")  # "08 Sep 2016"
    assert "Infosys" in _texts(at_.caption)


def test_sectors_window_longer_than_the_history_shows_fix_it_error(page):
    at_ = _run()
    at_.selectbox(key="sectors_symbol").select("INFY").run()
    at_.radio(key="sectors_rs_window").set_value("1Y").run()
    assert not at_.exception
    assert "needs 251 sessions" in _texts(at_.error) and "shorter window" in _texts(at_.error)


def test_sectors_fetch_queues_backfills_of_members_without_bars(page):
    at_ = _run()
    at_.button(key="sectors_fetch").click().run()
    assert not at_.exception
    assert "Queued 1 daily backfill jobs" in _texts(at_.success)
    job = services().store.jobs.get("sectors:2016-09-09:day:HCLTECH")
    assert job is not None and job.args["key"] == "NSE:HCLTECH"


def test_sectors_today_so_far_without_ticks_keeps_the_last_close(page):
    at_ = _run()
    at_.toggle(key="sectors_today").set_value(True).run()
    assert not at_.exception
    assert "As of the close of Thu 08 Sep 2016" in _texts(at_.caption)


def test_sectors_empty_store_shows_fix_it_error_not_traceback(page, sqlite_store, sep9_server, redis_url, clock,
                                                              tmp_path):
    from app.adapters.store import SqlStore

    empty = SqlStore(f"sqlite:///{tmp_path / 'empty.db'}")
    vars(services())["sectors"] = SectorService(market=market_on(empty, sep9_server, redis_url, clock),
                                                load_constituents=constituents)
    at_ = _run()
    assert "empty universe" in _texts(at_.error) and "Fetch daily bars" in _texts(at_.error)
    assert not at_.get("plotly_chart")
    at_.button(key="sectors_fetch").click().run()
    assert "Queued 10 daily backfill jobs" in _texts(at_.success)
    empty.dispose()


def test_no_session_no_today_toggle(page, clock):
    clock.when = at(18, 0, date(2016, 9, 10))  # a Saturday
    at_ = _run()
    assert not at_.get("toggle")
    assert "As of the close of Thu 08 Sep 2016 (market time Sat 10 Sep 2016 18:00 IST)" in _texts(at_.caption)
