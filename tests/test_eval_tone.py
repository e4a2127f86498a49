"""The harness's tone check (`"tone": "plain"` in a set: the student assistant's answers)."""

from __future__ import annotations

import asyncio
import json

import pytest

from jaju.errors import ConfigError
from jaju.packs.evaluation import load_cases, run, tone_problems

PLAIN = ("친구가 계속 때리면 혼자 참지 말고 선생님이나 부모님께 꼭 말해요. "
         "117에 전화해도 돼요. 학교폭력예방법 제20조가 누구든지 신고할 수 있다고 정해 두었어요.")
FORMAL = ("학교폭력을 알게 된 자는 학교 등 관계 기관에 이를 즉시 신고하여야 한다. "
          "신고를 받은 기관은 이를 가해학생 및 피해학생의 보호자에게 통보하여야 합니다.")
QUOTES_ONLY = ("[1] 학교폭력예방 및 대책에 관한 법률 제20조: 학교폭력 현장을 보거나 그 사실을 알게 된 "
               "자는 학교 등 관계 기관에 이를 즉시 신고하여야 한다.")


def test_plain_answers_pass_and_stiff_or_quoted_ones_say_why():
    assert tone_problems(PLAIN) == []
    problems = tone_problems(FORMAL)
    assert any("해요체" in p for p in problems)
    assert any("statute diction" in p and "하여야 한다" in p for p in problems)
    assert tone_problems(QUOTES_ONLY) == ["no sentence of its own (only quotes)"]
    long = "그건 " + "아주 " * 40 + "중요한 일이에요."
    assert any("average" in p for p in tone_problems(long))


def test_quoted_statute_text_inside_a_plain_answer_does_not_count():
    answer = PLAIN + '\n법에는 "관계 기관에 이를 즉시 신고하여야 한다"라고 쓰여 있어요.'
    assert tone_problems(answer) == []
    answer += "\n" + QUOTES_ONLY + "\n> 가해학생에 대하여 그러하지 아니하다."
    assert tone_problems(answer) == []


def test_the_report_counts_tone_only_for_cases_that_ask_for_it(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in [
        {"id": "a", "question": "친구가 때려요", "tone": "plain"},
        {"id": "b", "question": "신고는 누가 해요?", "tone": "plain"},
        {"id": "c", "question": "어른의 질문"}]), encoding="utf-8")
    answers = {"친구가 때려요": PLAIN, "신고는 누가 해요?": FORMAL, "어른의 질문": FORMAL}

    async def chat(body):
        text = answers[body["messages"][0]["content"]]
        return {"choices": [{"message": {"content": text}}]}

    report = asyncio.run(run(chat, "student", load_cases(path)))
    assert report.metrics()["tone"] == 0.5
    assert [r.tone for r in report.results][2] is None
    assert report.results[1].tone  # says what is wrong


def test_an_unknown_tone_is_a_clear_error(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"question": "안녕?", "tone": "cute"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="tone"):
        load_cases(path)
