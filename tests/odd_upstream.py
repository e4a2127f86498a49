"""An OpenAI-compatible upstream that answers wrongly but politely: `[]` instead of a
completion, and a stream that is only `data: [DONE]`. jaju must answer 502, not 500.

Run: python odd_upstream.py PORT"""

from __future__ import annotations

import sys

import uvicorn

from upstream_kit import health, read_body, start_sse


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http" or await health(scope, send):
        return
    body = await read_body(receive)
    if b'"stream": true' in body or b'"stream":true' in body:
        await start_sse(send)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"[]"})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
