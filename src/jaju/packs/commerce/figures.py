"""The `figures` guard: an answer may only state numbers it was given.

A shopping assistant must never invent a price, a stock count or a date. The prompt asks the
model not to, and the evaluation counts it afterwards; this guard checks every answer as it
leaves. It is a per-request guard, so it sees the whole turn: the question (`inbound`), the
retrieved passages (`evidence`) and every tool result (`tool_result`). Each number of two or
more digits in the answer (commas ignored: "69,900원" is 69900; counted as the evaluation
harness's `invented_figures` counts them, jaju.packs.evaluation.figures) must occur in one of them or in
the operator's `allowed` list (e.g. the 1372 of the prompt). What happens otherwise:

- `flag` (default): the answer is kept and a note naming the unconfirmed figures is appended;
- `strip`: each unconfirmed figure (with a following 원, 개, 일) is replaced by "(확인 필요)".

Decisions are audited as counts, never values. Streaming answers are checked too: the stream
holds back only a number that may still be growing ("12" before ",900").

Enable it for an assistant (the commerce pack's `shopping` does):
`guards = { figures = { action = "flag", allowed = ["1372"] } }`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from jaju.guards.base import Guard, TextStream
from jaju.packs.evaluation import NUMBER, figures

TAIL = re.compile(r"[\d,.]*$")
UNIT = re.compile(r"\s?(?:원|개|일|건)")
PLACEHOLDER = "(확인 필요)"


class FiguresSettings(BaseModel):
    action: Literal["flag", "strip"] = "flag"
    allowed: list[str] = Field(default_factory=list)
    """Numbers always allowed (commas ignored), e.g. a help-line number of the prompt."""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


class FiguresGuard(Guard):
    name = "figures"
    settings_model = FiguresSettings

    def __init__(self, settings: Any, turn: Any) -> None:
        super().__init__(settings or FiguresSettings(), turn)
        self.known: set[str] = {a.replace(",", "") for a in self.settings.allowed}
        self.found: list[str] = []

    # --- what the turn was given -----------------------------------------------------------------

    def inbound(self, request: Any) -> Any:
        for message in request.messages:  # not earlier assistant turns: they are not sources
            if message.role == "assistant":
                continue
            content = message.content
            if isinstance(content, list):
                content = " ".join(str(getattr(p, "text", "") or "") for p in content)
            self.known |= figures(str(content or ""))
        return request

    def evidence(self, passages: list[Any]) -> list[Any]:
        for hit in passages:  # the text and its label (never the source's character offsets)
            source = getattr(hit, "source", None) or {}
            self.known |= figures(f"{getattr(hit, 'text', '')} {source.get('title', '')} "
                                  f"{source.get('article', '')}")
        return passages

    def tool_result(self, tool: Any, result: Any) -> Any:
        self.known |= figures(_text(result))
        return result

    # --- the answer ------------------------------------------------------------------------------

    def check_text(self, text: str) -> str:
        """`text` with its unconfirmed figures recorded (and, under `strip`, replaced)."""
        def replace(match: re.Match[str]) -> str:
            text = match.group(0).rstrip(",")  # "45,000, 40123": the list's comma stays
            rest = match.group(0)[len(text):]
            if not figures(text) or figures(text) <= self.known:
                return match.group(0)
            self.found.append(text)
            return (PLACEHOLDER if self.settings.action == "strip" else text) + rest

        out = NUMBER.sub(replace, text)
        if self.settings.action == "strip":
            out = re.sub(re.escape(PLACEHOLDER) + UNIT.pattern, PLACEHOLDER, out)
        return out

    def note(self) -> str:
        if not self.found or self.settings.action != "flag":
            return ""
        shown = ", ".join(dict.fromkeys(self.found))
        return (f"\n\n※ 도구 결과나 근거에서 확인되지 않은 숫자가 있습니다: {shown}. "
                "가격·재고·날짜는 상품 검색과 도구 결과로 다시 확인하세요.")

    def done(self) -> None:
        if self.found:
            self.turn.record(self.name, "stripped" if self.settings.action == "strip"
                             else "flagged", {"figures": len(self.found)})

    def outbound(self, result: dict[str, Any]) -> dict[str, Any]:
        for choice in result.get("choices") or ():
            message = choice.get("message") or {}
            if isinstance(message.get("content"), str):
                message["content"] = self.check_text(message["content"]) + self.note()
        self.done()
        return result

    def stream(self) -> TextStream:
        return _FiguresStream(self)


class _FiguresStream(TextStream):
    """Holds back a trailing number that may continue in the next piece."""

    def __init__(self, guard: FiguresGuard) -> None:
        self.guard, self.held = guard, ""

    def feed(self, text: str) -> str:
        text = self.held + text
        tail = TAIL.search(text)
        cut = tail.start() if tail else len(text)
        self.held = text[cut:]
        return self.guard.check_text(text[:cut])

    def flush(self) -> str:
        rest, self.held = self.guard.check_text(self.held), ""
        return rest + self.guard.note()

    def close(self) -> None:
        self.guard.done()
