"""AppTest for the Sectors page on the bundled NIFTY 500 daily bars (no Redis or store needed)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from app.research.sectors import SectorService

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "sectors.py")
TIMEOUT = 60


@pytest.fixture(scope="module")
def sector_service() -> SectorService:
    svc = SectorService()
    svc.as_of()  # load the bundled bars once for the module
    return svc


@pytest.fixture()
def page(monkeypatch, tmp_path, sector_service) -> Iterator[None]:
    """Fresh service graph whose ``sectors`` is the (shared, read-only) bundled-data service.

    Until the lead adds ``Services.sectors`` to the container, the same service is set on the
    instance (a ``cached_property`` would store it there too)."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    vars(services())["sectors"] = sector_service
    yield
    reset_services()
    st.cache_resource.clear()


def _run() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _values(arr) -> list[float]:
    """Plotly 6 encodes numeric arrays as ``{"dtype", "bdata"}`` (base64); decode either form."""
    if isinstance(arr, dict):
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=np.dtype(arr["dtype"])).tolist()
    return list(arr)


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_sectors_page_states_as_of_and_shows_heatmap_and_table(page, sector_service):
    at = _run()
    assert [h.value for h in at.header] == ["Sectors"]
    assert "As of the close of Fri 12 Jun 2026" in _texts(at.caption)
    assert "equal-weighted" in _texts(at.caption)
    treemap = _figures(at)[0]["data"][0]
    assert treemap["type"] == "treemap"
    table: pd.DataFrame = at.dataframe[0].value
    assert len(table) == 21 and "Information Technology" in set(table["industry"])
    # the IT tile's colour is the table's 1D equal-weighted return
    it = treemap["ids"].index("sector/Information Technology")
    expected = sector_service.sector_table("1D").loc["Information Technology", "return_pct"]
    assert _values(treemap["marker"]["colors"])[it] == pytest.approx(expected)
    assert table.set_index("industry").loc["Information Technology", "return %"] == pytest.approx(expected)
    assert "Pick a symbol" in _texts(at.info)


def test_sectors_period_selector_switches_table_to_1m(page, sector_service):
    at = _run()
    one_day = at.dataframe[0].value.set_index("industry")["return %"]
    at.radio(key="sectors_period").set_value("1M").run()
    assert not at.exception
    one_month = at.dataframe[0].value.set_index("industry")["return %"]
    expected = sector_service.sector_table("1M")["return_pct"]
    pd.testing.assert_series_equal(one_month.sort_index(), expected.sort_index(), check_names=False)
    assert not one_month.sort_index().equals(one_day.sort_index())
    assert "from the close of 13 May 2026" in _texts(at.caption)
    assert "NIFTY 50 ends 19 Dec 2025" in _texts(at.caption)  # benchmark not bundled that far


def test_sectors_symbol_picker_shows_rs_lines(page, sector_service):
    at = _run()
    at.selectbox(key="sectors_industry").select("Information Technology").run()
    assert "INFY" in at.selectbox(key="sectors_symbol").options
    at.selectbox(key="sectors_symbol").select("INFY").run()
    at.radio(key="sectors_rs_window").set_value("1Y").run()
    assert not at.exception
    figs = _figures(at)
    lines = figs[1]["data"]
    assert [t["name"] for t in lines] == ["INFY RS vs sector", "INFY RS vs NIFTY 50"]
    rs = sector_service.relative_strength("INFY", "1Y")
    sector_line, nifty_line = _values(lines[0]["y"]), _values(lines[1]["y"])
    assert sector_line == pytest.approx(rs["rs_vs_sector"].tolist())
    assert sector_line[0] == pytest.approx(100.0) and len(sector_line) == 251
    assert np.isnan(nifty_line[-1]) and not np.isnan(nifty_line[0])  # NIFTY 50 bundled to Dec 2025
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["RS vs Information Technology"] == f"{rs['rs_vs_sector'].iloc[-1]:.1f}"
    assert "Infosys" in _texts(at.caption)


def test_sectors_recent_listing_with_long_window_shows_fix_it_error(page, sector_service):
    closes = sector_service._data()[0]
    recent = closes.notna().sum().idxmin()  # the shortest bundled history
    at = _run()
    at.selectbox(key="sectors_symbol").select(recent).run()
    at.radio(key="sectors_rs_window").set_value("1Y").run()
    assert not at.exception
    assert f"{recent} has no close on" in _texts(at.error) and "shorter window" in _texts(at.error)


def test_sectors_empty_universe_shows_fix_it_error_not_traceback(page):
    no_bars = pd.DataFrame({"Company Name": ["Nobody Ltd."], "Industry": ["Power"], "Symbol": ["NOBODY"]})
    vars(services())["sectors"] = SectorService(load_constituents=lambda: no_bars)
    at = _run()
    assert "empty universe" in _texts(at.error)
    assert not at.get("plotly_chart")
