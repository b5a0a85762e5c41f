"""Versioned SQL migrations (Supabase CLI layout: ``supabase/migrations/<timestamp>_<name>.sql``).

The same files apply to plain PostgreSQL (``python -m app.adapters.migrations DATABASE_URL``, with
psycopg) and to a Supabase project (``supabase db push``, or this module with the project's
Postgres connection string). Every statement is idempotent, so a migration applied twice is
harmless; this runner also records each applied file in ``public.schema_migrations`` (version,
name, sha256) and skips it the next time. The two generated files are repeatable: re-applied
when their content changes (new tables, new columns).

The table DDL is *generated* from the SQLAlchemy metadata of every store (``store``,
``trading_store``, ``scan_store``, ``strategy_store``, ``analysis_store``) by ``render_tables_sql``
and the row-level security by ``render_rls_sql``; ``tests/app/test_migrations.py`` checks that
the files on disk equal what the metadata renders and that applying them yields exactly the
metadata's tables and columns (plus the ``owner`` column of user-owned tables).

Row-level security: user-owned tables get ``owner uuid not null default public.desk_owner()``
and one policy ``owner = auth.uid()`` for the ``authenticated`` role (``auth.uid()`` is the JWT
``sub`` claim, read from ``request.jwt.claims``; ``desk_owner()`` is that, or the nil UUID
``DESK_OWNER`` for the backend: ``service_role`` and direct connections). Every primary key,
unique constraint and foreign key of a user-owned table leads with ``owner``, so two users may
use the same watchlist name, position or cache key without colliding. Market data
(instruments, bars, coverage) is readable by any signed-in user and written by
``service_role`` only; ``anon`` gets nothing.

CLI::

    python -m app.adapters.migrations DATABASE_URL        # apply pending migrations
    python -m app.adapters.migrations --write             # regenerate the generated files
    python -m app.adapters.migrations --check             # exit 1 if they drifted from the metadata
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ForeignKeyConstraint, MetaData, Table, UniqueConstraint
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateColumn, CreateIndex, CreateTable

from core.errors import ValidationError

ROOT = Path(__file__).resolve().parent.parent.parent
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"

#: Generated files (version prefix → renderer name). Other files in the folder are hand-written.
TABLES_MIGRATION = "20260101000100_desk_tables.sql"
RLS_MIGRATION = "20260101000200_row_level_security.sql"

#: Market data: shared by every user, read by ``authenticated``, written by ``service_role``.
SHARED_TABLES = ("instruments", "bars", "bar_coverage")
#: Bookkeeping and credentials only the backend (``service_role``) sees.
SERVICE_TABLES = ("schema_version", "desk_users", "api_keys")
#: The column row-level security keys on (Supabase's user id, the JWT ``sub``).
OWNER_COLUMN = "owner"
#: The owner of the backend's rows (no JWT ``sub``): ``public.desk_owner()`` without a user.
DESK_OWNER = "00000000-0000-0000-0000-000000000000"

_FILE = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")


#: Every module that declares store tables (a module-level ``metadata``), in creation order.
STORE_MODULES = (
    "app.adapters.store.schema",
    "app.adapters.trading_store.schema",
    "app.adapters.scan_store",
    "app.adapters.strategy_store",
    "app.adapters.sweep_store",
    "app.adapters.analysis_store",
    "app.adapters.auth_store",
    "app.adapters.contract_note_store",
    "app.adapters.api_key_store",
    "app.adapters.alert_store",
    "app.adapters.news_store",
)


def store_metadatas() -> list[MetaData]:
    """The ``MetaData`` of every SQL store, in creation order."""
    import importlib

    return [importlib.import_module(name).metadata for name in STORE_MODULES]


def desk_tables() -> list[Table]:
    """Every table of every store, dependencies first."""
    tables: list[Table] = []
    seen: set[str] = set()
    for md in store_metadatas():
        for table in md.sorted_tables:
            if table.name in seen:
                raise ValidationError(f"table {table.name!r} is declared by two stores; rename one")
            seen.add(table.name)
            tables.append(table)
    return tables


def owned_tables() -> list[str]:
    """Tables holding one user's data (everything but market data and bookkeeping)."""
    return [t.name for t in desk_tables() if t.name not in SHARED_TABLES + SERVICE_TABLES]


def _pg(element) -> str:
    text = str(element.compile(dialect=postgresql.dialect())).strip()
    return "\n".join(line.rstrip() for line in text.splitlines())


def _pg_name(table: Table) -> str:
    return postgresql.dialect().identifier_preparer.format_table(table)


