"""SQLite, the embedded default: one file under JAJU_HOME, WAL mode, a writer thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jaju.errors import ConfigError
from jaju.store.base import ApiKey, AuditEvent, AuditProblem, UsageRecord, hash_key
from jaju.store.migrations import STORE, migrate
from jaju.store.sql import COMMIT_TIMEOUT, Engine, Store

__all__ = ["ApiKey", "AuditEvent", "AuditProblem", "SqliteEngine", "Store", "UsageRecord",
           "hash_key", "open_sqlite"]


class SqliteEngine(Engine):
    name = "sqlite"
    placeholder = "?"
    lock_head = ""  # BEGIN IMMEDIATE already holds the database's write lock

    def __init__(self, path: Path) -> None:
        self.path = path
        self.applied: list[str] = []

    def connect(self, timeout: float | None = None) -> sqlite3.Connection:
        """`timeout`: how long one statement waits for another connection's write lock
        (5 s by default; the writer thread passes `commit_timeout`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        busy_ms = int((timeout if timeout is not None else 5.0) * 1000)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={busy_ms}")
        except sqlite3.DatabaseError as e:
            db.close()
            raise _unreadable(self.path, e) from e
        return db

    @contextmanager
    def transaction(self, db: Any) -> Iterator[None]:
        with db:
            db.execute("BEGIN IMMEDIATE")
            yield

    def migrate(self, db: Any) -> list[str]:
        try:
            self.applied = migrate(db, STORE)
            return self.applied
        except sqlite3.DatabaseError as e:
            db.close()
            raise _unreadable(self.path, e) from e

    def transient(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and (
            "locked" in str(error) or "busy" in str(error))


def _unreadable(path: Path, e: Exception) -> ConfigError:
    return ConfigError(f"데이터베이스 파일을 열 수 없습니다(손상되었거나 SQLite 파일이 아님) / "
                       f"cannot open the database {path}: {e} — restore it from a backup or "
                       "move it away to start fresh")


def open_sqlite(path: Path, commit_timeout: float = COMMIT_TIMEOUT) -> Store:
    return Store(SqliteEngine(path), f"sqlite://{path.resolve()}", commit_timeout)
