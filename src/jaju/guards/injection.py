"""Prompt-injection checks for text that comes from documents and tools, not from the user.

A curated set of patterns, Korean and English, in four groups: `override` (ignore previous
instructions), `exfiltrate` (reveal the system prompt, secrets, keys), `tool` (call or run a
tool), `role` (you are now ..., developer mode). Patterns use bounded gaps only (linear time).
Whatever a text says, it can never enable a tool or widen a permission: policy lives outside
the model. These checks only decide what evidence the model gets to read: `flag` keeps it and
reports, `strip` removes the offending sentences, `quarantine` drops the passage.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

GAP = r"[^\n.。!?]{0,30}?"
PATTERNS: dict[str, list[str]] = {
    "override": [
        r"ignore" + GAP + r"(?:previous|prior|above|earlier|all)" + GAP
        + r"(?:instruction|prompt|rule|direction)s?",
        r"disregard" + GAP + r"(?:instruction|prompt|rule|above)s?",
        r"forget" + GAP + r"(?:instruction|everything|rules)",
        r"(?:이전|앞|위|기존|모든)" + GAP + r"(?:지시|명령|지침|규칙|프롬프트|설정)" + GAP
        + r"(?:무시|잊어|따르지\s?마)",
        r"(?:지시|명령|지침|규칙)(?:을|를|은|는)?\s?(?:모두\s?)?무시(?:하고|해|하라|하세요)",
    ],
    "exfiltrate": [
        r"(?:reveal|print|show|output|repeat|leak)" + GAP
        + r"(?:system prompt|instructions|secret|password|api[ _-]?key|token)",
        r"(?:시스템\s?프롬프트|비밀번호|비밀|api\s?키|토큰|내부\s?지침)" + GAP
        + r"(?:알려|출력|공개|보여|말해|유출)",
    ],
    "tool": [
        r"(?:call|invoke|run|execute|use)" + GAP + r"(?:tool|function|command)",
        r"(?:도구|툴|함수|명령)(?:를|을)?" + GAP + r"(?:호출|실행|사용)(?:하라|해|하세요|할\s?것)",
        r"[a-z_]{3,40}\s?(?:도구|툴|함수)를?\s?(?:호출|실행)",
    ],
    "role": [
        r"you are now\b", r"developer mode", r"jailbreak", r"act as" + GAP + r"(?:admin|root)",
        r"(?:너는|당신은)\s?이제", r"관리자\s?(?:권한|모드)", r"역할을\s?바꿔",
    ],
}
COMPILED = {k: [re.compile(p, re.IGNORECASE) for p in v] for k, v in PATTERNS.items()}
SENTENCE = re.compile(r"[^\n.。!?]*[\n.。!?]?")


@dataclass
class InjectionResult:
    flagged: bool
    categories: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"flagged": self.flagged, "categories": self.categories,
                "spans": [{"start": s, "end": e} for s, e in self.spans]}


def check(text: str) -> InjectionResult:
    folded = unicodedata.normalize("NFKC", text)
    categories: list[str] = []
    spans: list[tuple[int, int]] = []
    for category, patterns in COMPILED.items():
        for pattern in patterns:
            for m in pattern.finditer(folded):
                spans.append(m.span())
                if category not in categories:
                    categories.append(category)
    return InjectionResult(bool(spans), categories, sorted(spans))


def strip(text: str) -> str:
    """The text without the sentences that carry an injection."""
    result = check(text)
    if not result.flagged:
        return text
    kept = []
    for m in SENTENCE.finditer(text):
        s, e = m.span()
        if s == e:
            continue
        if not any(a < e and b > s for a, b in result.spans):
            kept.append(m.group())
    return "".join(kept).strip() + " [지시문으로 보이는 문장이 제거됨 / instruction-like text removed]"
