"""Scale-out (issue #12): no database call on the event loop; the store on PostgreSQL behind a
real `jaju serve`; clear errors for a store that cannot be reached."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time

import httpx
import openai
import pytest

from conftest import JAJU, free_port, run_jaju, start_server
from conftest import ROOT as JAJU_ROOT


def test_a_held_write_lock_stalls_nothing(tmp_path):
    """Another connection holds SQLite's write lock for 2 s: /health and a streaming chat
    still answer within 100 ms; the stream ends once its record is committed, and every
    held-up record lands."""
    home = tmp_path / "home"
    server = start_server([], home, tmp_path / "server.log")
    base = f"http://127.0.0.1:{server.port}"
    chat = {"model": "extractive", "stream": True,
            "messages": [{"role": "user", "content": "안녕하세요"}]}
    try:
        with httpx.Client(timeout=30) as c:
            for _ in range(3):  # warm up
                c.post(f"{base}/v1/chat/completions", json=chat).read()
            db = sqlite3.connect(home / "jaju.db", isolation_level=None, check_same_thread=False)
            db.execute("BEGIN IMMEDIATE")
            held = time.perf_counter()
            release = threading.Timer(2.0, lambda: db.execute("COMMIT"))
            release.start()
            started = time.perf_counter()
            assert c.get(f"{base}/health").status_code == 200
            health_s = time.perf_counter() - started
            started = time.perf_counter()
            with c.stream("POST", f"{base}/v1/chat/completions", json=chat) as r:
                assert r.status_code == 200
                lines = r.iter_lines()
                first = next(line for line in lines if line.startswith("data: {"))
                first_s = time.perf_counter() - started
                rest = list(lines)
            ended_s = time.perf_counter() - held
            release.join()
        assert health_s < 0.1, health_s
        assert first_s < 0.1, first_s
        assert json.loads(first[6:])["choices"][0]["delta"]["role"] == "assistant"
        assert rest[-2:] == ["data: [DONE]", ""] or "data: [DONE]" in rest
        assert ended_s >= 1.9  # the end waited for the record ...
        rows = sqlite3.connect(home / "jaju.db").execute(
            "SELECT COUNT(*) FROM usage WHERE status = 200").fetchone()[0]
        assert rows == 4  # ... which landed, with the warm-up ones
    finally:
        server.stop()
    assert run_jaju("audit", "verify", home=home).returncode == 0


def test_serve_on_postgresql(tmp_path, pg_url):
    config = tmp_path / "jaju.toml"
    config.write_text(f'[store]\nurl = "{pg_url}"\n', encoding="utf-8")
    home = tmp_path / "home"
    assert run_jaju("migrate", "--config", str(config), home=home).returncode == 0
    created = run_jaju("keys", "create", "--tenant", "acme", "--config", str(config), home=home)
    key = created.stdout.strip()
    assert pg_url.rsplit("/", 1)[1] in created.stderr  # it says where the key went
    assert str(home) not in created.stderr
    server = start_server(["--config", str(config)], home, tmp_path / "server.log")
    try:
        client = openai.OpenAI(base_url=server.url, api_key=key, max_retries=0)
        for _ in range(3):
            client.chat.completions.create(model="extractive",
                                           messages=[{"role": "user", "content": "안녕"}])
        stream = client.chat.completions.create(
            model="extractive", stream=True, messages=[{"role": "user", "content": "안녕"}])
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    finally:
        server.stop()
    usage = run_jaju("usage", "--json", "--config", str(config), home=home)
    rows = [r for r in __import__("json").loads(usage.stdout) if r["tenant"] == "acme"]
    assert rows and rows[0]["requests"] == 4
    assert not (home / "jaju.db").exists() or sqlite3.connect(home / "jaju.db").execute(
        "SELECT name FROM sqlite_master WHERE name='usage'").fetchone() is None  # all in PG
    verify = run_jaju("audit", "verify", "--config", str(config), home=home)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_an_unreachable_store_is_a_clear_error(tmp_path):
    config = tmp_path / "jaju.toml"
    config.write_text('[store]\nurl = "postgresql://jaju:s3cret@127.0.0.1:1/jaju"\n',
                      encoding="utf-8")
    for args in (["serve", "--port", "1"], ["keys", "list"], ["migrate"]):
        out = subprocess.run([JAJU, *args, "--config", str(config)], capture_output=True,
                             text=True, timeout=60, env={"JAJU_HOME": str(tmp_path / "h"),
                                                         "PATH": "/usr/bin:/bin"})
        said = " ".join(out.stderr.split())
        assert out.returncode == 2, (args, out.stderr)
        assert "postgresql://jaju:***@127.0.0.1:1/jaju" in said and "s3cret" not in said
        assert "Traceback" not in out.stderr
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[store]\nurl = "mysql://x@y/z"\n', encoding="utf-8")
    out = subprocess.run([JAJU, "keys", "list", "--config", str(wrong)], capture_output=True,
                         text=True, timeout=60, env={"JAJU_HOME": str(tmp_path / "h"),
                                                     "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "unknown store URL" in " ".join(out.stderr.split())


def test_store_copy_command(tmp_path, pg_url):
    """A whole deployment moves to PostgreSQL: keys, the audit chain and the knowledge bases
    (documents, chunks, vectors), which then answer from PostgreSQL as they did from SQLite."""
    home = tmp_path / "home"
    assert run_jaju("keys", "create", "--tenant", "acme", home=home).returncode == 0
    (tmp_path / "leave.txt").write_text("연차 유급휴가는 15일이다.\n\n퇴직금은 계속근로기간 "
                                        "1년에 30일분 이상의 평균임금이다.", encoding="utf-8")
    (tmp_path / "food.txt").write_text("급식비는 한 달에 5만 원이다.", encoding="utf-8")
    assert run_jaju("ingest", str(tmp_path / "leave.txt"), str(tmp_path / "food.txt"),
                    "--kb", "hr", "--embedder", "use", home=home).returncode == 0
    before = json.loads(run_jaju("search", "휴가 며칠", "--kb", "hr", "--json",
                                 home=home).stdout)["hits"]
    out = subprocess.run([JAJU, "store", "copy", f"sqlite://{home / 'jaju.db'}", pg_url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "audit chain verified" in out.stdout and "local/hr" in out.stderr
    assert "api_keys 1" in out.stdout and "{" not in out.stdout  # counts, not a Python dict
    config = tmp_path / "jaju.toml"
    config.write_text(f'[store]\nurl = "{pg_url}"\n', encoding="utf-8")
    after = json.loads(run_jaju("search", "휴가 며칠", "--kb", "hr", "--json", "--config",
                                str(config), home=tmp_path / "other").stdout)["hits"]
    assert [h["text"] for h in after] == [h["text"] for h in before]
    assert after[0]["signals"].get("dense") == before[0]["signals"].get("dense")
    assert before[0]["signals"].get("dense")  # the vectors came along
    again = subprocess.run([JAJU, "store", "copy", f"sqlite://{home / 'jaju.db'}", pg_url],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "not empty" in " ".join(again.stderr.split())


def test_deploy_configs_pass_config_check(tmp_path):
    """Every jaju config in deploy/ (the compose file's and the Kubernetes ConfigMap's) is
    valid as `jaju serve` would read it."""
    import yaml

    deploy = JAJU_ROOT / "deploy"
    configs = [deploy / "jaju.toml"]
    for doc in yaml.safe_load_all((deploy / "kubernetes" / "jaju.yaml").read_text()):
        if doc and doc.get("kind") == "ConfigMap":
            path = tmp_path / "configmap.toml"
            path.write_text(doc["data"]["jaju.toml"], encoding="utf-8")
            configs.append(path)
    assert len(configs) == 2
    assert configs[1].read_text() == configs[0].read_text()  # one config, two wrappings
    for config in configs:
        out = subprocess.run([JAJU, "config", "check", "--config", str(config)],
                             capture_output=True, text=True, timeout=60,
                             env={"JAJU_HOME": str(tmp_path / "h"), "PATH": "/usr/bin:/bin"})
        assert out.returncode == 0, out.stderr
        assert "backends.vllm" in out.stdout


def test_hide_password_keeps_hosts_as_written():
    """Several hosts (libpq's failover list) and IPv6 hosts are URLs jaju may be given."""
    from jaju.store.postgres import hide_password

    assert hide_password("postgresql://u:pw@h1:5432,h2:5433/db") == \
        "postgresql://u:***@h1:5432,h2:5433/db"
    assert hide_password("postgresql://u:p@w@[::1]:5432/db") == "postgresql://u:***@[::1]:5432/db"
    assert hide_password("postgresql://u@h/db?password=x&a=1") == \
        "postgresql://u@h/db?password=***&a=1"


@pytest.mark.parametrize("url, secret", [
    ("postgresql://postgres@127.0.0.1:5432/test?password=Qu3ryS3cret&sslmode=bogus",
     "Qu3ryS3cret"),
    ("postgresql://jaju:S3cr@Tailpart@nohost.invalid/jaju", "Tailpart"),  # libpq: host "Tail…"
])
def test_a_password_never_appears_in_errors(tmp_path, url, secret):
    """A password in the query string, or one with an unencoded `@` that libpq splits (and
    echoes the rest as the host), is hidden in what `jaju migrate` and `jaju serve` say."""
    config = tmp_path / "jaju.toml"
    config.write_text(f'[store]\nurl = "{url}"\n', encoding="utf-8")
    for args in (["migrate"], ["serve", "--port", str(free_port())]):
        out = run_jaju(*args, "--config", str(config), home=tmp_path / "h")
        assert out.returncode == 2, (args, out.stderr)
        assert "cannot connect to the store" in " ".join(out.stderr.split())
        assert secret not in out.stderr + out.stdout, out.stderr
        assert "S3cr" not in out.stderr and "Traceback" not in out.stderr


def test_store_copy_from_a_missing_source_is_an_error(tmp_path, pg_url):
    """A source that does not exist is named and left uncreated (no empty store "copied")."""
    for source in (f"sqlite://{tmp_path / 'missing' / 'dir' / 'jaju.db'}",
                   str(tmp_path / "missing.db")):
        out = run_jaju("store", "copy", source, pg_url, home=tmp_path / "h")
        said = " ".join(out.stderr.split())
        assert out.returncode == 2, out.stdout + out.stderr
        assert "the source store does not exist" in said and "missing" in said
    assert not (tmp_path / "missing").exists() and not (tmp_path / "missing.db").exists()
