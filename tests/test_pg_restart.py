"""PostgreSQL restarted under load (issue #12, item 7): requests during the outage get 503 with
OpenAI error JSON (never a 500, never a hang), the gateway recovers by itself, nothing it
acknowledged is lost, and the audit chain still verifies.

The tests run their own PostgreSQL cluster (initdb and pg_ctl in a temporary folder, on a free
port) so that they can stop it with `pg_ctl stop -m immediate` — a crash, as a killed server
or a failover looks to a client — without touching the machine's shared server. PostgreSQL
refuses to run as root: as root the cluster belongs to the `postgres` user and its commands run
through `runuser -u postgres`."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from jaju.store import AuditEvent, UsageRecord, open_store

from conftest import free_port, run_jaju, service_or_skip, start_script, start_server

PG_BIN = Path(os.environ.get("JAJU_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class OwnPostgres:
    """A PostgreSQL cluster of the test's own, to crash and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        root = os.geteuid() == 0
        # as root: in /tmp, which the postgres user can reach whatever TMPDIR says
        self.dir = Path(tempfile.mkdtemp(prefix="jaju-pg-", dir="/tmp" if root else None))
        self.data, self.log = self.dir / "data", self.dir / "postgres.log"
        self.run_as: list[str] = []
        if root:  # initdb and postgres refuse root
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        out = subprocess.run([*self.run_as, *args], capture_output=True, text=True, timeout=60,
                             cwd=self.dir)  # a folder the postgres user may enter
        if out.returncode:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {out.stderr}{out.stdout}{log[-2000:]}")

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "-E", "UTF8", "--no-locale", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o",
                  options, "-w", "-t", "60", "start")

    def crash(self) -> None:
        """Stop at once, as a crash: no checkpoint, open connections cut."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                  "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.run_as, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                            "fast", "-w", "stop"], capture_output=True, timeout=60, cwd=self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A started PostgreSQL cluster on a free port, removed after the test; skipped when the
    binaries are missing (a failure under CI=true)."""
    if not (PG_BIN / "initdb").exists():
        service_or_skip("PostgreSQL's initdb and pg_ctl", FileNotFoundError(str(PG_BIN)))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
            if shutil.which("runuser") is None:
                raise FileNotFoundError("runuser")
        except (KeyError, FileNotFoundError) as e:
            service_or_skip("the postgres user and runuser (a private cluster as root)", e)
    server = OwnPostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


def wait_for(check, what: str, within: float = 60.0):  # type: ignore[no-untyped-def]
    """Poll `check` until it returns something true (a liveness bound, not a timing claim)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {within:.0f} s: {what}")


def test_the_writer_fails_promptly_and_carries_on_after_a_restart(own_postgres):
    """While the server is down a request's record fails (it would answer 503) instead of
    waiting; an audit record nobody waits for is kept; after the restart the same writer
    commits again and the chain verifies with nothing stored twice."""
    store = open_store(own_postgres.url, commit_timeout=1.0)
    try:
        store.record(UsageRecord("chat.completions", 200, 1.0, "a"),
                     AuditEvent("a", "chat.completions", "ok")).result(30)
        assert store.unavailable() is None
        own_postgres.crash()
        failed = [store.record(UsageRecord("chat.completions", 200, 1.0, "a"),
                               AuditEvent("a", "chat.completions", "ok", None, {"i": i}))
                  for i in range(3)]
        for future in failed:
            with pytest.raises(Exception) as caught:
                future.result(30)  # a generous bound: it fails after about a second
            assert not isinstance(caught.value, TimeoutError)
        store.audit(AuditEvent("admin", "auth", "denied", None, {"during": "outage"}))
        problem = store.unavailable()
        assert problem is not None and own_postgres.url in problem
        own_postgres.start()
        store.record(UsageRecord("chat.completions", 200, 1.0, "b"),
                     AuditEvent("b", "chat.completions", "ok")).result(30)
        store.flush()
        wait_for(lambda: store.unavailable() is None, "the store reports itself available")
        assert store.usage_summary(tenant="a")[0]["requests"] == 1  # the failed 3: not stored
        assert store.usage_summary(tenant="b")[0]["requests"] == 1
        actions = [(r["actor"], r["action"]) for r in store.audit_records()]
        assert actions == [("a", "chat.completions"), ("admin", "auth"),
                           ("b", "chat.completions")]
        assert store.verify_audit() == (3, [])
    finally:
        store.close()


class Load:
    """Chat requests from a few threads until stopped, each with a unique marker in its
    prompt (stored with `store_content`), half of them streaming; a client that was refused
    pauses a moment before its next request, as a client's retry would."""

    def __init__(self, base: str, key: str, threads: int = 6) -> None:
        self.base, self.key = base, key
        self.results: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)

    def count(self, kind: str, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for r in self.results if r["kind"] == kind and r["sent"] >= since)

    def _run(self, n: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=60, headers=headers) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                result = self._one(client, stream=(i + n) % 2 == 0)
                result["seconds"] = time.monotonic() - result["sent"]
                with self._lock:
                    self.results.append(result)
                if result["kind"] != "ok":
                    time.sleep(0.05)

    def _one(self, client: httpx.Client, stream: bool) -> dict:
        mark = f"mark-{uuid.uuid4().hex}"
        body = {"model": "echo", "stream": stream,
                "messages": [{"role": "user", "content": f"안녕하세요 {mark}"}]}
        result = {"mark": mark, "sent": time.monotonic(), "stream": stream}
        url = f"{self.base}/v1/chat/completions"
        try:
            if not stream:
                r = client.post(url, json=body)
                result.update(status=r.status_code, body=r.text,
                              kind=_kind(r.status_code, _json(r.text)))
                return result
            with client.stream("POST", url, json=body) as r:
                text = r.read().decode()
            result.update(status=r.status_code, body=text)
            if r.status_code != 200:
                result["kind"] = _kind(r.status_code, _json(text))
                return result
            events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
            if events and events[-1] == "[DONE]":
                result["kind"] = "ok"
            else:  # the answer was streamed, but its record could not be committed
                last = _json(events[-1]) if events else None
                result["kind"] = "refused" if _store_error(last) else "bad"
        except httpx.HTTPError as e:
            result.update(status=None, body=repr(e), kind="transport_error")
        return result


