"""The `llamacpp` backend: a GGUF file in-process through llama-cpp-python.

llama.cpp contexts are not thread-safe, so the backend keeps a pool of `parallel` contexts;
a request waits for a free one (a queue, first come first served). Generation runs in a worker
thread and checks a cancel flag between tokens, so a client that goes away stops it.

Tool calls and `response_format` JSON use grammar-constrained decoding: the model can only emit
text that parses as the JSON the request asks for, so even a tiny model produces a valid call.

Chat template: `chat_template` (Jinja, from jaju.toml), else `chat_format` (one of
llama-cpp-python's built-in formats), else the GGUF's own `tokenizer.chat_template`
(`template_source` says which). A GGUF with none of these is not guessed at: chat requests are
refused with the fix, embeddings still work. At start the template is rendered once with a probe
system message; if the system text does not reach the prompt (Gemma's formats drop or refuse
the system role) system messages are merged into the first user turn from then on, so an
assistant's system prompt and knowledge evidence always reach the model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

from jaju.backends.base import Capabilities
from jaju.config import LlamaCppBackend as LlamaCppSettings
from jaju.errors import ConfigError, InvalidRequest, UpstreamError, UpstreamUnavailable
from jaju.protocol import ChatRequest, chunk, completion, new_id, usage_dict

log = logging.getLogger("jaju")

SYSTEM_PROBE = "JAJU-SYSTEM-PROBE"
USER_PROBE = "JAJU-USER-PROBE"

TOOL_PROMPT = (
    "You can call tools. Reply with one JSON object only: "
    '{{"tool": NAME, "arguments": {{...}}}} to call a tool, or {{"answer": TEXT}} to answer '
    "the user directly.\nTools:\n{tools}"
)
TOOL_PROMPT_REQUIRED = (
    'You must call a tool. Reply with one JSON object only: {{"tool": NAME, "arguments": '
    "{{...}}}}.\nTools:\n{tools}"
)


def check_gguf(path: Path) -> None:
    """Raise ConfigError unless `path` is a readable GGUF file."""
    if not path.is_file():
        raise ConfigError(f"GGUF 파일이 없습니다 / GGUF file not found: {path}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ConfigError(f"GGUF 파일이 아닙니다 / not a GGUF file: {path}")


class LlamaCppBackend:
    capabilities = Capabilities(tools=True, json_schema=True, embeddings=True)

    def __init__(self, name: str, settings: LlamaCppSettings) -> None:
        self.name = name
        self.settings = settings
        self.capabilities = Capabilities(tools=True, json_schema=True,
                                         embeddings=settings.embedding)
        self._pool: asyncio.Queue[Any] = asyncio.Queue()
        self._contexts: list[Any] = []
        self.template_source: str | None = None
        """Where the chat template comes from: "config", "chat_format:NAME", "gguf", or None."""
        self.system_mode: str = "system"
        """"system": system messages are rendered as such; "user": merged into the first user
        turn, because the template drops or refuses them."""
        self.template_warning: str | None = None
        self._embedder: Any = None
        self._embed_lock = asyncio.Lock()

    # --- lifecycle ----------------------------------------------------------------------------

    def _load(self, *, embedding: bool = False) -> Any:
        from llama_cpp import Llama

        kwargs: dict[str, Any] = {
            "model_path": str(self.settings.path),
            "n_ctx": self.settings.n_ctx,
            "verbose": False,
        }
        if self.settings.n_threads:
            kwargs["n_threads"] = self.settings.n_threads
        if embedding:
            import llama_cpp

            kwargs.update(embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN)
        elif self.settings.chat_format:
            _check_chat_format(self.settings.chat_format)
            kwargs["chat_format"] = self.settings.chat_format
        try:
            llm = Llama(**kwargs)
        except (ValueError, RuntimeError) as e:
            raise ConfigError(
                f"GGUF 모델을 불러올 수 없습니다 / cannot load GGUF model "
                f"{self.settings.path}: {e}"
            ) from e
        if not embedding and self.settings.chat_template:
            try:
                llm.chat_handler = _jinja_handler(llm, self.settings.chat_template)
            except ConfigError:
                llm.close()
                raise
        return llm

    async def start(self) -> None:
        check_gguf(self.settings.path)
        for _ in range(self.settings.parallel):
            llm = await asyncio.to_thread(self._load)
            if not self._contexts:
                try:
                    self._check_template(llm)
                except ConfigError:
                    llm.close()
                    raise
            self._contexts.append(llm)
            self._pool.put_nowait(llm)

    def _check_template(self, llm: Any) -> None:
        """Set `template_source` and `system_mode` by rendering a probe chat once."""
        if self.settings.chat_template:
            self.template_source = "config"
        elif self.settings.chat_format:
            self.template_source = f"chat_format:{self.settings.chat_format}"
        elif "tokenizer.chat_template" in llm.metadata:
            self.template_source = "gguf"
        else:
            self.template_source = None
            self.template_warning = (
                f"GGUF에 채팅 템플릿이 없어 대화 요청을 거절합니다. [backends.{self.name}]에 "
                f"chat_format 또는 chat_template을 지정하세요 / {self.settings.path.name} has no "
                f"chat template: chat requests to '{self.name}' are refused until "
                f"[backends.{self.name}] sets chat_format (e.g. \"chatml\") or chat_template")
            log.warning(self.template_warning)
            return
        try:
            self.system_mode = system_mode_for(chat_handler(llm))
        except Exception as e:
            message = (f"채팅 템플릿을 적용할 수 없습니다 / the chat template of '{self.name}' "
                       f"({self.template_source}) fails on a plain chat: {e}")
            if self.template_source != "gguf":  # the operator chose it: refuse it now
                raise ConfigError(message) from e
            self.template_warning = message
            log.warning(message)

    async def aclose(self) -> None:
        for llm in [*self._contexts, self._embedder]:
            if llm is not None:
                llm.close()
        self._contexts.clear()
        self._embedder = None

    # --- prompt and grammar ---------------------------------------------------------------------

    def _prepare(self, request: ChatRequest) -> tuple[list[dict[str, Any]], Any, bool]:
        """Messages for llama.cpp (fitted to the template), the grammar (or None), and whether
        output is a tool wrapper."""
        messages, grammar, wrapped = self._prepare_raw(request)
        return fit_template(messages, self.system_mode), grammar, wrapped

    def render(self, request: ChatRequest) -> str:
        """The prompt text this backend would give the model for `request` (for tests and
        debugging); needs a started backend."""
        if not self._contexts:
            raise UpstreamUnavailable(f"모델이 로드되지 않았습니다 / model '{self.name}' is not loaded")
        messages, _, _ = self._prepare(request)
        prompt = render_prompt(chat_handler(self._contexts[0]), messages)
        if prompt is None:
            raise InvalidRequest(f"the chat handler of '{self.name}' cannot be rendered")
        return prompt

    def _prepare_raw(self, request: ChatRequest) -> tuple[list[dict[str, Any]], Any, bool]:
        from llama_cpp import LlamaGrammar
        from llama_cpp.llama_grammar import JSON_GBNF

        if self.template_source is None and self._contexts:
            raise InvalidRequest(self.template_warning or "no chat template", param="model",
                                 code="no_chat_template")
        messages = [_plain_message(m.model_dump(exclude_none=True)) for m in request.messages]
        if request.wants_tools:
            assert request.tools is not None
            tools = request.tools
            choice = request.tool_choice
            if choice is not None and not isinstance(choice, str):
                wanted = choice.function.get("name")
                tools = [t for t in tools if t.function.name == wanted]
                if not tools:
                    raise InvalidRequest(f"tool_choice names an unknown tool: {wanted}",
                                         param="tool_choice")
            calls = [
                {
                    "type": "object",
                    "properties": {
                        "tool": {"const": t.function.name},
                        "arguments": t.function.parameters or {"type": "object"},
                    },
                    "required": ["tool", "arguments"],
                }
                for t in tools
            ]
            required = choice is not None and choice != "auto"
            options = calls if required else [*calls, {
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
            }]
            listing = "\n".join(
                json.dumps({"name": t.function.name, "description": t.function.description,
                            "parameters": t.function.parameters}, ensure_ascii=False)
                for t in tools
            )
            template = TOOL_PROMPT_REQUIRED if required else TOOL_PROMPT
            messages.insert(0, {"role": "system", "content": template.format(tools=listing)})
            schema = options[0] if len(options) == 1 else {"anyOf": options}
            return messages, _schema_grammar(schema), True
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_schema":
            assert fmt.json_schema is not None
            schema = fmt.json_schema.schema_ or {"type": "object"}
            return messages, _schema_grammar(schema), False
        if fmt is not None and fmt.type == "json_object":
            return messages, LlamaGrammar.from_string(JSON_GBNF, verbose=False), False
        return messages, None, False

    def _kwargs(self, request: ChatRequest, grammar: Any, cancel: threading.Event) -> dict[str, Any]:
        from llama_cpp import LogitsProcessorList

        def check_cancel(_ids: Any, scores: Any) -> Any:
            if cancel.is_set():
                raise _Cancelled
            return scores

        kwargs: dict[str, Any] = {
            "max_tokens": request.token_limit,
            "stop": request.stop_list or None,
            "seed": request.seed,
            "grammar": grammar,
            "logits_processor": LogitsProcessorList([check_cancel]),
        }
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.top_p is not None:
            kwargs["top_p"] = request.top_p
        return kwargs

    # --- generation -----------------------------------------------------------------------------

    async def _acquire(self) -> Any:
        if not self._contexts:
            raise UpstreamUnavailable(f"모델이 로드되지 않았습니다 / model '{self.name}' is not loaded")
        return await self._pool.get()

    async def complete(self, request: ChatRequest, *, evidence: Any = None) -> dict[str, Any]:
        messages, grammar, wrapped = self._prepare(request)
        cancel = threading.Event()
        llm = await self._acquire()
        try:
            result = await asyncio.to_thread(
                llm.create_chat_completion, messages=messages,
                **self._kwargs(request, grammar, cancel),
            )
        except asyncio.CancelledError:
            cancel.set()
            raise
        except _Cancelled as e:
            raise UpstreamError("생성이 취소되었습니다 / generation cancelled") from e
        except (ValueError, RuntimeError) as e:
            raise _generation_error(self.name, e) from e
        finally:
            self._pool.put_nowait(llm)
        choice = result["choices"][0]
        text = choice["message"].get("content") or ""
        finish = choice.get("finish_reason") or "stop"
        u = result.get("usage") or {}
        usage = usage_dict(int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0)))
        message, finish = _message_from_output(text, finish, wrapped)
        return completion(request.model, message, finish, usage)

    async def stream(self, request: ChatRequest, *,
                     evidence: Any = None) -> AsyncGenerator[dict[str, Any], None]:
        messages, grammar, wrapped = self._prepare(request)
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        llm = await self._acquire()

        def work() -> None:
            pieces = 0
            try:
                gen: Iterator[Any] = llm.create_chat_completion(
                    messages=messages, stream=True, **self._kwargs(request, grammar, cancel))
                for part in gen:
                    if cancel.is_set():
                        break
                    delta = part["choices"][0]
                    content = delta["delta"].get("content")
                    if content:
                        pieces += 1
                    loop.call_soon_threadsafe(
                        queue.put_nowait,
                        ("piece", (content, delta.get("finish_reason"))))
                    if delta.get("finish_reason"):
                        break
                prompt = max(0, int(llm.n_tokens) - pieces)
                loop.call_soon_threadsafe(queue.put_nowait, ("end", (prompt, pieces)))
            except _Cancelled:
                pass
            except Exception as e:  # reported to the client as an error chunk
                loop.call_soon_threadsafe(queue.put_nowait, ("error", e))
            finally:
                loop.call_soon_threadsafe(self._pool.put_nowait, llm)

        thread = threading.Thread(target=work, name=f"llamacpp-{self.name}", daemon=True)
        thread.start()
        cid = new_id()
        buffered: list[str] = []
        finish = "stop"
        try:
            yield chunk(request.model, cid, {"role": "assistant", "content": ""})
            while True:
                kind, value = await queue.get()
                if kind == "error":
                    raise _generation_error(self.name, value)
                if kind == "end":
                    prompt_tokens, completion_tokens = value
                    break
                content, reason = value
                if reason:
                    finish = reason
                if content:
                    if wrapped:
                        buffered.append(content)
                    else:
                        yield chunk(request.model, cid, {"content": content})
            if wrapped:
                message, finish = _message_from_output("".join(buffered), finish, True)
                delta: dict[str, Any] = {}
                if message.get("tool_calls"):
                    delta["tool_calls"] = [dict(c, index=i)
                                           for i, c in enumerate(message["tool_calls"])]
                else:
                    delta["content"] = message["content"]
                yield chunk(request.model, cid, delta)
            last = chunk(request.model, cid, {}, finish)
            last["usage"] = usage_dict(prompt_tokens, completion_tokens)
            yield last
        finally:
            cancel.set()

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        if not self.capabilities.embeddings:
            raise InvalidRequest(f"model '{self.name}' does not serve embeddings", param="model",
                                 code="unsupported_feature")
        if not self._contexts:
            raise UpstreamUnavailable(f"모델이 로드되지 않았습니다 / model '{self.name}' is not loaded")
        async with self._embed_lock:
            if self._embedder is None:
                self._embedder = await asyncio.to_thread(self._load, embedding=True)
            try:
                result = await asyncio.to_thread(self._embedder.create_embedding, texts)
            except (ValueError, RuntimeError) as e:
                raise _generation_error(self.name, e) from e
        vectors = [d["embedding"] for d in result["data"]]
        return vectors, int(result["usage"]["prompt_tokens"])


def fit_template(messages: list[dict[str, Any]], system_mode: str) -> list[dict[str, Any]]:
    """Messages any chat template renders whole: one system message first (built-in formats
    read only the first), or, with `system_mode` "user", its text at the start of the first
    user turn; consecutive turns of one role joined (templates that require alternation)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system" and m["content"])
    turns: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "system":
            continue
        if turns and turns[-1]["role"] == m["role"]:
            turns[-1] = {"role": m["role"],
                         "content": "\n\n".join(p for p in (turns[-1]["content"], m["content"]) if p)}
        else:
            turns.append(dict(m))
    if not system:
        return turns
    if system_mode != "user":
        return [{"role": "system", "content": system}, *turns]
    for i, m in enumerate(turns):
        if m["role"] == "user":
            turns[i] = {"role": "user", "content": f"{system}\n\n{m['content']}"}
            return turns
    return [{"role": "user", "content": system}, *turns]


