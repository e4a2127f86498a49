"""jaju.toml -> typed settings.

Every section is a pydantic model, so a typo or a wrong type in the file is reported with the
key's path before the server starts. `Settings.load(path)` reads a file; `Settings()` is the
embedded default: one `extractive` backend, no generative model, state under `JAJU_HOME`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from jaju.errors import ConfigError

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
NAMESPACE = re.compile(r"[A-Za-z0-9_-]{1,40}")


def default_home() -> Path:
    return Path(os.environ.get("JAJU_HOME") or Path.home() / ".jaju").expanduser()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0)
    store_content: bool = False
    """Store prompts and completions with usage records (off by default)."""
    forwarded_allow_ips: list[str] = Field(default_factory=list)
    """Reverse proxies (addresses or networks, e.g. "10.0.0.0/8") whose `X-Forwarded-For`
    header names the client: the failed-key throttle and the audit log then use that address.
    Empty (the default): no header is believed and the connection's address is the client's,
    so nobody can pick the address they are throttled and audited under."""

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry)  # strict, as uvicorn reads it: 10.0.0.0/8, not 10.0.0.5/8
            except ValueError:
                raise ValueError(f"'{entry}'은(는) IP 주소나 "
                                 f"네트워크가 아닙니다 / '{entry}' is not an IP address or "
                                 "network (e.g. \"10.0.0.5\" or \"10.0.0.0/8\")") from None
        return value


class StoreSettings(_Section):
    """`[store]`: where keys, usage, the audit chain and plugin switches live."""

    url: str | None = None
    """`sqlite:///path` (default: JAJU_HOME/jaju.db) or `postgresql://user@host/db` for
    several replicas sharing one store; the knowledge index lives there too when it is
    PostgreSQL (else in JAJU_HOME/jaju.db)."""
    commit_timeout: float = Field(3.0, gt=0, le=60)
    """Seconds a request waits for its usage record to be committed while the store is busy
    or unreachable; then it answers 503 `store_unavailable` (never a 2xx without a record)."""


class LimitsSettings(_Section):
    """`[limits]`: how much work one request may cause, so that no tenant can stall another."""

    max_text_chars: int = Field(400_000, gt=0)
    """Characters of message text one chat request may carry (413 beyond): guards analyse all
    of it."""
    max_query_chars: int = Field(2_000, gt=0)
    """Characters of the question used for retrieval (the rest is cut for search only; the
    model still gets the whole message)."""
    max_member_bytes: int | None = Field(None, gt=0)
    """Largest inflated archive member or stream of an ingested document (default: the larger
    of 64 MiB and 100 × the file's size)."""
    max_document_bytes: int | None = Field(None, gt=0)
    """Largest inflated size of one document in all (default: the larger of 256 MiB and
    200 × the file's size)."""
    redis_url: str | None = None
    """Share the per-key qpm/tpm windows across replicas through this Redis
    (`redis://host:6379/0`, `rediss://` for TLS, `unix:///path?db=0`); without it each process
    keeps its own windows in memory. The per-address auth-failure throttle stays per process."""
    fail: Literal["closed", "open"] = "closed"
    """What a request gets while `redis_url` cannot be reached: `closed` refuses it (503,
    code `limits_unavailable`, recorded); `open` lets it through unlimited, with a warning in
    the log and an audit record when the outage begins and when it ends."""

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str | None) -> str | None:
        """The schemes the Redis client takes, checked here so that `jaju config check` and
        `jaju serve` refuse another (http://...) with this message, not a traceback."""
        scheme = (url or "").partition("://")[0].lower()
        if url is not None and ("://" not in url or scheme not in ("redis", "rediss", "unix")):
            raise ValueError(f"Redis URL은 redis://, rediss:// 또는 unix://로 시작해야 합니다 / "
                             f"must start with redis://, rediss:// or unix:// (not {scheme!r})")
        return url


