"""AppTest for the Analysis page and the latest-analysis badge on approval cards.

Real parts: a fresh SQLite store, the session's real Redis (tick cache → market clock on the
replayed 2016 session), the Dramatiq StubBroker of DESK_ENV=test (queued jobs are run here as
the worker would), a replay server of 2016-09-09 as the connected market (bars read through
``MarketDataService``; the bundled bars only build the test's tick), and the loopback Gemini
fake for the key cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dramatiq
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.adapters.nse_data import minute_bars_for
from app.container import reset_services, services
from core import kite_wire
from core.models import Tick
from core.tick_batch import decode_frame
from core.timeutil import IST
from tests.app.replay_market import use_replay
from tests.fake_gemini import FakeGemini

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
AT = datetime(2016, 8, 24, 11, 0, tzinfo=IST)


def _tick(symbol: str, at: datetime = AT) -> None:
    """A tick of ``symbol`` with exchange time ``at`` received now: market time becomes ``at``."""
    token = services().instruments.resolve(f"NSE:{symbol}").instrument_token
    bars = minute_bars_for(symbol)
    last = bars[bars.index < at].iloc[-1]
    day = bars[(bars.index.date == at.date()) & (bars.index < at)]
    tick = Tick(instrument_token=token, last_price=float(last.close), mode="full", volume_traded=int(day.volume.sum()),
                open=float(day.open.iloc[0]), high=float(day.high.max()), low=float(day.low.min()),
                close=float(bars[bars.index.date < at.date()].close.iloc[-1]), last_trade_time=at,
                exchange_timestamp=at)
    frame = kite_wire.encode_frame([kite_wire.encode_packet(tick, "full")])
    services().ticks.write_frame(decode_frame(frame), datetime.now(UTC))


def _run_jobs() -> None:
    """Do what the worker does: run each queued ``run_analysis`` message."""
    from workers.analysis import run_analysis

    q = services().tasks.broker.queues.get("analysis")
    while q is not None and not q.empty():
        message = dramatiq.Message.decode(q.get_nowait())
        q.task_done()  # the StubBroker's join() counts unfinished tasks across tests
        try:
            run_analysis.fn(**message.kwargs)
        except Exception:  # noqa: BLE001 - refusals fail the job; the page shows it
            pass


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    f = FakeGemini().start()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def market_server(looping_replay):
    """The connected market: a replay of 2016-09-09 (its history serves the 2016-08-24 session)."""
    return looping_replay("2016-09-09")


def _fresh(monkeypatch, tmp_path, redis_url, key: str | None = None, base_url: str | None = None,
           server=None) -> None:
    if server is not None:
        use_replay(monkeypatch, server)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    monkeypatch.delenv("DESK_BROKER", raising=False)
    if key:
        monkeypatch.setenv("GEMINI_API_KEY", key)
        monkeypatch.setenv("DESK_GEMINI_BASE_URL", base_url or "")
    else:
        monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    services().tasks.broker.flush_all()
    _tick("INFY")


@pytest.fixture()
def offline_desk(monkeypatch, tmp_path, redis_url, market_server) -> Iterator[None]:
    _fresh(monkeypatch, tmp_path, redis_url, server=market_server)
    yield
    services().tasks.broker.flush_all()
    reset_services()
    st.cache_resource.clear()


@pytest.fixture()
def gemini_desk(monkeypatch, tmp_path, redis_url, fake, market_server) -> Iterator[FakeGemini]:
    fake.clear()
    _fresh(monkeypatch, tmp_path, redis_url, key="not-the-right-key", base_url=fake.url, server=market_server)
    yield fake
    services().tasks.broker.flush_all()
    reset_services()
    st.cache_resource.clear()


def _page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / "analysis.py"), default_timeout=TIMEOUT)


def _text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "warning", "error", "success",
                                               "header", "subheader") for e in getattr(at, kind))


def _ask(at: AppTest, symbol: str, headlines: str = "") -> AppTest:
    at.text_input(key="analysis_symbol").input(symbol)
    at.text_area(key="analysis_headlines").input(headlines)
    return at.button(key="FormSubmitter:analysis_form-Analyse").click().run()


def test_page_renders_without_a_key_and_offers_the_offline_analyst(offline_desk):
    at = _page().run()
    assert not at.exception, at.exception
    text = _text(at)
    assert "No GEMINI_API_KEY" in text and "Offline analyst (rules)" in text
    assert "2016" in text  # market time of the replayed session, not the wall clock


def test_ask_runs_as_a_job_and_shows_the_labelled_result(offline_desk):
    at = _ask(_page().run(), "infy", "Infosys wins a deal")
    assert not at.exception, at.exception
    assert "queued" in _text(at) or at.get("progress")
    _run_jobs()
    at.run()
    text = _text(at)
    assert "Offline analyst (rules)" in text and "NSE:INFY" in text and "deterministic rules" in text
    assert re.search(r"confidence \d{1,3} % ·", text), text  # fraction_pct: "60 %", not "60%"
    assert "unverified headlines" in text.lower()
    assert len(at.dataframe[0].value) == 1  # compare table of NSE:INFY


def test_unknown_symbol_shows_a_clear_error_and_queues_nothing(offline_desk):
    at = _ask(_page().run(), "INFOSIS")
    assert not at.exception
    assert "unknown instrument 'NSE:INFOSIS'" in "\n".join(e.value for e in at.error)
    assert services().tasks.broker.queues.get("analysis") is None or services().tasks.broker.queues["analysis"].empty()


def test_invalid_key_fails_clearly_and_the_offline_analyst_is_one_click_away(gemini_desk):
    at = _page().run()
    assert at.radio(key="analysis_analyst").value.startswith("Gemini")
    at = _ask(at, "INFY")
    _run_jobs()
    at.run()
    assert "API key" in "\n".join(e.value for e in at.error)
    assert services().analysis.history() == []
    at.button(key="analysis_offline").click().run()
    _run_jobs()
    at.run()
    assert not at.exception, at.exception
    [stored] = services().analysis.history()
    assert stored.label == "Offline analyst (rules)" and "Offline analyst (rules)" in _text(at)
    assert gemini_desk.calls == 1


def test_history_compares_two_analyses_and_scores_outcomes(offline_desk):
    an = services().analysis
    an.analyse("INFY", AT.replace(hour=10))
    an.analyse("INFY", AT)
    at = _page().run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == 2 and "Compare: 2 analyses of NSE:INFY" in _text(at)
    at.button(key="analysis_score").click().run()
    assert not at.exception, at.exception
    rates = at.dataframe[1].value
    assert rates["scored"].sum() + rates["pending"].sum() == 2


def test_approval_card_shows_the_latest_analysis_badge(offline_desk):
    an = services().analysis
    a = an.analyse("INFY", AT)
    from core.orders import OrderIntent, OrderType, Product, Side

    token = services().instruments.resolve("NSE:INFY").instrument_token
    services().trading.propose(OrderIntent(token, "INFY", Side.BUY, 5, Product.MIS, OrderType.MARKET),
                                        signal_price=Decimal(str(a.snapshot["ltp"])), reason="ORB", source="scan",
                                        now=AT)
    at = AppTest.from_file(str(ROOT / "pages" / "approvals.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    text = _text(at)
    percent = Decimal(str(a.confidence * 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert "Offline analyst (rules)" in text and f"{a.verdict.upper()} {percent} %" in text  # "BUY 60 %"


def test_enter_then_analyse_enqueues_one_job(offline_desk):
    """Enter in the symbol box submits the form; pressing Analyse right after is the same request:
    one job is queued and the page says it follows it (issue 14: "Enter then Analyse ran twice")."""
    at = _page().run()
    at.text_input(key="analysis_symbol").input("INFY")
    at = at.button(key="FormSubmitter:analysis_form-Analyse").click().run()  # Enter: the form submits
    at = at.button(key="FormSubmitter:analysis_form-Analyse").click().run()  # then the Analyse button
    assert not at.exception, at.exception
    assert services().tasks.broker.queues["analysis"].qsize() == 1
    assert "Already asked" in _text(at)
    _run_jobs()
    at.text_input(key="analysis_symbol").input("SBIN")  # a different request is its own job
    at = at.button(key="FormSubmitter:analysis_form-Analyse").click().run()
    assert services().tasks.broker.queues["analysis"].qsize() == 1  # SBIN's (INFY's was run)
    _run_jobs()
    assert {a.symbol for a in services().analysis.history()} == {"NSE:INFY", "NSE:SBIN"}