class _Rendered(Exception):
    def __init__(self, prompt: str) -> None:
        super().__init__("rendered")
        self.prompt = prompt


class _PromptCapture:
    """Stands in for a `Llama`: a formatter-based chat handler renders the prompt and then
    tokenizes it, which is where this stops it."""

    verbose = False

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        raise _Rendered(text.decode("utf-8", errors="replace"))


def render_prompt(handler: Any, messages: list[dict[str, Any]]) -> str | None:
    """The prompt `handler` (a llama-cpp-python chat handler) makes of `messages`, without a
    model; None for a handler that does not simply format a prompt (function calling, vision).
    Errors the template raises propagate."""
    try:
        handler(llama=_PromptCapture(), messages=messages)
    except _Rendered as r:
        return r.prompt
    except (AttributeError, TypeError):
        return None
    return None


def system_mode_for(handler: Any) -> str:
    """"system" when a system message reaches the prompt `handler` renders (or the handler
    cannot be rendered without a model), "user" when the template drops or refuses it, so
    system text has to go into the first user turn. Raises what the template raises on a plain
    user turn."""
    probe = [{"role": "system", "content": SYSTEM_PROBE}, {"role": "user", "content": USER_PROBE}]
    try:
        prompt = render_prompt(handler, probe)
    except Exception:  # e.g. Gemma's template: raise_exception('System role not supported')
        prompt = ""
    if prompt is None or (SYSTEM_PROBE in prompt and USER_PROBE in prompt):
        return "system"
    prompt = render_prompt(handler, fit_template(probe, "user"))
    if prompt is not None and not (SYSTEM_PROBE in prompt and USER_PROBE in prompt):
        raise ValueError("the rendered prompt leaves out the messages")
    return "user"


