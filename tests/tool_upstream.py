"""An OpenAI-compatible upstream that behaves like a model which obeys any instruction it reads
(the worst case for tool safety), speaking the real protocol, streaming included.

In the first round (the last message is the user's), it calls tools named in the prompt:
a line `CALL name {"json": "args"}` anywhere, or Korean "<name> 도구를 호출하라" (arguments {}).
After tool results come back it answers "결과: <the tool messages>". Each request body is
appended to RECORD_FILE. Tool calls stream in fragments, as OpenAI's do.

Run: python tool_upstream.py PORT RECORD_FILE"""

from __future__ import annotations

import json
import re
import sys

import uvicorn

RECORD = sys.argv[2] if len(sys.argv) > 2 else "/dev/null"


def _text(m: dict) -> str:
    c = m.get("content") or ""
    return c if isinstance(c, str) else "".join(p.get("text", "") for p in c)


def decide(request: dict) -> tuple[list[dict], str]:
    messages = request["messages"]
    if messages[-1]["role"] == "tool" or not request.get("tools"):
        results = [_text(m) for m in messages if m["role"] == "tool"]
        return [], "결과: " + " | ".join(results) if results else "도구 없이 답합니다."
    prompt = "\n".join(_text(m) for m in messages)
    calls = []
    for name, args in re.findall(r"CALL (\S+) (\{.*\})", prompt):
        calls.append((name, args))
    for name in re.findall(r"(\S+) 도구를 호출하라", prompt):
        calls.append((name, "{}"))
    return [{"id": f"call_{i}", "type": "function",
             "function": {"name": n, "arguments": a}} for i, (n, a) in enumerate(calls)], ""


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    data = {"id": "t", "object": "chat.completion.chunk", "created": 0, "model": "t",
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
    calls, answer = decide(request)
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    if not request.get("stream"):
        message = {"role": "assistant", "content": answer or None}
        if calls:
            message["tool_calls"] = calls
        payload = json.dumps({
            "id": "t", "object": "chat.completion", "created": 0, "model": "t",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": usage}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    parts = [_chunk({"role": "assistant", "content": ""})]
    for i, call in enumerate(calls):
        args = call["function"]["arguments"]
        half = len(args) // 2
        parts.append(_chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                             "function": {"name": call["function"]["name"],
                                                          "arguments": args[:half]}}]}))
        parts.append(_chunk({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]}))
    for i in range(0, len(answer), 4):
        parts.append(_chunk({"content": answer[i:i + 4]}))
    parts.append(_chunk({}, "tool_calls" if calls else "stop"))
    tail = {"id": "t", "object": "chat.completion.chunk", "created": 0, "model": "t",
            "choices": [], "usage": usage}
    parts.append(b"data: " + json.dumps(tail).encode() + b"\n\n" + b"data: [DONE]\n\n")
    for i, part in enumerate(parts):
        await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
