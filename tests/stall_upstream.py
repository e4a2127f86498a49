"""An OpenAI-compatible upstream that starts a stream and then stalls: fault injection for the
`openai` backend's mid-stream timeout. Run: python stall_upstream.py PORT"""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn

from upstream_kit import health, start_sse


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http" or await health(scope, send):
        return
    await start_sse(send)
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "첫 조각"}, "finish_reason": None}]}
    await send({"type": "http.response.body", "more_body": True,
                "body": b"data: " + json.dumps(chunk).encode() + b"\n\n"})
    await asyncio.sleep(3600)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
