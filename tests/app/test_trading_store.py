"""TradingStore on a real SQLite file and a real PostgreSQL: unique keys make replays no-ops,
the fill transaction is all-or-nothing, the ledger is append-only."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from app.adapters.store import SqlStore
from app.adapters.trading_store import TradingStore
from app.adapters.trading_store.schema import metadata
from core.timeutil import UTC

D = Decimal
AT = datetime(2016, 8, 17, 4, 30, tzinfo=UTC)
DAY = date(2016, 8, 17)


@pytest.fixture(params=["sqlite", "postgresql"])
def ts(request, tmp_path):
    if request.param == "sqlite":
        sql = SqlStore(f"sqlite:///{tmp_path / 't.db'}")
    else:
        sql = SqlStore(request.getfixturevalue("postgres_url"))
    store = TradingStore(sql.engine)
    with sql.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    yield store
    sql.dispose()


def _decision(ts, decision_id="RD-1", approved=True):
    from sqlalchemy import insert

    from app.adapters.trading_store.schema import risk_decisions

    with ts.engine.begin() as conn:
        conn.execute(insert(risk_decisions).values(decision_id=decision_id, trace_id="T1", approval_id="A1",
                                                   stage="approval", approved=approved, reasons=[], messages=[],
                                                   price=D("100"), at=AT))


def _order(order_id="O-A1", approval_id="A1", decision_id="RD-1"):
    return dict(order_id=order_id, approval_id=approval_id, decision_id=decision_id, trace_id="T1",
                instrument_token=408065, tradingsymbol="INFY", side="BUY", quantity=10, product="MIS",
                order_type="MARKET", validity="DAY", price=None, trigger_price=None, stop_loss=None, target=None,
                tag="", strategy="s", status="OPEN", placed_at=AT, updated_at=AT, day=DAY, tick_size=D("0.05"),
                filled_quantity=0, filled_turnover=D("0"), fill_count=0, queued_for_open=False, status_message="")


def _fill(fill_id="O-A1-1"):
    return dict(fill_id=fill_id, order_id="O-A1", seq=1, trace_id="T1", instrument_token=408065,
                tradingsymbol="INFY", side="BUY", product="MIS", quantity=10, price=D("100.05"), brokerage=D("0.30"),
                stt=D("0"), exchange_txn=D("0.03"), sebi=D("0"), ipft=D("0"), stamp=D("0.03"),
                square_off_fee=D("0"), gst=D("0.06"), charges_total=D("0.42"), filled_at=AT, day=DAY,
                settles_on=None, strategy="s", tag="")


def _book(current):
    pos = dict(instrument_token=408065, product="MIS", tradingsymbol="INFY", quantity=10, cost=D("1000.50"),
               realized_pnl=D("0"), day=DAY, buy_quantity=10, buy_value=D("1000.50"), sell_quantity=0,
               sell_value=D("0"), updated_at=AT)
    entries = [dict(entry_id="O-A1-1/trade", at=AT, day=DAY, kind="BUY", amount=D("-1000.50"), reference="O-A1-1",
                    instrument_token=408065, trace_id="T1", memo=""),
               dict(entry_id="O-A1-1/charges", at=AT, day=DAY, kind="CHARGES", amount=D("-0.42"),
                    reference="O-A1-1", instrument_token=408065, trace_id="T1", memo="")]
    return pos, entries, D("0")


def test_order_without_approved_decision_is_refused(ts):
    _decision(ts, "RD-0", approved=False)
    with pytest.raises(ValueError, match="approved risk decision"):
        ts.insert_order(_order(decision_id="RD-0"))
    with pytest.raises(ValueError):
        ts.insert_order(_order(decision_id="RD-missing"))


def test_second_order_for_same_approval_is_noop(ts):
    _decision(ts)
    assert ts.insert_order(_order())
    assert not ts.insert_order(_order(order_id="O-other"))
    assert len(ts.list_orders()) == 1


def test_apply_fill_twice_stores_one_fill_and_ledger_once(ts):
    _decision(ts)
    ts.insert_order(_order())
    vals = dict(status="COMPLETE", filled_quantity=10, filled_turnover=D("1000.50"), fill_count=1)
    assert ts.apply_fill(_fill(), order_values=vals, order_expect={"fill_count": 0}, book=_book)
    assert not ts.apply_fill(_fill(), order_values=vals, order_expect={"fill_count": 0}, book=_book)
    assert not ts.apply_fill(_fill(), order_values=None, order_expect=None, book=_book)
    assert ts.count_fills() == 1
    assert ts.ledger_sums() == {"BUY": D("-1000.50"), "CHARGES": D("-0.42")}
    [pos] = ts.positions()
    assert pos["quantity"] == 10 and pos["cost"] == D("1000.50")


def test_fill_transaction_is_all_or_nothing(ts):
    _decision(ts)
    ts.insert_order(_order())

    def broken(current):
        raise RuntimeError("crash between ledger and position")

    with pytest.raises(RuntimeError):
        ts.apply_fill(_fill(), order_values=dict(fill_count=1), order_expect={"fill_count": 0}, book=broken)
    assert ts.count_fills() == 0 and ts.ledger_entries() == [] and ts.positions() == []
    assert ts.get_order("O-A1")["fill_count"] == 0


def test_decide_approval_only_once(ts):
    row = dict(approval_id="A1", trace_id="T1", source="strategy", strategy="", reason="r", instrument_token=1,
               tradingsymbol="X", side="BUY", quantity=1, product="MIS", order_type="MARKET", validity="DAY",
               price=None, trigger_price=None, stop_loss=None, target=None, tag="", signal_price=D("10"),
               created_at=AT, expires_at=AT, status="PENDING", decided_by=None, decided_at=None,
               decision_price=None, decision_note="", risk_approved=True, risk_reasons=[], risk_messages=[],
               risk_price=None, risk_at=None)
    ts.insert_approval(row)
    assert ts.decide_approval("A1", dict(status="APPROVED", decided_by="u", decided_at=AT))
    assert not ts.decide_approval("A1", dict(status="APPROVED", decided_by="v", decided_at=AT))
    assert ts.get_approval("A1")["decided_by"] == "u"


def test_limits_are_versioned_and_ledger_entry_ids_unique(ts):
    assert ts.save_limits({"a": "1"}, saved_by="u", saved_at=AT) == 1
    assert ts.save_limits({"a": "2"}, saved_by="u", saved_at=AT) == 2
    assert ts.latest_limits()["limits"] == {"a": "2"}
    e = dict(entry_id="capital-0", at=AT, day=DAY, kind="CAPITAL", amount=D("1000000.00"), reference="",
             instrument_token=0, trace_id="", memo="")
    assert ts.ensure_capital(e) and not ts.ensure_capital(e)
    assert ts.ledger_sums() == {"CAPITAL": D("1000000.00")}


def test_fill_that_clashes_on_a_ledger_entry_writes_nothing(ts):
    """A unique key hit after the order update (here the ledger's entry_id) rolls the whole fill
    back: on PostgreSQL the error only comes back with the pipeline's last round trip."""
    _decision(ts)
    ts.insert_order(_order())
    _, entries, _ = _book(None)
    assert ts.append_ledger([entries[1]])  # the fill's charges entry, already there
    out: dict = {}
    vals = dict(status="COMPLETE", filled_quantity=10, filled_turnover=D("1000.50"), fill_count=1)
    assert not ts.apply_fill(_fill(), order_values=vals, order_expect={"fill_count": 0}, book=_book, order_out=out)
    assert out == {} and ts.count_fills() == 0 and ts.positions() == []
    assert [e["entry_id"] for e in ts.ledger_entries()] == [entries[1]["entry_id"]]
    assert ts.get_order("O-A1")["fill_count"] == 0
    assert ts.apply_fill(_fill("O-A1-2") | {"seq": 2}, order_values=vals, order_expect={"fill_count": 0},
                         book=lambda cur: (_book(cur)[0], [], D("0")))  # the same connection works on


def test_fill_rows_read_and_returned_are_the_rows_sqlalchemy_reads(ts):
    """The order row a fill returns (``order_out``) and the position row ``book`` is given are
    what the store's own reads return: same keys, values and types (UTC datetimes, Decimals)."""
    _decision(ts)
    ts.insert_order(_order())
    seen: list = []

    def book(current):
        seen.append(current)
        return _book(current)

    out: dict = {}
    vals = dict(status="OPEN", filled_quantity=4, filled_turnover=D("400.20"), fill_count=1)
    assert ts.apply_fill(_fill(), order_values=vals, order_expect={"fill_count": 0}, book=book, order_out=out)
    stored = ts.get_order("O-A1")
    assert out == stored and {k: type(v) for k, v in out.items()} == {k: type(v) for k, v in stored.items()}
    assert out["placed_at"].utcoffset().total_seconds() == 0 and out["filled_turnover"] == D("400.20")
    vals2 = dict(status="COMPLETE", filled_quantity=10, filled_turnover=D("1000.50"), fill_count=2)
    assert ts.apply_fill(_fill("O-A1-2") | {"seq": 2}, order_values=vals2, order_expect={"fill_count": 1},
                         book=lambda cur: (seen.append(cur), (_book(cur)[0], [], D("0")))[1])
    position = ts.position(408065, "MIS")
    assert seen[0] is None and seen[1] == position
    assert {k: type(v) for k, v in seen[1].items()} == {k: type(v) for k, v in position.items()}


def test_postgresql_fill_on_a_read_only_database_is_refused_clearly_and_writes_nothing():
    """The pipelined fill (``pg_pipeline``) reports a store that refuses writes as the engine's hook
    does: ``StoreUnavailable`` saying read-only and that nothing was saved."""
    import psycopg

    from core.errors import StoreUnavailable
    from tests.servers import postgres_database

    with postgres_database() as url:
        sql = SqlStore(url)
        ts = TradingStore(sql.engine)
        _decision(ts)
        ts.insert_order(_order())
        admin = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" SET default_transaction_read_only = on')
        sql.engine.dispose()  # new sessions take the setting
        vals = dict(status="COMPLETE", filled_quantity=10, filled_turnover=D("1000.50"), fill_count=1)
        with pytest.raises(StoreUnavailable, match="read-only.*nothing was saved"):
            ts.apply_fill(_fill(), order_values=vals, order_expect={"fill_count": 0}, book=_book)
        assert ts.count_fills() == 0 and ts.ledger_entries() == [] and ts.get_order("O-A1")["fill_count"] == 0
        sql.dispose()


@pytest.mark.parametrize("ts", ["postgresql"], indirect=True)
def test_postgresql_fill_on_a_killed_connection_is_unavailable_then_the_next_one_reconnects(ts):
    """A pooled connection whose server session was ended: the pipelined fill raises
    ``StoreUnavailable`` (the actor retries), drops the connection, and the retry stores the fill."""
    import psycopg

    from core.errors import StoreUnavailable

    _decision(ts)
    ts.insert_order(_order())
    with ts.engine.connect() as conn:  # the connection the fill will get back from the pool
        pid = conn.connection.driver_connection.info.backend_pid
    admin = ts.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    vals = dict(status="COMPLETE", filled_quantity=10, filled_turnover=D("1000.50"), fill_count=1)
    with pytest.raises(StoreUnavailable, match="unavailable"):
        ts.apply_fill(_fill(), order_values=vals, order_expect={"fill_count": 0}, book=_book)
    assert ts.apply_fill(_fill(), order_values=vals, order_expect={"fill_count": 0}, book=_book)
    assert ts.count_fills() == 1