def chat_handler(llm: Any) -> Any:
    """The handler `llm.create_chat_completion` uses (the same lookup as llama-cpp-python)."""
    from llama_cpp import llama_chat_format

    return (llm.chat_handler or llm._chat_handlers.get(llm.chat_format)
            or llama_chat_format.get_chat_completion_handler(llm.chat_format))


def _check_chat_format(name: str) -> None:
    from llama_cpp import llama_chat_format

    try:
        llama_chat_format.get_chat_completion_handler(name)
    except Exception as e:
        raise ConfigError(f"알 수 없는 chat_format / unknown chat_format {name!r}: {e}") from e


def _jinja_handler(llm: Any, template: str) -> Any:
    """A chat handler for a Jinja template, with the model's own BOS/EOS (as llama-cpp-python
    builds one for the GGUF's template)."""
    import jinja2
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", errors="replace") \
            if token != -1 else ""

    eos, bos = llm.token_eos(), llm.token_bos()
    try:
        formatter = Jinja2ChatFormatter(template=template, eos_token=text(eos),
                                        bos_token=text(bos), stop_token_ids=[eos])
    except jinja2.TemplateError as e:
        raise ConfigError(f"chat_template 문법 오류 / invalid chat_template: {e}") from e
    return formatter.to_chat_handler()


