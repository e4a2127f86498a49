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


# --- chat templates: the system prompt and the evidence reach the model, whatever the format ---

GEMMA2_TEMPLATE = (  # Gemma 2's own template: it refuses the system role
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
    "supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant"
    "/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = "
    "'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + "
    "'\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if "
    "add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)
SYSTEM_TEXT = "SYSTEM-TEXT 당신은 구청 민원 도우미입니다."
EVIDENCE_TEXT = "EVIDENCE-TEXT [1] 근로기준법 제8조(폭행의 금지)"
CHAT = [{"role": "system", "content": SYSTEM_TEXT},
        {"role": "system", "content": EVIDENCE_TEXT},
        {"role": "user", "content": "사장이 직원을 때리면?"}]


def _formats():
    from llama_cpp.llama_chat_format import LlamaChatCompletionHandlerRegistry

    return sorted(LlamaChatCompletionHandlerRegistry()._chat_handlers)


def test_every_builtin_format_gets_system_prompt_and_evidence():
    from llama_cpp.llama_chat_format import get_chat_completion_handler

    from jaju.backends.llamacpp import fit_template, render_prompt, system_mode_for

    rendered, merged, broken = [], [], []
    for name in _formats():
        handler = get_chat_completion_handler(name)
        if render_prompt(handler, [{"role": "user", "content": "x"}]) is None:
            continue  # not a prompt formatter (function calling, vision): nothing to render
        try:
            mode = system_mode_for(handler)
        except ValueError:  # e.g. open-orca maps roles "User"/"Assistant": every turn is lost
            broken.append(name)
            continue
        prompt = render_prompt(handler, fit_template(CHAT, mode))
        assert prompt is not None
        assert SYSTEM_TEXT in prompt and EVIDENCE_TEXT in prompt, (name, mode, prompt)
        assert "사장이 직원을 때리면?" in prompt, name
        rendered.append(name)
        if mode == "user":
            merged.append(name)
    assert {"chatml", "gemma", "llama-2", "llama-3", "qwen", "mistral-instruct"} <= set(rendered)
    assert "gemma" in merged and "chatml" not in merged
    assert len(rendered) >= 20 and len(broken) <= 2, (rendered, broken)


def test_fit_template_joins_turns_of_one_role():
    from jaju.backends.llamacpp import fit_template

    messages = [{"role": "user", "content": "a"}, {"role": "system", "content": "s"},
                {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]
    assert fit_template(messages, "system") == [
        {"role": "system", "content": "s"}, {"role": "user", "content": "a\n\nb"},
        {"role": "assistant", "content": "c"}]
    assert fit_template(messages, "user")[0] == {"role": "user", "content": "s\n\na\n\nb"}


@pytest.fixture(scope="module")
def gguf_variants(tmp_path_factory):
    from tinymodel import write_tiny_gguf

    base = tmp_path_factory.mktemp("templates")
    return {
        "none": write_tiny_gguf(base / "plain.gguf", chat_template=None),
        "gemma2": write_tiny_gguf(base / "gemma2.gguf", chat_template=GEMMA2_TEMPLATE),
        "long": write_tiny_gguf(base / "long.gguf", n_ctx=16384),
    }


async def _started(path, **settings):
    from jaju.backends.llamacpp import LlamaCppBackend
    from jaju.config import LlamaCppBackend as Settings

    backend = LlamaCppBackend("m", Settings.model_validate(
        {"type": "llamacpp", "path": str(path), "n_ctx": 2048, **settings}))
    await backend.start()
    return backend


def _request(messages=CHAT):
    from jaju.protocol import ChatRequest

    return ChatRequest.model_validate({"model": "m", "messages": messages})


@pytest.mark.parametrize("source, settings, expected, mode", [
    ("tiny", {}, "gguf", "system"),
    ("gemma2", {}, "gguf", "user"),
    ("tiny", {"chat_format": "gemma"}, "chat_format:gemma", "user"),
    ("tiny", {"chat_format": "llama-3"}, "chat_format:llama-3", "system"),
    ("none", {"chat_template": GEMMA2_TEMPLATE}, "config", "user"),
    ("none", {"chat_format": "chatml"}, "chat_format:chatml", "system"),
])
async def test_template_source_and_system_text_in_prompt(tiny_gguf, gguf_variants, source,
                                                         settings, expected, mode):
    path = tiny_gguf if source == "tiny" else gguf_variants[source]
    backend = await _started(path, **settings)
    try:
        assert backend.template_source == expected
        assert backend.system_mode == mode
        prompt = backend.render(_request())
        assert SYSTEM_TEXT in prompt and EVIDENCE_TEXT in prompt
        if expected == "config":
            assert "<start_of_turn>user\n" + SYSTEM_TEXT in prompt
    finally:
        await backend.aclose()


async def test_gguf_without_template_refuses_chat_but_embeds(gguf_variants, caplog):
    from jaju.errors import InvalidRequest

    backend = await _started(gguf_variants["none"])
    try:
        assert backend.template_source is None
        assert "chat_format" in (backend.template_warning or "")
        assert any("chat template" in r.getMessage() for r in caplog.records)
        with pytest.raises(InvalidRequest) as refused:
            await backend.complete(_request())
        assert refused.value.code == "no_chat_template"
        vectors, _ = await backend.embed(["안녕하세요"])
        assert len(vectors) == 1
    finally:
        await backend.aclose()


@pytest.mark.parametrize("settings, fragment", [
    ({"chat_format": "no-such-format"}, "unknown chat_format"),
    ({"chat_format": "open-orca"}, "leaves out the messages"),
    ({"chat_template": "{% for m in messages %}"}, "invalid chat_template"),
])
async def test_bad_template_settings_fail_at_start(tiny_gguf, settings, fragment):
    from jaju.errors import ConfigError

    with pytest.raises(ConfigError, match=fragment):
        await _started(tiny_gguf, **settings)


def test_chat_format_and_template_exclude_each_other(tiny_gguf):
    from pydantic import ValidationError

    from jaju.config import LlamaCppBackend as Settings

    with pytest.raises(ValidationError, match="not both"):
        Settings.model_validate({"type": "llamacpp", "path": str(tiny_gguf),
                                 "chat_format": "chatml", "chat_template": "{{ x }}"})


def test_evidence_reaches_a_gemma_model(make_client, gguf_variants, statutes_db, tmp_path):
    """The issue's case: chat_format "gemma" dropped the system message with the evidence
    (prompt_tokens 29). The tiny model's tokens are bytes, so prompt_tokens counts them."""
    import shutil

    home = tmp_path / "statutes"
    shutil.copytree(statutes_db, home)
    client = make_client({
        "home": str(home),
        "backends": {"g": {"type": "llamacpp", "path": str(gguf_variants["long"]),
                           "n_ctx": 16384, "chat_format": "gemma", "embedding": False}},
        "assistants": {"law": {"backend": "g", "knowledge": ["statutes"], "top_k": 2,
                               "system_prompt": "당신은 법률 안내 도우미입니다."}},
    })
    question = {"role": "user", "content": "사장이 직원을 때리면 처벌받나요?"}
    bare = client.post("/v1/chat/completions", json={
        "model": "g", "messages": [question], "max_tokens": 1})
    law = client.post("/v1/chat/completions", json={
        "model": "law", "messages": [question], "max_tokens": 1})
    assert bare.status_code == 200 and law.status_code == 200, law.text
    assert law.json()["citations"]
    bare_tokens = bare.json()["usage"]["prompt_tokens"]
    law_tokens = law.json()["usage"]["prompt_tokens"]
    assert law_tokens > bare_tokens + 500, (bare_tokens, law_tokens)
