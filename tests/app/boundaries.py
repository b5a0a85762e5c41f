"""Before/after snapshots for the boundary tests (issue 16): every SQL table row and every
Redis key's value, so a refused call can be shown to have changed nothing."""

from __future__ import annotations

import sqlalchemy as sa


def sql_snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every table behind ``engine``, sorted, by table name."""
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {t.name: sorted(tuple(map(repr, row)) for row in conn.execute(sa.select(t)))
                for t in meta.sorted_tables}


def redis_snapshot(client) -> dict[bytes, bytes | None]:
    """Every key of the (per-test, flushed) Redis with its serialised value."""
    return {key: client.dump(key) for key in sorted(client.keys("*"))}
