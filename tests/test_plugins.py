"""The plugin contract, every hook real: a guard plugin and a backend plugin from `examples/`,
pip-installed and found through their entry points, configured in jaju.toml and acting on real
chats; guard order and settings per level; errors under one tree; no default tenant below the
API layer."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from jaju import errors
from jaju.caller import Caller
from jaju.config import Settings
from jaju.errors import ConfigError, JajuError
from jaju.guards.base import GuardChain, GuardSet
from jaju.plugins import get_plugin_manager, guard_types

from conftest import JAJU, start_script

TESTS = Path(__file__).parent
EXAMPLES = TESTS.parent / "examples"
MCP_SERVER = str(TESTS / "mcp_test_server.py")


def install(example: str, tmp_path: Path) -> Path:
    """pip-install an example plugin into its own folder (put on PYTHONPATH by the caller)."""
    source = shutil.copytree(EXAMPLES / example, tmp_path / f"src-{example}",
                             ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path / f"site-{example}"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)], check=True)
    return target


def records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def load_example(name: str, module: str):
    spec = importlib.util.spec_from_file_location(module, EXAMPLES / name / f"{module}.py")
    assert spec and spec.loader
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


# --- a guard plugin -----------------------------------------------------------------------------


def test_guard_plugin_acts_on_input_streamed_output_and_tool_results(tmp_path, live):
    site = install("jaju-redact", tmp_path)
    echo_log, tool_log, mcp_log = tmp_path / "echo.jsonl", tmp_path / "tool.jsonl", tmp_path / "m"
    echo, echo_port = start_script("echo_upstream.py", str(echo_log))
    tools, tool_port = start_script("tool_upstream.py", str(tool_log))
    try:
        server = live(env={"PYTHONPATH": str(site)}, config=f"""
[backends.echo]
type = "openai"
url = "http://127.0.0.1:{echo_port}/v1"

[backends.agent]
type = "openai"
url = "http://127.0.0.1:{tool_port}/v1"

[mcp_servers.m]
command = "{sys.executable}"
args = ["{MCP_SERVER}"]
env = {{ MCP_CALL_LOG = "{mcp_log}" }}

[assistants.clerk]
backend = "agent"
tools = ["m.echo"]

[guards.redact]
words = ["프로젝트 한라", "들은 내용", "받은 글"]
replacement = "[비공개]"
""")
        client = openai.OpenAI(base_url=server.url, api_key="none")
        # inbound: the upstream never sees the word the user typed
        answer = client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "프로젝트 한라 일정 알려줘"}])
        sent = records(echo_log)[-1]["messages"][-1]["content"]
        assert "프로젝트 한라" not in sent and "[비공개] 일정" in sent
        # outbound, streamed: the upstream says "들은 내용" in 3-character pieces
        stream = client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "안녕"}], stream=True)
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
        text = "".join(pieces)
        assert text == "[비공개]: 안녕" and "들은" not in text
        assert not answer.choices[0].message.content.startswith("들은")
        # tool results: the MCP tool answers "받은 글: ..."; the model sees it redacted
        result = client.chat.completions.create(
            model="clerk", messages=[{"role": "user",
                                      "content": 'CALL m_echo {"text": "회의록"}'}])
        assert records(mcp_log)[-1] == {"tool": "echo", "arguments": {"text": "회의록"}}
        tool_message = next(m for m in records(tool_log)[-1]["messages"] if m["role"] == "tool")
        assert "받은 글" not in tool_message["content"] and "[비공개]" in tool_message["content"]
        assert "[비공개]: 회의록" in result.choices[0].message.content
        plugins = json.loads(subprocess.run(
            [JAJU, "plugins", "list", "--json", "--wait", "0"], capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(site), "JAJU_HOME": str(tmp_path / "h")},
            check=True).stdout)
        assert any(p["name"] == "redact" and p["kind"] == "python" for p in plugins)
    finally:
        echo.kill()
        tools.kill()


def test_guard_settings_are_checked_against_the_plugin_model(tmp_path):
    redact = load_example("jaju-redact", "jaju_redact")
    types = {**guard_types(get_plugin_manager(load_entrypoints=False)),
             "redact": redact.RedactGuard}
    bad = Settings.model_validate({"home": tmp_path, "tenants": {"acme": {
        "guards": {"redact": {"words": "not a list"}}}}})
    with pytest.raises(ConfigError) as e:
        GuardSet(types, bad)
    assert "tenants.acme.guards.redact.words" in str(e.value)
    unknown = Settings.model_validate({"home": tmp_path, "guards": {"nosuch": {"x": 1}}})
    with pytest.raises(ConfigError) as e:
        GuardSet(types, unknown)
    assert "guards.nosuch" in str(e.value) and "redact" in str(e.value)
    with pytest.raises(ConfigError) as e:
        GuardSet(types, Settings.model_validate({"home": tmp_path,
                                                 "guards": {"order": ["pii", "nosuch"]}}))
    assert "guards.order" in str(e.value)


def test_guard_order_and_levels(tmp_path):
    redact = load_example("jaju-redact", "jaju_redact")
    types = {**guard_types(get_plugin_manager(load_entrypoints=False)),
             "redact": redact.RedactGuard}
    settings = Settings.model_validate({
        "home": tmp_path,
        "guards": {"pii": {"RRN": "mask"}, "redact": {"words": ["한라"]}},
        "tenants": {"acme": {"guards": {"pii": {"PHONE": "block"},
                                        "redact": {"words": ["백두"]}}},
                    "quiet": {"guards": {"order": ["pii"]}}},
        "backends": {"b": {"type": "extractive"}},
        "assistants": {"a": {"backend": "b", "guards": {"order": ["redact", "pii"],
                                                        "pii": {"RRN": "pseudonymise"}}}}})
    guards = GuardSet(types, settings)
    audit = lambda *args: None  # noqa: E731

    def chain(tenant: str, model: str) -> GuardChain:
        return guards.chain(Caller(tenant), model, audit)

    default = chain("local", "b")
    assert [g.name for g in default.guards] == ["pii", "injection", "redact"]  # content: off
    assert default.guards[2].settings.words == ["한라"]
    acme = chain("acme", "b")
    assert acme.guards[0].settings == {"RRN": "mask", "PHONE": "block"}  # PII merges per type
    assert acme.guards[2].settings.words == ["백두"]  # a plugin section: most specific wins
    assert [g.name for g in chain("quiet", "b").guards] == ["pii"]
    assistant = chain("acme", "a")
    assert [g.name for g in assistant.guards] == ["redact", "pii"]
    assert assistant.guards[1].settings == {"RRN": "pseudonymise", "PHONE": "block"}


async def test_a_failing_guard_refuses_the_request(tmp_path):
    from jaju.guards import Guard
    from jaju.protocol import ChatRequest

    class Broken(Guard):
        name = "broken"

        def inbound(self, request):
            raise RuntimeError("boom")

    chain = GuardChain([Broken(None, None)])  # type: ignore[arg-type]
    request = ChatRequest.model_validate({"model": "m", "messages": [{"role": "user",
                                                                       "content": "x"}]})
    with pytest.raises(errors.InternalError) as e:
        await chain.inbound(request)
    assert e.value.code == "guard_failed" and "broken" in e.value.message


# --- a backend plugin ---------------------------------------------------------------------------


def test_backend_plugin_configured_and_served(tmp_path, live):
    site = install("jaju-echo", tmp_path)
    env = {"PYTHONPATH": str(site)}
    config = """
