"""The official `openai` client against a live `jaju serve`."""

from __future__ import annotations

import json
import sqlite3

import httpx
import jsonschema
import openai
import pytest

from conftest import run_jaju
from test_llamacpp import WEATHER


@pytest.fixture
def server(live, tiny_gguf):
    return live(config=f"""
[server]
max_body_bytes = 20000

[backends.extractive]
type = "extractive"

[backends.tiny]
type = "llamacpp"
path = "{tiny_gguf}"
""")


def client_for(server, key="none"):
    return openai.OpenAI(base_url=server.url, api_key=key, max_retries=0, timeout=60)


def test_models_chat_and_stream(server):
    client = client_for(server)
    assert sorted(m.id for m in client.models.list()) == ["extractive", "tiny"]

    r = client.chat.completions.create(model="extractive",
                                       messages=[{"role": "user", "content": "안녕?"}])
    assert "생성 모델이 설정되어 있지 않습니다" in r.choices[0].message.content
    assert r.usage.total_tokens > 0

    stream = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "안녕?"}], max_tokens=10,
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].usage.completion_tokens <= 10
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_tool_call_validates(server):
    client = client_for(server)
    r = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "부산 날씨는?"}],
        tools=[WEATHER], tool_choice="required", max_tokens=200, seed=5)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])


def test_structured_output(server):
    client = client_for(server)
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}},
              "required": ["ok"], "additionalProperties": False}
    r = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "JSON으로"}], max_tokens=50,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    jsonschema.validate(json.loads(r.choices[0].message.content), schema)


def test_embeddings(server):
    r = client_for(server).embeddings.create(model="tiny", input="개인정보 보호법")
    assert len(r.data[0].embedding) == 64


def test_error_classes(server):
    client = client_for(server)
    msgs = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=msgs)
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="tiny", messages=msgs, temperature=5)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="extractive", input="x")
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="tiny",
                                       messages=[{"role": "user", "content": "가" * 10000}])
    assert e.value.status_code == 413
    r = httpx.post(server.url + "/chat/completions", content=b"{",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_keys_and_limits_live(server):
    out = run_jaju("keys", "create", "--tenant", "acme", "--qpm", "2", home=server.home)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    assert key.startswith("jaju-") and "\n" not in key  # the key alone on stdout
    msgs = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.AuthenticationError):
        client_for(server).chat.completions.create(model="extractive", messages=msgs)
    good = client_for(server, key)
    good.chat.completions.create(model="extractive", messages=msgs)
    good.chat.completions.create(model="extractive", messages=msgs)
    with pytest.raises(openai.RateLimitError) as e:
        good.chat.completions.create(model="extractive", messages=msgs)
    assert int(e.value.response.headers["retry-after"]) >= 1
    usage = run_jaju("usage", "--json", home=server.home)
    rows = json.loads(usage.stdout)
    acme = [r for r in rows if r["tenant"] == "acme"]
    answered = next(r for r in acme if r["model"] == "extractive")
    assert answered["requests"] == 2 and answered["errors"] == 0
    refused = [r for r in acme if r["model"] == "-"]  # the 429, counted before parsing
    assert refused and refused[0]["requests"] == 1 and refused[0]["errors"] == 1


def test_client_disconnect_mid_stream_is_recorded(server):
    """Closing the stream early stops generation; usage is still recorded (status 499)."""
    client = client_for(server)
    stream = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "길게"}], max_tokens=1500,
        stream=True)
    for i, _ in enumerate(stream):
        if i == 3:
            break
    stream.close()
    # the context went back to the pool: the next request is served
    r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x"}],
                                       max_tokens=3)
    assert r.choices[0].finish_reason == "length"
    db = sqlite3.connect(server.home / "jaju.db")
    rows = db.execute("SELECT status, completion_tokens FROM usage WHERE model='tiny' "
                      "ORDER BY id").fetchall()
    assert rows[0][0] == 499 and 0 < rows[0][1] < 1500
    assert rows[1][0] == 200
