"""The OpenAI-compatible API in-process, on the embedded `extractive` default."""

from __future__ import annotations

import json
import sqlite3
import time

from jaju.pipeline import KEY_CACHE_SECONDS
from jaju.store import open_store

CHAT = {"model": "extractive", "messages": [{"role": "user", "content": "안녕하세요?"}]}


def test_health_and_models(make_client):
    client = make_client()
    assert client.get("/health").json()["status"] == "ok"
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["extractive"]
    assert client.get("/v1/models/extractive").json()["id"] == "extractive"
    assert client.get("/v1/models/nope").status_code == 404


def test_chat_without_model_explains_in_korean(make_client):
    client = make_client()
    r = client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "extractive"
    answer = body["choices"][0]["message"]["content"]
    assert "생성 모델이 설정되어 있지 않습니다" in answer
    assert "jaju serve --model" in answer
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == (body["usage"]["prompt_tokens"]
                                             + body["usage"]["completion_tokens"])


def _events(response) -> list[str]:
    return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


def test_streaming_ends_with_done_and_usage_only_when_asked(make_client):
    client = make_client()
    with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _events(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert not any("usage" in c for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.startswith("생성 모델이")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"

    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        chunks = [json.loads(e) for e in _events(r)[:-1]]
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_max_tokens_cuts_answer(make_client):
    client = make_client()
    r = client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 5})
    assert r.json()["choices"][0]["finish_reason"] == "length"