def recorded_late(result: dict) -> bool:
    """A refusal because the request's record could not be committed (the answer was made,
    the store went away before its usage row landed), not because the key could not be
    looked up."""
    return result["kind"] == "refused" and "could not be recorded" in result["body"]


def _json(text: str) -> dict | None:
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _store_error(data: dict | None) -> bool:
    """OpenAI's error shape, saying the store is unavailable."""
    error = (data or {}).get("error")
    return (isinstance(error, dict) and error.get("code") == "store_unavailable"
            and {"message", "type", "param", "code"} <= error.keys()
            and bool(error["message"]))


def _kind(status: int, data: dict | None) -> str:
    if 200 <= status < 300:
        return "ok"
    if status == 503 and _store_error(data):
        return "refused"
    return "bad"


@pytest.fixture
def slow_echo(tmp_path: Path) -> Iterator[str]:
    """tests/echo_upstream.py answering after 0.2 s: requests are in flight when the store
    crashes."""
    proc, port = start_script("echo_upstream.py", str(tmp_path / "received.jsonl"), "0.2")
    yield f"http://127.0.0.1:{port}/v1"
    proc.kill()
    proc.wait()


def test_postgresql_restarted_under_load(own_postgres, slow_echo, tmp_path):
    """`jaju serve` on the private cluster, a steady load of chats (plain and streaming); the
    cluster crashes, stays down a few seconds and comes back, the gateway is never
    restarted. Every answer is a 2xx or a 503 store_unavailable in OpenAI's error shape,
    /health says the store is unavailable during the outage and ok after it, 2xx answers
    come again, each 2xx has exactly one usage row, and the audit chain verifies."""
    url = slow_echo
    config = tmp_path / "jaju.toml"
    config.write_text(f"""[server]
store_content = true

[store]
url = "{own_postgres.url}"
commit_timeout = 2.0

[backends.echo]
type = "openai"
urls = ["{url}"]
""", encoding="utf-8")
    home = tmp_path / "home"
    out = run_jaju("keys", "create", "--tenant", "load", "--config", str(config), home=home)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    server = start_server(["--config", str(config)], home, tmp_path / "server.log")
    base = f"http://127.0.0.1:{server.port}"
    load = Load(base, key)

    def health() -> dict:
        return httpx.get(f"{base}/health", timeout=60).json()

    try:
        assert health()["store"] == "ok"
        load.start()
        wait_for(lambda: load.count("ok") >= 30, "answers before the crash")
        own_postgres.crash()
        down = time.monotonic()
        during = wait_for(lambda: (h := health())["store"] == "unavailable" and h,
                          "/health reporting the store unavailable")
        assert during["status"] == "degraded"
        assert any("store_unavailable" in w for w in during["warnings"]), during
        wait_for(lambda: load.count("refused", since=down) >= 5, "503s during the outage")
        time.sleep(2)  # the outage goes on a little longer, under load
        own_postgres.start()
        back = time.monotonic()
        wait_for(lambda: health()["store"] == "ok", "/health reporting the store ok again")
        wait_for(lambda: load.count("ok", since=back) >= 30, "2xx answers after the restart")
        assert server.proc.poll() is None  # the same process served throughout
    finally:
        load.stop()
        server.stop()

    kinds = Counter(r["kind"] for r in load.results)
    late = [r["seconds"] for r in load.results if recorded_late(r)]
    early = [r["seconds"] for r in load.results if r["kind"] == "refused" and not recorded_late(r)]
    print(f"\n{dict(kinds)} in {len(load.results)} requests; {len(late)} refused as their "
          f"record failed (slowest {max(late, default=0):.2f} s), the other refusals took "
          f"at most {max(early, default=0):.2f} s")
    strange = [r for r in load.results if r["kind"] not in ("ok", "refused")]
    assert not strange, strange[:5]
    assert kinds["refused"] >= 5 and kinds["ok"] >= 60
    assert any(map(recorded_late, load.results))  # requests in flight at the crash: 503
    answered = {r["mark"] for r in load.results if r["kind"] == "ok"}

    with psycopg.connect(own_postgres.url) as db:
        prompts = [p for (p,) in db.execute(
            "SELECT prompt FROM usage WHERE endpoint = 'chat.completions'").fetchall()]
    marks = Counter(m for p in prompts for m in re.findall(r"mark-[0-9a-f]{32}", p or ""))
    assert not [m for m, n in marks.items() if n > 1], "a usage row stored twice"
    missing = [m for m in answered if marks[m] != 1]
    assert not missing, f"{len(missing)} answered requests without a usage row"

    verify = run_jaju("audit", "verify", "--config", str(config), home=home)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_commit_whose_answer_was_lost_is_not_stored_twice(pg_url, monkeypatch):
    """The server commits a batch, but the connection breaks before its answer arrives (a
    crash between the two): the writer cannot know whether the batch landed. It looks the
    batch up by its audit hash after reconnecting, and does not store it twice. (The lost
    answer is injected at the driver; the commit and the lookup are real.)"""
    store = open_store(pg_url)
    real, lost = store.engine.transaction, []

    @contextmanager
    def transaction(db):  # type: ignore[no-untyped-def]
        with real(db):
            yield
        if not lost:
            lost.append(True)
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    try:
        monkeypatch.setattr(store.engine, "transaction", transaction)
        store.record(UsageRecord("chat.completions", 200, 1.0, "a"),
                     AuditEvent("a", "chat.completions", "ok")).result(30)
        assert lost
        store.record(UsageRecord("chat.completions", 200, 1.0, "a"),
                     AuditEvent("a", "chat.completions", "ok")).result(30)
        assert store.usage_summary()[0]["requests"] == 2
        assert store.verify_audit() == (2, [])
    finally:
        store.close()


