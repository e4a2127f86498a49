"""A failing installed plugin leaves jaju running: one whose module does not import, one whose
hooks do not match the contract, one whose `register_*` hooks raise. Each is left out (only
what it failed at), logged, listed as "failed" with its error, and can be switched off.

The plugins are written to tmp_path with a `*.dist-info` folder naming them in the `jaju`
entry-point group, which is how importlib.metadata finds an installed package."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jaju.app import create_app
from jaju.config import Settings
from jaju.plugins import backend_types, get_plugin_manager, guard_types, packs, parsers

from conftest import run_jaju, write_plugins

PLUGINS = {
    # the module does not import
    "bad_import": """
raise RuntimeError("bad_import cannot start")
""",
    # register_backends is fine, register_tools takes an argument the hook does not offer
    # (pluggy refuses the plugin after registering its register_backends)
    "bad_args": """
from jaju.hookspecs import hookimpl

@hookimpl
def register_backends(register):
    register("half", object)

@hookimpl
def register_tools(register, services, nonsense):
    pass
""",
    # register_guards works; its other hooks register something, then raise
    "bad_hook": """
from jaju.guards import Guard
from jaju.hookspecs import hookimpl
from jaju.tools import tool

class Shy(Guard):
    name = "shy"

@tool()
def wave() -> str:
    "wave"
    return "wave"

@hookimpl
def register_guards(register):
    register(Shy)

@hookimpl
def register_backends(register):
    register("never", object)
    raise ValueError("register_backends went wrong")

@hookimpl
def register_tools(register):
    register(wave, namespace="bad")
    raise ValueError("register_tools went wrong")

@hookimpl
def register_parsers(register):
    register([".never"], print)
    raise ValueError("register_parsers went wrong")

@hookimpl
def register_packs(register):
    raise ValueError("register_packs went wrong")
""",
    # a tool with the name of one of jaju's own
    "clash": """
from jaju.hookspecs import hookimpl
from jaju.tools import tool

@tool()
def search(query: str) -> str:
    "not jaju's"
    return query

@tool()
def first(query: str) -> str:
    "registered before the clash, dropped with it"
    return query

@hookimpl
def register_tools(register):
    register(first, namespace="clash")
    register(search, namespace="knowledge")
""",
    # a good plugin beside them still works
    "good_one": """
from jaju.hookspecs import hookimpl
from jaju.tools import tool

@tool()
def ping() -> str:
    "ping"
    return "pong"

@hookimpl
def register_tools(register):
    register(ping, namespace="good")
""",
}


def write_site(root: Path) -> Path:
    return write_plugins(root / "site", PLUGINS)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The plugins on sys.path (in this process) and on PYTHONPATH (for `jaju` subprocesses)."""
    site = write_site(tmp_path)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    importlib.invalidate_caches()
    yield site
    for name in PLUGINS:
        sys.modules.pop(name, None)


def test_failing_plugins_are_left_out_logged_and_recorded(site, caplog):
    with caplog.at_level(logging.ERROR, logger="jaju.plugins"):
        pm = get_plugin_manager()
        backends, guards = backend_types(pm), guard_types(pm)
        found_parsers, found_packs = parsers(pm), packs(pm)
    assert pm.broken["bad_import"] == "RuntimeError: bad_import cannot start"
    assert pm.broken["bad_args"].startswith("PluginValidationError: ")
    assert pm.broken["bad_hook"] == "ValueError: register_backends went wrong"  # the first
    assert "good_one" not in pm.broken and pm.has_plugin("good_one")
    assert not pm.has_plugin("bad_import") and not pm.has_plugin("bad_args")
    # nothing of bad_args stays registered; bad_hook keeps only the hook that returned
    assert "half" not in backends and "never" not in backends and "extractive" in backends
    assert "shy" in guards and "pii" in guards
    assert ".never" not in found_parsers and ".hwp" in found_parsers
    assert "law" in found_packs
    logged = [r for r in caplog.records if r.exc_info]
    assert {"bad_import", "bad_args", "bad_hook"} <= {r.args[0] for r in logged}  # type: ignore


