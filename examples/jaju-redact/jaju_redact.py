"""비공개 단어 가리기 / a sample jaju guard plugin: `redact`.

Replaces configured words (a project's code name, a client's name) wherever they cross a
boundary: in the user's messages before any model sees them, in answers (streamed ones too,
even when a word is split across chunks), and in tool results. Configure it in jaju.toml:

    [guards.redact]
    words = ["프로젝트 한라", "갑을상사"]
    replacement = "[비공개]"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from jaju.guards import Guard, TextStream
from jaju.hookspecs import hookimpl


class RedactSettings(BaseModel):
    words: list[str] = Field(min_length=1)
    replacement: str = "[비공개]"


class RedactGuard(Guard):
    name = "redact"
    settings_model = RedactSettings

    def __init__(self, settings: RedactSettings | None, turn: Any) -> None:
        super().__init__(settings, turn)
        words = sorted(settings.words, key=len, reverse=True) if settings else []
        self.pattern = re.compile("|".join(map(re.escape, words))) if words else None
        self.longest = max(map(len, words), default=0)

    @property
    def active(self) -> bool:
        return self.pattern is not None

    def redact(self, text: str) -> str:
        assert self.pattern is not None
        found = self.pattern.subn(self.settings.replacement, text)
        if found[1]:
            self.turn.record("redact", "changed", {"count": found[1]})
        return found[0]

    def inbound(self, request: Any) -> Any:
        messages = [m.model_copy(update={"content": self.redact(m.content)})
                    if isinstance(m.content, str) else m for m in request.messages]
        return request.model_copy(update={"messages": messages})

    def outbound(self, result: dict[str, Any]) -> dict[str, Any]:
        for choice in result.get("choices") or ():
            message = choice.get("message") or {}
            if isinstance(message.get("content"), str):
                message["content"] = self.redact(message["content"])
        return result

    def stream(self) -> TextStream:
        return RedactStream(self)

    def tool_result(self, tool: Any, result: Any) -> Any:
        if isinstance(result, str):
            return self.redact(result)
        if isinstance(result, dict):
            return {k: self.tool_result(tool, v) for k, v in result.items()}
        if isinstance(result, list):
            return [self.tool_result(tool, v) for v in result]
        return result


class RedactStream(TextStream):
    """Holds back the last (longest word - 1) characters: a word split across chunks is
    still whole when it is checked."""

    def __init__(self, guard: RedactGuard) -> None:
        self.guard, self.buffer = guard, ""

    def feed(self, text: str) -> str:
        assert self.guard.pattern is not None
        self.buffer += text
        cut = max(0, len(self.buffer) - (self.guard.longest - 1))
        for match in self.guard.pattern.finditer(self.buffer):
            if match.start() < cut < match.end():  # a whole word across the cut waits whole
                cut = match.start()
        ready, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return self.guard.redact(ready) if ready else ""

    def flush(self) -> str:
        rest, self.buffer = self.buffer, ""
        return self.guard.redact(rest) if rest else ""


@hookimpl
def register_guards(register: Callable[[type[Guard]], None]) -> None:
    register(RedactGuard)
