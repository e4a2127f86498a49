"""Tool sources under policy: MCP servers (stdio and streamable HTTP, real SDK), OpenAPI services
(a real service on loopback), the egress guard, per-tenant policy, rate limits, the PII guard on
tool traffic, and plugin switches."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field, validate_call

from jaju.caller import Caller
from jaju.config import Settings
from jaju.guards.base import GuardChain, GuardContext
from jaju.guards.builtin import PiiGuard
from jaju.guards.pii import detect
from jaju.state import AppState
from jaju.tools import Permissions, ToolError, tool
from jaju.tools.egress import Egress, EgressRefused, egress_transport
from jaju.tools.mcp import network_sandbox
from jaju.tools.model import ToolContext, from_function
from jaju.tools.policy import policy_for

from conftest import free_port, start_script

TESTS = Path(__file__).parent
MCP_SERVER = str(TESTS / "mcp_test_server.py")
SPEC = str(TESTS / "fixtures" / "openapi" / "weather.json")
MANIFEST = str(TESTS / "fixtures" / "openapi" / "ai-plugin.json")
RRN = "900101-1234568"


def stdio_server(log: Path, **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [MCP_SERVER], "env": {"MCP_CALL_LOG": str(log)},
            "timeout": 5, **extra}


@asynccontextmanager
async def hub(tmp_path: Path, config: dict[str, Any], wait: float = 20) -> AsyncIterator[AppState]:
    settings = Settings.model_validate({"home": tmp_path / "home", **config})
    state = AppState.build(settings, load_plugins=False)
    await state.hub.start(wait=wait)
    try:
        yield state
    finally:
        await state.hub.aclose()
        state.store.close()


async def call(state: AppState, name: str, args: Any, tenant: str = "local", **kw: Any) -> Any:
    return await state.hub.registry.call(name, args, policy=policy_for(state.settings, tenant),
                                         caller=Caller(tenant, label=f"{tenant}/test"), **kw)


def pii_guard(state: AppState, policy: dict[str, str]) -> PiiGuard:
    return PiiGuard(policy, GuardContext(Caller("local"), "", state.gateway.audit(Caller("local"))))


async def code_of(state: AppState, name: str, args: Any, **kw: Any) -> str:
    with pytest.raises(ToolError) as e:
        await call(state, name, args, **kw)
    return e.value.code


def audit(state: AppState) -> list[tuple[str, str, str, dict]]:
    state.store.flush()  # audit records are queued for the store's writer
    rows = sqlite3.connect(state.settings.db_path).execute(
        "SELECT action, target, outcome, detail FROM audit ORDER BY seq").fetchall()
    return [(a, t, o, json.loads(d)) for a, t, o, d in rows]


def calls_seen(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


# --- egress guard -------------------------------------------------------------------------------


def test_egress_refuses_private_undeclared_and_dns_tricks():
    public = Egress(hosts=("api.example.kr",), resolve=lambda h, p: ["211.234.10.20"])
    assert public.check("api.example.kr", 443) == "211.234.10.20"
    with pytest.raises(EgressRefused, match="not among the hosts"):
        public.check("evil.example.com", 443)
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.4", "169.254.169.254",
                    "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1"):
        with pytest.raises(EgressRefused, match="loopback, private or link-local"):
            Egress(hosts=(address,)).check(address, 80)
    # a declared name whose DNS answer points inside: refused (the name is resolved first)
    rebinding = Egress(hosts=("rebind.example.kr",), resolve=lambda h, p: ["127.0.0.1"])
    with pytest.raises(EgressRefused, match=r"127\.0\.0\.1"):
        rebinding.check("rebind.example.kr", 80)
    mixed = Egress(hosts=("mixed.example.kr",), resolve=lambda h, p: ["211.234.10.20", "10.0.0.1"])
    with pytest.raises(EgressRefused):
        mixed.check("mixed.example.kr", 80)
    # the real resolver: localhost is a name that resolves to 127.0.0.1
    with pytest.raises(EgressRefused, match="loopback"):
        Egress(hosts=("localhost",)).check("localhost", 80)
    assert Egress(hosts=("localhost",), allow_private=True).check("localhost", 80)
    assert Egress(hosts=("localhost",), allow_private=("localhost",)).check("localhost", 80)


async def test_egress_transport_pins_the_checked_address(tmp_path):
    """The connection goes to the address that was checked, not to a second DNS answer."""
    import httpx

    proc, port = start_script("openapi_service.py")
    try:
        answers = iter([["127.0.0.1"], ["10.9.9.9"]])  # a rebinding resolver
        egress = Egress(hosts=("svc.test",), allow_private=True,
                        resolve=lambda h, p: next(answers))
        async with httpx.AsyncClient(transport=egress_transport(egress)) as client:
            r = await client.get(f"http://svc.test:{port}/greeting")
        assert r.text == "안녕하세요"
        with pytest.raises(EgressRefused):
            async with httpx.AsyncClient(transport=egress_transport(Egress())) as client:
                await client.get(f"http://127.0.0.1:{port}/greeting")
    finally:
        proc.kill()


async def test_python_tool_http_client_goes_through_egress():
    @tool(permissions=Permissions(network=("api.example.kr",)))
    async def fetch(url: str, context: ToolContext) -> str:
        """Fetch a URL."""
        async with context.http_client() as client:
            return (await client.get(url)).text

    from jaju.tools.policy import ToolPolicy
    from jaju.tools.registry import ToolRegistry

    reg = ToolRegistry()
    reg.add(fetch, namespace="web")
    for url in ("http://127.0.0.1:9/", "http://169.254.169.254/latest/meta-data",
                "http://undeclared.example.com/"):
        with pytest.raises(ToolError) as e:
            await reg.call("web.fetch", {"url": url}, policy=ToolPolicy(), caller=Caller("local"))
        assert "egress" in e.value.message and "refused" in e.value.message


# --- OpenAPI services ---------------------------------------------------------------------------


@pytest.fixture
def service(tmp_path):
    record = tmp_path / "orders.jsonl"
    proc, port = start_script("openapi_service.py", str(record))
    yield port, record
    proc.kill()


def openapi_conf(port: int, **extra: Any) -> dict[str, Any]:
    return {"spec": SPEC, "manifest": MANIFEST, "base_url": f"http://127.0.0.1:{port}",
            "auth_env": "WEATHER_TOKEN", "allow_private": True, **extra}


async def test_openapi_service_tools(tmp_path, service, monkeypatch):
    port, record = service
    monkeypatch.setenv("WEATHER_TOKEN", "test-secret")
    async with hub(tmp_path, {"openapi": {"weather": openapi_conf(port)}}) as state:
        tools = state.hub.registry.tools
        assert {"weather.getWeather", "weather.createOrder", "weather.big"} <= set(tools)
        get = tools["weather.getWeather"]
        assert get.permissions.effect == "read" and get.parameters["required"] == ["city"]
        assert get.parameters["properties"]["unit"]["enum"] == ["c", "f"]
        assert tools["weather.createOrder"].permissions.effect == "write"
        assert tools["weather.createOrder"].parameters["required"] == ["item"]

        assert await call(state, "weather.getWeather", {"city": "서울", "unit": "f"}) == {
            "city": "서울", "temp": 70, "unit": "f"}
        assert await call(state, "weather.greeting", {}) == "안녕하세요"
        assert await code_of(state, "weather.getWeather", {"unit": "c"}) == "invalid_arguments"
        assert await code_of(state, "weather.createOrder", {"item": "우산"}) \
            == "confirmation_required"
        assert not record.exists()
        assert await call(state, "weather.createOrder", {"item": "우산", "qty": 2},
                          confirmed=True) == {"order_id": 7, "item": "우산", "qty": 2}
        assert json.loads(record.read_text()) == {"item": "우산", "qty": 2}
        assert await code_of(state, "weather.big", {}) == "result_too_large"
        assert await code_of(state, "weather.missing", {}) == "http_error"
        monkeypatch.setenv("WEATHER_TOKEN", "wrong")
        assert await code_of(state, "weather.getWeather", {"city": "부산"}) == "http_error"
        monkeypatch.delenv("WEATHER_TOKEN")
        assert await code_of(state, "weather.getWeather", {"city": "부산"}) == "auth_missing"
        info = state.hub.plugin("weather")
        assert info is not None and info.kind == "openapi" and info.version == "2.0.0"
        assert info.description == "Current weather for Korean cities, and orders."
        outcomes = [(t, o, d.get("reason")) for a, t, o, d in audit(state) if a == "tool.call"]
        assert ("weather.createOrder", "refused", "confirmation_required") in outcomes
        assert ("weather.createOrder", "ok", None) in outcomes


async def test_openapi_service_on_loopback_is_refused_unless_allowed(tmp_path, service,
                                                                     monkeypatch):
    port, _ = service
    monkeypatch.setenv("WEATHER_TOKEN", "test-secret")
    conf = {"a": openapi_conf(port, allow_private=False),
            "b": openapi_conf(port, allow_private=False, base_url=f"http://localhost:{port}")}
    async with hub(tmp_path, {"openapi": conf}) as state:
        for name in ("a.getWeather", "b.getWeather"):
            with pytest.raises(ToolError) as e:
                await call(state, name, {"city": "서울"})
            assert e.value.code == "egress_refused" and "loopback" in e.value.message
        assert [d["reason"] for a, t, o, d in audit(state) if a == "tool.call"] \
            == ["egress_refused", "egress_refused"]


def test_openapi_bad_spec_is_a_config_error(tmp_path):
    from jaju.errors import ConfigError

    bad = tmp_path / "bad.json"
    bad.write_text('{"swagger": "2.0"}')
    settings = Settings.model_validate({"home": tmp_path, "openapi": {"x": {"spec": str(bad)}}})
    with pytest.raises(ConfigError, match="OpenAPI 3"):
        AppState.build(settings, load_plugins=False)


# --- MCP servers --------------------------------------------------------------------------------


async def test_mcp_stdio_server_tools_under_policy(tmp_path):
    log = tmp_path / "calls.jsonl"
    config = {"mcp_servers": {"testmcp": stdio_server(log)},
              "tenants": {"acme": {"tools": {"enabled": ["testmcp.add", "testmcp.echo"]}}}}
    async with hub(tmp_path, config) as state:
        server = state.hub.mcp["testmcp"]
        assert server.state == "ready", server.error
        names = set(state.hub.registry.tools)
        assert {"testmcp.add", "testmcp.echo", "testmcp.delete_all", "knowledge.search"} <= names
        assert state.hub.registry.tools["testmcp.delete_all"].permissions.effect == "write"
        assert state.hub.registry.tools["testmcp.add"].permissions.effect == "read"

        assert await call(state, "testmcp.add", {"a": 2, "b": 40}) == {"result": 42}
        assert await code_of(state, "testmcp.add", {"a": "two"}) == "invalid_arguments"
        assert await code_of(state, "testmcp.fail", {"reason": "고장"}) == "tool_failed"
        assert await code_of(state, "testmcp.delete_all", {}) == "confirmation_required"
        # tenant policy: acme sees two tools; the rest look like they do not exist
        visible = {t.name for t in state.hub.registry.visible(policy_for(state.settings, "acme"))}
        assert visible == {"testmcp.add", "testmcp.echo"}
        assert await code_of(state, "testmcp.delete_all", {}, tenant="acme",
                             confirmed=True) == "unknown_tool"
        assert await call(state, "testmcp.add", {"a": 1, "b": 1}, tenant="acme") == {"result": 2}
        assert [c["tool"] for c in calls_seen(log)] == ["add", "add"]  # nothing refused ran


async def test_mcp_server_that_cannot_start_is_reported(tmp_path):
    config = {"mcp_servers": {"gone": {"command": "/nonexistent/mcp-server"}}}
    async with hub(tmp_path, config, wait=1) as state:
        info = state.hub.plugin("gone")
        assert info is not None and info.state in ("down", "starting")
        assert "command not found" in (info.error or "")
        assert await code_of(state, "gone.anything", {}) == "unknown_tool"


async def test_mcp_server_crash_and_hang_are_restarted(tmp_path):
    config = {"mcp_servers": {"m": stdio_server(tmp_path / "log", timeout=3, ping_interval=0.5)}}
    async with hub(tmp_path, config) as state:
        server = state.hub.mcp["m"]
        assert server.state == "ready"
        assert await code_of(state, "m.crash", {}) in ("unavailable", "tool_failed")
        for _ in range(100):  # marked unavailable while it restarts, then back
            if server.restarts >= 1 and server.state == "ready":
                break
            await asyncio.sleep(0.1)
        assert server.restarts >= 1 and server.state == "ready"
        assert await call(state, "m.add", {"a": 1, "b": 2}) == {"result": 3}

        # a server that stops answering (SIGSTOP): the call times out, the ping notices
        assert await code_of(state, "m.hang", {}) in ("timeout", "unavailable")
        for _ in range(200):
            if state.hub.registry.tools["m.add"].unavailable:
                break
            await asyncio.sleep(0.05)
        assert state.hub.registry.tools["m.add"].unavailable
        assert await code_of(state, "m.add", {"a": 1, "b": 2}) == "unavailable"
        for _ in range(300):
            if server.restarts >= 2 and server.state == "ready":
                break
            await asyncio.sleep(0.1)
        assert server.state == "ready", server.error
        assert await call(state, "m.add", {"a": 5, "b": 5}) == {"result": 10}


async def test_mcp_stdio_server_without_network_permission_has_no_network(tmp_path):
    if os.geteuid() == 0:
        assert network_sandbox() is not None  # root on Linux can always make a namespace
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    config = {"mcp_servers": {
        "closed": stdio_server(tmp_path / "a"),
        "open": stdio_server(tmp_path / "b", network=["127.0.0.1"])}}
    try:
        async with hub(tmp_path, config) as state:
            assert state.hub.mcp["open"].sandboxed is False
            assert await call(state, "open.connect", {"port": port}) == {"result": "connected"}
            if network_sandbox() is not None:
                assert state.hub.mcp["closed"].sandboxed is True
                result = await call(state, "closed.connect", {"port": port})
                assert result["result"].startswith("failed")
    finally:
        listener.close()


async def test_mcp_over_streamable_http(tmp_path):
    port = free_port()
    log = tmp_path / "http-calls.jsonl"
    import subprocess
    import time

    import httpx

    proc = subprocess.Popen([sys.executable, MCP_SERVER, "http", str(port)],
                            env={**os.environ, "MCP_CALL_LOG": str(log)})
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/mcp"
        config = {"mcp_servers": {"web": {"url": url, "allow_private": True, "timeout": 5},
                                  "blocked": {"url": url, "timeout": 5}}}
        async with hub(tmp_path, config, wait=10) as state:
            assert state.hub.mcp["web"].state == "ready", state.hub.mcp["web"].error
            assert await call(state, "web.echo", {"text": "안녕"}) == {"result": "받은 글: 안녕"}
            assert calls_seen(log) == [{"tool": "echo", "arguments": {"text": "안녕"}}]
            blocked = state.hub.mcp["blocked"]  # loopback without allow_private: never connects
            assert blocked.state != "ready" and "egress" in (blocked.error or "")
    finally:
        proc.kill()


# --- PII guard, rate limits, plugin switches ----------------------------------------------------


async def test_pii_guard_on_tool_arguments_and_results(tmp_path):
    log, trusted_log = tmp_path / "calls.jsonl", tmp_path / "trusted.jsonl"
    config = {"mcp_servers": {"plain": stdio_server(log),
                              "trusted": stdio_server(trusted_log, pii=True)}}
    async with hub(tmp_path, config) as state:
        guard = pii_guard(state, {"default": "pseudonymise"})
        pii = GuardChain([guard])
        placeholder = guard.vault.placeholder(detect(f"주민번호 {RRN}")[0])
        # a tool without the pii permission never sees the real value ...
        result = await call(state, "plain.echo", {"text": f"번호 {placeholder}"}, guards=pii)
        assert calls_seen(log)[-1]["arguments"]["text"] == f"번호 {placeholder}"
        raw = await call(state, "plain.echo", {"text": f"번호 {RRN}"}, guards=pii)
        assert RRN not in json.dumps(calls_seen(log), ensure_ascii=False)
        assert RRN not in json.dumps(raw, ensure_ascii=False)
        # ... a trusted one gets it, and its result is pseudonymised on the way back
        result = await call(state, "trusted.echo", {"text": f"번호 {placeholder}"}, guards=pii)
        assert calls_seen(trusted_log)[-1]["arguments"]["text"] == f"번호 {RRN}"
        assert RRN not in json.dumps(result, ensure_ascii=False) and placeholder in result["result"]
        blocking = GuardChain([pii_guard(state, {"RRN": "block"})])
        assert await code_of(state, "plain.echo", {"text": RRN}, guards=blocking) == "pii_blocked"
        details = [d for a, t, o, d in audit(state) if a == "guard.pii"
                   and d["direction"] in ("tool_arguments", "tool_result")]
        assert details and RRN not in json.dumps(audit(state), ensure_ascii=False)


async def test_arguments_a_guard_rewrote_must_still_fit_the_schema(tmp_path):
    """A masked e-mail is longer than the address: a string at its schema's max_length may not
    fit after the PII guard. The call is refused as invalid arguments, field by field, in Korean
    and English, without the masked value or pydantic's links, never run half-checked."""
    @validate_call
    def lookup(query: Annotated[str, Field(max_length=40)]) -> dict[str, str]:
        """Look something up."""
        return {"query": query}

    async with hub(tmp_path, {}) as state:
        state.hub.registry.add(from_function(lookup), namespace="t")
        emails = " ".join(["ab@ja.kr"] * 4)  # 35 characters: fits before masking, 43 after
        assert await call(state, "t.lookup", {"query": emails}) == {"query": emails}
        masking = GuardChain([pii_guard(state, {"default": "mask"})])
        with pytest.raises(ToolError) as e:
            await call(state, "t.lookup", {"query": emails}, guards=masking)
        assert e.value.code == "invalid_arguments", e.value.message
        assert "스키마" in e.value.message and "query" in e.value.message
        assert "ab@" not in e.value.message and "pydantic.dev" not in e.value.message


async def test_rate_limit_and_plugin_switch(tmp_path):
    config = {"mcp_servers": {"m": stdio_server(tmp_path / "log")},
              "tools": {"rate_limits": {"m.add": 2}}}
    async with hub(tmp_path, config) as state:
        for _ in range(2):
            await call(state, "m.add", {"a": 1, "b": 1})
        assert await code_of(state, "m.add", {"a": 1, "b": 1}) == "rate_limited"
        assert await call(state, "m.add", {"a": 1, "b": 1}, tenant="other") == {"result": 2}
        state.store.set_plugin_enabled("m", False, "test")
        assert not [t for t in state.hub.registry.visible(policy_for(state.settings, "local"))
                    if t.source == "m"]
        assert await code_of(state, "m.echo", {"text": "x"}) == "unknown_tool"
        info = state.hub.plugin("m")
        assert info is not None and info.enabled is False
        state.store.set_plugin_enabled("m", True, "test")
        assert await call(state, "m.echo", {"text": "x"}) == {"result": "받은 글: x"}
        assert ("plugin.disable", "m", "ok") in [(a, t, o) for a, t, o, _ in audit(state)]
