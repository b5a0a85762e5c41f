"""The versioned SQL migrations (supabase/migrations) against a real, empty PostgreSQL database.

Checks: the generated files equal what the stores' SQLAlchemy metadata renders; applying them
yields exactly the metadata's tables and columns (plus a NOT NULL ``owner`` on user-owned tables,
leading each of their primary, unique and foreign keys, and the runner's ``schema_migrations``);
applying twice is a tracked no-op and every statement is
idempotent; row-level security is on for every table; bad URLs give a clear error.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.dialects import postgresql

from app.adapters import migrations as m
from app.adapters.store import SqlStore
from core.errors import ValidationError
from tests.servers import free_port, postgres_database


@pytest.fixture(scope="module")
def migrated_db() -> Iterator[str]:
    """A fresh database (not the session one, which other tests fill with create_all) with the
    migrations applied once; yields its libpq URL."""
    with postgres_database() as url:
        url = m.libpq_url(url)
        applied = m.apply(url, log=lambda _msg: None)
        assert applied == [mig.version for mig in m.discover()]
        yield url


def _db_columns(url: str) -> dict[str, dict[str, tuple[str, bool]]]:
    sql = """select table_name, column_name, data_type, character_maximum_length, numeric_precision,
                    numeric_scale, is_nullable
             from information_schema.columns where table_schema = 'public'"""
    out: dict[str, dict[str, tuple[str, bool]]] = {}
    with psycopg.connect(url) as conn:
        for table, col, dtype, length, prec, scale, nullable in conn.execute(sql):
            if dtype == "character varying":
                kind = f"VARCHAR({length})"
            elif dtype == "numeric":
                kind = f"NUMERIC({prec}, {scale})"
            elif dtype == "double precision":
                kind = "FLOAT"
            else:
                kind = dtype.upper()
            out.setdefault(table, {})[col] = (kind, nullable == "YES")
    return out


def _expected_columns() -> dict[str, dict[str, tuple[str, bool]]]:
    dialect = postgresql.dialect()
    owned = set(m.owned_tables())
    out: dict[str, dict[str, tuple[str, bool]]] = {}
    for table in m.desk_tables():
        cols = {c.name: (c.type.compile(dialect=dialect), bool(c.nullable) and not c.primary_key)
                for c in table.columns}
        if table.name in owned:
            cols[m.OWNER_COLUMN] = ("UUID", False)
        out[table.name] = cols
    out["schema_migrations"] = {"version": ("TEXT", False), "name": ("TEXT", False),
                                "checksum": ("TEXT", False), "applied_at": ("TIMESTAMP WITH TIME ZONE", False)}
    return out


def test_generated_migrations_match_the_store_metadata():
    assert m.drifted() == [], "run: python -m app.adapters.migrations --write"


def test_every_module_declaring_tables_is_a_store_module():
    root = m.ROOT / "app"
    declaring = {".".join(p.relative_to(m.ROOT).with_suffix("").parts) for p in root.rglob("*.py")
                 if "MetaData()" in p.read_text(encoding="utf-8")}
    assert declaring <= set(m.STORE_MODULES), f"add {sorted(declaring - set(m.STORE_MODULES))} to STORE_MODULES"


def test_every_store_table_is_covered():
    names = {t.name for t in m.desk_tables()}
    # One table of each store, so a store left out of store_metadatas() is noticed.
    assert {"instruments", "trading_fills", "scan_runs", "backtest_runs", "analyses"} <= names
    assert set(m.SHARED_TABLES) | set(m.SERVICE_TABLES) <= names


def test_applying_yields_exactly_the_metadata_tables_and_columns(migrated_db):
    actual, expected = _db_columns(migrated_db), _expected_columns()
    assert sorted(actual) == sorted(expected)
    for table in expected:
        assert actual[table] == expected[table], table


def _db_keys(url: str, kind: str) -> dict[str, list[list[str]]]:
    sql = """select tc.table_name, array_agg(kcu.column_name::text order by kcu.ordinal_position)
             from information_schema.table_constraints tc
             join information_schema.key_column_usage kcu
               on kcu.constraint_name = tc.constraint_name and kcu.table_schema = tc.table_schema
             where tc.table_schema = 'public' and tc.constraint_type = %s
             group by tc.table_name, tc.constraint_name"""
    out: dict[str, list[list[str]]] = {}
    with psycopg.connect(url) as conn:
        for table, cols in conn.execute(sql, (kind,)):
            out.setdefault(table, []).append(cols)
    return {t: sorted(keys) for t, keys in out.items()}


def _owned(table, cols: list[str]) -> list[str]:
    return [m.OWNER_COLUMN, *cols] if table.name in m.owned_tables() else cols


def test_primary_keys_match_the_metadata_led_by_owner_on_user_tables(migrated_db):
    actual = _db_keys(migrated_db, "PRIMARY KEY")
    for table in m.desk_tables():
        assert actual[table.name] == [_owned(table, [c.name for c in table.primary_key.columns])], table.name
    assert actual["watchlist_names"] == [["owner", "name"]] and actual["bars"] == [["instrument_token", "interval", "ts"]]


def test_unique_and_foreign_keys_of_user_tables_lead_with_owner(migrated_db):
    from sqlalchemy import ForeignKeyConstraint, UniqueConstraint

    uniques, foreign = _db_keys(migrated_db, "UNIQUE"), _db_keys(migrated_db, "FOREIGN KEY")
    for table in m.desk_tables():
        want_u = sorted(_owned(table, [c.name for c in k.columns]) for k in table.constraints
                        if isinstance(k, UniqueConstraint))
        want_f = sorted(_owned(table, [c.name for c in k.columns]) for k in table.constraints
                        if isinstance(k, ForeignKeyConstraint))
        assert uniques.get(table.name, []) == want_u, table.name
        assert foreign.get(table.name, []) == want_f, table.name
    assert uniques["analyses"] == [["owner", "symbol", "trading_day", "snapshot_hash", "model"]]
    assert foreign["trading_fills"] == [["owner", "order_id"]]


def test_applying_twice_is_a_tracked_no_op(migrated_db):
    before = _db_columns(migrated_db)
    assert m.apply(migrated_db, log=lambda _msg: None) == []
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute("select version, name, checksum from public.schema_migrations order by version").fetchall()
    assert rows == [(mig.version, mig.name, mig.checksum) for mig in m.discover()]
    assert _db_columns(migrated_db) == before


def test_every_migration_statement_is_idempotent(migrated_db):
    # Run each file again by hand, ignoring the tracking table: nothing fails, nothing changes.
    before = _db_columns(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        for mig in m.discover():
            with conn.transaction():
                conn.execute(mig.sql)
    assert _db_columns(migrated_db) == before


def test_row_level_security_is_on_for_every_table(migrated_db):
    with psycopg.connect(migrated_db) as conn:
        rls = dict(conn.execute("select relname, relrowsecurity from pg_class c join pg_namespace n "
                                "on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'"))
        policies = {t for (t,) in conn.execute("select tablename from pg_policies where schemaname = 'public' "
                                               "and policyname = 'desk_owner_rows'")}
    assert all(rls.values()), [t for t, on in rls.items() if not on]
    assert policies == set(m.owned_tables())


def test_a_changed_generated_migration_is_reapplied(migrated_db, tmp_path):
    for mig in m.discover():
        (tmp_path / mig.path.name).write_text(mig.sql)
    tables = tmp_path / m.TABLES_MIGRATION
    tables.write_text(tables.read_text() + "\ncreate table if not exists desk_probe (id integer primary key);\n")
    logs: list[str] = []
    applied = m.apply(migrated_db, tmp_path, log=logs.append)
    assert applied == [m.TABLES_MIGRATION[:14]] and "re-applied" in logs[0]
    assert "desk_probe" in _db_columns(migrated_db)
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute("drop table desk_probe")
        conn.execute("update public.schema_migrations set checksum = %s where version = %s",
                     (m.discover()[1].checksum, m.TABLES_MIGRATION[:14]))


def test_the_sql_store_runs_on_the_migrated_schema(migrated_db):
    store = SqlStore(migrated_db)
    try:
        store.watchlists.replace("main", ["NSE:INFY", "NSE:TCS"])
        assert store.watchlists.get("main") == ["NSE:INFY", "NSE:TCS"]
        job = store.jobs.create("probe", {"a": 1})
        assert store.jobs.get(job).kind == "probe"
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("delete from watchlists; delete from watchlist_names; delete from jobs")
        store.dispose()


def test_bad_urls_say_what_to_fix():
    with pytest.raises(ValidationError, match="PostgreSQL URL"):
        m.apply("mysql://root@localhost/db")
    with pytest.raises(ValidationError, match="cannot connect"):
        m.apply(f"postgresql://postgres@127.0.0.1:{free_port()}/nope", log=lambda _msg: None)


def test_cli_applies_and_reports(migrated_db, capsys):
    assert m.main([migrated_db]) == 0
    assert "0 applied, database up to date" in capsys.readouterr().out
    assert m.main(["--check"]) == 0