[backends.parrot]
type = "echo"
prefix = "메아리: "
max_chars = 40

[assistants.clerk]
backend = "parrot"
system_prompt = "친절하게"
"""
    server = live(env=env, config=config)
    client = openai.OpenAI(base_url=server.url, api_key="none")
    models = {m.id for m in client.models.list()}
    assert {"parrot", "clerk"} <= models
    answer = client.chat.completions.create(model="clerk",
                                            messages=[{"role": "user", "content": "안녕"}])
    assert answer.choices[0].message.content == "메아리: 안녕"
    stream = client.chat.completions.create(model="parrot", stream=True,
                                            messages=[{"role": "user", "content": "가나다라마바사"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == \
        "메아리: 가나다라마바사"
    # a wrong value is reported with its key path, before anything starts
    bad = tmp_path / "bad.toml"
    bad.write_text(config.replace("max_chars = 40", "max_chars = 0"), encoding="utf-8")
    out = subprocess.run([JAJU, "config", "check", "--config", str(bad)], capture_output=True,
                         text=True, env={**os.environ, **env, "JAJU_HOME": str(tmp_path / "h")})
    assert out.returncode == 2 and "backends.parrot.max_chars" in out.stderr
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[backends.x]\ntype = "nosuch"\n', encoding="utf-8")
    out = subprocess.run([JAJU, "config", "check", "--config", str(unknown)],
                         capture_output=True, text=True,
                         env={**os.environ, **env, "JAJU_HOME": str(tmp_path / "h")})
    assert out.returncode == 2 and "backends.x.type" in out.stderr and "echo" in out.stderr


# --- one exception tree, no default tenant ------------------------------------------------------


def test_one_exception_tree():
    for name in ("ConfigError", "ParseError", "EgressRefused", "PiiBlocked", "ToolError",
                 "ApiError", "InternalError", "Blocked", "ModelNotFound"):
        assert issubclass(getattr(errors, name), JajuError), name
    assert issubclass(errors.ModelNotFound, errors.NotFound)
    assert errors.NotFound("x").code == "not_found"
    from jaju.knowledge.parsers import ParseError
    from jaju.tools import ToolError
    from jaju.tools.egress import EgressRefused

    assert ParseError is errors.ParseError and ToolError is errors.ToolError
    assert EgressRefused is errors.EgressRefused
    status, body = errors.error_body(RuntimeError("secret detail"))
    assert status == 500 and "secret detail" not in json.dumps(body)


def test_unknown_plugin_is_not_a_model(make_client):
    client = make_client()
    r = client.get("/v1/plugins/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "plugin_not_found"
    r = client.get("/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.post("/v1/chat/completions", json={"model": "nope", "messages": [
        {"role": "user", "content": "x"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def test_no_default_tenant_below_the_api_layer():
    """A call that forgets the caller must fail, not silently get the local tenant's rights."""
    src = TESTS.parent / "src" / "jaju"
    found = []
    for path in src.rglob("*.py"):
        if path.relative_to(src).parts[0] in ("api", "cli", "app.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults,
                             strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d]
            for arg, default in pairs:  # None means "every tenant" in an operator's filter
                if arg.arg in ("tenant", "caller", "actor", "turn") and not (
                        isinstance(default, ast.Constant) and default.value is None):
                    found.append(f"{path.relative_to(src)}:{node.lineno} {node.name}({arg.arg}=)")
    assert not found, "\n".join(found)