class LlamaCppBackend(_Section):
    type: Literal["llamacpp"]
    path: Path
    n_ctx: int = Field(4096, gt=0)
    n_threads: int | None = None
    parallel: int = Field(1, ge=1, description="llama.cpp contexts in the pool")
    chat_format: str | None = None
    """A chat format built into llama-cpp-python (chatml, gemma, llama-3, ...), for a GGUF
    without a chat template."""
    chat_template: str | None = None
    """A Jinja chat template (Hugging Face style) used instead of the GGUF's own."""
    embedding: bool = True
    """Serve /v1/embeddings from this model (a second, embedding-mode context)."""

    @model_validator(mode="after")
    def _one_template(self) -> LlamaCppBackend:
        if self.chat_format and self.chat_template:
            raise ValueError("set chat_format or chat_template, not both")
        return self


class OpenAIBackend(_Section):
    type: Literal["openai"]
    urls: list[str] = Field(min_length=1)
    """Base URLs of the replicas, each ending in /v1."""
    model: str | None = None
    """The upstream's model id; the backend's own name when omitted."""
    api_key_env: str | None = None
    """Name of the environment variable that holds the upstream key (never the key itself)."""
    timeout: float = Field(60.0, gt=0)
    connect_timeout: float = Field(5.0, gt=0)
    retries: int = Field(2, ge=0)
    embeddings: bool = True

    @model_validator(mode="before")
    @classmethod
    def _url_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            data = dict(data)
            data.setdefault("urls", [data.pop("url")])
        return data


class ExtractiveBackend(_Section):
    type: Literal["extractive"]


class BackendSettings(BaseModel):
    """`[backends.NAME]` as written: `type` names a backend type that a plugin registered
    (`register_backends`); the other keys are checked against that type's settings model when
    the app is built. The built-in types (llamacpp, openai, extractive) are checked at once."""

    model_config = ConfigDict(extra="allow")
    type: str


BUILTIN_BACKENDS: dict[str, type[BaseModel]] = {
    "llamacpp": LlamaCppBackend, "openai": OpenAIBackend, "extractive": ExtractiveBackend}


def _backend_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in BUILTIN_BACKENDS else "plugin"


AnyBackend = Annotated[
    Annotated[LlamaCppBackend, Tag("llamacpp")] | Annotated[OpenAIBackend, Tag("openai")]
    | Annotated[ExtractiveBackend, Tag("extractive")] | Annotated[BackendSettings, Tag("plugin")],
    Discriminator(_backend_kind),
]
"""A backend section: built-in types are checked at once, others when plugins are loaded."""


PII_TYPES = {"RRN", "ARN", "PASSPORT", "DRIVER", "BRN", "CRN", "CARD", "PHONE", "ACCOUNT",
             "EMAIL", "IP"}
PII_ACTIONS = {"allow", "mask", "pseudonymise", "block"}


def _check_pii(mapping: dict[str, str]) -> dict[str, str]:
    for key, action in mapping.items():
        if key != "default" and key.upper() not in PII_TYPES:
            raise ValueError(f"unknown PII type {key!r} (one of {', '.join(sorted(PII_TYPES))})")
        if action not in PII_ACTIONS:
            raise ValueError(f"unknown PII action {action!r} for {key} "
                             f"(one of {', '.join(sorted(PII_ACTIONS))})")
    return mapping


class ContentSettings(_Section):
    action: Literal["allow", "flag", "block"] = "allow"
    """block: refuse flagged input (400) and replace flagged answers; flag: audit only."""
    thresholds: dict[str, float] = Field(default_factory=dict)
    """Per category (profanity, hate, sexual, violence: lexicon 0/1; offensive: probability)."""
    categories: list[str] = Field(
        default_factory=lambda: ["profanity", "hate", "sexual", "violence", "offensive"])
    message: str | None = Field(default=None, max_length=1000)
    """What a refused request and a withheld answer say, instead of the generic bilingual
    policy message (e.g. a pupils' tenant names the help lines 117 and 1388)."""


