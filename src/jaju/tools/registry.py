"""One registry for every tool, and the policy that decides whether a call runs.

The model proposes; jaju disposes. A call runs only if the tool is enabled for the caller (and
its plugin is), its arguments validate against its schema, a `write` tool is confirmed, it is
under its rate limit, and it finishes within its timeout with a JSON result under the size cap.
Arguments and results pass the request's guards (`tool_arguments`, `tool_result`: the PII
policy, injection screening, any plugin guard). Every call and every refusal is audited (tool
name, outcome, reason — never argument values). Refusals and failures come back as `ToolError`
with a message the model can act on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from jaju.caller import Caller
from jaju.errors import ApiError, EgressRefused, PiiBlocked, ToolError
from jaju.guards.base import GuardChain
from jaju.store import AuditEvent, Store
from jaju.tools.model import Tool, ToolContext
from jaju.tools.policy import ToolPolicy, ToolRateLimiter

MAX_RESULT_BYTES = 64_000

log = logging.getLogger(__name__)
SCHEMA_MISMATCH = "인수가 도구의 스키마에 맞지 않습니다 / arguments do not match the schema"

__all__ = ["MAX_RESULT_BYTES", "ToolError", "ToolPolicy", "ToolRegistry"]


class ToolRegistry:
    def __init__(self, store: Store | None = None,
                 disabled_sources: Callable[[], set[str]] | None = None) -> None:
        self.tools: dict[str, Tool] = {}
        self.store = store
        self.disabled_sources = disabled_sources or (lambda: set())
        self.limiter = ToolRateLimiter()
        self._validators: dict[str, Any] = {}

    def add(self, tool: Tool, namespace: str | None = None) -> Tool:
        if namespace and not tool.name.startswith(namespace + "."):
            tool.name = f"{namespace}.{tool.name}"
        if tool.name in self.tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        tool.source = tool.source or namespace or tool.name.split(".")[0]
        self.tools[tool.name] = tool
        self._validators.pop(tool.name, None)
        return tool

    def remove_source(self, source: str) -> None:
        for name in [n for n, t in self.tools.items() if t.source == source]:
            del self.tools[name]

    def visible(self, policy: ToolPolicy) -> list[Tool]:
        """The tools a caller under `policy` may see (unavailable ones included)."""
        off = self.disabled_sources()
        return [t for name, t in sorted(self.tools.items())
                if policy.allows(name) and t.source not in off]

    def _audit(self, actor: str, name: str, outcome: str, detail: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.audit(AuditEvent(actor, "tool.call", outcome, name, detail))

    def _refuse(self, actor: str, name: str, code: str, message: str,
                outcome: str = "refused", **detail: str) -> ToolError:
        self._audit(actor, name, outcome, {"reason": code, **detail})
        return ToolError(code, message)

    def _failed(self, actor: str, name: str, error: Exception) -> ToolError:
        """A tool that raised. The caller sees the exception's type only (its message may hold
        paths or secrets), except for messages written for the caller: jaju's API errors and
        refusals (a query too long, egress, personal data, a guard's block; not a ConfigError,
        which may name internal URLs) and a plain ValueError, a tool's documented way to say
        what to fix in its arguments (docs/packs.md). The server log keeps the message; the
        audit record, which the tenant may read, the type only."""
        failure = f"{type(error).__name__}: {error}"
        if isinstance(error, ApiError | EgressRefused | PiiBlocked) or type(error) is ValueError:
            said = failure
            log.warning("tool %s failed: %s", name, failure)
        else:
            said = type(error).__name__
            log.error("tool %s failed: %s", name, failure, exc_info=error)
        return self._refuse(actor, name, "tool_failed", f"도구 '{name}' 실행 중 오류가 났습니다 "
                            f"/ tool '{name}' failed: {said}", outcome="error",
                            error=said[:500])

    def _validate(self, tool: Tool, arguments: dict[str, Any] | str, actor: str
                  ) -> dict[str, Any]:
        name = tool.name
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments or "{}")
            except ValueError as e:
                raise self._refuse(actor, name, "invalid_arguments", f"인수가 올바른 JSON이 "
                                   f"아닙니다 / arguments are not valid JSON: {e}") from e
        if not isinstance(arguments, dict):
            raise self._refuse(actor, name, "invalid_arguments", "인수는 JSON 객체여야 합니다 / "
                               "arguments must be a JSON object")
        if tool.arguments is not None:
            try:
                return tool.arguments.model_validate(arguments).model_dump()
            except ValidationError as e:
                raise self._refuse(actor, name, "invalid_arguments", f"{SCHEMA_MISMATCH}: "
                                   f"{_problems(e)}") from e
        validator = self._validators.get(name)
        if validator is None:
            import jsonschema

            validator = self._validators[name] = jsonschema.Draft202012Validator(tool.parameters)
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
        if errors:
            problems = "; ".join(f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}"
                                 for e in errors[:5])
            raise self._refuse(actor, name, "invalid_arguments", f"{SCHEMA_MISMATCH}: {problems}")
        return arguments

    async def call(self, name: str, arguments: dict[str, Any] | str, *, caller: Caller,
                   policy: ToolPolicy, confirmed: bool = False,
                   guards: GuardChain | None = None) -> Any:
        """Run tool `name` for `caller` under `policy`, or raise ToolError saying why not."""
        started = time.perf_counter()
        actor, tenant = caller.actor, caller.tenant
        if len(name) > 128:  # a model can propose anything: never log it whole
            name = f"{name[:64]}…({len(name)} chars)"
        tool = self.tools.get(name)
        if tool is None or not policy.allows(name) or tool.source in self.disabled_sources():
            # an unknown tool and a tool this caller may not use look the same
            raise self._refuse(actor, name, "unknown_tool", f"도구 '{name}'을(를) 사용할 수 "
                               f"없습니다 / tool '{name}' does not exist or is not enabled")
        if tool.unavailable:
            raise self._refuse(actor, name, "unavailable", f"도구 '{name}'을(를) 지금 쓸 수 "
                               f"없습니다 / tool '{name}' is unavailable: {tool.unavailable}",
                               outcome="error")
        checked = self._validate(tool, arguments, actor)
        if tool.permissions.effect == "write" and not (confirmed or policy.confirms(name)):
            raise self._refuse(actor, name, "confirmation_required", f"'{name}'은(는) 쓰기 도구라 "
                               f"확인이 필요합니다 / '{name}' changes things and needs explicit "
                               "confirmation")
        wait = self.limiter.check(tenant, name, policy)
        if wait is not None:
            raise self._refuse(actor, name, "rate_limited", f"도구 호출 한도를 넘었습니다 / "
                               f"rate limit for '{name}' reached; retry in {wait}s")
        if guards:
            try:
                guarded = await guards.tool_arguments(tool, checked)
            except ApiError as e:
                raise self._refuse(actor, name, e.code or "blocked", e.message) from e
            if guarded != checked:  # a guard's rewrite (a masked e-mail is longer) must fit too
                checked = self._validate(tool, guarded, actor)
        if tool.wants_context:
            checked = {**checked, "context": ToolContext(tenant, actor, tool.permissions.network)}
        try:
            if asyncio.iscoroutinefunction(tool.run):
                result = await asyncio.wait_for(tool.run(**checked), policy.timeout)
            else:
                result = await asyncio.wait_for(asyncio.to_thread(tool.run, **checked),
                                                policy.timeout)
        except TimeoutError as e:
            raise self._refuse(actor, name, "timeout", f"도구 '{name}'이(가) "
                               f"{policy.timeout:g}초 안에 끝나지 않았습니다 / tool '{name}' timed "
                               f"out after {policy.timeout:g}s", outcome="error") from e
        except ToolError as e:
            raise self._refuse(actor, name, e.code, e.message, outcome="error") from e
        except ValidationError as e:  # a typed tool checking its own arguments (validate_call)
            raise self._refuse(actor, name, "invalid_arguments", f"{SCHEMA_MISMATCH}: "
                               f"{_problems(e)}", outcome="error") from e
        except Exception as e:  # a tool that raises is reported, never crashes the caller
            raise self._failed(actor, name, e) from e
        try:
            encoded = json.dumps(result, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise self._refuse(actor, name, "invalid_result", f"도구 '{name}'의 결과가 JSON이 "
                               f"아닙니다 / tool '{name}' returned data that is not JSON",
                               outcome="error") from e
        if len(encoded.encode("utf-8")) > MAX_RESULT_BYTES:
            raise self._refuse(actor, name, "result_too_large", f"도구 '{name}'의 결과가 "
                               f"{MAX_RESULT_BYTES}바이트를 넘습니다 / tool '{name}' returned more "
                               f"than {MAX_RESULT_BYTES} bytes", outcome="error")
        if guards:
            try:
                result = await guards.tool_result(tool, result)
            except ApiError as e:
                raise self._refuse(actor, name, e.code or "blocked", e.message,
                                   outcome="error") from e
        self._audit(actor, name, "ok", {"ms": round((time.perf_counter() - started) * 1000, 1)})
        return result


def _problems(error: ValidationError) -> str:
    """A validation error's problems, field by field, without the values (which may hold what
    a guard masked) or pydantic's links."""
    return "; ".join(f"{'.'.join(map(str, err['loc'])) or '(root)'}: {err['msg']}"
                     for err in error.errors())