def test_jaju_serves_and_lists_without_a_failing_plugin(site, tmp_path):
    settings = Settings.model_validate({"home": tmp_path / "home",
                                        "backends": {"b": {"type": "extractive"}}})
    with TestClient(create_app(settings)) as client:
        plugins = {p["name"]: p for p in client.get("/v1/plugins").json()["data"]}
        for name in ("bad_import", "bad_args", "bad_hook"):
            assert plugins[name]["state"] == "failed" and plugins[name]["kind"] == "python"
        assert plugins["bad_import"]["error"] == "RuntimeError: bad_import cannot start"
        assert plugins["bad_hook"]["error"] == "ValueError: register_backends went wrong"
        assert plugins["good_one"]["state"] == "loaded" and plugins["good_one"]["error"] is None
        assert plugins["clash"]["state"] == "failed" and plugins["clash"]["tools"] == []
        assert plugins["clash"]["error"] == \
            "ValueError: tool 'knowledge.search' is registered twice"
        assert "knowledge.search" in plugins["jaju.tools.builtin"]["tools"]  # jaju's own
        assert plugins["good_one"]["tools"] == ["good.ping"] and plugins["bad_hook"]["tools"] == []
        tools = {t["name"] for t in client.get("/v1/tools").json()["data"]}
        assert "good.ping" in tools and "bad.wave" not in tools and "clash.first" not in tools
        r = client.post("/v1/chat/completions", json={
            "model": "b", "messages": [{"role": "user", "content": "안녕"}]})
        assert r.status_code == 200
        r = client.post("/v1/plugins/bad_args/disable")
        assert r.status_code == 200 and r.json()["enabled"] is False
        assert "restarts" in r.json()["note"]  # a Python plugin's guards go at the next start


def test_failing_plugin_listed_and_disabled_from_the_cli(site, tmp_path):
    home = tmp_path / "home"
    out = run_jaju("plugins", "list", "--json", "--wait", "0", home=home)
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert plugins["bad_import"]["state"] == "failed"
    assert plugins["bad_import"]["error"] == "RuntimeError: bad_import cannot start"
    assert "bad_import" in out.stderr and "Traceback" in out.stderr  # logged, with the traceback
    out = run_jaju("plugins", "show", "bad_hook", home=home)
    assert out.returncode == 0 and json.loads(out.stdout)["state"] == "failed"
    out = run_jaju("plugins", "disable", "bad_import", home=home)
    assert out.returncode == 0, out.stderr
    assert "껐습니다 / disabled" in out.stderr and "다시 시작" in out.stderr
    out = run_jaju("plugins", "list", "--json", "--wait", "0", home=home)
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert plugins["bad_import"]["state"] == "not loaded" and not plugins["bad_import"]["enabled"]
    assert "bad_import cannot start" not in out.stderr  # not even imported


# --- a disabled plugin's backend type or guard --------------------------------------------------

SQUAWK = """
from jaju.backends.builtin import register_backends as builtin_backends
from jaju.guards import Guard
from jaju.hookspecs import hookimpl

class Quiet(Guard):
    name = "quiet"

@hookimpl
def register_backends(register):
    def take(kind, factory, settings_model=None):
        if kind == "extractive":
            register("squawk", factory, None)
    builtin_backends(take)

@hookimpl
def register_guards(register):
    register(Quiet)
"""


def test_config_check_and_serve_name_a_disabled_plugin(tmp_path, monkeypatch):
    site = write_plugins(tmp_path / "squawk-site", {"squawk": SQUAWK})
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    home = tmp_path / "home"
    backend = tmp_path / "backend.toml"
    backend.write_text('[backends.b]\ntype = "squawk"\n', encoding="utf-8")
    guard = tmp_path / "guard.toml"
    guard.write_text('[guards]\norder = ["pii", "quiet"]\n', encoding="utf-8")
    for config in (backend, guard):
        out = run_jaju("config", "check", "--config", str(config), home=home)
        assert out.returncode == 0, out.stderr
    assert run_jaju("plugins", "disable", "squawk", home=home).returncode == 0
    out = run_jaju("config", "check", "--config", str(backend), home=home)
    hint = "plugin 'squawk' is disabled: jaju plugins enable squawk"
    assert out.returncode == 2 and "backends.b.type" in out.stderr and hint in out.stderr
    out = run_jaju("serve", "--config", str(backend), "--port", "1", home=home)
    assert out.returncode != 0 and hint in out.stderr
    out = run_jaju("config", "check", "--config", str(guard), home=home)
    assert out.returncode == 2 and "guards.order" in out.stderr
    assert "disabled plugins: squawk (jaju plugins enable NAME)" in out.stderr


def test_config_check_reads_the_store_without_creating_or_migrating_it(tmp_path, pg_url):
    """`config check` reads the plugin switches but changes no database: a SQLite file it
    names is not created, a PostgreSQL database it names is not migrated."""
    import psycopg

    new = tmp_path / "new" / "jaju.db"
    sqlite = tmp_path / "sqlite.toml"
    sqlite.write_text(f'[store]\nurl = "sqlite:///{new}"\n', encoding="utf-8")
    out = run_jaju("config", "check", "--config", str(sqlite), home=tmp_path / "h")
    assert out.returncode == 0, out.stderr
    assert not new.exists() and not new.parent.exists()
    pg = tmp_path / "pg.toml"
    pg.write_text(f'[store]\nurl = "{pg_url}"\n', encoding="utf-8")
    out = run_jaju("config", "check", "--config", str(pg), home=tmp_path / "h")
    assert out.returncode == 0, out.stderr
    with psycopg.connect(pg_url) as db:
        tables = db.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = 'public'").fetchone()[0]
    assert tables == 0
