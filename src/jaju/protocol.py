"""OpenAI request models, in one place.

Requests are validated here; responses are plain dicts in OpenAI's shape, because backends that
talk to an OpenAI-compatible upstream pass them through with only the `model` field rewritten.
Unknown request fields are kept (`extra="allow"`) so that engine-specific options such as vLLM's
`top_k` reach an upstream that understands them.
"""

from __future__ import annotations

import time
import unicodedata
import uuid
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionCall(_Model):
    name: str
    arguments: str = "{}"


class ToolCall(_Model):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Model):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        """The message's text; content parts of type text are joined, others ignored."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class FunctionDef(_Model):
    name: str = Field(pattern=r"^[a-zA-Z0-9_.\-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolDef(_Model):
    type: Literal["function"] = "function"
    function: FunctionDef


class NamedToolChoice(_Model):
    type: Literal["function"] = "function"
    function: dict[str, str]


class JsonSchemaFormat(_Model):
    name: str = "response"
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(_Model):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _needs_schema(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format.json_schema is required when type is json_schema")
        return self


class StreamOptions(_Model):
    include_usage: StrictBool = False


MAX_NAME = 256
"""Longest model, knowledge-base or tool name accepted (longer ones are refused, never stored)."""
MAX_TOKENS = 2**31 - 1
"""Largest `max_tokens` passed on (what a C int holds; backends stop at their context anyway).
Integers and flags are strict, as OpenAI's API is: "5", 5.0 or true for an integer are 422s,
not read as 5 or 1."""


def has_control(name: str) -> bool:
    """Whether `name` holds a character of Unicode category C* — control (NUL, tab, newline),
    format (zero-width joiner, bidi marks), surrogate, private use, unassigned. No model,
    knowledge-base or tenant name may: PostgreSQL cannot store NUL, and the rest hide or
    split a name in logs, tables and filters."""
    return not name.isprintable() and any(unicodedata.category(c)[0] == "C" for c in name)


def shown_name(name: str) -> str:
    """`name` as usage and audit records keep it: at most MAX_NAME characters, C* characters
    as U+FFFD, so a refused name is recorded visibly (a bidi mark cannot make "law" twice)."""
    name = name[:MAX_NAME]
    if name.isprintable():
        return name
    return "".join("\ufffd" if unicodedata.category(c)[0] == "C" else c for c in name)


MAX_TENANT = 64
"""Longest tenant name."""
SYSTEM_ACTORS = frozenset({"cli", "anonymous", "system"})
"""Actors jaju writes itself in the audit log; a tenant of such a name would see their records."""


def tenant_problem(name: str) -> str | None:
    """Why `name` cannot be a tenant (None: it can) — checked wherever a key is made (the
    store's create_key, POST /v1/keys, `jaju keys create`). Any letters (민원팀, ops) and
    spaces inside are fine; not `*` (the knowledge index's name for shared knowledge bases,
    which a key of that tenant could write into), nor `/` or `:`, which separate the tenant
    from the rest in the audit log's actors (`tenant/key_id`, `mcp:tenant/...`,
    `cli:tenant`, `admin:...`) that a tenant's audit view is filtered on."""
    if not name.strip():
        return "테넌트 이름이 비어 있습니다 / the tenant name is empty"
    if name != name.strip():
        return "앞뒤 공백은 쓸 수 없습니다 / no spaces at the start or end"
    if len(name) > MAX_TENANT:
        return f"최대 {MAX_TENANT}자입니다 / at most {MAX_TENANT} characters"
    folded = unicodedata.normalize("NFKC", name).casefold()  # ＊, ／ and ： count as *, / and :
    if folded == "*":
        return "'*'는 공유 지식 베이스의 내부 이름입니다 / '*' is reserved for shared knowledge bases"
    if folded in SYSTEM_ACTORS:
        return (f"'{name}'은(는) 감사 로그에서 jaju가 쓰는 이름입니다 / '{name}' is a name jaju "
                "uses in the audit log")
    if has_control(name) or any(unicodedata.category(c) in ("Zl", "Zp") for c in name):
        return "제어 문자를 쓸 수 없습니다 / no control or format characters"
    if "/" in folded or ":" in folded:
        return "'/'와 ':'는 쓸 수 없습니다 / no '/' or ':'"
    return None


class ChatRequest(_Model):
    model: str = Field(min_length=1, max_length=MAX_NAME)
    messages: list[Message] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: StrictInt | None = Field(None, gt=0, le=MAX_TOKENS)
    max_completion_tokens: StrictInt | None = Field(None, gt=0, le=MAX_TOKENS)
    stop: str | list[str] | None = None
    seed: StrictInt | None = Field(None, ge=-2**63, le=2**63 - 1)
    n: StrictInt = Field(1, ge=1, le=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    tools: list[ToolDef] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    user: str | None = None
    confirm_tools: list[str] | None = None
    """jaju: write tools the user confirms for this request (the assistant's tool loop)."""

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    @property
    def wants_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice != "none"


class EmbeddingRequest(_Model):
    model: str = Field(min_length=1, max_length=MAX_NAME)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None

    @property
    def texts(self) -> list[str]:
        if isinstance(self.input, str):
            return [self.input]
        if all(isinstance(x, str) for x in self.input):
            return [str(x) for x in self.input]
        raise ValueError("token-id input is not supported; send text")


# --- response helpers ---------------------------------------------------------------------------


def new_id(prefix: str = "chatcmpl") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage_dict(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion(
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    usage: dict[str, int],
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason,
                     "logprobs": None}],
        "usage": usage,
    }


def chunk(
    model: str,
    cid: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                     "logprobs": None}],
    }


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 4 UTF-8 bytes a token) for backends without one."""
    return max(1, (len(text.encode("utf-8")) + 3) // 4) if text else 0


# --- jaju's own endpoints -----------------------------------------------------------------------

FILTER_KEYS = frozenset({"format", "title", "article", "heading"})
"""Source fields a knowledge search can filter on."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Strict):
    """POST /v1/knowledge/{kb}/search"""

    query: str = Field(max_length=2000)
    k: int = Field(10, ge=1, le=100)
    document: str | None = None
    """Only hits from this document (its path or file name)."""
    filters: dict[str, str] = Field(default_factory=dict)
    """Only hits whose source matches: format, title, article (exact), heading (substring)."""

    @field_validator("filters")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - FILTER_KEYS
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)}; use {sorted(FILTER_KEYS)}")
        return value


class CheckRequest(_Strict):
    """POST /v1/guard/check"""

    text: str = Field(max_length=1_000_000)


class ToolCallRequest(_Strict):
    """POST /v1/tools/{name}/call (admin)"""

    arguments: dict[str, Any] = Field(default_factory=dict)
    confirm: bool = False
    tenant: str | None = None
    """Run as this tenant (default: the admin key's own)."""
