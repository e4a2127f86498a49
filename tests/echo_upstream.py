"""An OpenAI-compatible upstream that records every request body it receives (one JSON line
each, to RECORD_FILE) and answers by echoing the last user message; streams come in 3-character
pieces so that placeholders and numbers are split across chunks.

Run: python echo_upstream.py PORT RECORD_FILE"""

from __future__ import annotations

import json
import sys

import uvicorn

RECORD = sys.argv[2] if len(sys.argv) > 2 else "/dev/null"


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    data = {"id": "echo", "object": "chat.completion.chunk", "created": 0, "model": "echo",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"].endswith("/health"):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    request = json.loads(body)
    with open(RECORD, "a", encoding="utf-8") as f:
        f.write(json.dumps(request, ensure_ascii=False) + "\n")
    last = next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")
    answer = f"들은 내용: {last}"
    if not request.get("stream"):
        payload = json.dumps({
            "id": "echo", "object": "chat.completion", "created": 0, "model": "echo",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
        }, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    await send({"type": "http.response.body", "more_body": True,
                "body": _chunk({"role": "assistant", "content": ""})})
    for i in range(0, len(answer), 3):
        await send({"type": "http.response.body", "more_body": True,
                    "body": _chunk({"content": answer[i:i + 3]})})
    usage = {"id": "echo", "object": "chat.completion.chunk", "created": 0, "model": "echo",
             "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 5,
                                      "total_tokens": 10}}
    await send({"type": "http.response.body",
                "body": _chunk({}, "stop") + b"data: " + json.dumps(usage).encode() + b"\n\n"
                + b"data: [DONE]\n\n"})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
