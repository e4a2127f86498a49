"""Numbered schema migrations, applied in order and tracked in `_migrations`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_keys_usage_audit(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            qpm INTEGER,
            tpm INTEGER,
            created_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE INDEX api_keys_tenant ON api_keys(tenant);

        CREATE TABLE usage (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            tenant TEXT,
            key_id TEXT,
            model TEXT,
            endpoint TEXT NOT NULL,
            status INTEGER NOT NULL,
            stream INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL,
            error TEXT,
            prompt TEXT,
            completion TEXT
        );
        CREATE INDEX usage_tenant_model ON usage(tenant, model);

        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL
        );
        """
    )


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run `;`-separated statements inside the caller's transaction (executescript commits)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def migrate(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        with db:  # one transaction per migration
            db.execute("BEGIN IMMEDIATE")
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, strftime('%s','now'))", (fn.__name__,))


@migration
def m002_knowledge(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE kb (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            synonyms TEXT,
            created_at REAL NOT NULL,
            UNIQUE (tenant, name)
        );
        CREATE TABLE kb_documents (
            id INTEGER PRIMARY KEY,
            kb_id INTEGER NOT NULL REFERENCES kb(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            title TEXT,
            format TEXT NOT NULL,
            chars INTEGER NOT NULL,
            chunks INTEGER NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}',
            ingested_at REAL NOT NULL,
            UNIQUE (kb_id, path)
        );
        CREATE TABLE kb_chunks (
            id INTEGER PRIMARY KEY,
            kb_id INTEGER NOT NULL,
            doc_id INTEGER NOT NULL REFERENCES kb_documents(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            text TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            page INTEGER,
            article TEXT,
            heading TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX kb_chunks_doc ON kb_chunks(doc_id);
        CREATE INDEX kb_chunks_kb ON kb_chunks(kb_id)
        """,
    )


@migration
def m003_knowledge_vectors(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        ALTER TABLE kb ADD COLUMN embedder TEXT;
        CREATE TABLE kb_vectors (
            chunk_id INTEGER PRIMARY KEY,
            kb_id INTEGER NOT NULL,
            vec BLOB NOT NULL
        );
        CREATE INDEX kb_vectors_kb ON kb_vectors(kb_id)
        """,
    )


@migration
def m004_plugins_admin_keys(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE plugins (
            name TEXT PRIMARY KEY,
            enabled INTEGER NOT NULL,
            changed_at REAL NOT NULL
        );
        ALTER TABLE api_keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0
        """,
    )


@migration
def m005_packs(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE packs (
            name TEXT NOT NULL,
            tenant TEXT NOT NULL,
            version TEXT NOT NULL,
            installed_at REAL NOT NULL,
            PRIMARY KEY (name, tenant)
        )
        """,
    )
