"""`Store`: API keys, usage records, the hash-chained audit log and plugin switches, on SQLite
(embedded, the default) or PostgreSQL (for several replicas), chosen by `[store] url`.

One query path serves both engines (they differ in placeholders and how the audit head is
locked). Nothing here runs on the event loop:

- **Writes of records go through one writer thread** that commits what is queued in groups
  (one transaction for many requests). `record()` returns a future that resolves once the
  row is committed: the gateway awaits it before answering, so a request that got a 2xx has
  its usage row, and a database that is busy or restarting holds the queue instead of the
  event loop. `audit()` queues a record without waiting for it.
- **Reads and administrative writes** (keys, plugin switches) are plain methods for the CLI;
  the gateway calls them in a worker thread (`asyncio.to_thread`).

The audit chain is ordered by the database: each commit reads the head row under a lock
(`BEGIN IMMEDIATE` on SQLite, `SELECT … FOR UPDATE` on PostgreSQL), appends its records with
the next sequence numbers and moves the head in the same transaction, so replicas writing at
once still build one chain.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, ClassVar

from jaju.errors import ConfigError
from jaju.store.base import (
    GENESIS,
    KEY_PREFIX,
    ApiKey,
    AuditEvent,
    AuditProblem,
    UsageRecord,
    hash_key,
    record_hash,
    verify_chain,
)

log = logging.getLogger("jaju")
BATCH = 256
"""Most records committed in one transaction."""
RETRY_FOR = 30.0
"""Seconds a record may wait for an unreachable database before its request fails (503)."""


class Engine:
    """What differs between SQLite and PostgreSQL, and how to connect."""

    name = "sqlite"
    placeholder = "?"
    lock_head = ""
    applied: list[str]
    """Migrations applied when the store was opened."""

    def connect(self) -> Any:
        raise NotImplementedError

    @contextmanager
    def transaction(self, db: Any) -> Iterator[None]:
        raise NotImplementedError
        yield

    def migrate(self, db: Any) -> list[str]:
        raise NotImplementedError

    def transient(self, error: BaseException) -> bool:
        """An error worth retrying (locked, connection lost) rather than a bug."""
        return False


class Store:
    def __init__(self, engine: Engine, url: str) -> None:
        self.engine, self.url = engine, url
        self._lock = threading.RLock()
        self._db = engine.connect()
        with self._lock:
            engine.migrate(self._db)
        self._queue: queue.Queue[tuple[UsageRecord | None, AuditEvent | None,
                                       Future[None] | None] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._writer_db: Any = None
        self._disabled: tuple[float, set[str]] | None = None

    def _sql(self, sql: str) -> str:
        return sql if self.engine.placeholder == "?" else sql.replace("?", "%s")

    def _rows(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._read(sql, args)
            except Exception as e:  # a restarted server dropped the connection: once more
                if self.engine.name != "postgresql" or not self.engine.transient(e):
                    raise
                with contextlib.suppress(Exception):
                    self._db.close()
                self._db = self.engine.connect()
                return self._read(sql, args)

    def _read(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        cur = self._db.execute(self._sql(sql), args)
        rows = list(cur.fetchall())
        if self.engine.name == "postgresql":
            self._db.commit()  # end the read's transaction
        return rows

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=RETRY_FOR + 5)
        with self._lock:
            self._db.close()

    # --- the writer thread ----------------------------------------------------------------------

    def record(self, usage: UsageRecord, audit: AuditEvent | None = None) -> Future[None]:
        """Queue a usage row and (optionally) its audit record, to be committed together; the
        future resolves when they are (or fails when the database stays unreachable)."""
        done: Future[None] = Future()
        self._put((usage, audit, done))
        return done

    def audit(self, event: AuditEvent) -> None:
        """Queue an audit record (not waited for)."""
        self._put((None, event, None))

    def flush(self, timeout: float = RETRY_FOR + 5) -> None:
        """Wait until everything queued so far is committed (or given up on)."""
        if self._writer is None:
            return
        done: Future[None] = Future()
        self._put((None, None, done))
        with contextlib.suppress(Exception):  # given up on: their requests were told
            done.result(timeout)

    def _put(self, item: tuple[UsageRecord | None, AuditEvent | None, Future[None] | None]
             ) -> None:
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                                    name="jaju-store-writer")
                    self._writer.start()
        self._queue.put(item)

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
        if self._writer_db is not None:
            self._writer_db.close()

    def _commit(self, batch: list[tuple[UsageRecord | None, AuditEvent | None,
                                        Future[None] | None]]) -> None:
        deadline, wait = time.monotonic() + RETRY_FOR, 0.05
        while True:
            try:
                if self._writer_db is None:
                    self._writer_db = self.engine.connect()
                db = self._writer_db
                with self.engine.transaction(db):
                    for usage, audit, _ in batch:
                        if usage is not None:
                            self._insert_usage(db, usage)
                        if audit is not None:
                            self._append_audit(db, audit)
                break
            except Exception as e:
                if not self.engine.transient(e) or time.monotonic() > deadline:
                    log.error("could not store %d records: %s", len(batch), e)
                    for _, _, done in batch:
                        if done is not None and not done.done():
                            done.set_exception(e)
                    return
                log.warning("store busy or unreachable (%s); retrying", type(e).__name__)
                self._reconnect()
                time.sleep(wait)
                wait = min(wait * 2, 1.0)
        for _, _, done in batch:
            if done is not None and not done.done():
                done.set_result(None)

    def _reconnect(self) -> None:
        if self.engine.name == "sqlite":
            return  # the same connection retries after the lock is released
        try:
            if self._writer_db is not None:
                self._writer_db.close()
        except Exception:
            pass
        self._writer_db = None

    def _insert_usage(self, db: Any, usage: UsageRecord) -> None:
        db.execute(self._sql(
            "INSERT INTO usage (ts, tenant, key_id, model, endpoint, status, stream, "
            "prompt_tokens, completion_tokens, latency_ms, error, prompt, completion) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"),
            (time.time(), usage.tenant, usage.key_id, usage.model, usage.endpoint,
             usage.status, int(usage.stream), usage.prompt_tokens, usage.completion_tokens,
             usage.latency_ms, usage.error, usage.prompt, usage.completion))

    def _append_audit(self, db: Any, event: AuditEvent) -> None:
        """Append inside the caller's transaction, after locking the head row."""
        head = db.execute(self._sql("SELECT seq, hash FROM audit_head WHERE id=1"
                                    + self.engine.lock_head)).fetchone()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        ts = time.time()
        detail = json.dumps(event.detail or {}, ensure_ascii=False, sort_keys=True)
        digest = record_hash(prev, seq, ts, event.actor, event.action, event.target,
                             event.outcome, detail)
        db.execute(self._sql("INSERT INTO audit (seq, ts, actor, action, target, outcome, "
                             "detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)"),
                   (seq, ts, event.actor, event.action, event.target, event.outcome, detail,
                    prev, digest))
        db.execute(self._sql(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash"), (seq, digest))

    def _write_now(self, fn: Callable[[Any], Any]) -> Any:
        """An administrative write on the main connection, in one transaction."""
        with self._lock, self.engine.transaction(self._db):
            return fn(self._db)

    # --- keys -----------------------------------------------------------------------------------

    def create_key(self, tenant: str, *, qpm: int | None = None, tpm: int | None = None,
                   admin: bool = False, actor: str) -> tuple[str, ApiKey]:
        """Make a key; return the secret (shown once, stored only hashed) and its record."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(id="key_" + secrets.token_hex(6), tenant=tenant, prefix=secret[:9],
                     qpm=qpm, tpm=tpm, created_at=time.time(), revoked_at=None, admin=admin)

        def write(db: Any) -> None:
            db.execute(self._sql(
                "INSERT INTO api_keys (id, tenant, hash, prefix, qpm, tpm, created_at, admin) "
                "VALUES (?,?,?,?,?,?,?,?)"),
                (key.id, tenant, hash_key(secret), key.prefix, qpm, tpm, key.created_at,
                 int(admin)))
            self._append_audit(db, AuditEvent(actor, "key.create", "ok", key.id,
                                              {"tenant": tenant, "qpm": qpm, "tpm": tpm,
                                               "admin": admin}))
        self._write_now(write)
        return secret, key

    def revoke_key(self, key_id: str, *, actor: str) -> bool:
        def write(db: Any) -> bool:
            cur = db.execute(self._sql(
                "UPDATE api_keys SET revoked_at=? WHERE (id=? OR prefix=?) AND revoked_at IS NULL"),
                (time.time(), key_id, key_id))
            if cur.rowcount:
                self._append_audit(db, AuditEvent(actor, "key.revoke", "ok", key_id))
            return bool(cur.rowcount > 0)
        revoked: bool = self._write_now(write)
        return revoked

    def list_keys(self, tenant: str | None = None) -> list[ApiKey]:
        sql = "SELECT id, tenant, prefix, qpm, tpm, created_at, revoked_at, admin FROM api_keys"
        args: tuple[Any, ...] = ()
        if tenant:
            sql += " WHERE tenant=?"
            args = (tenant,)
        return [_key(row) for row in self._rows(sql + " ORDER BY created_at", args)]

    def find_key(self, secret: str) -> ApiKey | None:
        rows = self._rows("SELECT id, tenant, prefix, qpm, tpm, created_at, revoked_at, admin "
                          "FROM api_keys WHERE hash=?", (hash_key(secret),))
        return _key(rows[0]) if rows else None

    def has_keys(self) -> bool:
        """True once any key was ever created: from then on every request needs one."""
        return bool(self._rows("SELECT 1 FROM api_keys LIMIT 1"))

    # --- plugins --------------------------------------------------------------------------------

    def set_plugin_enabled(self, name: str, enabled: bool, actor: str) -> None:
        def write(db: Any) -> None:
            db.execute(self._sql(
                "INSERT INTO plugins (name, enabled, changed_at) VALUES (?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET enabled=excluded.enabled, "
                "changed_at=excluded.changed_at"), (name, int(enabled), time.time()))
            self._append_audit(db, AuditEvent(actor, "plugin.enable" if enabled
                                              else "plugin.disable", "ok", name))
        self._write_now(write)
        self._disabled = None

    def disabled_plugins(self, max_age: float = 0.0) -> set[str]:
        """Plugins switched off; with `max_age`, a set read at most that many seconds ago
        (the request path reads it so, not hitting the database for every tool listing)."""
        cached = self._disabled
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1]
        found = {r[0] for r in self._rows("SELECT name FROM plugins WHERE enabled=0")}
        self._disabled = (time.monotonic(), found)
        return found

    # --- packs ----------------------------------------------------------------------------------

    def add_pack(self, name: str, tenant: str, version: str, actor: str) -> None:
        """Record that pack `name` is installed (for `tenant`, or "*": shared)."""
        def write(db: Any) -> None:
            db.execute(self._sql(
                "INSERT INTO packs (name, tenant, version, installed_at) VALUES (?,?,?,?) "
                "ON CONFLICT(name, tenant) DO UPDATE SET version=excluded.version, "
                "installed_at=excluded.installed_at"), (name, tenant, version, time.time()))
            self._append_audit(db, AuditEvent(actor, "pack.install", "ok", name,
                                              {"tenant": tenant, "version": version}))
        self._write_now(write)

    def installed_packs(self) -> list[dict[str, Any]]:
        """Installed packs: name, tenant, version, installed_at (oldest first)."""
        rows = self._rows("SELECT name, tenant, version, installed_at FROM packs "
                          "ORDER BY installed_at, name")
        return [{"name": n, "tenant": t, "version": v, "installed_at": at}
                for n, t, v, at in rows]

    # --- usage and audit ------------------------------------------------------------------------

    def usage_summary(self, *, since: float | None = None,
                      tenant: str | None = None) -> list[dict[str, Any]]:
        where, args = _usage_filter(since, tenant)
        sql = ("SELECT COALESCE(tenant, '-'), COALESCE(model, '-'), COUNT(*), "
               "SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens), "
               "SUM(completion_tokens), AVG(latency_ms) FROM usage WHERE "
               + where + " GROUP BY 1, 2 ORDER BY 1, 2")
        keys = ("tenant", "model", "requests", "errors", "prompt_tokens", "completion_tokens",
                "avg_latency_ms")
        return [dict(zip(keys, _plain(row), strict=True)) for row in self._rows(sql, args)]

    def usage_daily(self, *, since: float | None = None,
                    tenant: str | None = None) -> list[dict[str, Any]]:
        """Usage per UTC day, tenant and model (the console's charts)."""
        where, args = _usage_filter(since, tenant)
        day = ("date(ts, 'unixepoch')" if self.engine.name == "sqlite"
               else "to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        sql = (f"SELECT {day}, COALESCE(tenant, '-'), COALESCE(model, '-'), COUNT(*), "
               "SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens), "
               "SUM(completion_tokens), AVG(latency_ms) FROM usage WHERE "
               + where + " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        keys = ("day", "tenant", "model", "requests", "errors", "prompt_tokens",
                "completion_tokens", "avg_latency_ms")
        return [dict(zip(keys, _plain(row), strict=True)) for row in self._rows(sql, args)]

    def audit_records(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._rows("SELECT seq, ts, actor, action, target, outcome, detail, hash "
                          "FROM audit ORDER BY seq DESC LIMIT ?", (limit,))
        keys = ("seq", "ts", "actor", "action", "target", "outcome", "detail", "hash")
        return [dict(zip(keys, _plain(row), strict=True)) for row in reversed(rows)]

    def verify_audit(self) -> tuple[int, list[AuditProblem]]:
        """Walk the chain; return the number of records and every problem found."""
        with self._lock:
            rows = self._db.execute("SELECT seq, ts, actor, action, target, outcome, detail, "
                                    "prev_hash, hash FROM audit ORDER BY seq").fetchall()
            head = self._db.execute("SELECT seq, hash FROM audit_head WHERE id=1").fetchone()
            if self.engine.name == "postgresql":
                self._db.commit()
        return verify_chain([_plain(r) for r in rows], (head[0], head[1]) if head else None)

    def audit_head(self) -> tuple[int, str]:
        rows = self._rows("SELECT seq, hash FROM audit_head WHERE id=1")
        return (rows[0][0], rows[0][1]) if rows else (0, GENESIS)

    # --- copying a deployment -------------------------------------------------------------------

    TABLES: ClassVar[dict[str, tuple[str, ...]]] = {
        "api_keys": ("id", "tenant", "hash", "prefix", "qpm", "tpm", "created_at",
                     "revoked_at", "admin"),
        "usage": ("id", "ts", "tenant", "key_id", "model", "endpoint", "status", "stream",
                  "prompt_tokens", "completion_tokens", "latency_ms", "error", "prompt",
                  "completion"),
        "audit": ("seq", "ts", "actor", "action", "target", "outcome", "detail", "prev_hash",
                  "hash"),
        "audit_head": ("id", "seq", "hash"),
        "plugins": ("name", "enabled", "changed_at"),
        "packs": ("name", "tenant", "version", "installed_at"),
    }

    def counts(self) -> dict[str, int]:
        """Rows per table (the audit head as its sequence number)."""
        found = {t: int(self._rows(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in self.TABLES}
        found["audit_head"] = self.audit_head()[0]
        return found

    def copy_to(self, other: Store, progress: Callable[[str, int], None] | None = None) -> None:
        """Copy every row to `other`, which must be empty, in one transaction there."""
        if any(n for table, n in other.counts().items() if table != "audit_head") \
                or other.audit_head()[0] != 0:
            raise ConfigError(f"대상 저장소가 비어 있지 않습니다 / the target store {other.url} is "
                              "not empty; copy into a fresh database")
        with other._lock, other.engine.transaction(other._db):
            for table, columns in self.TABLES.items():
                order = columns[0]
                rows = self._rows(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
                sql = other._sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                 f"({', '.join('?' for _ in columns)})")
                if table == "audit_head":
                    sql += " ON CONFLICT (id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash"
                for row in rows:
                    other._db.execute(sql, _plain(row))
                if progress:
                    progress(table, len(rows))
            if other.engine.name == "postgresql":
                other._db.execute("SELECT setval(pg_get_serial_sequence('usage', 'id'), "
                                  "COALESCE((SELECT MAX(id) FROM usage), 0) + 1, false)")


def _usage_filter(since: float | None, tenant: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its arguments) of the usage reports."""
    where, args = ["1=1"], list[Any]()
    if since is not None:
        where.append("ts >= ?")
        args.append(since)
    if tenant:
        where.append("tenant = ?")
        args.append(tenant)
    return " AND ".join(where), args


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Numbers as Python ints and floats (PostgreSQL hands back Decimal for sums)."""
    from decimal import Decimal

    return tuple(float(v) if isinstance(v, Decimal) else v for v in row)


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(id=row[0], tenant=row[1], prefix=row[2], qpm=row[3], tpm=row[4],
                  created_at=row[5], revoked_at=row[6], admin=bool(row[7]))
