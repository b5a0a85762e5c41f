"""Where the desk's users live: a ``desk_users`` table on the store's engine, or a users file.

* ``SqlUserStore(engine)``: table ``desk_users`` (its own ``MetaData``; SQLite and PostgreSQL):
  ``username`` (primary key, lower-case), ``password_hash`` (``core.auth`` scrypt encoding),
  ``disabled``, ``created_at``/``updated_at`` (UTC).
* ``FileUserStore(path)``: a read-only file named by ``DESK_USERS``, one ``name:hash`` per line
  (``#`` comments and blank lines ignored), re-read when it changes. Make lines with
  ``python -m app.ops.sign_in hash NAME``.

Both answer ``get(username) -> UserRecord | None`` and ``count()``; only the table can be
written (``set_password``, ``disable``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Boolean, Column, MetaData, String, Table, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.adapters.store.errors import conflict
from app.adapters.store.schema import UtcDateTime
from core.errors import ValidationError

metadata = MetaData()

desk_users = Table(
    "desk_users", metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class UserRecord:
    username: str
    password_hash: str
    disabled: bool = False

    def __repr__(self) -> str:  # never print the hash
        return f"UserRecord(username={self.username!r}, disabled={self.disabled})"


class UserStore(Protocol):
    writable: bool

    def get(self, username: str) -> UserRecord | None: ...

    def count(self) -> int: ...

    def describe(self) -> str: ...


class SqlUserStore:
    """Users in the ``desk_users`` table (created on first use)."""

    writable = True

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def describe(self) -> str:
        return "the desk_users table"

    def get(self, username: str) -> UserRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(desk_users).where(desk_users.c.username == username)).mappings().first()
        return UserRecord(row["username"], row["password_hash"], bool(row["disabled"])) if row else None

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(desk_users)
                                    .where(desk_users.c.disabled.is_(False))).scalar_one())

    def names(self) -> list[str]:
        """Every user name, disabled ones too (the look-alike check compares against all)."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(desk_users.c.username)).scalars())

    def set_password(self, username: str, password_hash: str, now: datetime) -> bool:
        """Create the user or replace its hash (and re-enable it); True when created.

        Raises ``ConflictError`` when another session created ``username`` at the same moment
        (nothing is written; try again).
        """
        try:
            with self.engine.begin() as conn:
                found = conn.execute(
                    update(desk_users).where(desk_users.c.username == username)
                    .values(password_hash=password_hash, disabled=False, updated_at=now)).rowcount
                if not found:
                    conn.execute(insert(desk_users).values(username=username, password_hash=password_hash,
                                                           disabled=False, created_at=now, updated_at=now))
        except IntegrityError as exc:
            raise conflict(exc, f"user {username!r} was created by another session at the same moment; "
                                "nothing was changed: try again") from exc
        return not found

    def disable(self, username: str, now: datetime) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(update(desk_users).where(desk_users.c.username == username)
                                     .values(disabled=True, updated_at=now)).rowcount)


class FileUserStore:
    """Users from a ``name:hash`` file (``DESK_USERS``), read-only, re-read when it changes."""

    writable = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._users: dict[str, UserRecord] = {}
        self._load()

    def describe(self) -> str:
        return f"the users file {self.path}"

    def _load(self) -> dict[str, UserRecord]:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise ValidationError(f"DESK_USERS={self.path} cannot be read ({exc.strerror}); "
                                  "point it at a file of name:hash lines") from None
        stamp = (st.st_mtime, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                users: dict[str, UserRecord] = {}
                for number, raw in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
                    line = raw.strip()
                    if not line or line.startswith("#"):
                        continue
                    name, sep, encoded = line.partition(":")
                    if not sep or not name.strip() or not encoded.strip():
                        raise ValidationError(f"{self.path} line {number} is not name:hash")
                    users[name.strip().lower()] = UserRecord(name.strip().lower(), encoded.strip())
                self._users, self._stamp = users, stamp
            return self._users

    def get(self, username: str) -> UserRecord | None:
        return self._load().get(username)

    def count(self) -> int:
        return len(self._load())


__all__ = ["FileUserStore", "SqlUserStore", "UserRecord", "UserStore", "desk_users", "metadata"]
