"""Keys stored hashed; the audit chain catches edits and deletions; writes are atomic."""

from __future__ import annotations

import sqlite3

import pytest

from jaju.store import Store
from jaju.store.sqlite import AuditEvent, UsageRecord


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "jaju.db")
    yield s
    s.close()


def test_keys_are_stored_hashed(store, tmp_path):
    secret, key = store.create_key("acme", qpm=10)
    assert secret.startswith("jaju-") and len(secret) > 40
    assert store.find_key(secret) == key
    assert store.find_key(secret + "x") is None
    raw = (tmp_path / "jaju.db").read_bytes()
    wal = tmp_path / "jaju.db-wal"
    if wal.exists():
        raw += wal.read_bytes()
    assert secret.encode() not in raw
    assert store.has_keys()


def test_revoke(store):
    secret, key = store.create_key("acme")
    assert store.revoke_key(key.id)
    assert not store.revoke_key(key.id)  # already revoked
    assert store.find_key(secret).revoked_at is not None
    assert store.has_keys()  # a revoked key still means keys are in use


def _chain(store, n=5):
    for i in range(n):
        store.audit(AuditEvent("t/k", "chat.completions", "ok", "m", {"i": i}))


def test_audit_chain_verifies(store):
    _chain(store)
    assert store.verify_audit() == (5, [])
    assert store.audit_head()[0] == 5


@pytest.mark.parametrize("tamper, expected", [
    ("UPDATE audit SET outcome='error' WHERE seq=3", "modified"),
    ("UPDATE audit SET detail='{\"i\": 9}' WHERE seq=1", "modified"),
    ("DELETE FROM audit WHERE seq=2", "missing"),
    ("DELETE FROM audit WHERE seq=5", "deleted"),
    ("DELETE FROM audit", "deleted"),
])
def test_audit_detects_tampering(store, tmp_path, tamper, expected):
    _chain(store)
    db = sqlite3.connect(tmp_path / "jaju.db")
    db.execute(tamper)
    db.commit()
    db.close()
    _, problems = store.verify_audit()
    assert problems, tamper
    assert any(expected in p.problem for p in problems)


def test_record_is_atomic(store, monkeypatch):
    """A failure while appending the audit record leaves no usage row behind."""
    def broken(event):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_append_audit", broken)
    with pytest.raises(RuntimeError):
        store.record(UsageRecord("chat.completions", 200, 1.0, "acme", None, "m"),
                     AuditEvent("acme", "chat.completions", "ok"))
    monkeypatch.undo()
    assert store.usage_summary() == []
    assert store.verify_audit() == (0, [])


def test_usage_summary(store):
    for status, tenant in [(200, "a"), (200, "a"), (500, "a"), (200, "b")]:
        store.record(UsageRecord("chat.completions", status, 10.0, tenant, None, "m",
                                 prompt_tokens=3, completion_tokens=4))
    rows = store.usage_summary()
    assert rows[0]["tenant"] == "a" and rows[0]["requests"] == 3 and rows[0]["errors"] == 1
    assert rows[0]["prompt_tokens"] == 9
    assert store.usage_summary(tenant="b")[0]["requests"] == 1


def test_migrations_run_once(tmp_path):
    Store(tmp_path / "x.db").close()
    s = Store(tmp_path / "x.db")  # second open applies nothing, fails nothing
    assert s.verify_audit() == (0, [])
    s.close()
