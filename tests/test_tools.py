"""The tool model and registry: schemas from typed functions, and the policy jaju enforces."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from jaju.caller import Caller
from jaju.store import open_store
from jaju.tools import Permissions, ToolError, ToolPolicy, ToolRegistry, tool

from conftest import run_jaju


@tool(permissions=Permissions(effect="read"))
def weather(city: str, unit: str = "celsius", days: int = 1) -> dict:
    """오늘 날씨를 알려준다.

    Longer text that is not part of the description."""
    return {"city": city, "unit": unit, "days": days, "temp": 3}


@tool(permissions=Permissions(effect="write"))
def delete_all(folder: str) -> str:
    """Delete every file in a folder."""
    return f"deleted {folder}"


@tool()
def broken() -> None:
    """Always fails."""
    raise RuntimeError("disk on fire")


@tool()
def huge() -> str:
    """Returns too much."""
    return "가" * 100_000


@tool()
def odd() -> object:
    """Returns something JSON cannot carry."""
    return {"when": object()}


@tool()
async def slow() -> str:
    """Never finishes in time."""
    await asyncio.sleep(10)
    return "late"


def test_schema_from_signature_and_docstring():
    assert weather.name == "weather" and weather.description == "오늘 날씨를 알려준다."
    assert weather.parameters == {
        "type": "object",
        "properties": {"city": {"type": "string"},
                       "unit": {"type": "string", "default": "celsius"},
                       "days": {"type": "integer", "default": 1}},
        "required": ["city"], "additionalProperties": False}


@pytest.fixture
def registry(tmp_path):
    store = open_store(tmp_path / "jaju.db")
    reg = ToolRegistry(store)
    for t in (weather, delete_all, broken, huge, slow, odd):
        reg.add(t, namespace="demo")
    yield reg, tmp_path / "jaju.db"
    store.close()


def call(reg, name, args, **kw):
    return asyncio.run(reg.call(name, args, policy=kw.pop("policy", ToolPolicy(timeout=0.5)),
                                caller=kw.pop("caller", Caller("local")), **kw))


def test_policy(registry):
    reg, db = registry
    assert call(reg, "demo.weather", '{"city": "서울"}')["temp"] == 3
    with pytest.raises(ToolError) as e:
        call(reg, "demo.weather", {"city": 3, "extra": 1})
    assert e.value.code == "invalid_arguments" and "city" in e.value.message
    with pytest.raises(ToolError) as e:
        call(reg, "demo.weather", "{not json")
    assert e.value.code == "invalid_arguments"
    with pytest.raises(ToolError) as e:
        call(reg, "demo.nope", {})
    assert e.value.code == "unknown_tool"
    only_weather = ToolPolicy(enabled=("demo.weather",))
    with pytest.raises(ToolError) as e:
        call(reg, "demo.delete_all", {"folder": "/"}, policy=only_weather, confirmed=True)
    assert e.value.code == "unknown_tool"  # not enabled looks exactly like unknown
    with pytest.raises(ToolError) as e:
        call(reg, "demo.delete_all", {"folder": "/tmp/x"})
    assert e.value.code == "confirmation_required"
    assert call(reg, "demo.delete_all", {"folder": "/tmp/x"}, confirmed=True) == "deleted /tmp/x"
    for name, code in [("demo.broken", "tool_failed"), ("demo.huge", "result_too_large"),
                       ("demo.slow", "timeout"), ("demo.odd", "invalid_result")]:
        with pytest.raises(ToolError) as e:
            call(reg, name, {})
        assert e.value.code == code
    reg.store.flush()  # audit records are queued for the store's writer
    rows = sqlite3.connect(db).execute(
        "SELECT target, outcome FROM audit WHERE action='tool.call' ORDER BY seq").fetchall()
    assert rows[0] == ("demo.weather", "ok")
    assert ("demo.delete_all", "refused") in rows and ("demo.broken", "error") in rows
    assert len(rows) == 11  # every call and every refusal


def test_cli_tools_and_knowledge_search(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "a.txt").write_text("출장비는 영수증을 첨부해 청구한다.", encoding="utf-8")
    run_jaju("ingest", str(tmp_path / "a.txt"), "--kb", "rules", home=home)
    listed = json.loads(run_jaju("tools", "list", "--json", home=home).stdout)
    search = next(t for t in listed if t["name"] == "knowledge.search")
    assert search["parameters"]["required"] == ["kb", "query"]
    assert "context" not in search["parameters"]["properties"]
    out = run_jaju("tools", "call", "knowledge.search", '{"kb": "rules", "query": "출장비"}',
                   home=home)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["text"].startswith("출장비는")
    other = run_jaju("tools", "call", "knowledge.search", '{"kb": "rules", "query": "출장비"}',
                     "--tenant", "beta", home=home)
    assert other.returncode == 1 and "does not exist" in other.stderr  # tenancy holds
    bad = run_jaju("tools", "call", "knowledge.search", '{"kb": 1}', home=home)
    assert bad.returncode == 1 and "invalid_arguments" in bad.stderr


def test_a_failing_tool_tells_the_client_its_type_only(make_client, tmp_path, caplog):
    """The exception's message may hold paths or secrets: the admin API, the chat's tool_runs
    and the model see only its type, and so does the audit record (the tenant may read it);
    the server log keeps the message."""
    from conftest import start_script

    @tool()
    def boom() -> str:
        """터진다."""
        raise RuntimeError("cannot open /srv/secret/key token=hunter2")

    proc, port = start_script("tool_upstream.py", str(tmp_path / "upstream.jsonl"))
    try:
        client = make_client({
            "backends": {"up": {"type": "openai", "url": f"http://127.0.0.1:{port}/v1",
                                "model": "t"}},
            "assistants": {"clerk": {"backend": "up", "tools": ["leak.*"]}}})
        state = client.app.state.jaju
        state.hub.registry.add(boom, namespace="leak")
        with caplog.at_level("ERROR", logger="jaju.tools.registry"):
            r = client.post("/v1/tools/leak.boom/call", json={"arguments": {}})
            body = client.post("/v1/chat/completions", json={"model": "clerk", "messages": [
                {"role": "user", "content": "CALL leak_boom {}"}]}).json()
    finally:
        proc.kill()
    said = "도구 'leak.boom' 실행 중 오류가 났습니다 / tool 'leak.boom' failed: RuntimeError"
    assert r.status_code == 400 and r.json()["error"]["code"] == "tool_failed"
    assert r.json()["error"]["message"] == said
    [run] = body["tool_runs"]
    assert run["status"] == "tool_failed" and "hunter2" not in json.dumps(body)
    upstream = (tmp_path / "upstream.jsonl").read_text(encoding="utf-8")
    assert "RuntimeError" in upstream and "hunter2" not in upstream  # the model's view too
    assert "hunter2" in caplog.text and "Traceback" in caplog.text
    state.store.flush()
    audit = [a for a in state.store.audit_records(50) if a["target"] == "leak.boom"]
    assert audit and all("hunter2" not in json.dumps(a, ensure_ascii=False) for a in audit)
    assert all(json.loads(a["detail"])["error"] == "RuntimeError" for a in audit)


def test_a_tools_value_error_still_says_what_to_fix():
    @tool()
    def pick(day: str) -> str:
        """고른다."""
        raise ValueError("day는 YYYY-MM-DD 형식이어야 합니다 / day must be YYYY-MM-DD")

    reg = ToolRegistry(None)
    reg.add(pick, namespace="d")
    with pytest.raises(ToolError) as e:
        call(reg, "d.pick", {"day": "x"})
    assert e.value.code == "tool_failed" and "YYYY-MM-DD" in e.value.message


def test_a_failing_tool_tells_an_mcp_client_its_type_only(tmp_path):
    """The same through `jaju mcp serve`, with the tool in an installed plugin."""
    import os

    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from conftest import JAJU, write_plugins

    site = write_plugins(tmp_path / "site", {"leaky": '''
from jaju.hookspecs import hookimpl
from jaju.tools import tool

@tool()
def boom() -> str:
    "터진다."
    raise RuntimeError("cannot open /srv/secret/key token=hunter2")

@hookimpl
def register_tools(register):
    register(boom, namespace="leak")
'''})
    path = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])

    async def run() -> str:
        params = StdioServerParameters(
            command=JAJU, args=["mcp", "serve", "--home", str(tmp_path / "home")],
            env={**os.environ, "PYTHONPATH": path})
        async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            result = await session.call_tool("leak.boom", {})
            assert result.is_error
            return result.content[0].text

    text = asyncio.run(run())
    assert text == ("tool_failed: 도구 'leak.boom' 실행 중 오류가 났습니다 / tool 'leak.boom' "
                    "failed: RuntimeError")