class GuardSettings(_Section):
    """`[guards]` (and `[tenants.NAME.guards]`, `[assistants.NAME.guards]`): which guards run,
    in what order, and each one's settings. A plugin guard's settings are its own section,
    `[guards.NAME]`, checked against the model it registered when the app is built."""

    model_config = ConfigDict(extra="allow")
    order: list[str] | None = None
    """Guards that run, in this order (default: pii, content, injection, then every plugin
    guard that has a section). The most specific level that sets `order` wins."""
    pii: dict[str, str] = Field(default_factory=dict)
    """PII action per type (RRN, CARD, ...) and `default`: allow, mask, pseudonymise, block."""
    injection: Literal["flag", "strip", "quarantine"] | None = None
    """What to do with retrieved passages that carry instructions (default: strip)."""
    content: ContentSettings | None = None
    """Content-safety policy (off unless set)."""

    @model_validator(mode="after")
    def _valid(self) -> GuardSettings:
        _check_pii(self.pii)
        return self


class ToolPolicySettings(_Section):
    """Which tools run, for everyone (`[tools]`) or one tenant (`[tenants.NAME.tools]`).
    A tool must be allowed at every level that sets `enabled`; `disabled` always wins."""

    enabled: list[str] | None = None
    """Glob patterns of tool names (`knowledge.*`); unset means every tool at this level."""
    disabled: list[str] = Field(default_factory=list)
    confirm: list[str] = Field(default_factory=list)
    """Operator rule: write tools matching these run without per-request confirmation."""
    timeout: float | None = Field(None, gt=0)
    """Seconds a tool call may take (default 30)."""
    rate_limits: dict[str, int] = Field(default_factory=dict)
    """Calls per minute per tenant, by tool-name glob (`{"weather.*" = 60}`)."""


class TenantSettings(_Section):
    guards: GuardSettings = Field(default_factory=lambda: GuardSettings())
    tools: ToolPolicySettings = Field(default_factory=lambda: ToolPolicySettings())


class ToolSourceSettings(_Section):
    """What the operator grants the tools of an MCP server or OpenAPI service."""

    enabled: bool = True
    network: list[str] = Field(default_factory=list)
    """Hosts the tools may reach (for an OpenAPI service, its own host is added)."""
    knowledge: list[str] = Field(default_factory=list)
    pii: bool = False
    """May the tools receive unmasked personal data? (otherwise the PII policy applies)"""
    effect: Literal["read", "write"] = "read"
    write_tools: list[str] = Field(default_factory=list)
    """Tools (globs, without the namespace) that change things and need confirmation."""
    read_tools: list[str] = Field(default_factory=list)
    """Tools (globs) that only read, overriding `effect` and method-based defaults."""
    allow_private: bool = False
    """Allow loopback, private and link-local addresses (e.g. a service on this machine)."""
    timeout: float = Field(30.0, gt=0)

    def effect_of(self, tool: str, writes: bool) -> Literal["read", "write"]:
        """The operator's lists first, then `effect`, then what the source says (`writes`:
        an MCP destructive hint, or an HTTP method other than GET)."""
        import fnmatch

        if any(fnmatch.fnmatchcase(tool, p) for p in self.write_tools):
            return "write"
        if any(fnmatch.fnmatchcase(tool, p) for p in self.read_tools):
            return "read"
        return "write" if self.effect == "write" or writes else "read"


class McpServerSettings(ToolSourceSettings):
    """`[mcp_servers.NAME]`, as Claude Desktop's `mcpServers`: `command` (+ `args`, `env`) for
    stdio, or `url` for streamable HTTP. Tools appear as `NAME.tool`."""

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: Path | None = None
    url: str | None = None
    headers_env: dict[str, str] = Field(default_factory=dict)
    """HTTP headers whose values come from environment variables: {"Authorization" = "VAR"}."""
    sandbox: bool = True
    """Start a stdio server in a new network namespace when it declares no `network`."""
    ping_interval: float = Field(10.0, gt=0)
    """Seconds between health pings; a server that misses one is restarted."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if bool(self.command) == bool(self.url):
            raise ValueError("set exactly one of `command` (stdio) or `url` (streamable HTTP)")
        return self


class OpenApiSettings(ToolSourceSettings):
    """`[openapi.NAME]`: an OpenAPI 3 spec (+ optional plugin manifest) as tools, one per
    operation, named `NAME.operationId`."""

    spec: str
    """Path (relative to jaju.toml) of the OpenAPI 3 document, JSON or YAML-free JSON."""
    manifest: str | None = None
    """Path of an ai-plugin.json / CLOVA Studio skill manifest (names and descriptions)."""
    base_url: str | None = None
    """Overrides the spec's `servers[0].url`."""
    auth_env: str | None = None
    """Environment variable that holds the service's secret."""
    auth: str = "bearer"
    """bearer, basic, header:NAME or query:NAME."""


