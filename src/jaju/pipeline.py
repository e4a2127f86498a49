"""`Gateway`: one request's way through jaju, the same for every entry point.

    limits ─▶ parse ─▶ guards.inbound ─▶ assistant (knowledge, tools; every backend request
    passes guards.upstream) ─▶ guards.outbound ─▶ usage + audit

The HTTP routers, `jaju ask`, the MCP server and the console all call a `Gateway` method with a
`Caller`; none of them assembles the steps itself. Every request is recorded — on success, on
error, and when the client goes away (status 499) — as one usage row and one audit record.

Streaming: `chat` returns an async iterator of chunk dicts once the first chunk is in hand, so
a backend that fails up front raises a real error (and HTTP status). A failure after that is
the iterator's last item, `{"error": {...}}`; the record is written before that item (or the
iterator's end), so a client that saw the end can already see its usage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from jaju import jsonio
from jaju.assistants import Assistant, Turn
from jaju.assistants.toolloop import ToolUse
from jaju.caller import Caller
from jaju.config import Settings
from jaju.errors import (
    ApiError,
    InvalidRequest,
    ModelNotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    ToolError,
    UpstreamError,
    UpstreamUnavailable,
    ValidationFailed,
    as_api_error,
)
from jaju.guards.base import GuardChain, GuardSet
from jaju.knowledge.index import KnowledgeIndex
from jaju.limits import Limiter
from jaju.protocol import (
    MAX_NAME,
    ChatRequest,
    CheckRequest,
    EmbeddingRequest,
    SearchRequest,
    estimate_tokens,
    has_control,
    shown_name,
)
from jaju.store import ApiKey, AuditEvent, AuditProblem, Store, UsageRecord
from jaju.store.base import hash_key
from jaju.tools.model import Tool, ToolContext
from jaju.tools.policy import policy_for
from jaju.tools.registry import ToolRegistry

log = logging.getLogger("jaju")
T = TypeVar("T", bound=BaseModel)
CLIENT_CLOSED = 499

ChatStream = AsyncGenerator[dict[str, Any], None]
"""A started streaming answer: `chat.completion.chunk` dicts, then possibly `{"error": ...}`."""


MAX_DEPTH = 64
"""Deepest JSON nesting accepted in a request body."""


def parse(body: bytes | str | dict[str, Any] | T, model: type[T]) -> T:
    """A request body as `model`: 400 for what is not a JSON object (or nests deeper than
    MAX_DEPTH, or holds text that is not valid Unicode), 422 for a bad field."""
    if isinstance(body, model):
        return body
    data: Any = body
    if isinstance(body, bytes | str):
        if not body:
            raise InvalidRequest("요청 본문이 없습니다 / request body is required")
        try:
            data = jsonio.loads(body)
            if _SURROGATE.search(body if isinstance(body, bytes) else body.encode()):
                json.dumps(data, ensure_ascii=False).encode("utf-8")  # a lone one fails here
        except (ValueError, UnicodeError, RecursionError) as e:
            raise InvalidRequest(f"요청 본문이 올바른 JSON이 아닙니다 / request body is not valid "
                                 f"JSON: {str(e)[:200]}", code="invalid_json") from e
        if _may_nest_deeper(body) and _depth(data) > MAX_DEPTH:
            raise InvalidRequest(f"요청 본문의 중첩이 너무 깊습니다 / request body nests deeper "
                                 f"than {MAX_DEPTH} levels", code="too_deep")
    if not isinstance(data, dict):
        raise InvalidRequest("요청 본문은 JSON 객체여야 합니다 / request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise ValidationFailed(f"잘못된 요청 값 / invalid value for '{param}': {first['msg']}",
                               param=param, code="invalid_value") from e


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _may_nest_deeper(body: bytes | str) -> bool:
    """Whether `body` holds more than MAX_DEPTH brackets at all (counted in C): when it does
    not, it cannot nest deeper, and the walk over every value of the parsed body is skipped."""
    if isinstance(body, str):
        return body.count("{") + body.count("[") > MAX_DEPTH
    return body.count(b"{") + body.count(b"[") > MAX_DEPTH


def _depth(data: Any) -> int:
    """How deep lists and objects nest in parsed JSON."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
            stack += [(v, depth + 1) for v in (value.values() if isinstance(value, dict)
                                                else value)]
    return deepest