def test_a_bug_on_the_chat_path_is_a_500_in_openai_shape_and_logged(make_client, caplog):
    """The chat and embeddings endpoints are served before the framework's stack (jaju.app.Jaju):
    an unexpected exception there still answers as the app's handlers do, and is logged."""
    client = make_client({"server": {"max_body_bytes": 2000}})
    gateway = client.app.state.jaju.gateway

    async def broken(*_, **__):
        raise RuntimeError("a bug")

    gateway.chat = gateway.embed = broken
    for path in ("/v1/chat/completions", "/v1/embeddings"):
        r = client.post(path, json=CHAT)
        assert r.status_code == 500, r.text
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        assert "a bug" not in r.text  # the exception's text stays in the log
    assert "unexpected error" in caplog.text and "RuntimeError: a bug" in caplog.text
    r = client.post("/v1/chat/completions", content=b"x" * 3000,
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["type"]  # the body limit applies


def test_error_shapes(make_client):
    client = make_client({"server": {"max_body_bytes": 2000}})
    post = client.post

    r = post("/v1/chat/completions", content=b"{not json",
             headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert r.json()["error"]["code"] == "invalid_json"

    r = post("/v1/chat/completions", json={**CHAT, "temperature": "hot"})
    assert r.status_code == 422
    assert r.json()["error"]["param"] == "temperature"

    r = post("/v1/chat/completions", json={"model": "extractive", "messages": []})
    assert r.status_code == 422

    r = post("/v1/chat/completions", json={**CHAT, "model": "gpt-4"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert "models: extractive" in r.json()["error"]["message"]  # what there is instead

    r = post("/v1/chat/completions", json={**CHAT, "messages": [
        {"role": "user", "content": "가" * 3000}]})
    assert r.status_code == 413
    assert "요청 본문이 너무 큽니다" in r.content.decode("utf-8")  # UTF-8, not \\uXXXX escapes

    for field, value in (("max_tokens", "5"), ("max_tokens", True), ("max_tokens", 5.0),
                         ("max_tokens", 2**40), ("seed", 2**70), ("stream", "true"),
                         ("stream", 1), ("n", "1")):
        r = post("/v1/chat/completions", json={**CHAT, field: value})  # as OpenAI's API: strict
        assert r.status_code == 422, (field, value, r.text)
        assert r.json()["error"]["param"] == field

    r = client.delete("/v1/chat/completions")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert "메서드" in r.json()["error"]["message"]

    r = post("/v1/chat/completions", json={**CHAT, "tool_choice": "required", "tools": [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "unsupported_feature"

    r = post("/v1/embeddings", json={"model": "extractive", "input": "안녕"})
    assert r.status_code == 400
    assert client.get("/v1/nothing").status_code == 404
    # the server keeps serving
    assert post("/v1/chat/completions", json=CHAT).status_code == 200


def test_keys_required_once_one_exists(make_client, home):
    client = make_client()
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 200  # no keys yet
    store = open_store(home / "jaju.db")
    secret, key = store.create_key("acme", actor="test")
    r = client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
    r = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    ok = {"Authorization": f"Bearer {secret}"}
    assert client.post("/v1/chat/completions", json=CHAT, headers=ok).status_code == 200
    assert client.get("/v1/models").status_code == 401
    store.revoke_key(key.id, actor="test")  # as another process would (`jaju keys revoke`)
    keys = client.app.state.jaju.gateway.keys
    keys.clock = lambda: time.monotonic() + KEY_CACHE_SECONDS  # the cache's bound has passed
    r = client.post("/v1/chat/completions", json=CHAT, headers=ok)
    assert r.status_code == 401
    assert "revoked" in r.json()["error"]["message"]
    store.close()


def test_key_revoked_elsewhere_is_refused_within_the_cache_bound(make_client, home):
    """Valid keys are held for KEY_CACHE_SECONDS (no database read per request): a key revoked
    by another process or replica is still accepted until then, and refused after."""
    client = make_client()
    store = open_store(home / "jaju.db")
    secret, key = store.create_key("acme", actor="test")
    ok = {"Authorization": f"Bearer {secret}"}
    now = [1000.0]
    client.app.state.jaju.gateway.keys.clock = lambda: now[0]
    assert client.post("/v1/chat/completions", json=CHAT, headers=ok).status_code == 200
    store.revoke_key(key.id, actor="test")
    now[0] += KEY_CACHE_SECONDS / 2
    assert client.post("/v1/chat/completions", json=CHAT, headers=ok).status_code == 200
    now[0] += KEY_CACHE_SECONDS / 2
    r = client.post("/v1/chat/completions", json=CHAT, headers=ok)
    assert r.status_code == 401
    assert "revoked" in r.json()["error"]["message"]
    store.close()


def test_key_revoked_through_this_server_is_refused_at_once(make_client, home):
    client = make_client()
    store = open_store(home / "jaju.db")
    admin, _ = store.create_key("ops", admin=True, actor="test")
    secret, key = store.create_key("acme", actor="test")
    store.close()
    ok = {"Authorization": f"Bearer {secret}"}
    client.app.state.jaju.gateway.keys.clock = lambda: 1000.0  # the cache never expires here
    assert client.post("/v1/chat/completions", json=CHAT, headers=ok).status_code == 200
    assert client.get("/v1/models", headers=ok).status_code == 200  # the key is now cached
    r = client.post(f"/v1/keys/{key.id}/revoke", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200
    r = client.post("/v1/chat/completions", json=CHAT, headers=ok)
    assert r.status_code == 401
    assert "revoked" in r.json()["error"]["message"]


def test_requests_per_minute_limit(make_client, home):
    client = make_client()
    store = open_store(home / "jaju.db")
    secret, _ = store.create_key("acme", qpm=2, actor="test")
    other, _ = store.create_key("beta", qpm=2, actor="test")
    store.close()
    h = {"Authorization": f"Bearer {secret}"}
    assert client.post("/v1/chat/completions", json=CHAT, headers=h).status_code == 200
    assert client.post("/v1/chat/completions", json=CHAT, headers=h).status_code == 200
    r = client.post("/v1/chat/completions", json=CHAT, headers=h)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json()["error"]["code"] == "requests_per_minute"
    # another key is not affected
    h2 = {"Authorization": f"Bearer {other}"}
    assert client.post("/v1/chat/completions", json=CHAT, headers=h2).status_code == 200


def test_tokens_per_minute_limit(make_client, home):
    client = make_client()
    store = open_store(home / "jaju.db")
    secret, _ = store.create_key("acme", tpm=50, actor="test")
    store.close()
    h = {"Authorization": f"Bearer {secret}"}
    # the answer alone is well over 50 tokens: the first request passes, the next is refused
    assert client.post("/v1/chat/completions", json=CHAT, headers=h).status_code == 200
    r = client.post("/v1/chat/completions", json=CHAT, headers=h)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "tokens_per_minute"
    assert "Retry-After" in r.headers


def test_usage_and_audit_recorded_without_content(make_client, home):
    client = make_client()
    client.post("/v1/chat/completions", json=CHAT)
    client.post("/v1/chat/completions", json={**CHAT, "model": "missing"})
    with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        _events(r)
    db = sqlite3.connect(home / "jaju.db")
    rows = db.execute("SELECT tenant, model, status, stream, prompt_tokens, completion_tokens, "
                      "latency_ms, prompt, completion FROM usage ORDER BY id").fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("extractive", 200, 0), ("missing", 404, 0), ("extractive", 200, 1)]
    assert all(r[0] == "local" for r in rows)
    assert rows[0][4] > 0 and rows[0][5] > 0 and rows[2][5] > 0
    assert all(r[7] is None and r[8] is None for r in rows)  # content not stored by default
    actions = [r[0] for r in db.execute("SELECT action FROM audit ORDER BY seq")]
    assert actions == ["chat.completions"] * 3
    store = open_store(home / "jaju.db")
    assert store.verify_audit() == (3, [])
    store.close()


def test_content_stored_when_configured(make_client, home):
    client = make_client({"server": {"store_content": True}})
    client.post("/v1/chat/completions", json=CHAT)
    db = sqlite3.connect(home / "jaju.db")
    prompt, completion = db.execute("SELECT prompt, completion FROM usage").fetchone()
    assert "안녕하세요?" in prompt
    assert completion.startswith("생성 모델이")


def test_assistant_applies_system_prompt_and_defaults(make_client):
    client = make_client({"assistants": {"helper": {
        "backend": "extractive", "system_prompt": "친절하게", "max_tokens": 3}}})
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids == ["extractive", "helper"]
    r = client.post("/v1/chat/completions", json={**CHAT, "model": "helper"})
    assert r.json()["model"] == "helper"
    assert r.json()["choices"][0]["finish_reason"] == "length"  # max_tokens default applied


def test_stop_sequence(make_client):
    client = make_client()
    r = client.post("/v1/chat/completions", json={**CHAT, "stop": ["extractive"]})
    text = r.json()["choices"][0]["message"]["content"]
    assert "extractive" not in text and text.startswith("생성 모델이")
    assert r.json()["choices"][0]["finish_reason"] == "stop"


def test_health_names_a_missing_knowledge_base(make_client, home, tmp_path):
    client = make_client({"assistants": {"law": {"backend": "extractive",
                                                 "knowledge": ["statutes"]}}})
    health = client.get("/health").json()
    assert health["status"] == "degraded"
    assert any("'statutes' does not exist" in w for w in health["warnings"])
    doc = tmp_path / "법.md"
    doc.write_text("# 법\n\n제1조 목적\n", encoding="utf-8")
    from conftest import run_jaju

    assert run_jaju("ingest", str(doc), "--kb", "statutes", "--shared",
                    home=home).returncode == 0
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["warnings"] == []


async def test_stream_writes_join_ready_chunks_and_send_a_lone_one_at_once():
    """SSE chunks that are ready together (one upstream read) go out as one write; a chunk that
    comes alone (a model generating token by token) is not held back; an error still ends the
    stream, and a client that goes away closes the source (which stops generation)."""
    import asyncio

    import pytest

    from jaju.api.openai import coalesced

    gate, closed = asyncio.Event(), asyncio.Event()

    async def events():
        try:
            yield b"a"
            yield b"b"
            await gate.wait()
            yield b"c"
            raise RuntimeError("upstream broke")
        finally:
            closed.set()

    out = coalesced(events())
    assert await anext(out) == b"ab"
    gate.set()
    assert await anext(out) == b"c"
    with pytest.raises(RuntimeError, match="upstream broke"):
        await anext(out)

    async def endless():
        try:
            while True:
                yield b"x"
                await asyncio.sleep(0.001)
        finally:
            closed.set()

    closed.clear()
    out = coalesced(endless())
    assert (await anext(out)).startswith(b"x")
    await out.aclose()  # the client went away
    assert closed.is_set()


def test_sse_event_writes_utf8_and_what_orjson_refuses():
    """Stream chunks are written by orjson (Korean as UTF-8, not \\u escapes); a value it
    refuses (an integer past 64 bits) still goes out, written by the standard library."""
    import json

    from jaju.api.errors import sse_event

    event = sse_event({"choices": [{"delta": {"content": "안녕하세요"}}]})
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    assert "안녕하세요".encode() in event
    assert json.loads(event[6:]) == {"choices": [{"delta": {"content": "안녕하세요"}}]}
    assert json.loads(sse_event({"n": 2**70})[6:]) == {"n": 2**70}


def test_a_tenant_sees_its_audit_records_beside_a_busy_neighbour(make_client, home):
    """GET /v1/audit?limit=5 with a tenant key: its newest records, though another tenant
    wrote far more than limit × 20 records since."""
    client = make_client()
    store = open_store(home / "jaju.db")
    quiet, _ = store.create_key("quiet", actor="test")
    busy, _ = store.create_key("busy", actor="test")
    store.close()
    for _ in range(3):
        assert client.post("/v1/chat/completions", json=CHAT,
                           headers={"Authorization": f"Bearer {quiet}"}).status_code == 200
    state = client.app.state.jaju
    from jaju.store import AuditEvent

    for i in range(150):
        state.store.audit(AuditEvent("busy/key_x", "chat.completions", "ok", None, {"i": i}))
    state.store.flush()
    r = client.get("/v1/audit?limit=5", headers={"Authorization": f"Bearer {quiet}"})
    rows = r.json()["data"]
    assert len(rows) == 3 and all(row["actor"].startswith("quiet/") for row in rows), rows
    r = client.get("/v1/audit?limit=2", headers={"Authorization": f"Bearer {busy}"})
    assert [row["actor"] for row in r.json()["data"]] == ["busy/key_x"] * 2
