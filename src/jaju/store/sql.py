"""`Store`: API keys, usage records, the hash-chained audit log and plugin switches, on SQLite
(embedded, the default) or PostgreSQL (for several replicas), chosen by `[store] url`.

One query path serves both engines (they differ in placeholders and how the audit head is
locked). Nothing here runs on the event loop:

- **Writes of records go through one writer thread** that commits what is queued in groups
  (one transaction for many requests). `record()` returns a future that resolves once the
  row is committed: the gateway awaits it before answering, so a request that got a 2xx has
  its usage row, and a database that is busy or restarting holds the queue instead of the
  event loop. `audit()` queues a record without waiting for it.
- **A database that is away is a prompt 503, not a hang**: a request's record waits at most
  `commit_timeout` seconds (`[store] commit_timeout`, 3 by default) while the writer retries
  with a short back-off; then its future fails and the request answers 503
  `store_unavailable`. Records nobody waits for (audit-only) are kept until the database
  is back. The writer reconnects by itself, and a batch whose COMMIT may have landed just
  before the connection broke is looked up (by its last audit hash) before it is retried,
  so nothing is stored twice.
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
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from jaju.errors import ConfigError, InvalidRequest
from jaju.protocol import tenant_problem
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
T = TypeVar("T", str, str | None)
BATCH = 256
"""Most records committed in one transaction."""
COMMIT_TIMEOUT = 3.0
"""Seconds a request's record may wait for a busy or unreachable database before the request
fails with 503 `store_unavailable` (`[store] commit_timeout`)."""
MAX_HELD = 10_000
"""Most records held in memory while the database is away (the oldest audit-only ones are
dropped beyond, with an error in the log)."""


@dataclass(eq=False)
class Pending:
    """A record waiting for the writer: `done` resolves on commit; `deadline` (monotonic
    seconds) is when its request stops waiting, None for records nobody waits for."""

    usage: UsageRecord | None
    audit: AuditEvent | None
    done: Future[None] | None
    deadline: float | None


class Engine:
    """What differs between SQLite and PostgreSQL, and how to connect."""

    name = "sqlite"
    placeholder = "?"
    lock_head = ""
    applied: list[str]
    """Migrations applied when the store was opened."""

    def connect(self, timeout: float | None = None) -> Any:
        """A new connection; `timeout` bounds connecting (and, on SQLite, waiting for the
        write lock) in seconds."""
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


AUDIT_SCAN = 200_000
"""How many of the newest audit records a tenant's view of the log looks through."""