def test_health_answers_at_once_while_postgresql_is_down(own_postgres, make_client):
    """With an assistant that uses knowledge (so /health reads the knowledge index), a crashed
    PostgreSQL makes /health degraded — 200 within a short bound, the store unavailable and
    the unreadable knowledge index a warning — never a 503 after the pool's wait."""
    client = make_client({"store": {"url": own_postgres.url, "commit_timeout": 2.0},
                          "assistants": {"law": {"backend": "extractive",
                                                 "knowledge": ["statutes"]}}})
    assert client.get("/health").status_code == 200
    own_postgres.crash()
    for _ in range(2):  # the second probe finds the first's read still waiting
        started = time.monotonic()
        response = client.get("/health")
        assert time.monotonic() - started < 6, "/health waited on the database"
        assert response.status_code == 200, response.text
        health = response.json()
        assert health["status"] == "degraded" and health["store"] == "unavailable"
        assert any("knowledge index" in w for w in health["warnings"]), health
    own_postgres.start()
    wait_for(lambda: client.get("/health").json()["store"] == "ok", "the store back")
    health = wait_for(lambda: (h := client.get("/health").json())["warnings"] and all(
        "knowledge index" not in w for w in h["warnings"]) and h, "the knowledge index back")
    assert any("'statutes' does not exist" in w for w in health["warnings"])