def render_tables_sql() -> str:
    """``CREATE TABLE/INDEX IF NOT EXISTS`` for every store's metadata (PostgreSQL dialect), plus
    ``ADD COLUMN IF NOT EXISTS`` for each non-key column so that re-applying the file after a
    metadata change adds the new columns to an existing database."""
    out = [
        "-- GENERATED by `python -m app.adapters.migrations --write` from the SQLAlchemy metadata of",
        "-- every store. Do not edit. Repeatable: the runner re-applies it when its content changes",
        "-- (every statement is idempotent). A new NOT NULL column on a table with rows, a type",
        "-- change or a drop needs a hand-written migration that runs before it.",
        "",
    ]
    for table in desk_tables():
        out.append(_pg(CreateTable(table, if_not_exists=True)) + ";")
        extra = [c for c in table.columns if not c.primary_key]
        if extra:
            clauses = ",\n  ".join(f"add column if not exists {_pg(CreateColumn(c))}" for c in extra)
            out.append(f"alter table {_pg_name(table)}\n  {clauses};")
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            out.append(_pg(CreateIndex(index, if_not_exists=True)) + ";")
        out.append("")
    return "\n".join(out)


def _key_name(table: Table, constraint, suffix: str) -> str:
    """PostgreSQL's name for a key constraint (its own, else the server's default naming)."""
    if constraint.name:
        return str(constraint.name)
    cols = [c.name for c in constraint.columns] if suffix != "pkey" else []
    return "_".join([table.name, *cols, suffix])[:63]


def _owned_keys_sql(tables: list[Table]) -> list[str]:
    """Lead every primary key, unique constraint and foreign key of ``tables`` with ``owner``:
    foreign keys are dropped first (they depend on the keys they reference) and re-created
    on ``(owner, ...)``. Idempotent: each key is dropped if it exists and added again."""
    names = {t.name for t in tables}
    fks = [(t, fk) for t in tables for fk in t.constraints
           if isinstance(fk, ForeignKeyConstraint) and fk.referred_table.name in names]
    out = [f"alter table public.{t.name} drop constraint if exists {_key_name(t, fk, 'fkey')};" for t, fk in fks]
    for t in tables:
        keys = [(t.primary_key, "pkey", "primary key")] + [
            (c, "key", "unique") for c in t.constraints if isinstance(c, UniqueConstraint)]
        for key, suffix, kind in keys:
            name = _key_name(t, key, suffix)
            cols = ", ".join([OWNER_COLUMN, *(c.name for c in key.columns)])
            out.append(f"alter table public.{t.name} drop constraint if exists {name}, "
                       f"add constraint {name} {kind} ({cols});")
    for t, fk in fks:
        cols = ", ".join([OWNER_COLUMN, *(e.parent.name for e in fk.elements)])
        ref = ", ".join([OWNER_COLUMN, *(e.column.name for e in fk.elements)])
        out.append(f"alter table public.{t.name} add constraint {_key_name(t, fk, 'fkey')} "
                   f"foreign key ({cols}) references public.{fk.referred_table.name} ({ref});")
    return out


def render_rls_sql() -> str:
    """Owner columns and keys, row-level security, policies and grants for every table."""
    out = [
        "-- GENERATED by `python -m app.adapters.migrations --write`. Row-level security:",
        "-- user-owned tables: owner = auth.uid() (the JWT sub claim) for role authenticated;",
        "-- every key of a user-owned table leads with owner (two users never collide);",
        "-- market data: read by authenticated, written by service_role; anon: nothing.",
        "-- service_role bypasses RLS (Supabase's backend key); the table owner (postgres) too.",
        "",
        "-- The owner of a new row: the signed-in user, else the backend (the nil UUID).",
        "create or replace function public.desk_owner() returns uuid language sql stable",
        f"  as $$ select coalesce(auth.uid(), '{DESK_OWNER}'::uuid) $$;",
        "",
    ]
    owned = owned_tables()
    for name in owned:
        q = f"public.{name}"
        out += [
            f"alter table {q} add column if not exists {OWNER_COLUMN} uuid default public.desk_owner();",
            f"update {q} set {OWNER_COLUMN} = '{DESK_OWNER}' where {OWNER_COLUMN} is null;",
            f"alter table {q} alter column {OWNER_COLUMN} set default public.desk_owner(), "
            f"alter column {OWNER_COLUMN} set not null;",
            f"create index if not exists ix_{name}_{OWNER_COLUMN} on {q} ({OWNER_COLUMN});",
            f"alter table {q} enable row level security;",
            f"drop policy if exists desk_owner_rows on {q};",
            f"create policy desk_owner_rows on {q} for all to authenticated",
            f"  using ({OWNER_COLUMN} = (select auth.uid())) with check ({OWNER_COLUMN} = (select auth.uid()));",
            f"revoke all on {q} from anon;",
            f"grant select, insert, update, delete on {q} to authenticated;",
            f"grant all on {q} to service_role;",
            "",
        ]
    out += _owned_keys_sql([t for t in desk_tables() if t.name in owned]) + [""]
    for name in SHARED_TABLES:
        q = f"public.{name}"
        out += [
            f"alter table {q} enable row level security;",
            f"drop policy if exists desk_market_read on {q};",
            f"create policy desk_market_read on {q} for select to authenticated using (true);",
            f"revoke all on {q} from anon, authenticated;",
            f"grant select on {q} to authenticated;",
            f"grant all on {q} to service_role;",
            "",
        ]
    for name in SERVICE_TABLES:
        q = f"public.{name}"
        out += [
            f"alter table {q} enable row level security;",
            f"revoke all on {q} from anon, authenticated;",
            f"grant all on {q} to service_role;",
            "",
        ]
    out += [
        "grant usage, select on all sequences in schema public to authenticated, service_role;",
        "revoke all on all sequences in schema public from anon;",
        "",
    ]
    return "\n".join(out)


