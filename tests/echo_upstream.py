"""An OpenAI-compatible upstream that records every request body it receives (one JSON line
each, to RECORD_FILE) and answers by echoing the last user message; streams come in 3-character
pieces so that placeholders and numbers are split across chunks.

Run: python echo_upstream.py PORT RECORD_FILE [DELAY_SECONDS]  (a delay before each answer
keeps requests in flight, e.g. while a test crashes the store)"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from upstream_kit import chunk, event, health, read_request, send_json, start_sse

RECORD = sys.argv[2] if len(sys.argv) > 2 else "/dev/null"
DELAY = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http" or await health(scope, send):
        return
    request = await read_request(receive, RECORD)
    last = next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")
    answer = f"들은 내용: {last}"
    if DELAY:
        await asyncio.sleep(DELAY)
    if not request.get("stream"):
        await send_json(send, {
            "id": "echo", "object": "chat.completion", "created": 0, "model": "echo",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
        })
        return
    await start_sse(send)
    await send({"type": "http.response.body", "more_body": True,
                "body": chunk({"role": "assistant", "content": ""}, model="echo")})
    for i in range(0, len(answer), 3):
        await send({"type": "http.response.body", "more_body": True,
                    "body": chunk({"content": answer[i:i + 3]}, model="echo")})
    usage = {"id": "echo", "object": "chat.completion.chunk", "created": 0, "model": "echo",
             "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 5,
                                      "total_tokens": 10}}
    await send({"type": "http.response.body",
                "body": chunk({}, "stop", model="echo") + event(usage) + b"data: [DONE]\n\n"})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
