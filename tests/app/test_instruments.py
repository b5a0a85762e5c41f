"""InstrumentService over a real SQLite store seeded with the bundled real Kite dump."""

from __future__ import annotations

import csv
from datetime import datetime

import pytest

from app.adapters.store import SqlStore
from app.market.instruments import InstrumentService
from app.settings import DATA_DIR
from core.errors import DataError, ValidationError
from core.timeutil import IST
from tests.fixtures_store import DUMP_DATE, instrument_rows, seed_instruments


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> InstrumentService:
    store = SqlStore(f"sqlite:///{tmp_path_factory.mktemp('inst') / 'store.db'}")
    return InstrumentService(seed_instruments(store))


@pytest.mark.parametrize("key", ["NSE:INFY", "INFY", "nse:infy", "  infy ", "NSE : INFY"])
def test_resolve_accepts_every_key_form_returns_infy(service, key):
    inst = service.resolve(key)
    assert (inst.instrument_token, inst.key) == (408065, "NSE:INFY")


def test_resolve_index_name_with_space_returns_index(service):
    inst = service.resolve("NIFTY 50")
    assert inst.instrument_token == 256265 and inst.segment == "INDICES"
    assert service.resolve("nse:nifty  50").instrument_token == 256265


def test_resolve_symbol_with_ampersand_returns_it(service):
    assert service.resolve("m&m").key == "NSE:M&M"


def test_resolve_unknown_symbol_names_it_and_suggests_close_matches(service):
    with pytest.raises(ValidationError) as err:
        service.resolve("INFYY")
    msg = str(err.value)
    assert "'NSE:INFYY'" in msg and "did you mean" in msg and "NSE:INFY" in msg


def test_resolve_company_name_suggests_its_symbol(service):
    with pytest.raises(ValidationError, match="did you mean NSE:INFY"):
        service.resolve("INFOSYS")


def test_resolve_gibberish_says_to_check_spelling(service):
    with pytest.raises(ValidationError, match="unknown instrument 'NSE:QQQQZZZZXX'; check the spelling"):
        service.resolve("qqqqzzzzxx")


def test_resolve_unknown_exchange_lists_known_ones(service):
    with pytest.raises(ValidationError, match="unknown exchange 'BSE'.*NSE"):
        service.resolve("BSE:INFY")


@pytest.mark.parametrize("key", ["", "   ", ":INFY", "NSE:"])
def test_resolve_empty_or_half_key_raises_validation_error(service, key):
    with pytest.raises(ValidationError, match="NSE:INFY|INFY"):
        service.resolve(key)


def test_by_token_returns_instrument_and_unknown_raises(service):
    assert service.by_token(738561).tradingsymbol == "RELIANCE"
    assert service.resolve(738561).tradingsymbol == "RELIANCE"
    with pytest.raises(ValidationError, match="instrument_token 1 "):
        service.by_token(1)


@pytest.mark.parametrize("key", ["NSE:INFY", "infy", 408065])
def test_find_returns_the_instrument_or_none_without_raising(service, key):
    assert service.find(key).key == "NSE:INFY"
    assert service.find("NSE:NOPEXYZ") is None and service.find(1) is None
    with pytest.raises(ValidationError, match="NSE:INFY"):
        service.find("NSE:")


def test_resolve_many_nifty500_list_resolves_every_symbol_in_order(service):
    with (DATA_DIR / "ind_nifty500list_2026-03.csv").open(newline="") as fh:
        symbols = [row["Symbol"] for row in csv.DictReader(fh)]
    master = {r["tradingsymbol"] for r in instrument_rows()}
    listed = [s for s in symbols if s in master]
    assert len(listed) >= 480  # the 2025-12 dump predates a few 2026-03 listings
    resolved = service.resolve_many(listed)
    assert [i.tradingsymbol for i in resolved] == listed
    assert len({i.instrument_token for i in resolved}) == len(listed)


def test_resolve_many_reports_every_unknown_key(service):
    with pytest.raises(ValidationError) as err:
        service.resolve_many(["INFY", "NOPE1", "TCS", "RELIANC"])
    msg = str(err.value)
    assert msg.startswith("2 unknown instrument(s)")
    assert "NSE:NOPE1" in msg and "did you mean NSE:RELIANCE" in msg


def test_search_prefix_returns_matches(service):
    assert "HDFCBANK" in [i.tradingsymbol for i in service.search("hdfc")]


def test_ensure_loaded_seeds_empty_store_from_bundled_dump(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    svc = InstrumentService(store)
    assert store.instruments.count() == 0
    assert svc.ensure_loaded() == len(instrument_rows())
    assert store.instruments.dump_date() == DUMP_DATE
    assert svc.ensure_loaded() == len(instrument_rows())  # second call is a no-op
    assert svc.resolve("TCS").instrument_token == 2953217


def test_resolve_on_empty_store_seeds_it_first(tmp_path):
    svc = InstrumentService(SqlStore(f"sqlite:///{tmp_path / 's.db'}"))
    assert svc.resolve("SBIN").key == "NSE:SBIN"


def test_refresh_from_kite_replaces_master_and_rebuilds_index(tmp_path, replay_server):
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    store.instruments.replace_dump([r for r in instrument_rows() if r["tradingsymbol"] == "TCS"], DUMP_DATE)
    svc = InstrumentService(store)
    with pytest.raises(ValidationError):
        svc.resolve("INFY")
    now = datetime(2026, 3, 2, 8, 45, tzinfo=IST)
    assert svc.refresh_from_kite(replay_server.kite(), now=now) == len(instrument_rows())
    assert store.instruments.dump_date() == now.date()
    assert svc.resolve("INFY").instrument_token == 408065


def test_refresh_from_kite_with_no_rows_keeps_old_master(tmp_path, replay_server):
    store = seed_instruments(SqlStore(f"sqlite:///{tmp_path / 's.db'}"))
    svc = InstrumentService(store)
    with pytest.raises(DataError, match="no instruments for BSE"):
        svc.refresh_from_kite(replay_server.kite(), exchanges=("BSE",))  # the replay carries NSE only
    assert svc.resolve("INFY").instrument_token == 408065
    assert store.instruments.count() == len(instrument_rows())
