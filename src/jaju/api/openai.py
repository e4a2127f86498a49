"""OpenAI-compatible endpoints: /v1/models, /v1/chat/completions, /v1/embeddings.

Each handler: authenticate, count against the key's limits, parse, call the assistant, record
usage and audit (always, also on error or disconnect), answer in OpenAI's shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from jaju.api.auth import Caller, authenticate, get_state
from jaju.api.protocol import ChatRequest, EmbeddingRequest, estimate_tokens
from jaju.assistants.toolloop import ToolUse
from jaju.errors import ApiError, InvalidRequest, ValidationFailed
from jaju.guards.actions import PiiPolicy
from jaju.guards.gateway import ContentGate, PiiGate
from jaju.state import AppState
from jaju.store.sqlite import AuditEvent, UsageRecord
from jaju.tools.pii import ToolPii
from jaju.tools.policy import policy_for

router = APIRouter(prefix="/v1")
log = logging.getLogger("jaju")
T = TypeVar("T", bound=BaseModel)
CLIENT_CLOSED = 499


async def _parse(request: Request, model: type[T]) -> T:
    body = await request.body()
    if not body:
        raise InvalidRequest("요청 본문이 없습니다 / request body is required")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidRequest(f"요청 본문이 올바른 JSON이 아닙니다 / request body is not valid "
                             f"JSON: {e}", code="invalid_json") from e
    if not isinstance(data, dict):
        raise InvalidRequest("요청 본문은 JSON 객체여야 합니다 / request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise ValidationFailed(f"잘못된 요청 값 / invalid value for '{param}': {first['msg']}",
                               param=param, code="invalid_value") from e


class _Call:
    """Bookkeeping for one request: limits before, usage and audit after."""

    def __init__(self, state: AppState, caller: Caller, endpoint: str) -> None:
        self.state, self.caller, self.endpoint = state, caller, endpoint
        self.started = time.perf_counter()
        self.model: str | None = None
        self.stream = False
        if caller.key_id:
            state.limiter.check(caller.key_id, qpm=caller.qpm, tpm=caller.tpm)

    def finish(self, status: int, prompt_tokens: int = 0, completion_tokens: int = 0,
               error: str | None = None, prompt: Any = None, completion: str | None = None
               ) -> None:
        caller = self.caller
        if caller.key_id:
            self.state.limiter.spend_tokens(caller.key_id, prompt_tokens + completion_tokens,
                                            tpm=caller.tpm)
        store_content = self.state.settings.server.store_content
        usage = UsageRecord(
            endpoint=self.endpoint, status=status,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            tenant=caller.tenant, key_id=caller.key_id, model=self.model, stream=self.stream,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, error=error,
            prompt=json.dumps(prompt, ensure_ascii=False) if store_content and prompt else None,
            completion=completion if store_content else None,
        )
        outcome = "ok" if status < 400 else ("client_closed" if status == CLIENT_CLOSED
                                             else "error")
        audit = AuditEvent(caller.actor, self.endpoint, outcome, self.model,
                           {"status": status, "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens, "stream": self.stream,
                            **({"error": error} if error else {})})
        self.state.store.record(usage, audit)

    def fail(self, error: ApiError) -> None:
        self.finish(error.status_code, error=error.code or error.error_type)


def _begin(request: Request, endpoint: str) -> _Call:
    state = get_state(request)
    caller = authenticate(request)
    try:
        return _Call(state, caller, endpoint)
    except ApiError as e:  # rate limited: audited, not counted as usage
        state.store.audit(AuditEvent(caller.actor, endpoint, "denied", None,
                                     {"status": e.status_code, "reason": e.code}))
        raise


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    authenticate(request)
    state = get_state(request)
    return {"object": "list", "data": [_model_card(state, name) for name in state.models]}


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    authenticate(request)
    state = get_state(request)
    state.model(model_id)
    return _model_card(state, model_id)


def _model_card(state: AppState, name: str) -> dict[str, Any]:
    assistant = state.models[name]
    caps = assistant.backend.capabilities
    return {"id": name, "object": "model", "created": 0, "owned_by": assistant.owned_by,
            "jaju": {"backend": assistant.backend.name, "tools": caps.tools,
                     "json_schema": caps.json_schema, "embeddings": caps.embeddings,
                     "description": assistant.description,
                     "available": assistant.backend.name not in state.failed}}


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    call = _begin(request, "chat.completions")
    try:
        body = await _parse(request, ChatRequest)
        call.model, call.stream = body.model, body.stream
        assistant = call.state.model(body.model)
        gate = _pii_gate(call, body.model)
        content = _content_gate(call, body.model)
        if content is not None:
            await asyncio.to_thread(content.inbound, body)
        if gate is not None:
            body = gate.inbound(body)
        tools = _tool_use(call, body, gate) if assistant.tools else None
        if body.stream:
            chunks = assistant.stream(body, call.caller.tenant, tools)
            if gate is not None:
                chunks = gate.outbound_stream(chunks)
            if content is not None:
                chunks = content.outbound_stream(chunks)
            return await _stream(call, chunks, body)
        result = await assistant.complete(body, call.caller.tenant, tools)
        if gate is not None:
            result = gate.outbound(result)
        if content is not None:
            result = await asyncio.to_thread(content.outbound, result)
    except ApiError as e:
        call.fail(e)
        raise
    usage = result.get("usage") or {}
    message = (result.get("choices") or [{}])[0].get("message") or {}
    call.finish(200, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                prompt=[m.model_dump(exclude_none=True) for m in body.messages],
                completion=message.get("content"))
    return JSONResponse(result)


def _tool_use(call: _Call, body: ChatRequest, gate: PiiGate | None) -> ToolUse:
    """The rules for tools the assistant runs in this request: the tenant's policy, the write
    tools the request confirms, and the PII guard sharing the chat's placeholders."""
    state, caller = call.state, call.caller
    return ToolUse(state.hub.registry, policy_for(state.settings, caller.tenant),
                   caller.tenant, caller.actor, frozenset(body.confirm_tools or ()),
                   ToolPii(gate.policy, gate.vault) if gate is not None else None)


