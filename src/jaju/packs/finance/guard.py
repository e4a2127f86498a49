"""The `investment_advice` guard: the finance assistant gives no individual investment advice.

The assistant's prompt says so, but a prompt is a request to the model, not a rule: a model may
still name a stock, and the extractive backend would quote whatever it found. This guard makes
it a rule jaju keeps. When the user's last message asks for an individual investment decision
(which stock, coin or fund to buy or sell, when, whether it will rise), the answer the client
receives is jaju's refusal, whatever the backend produced (its citations and tool runs are
dropped with it). The backend still runs: guards cannot end a request early with an answer,
only refuse it with an error, and an error is not what a user asking a plain question should
get. Questions about the law of investing (청약철회 of 투자성 상품, 설명의무, 시세조종) are not
advice and pass: the patterns need both an investment object and a request for a decision.

Configured per assistant (the finance pack's pack.toml) or anywhere guards are:

    [assistants.finance.guards.investment_advice]
    action = "refuse"        # refuse (default) | flag (audit only) | allow
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel

from jaju.guards.base import Guard, TextStream
from jaju.protocol import ChatRequest

REFUSAL = ("죄송하지만 특정 종목·코인·펀드의 매수·매도나 투자 시점 같은 개별 투자 자문은 드리지 않습니다. "
           "저는 금융 법령(대출·이자, 예금·적금, 카드, 전자금융, 채권추심, 보이스피싱, 보험, 가상자산 "
           "이용자 보호)과 계산 도구를 안내합니다. 투자 결정은 본인의 판단과 책임으로 하시고, 필요하면 "
           "등록된 투자자문업자와 상담하세요. / I do not give individual investment advice.")

OBJECTS = (r"주식|종목|코인|비트코인|이더리움|리플|가상자산|암호화폐|펀드|ETF|etf|테마주|"
           r"우량주|성장주|배당주|채권\s*투자|금\s*투자|삼성전자|카카오|테슬라|엔비디아|공모주")
DECISIONS = (r"추천|사야|살까|사도\s*(?:될|돼|되)|사는\s*게|사면|매수|매도|팔아야|팔까|팔아도|"
             r"들고\s*있어야|존버|손절|익절|오를|떨어질|유망|뜰|갈아타|몰빵|담을까|담아도|"
             r"투자하면\s*좋을|투자해도\s*(?:될|돼|되)|넣을까|넣어도\s*(?:될|돼|되)")
DIRECT = (r"어디에\s*투자|어떤\s*종목|무슨\s*종목|어느\s*종목|뭐\s*사면|뭘\s*사야|뭐\s*살까|"
          r"투자\s*(?:종목|상품)\s*(?:을|좀)?\s*추천|수익률\s*(?:좋은|높은).{0,12}추천")
WINDOW = 40
"""An object and a decision word count together within this many characters."""

_OBJECT = re.compile(OBJECTS)
_DECISION = re.compile(DECISIONS)
_DIRECT = re.compile(DIRECT)


def asks_for_advice(text: str) -> list[str]:
    """The phrases that make `text` a request for individual investment advice ([] if none)."""
    found = [m.group(0) for m in _DIRECT.finditer(text)]
    for obj in _OBJECT.finditer(text):
        lo, hi = max(0, obj.start() - WINDOW), obj.end() + WINDOW
        decision = _DECISION.search(text, lo, hi)
        if decision:
            found.append(f"{obj.group(0)}…{decision.group(0)}")
    return found


class InvestmentAdviceSettings(BaseModel):
    action: Literal["refuse", "flag", "allow"] = "refuse"
    message: str = REFUSAL


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            content = message.content
            if isinstance(content, str):
                return content
            return " ".join(str(part.get("text") or "") for part in content or ()
                            if isinstance(part, dict))
    return ""


class InvestmentAdviceGuard(Guard):
    name = "investment_advice"
    settings_model = InvestmentAdviceSettings

    def __init__(self, settings: InvestmentAdviceSettings | None, turn: Any) -> None:
        super().__init__(settings, turn)
        self.asked = False

    @property
    def active(self) -> bool:
        return self.settings is not None and self.settings.action != "allow"

    @classmethod
    def check(cls, text: str) -> dict[str, Any]:
        matches = asks_for_advice(text)
        return {"flagged": bool(matches), "matches": matches}

    def inbound(self, request: ChatRequest) -> ChatRequest:
        matches = asks_for_advice(_last_user_text(request))
        if matches:
            self.asked = self.settings.action == "refuse"
            self.turn.record(self.name, "refused" if self.asked else "flagged",
                             {"matches": len(matches)})
        return request

    def outbound(self, result: dict[str, Any]) -> dict[str, Any]:
        if not self.asked:
            return result
        for choice in result.get("choices") or ():
            choice["message"] = {"role": "assistant", "content": self.settings.message}
            choice["finish_reason"] = "stop"
        result.pop("citations", None)
        result.pop("tool_runs", None)
        return result

    def stream(self) -> TextStream | None:
        return _RefusalStream(self.settings.message) if self.asked else None


class _RefusalStream(TextStream):
    """Swallows the streamed answer and sends the refusal in its place at the end."""

    def __init__(self, message: str) -> None:
        self.message, self.sent = message, False

    def feed(self, text: str) -> str:
        return ""

    def flush(self) -> str:
        if self.sent:
            return ""
        self.sent = True
        return self.message
