"""PostgreSQL, for several replicas sharing one store: psycopg 3 connections used from the
writer thread and worker threads (never from the event loop)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jaju.errors import ConfigError
from jaju.store.migrations import migrate_postgres
from jaju.store.sql import COMMIT_TIMEOUT, Engine, Store


def hide_password(url: str) -> str:
    """`postgresql://user:***@host/db` for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresEngine(Engine):
    name = "postgresql"
    placeholder = "%s"
    lock_head = " FOR UPDATE"  # replicas take turns appending to the one chain

    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self.url, self.connect_timeout = url, connect_timeout
        self.applied: list[str] = []

    def connect(self, timeout: float | None = None) -> Any:
        """A connection whose waits on a dead server are bounded: connecting (`timeout`,
        libpq's minimum is 2 s), and data the server never acknowledges (a lost host or
        network), so neither the writer nor a read hangs for the kernel's TCP minutes."""
        import psycopg

        wait = max(2, math.ceil(timeout if timeout is not None else self.connect_timeout))
        try:
            return psycopg.connect(self.url, connect_timeout=wait,
                                   tcp_user_timeout=wait * 1000, keepalives=1,
                                   keepalives_idle=10, keepalives_interval=2,
                                   keepalives_count=3)
        except psycopg.Error as e:
            raise ConfigError(f"저장소에 연결할 수 없습니다 / cannot connect to the store "
                              f"{hide_password(self.url)}: {str(e).strip()}") from e

    @contextmanager
    def transaction(self, db: Any) -> Iterator[None]:
        with db.transaction():
            yield

    def migrate(self, db: Any) -> list[str]:
        self.applied = migrate_postgres(db)
        db.commit()
        return self.applied

    def transient(self, error: BaseException) -> bool:
        import psycopg

        return isinstance(error, psycopg.OperationalError | ConfigError)


def open_postgres(url: str, commit_timeout: float = COMMIT_TIMEOUT) -> Store:
    return Store(PostgresEngine(url), hide_password(url), commit_timeout)