def _pii_gate(call: _Call, model: str) -> PiiGate | None:
    policy = PiiPolicy.from_mapping(call.state.settings.pii_actions(call.caller.tenant, model))
    if not policy.active:
        return None
    return PiiGate(policy, call.state.store, call.caller.actor, model)


def _content_gate(call: _Call, model: str) -> ContentGate | None:
    policy = call.state.settings.content_policy(call.caller.tenant, model)
    if policy is None or policy.action == "allow":
        return None
    return ContentGate(call.state.content_guard, policy, call.state.store, call.caller.actor,
                       model)


async def _stream(call: _Call, chunks: AsyncGenerator[dict[str, Any], None],
                  body: ChatRequest) -> Response:
    """Start the SSE response once the first chunk is in hand, so that a backend that fails
    before answering gets a proper HTTP error instead of a broken stream."""
    first = await anext(chunks)

    async def events() -> AsyncIterator[bytes]:
        status, error, parts, last = CLIENT_CLOSED, None, [], b""
        usage: dict[str, Any] = {}
        pending: dict[str, Any] | None = first
        try:
            while pending is not None:
                data = pending
                if data.get("usage"):
                    usage = data["usage"]
                    if not body.include_usage:
                        data = {k: v for k, v in data.items() if k != "usage"}
                        if not data.get("choices"):
                            data = {}
                for choice in data.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        parts.append(content)
                if data:
                    yield b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"
                pending = await anext(chunks, None)
            status, last = 200, b"data: [DONE]\n\n"
        except ApiError as e:
            status, error = e.status_code, e.code or e.error_type
            last = b"data: " + json.dumps(e.to_dict(), ensure_ascii=False).encode() + b"\n\n"
        except Exception as e:  # a bug, not a client's or upstream's fault: still end cleanly
            log.exception("stream failed")
            internal = ApiError(f"내부 오류 / internal error: {type(e).__name__}")
            status, error = 500, "internal_error"
            last = b"data: " + json.dumps(internal.to_dict()).encode() + b"\n\n"
        finally:
            await chunks.aclose()  # stops generation / closes the upstream connection
            text = "".join(parts)
            prompt_tokens = int(usage.get("prompt_tokens") or
                                sum(estimate_tokens(m.text) for m in body.messages))
            completion_tokens = int(usage.get("completion_tokens") or
                                    (len(parts) if status == CLIENT_CLOSED else
                                     estimate_tokens(text)))
            call.finish(status, prompt_tokens, completion_tokens, error,
                        prompt=[m.model_dump(exclude_none=True) for m in body.messages],
                        completion=text)
        yield last  # after the record is written: a client that saw the end sees the usage

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    call = _begin(request, "embeddings")
    try:
        body = await _parse(request, EmbeddingRequest)
        call.model = body.model
        try:
            texts = body.texts
        except ValueError as e:
            raise InvalidRequest(str(e), param="input") from e
        if not texts or any(not t for t in texts):
            raise InvalidRequest("input은 비어 있지 않은 문자열이어야 합니다 / input must be "
                                 "non-empty text", param="input")
        vectors, tokens = await call.state.model(body.model).embed(texts)
    except ApiError as e:
        call.fail(e)
        raise
    call.finish(200, tokens)
    return JSONResponse({
        "object": "list",
        "data": [{"object": "embedding", "index": i,
                  "embedding": _base64(v) if body.encoding_format == "base64" else v}
                 for i, v in enumerate(vectors)],
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })


def _base64(vector: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32, base64 (the `openai` client's default)."""
    import base64
    import struct

    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
