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
