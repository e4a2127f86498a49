"""What the test upstreams (echo, tool, stall) share: reading a request body, answering
/health, and writing JSON and server-sent events in raw ASGI."""

from __future__ import annotations

import json
from typing import Any


async def read_body(receive: Any) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def read_request(receive: Any, record: str) -> dict[str, Any]:
    """The JSON request, appended as one line to the `record` file for the test to inspect."""
    request: dict[str, Any] = json.loads(await read_body(receive))
    with open(record, "a", encoding="utf-8") as f:
        f.write(json.dumps(request, ensure_ascii=False) + "\n")
    return request


async def health(scope: Any, send: Any) -> bool:
    """Answer /health with 200 ok; False for any other path."""
    if not scope["path"].endswith("/health"):
        return False
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
    return True


async def send_json(send: Any, payload: dict[str, Any]) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body",
                "body": json.dumps(payload, ensure_ascii=False).encode()})


async def start_sse(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})


def event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def chunk(delta: dict[str, Any], finish: str | None = None, model: str = "t") -> bytes:
    return event({"id": model, "object": "chat.completion.chunk", "created": 0, "model": model,
                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
