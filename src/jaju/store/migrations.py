"""Numbered schema migrations, applied in order and tracked in `_migrations`.

The store's tables (keys, usage, audit, plugin switches: `STORE`) and the knowledge index's
(`KNOWLEDGE`) are migrated on SQLite and PostgreSQL alike; the knowledge index lives on
PostgreSQL when the store does (see jaju.knowledge.index). A migration takes the connection
and the engine name ("sqlite" or "postgresql"); each runs in its own transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

Migration = Callable[[Any, str], None]
MIGRATIONS: list[Migration] = []
STORE = {"m001_keys_usage_audit", "m004_plugins_admin_keys", "m005_packs"}
"""The migrations of the store proper; the others are the knowledge index's."""


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_keys_usage_audit(db: Any, engine: str = "sqlite") -> None:
    _script(
        db, engine,
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


def _script(db: Any, engine: str, sql: str) -> None:
    """Run `;`-separated statements inside the caller's transaction (executescript commits).
    On PostgreSQL, SQLite's column types become PostgreSQL's."""
    for statement in sql.split(";"):
        if not statement.strip():
            continue
        if engine == "postgresql":
            statement = (statement.replace("_id INTEGER", "_id BIGINT")
                         .replace("id INTEGER PRIMARY KEY,", "id BIGSERIAL PRIMARY KEY,")
                         .replace("seq INTEGER PRIMARY KEY", "seq BIGINT PRIMARY KEY")
                         .replace(" REAL", " DOUBLE PRECISION")
                         .replace(" BLOB", " BYTEA"))
        db.execute(statement)


def migrate(db: sqlite3.Connection, names: set[str] | None = None) -> list[str]:
    """Apply the pending SQLite migrations (all, or those in `names`); return their names."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done or (names is not None and fn.__name__ not in names):
            continue
        with db:  # one transaction per migration
            db.execute("BEGIN IMMEDIATE")
            fn(db, "sqlite")
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, time.time()))
        applied.append(fn.__name__)
    return applied


def migrate_postgres(conn: Any, names: set[str] = STORE) -> list[str]:
    """Apply the pending migrations in `names` (default: the store's) on PostgreSQL, one
    transaction each, under an advisory lock so that replicas starting together migrate once."""
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(4242001)")
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, "
                     "applied_at DOUBLE PRECISION)")
        done = {row[0] for row in conn.execute("SELECT name FROM _migrations").fetchall()}
        for fn in MIGRATIONS:
            if fn.__name__ in done or fn.__name__ not in names:
                continue
            with conn.transaction():
                fn(conn, "postgresql")
                conn.execute("INSERT INTO _migrations VALUES (%s, %s)", (fn.__name__, time.time()))
            applied.append(fn.__name__)
        # the head row exists from the start, so that writers can lock it (FOR UPDATE)
        if "m001_keys_usage_audit" in names:
            conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, %s) "
                         "ON CONFLICT (id) DO NOTHING", ("0" * 64,))
    return applied


@migration
def m002_knowledge(db: Any, engine: str = "sqlite") -> None:
    _script(
        db, engine,
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
            "end" INTEGER NOT NULL,
            page INTEGER,
            article TEXT,
            heading TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX kb_chunks_doc ON kb_chunks(doc_id);
        CREATE INDEX kb_chunks_kb ON kb_chunks(kb_id)
        """,
    )


@migration
def m003_knowledge_vectors(db: Any, engine: str = "sqlite") -> None:
    _script(
        db, engine,
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
def m004_plugins_admin_keys(db: Any, engine: str = "sqlite") -> None:
    _script(
        db, engine,
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
def m005_packs(db: Any, engine: str = "sqlite") -> None:
    _script(
        db, engine,
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


@migration
def m006_knowledge_terms(db: Any, engine: str = "sqlite") -> None:
    """PostgreSQL's lexical index: the analyser's tokens of each chunk as rows of `kb_terms`
    (term frequency and the chunk's token count beside them), and per knowledge base the
    totals BM25 needs plus a version stamp that changes with every write (replicas refresh
    their in-memory vectors by it). SQLite keeps the tokens in FTS5 tables per knowledge
    base (made with the knowledge base): nothing to do there."""
    if engine != "postgresql":
        return
    _script(
        db, engine,
        """
        ALTER TABLE kb ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE kb ADD COLUMN n_chunks BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE kb ADD COLUMN morph_tokens BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE kb ADD COLUMN gram_tokens BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE kb_chunks ADD COLUMN morph_len INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE kb_chunks ADD COLUMN gram_len INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE kb_terms (
            kb_id BIGINT NOT NULL,
            kind TEXT NOT NULL,
            term TEXT NOT NULL,
            chunk_id BIGINT NOT NULL,
            tf INTEGER NOT NULL,
            dl INTEGER NOT NULL,
            PRIMARY KEY (kb_id, kind, term, chunk_id) INCLUDE (tf, dl)
        );
        CREATE INDEX kb_terms_chunk ON kb_terms(chunk_id)
        """,
    )


@migration
def m007_chunk_keywords(db: Any, engine: str = "sqlite") -> None:
    """A chunk's index-only keywords (`Chunk.keywords`: a pack's everyday gloss of an article),
    kept so that re-embedding and `jaju store copy` index the chunk as ingest did."""
    _script(db, engine, "ALTER TABLE kb_chunks ADD COLUMN keywords TEXT NOT NULL DEFAULT ''")


KNOWLEDGE = {fn.__name__ for fn in MIGRATIONS} - STORE
"""The knowledge index's migrations (in JAJU_HOME/jaju.db, or on PostgreSQL with the store)."""
