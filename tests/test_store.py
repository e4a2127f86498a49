"""The store on both engines: keys stored hashed; the audit chain catches edits, deletions
and reordering; a record and its audit land together; migrations; copying a deployment; one
chain from several writers; and no request waits on a locked database."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import Future

import pytest

from jaju.store import AuditEvent, UsageRecord, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'jaju.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(url):
    s = open_store(url)
    yield s
    s.close()


def raw_sql(url: str, sql: str) -> None:
    statements = [s for s in sql.split(";") if s.strip()]
    if url.startswith("sqlite://"):
        db = sqlite3.connect(url[len("sqlite://"):])
        try:
            for statement in statements:
                db.execute(statement)
            db.commit()
        finally:
            db.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            for statement in statements:
                db.execute(statement)


def test_keys_are_stored_hashed(store, tmp_path, url):
    secret, key = store.create_key("acme", qpm=10, actor="test")
    assert secret.startswith("jaju-") and len(secret) > 40
    assert store.find_key(secret) == key
    assert store.find_key(secret + "x") is None
    if url.startswith("sqlite"):
        raw = (tmp_path / "jaju.db").read_bytes()
        wal = tmp_path / "jaju.db-wal"
        if wal.exists():
            raw += wal.read_bytes()
        assert secret.encode() not in raw
    assert store.has_keys()


def test_revoke(store):
    secret, key = store.create_key("acme", actor="test")
    assert store.revoke_key(key.id, actor="test")
    assert not store.revoke_key(key.id, actor="test")  # already revoked
    assert store.find_key(secret).revoked_at is not None
    assert store.has_keys()  # a revoked key still means keys are in use


def _chain(store, n=5):
    for i in range(n):
        store.audit(AuditEvent("t/k", "chat.completions", "ok", "m", {"i": i}))
    store.flush()


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
    ("UPDATE audit SET seq = -seq WHERE seq IN (2, 3); "
     "UPDATE audit SET seq = CASE seq WHEN -2 THEN 3 ELSE 2 END WHERE seq < 0",
     "link"),  # two records swapped
])
def test_audit_detects_tampering(store, url, tamper, expected):
    _chain(store)
    raw_sql(url, tamper)
    _, problems = store.verify_audit()
    assert problems, tamper
    assert any(expected in p.problem for p in problems), problems


def test_record_is_atomic(store, monkeypatch):
    """A failure while appending the audit record leaves no usage row behind."""
    def broken(db, event):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_append_audit", broken)
    done = store.record(UsageRecord("chat.completions", 200, 1.0, "acme", None, "m"),
                        AuditEvent("acme", "chat.completions", "ok"))
    with pytest.raises(RuntimeError):
        done.result(10)
    monkeypatch.undo()
    assert store.usage_summary() == []
    assert store.verify_audit() == (0, [])


def test_usage_summary(store):
    for status, tenant in [(200, "a"), (200, "a"), (500, "a"), (200, "b")]:
        store.record(UsageRecord("chat.completions", status, 10.0, tenant, None, "m",
                                 prompt_tokens=3, completion_tokens=4)).result(10)
    rows = store.usage_summary()
    assert rows[0]["tenant"] == "a" and rows[0]["requests"] == 3 and rows[0]["errors"] == 1
    assert rows[0]["prompt_tokens"] == 9
    assert store.usage_summary(tenant="b")[0]["requests"] == 1


def test_migrations_run_once(url):
    open_store(url).close()
    s = open_store(url)  # second open applies nothing, fails nothing
    assert s.verify_audit() == (0, [])
    s.close()


def test_one_chain_from_concurrent_writers(url):
    """Several stores on one database (as several replicas would be) write at once; the
    database orders the chain, and it verifies."""
    stores = [open_store(url) for _ in range(3)]

    def write(s, w):
        futures = [s.record(UsageRecord("chat.completions", 200, 1.0, "t", None, "m"),
                            AuditEvent(f"w{w}", "chat.completions", "ok", "m", {"i": i}))
                   for i in range(100)]
        for f in futures:
            f.result(30)

    threads = [threading.Thread(target=write, args=(s, w)) for w, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stores[0].verify_audit() == (300, [])
    assert stores[0].usage_summary()[0]["requests"] == 300
    for s in stores:
        s.close()


def test_copy_a_deployment_from_sqlite_to_postgresql(tmp_path, pg_url):
    source = open_store(f"sqlite://{tmp_path / 'jaju.db'}")
    source.create_key("acme", qpm=5, actor="test")
    source.set_plugin_enabled("web", False, "admin")
    for i in range(20):
        source.record(UsageRecord("chat.completions", 200, 1.0, "acme", None, "m"),
                      AuditEvent("acme", "chat.completions", "ok", "m", {"i": i}))
    source.flush()
    target = open_store(pg_url)
    copied: dict[str, int] = {}
    source.copy_to(target, lambda table, n: copied.__setitem__(table, n))
    assert target.counts() == source.counts() == copied  # the head by its sequence number
    assert target.verify_audit() == source.verify_audit() and target.verify_audit()[1] == []
    # the copy goes on where the source stopped
    target.audit(AuditEvent("acme", "chat.completions", "ok"))
    target.flush()
    assert target.verify_audit() == (source.verify_audit()[0] + 1, [])
    with pytest.raises(Exception, match="not empty"):
        source.copy_to(target)
    source.close()
    target.close()


def test_a_locked_database_holds_the_queue_not_the_caller(tmp_path):
    """Another connection holds SQLite's write lock for 2 s: queuing records returns at once,
    and the records land afterwards."""
    import time

    path = tmp_path / "jaju.db"
    store = open_store(f"sqlite://{path}")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    started = time.perf_counter()
    futures: list[Future] = [store.record(UsageRecord("chat.completions", 200, 1.0, "t"))
                             for _ in range(10)]
    assert time.perf_counter() - started < 0.1
    assert not any(f.done() for f in futures)
    time.sleep(2)
    blocker.execute("COMMIT")
    for f in futures:
        f.result(10)
    assert store.usage_summary()[0]["requests"] == 10
    store.close()


def test_a_dropped_postgresql_connection_is_reopened(pg_url):
    """The server ends every connection (as a restart does): reads and writes go on."""
    import psycopg

    from conftest import PG_ADMIN

    store = open_store(pg_url)
    secret, _ = store.create_key("a", actor="test")
    store.record(UsageRecord("chat.completions", 200, 1.0, "a")).result(10)
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    assert store.find_key(secret) is not None
    store.record(UsageRecord("chat.completions", 200, 1.0, "a"),
                 AuditEvent("a", "chat.completions", "ok")).result(40)
    assert store.usage_summary()[0]["requests"] == 2
    assert store.verify_audit() == (2, [])
    store.close()


def test_a_tenants_audit_records_are_filtered_in_sql(store):
    """A tenant's newest records, however many its neighbours wrote after them; no neighbour
    whose name starts with the tenant's is taken for it."""
    mine = ["a", "a/key_1", "mcp:a/key_1", "mcp:a/stdio", "cli:a"]
    for actor in mine:
        store.audit(AuditEvent(actor, "chat.completions", "ok"))
    for i in range(300):
        store.audit(AuditEvent(["b/key_2", "ab/key_3", "mcp:ab/stdio", "cli:ab"][i % 4],
                               "chat.completions", "ok", None, {"i": i}))
    store.flush()
    assert [r["actor"] for r in store.audit_records(5, tenant="a")] == mine
    assert [r["actor"] for r in store.audit_records(2, tenant="a")] == mine[-2:]
    assert len(store.audit_records(1000)) == 305


def test_a_tenants_view_of_the_log_reads_a_bounded_window(store, monkeypatch):
    """No index serves the actor filter, so one call reads at most the newest AUDIT_SCAN
    records: a tenant's record older than that is left out, not searched for."""
    from jaju.store import sql

    monkeypatch.setattr(sql, "AUDIT_SCAN", 10)
    store.audit(AuditEvent("a/key_1", "chat.completions", "ok"))
    for _ in range(10):
        store.audit(AuditEvent("b/key_2", "chat.completions", "ok"))
    store.flush()
    assert store.audit_records(5, tenant="a") == []
    store.audit(AuditEvent("a/key_1", "embeddings", "ok"))
    store.flush()
    assert [r["action"] for r in store.audit_records(5, tenant="a")] == ["embeddings"]