class Store:
    def __init__(self, engine: Engine, url: str, commit_timeout: float = COMMIT_TIMEOUT
                 ) -> None:
        self.engine, self.url, self.commit_timeout = engine, url, commit_timeout
        self._lock = threading.RLock()
        self._db = engine.connect()
        with self._lock:
            engine.migrate(self._db)
        # SimpleQueue: put and get in C, a fraction of Queue's locking on every request
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_db: Any = None
        self._failing: str | None = None
        """Why the writer's last commit failed, while it holds records."""
        self._holding = 0
        self._in_doubt: tuple[str, list[Pending]] | None = None
        """A batch whose COMMIT may have landed: its last audit hash, and its records."""
        self._reads_down: tuple[float, Exception] | None = None
        """When reads last failed to reconnect (until when not to try again), and why."""
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
                down = self._reads_down
                if down is not None and time.monotonic() < down[0]:
                    raise ConfigError(str(down[1])) from e  # tried just now: fail at once
                with contextlib.suppress(Exception):
                    self._db.close()
                try:
                    self._db = self.engine.connect(self.commit_timeout)
                except Exception as failed:
                    self._reads_down = (time.monotonic() + 1.0, failed)
                    raise
                self._reads_down = None
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
            self._writer.join(timeout=self.commit_timeout + 5)
        with self._lock:
            self._db.close()

    # --- the writer thread ----------------------------------------------------------------------

    def record(self, usage: UsageRecord, audit: AuditEvent | None = None) -> Future[None]:
        """Queue a usage row and (optionally) its audit record, to be committed together; the
        future resolves when they are, or fails once they waited `commit_timeout` seconds for
        a busy or unreachable database (the request then answers 503, never a 2xx)."""
        done: Future[None] = Future()
        self._put(Pending(usage, audit, done, time.monotonic() + self.commit_timeout))
        return done

    def audit(self, event: AuditEvent) -> None:
        """Queue an audit record (not waited for: kept until the database takes it)."""
        self._put(Pending(None, event, None, None))

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far is committed (or given up on)."""
        if self._writer is None:
            return
        done: Future[None] = Future()
        self._put(Pending(None, None, done, time.monotonic() + self.commit_timeout))
        with contextlib.suppress(Exception):  # given up on: their requests were told
            done.result(timeout if timeout is not None else self.commit_timeout + 5)

    def unavailable(self) -> str | None:
        """Why the store cannot be used right now (for /health), or None when it can: the
        writer's last failure while records wait, or a failed `SELECT 1`."""
        try:
            self._rows("SELECT 1")
        except Exception as e:
            return f"store {self.url} is unavailable: {_reason(e)}"
        failing, holding = self._failing, self._holding
        if failing is not None and holding:
            return f"store {self.url}: {holding} records wait to be committed ({failing})"
        return None

    def _put(self, item: Pending) -> None:
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                                    name="jaju-store-writer")
                    self._writer.start()
        self._queue.put(item)

    def _write_loop(self) -> None:
        """Commit what is queued, in groups. While the database fails, keep what was taken
        (retrying with a short back-off), fail each request's record once its deadline
        passes, and carry on as soon as the database answers again."""
        held: list[Pending] = []
        stopping, pause = False, 0.0
        while True:
            if not held and not stopping:
                item = self._queue.get()
                if item is None:
                    stopping = True
                else:
                    held.append(item)
            elif pause:
                time.sleep(pause)
            while True:  # take whatever else is queued
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    held.append(item)
            if not held:
                if stopping:
                    break
                continue
            batch = held[:BATCH]
            try:
                self._commit(batch)
            except Exception as e:
                if not self.engine.transient(e):
                    self._commit_alone(batch, e)
                    del held[:len(batch)]
                    continue
                held = self._wait_out(held, e)
                if stopping:  # closing while the database is away: give up on the rest
                    self._settle(held, e)
                    log.error("store %s unavailable at shutdown: %d records were not stored",
                              self.url, len(held))
                    break
                self._holding = len(held)
                pause = min(max(pause * 2, 0.05), 0.5)
                continue
            self._settle(batch, None)
            del held[:len(batch)]
            self._holding, pause = len(held), 0.0
            if self._failing is not None:
                log.warning("store %s is available again", self.url)
                self._failing = None
        if self._writer_db is not None:
            with contextlib.suppress(Exception):
                self._writer_db.close()

    def _commit(self, batch: list[Pending]) -> None:
        """Commit `batch` in one transaction. A batch whose COMMIT may have landed before the
        connection broke (the server answered nothing) is first looked up by its last audit
        hash, so that a retry never stores it twice."""
        if self._writer_db is None:
            self._writer_db = self.engine.connect(self.commit_timeout)
        db = self._writer_db
        if self._in_doubt is not None:
            doubt, landed = self._in_doubt
            if db.execute(self._sql("SELECT 1 FROM audit WHERE hash=?"), (doubt,)).fetchone():
                batch = [item for item in batch if item not in landed]  # stored already
            if self.engine.name == "postgresql":
                db.commit()
            self._in_doubt = None
        if not batch:
            return
        digest: str | None = None
        usage = [item.usage for item in batch if item.usage is not None]
        audit = [item.audit for item in batch if item.audit is not None]
        try:
            with self.engine.transaction(db):
                if usage:
                    self._insert_usage(db, usage)
                if audit:
                    digest = self._append_audit(db, *audit)
        except Exception:
            if digest is not None:
                self._in_doubt = (digest, list(batch))
            raise

    def _commit_alone(self, batch: list[Pending], error: Exception) -> None:
        """A batch failed for a reason other than the database being away (a bug, a bad
        value): commit its records one by one so that only the culprit fails."""
        if len(batch) == 1:
            log.error("could not store a record: %s", error)
            self._settle(batch, error)
            return
        for item in batch:
            try:
                self._commit([item])
            except Exception as e:
                log.error("could not store a record: %s", e)
                self._settle([item], e)
                if self.engine.transient(e):
                    self._reconnect()
            else:
                self._settle([item], None)

    def _wait_out(self, held: list[Pending], error: Exception) -> list[Pending]:
        """The database is busy or away: fail the records whose deadline passed, keep the
        rest (and reconnect for the next try)."""
        if self._failing is None:
            log.warning("store %s busy or unreachable (%s); holding %d records",
                        self.url, _reason(error), len(held))
        self._failing = _reason(error)
        self._reconnect()
        now, kept = time.monotonic(), []
        for item in held:
            if item.done is not None and item.deadline is not None and item.deadline <= now:
                _resolve(item.done, error)
            else:
                kept.append(item)
        if len(kept) > MAX_HELD:
            log.error("store %s unavailable: dropping %d audit records", self.url,
                      len(kept) - MAX_HELD)
            kept = kept[-MAX_HELD:]
        return kept

    @staticmethod
    def _settle(batch: list[Pending], error: Exception | None) -> None:
        for item in batch:
            if item.done is not None:
                _resolve(item.done, error)

    def _reconnect(self) -> None:
        if self.engine.name == "sqlite":
            return  # the same connection retries after the lock is released
        with contextlib.suppress(Exception):
            if self._writer_db is not None:
                self._writer_db.close()
        self._writer_db = None

    def _insert_usage(self, db: Any, usage: list[UsageRecord]) -> None:
        """Insert usage rows: one statement for the batch (on PostgreSQL, psycopg pipelines
        the rows into one round trip)."""
        now = time.time()
        db.cursor().executemany(self._sql(
            "INSERT INTO usage (ts, tenant, key_id, model, endpoint, status, stream, "
            "prompt_tokens, completion_tokens, latency_ms, error, prompt, completion) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"),
            [(now, _text(u.tenant), _text(u.key_id), _text(u.model), u.endpoint, u.status,
              int(u.stream), u.prompt_tokens, u.completion_tokens, u.latency_ms,
              _text(u.error), _text(u.prompt), _text(u.completion)) for u in usage])

    def _append_audit(self, db: Any, *events: AuditEvent) -> str:
        """Append `events` in order inside the caller's transaction, after locking the head
        row (read once for them all); move the head once; return the last record's hash."""
        head = db.execute(self._sql("SELECT seq, hash FROM audit_head WHERE id=1"
                                    + self.engine.lock_head)).fetchone()
        seq, prev = (head[0], head[1]) if head else (0, GENESIS)
        ts = time.time()
        rows = []
        for event in events:
            seq += 1
            event = AuditEvent(_text(event.actor), event.action, event.outcome,
                               _text(event.target), event.detail)
            detail = json.dumps(event.detail or {}, ensure_ascii=False, sort_keys=True)
            digest = record_hash(prev, seq, ts, event.actor, event.action, event.target,
                                 event.outcome, detail)
            rows.append((seq, ts, event.actor, event.action, event.target, event.outcome,
                         detail, prev, digest))
            prev = digest
        db.cursor().executemany(self._sql(
            "INSERT INTO audit (seq, ts, actor, action, target, outcome, detail, prev_hash, "
            "hash) VALUES (?,?,?,?,?,?,?,?,?)"), rows)
        db.execute(self._sql(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash"), (seq, prev))
        return prev

    def _write_now(self, fn: Callable[[Any], Any]) -> Any:
        """An administrative write on the main connection, in one transaction."""
        with self._lock, self.engine.transaction(self._db):
            return fn(self._db)

    # --- keys -----------------------------------------------------------------------------------

    def create_key(self, tenant: str, *, qpm: int | None = None, tpm: int | None = None,
                   admin: bool = False, actor: str) -> tuple[str, ApiKey]:
        """Make a key; return the secret (shown once, stored only hashed) and its record.
        InvalidRequest for a name no tenant may have (`tenant_problem`)."""
        if problem := tenant_problem(tenant):
            raise InvalidRequest(f"테넌트 이름이 올바르지 않습니다 / invalid tenant name "
                                 f"{tenant[:80]!r}: {problem}", param="tenant", code="invalid_tenant")
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

    def audit_records(self, limit: int = 50, tenant: str | None = None) -> list[dict[str, Any]]:
        """The newest `limit` records, oldest first: all, or those whose actor is `tenant`'s —
        the tenant itself, `tenant/KEY`, `mcp:tenant/...` or `cli:tenant` (a tenant name holds
        no `/` or `:`, so no other tenant's actor matches) — filtered in SQL, so a tenant gets
        its newest records however many its neighbours wrote since, among the newest
        AUDIT_SCAN records of the log (a bound on what one call may read: actors have no
        index)."""
        where, args = "", list[Any]()
        if tenant is not None:
            mine, theirs = f"{tenant}/", f"mcp:{tenant}/"
            where = (" WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM audit) - ? AND (actor IN "
                     "(?, ?) OR substr(actor, 1, ?) = ? OR substr(actor, 1, ?) = ?)")
            args = [AUDIT_SCAN, tenant, f"cli:{tenant}", len(mine), mine, len(theirs), theirs]
        rows = self._rows("SELECT seq, ts, actor, action, target, outcome, detail, hash "
                          f"FROM audit{where} ORDER BY seq DESC LIMIT ?", [*args, limit])
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

    def audit_hash(self, seq: int) -> str | None:
        """The hash of record `seq`, or None when there is no such record."""
        rows = self._rows("SELECT hash FROM audit WHERE seq=?", (seq,))
        return rows[0][0] if rows else None

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
                if progress:  # the head as its sequence number, as `counts` gives it
                    progress(table, int(rows[0][1]) if table == "audit_head" and rows
                             else len(rows))
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


def _resolve(done: Future[None], error: Exception | None) -> None:
    """Settle a record's future, unless its request stopped waiting (a client that went away
    cancels it, from another thread, at any moment: that must never stop the writer)."""
    with contextlib.suppress(InvalidStateError):
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


def _text(value: T) -> T:
    """`value` with NUL replaced by U+FFFD: PostgreSQL's text cannot hold NUL, and a request's
    own content (a model name, a prompt, an error quoting either) must not be able to make its
    record fail. Done on both engines, so a record reads the same from either."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _reason(error: BaseException) -> str:
    """An error in one line, for logs and /health."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Numbers as Python ints and floats (PostgreSQL hands back Decimal for sums)."""
    from decimal import Decimal

    return tuple(float(v) if isinstance(v, Decimal) else v for v in row)


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(id=row[0], tenant=row[1], prefix=row[2], qpm=row[3], tpm=row[4],
                  created_at=row[5], revoked_at=row[6], admin=bool(row[7]))
