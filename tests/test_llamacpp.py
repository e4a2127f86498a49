"""The llamacpp backend on a tiny random-weight GGUF that the suite writes itself."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "현재 날씨를 알려준다",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 12},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
ASK = [{"role": "user", "content": "서울 날씨 알려줘"}]


@pytest.fixture
def client(make_client, tiny_gguf):
    return make_client({"backends": {"tiny": {"type": "llamacpp", "path": str(tiny_gguf),
                                              "n_ctx": 2048, "parallel": 2}}})


def chat(client, **body):
    r = client.post("/v1/chat/completions", json={"model": "tiny", "messages": ASK, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_plain_chat_korean_prompt(client):
    body = chat(client, max_tokens=8, seed=1, temperature=0.8)
    assert body["object"] == "chat.completion"
    assert body["usage"]["completion_tokens"] <= 8
    assert body["usage"]["prompt_tokens"] > len("서울 날씨 알려줘")  # byte tokens
    assert body["choices"][0]["finish_reason"] in ("length", "stop")


def test_seed_makes_output_repeatable(client):
    a = chat(client, max_tokens=10, seed=7, temperature=1.0)
    b = chat(client, max_tokens=10, seed=7, temperature=1.0)
    assert a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"]


def test_json_schema_response_is_valid(client):
    schema = {"type": "object",
              "properties": {"name": {"type": "string", "maxLength": 10},
                             "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    body = chat(client, max_tokens=200, seed=3,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "person", "schema": schema}})
    jsonschema.validate(json.loads(body["choices"][0]["message"]["content"]), schema)


def test_tool_call_arguments_validate(client):
    for seed in range(3):
        body = chat(client, max_tokens=200, seed=seed, tools=[WEATHER], tool_choice="required")
        choice = body["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        call = choice["message"]["tool_calls"][0]
        assert call["type"] == "function" and call["id"].startswith("call")
        assert call["function"]["name"] == "get_weather"
        jsonschema.validate(json.loads(call["function"]["arguments"]),
                            WEATHER["function"]["parameters"])


def test_tool_result_round_trip(client):
    body = chat(client, max_tokens=200, seed=0, tools=[WEATHER], tool_choice="required")
    call = body["choices"][0]["message"]["tool_calls"][0]
    messages = [*ASK, body["choices"][0]["message"],
                {"role": "tool", "tool_call_id": call["id"], "content": '{"temp": 3}'}]
    r = client.post("/v1/chat/completions", json={
        "model": "tiny", "messages": messages, "max_tokens": 5, "tools": [WEATHER],
        "tool_choice": "none"})
    assert r.status_code == 200


def test_streaming_tool_call(client):
    with client.stream("POST", "/v1/chat/completions", json={
            "model": "tiny", "messages": ASK, "max_tokens": 200, "seed": 1, "stream": True,
            "tools": [WEATHER], "tool_choice": {"type": "function",
                                                "function": {"name": "get_weather"}}}) as r:
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    calls = [c for ch in chunks for c in ch["choices"][0]["delta"].get("tool_calls") or []]
    assert calls and calls[0]["function"]["name"] == "get_weather"
    jsonschema.validate(json.loads(calls[0]["function"]["arguments"]),
                        WEATHER["function"]["parameters"])
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_streaming_text_matches_token_count(client):
    with client.stream("POST", "/v1/chat/completions", json={
            "model": "tiny", "messages": ASK, "max_tokens": 12, "stream": True,
            "stream_options": {"include_usage": True}}) as r:
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["usage"]["completion_tokens"] <= 12
    assert chunks[-1]["usage"]["prompt_tokens"] > 0


def test_concurrent_requests_are_safe(client):
    """More requests than contexts: they queue; each gets its own, repeatable answer."""
    def one(seed):
        return chat(client, max_tokens=16, seed=seed, temperature=1.0)[
            "choices"][0]["message"]["content"]

    with ThreadPoolExecutor(6) as pool:
        parallel = list(pool.map(one, [1, 2, 3, 1, 2, 3]))
    assert parallel[0] == parallel[3] and parallel[1] == parallel[4]
    assert parallel[0] == one(1)


def test_embeddings(client):
    r = client.post("/v1/embeddings", json={"model": "tiny", "input": ["근로기준법", "임금"]})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert len(data) == 2 and len(data[0]["embedding"]) == 64
    assert data[0]["embedding"] != data[1]["embedding"]
    assert r.json()["usage"]["prompt_tokens"] > 0


def test_missing_or_bad_gguf_leaves_server_serving(make_client, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    client = make_client({"backends": {
        "missing": {"type": "llamacpp", "path": str(tmp_path / "nope.gguf")},
        "bad": {"type": "llamacpp", "path": str(bad)},
        "extractive": {"type": "extractive"}}})
    assert client.get("/health").json()["backends"] == {
        "missing": "error", "bad": "error", "extractive": "ok"}
    for name, reason in [("missing", "not found"), ("bad", "not a GGUF")]:
        r = client.post("/v1/chat/completions", json={"model": name, "messages": ASK})
        assert r.status_code == 503
        assert reason in r.json()["error"]["message"]
    r = client.post("/v1/chat/completions", json={"model": "extractive", "messages": ASK})
    assert r.status_code == 200


def test_prompt_longer_than_context(make_client, tiny_gguf):
    client = make_client({"backends": {"tiny": {"type": "llamacpp", "path": str(tiny_gguf),
                                                "n_ctx": 128}}})
    r = client.post("/v1/chat/completions", json={
        "model": "tiny", "messages": [{"role": "user", "content": "가" * 200}]})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"
    assert chat(client, max_tokens=2)["object"] == "chat.completion"


def test_embeddings_base64_matches_float(client):
    import base64
    import struct

    floats = client.post("/v1/embeddings", json={"model": "tiny", "input": "임금"}).json()
    packed = client.post("/v1/embeddings", json={"model": "tiny", "input": "임금",
                                                 "encoding_format": "base64"}).json()
    raw = base64.b64decode(packed["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(floats["data"][0]["embedding"], rel=1e-6)


def test_tool_choice_auto_gives_call_or_answer(client):
    for seed in range(4):
        message = chat(client, max_tokens=200, seed=seed, tools=[WEATHER])["choices"][0]
        if message["finish_reason"] == "tool_calls":
            args = message["message"]["tool_calls"][0]["function"]["arguments"]
            jsonschema.validate(json.loads(args), WEATHER["function"]["parameters"])
        else:
            assert isinstance(message["message"]["content"], str)
            assert not message["message"].get("tool_calls")
