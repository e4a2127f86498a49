"""The `jaju` command line."""

from __future__ import annotations

import json
import sqlite3

from jaju.config import Settings

from conftest import run_jaju


def test_keys_create_list_revoke(home):
    out = run_jaju("keys", "create", "--tenant", "은행", "--qpm", "60", "--tpm", "1000",
                   home=home)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    assert out.stdout == key + "\n" and key.startswith("jaju-")
    assert "not shown again" in out.stderr
    listed = json.loads(run_jaju("keys", "list", "--json", home=home).stdout)
    assert listed[0]["tenant"] == "은행" and listed[0]["qpm"] == 60
    assert key not in json.dumps(listed)
    table = run_jaju("keys", "list", home=home).stdout
    assert "active" in table
    assert run_jaju("keys", "revoke", listed[0]["id"], home=home).returncode == 0
    again = run_jaju("keys", "revoke", listed[0]["id"], home=home)
    assert again.returncode == 1 and "no active key" in again.stderr


def test_audit_verify_detects_tampering(home):
    for tenant in ("a", "b", "c"):
        run_jaju("keys", "create", "--tenant", tenant, home=home)
    ok = run_jaju("audit", "verify", home=home)
    assert ok.returncode == 0 and "3 records" in ok.stderr
    shown = json.loads(run_jaju("audit", "show", "--json", home=home).stdout)
    assert [r["action"] for r in shown] == ["key.create"] * 3
    db = sqlite3.connect(home / "jaju.db")
    db.execute("UPDATE audit SET detail='{}' WHERE seq=2")
    db.commit()
    bad = run_jaju("audit", "verify", home=home)
    assert bad.returncode == 1
    assert "record 2" in bad.stderr and "modified" in bad.stderr


def test_an_anchor_catches_a_chain_cut_and_its_head_rewritten(home):
    """Someone with write access deletes the newest record and moves the head back: the
    chain alone verifies, the head written down earlier (`--anchor`) does not."""
    for tenant in ("a", "b"):
        run_jaju("keys", "create", "--tenant", tenant, home=home)
    anchor = run_jaju("audit", "head", home=home).stdout.strip()
    assert anchor.startswith("2 ")
    assert run_jaju("audit", "verify", "--anchor", anchor, home=home).returncode == 0
    db = sqlite3.connect(home / "jaju.db")
    first = db.execute("SELECT hash FROM audit WHERE seq=1").fetchone()[0]
    db.execute("DELETE FROM audit WHERE seq=2")
    db.execute("UPDATE audit_head SET seq=1, hash=?", (first,))
    db.commit()
    assert run_jaju("audit", "verify", home=home).returncode == 0  # consistent on its own
    cut = run_jaju("audit", "verify", "--anchor", anchor, home=home)
    assert cut.returncode == 1 and "record 2" in cut.stderr and "anchored" in cut.stderr
    bad = run_jaju("audit", "verify", "--anchor", "two abc", home=home)
    assert bad.returncode == 2 and "SEQ HASH" in bad.stderr


