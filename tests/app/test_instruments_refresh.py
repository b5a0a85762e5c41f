"""Morning instruments refresh from the replay's instruments() (NSE; its NFO is empty)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event

from app.adapters.store import SqlStore
from app.market.instruments import FEW_LOOKUPS, InstrumentService
from app.market.instruments_refresh import refresh_instruments
from core.errors import ValidationError
from core.timeutil import IST
from tests.kite_fixtures import kite_replay  # noqa: F401


def test_refresh_stores_dated_nse_dump_reports_empty_nfo_and_lookups_are_fast(kite_replay, tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'desk.db'}")
    svc = InstrumentService(store)
    result = refresh_instruments(svc, kite_replay.kite(), datetime(2026, 3, 2, 8, 0, tzinfo=IST))
    assert result.per_exchange["NSE"] > 1000 and result.empty == ("NFO",)
    assert store.instruments.dump_date().isoformat() == "2026-03-02"
    infy = svc.resolve("NSE:INFY")
    assert svc.by_token(infy.instrument_token).tradingsymbol == "INFY"
    nifty500 = [line.split(",")[2] for line in open("app/data/nse/ind_nifty500list_2026-03.csv").read().splitlines()[1:]]
    known = [s for s in nifty500 if s]
    statements: list[str] = []  # a few lookups read a row each, then the whole master is read once
    event.listen(store.engine, "before_cursor_execute", lambda c, cur, s, *a: statements.append(s))
    found = 0
    for sym in known:
        try:
            svc.resolve(f"NSE:{sym}")
            found += 1
        except ValidationError:
            pass
    assert found > 400 and len(statements) <= FEW_LOOKUPS + 1, len(statements)
    statements.clear()
    for sym in known[:50]:
        svc.resolve(f"NSE:{sym}")
    assert statements == []  # answered from memory


def test_symbol_missing_from_dump_gets_a_clear_message(kite_replay, tmp_path):
    svc = InstrumentService(SqlStore(f"sqlite:///{tmp_path / 'desk.db'}"))
    refresh_instruments(svc, kite_replay.kite(), datetime(2026, 3, 2, 8, 0, tzinfo=IST), exchanges=("NSE",))
    with pytest.raises(ValidationError, match="NOTASYMBOL"):
        svc.resolve("NSE:NOTASYMBOL")