RERANK_WEIGHTS = ("chunk", "extra_chunk", "title", "statute", "general", "gloss", "passages")
"""The names of `jaju.knowledge.rerank.Weights` (config sits below knowledge, so it names them;
tests/test_config.py checks that the two agree)."""


class AssistantSettings(_Section):
    backend: str
    description: str = ""
    system_prompt: str = ""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    knowledge: list[str] = Field(default_factory=list)
    """Knowledge bases to answer from (the caller's own, or shared ones)."""
    knowledge_filter: dict[str, list[str]] = Field(default_factory=dict)
    """Keep only passages whose source matches: {"title": ["근로기준법", "최저임금법"]} (any of
    the values; keys as in search `filters`: title, format, article, heading)."""
    top_k: int = Field(5, ge=1, le=20)
    """Evidence passages retrieved per question."""
    rerank: Literal["none", "articles"] = "none"
    """`articles`: rank statute articles, not chunks (`jaju.knowledge.rerank`): one passage per
    article, the article's title and statute count, general articles (목적, 벌칙, 양벌규정) less."""
    rerank_weights: dict[str, float] = Field(default_factory=dict)
    """Overrides of the reranking weights (`jaju.knowledge.rerank.Weights`: chunk, extra_chunk,
    title, statute, general, passages); the defaults are the law pack's."""
    guards: GuardSettings = Field(default_factory=lambda: GuardSettings())
    """Overrides the tenant's and the global guard settings for this assistant."""
    tools: list[str] = Field(default_factory=list)
    """Tools (globs) the assistant offers the model and runs itself (the tool loop)."""
    tool_choice: Literal["auto", "required"] = "auto"
    """`required`: the model must call a tool in the first round (look something up first)."""
    max_tool_rounds: int = Field(4, ge=1, le=16)

    @model_validator(mode="after")
    def _known_weights(self) -> AssistantSettings:
        """A misspelt weight is an error, not a silent default."""
        unknown = set(self.rerank_weights) - set(RERANK_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown rerank_weights: {', '.join(sorted(unknown))}")
        return self


class PacksSettings(_Section):
    """`[packs]`: how installed packs' assistants are served."""

    backend: str | None = None
    """The backend their assistants run on (default: `extractive`, quoting the evidence)."""


def _default_backends() -> dict[str, Any]:
    return {"extractive": ExtractiveBackend(type="extractive")}


class Settings(_Section):
    home: Path = Field(default_factory=default_home)
    server: ServerSettings = Field(default_factory=lambda: ServerSettings())
    limits: LimitsSettings = Field(default_factory=lambda: LimitsSettings())
    store: StoreSettings = Field(default_factory=lambda: StoreSettings())
    backends: dict[str, AnyBackend] = Field(default_factory=lambda: _default_backends())
    assistants: dict[str, AssistantSettings] = Field(default_factory=dict)
    guards: GuardSettings = Field(default_factory=lambda: GuardSettings())
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    tools: ToolPolicySettings = Field(default_factory=lambda: ToolPolicySettings())
    mcp_servers: dict[str, McpServerSettings] = Field(default_factory=dict)
    openapi: dict[str, OpenApiSettings] = Field(default_factory=dict)
    packs: PacksSettings = Field(default_factory=lambda: PacksSettings())

    def guard_levels(self, tenant: str, model: str) -> list[GuardSettings]:
        """The guard settings that apply to `model` called by `tenant`, most general first:
        global, the tenant's, the assistant's."""
        levels = [self.guards]
        if tenant in self.tenants:
            levels.append(self.tenants[tenant].guards)
        if model in self.assistants:
            levels.append(self.assistants[model].guards)
        return levels

    @model_validator(mode="after")
    def _check_names(self) -> Settings:
        for name, assistant in self.assistants.items():
            if assistant.backend not in self.backends:
                raise ValueError(
                    f"assistant {name!r} uses backend {assistant.backend!r}, which is not defined"
                )
            if name in self.backends:
                raise ValueError(f"{name!r} names both a backend and an assistant")
        if self.packs.backend is not None and self.packs.backend not in self.backends:
            raise ValueError(f"packs.backend {self.packs.backend!r} is not defined")
        for name in [*self.mcp_servers, *self.openapi]:
            if not NAMESPACE.fullmatch(name):
                raise ValueError(f"tool source name {name!r} must be letters, digits, _ or -")
        if both := set(self.mcp_servers) & set(self.openapi):
            raise ValueError(f"{sorted(both)} name both an MCP server and an OpenAPI service")
        return self

    @property
    def db_path(self) -> Path:
        """The SQLite file under home (the knowledge index; the store too, by default)."""
        return self.home / "jaju.db"

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite://{self.db_path.resolve()}"

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> Settings:
        """Read `path` (if given) and apply `overrides` (home=..., etc.)."""
        data: dict[str, Any] = {}
        if path is not None:
            try:
                with open(path, "rb") as f:
                    data = tomllib.load(f)
            except FileNotFoundError as e:
                raise ConfigError(f"설정 파일이 없습니다 / config file not found: {path}") from e
            except tomllib.TOMLDecodeError as e:
                # `[assistants.민원]`: a bare key must be ASCII; say how to quote it
                hint = ""
                m = re.search(r"at line (\d+)", str(e))
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                line = lines[int(m.group(1)) - 1].strip() if m and int(m.group(1)) <= len(lines) \
                    else ""
                key = line.lstrip("[").split("]", 1)[0] if line.startswith("[") \
                    else line.split("=", 1)[0]
                parts = [p.strip() for p in key.split(".")]
                if any(not p.isascii() and not p.startswith(("'", '"')) for p in parts):
                    quoted = ".".join(p if p.isascii() or p.startswith(("'", '"')) else f'"{p}"'
                                      for p in parts)
                    hint = ("\n  힌트 / hint: 한글 등 ASCII가 아닌 키는 따옴표로 감싸야 합니다 / a "
                            "key with non-ASCII characters must be quoted: "
                            + (f"[{quoted}]" if line.startswith("[") else f"{quoted} = ..."))
                raise ConfigError(f"설정 파일 문법 오류 / invalid TOML in {path}: {e}{hint}") from e
            base = path.parent
            for section, key in (("backends", "path"), ("openapi", "spec"),
                                 ("openapi", "manifest"), ("mcp_servers", "cwd")):
                for entry in (data.get(section) or {}).values():
                    if isinstance(entry, dict) and isinstance(entry.get(key), str) \
                            and "://" not in entry[key]:
                        p = Path(entry[key]).expanduser()
                        entry[key] = str(p if p.is_absolute() else base / p)
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            lines = [f"  {key_path(err['loc'])}: {err['msg']}" for err in e.errors()]
            where = f" ({path})" if path else ""
            raise ConfigError(
                f"설정이 올바르지 않습니다 / invalid configuration{where}:\n" + "\n".join(lines)
            ) from e


def key_path(loc: tuple[int | str, ...]) -> str:
    """A validation error's location as the jaju.toml key path: `backends.x.path` (the
    union tag pydantic adds after a backend's name is dropped)."""
    parts = [str(p) for p in loc]
    if len(parts) > 2 and parts[0] == "backends" and parts[2] in {*BUILTIN_BACKENDS, "plugin"}:
        del parts[2]
    return ".".join(parts)


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