def test_usage_empty_and_bad_since(home):
    assert run_jaju("usage", "--json", home=home).stdout.strip() == "[]"
    bad = run_jaju("usage", "--since", "yesterday", home=home)
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_init_writes_loadable_config(tmp_path):
    path = tmp_path / "jaju.toml"
    assert run_jaju("init", str(path), home=tmp_path).returncode == 0
    assert Settings.load(path).server.port == 8000
    again = run_jaju("init", str(path), home=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr


def test_serve_refuses_public_bind_without_keys(home):
    out = run_jaju("serve", "--host", "0.0.0.0", "--port", "0", home=home)
    assert out.returncode == 2
    assert "refusing to listen on 0.0.0.0" in out.stderr


def test_serve_bad_model_path(home, tmp_path):
    out = run_jaju("serve", "--model", str(tmp_path / "none.gguf"), home=home)
    assert out.returncode == 2 and "GGUF file not found" in out.stderr
    fake = tmp_path / "fake.gguf"
    fake.write_text("hello", encoding="utf-8")
    out = run_jaju("serve", "--model", str(fake), home=home)
    assert out.returncode == 2 and "not a GGUF file" in out.stderr


def test_serve_bad_config(home, tmp_path):
    path = tmp_path / "jaju.toml"
    path.write_text("[server]\nport = 'x'\n", encoding="utf-8")
    out = run_jaju("serve", "--config", str(path), home=home)
    assert out.returncode == 2 and "server.port" in out.stderr


def test_serve_single_gguf_without_config(live, tiny_gguf):
    server = live("--model", str(tiny_gguf))
    import httpx

    models = httpx.get(server.url + "/models").json()
    assert [m["id"] for m in models["data"]] == ["tiny"]


# --- issue 13: what a new user hits ------------------------------------------------------------

COMMANDS = [[], ["serve"], ["init"], ["keys"], ["keys", "create"], ["keys", "list"],
            ["keys", "revoke"], ["audit", "show"], ["usage"], ["ingest"], ["kb", "show"],
            ["search"], ["ask"], ["tools", "list"], ["plugins", "list"]]


def test_short_help_everywhere_and_no_type_after_flags(home):
    for command in COMMANDS:
        short = run_jaju(*command, "-h", home=home)
        assert short.returncode == 0, (command, short.stderr)
        assert "Usage" in short.stdout
        assert short.stdout == run_jaju(*command, "--help", home=home).stdout
        assert "<bool>" not in short.stdout, command
    search = run_jaju("search", "-h", home=home).stdout
    assert "How many hits" in search


def test_busy_port_fails_before_loading_the_model(home, tiny_gguf):
    import socket
    import time

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        out = run_jaju("serve", "--model", str(tiny_gguf), "--port", str(port), home=home)
        assert out.returncode == 2
        assert time.monotonic() - started < 30
    assert f"port {port} on 127.0.0.1 is already in use" in out.stderr
    assert "이미 사용 중" in out.stderr and f"--port {port + 1}" in out.stderr
    assert "jaju serving" not in out.stderr


def test_try_line_names_the_key_when_keys_are_required(live, tmp_path):
    home = tmp_path / "keyed"
    assert run_jaju("keys", "create", "--tenant", "a", home=home).returncode == 0
    server = live(home=home)
    log = server.log.read_text(encoding="utf-8")
    assert 'curl -s http' in log and '-H "Authorization: Bearer $KEY"' in log
    assert f"home: {home}" in log


def test_commands_say_which_home(home):
    created = run_jaju("keys", "create", "--tenant", "a", home=home)
    assert f"in {home}" in created.stderr
    assert str(home) in run_jaju("audit", "verify", home=home).stderr
    assert str(home) in run_jaju("usage", home=home).stdout


def test_revoke_by_the_key_itself(home):
    key = run_jaju("keys", "create", "--tenant", "a", home=home).stdout.strip()
    out = run_jaju("keys", "revoke", key, home=home)
    assert out.returncode == 0 and key not in out.stderr
    assert json.loads(run_jaju("keys", "list", "--json", home=home).stdout)[0]["revoked_at"]
    shown = run_jaju("audit", "show", "--json", home=home).stdout
    assert key not in shown
    again = run_jaju("keys", "revoke", key, home=home)
    assert again.returncode == 1 and key not in again.stderr


def test_tables_keep_ids_and_paths_whole_at_80_columns(home, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    for tenant in ("민원팀", "a-tenant-with-a-rather-long-name-for-a-narrow-table"):
        run_jaju("keys", "create", "--tenant", tenant, "--qpm", "60", "--tpm", "100000",
                 home=home)
    ids = [k["id"] for k in json.loads(run_jaju("keys", "list", "--json", home=home).stdout)]
    table = run_jaju("keys", "list", home=home).stdout
    for key_id in ids:
        assert key_id in table
    audit = run_jaju("audit", "show", home=home).stdout
    record = json.loads(run_jaju("audit", "show", "--json", home=home).stdout)[0]
    assert record["detail"] in audit
    deep = tmp_path / "부서" / "총무과" / "2026년" / "규정집" / "여비 및 출장에 관한 규정.md"
    deep.parent.mkdir(parents=True)
    deep.write_text("# 여비 규정\n\n출장비는 5일 이내에 정산한다.\n", encoding="utf-8")
    assert run_jaju("ingest", str(deep), "--kb", "규정", home=home).returncode == 0
    shown = run_jaju("kb", "show", "규정", home=home).stdout
    assert str(deep) in shown


def test_narrow_terminal_folds_but_never_cuts_a_key_id():
    import io

    from rich.console import Console

    from jaju.cli.audit import audit_blocks
    from jaju.cli.keys import keys_table
    from jaju.store.sqlite import ApiKey

    keys = [ApiKey(id="key_3f9a1c2b0d4e", tenant="아주 긴 테넌트 이름을 가진 민원 담당 부서",
                   prefix="jaju-AbCd", qpm=60, tpm=100000, created_at=0.0, revoked_at=None)]
    for width in (60, 80):
        buffer = io.StringIO()
        Console(file=buffer, width=width, force_terminal=True, color_system=None).print(
            keys_table(keys))
        text = buffer.getvalue()
        assert "key_3f9a1c2b0d4e" in text, text
        assert max(len(line) for line in text.splitlines()) <= width
    detail = '{"tenant": "민원팀", "qpm": 60, "tpm": 100000, "admin": false}'
    buffer = io.StringIO()
    Console(file=buffer, width=60, force_terminal=True, color_system=None, soft_wrap=True).print(
        audit_blocks([{"seq": 1, "ts": 0.0, "actor": "admin", "action": "key.create",
                       "target": "key_3f9a1c2b0d4e", "outcome": "ok", "detail": detail}]))
    assert detail in buffer.getvalue() and "key_3f9a1c2b0d4e" in buffer.getvalue()
    from types import SimpleNamespace

    from rich.cells import cell_len

    from jaju.cli.knowledge import documents_table

    path = "/srv/문서/총무과/2026년/규정집/여비 및 출장에 관한 규정.md"
    doc = SimpleNamespace(path=path, title="여비 규정", format="markdown", chunks=3, chars=900,
                          meta={}, ingested_at=0.0)
    buffer = io.StringIO()
    Console(file=buffer, width=80, force_terminal=True, color_system=None).print(
        documents_table("규정: 1 documents", [doc], narrow=True))
    lines = buffer.getvalue().splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    cells = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    assert cells.replace(" ", "") == path.replace(" ", "")


def test_init_shows_knowledge_and_guards_and_every_example_loads(tmp_path):
    import re

    from jaju.cli.serve import SAMPLE_CONFIG

    path = tmp_path / "jaju.toml"
    assert run_jaju("init", str(path), home=tmp_path).returncode == 0
    text = path.read_text(encoding="utf-8")
    assert "# knowledge = [" in text and "# [guards.pii]" in text and "chat_template" in text
    uncommented = "\n".join(
        line[2:] if re.match(r"# (\[|[A-Za-z_]+ *=)", line) else line
        for line in SAMPLE_CONFIG.splitlines())
    everything = tmp_path / "everything.toml"
    everything.write_text(uncommented.replace('chat_format = "chatml"', ""), encoding="utf-8")
    settings = Settings.load(everything)
    assert settings.assistants["helper"].knowledge == ["사내규정"]
    assert settings.guards.pii["RRN"] == "pseudonymise"
    assert settings.backends["qwen"].type == "llamacpp"


def test_non_ascii_bare_key_gets_a_quoting_hint(home, tmp_path):
    path = tmp_path / "jaju.toml"
    path.write_text('[backends.extractive]\ntype = "extractive"\n\n[assistants.민원]\n'
                    'backend = "extractive"\n', encoding="utf-8")
    out = run_jaju("serve", "--config", str(path), home=home)
    assert out.returncode == 2
    assert "invalid TOML" in out.stderr and '[assistants."민원"]' in out.stderr
    path.write_text('[assistants."민원"]\nbackend = "extractive"\n', encoding="utf-8")
    assert "민원" in Settings.load(path).assistants


def test_serve_chat_format_for_a_gguf_without_template(live, tmp_path):
    import httpx

    from tinymodel import write_tiny_gguf

    plain = write_tiny_gguf(tmp_path / "plain.gguf", chat_template=None)
    refused = live("--model", str(plain))
    r = httpx.post(refused.url + "/chat/completions", timeout=30, json={
        "model": "plain", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_chat_template"
    assert "chat_format" in r.json()["error"]["message"]
    served = live("--model", str(plain), "--chat-format", "chatml")
    r = httpx.post(served.url + "/chat/completions", timeout=30, json={
        "model": "plain", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    assert r.status_code == 200, r.text