def _schema_grammar(schema: dict[str, Any]) -> Any:
    """A GBNF grammar for `schema`. llama-cpp-python's converter lets JSON strings hold raw
    control characters (invalid JSON); the string rule is narrowed as llama.cpp's own is."""
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema))
    gbnf = gbnf.replace('char ::= [^"\\\\]', 'char ::= [^"\\\\\\x7F\\x00-\\x1F]')
    return LlamaGrammar.from_string(gbnf, verbose=False)


class _Cancelled(Exception):
    """Raised inside llama.cpp's sampling loop to stop a generation nobody waits for."""


def _plain_message(m: dict[str, Any]) -> dict[str, Any]:
    """Turn tool traffic into plain turns any chat template can render."""
    content = m.get("content")
    if isinstance(content, list):
        content = "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    role = m["role"]
    if role == "developer":
        role = "system"
    if role == "assistant" and m.get("tool_calls"):
        calls = [
            {"tool": c["function"]["name"], "arguments": _loads(c["function"]["arguments"])}
            for c in m["tool_calls"]
        ]
        content = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
    if role == "tool":
        role = "user"
        content = f"Tool result ({m.get('name') or m.get('tool_call_id', '')}): {content}"
    return {"role": role, "content": content or ""}


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _message_from_output(text: str, finish: str, wrapped: bool) -> tuple[dict[str, Any], str]:
    if not wrapped:
        return {"role": "assistant", "content": text}, finish
    try:
        data = json.loads(text)
    except ValueError:  # cut off by max_tokens or a stop string
        return {"role": "assistant", "content": text}, "length" if finish == "length" else finish
    if isinstance(data, dict) and "tool" in data:
        call = {
            "id": new_id("call"),
            "type": "function",
            "function": {"name": data["tool"],
                         "arguments": json.dumps(data.get("arguments", {}), ensure_ascii=False)},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    if isinstance(data, dict) and "answer" in data:
        return {"role": "assistant", "content": str(data["answer"])}, finish
    return {"role": "assistant", "content": text}, finish


def _generation_error(name: str, e: BaseException) -> UpstreamError:
    message = str(e)
    if "context window" in message or "exceed" in message:
        return InvalidRequest(  # type: ignore[return-value]
            f"입력이 모델의 컨텍스트보다 깁니다 / prompt too long for model '{name}': {message}",
            code="context_length_exceeded",
        )
    return UpstreamError(f"생성 실패 / generation failed in '{name}': {message}")
