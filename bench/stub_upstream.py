"""A fast OpenAI-compatible stub upstream for gateway benchmarks (raw ASGI, no framework).

Run: python bench/stub_upstream.py PORT. Chat answers are fixed; streams send CHUNKS pieces,
a usage chunk when asked, and [DONE].
"""

from __future__ import annotations

import json
import sys

import uvicorn

CHUNKS = 16
WORDS = ["안녕하세요", " jaju", " 벤치마크", " 응답"]


def _completion(model: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": "".join(WORDS * 4)}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": CHUNKS, "total_tokens": 12 + CHUNKS},
    }, ensure_ascii=False).encode()


def _chunk(model: str, delta: dict, finish: str | None = None) -> bytes:
    data = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"].endswith("/models"):
        payload = json.dumps({"object": "list", "data": [{"id": "stub", "object": "model",
                                                          "created": 0, "owned_by": "stub"}]})
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload.encode()})
        return
    request = json.loads(body or b"{}")
    model = request.get("model", "stub")
    if not request.get("stream"):
        payload = _completion(model)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    await send({"type": "http.response.body", "more_body": True,
                "body": _chunk(model, {"role": "assistant", "content": ""})})
    for i in range(CHUNKS):
        await send({"type": "http.response.body", "more_body": True,
                    "body": _chunk(model, {"content": WORDS[i % len(WORDS)]})})
    tail = _chunk(model, {}, "stop")
    if (request.get("stream_options") or {}).get("include_usage"):
        usage = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0,
                 "model": model, "choices": [],
                 "usage": {"prompt_tokens": 12, "completion_tokens": CHUNKS,
                           "total_tokens": 12 + CHUNKS}}
        tail += b"data: " + json.dumps(usage).encode() + b"\n\n"
    await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n"})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False)
