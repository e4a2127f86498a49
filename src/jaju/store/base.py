"""What every store keeps, whatever the engine: records, key hashing, the audit hash chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

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
    """May manage plugins, keys and call tools over the admin API."""


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


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def record_hash(prev_hash: str, seq: int, ts: float, actor: str, action: str,
                target: str | None, outcome: str, detail: str) -> str:
    """sha256(prev_hash + the record): editing, removing or reordering a record breaks it."""
    body = json.dumps([seq, ts, actor, action, target, outcome, detail], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def verify_chain(rows: list[tuple[Any, ...]], head: tuple[int, str] | None
                 ) -> tuple[int, list[AuditProblem]]:
    """Walk `rows` (seq, ts, actor, action, target, outcome, detail, prev_hash, hash) in seq
    order against the head row; return the count and every problem found."""
    problems: list[AuditProblem] = []
    prev, expected_seq, count = GENESIS, 1, 0
    for seq, ts, actor, action, target, outcome, detail, prev_hash, digest in rows:
        count += 1
        if seq != expected_seq:
            problems.append(AuditProblem(expected_seq,
                                         f"records {expected_seq}..{seq - 1} are missing"))
        if prev_hash != prev:
            problems.append(AuditProblem(seq, "does not link to the record before it"))
        if record_hash(prev_hash, seq, float(ts), actor, action, target, outcome,
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
