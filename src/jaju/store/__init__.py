"""The store: API keys, usage, the audit chain and plugin switches, on SQLite or PostgreSQL
(`[store] url`). `open_store(url)` opens one; `Store` is its interface."""

from __future__ import annotations

from pathlib import Path

from jaju.errors import ConfigError
from jaju.store.base import ApiKey, AuditEvent, AuditProblem, UsageRecord
from jaju.store.sql import COMMIT_TIMEOUT, Store

__all__ = ["ApiKey", "AuditEvent", "AuditProblem", "Store", "UsageRecord", "is_postgres",
           "open_store", "sqlite_path"]


def is_postgres(url: str | Path) -> bool:
    """Whether a store URL names PostgreSQL (the knowledge index then lives there too)."""
    return str(url).startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str | Path) -> Path | None:
    """The file of a SQLite store URL (`sqlite:///path` or a plain path); None for PostgreSQL.
    ConfigError for a scheme that is neither."""
    text = str(url)
    if is_postgres(text):
        return None
    if text.startswith("sqlite://"):
        text = text[len("sqlite://"):]  # sqlite:///var/lib/jaju/jaju.db -> /var/lib/...
        text = text[1:] if text.startswith("//") else text
    elif "://" in text:
        raise ConfigError(f"알 수 없는 저장소 주소 / unknown store URL {text.split('://')[0]}://… "
                          "(use sqlite:///path or postgresql://user@host/db)")
    return Path(text)


def open_store(url: str | Path, commit_timeout: float = COMMIT_TIMEOUT) -> Store:
    """`sqlite:///path` (or a plain path) or `postgresql://user@host/db`; a request's record
    waits at most `commit_timeout` seconds for a busy or unreachable database."""
    path = sqlite_path(url)
    if path is None:
        from jaju.store.postgres import open_postgres

        return open_postgres(str(url), commit_timeout)
    from jaju.store.sqlite import open_sqlite

    return open_sqlite(path, commit_timeout)
