"""One registry for every tool, and the policy that decides whether a call runs.

The model proposes; jaju disposes. A call runs only if the tool is enabled for the tenant,
its arguments validate against its schema, a `write` tool is confirmed, and it finishes within
its timeout with a result under the size cap. Every call and every refusal is audited.
Refusals and tool failures come back as `ToolError` with a message the model can act on.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from jaju.store.sqlite import AuditEvent, Store
from jaju.tools.model import Tool, ToolContext

MAX_RESULT_BYTES = 64_000


class ToolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class ToolPolicy:
    enabled: tuple[str, ...] = ("*",)
    """Glob patterns of tool names the tenant may use (`knowledge.*`)."""
    disabled: tuple[str, ...] = ()
    timeout: float = 30.0

    def allows(self, name: str) -> bool:
        if any(fnmatch.fnmatchcase(name, p) for p in self.disabled):
            return False
        return any(fnmatch.fnmatchcase(name, p) for p in self.enabled)


class ToolRegistry:
    def __init__(self, store: Store | None = None) -> None:
        self.tools: dict[str, Tool] = {}
        self.store = store

    def add(self, tool: Tool, namespace: str | None = None) -> Tool:
        if namespace and not tool.name.startswith(namespace + "."):
            tool.name = f"{namespace}.{tool.name}"
        if tool.name in self.tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self.tools[tool.name] = tool
        return tool

    def visible(self, policy: ToolPolicy) -> list[Tool]:
        return [t for name, t in sorted(self.tools.items()) if policy.allows(name)]

    def _audit(self, actor: str, name: str, outcome: str, detail: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.audit(AuditEvent(actor, "tool.call", outcome, name, detail))

    async def call(self, name: str, arguments: dict[str, Any] | str, *, policy: ToolPolicy,
                   tenant: str = "local", actor: str = "local", confirmed: bool = False) -> Any:
        started = time.perf_counter()
        tool = self.tools.get(name)
        if tool is None or not policy.allows(name):
            # an unknown tool and a tool this caller may not use look the same
            self._audit(actor, name, "refused", {"reason": "not_enabled"})
            raise ToolError("unknown_tool", f"도구 '{name}'을(를) 사용할 수 없습니다 / tool "
                            f"'{name}' does not exist or is not enabled")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments or "{}")
            except ValueError as e:
                self._audit(actor, name, "refused", {"reason": "invalid_json"})
                raise ToolError("invalid_arguments", f"arguments are not valid JSON: {e}") from e
        if not isinstance(arguments, dict):
            raise ToolError("invalid_arguments", "arguments must be a JSON object")
        if tool.arguments is not None:
            try:
                arguments = tool.arguments.model_validate(arguments).model_dump()
            except ValidationError as e:
                problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or '(root)'}: "
                                     f"{err['msg']}" for err in e.errors())
                self._audit(actor, name, "refused", {"reason": "invalid_arguments"})
                raise ToolError("invalid_arguments",
                                f"arguments do not match the schema: {problems}") from e
        if tool.permissions.effect == "write" and not confirmed:
            self._audit(actor, name, "refused", {"reason": "confirmation_required"})
            raise ToolError("confirmation_required", f"'{name}'은(는) 쓰기 도구라 확인이 "
                            f"필요합니다 / '{name}' changes things and needs explicit "
                            "confirmation")
        if tool.wants_context:
            arguments = {**arguments, "context": ToolContext(tenant, actor)}
        try:
            result = tool.run(**arguments)
            if asyncio.iscoroutine(result):
                result = await asyncio.wait_for(result, policy.timeout)
        except TimeoutError as e:
            self._audit(actor, name, "error", {"reason": "timeout"})
            raise ToolError("timeout", f"tool '{name}' timed out after {policy.timeout:g}s") \
                from e
        except ToolError:
            raise
        except Exception as e:  # a tool that raises is reported, never crashes the caller
            self._audit(actor, name, "error", {"reason": type(e).__name__})
            raise ToolError("tool_failed", f"tool '{name}' failed: {type(e).__name__}: {e}") \
                from e
        try:
            encoded = json.dumps(result, ensure_ascii=False, default=str)
        except (TypeError, ValueError) as e:
            raise ToolError("invalid_result", f"tool '{name}' returned non-JSON data") from e
        if len(encoded.encode("utf-8")) > MAX_RESULT_BYTES:
            self._audit(actor, name, "error", {"reason": "result_too_large"})
            raise ToolError("result_too_large", f"tool '{name}' returned more than "
                            f"{MAX_RESULT_BYTES} bytes")
        self._audit(actor, name, "ok", {"ms": round((time.perf_counter() - started) * 1000, 1)})
        return result
