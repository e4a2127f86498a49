"""SQLite store: API keys, usage records and the hash-chained audit log.

One connection, guarded by a lock, in WAL mode. Every write is one transaction: a request's
usage row and its audit record land together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jaju.store.migrations import migrate

GENESIS = "0" * 64
KEY_PREFIX = "jaju-"


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    prefix: str
    qpm: int | None
    tpm: int | None
    created_at: float
    revoked_at: float | None
    admin: bool = False
    """May manage plugins and call tools over the admin API."""


@dataclass
class UsageRecord:
    endpoint: str
    status: int
    latency_ms: float
    tenant: str | None = None
    key_id: str | None = None
    model: str | None = None
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    prompt: str | None = None
    completion: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    actor: str
    action: str
    outcome: str
    target: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    problem: str


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(id=row[0], tenant=row[1], prefix=row[2], qpm=row[3], tpm=row[4],
                  created_at=row[5], revoked_at=row[6], admin=bool(row[7]))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _record_hash(prev_hash: str, seq: int, ts: float, actor: str, action: str,
                 target: str | None, outcome: str, detail: str) -> str:
    body = json.dumps([seq, ts, actor, action, target, outcome, detail], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()
        with self._lock:
            migrate(self._db)

    def close(self) -> None:
        self._db.close()

    # --- keys -----------------------------------------------------------------------------------

    def create_key(self, tenant: str, *, qpm: int | None = None, tpm: int | None = None,
                   admin: bool = False) -> tuple[str, ApiKey]:
        """Make a key; return the secret (shown once, stored only hashed) and its record."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(id="key_" + secrets.token_hex(6), tenant=tenant, prefix=secret[:9],
                     qpm=qpm, tpm=tpm, created_at=time.time(), revoked_at=None, admin=admin)
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO api_keys (id, tenant, hash, prefix, qpm, tpm, created_at, admin) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (key.id, tenant, hash_key(secret), key.prefix, qpm, tpm, key.created_at,
                 int(admin)),
            )
            self._append_audit(AuditEvent("admin", "key.create", "ok", key.id,
                                          {"tenant": tenant, "qpm": qpm, "tpm": tpm,
                                           "admin": admin}))
        return secret, key

    def revoke_key(self, key_id: str) -> bool:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(
                "UPDATE api_keys SET revoked_at=? WHERE (id=? OR prefix=?) AND revoked_at IS NULL",
                (time.time(), key_id, key_id),
            )
            if cur.rowcount:
                self._append_audit(AuditEvent("admin", "key.revoke", "ok", key_id))
            return cur.rowcount > 0

    def list_keys(self, tenant: str | None = None) -> list[ApiKey]:
        sql = ("SELECT id, tenant, prefix, qpm, tpm, created_at, revoked_at, admin "
               "FROM api_keys")
        args: tuple[Any, ...] = ()
        if tenant:
            sql += " WHERE tenant=?"
            args = (tenant,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_at", args).fetchall()
        return [_key(row) for row in rows]

    def find_key(self, secret: str) -> ApiKey | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, tenant, prefix, qpm, tpm, created_at, revoked_at, admin "
                "FROM api_keys WHERE hash=?", (hash_key(secret),)).fetchone()
        return _key(row) if row else None

    def has_keys(self) -> bool:
        """True once any key was ever created: from then on every request needs one."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None

    # --- plugins --------------------------------------------------------------------------------

    def set_plugin_enabled(self, name: str, enabled: bool, actor: str) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO plugins VALUES (?,?,?) ON CONFLICT(name) DO UPDATE SET "
                "enabled=excluded.enabled, changed_at=excluded.changed_at",
                (name, int(enabled), time.time()))
            self._append_audit(AuditEvent(actor, "plugin.enable" if enabled else "plugin.disable",
                                          "ok", name))

    def disabled_plugins(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT name FROM plugins WHERE enabled=0")}

    # --- usage ----------------------------------------------------------------------------------

    def record(self, usage: UsageRecord, audit: AuditEvent | None = None) -> None:
        """Store a usage row and (optionally) its audit record in one transaction."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO usage (ts, tenant, key_id, model, endpoint, status, stream, "
                "prompt_tokens, completion_tokens, latency_ms, error, prompt, completion) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (time.time(), usage.tenant, usage.key_id, usage.model, usage.endpoint,
                 usage.status, int(usage.stream), usage.prompt_tokens, usage.completion_tokens,
                 usage.latency_ms, usage.error, usage.prompt, usage.completion),
            )
            if audit is not None:
                self._append_audit(audit)

    def usage_summary(self, *, since: float | None = None,
                      tenant: str | None = None) -> list[dict[str, Any]]:
        where: list[str] = ["1=1"]
        args: list[Any] = []
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        if tenant:
            where.append("tenant = ?")
            args.append(tenant)
        sql = (
            "SELECT COALESCE(tenant, '-'), COALESCE(model, '-'), COUNT(*), "
            "SUM(status >= 400), SUM(prompt_tokens), SUM(completion_tokens), "
            "AVG(latency_ms) FROM usage WHERE " + " AND ".join(where) +
            " GROUP BY 1, 2 ORDER BY 1, 2"
        )
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        keys = ("tenant", "model", "requests", "errors", "prompt_tokens", "completion_tokens",
                "avg_latency_ms")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # --- audit ----------------------------------------------------------------------------------

    def audit(self, event: AuditEvent) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._append_audit(event)

    def _append_audit(self, event: AuditEvent) -> None:
        """Append inside the caller's transaction (the lock is held)."""
        head = self._db.execute("SELECT seq, hash FROM audit_head WHERE id=1").fetchone()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        ts = time.time()
        detail = json.dumps(event.detail or {}, ensure_ascii=False, sort_keys=True)
        digest = _record_hash(prev, seq, ts, event.actor, event.action, event.target,
                              event.outcome, detail)
        self._db.execute(
            "INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?)",
            (seq, ts, event.actor, event.action, event.target, event.outcome, detail, prev,
             digest),
        )
        self._db.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash",
            (seq, digest),
        )

    def audit_records(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, ts, actor, action, target, outcome, detail, hash FROM audit "
                "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        keys = ("seq", "ts", "actor", "action", "target", "outcome", "detail", "hash")
        return [dict(zip(keys, row, strict=True)) for row in reversed(rows)]

    def verify_audit(self) -> tuple[int, list[AuditProblem]]:
        """Walk the chain; return the number of records and every problem found."""
        problems: list[AuditProblem] = []
        prev, expected_seq, count = GENESIS, 1, 0
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, ts, actor, action, target, outcome, detail, prev_hash, hash "
                "FROM audit ORDER BY seq").fetchall()
            head = self._db.execute("SELECT seq, hash FROM audit_head WHERE id=1").fetchone()
        for seq, ts, actor, action, target, outcome, detail, prev_hash, digest in rows:
            count += 1
            if seq != expected_seq:
                problems.append(AuditProblem(expected_seq,
                                             f"records {expected_seq}..{seq - 1} are missing"))
            if prev_hash != prev:
                problems.append(AuditProblem(seq, "does not link to the record before it"))
            if _record_hash(prev_hash, seq, ts, actor, action, target, outcome,
                            detail) != digest:
                problems.append(AuditProblem(seq, "was modified (hash mismatch)"))
            prev, expected_seq = digest, seq + 1
        last_seq = expected_seq - 1
        if head is None and rows:
            problems.append(AuditProblem(last_seq, "the chain head record is missing"))
        elif head is not None and (head[0] != last_seq or head[1] != prev):
            problems.append(AuditProblem(
                head[0], f"records after {last_seq} were deleted (head is at {head[0]})"))
        return count, problems

    def audit_head(self) -> tuple[int, str]:
        with self._lock:
            head = self._db.execute("SELECT seq, hash FROM audit_head WHERE id=1").fetchone()
        return (head[0], head[1]) if head else (0, GENESIS)

    # --- packs ----------------------------------------------------------------------------------

    def add_pack(self, name: str, tenant: str, version: str, actor: str) -> None:
        """Record that pack `name` is installed (for `tenant`, or "*": shared)."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO packs VALUES (?,?,?,?) ON CONFLICT(name, tenant) DO UPDATE SET "
                "version=excluded.version, installed_at=excluded.installed_at",
                (name, tenant, version, time.time()))
            self._append_audit(AuditEvent(actor, "pack.install", "ok", name,
                                          {"tenant": tenant, "version": version}))

    def installed_packs(self) -> list[dict[str, Any]]:
        """Installed packs: name, tenant, version, installed_at (oldest first)."""
        with self._lock:
            rows = self._db.execute("SELECT name, tenant, version, installed_at FROM packs "
                                    "ORDER BY installed_at, name").fetchall()
        return [{"name": n, "tenant": t, "version": v, "installed_at": at}
                for n, t, v, at in rows]
