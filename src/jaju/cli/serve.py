"""`jaju serve` and `jaju init`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jaju.cli.common import ConfigOption, HomeOption, err, fail, load_settings
from jaju.config import DEFAULT_HOST, DEFAULT_PORT, LlamaCppBackend, is_loopback
from jaju.errors import ConfigError


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help=f"Address to bind [default: {DEFAULT_HOST}]")
                    ] = None,
    port: Annotated[int | None, typer.Option(help=f"Port [default: {DEFAULT_PORT}]")] = None,
    home: HomeOption = None,
    model: Annotated[Path | None, typer.Option(
        "--model", "-m", help="Serve this GGUF file (no config needed).")] = None,
    chat_format: Annotated[str | None, typer.Option(
        help="With --model: a llama-cpp-python chat format (chatml, gemma, llama-3, ...) for a "
             "GGUF without a chat template.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the OpenAI-compatible server."""
    import uvicorn

    from jaju.app import create_app
    from jaju.backends.llamacpp import check_gguf
    from jaju.store import open_store
    from jaju.store.postgres import hide_password

    settings = load_settings(config, home)
    if chat_format and model is None:
        fail("--chat-format는 --model과 함께 씁니다 / --chat-format goes with --model "
             "(in jaju.toml: chat_format under [backends.NAME])")
    if model is not None:
        try:
            check_gguf(model)
        except ConfigError as e:
            fail(str(e))
        backend = LlamaCppBackend.model_validate({"type": "llamacpp", "path": model.resolve(),
                                                  "chat_format": chat_format})
        backends = dict(settings.backends) if config else {}
        backends[model.stem] = backend
        settings = settings.model_copy(update={"backends": backends})
    server = settings.server.model_copy(update={
        k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    settings = settings.model_copy(update={"server": server})
    try:
        store = open_store(settings.store_url)
    except ConfigError as e:
        fail(str(e))
    has_keys = store.has_keys()
    store.close()
    if not has_keys and not is_loopback(server.host):
        fail(f"API 키가 없으면 루프백 주소에서만 실행합니다 / refusing to listen on {server.host} "
             "with no API key: create one first with `jaju keys create --tenant NAME`")
    check_port(server.host, server.port)  # before any model is loaded
    try:
        app = create_app(settings)
    except ConfigError as e:
        fail(str(e))
    url = f"http://{server.host}:{server.port}/v1"
    models = list(app.state.jaju.models)
    err.print(f"[bold green]jaju[/] serving {', '.join(models)} at {url}"
              f"  (home: {settings.home}; keys {'required' if has_keys else 'not required'})",
              highlight=False)
    # the demo's law assistant gets a law question; any other model a greeting
    example = next((m for m in ("law", "labour") if m in models), models[-1])
    question = "사장이 직원을 때리면 처벌받나요?" if example in ("law", "labour") else "안녕하세요"
    auth = ' -H "Authorization: Bearer $KEY"' if has_keys else ""
    err.print(f"  try: curl -s {url}/chat/completions{auth} -H 'content-type: application/json' "
              f"-d '{{\"model\": \"{example}\", \"messages\": [{{\"role\": \"user\", "
              f"\"content\": \"{question}\"}}]}}'", highlight=False,
              soft_wrap=True)
    if has_keys:
        where = hide_password(settings.store.url) if settings.store.url else str(settings.home)
        err.print(f"  (KEY: an API key of {where}; create one with "
                  "`jaju keys create --tenant NAME`)", highlight=False, soft_wrap=True)
    # X-Forwarded-For is believed only from the proxies the operator names ([server]
    # forwarded_allow_ips); uvicorn's own default would believe any local process
    uvicorn.run(app, host=server.host, port=server.port, log_level=log_level,
                timeout_graceful_shutdown=5, proxy_headers=bool(server.forwarded_allow_ips),
                forwarded_allow_ips=server.forwarded_allow_ips or None)


def check_port(host: str, port: int) -> None:
    """Fail now, with a hint, if `host:port` cannot be bound (as uvicorn would bind it)."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                fail(f"포트 {port}은(는) 이미 사용 중입니다. 다른 포트를 지정하세요 (예: --port "
                     f"{port + 1}) / port {port} on {host} is already in use: stop the other "
                     f"server or choose another port, e.g. `--port {port + 1}`")
            fail(f"{host}:{port}에 바인드할 수 없습니다 / cannot listen on {host}:{port}: "
                 f"{e.strerror or e}")


SAMPLE_CONFIG = '''\
# jaju.toml — jaju reads this with `jaju serve --config jaju.toml`.
# Every key is optional; what is shown is the default or an example.
# State (the SQLite database with keys, usage and the audit log) lives under JAJU_HOME
# (default ~/.jaju); set it here with `home = "/var/lib/jaju"` or with --home.

[server]
host = "127.0.0.1"          # with no API key, jaju only serves on loopback
port = 8000
max_body_bytes = 4194304    # larger request bodies get 413
store_content = false       # true: keep prompts and completions with usage records

# --- Backends: what generates text. Each backend is also a model id. ---------------------------

# The embedded default: no generative model. It answers from knowledge bases by quoting.
[backends.extractive]
type = "extractive"

# A GGUF file run in-process by llama.cpp (pip install 'jaju[llamacpp]').
# [backends.qwen]
# type = "llamacpp"
# path = "models/qwen2.5-1.5b-instruct-q4_k_m.gguf"   # relative to this file
# n_ctx = 4096
# parallel = 1              # llama.cpp contexts; requests queue for a free one
# chat_format = "chatml"    # only for a GGUF without a chat template (default: the GGUF's own)
# chat_template = """{% for m in messages %}...{% endfor %}"""   # or your own Jinja template

# Any OpenAI-compatible server: vLLM, Ollama, llama.cpp server, CLOVA Studio.
# [backends.vllm]
# type = "openai"
# urls = ["http://gpu-1:8000/v1", "http://gpu-2:8000/v1"]   # replicas, load balanced
# model = "Qwen/Qwen2.5-7B-Instruct"                        # the upstream's model id
# api_key_env = "VLLM_API_KEY"   # name of the env var that holds the key (never the key)
# timeout = 60
# retries = 2                    # tries on other replicas when one is down

# --- Assistants: a backend plus a system prompt and defaults, served as a model id. ------------

# Names that are not plain ASCII are quoted: [assistants."민원"].
# [assistants.helper]
# backend = "qwen"                            # or "extractive": quotes the knowledge, no model
# description = "사내 업무 도우미"
# system_prompt = "당신은 친절한 한국어 업무 도우미입니다. 간결하게 답하세요."
# temperature = 0.3
# max_tokens = 1024
# knowledge = ["사내규정"]                     # answer from these (jaju ingest ... --kb 사내규정)
# top_k = 5                                   # evidence passages per question
# tools = ["knowledge.search", "weather.*"]   # tools this assistant runs itself
# max_tool_rounds = 4

# --- Guards: personal data, content safety, prompt injection (docs/guards.md). ----------------

# [guards]
# injection = "strip"                 # retrieved text that gives orders: strip | quarantine | flag

# [guards.pii]                        # per type: allow | mask | pseudonymise | block
# default = "allow"
# RRN = "pseudonymise"                # the model sees <주민등록번호_1>; the user sees the number
# CARD = "block"

# [guards.content]
# action = "flag"                     # allow (default) | flag (audit only) | block

# --- Tools: MCP servers and OpenAPI services (docs/tools.md). ---------------------------------

# [mcp_servers.files]                 # stdio; with no `network` it starts without network
# command = "uvx"
# args = ["mcp-server-filesystem", "/srv/shared"]
# write_tools = ["write_*"]           # tools that change things need confirmation

# [openapi.weather]
# spec = "services/weather.json"      # OpenAPI 3; one tool per operation
# auth_env = "WEATHER_TOKEN"          # the secret stays in the environment

# [tools]
# disabled = []                       # globs of tool names nobody may use
# rate_limits = { "weather.*" = 60 }  # calls per minute per tenant

# [tenants.school.tools]
# enabled = ["knowledge.*"]           # this tenant may use only these
'''


def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("jaju.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented jaju.toml."""
    if path.exists() and not force:
        fail(f"{path} 파일이 이미 있습니다 / {path} exists (use --force to overwrite)")
    path.write_text(SAMPLE_CONFIG, encoding="utf-8")
    err.print(f"wrote {path}. Run: jaju serve --config {path}", highlight=False)