class Call:
    """Bookkeeping for one request: counted against the caller's limits when it begins, one
    usage row and one audit record (in one transaction) when it ends."""

    def __init__(self, gateway: Gateway, caller: Caller, endpoint: str) -> None:
        self.gateway, self.caller, self.endpoint = gateway, caller, endpoint
        self.started = time.perf_counter()
        self.model: str | None = None
        self.stream = False
        self.done = False

    def record(self, status: int, prompt_tokens: int = 0, completion_tokens: int = 0,
               error: str | None = None, prompt: Any = None, completion: str | None = None,
               outcome: str | None = None) -> Future[None] | None:
        """Queue the usage row and audit record (once); the future resolves on commit."""
        if self.done:
            return None
        self.done = True
        caller, gateway = self.caller, self.gateway
        if caller.key_id:
            gateway.limiter.spend_tokens(caller.key_id, prompt_tokens + completion_tokens,
                                         tpm=caller.tpm)
        store_content = gateway.settings.server.store_content
        usage = UsageRecord(
            endpoint=self.endpoint, status=status,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            tenant=caller.tenant, key_id=caller.key_id, model=self.model, stream=self.stream,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, error=error,
            prompt=_prompt_json(prompt) if store_content and prompt else None,
            completion=completion if store_content else None,
        )
        outcome = outcome or ("ok" if status < 400 else
                              "client_closed" if status == CLIENT_CLOSED else "error")
        audit = AuditEvent(caller.actor, self.endpoint, outcome, self.model,
                           {"status": status, "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens, "stream": self.stream,
                            **({"error": error} if error else {})})
        return gateway.store.record(usage, audit)

    async def finish(self, status: int, prompt_tokens: int = 0, completion_tokens: int = 0,
                     error: str | None = None, prompt: Any = None,
                     completion: str | None = None, outcome: str | None = None) -> None:
        """Record the request and wait until the record is committed."""
        await durable(self.record(status, prompt_tokens, completion_tokens, error, prompt,
                                  completion, outcome))

    async def fail(self, error: BaseException) -> None:
        api = as_api_error(error)
        await self.finish(api.status_code, error=api.code or api.error_type)


def _prompt_json(prompt: Any) -> str:
    """The prompt as stored with `store_content` (messages are dumped only then)."""
    if isinstance(prompt, list):
        prompt = [m.model_dump(exclude_none=True) if isinstance(m, BaseModel) else m
                  for m in prompt]
    return json.dumps(prompt, ensure_ascii=False)


async def durable(future: Future[None] | None) -> None:
    """Wait for a record's commit; a store that stays unreachable makes the request a 503
    (nothing is acknowledged that was not recorded)."""
    if future is None:
        return
    try:
        await asyncio.wrap_future(future)
    except Exception as e:
        raise ServiceUnavailable("사용 기록을 저장하지 못했습니다 / the request could not be "
                                 f"recorded: the store is unavailable ({type(e).__name__})",
                                 code="store_unavailable") from e


KEY_CACHE_SECONDS = 2.0
"""How long a key found in the store is trusted without asking again. A key revoked through
this process is refused at once; one revoked elsewhere (another replica, `jaju keys revoke`)
within this many seconds — the same bound as plugin switches."""
KEY_CACHE_SIZE = 10_000
"""Most keys held; past it the cache starts empty again (unknown keys are never held)."""


