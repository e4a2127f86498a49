"""PostgreSQL, for several replicas sharing one store: psycopg 3 connections used from the
writer thread and worker threads (never from the event loop)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jaju.errors import ConfigError
from jaju.store.migrations import migrate_postgres
from jaju.store.sql import COMMIT_TIMEOUT, Engine, Store


def hide_password(url: str) -> str:
    """`postgresql://user:***@host/db?password=***` for messages and logs: the password in the
    userinfo and in the query string (libpq takes either)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    query = _QUERY_PASSWORD.sub(r"\1***", parts.query)
    userinfo, at, hosts = parts.netloc.rpartition("@")  # hosts as written: h1:5432,h2, [::1]
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hosts}"
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    return urlunsplit(parts._replace(query=query))


_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*")


def scrub(text: str, url: str) -> str:
    """`text` (an error message) with `url`'s password wherever it appears: whole, URL-encoded
    or not, and each piece of it around an `@` (libpq reads a password holding an unencoded
    `@` only up to it, and echoes the rest as the host name; pieces of one or two characters
    are left, or every such letter of the message would go)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    secrets = [m.group(0).split("=", 1)[1] for m in _QUERY_PASSWORD.finditer(parts.query)]
    if parts.password:
        secrets.append(parts.password)
    whole = {secret for raw in secrets for secret in (raw, unquote(raw)) if secret}
    found = whole | {piece for secret in whole for piece in secret.split("@") if len(piece) > 2}
    for secret in sorted(found, key=len, reverse=True):  # the whole before its pieces
        text = text.replace(secret, "***")
    return text


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
                              f"{hide_password(self.url)}: {scrub(str(e).strip(), self.url)}"
                              ) from e

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