GENERATED: dict[str, Callable[[], str]] = {TABLES_MIGRATION: render_tables_sql, RLS_MIGRATION: render_rls_sql}


def write_generated(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """(Re)write the generated migration files; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, render in GENERATED.items():
        path = directory / name
        path.write_text(render(), encoding="utf-8")
        paths.append(path)
    return paths


def drifted(directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Generated files whose content differs from what the metadata renders now."""
    return [name for name, render in GENERATED.items()
            if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != render()]


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order. Raises ``ValidationError`` for a misnamed file."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _FILE.match(path.name)
        if not m:
            raise ValidationError(f"migration {path.name!r} must be named <14-digit timestamp>_<snake_name>.sql")
        found.append(Migration(m.group(1), m.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValidationError(f"two migrations in {directory} share a version; give each its own timestamp")
    return found


def libpq_url(url: str) -> str:
    """A libpq URL from a SQLAlchemy/PaaS one (``postgresql+psycopg://`` → ``postgresql://``)."""
    url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url.strip())
    if not url.startswith("postgresql://"):
        raise ValidationError("migrations need a PostgreSQL URL like postgresql://user:pw@host:5432/db "
                              "(Supabase: Dashboard → Connect → connection string)")
    return url


_TRACKING = """
create table if not exists public.schema_migrations (
  version text primary key,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now()
);
alter table public.schema_migrations enable row level security;
do $$ begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke all on public.schema_migrations from anon, authenticated;
  end if;
end $$;
"""


def apply(url: str, directory: Path = MIGRATIONS_DIR, *, log: Callable[[str], None] = print) -> list[str]:
    """Apply every pending migration in ``directory`` to the database at ``url``; return the
    versions applied now (``[]`` when up to date).

    Each file runs in its own transaction together with its ``schema_migrations`` row, under an
    advisory lock so that processes starting at once apply it once. A file whose content
    changed after it was applied is reported (``log``) and not re-run. Raises
    ``ValidationError`` for a bad URL or an unreachable server, and psycopg's error (with the
    file name in the message) for a failing statement; that file is then rolled back.
    """
    import psycopg

    migrations = discover(directory)
    try:
        conn = psycopg.connect(libpq_url(url), prepare_threshold=None, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise ValidationError(f"cannot connect to PostgreSQL to apply migrations: {exc}".strip()) from exc
    applied_now: list[str] = []
    with conn:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('paperdesk.schema_migrations'))")
            conn.execute(_TRACKING)
        for mig in migrations:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(hashtext('paperdesk.schema_migrations'))")
                row = conn.execute("select checksum from public.schema_migrations where version = %s",
                                   (mig.version,)).fetchone()
                if row is not None and row[0] == mig.checksum:
                    continue
                if row is not None and mig.path.name not in GENERATED:
                    log(f"migrations: {mig.path.name} changed after it was applied; not re-run "
                        f"(add a new migration instead)")
                    continue
                try:
                    conn.execute(mig.sql)
                except psycopg.Error as exc:
                    raise type(exc)(f"migration {mig.path.name} failed: {exc}") from exc
                conn.execute("insert into public.schema_migrations (version, name, checksum) values (%s, %s, %s) "
                             "on conflict (version) do update set checksum = excluded.checksum, applied_at = now()",
                             (mig.version, mig.name, mig.checksum))
                applied_now.append(mig.version)
                log(f"migrations: {'re-applied' if row else 'applied'} {mig.path.name}")
    return applied_now


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--write"]:
        for p in write_generated():
            print(f"wrote {p.relative_to(ROOT)}")
        return 0
    if args == ["--check"]:
        bad = drifted()
        for name in bad:
            print(f"{name} differs from the store metadata: run python -m app.adapters.migrations --write")
        return 1 if bad else 0
    if len(args) != 1 or args[0].startswith("-"):
        print(__doc__.split("CLI::", 1)[1].strip(), file=sys.stderr)
        return 2
    try:
        done = apply(args[0])
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"migrations: {len(done)} applied, database up to date")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