class KeyCache:
    """Valid keys by their secret's hash, each trusted for `ttl` seconds: the request path
    then needs no database read (and no thread hop) for a key it saw a moment ago."""

    def __init__(self, ttl: float = KEY_CACHE_SECONDS, size: int = KEY_CACHE_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._keys: dict[str, tuple[float, ApiKey]] = {}

    def get(self, digest: str) -> ApiKey | None:
        hit = self._keys.get(digest)
        if hit is None:
            return None
        if self.clock() - hit[0] >= self.ttl:
            del self._keys[digest]
            return None
        return hit[1]

    def put(self, digest: str, key: ApiKey) -> None:
        if key.revoked_at is not None or self.ttl <= 0:
            return
        if len(self._keys) >= self.size:
            self._keys.clear()
        self._keys[digest] = (self.clock(), key)

    def forget(self, key_id: str) -> None:
        """Drop a key by its id or prefix (as `revoke_key` names it)."""
        for digest, (_, key) in list(self._keys.items()):
            if key_id in (key.id, key.prefix):
                del self._keys[digest]


class Gateway:
    def __init__(self, *, settings: Settings, store: Store, limiter: Limiter,
                 models: dict[str, Assistant], failed: dict[str, str], guards: GuardSet,
                 tools: ToolRegistry, knowledge: Callable[[], KnowledgeIndex]) -> None:
        self.settings, self.store, self.limiter = settings, store, limiter
        self.models, self.failed, self.guards, self.tools = models, failed, guards, tools
        self._knowledge = knowledge
        self.keys = KeyCache()

    async def find_key(self, secret: str) -> ApiKey | None:
        """The key with this secret (revoked or not), or None: from the cache when it was
        seen valid in the last KEY_CACHE_SECONDS, else read from the store off the loop."""
        digest = hash_key(secret)
        key = self.keys.get(digest)
        if key is None:
            key = await asyncio.to_thread(self.store.find_key, secret)
            if key is not None:
                self.keys.put(digest, key)
        return key

    # --- bookkeeping ----------------------------------------------------------------------------

    async def begin(self, caller: Caller, endpoint: str) -> Call:
        """Count a request against the caller's limits (a 429 is recorded and raised)."""
        call = Call(self, caller, endpoint)
        if caller.key_id:
            try:
                await self.limiter.check(caller.key_id, qpm=caller.qpm, tpm=caller.tpm)
            except ApiError as e:  # 429, or 503 when shared limits are unreachable
                await call.finish(e.status_code, error=e.code,
                                  outcome="denied" if isinstance(e, RateLimited) else None)
                raise
        return call

    def audit(self, caller: Caller) -> Callable[[str, str, str | None, dict[str, Any]], None]:
        """An audit function recording as `caller` (for guards)."""
        def record(action: str, outcome: str, target: str | None, detail: dict[str, Any]) -> None:
            self.store.audit(AuditEvent(caller.actor, action, outcome, target, detail))
        return record

    def model(self, name: str) -> Assistant:
        assistant = self.models.get(name)
        if assistant is None:
            names = sorted(self.models)
            have = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
            raise ModelNotFound(f"모델 '{name}'이(가) 없습니다 / the model '{name}' does not exist "
                                f"(있는 모델 / models: {have})", param="model")
        reason = self.failed.get(assistant.backend.name)
        if reason:
            raise UpstreamUnavailable(f"모델 '{name}'을(를) 사용할 수 없습니다 / model '{name}' "
                                      f"is unavailable: {reason}")
        return assistant

    def _check_size(self, request: ChatRequest) -> None:
        limit = self.settings.limits.max_text_chars
        if sum(len(m.text) for m in request.messages) > limit:
            raise PayloadTooLarge(f"메시지가 너무 깁니다(최대 {limit:,}자) / the messages carry more "
                                  f"than {limit:,} characters of text", code="text_too_long")

    def guard_chain(self, caller: Caller, model: str) -> GuardChain:
        return self.guards.chain(caller, model, self.audit(caller))

    # --- chat -----------------------------------------------------------------------------------

    async def chat(self, caller: Caller, body: bytes | dict[str, Any] | ChatRequest
                   ) -> dict[str, Any] | ChatStream:
        """A chat completion: the answer dict, or (for `stream: true`) a started ChatStream."""
        call = await self.begin(caller, "chat.completions")
        try:
            request = parse(body, ChatRequest)
            call.model, call.stream = shown_name(request.model), request.stream
            _bounded(request.model, "model")
            self._check_size(request)
            assistant = self.model(request.model)
            guards = self.guard_chain(caller, request.model)
            tools = ToolUse(self.tools, policy_for(self.settings, caller.tenant),
                            frozenset(request.confirm_tools or ())) if assistant.tools else None
            turn = Turn(caller, guards, tools)
            request = await guards.inbound(request)
            if request.stream:
                chunks = assistant.stream(request, turn)
                if guards.uses("stream"):
                    chunks = guards.outbound_stream(chunks)
                first = await anext(chunks, None)
                if first is None:
                    await chunks.aclose()
                    raise UpstreamError("백엔드가 빈 스트림을 보냈습니다 / the backend sent an "
                                        "empty stream")
                return self._stream(call, request, first, chunks)
            result = await assistant.complete(request, turn)
            result = await guards.outbound(result)
        except Exception as e:
            await call.fail(e)
            raise
        usage = result.get("usage") or {}
        message = (result.get("choices") or [{}])[0].get("message") or {}
        await call.finish(200, int(usage.get("prompt_tokens", 0)),
                          int(usage.get("completion_tokens", 0)),
                          prompt=request.messages,
                          completion=message.get("content"))
        return result

    async def _stream(self, call: Call, request: ChatRequest, first: dict[str, Any],
                      chunks: ChatStream) -> ChatStream:
        status, error, parts = CLIENT_CLOSED, None, []
        usage: dict[str, Any] = {}
        last: dict[str, Any] | None = None
        pending: dict[str, Any] | None = first
        try:
            while pending is not None:
                data = pending
                if data.get("usage"):
                    usage = data["usage"]
                    if not request.include_usage:
                        data = {k: v for k, v in data.items() if k != "usage"}
                        if not data.get("choices"):
                            data = {}
                for choice in data.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        parts.append(content)
                if data:
                    yield data
                pending = await anext(chunks, None)
            status = 200
        except Exception as e:
            if not isinstance(e, ApiError):
                log.exception("stream failed")  # a bug, not a client's or upstream's fault
            api = as_api_error(e)
            status, error, last = api.status_code, api.code or api.error_type, api.to_dict()
        finally:
            text = "".join(parts)
            prompt_tokens = int(usage.get("prompt_tokens") or
                                sum(estimate_tokens(m.text) for m in request.messages))
            completion_tokens = int(usage.get("completion_tokens") or
                                    (len(parts) if status == CLIENT_CLOSED else
                                     estimate_tokens(text)))
            recorded = call.record(
                status, prompt_tokens, completion_tokens, error,
                prompt=request.messages,
                completion=text)  # queued at once: also when the client went away
            await chunks.aclose()  # stops generation / closes the upstream connection
        try:
            await durable(recorded)  # the end is sent after the record is committed
        except ServiceUnavailable as e:
            last = e.to_dict()
        if last is not None:
            yield last

    # --- other endpoints ------------------------------------------------------------------------

    async def embed(self, caller: Caller, body: bytes | dict[str, Any] | EmbeddingRequest
                    ) -> dict[str, Any]:
        call = await self.begin(caller, "embeddings")
        try:
            request = parse(body, EmbeddingRequest)
            call.model = shown_name(request.model)
            _bounded(request.model, "model")
            try:
                texts = request.texts
            except ValueError as e:
                raise InvalidRequest(str(e), param="input") from e
            if not texts or any(not t for t in texts):
                raise InvalidRequest("input은 비어 있지 않은 문자열이어야 합니다 / input must be "
                                     "non-empty text", param="input")
            vectors, tokens = await self.model(request.model).embed(texts)
        except Exception as e:
            await call.fail(e)
            raise
        await call.finish(200, tokens)
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": i,
                      "embedding": _base64(v) if request.encoding_format == "base64" else v}
                     for i, v in enumerate(vectors)],
            "model": request.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    async def search(self, caller: Caller, kb: str,
                     body: bytes | dict[str, Any] | SearchRequest) -> dict[str, Any]:
        """Search one knowledge base the caller may read (404 otherwise)."""
        call = await self.begin(caller, "knowledge.search")
        try:
            _bounded(kb, "kb")
            call.model = kb
            request = parse(body, SearchRequest)
            index = self._knowledge()
            base = await asyncio.to_thread(index.get, caller.tenant, kb)
            hits = await asyncio.to_thread(index.search, base, request.query, request.k,
                                           document=request.document, filters=request.filters)
        except Exception as e:
            await call.fail(e)
            raise
        await call.finish(200)
        return {"object": "list", "kb": kb, "query": request.query,
                "hits": [h.to_dict() for h in hits]}

    async def check(self, caller: Caller, body: bytes | dict[str, Any] | CheckRequest
                    ) -> dict[str, Any]:
        """Every registered guard's report on a text."""
        call = await self.begin(caller, "guard.check")
        try:
            request = parse(body, CheckRequest)
            result = await asyncio.to_thread(self.guards.check, request.text)
        except Exception as e:
            await call.fail(e)
            raise
        await call.finish(200)
        return result

    # --- tools ----------------------------------------------------------------------------------

    def visible_tools(self, caller: Caller) -> list[Tool]:
        return self.tools.visible(policy_for(self.settings, caller.tenant))

    def tool_context(self, caller: Caller) -> ToolContext:
        return ToolContext(caller.tenant, caller.actor)

    async def call_tool(self, caller: Caller, name: str, arguments: dict[str, Any] | str, *,
                        confirmed: bool = False) -> Any:
        """Run a tool for `caller` outside a chat (admin API, CLI, MCP clients): the tenant's
        policy and guards apply as in the tool loop. Raises ToolError."""
        if len(name) > MAX_NAME:
            raise ToolError("unknown_tool", f"도구 이름이 너무 깁니다 / tool name longer than "
                            f"{MAX_NAME} characters")
        return await self.tools.call(
            name, arguments, caller=caller, policy=policy_for(self.settings, caller.tenant),
            confirmed=confirmed, guards=self.guard_chain(caller, ""))


    # --- keys, usage, audit (admin API and console) --------------------------------------------

    def _admin(self, caller: Caller) -> None:
        if not caller.admin:
            self.store.audit(AuditEvent(caller.actor, "admin", "denied", None, {}))
            raise PermissionDenied("관리자 키가 필요합니다 / this needs an admin key "
                                   "(jaju keys create --admin)")

    async def list_keys(self, caller: Caller) -> list[ApiKey]:
        """Every key for an admin; a tenant's own keys for a tenant (never a secret)."""
        return await asyncio.to_thread(self.store.list_keys,
                                       None if caller.admin else caller.tenant)

    async def create_key(self, caller: Caller, tenant: str, *, qpm: int | None = None,
                         tpm: int | None = None, admin: bool = False) -> tuple[str, ApiKey]:
        """A new key (admin only): the secret, shown once, and its record."""
        self._admin(caller)  # the store refuses a name no tenant may have (400)
        return await asyncio.to_thread(self.store.create_key, tenant, qpm=qpm, tpm=tpm,
                                       admin=admin, actor=caller.actor)

    async def revoke_key(self, caller: Caller, key_id: str) -> bool:
        self._admin(caller)
        revoked = await asyncio.to_thread(self.store.revoke_key, key_id, actor=caller.actor)
        self.keys.forget(key_id)  # refused from the next request on, not after the cache's TTL
        return revoked

    async def usage(self, caller: Caller, since: float | None = None) -> list[dict[str, Any]]:
        """Usage by tenant and model: all of it for an admin, the caller's tenant otherwise."""
        return await asyncio.to_thread(self.store.usage_summary, since=since,
                                       tenant=None if caller.admin else caller.tenant)

    async def audit_log(self, caller: Caller, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit records: all for an admin; the caller's tenant's own otherwise."""
        return await asyncio.to_thread(self.store.audit_records, limit,
                                       None if caller.admin else caller.tenant)

    async def verify_audit(self, caller: Caller) -> tuple[int, list[AuditProblem]]:
        """The chain's verdict, as `jaju audit verify` gives it (admin only)."""
        self._admin(caller)
        return await asyncio.to_thread(self.store.verify_audit)

    async def usage_daily(self, caller: Caller, since: float | None = None
                          ) -> list[dict[str, Any]]:
        """Usage per day, tenant and model: all for an admin, the caller's tenant otherwise."""
        return await asyncio.to_thread(self.store.usage_daily, since=since,
                                       tenant=None if caller.admin else caller.tenant)


def _bounded(name: str, param: str) -> None:
    """Names longer than MAX_NAME are refused before they reach any log; so are names with
    control characters (NUL, tab, ...: `has_control`), alike on both stores."""
    if len(name) > MAX_NAME:
        raise InvalidRequest(f"이름이 너무 깁니다(최대 {MAX_NAME}자) / '{param}' is longer than "
                             f"{MAX_NAME} characters", param=param, code="name_too_long")
    if has_control(name):
        raise InvalidRequest(f"이름에 제어 문자를 쓸 수 없습니다 / '{param}' must not contain "
                             "control characters", param=param, code="invalid_name")


def _base64(vector: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32, base64 (the `openai` client's default)."""
    import base64
    import struct

    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
