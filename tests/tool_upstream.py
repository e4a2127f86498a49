"""An OpenAI-compatible upstream that behaves like a model which obeys any instruction it reads
(the worst case for tool safety), speaking the real protocol, streaming included.

In the first round (the last message is the user's), it calls tools named in the prompt:
a line `CALL name {"json": "args"}` anywhere, or Korean "<name> 도구를 호출하라" (arguments {}).
After tool results come back it answers "결과: <the tool messages>". Each request body is
appended to RECORD_FILE. Tool calls stream in fragments, as OpenAI's do.

Run: python tool_upstream.py PORT RECORD_FILE"""

from __future__ import annotations

import re
import sys

import uvicorn

from upstream_kit import chunk, event, health, read_request, send_json, start_sse

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


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http" or await health(scope, send):
        return
    request = await read_request(receive, RECORD)
    calls, answer = decide(request)
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    if not request.get("stream"):
        message = {"role": "assistant", "content": answer or None}
        if calls:
            message["tool_calls"] = calls
        await send_json(send, {
            "id": "t", "object": "chat.completion", "created": 0, "model": "t",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": usage})
        return
    await start_sse(send)
    parts = [chunk({"role": "assistant", "content": ""})]
    for i, call in enumerate(calls):
        args = call["function"]["arguments"]
        half = len(args) // 2
        parts.append(chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                            "function": {"name": call["function"]["name"],
                                                         "arguments": args[:half]}}]}))
        parts.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]}))
    for i in range(0, len(answer), 4):
        parts.append(chunk({"content": answer[i:i + 4]}))
    parts.append(chunk({}, "tool_calls" if calls else "stop"))
    parts.append(event({"id": "t", "object": "chat.completion.chunk", "created": 0, "model": "t",
                        "choices": [], "usage": usage}) + b"data: [DONE]\n\n")
    for i, part in enumerate(parts):
        await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
