"""The education pack's tools: typed functions returning ``{"result", "articles", "notes"}`` like
the law pack's (jaju.packs.law.tools), so an assistant can quote what a tool applied.

- `school_days`: 수업일수 between two dates — weekdays that are not 관공서의 공휴일 (the law pack's
  holiday-aware calendar, lunar and substitute holidays included) and not the school's own
  휴업일 — against the 190-day minimum of 초ㆍ중등교육법 시행령 제45조;
- `school_year`: 학년도 (법 제24조①) and its two 학기 (시행령 제44조①);
- `quiz`: multiple-choice questions built from one passage (an article by citation, a passage's
  text, or the article a topic finds), each with its answer and the sentence it came from;
- `lookup_article`: an article of the pack's statutes by citation.

The quiz is deterministic and needs no model: a cloze over a key number (with its unit) or a
key noun chosen with jaju's Korean analyser, the distractors taken from the other articles of
the same statute (terms of the same kind: numbers with the same unit, nouns with the same
last syllable); for a notice, or a passage given as text, from the school notices. A tool
cannot ask the generative model itself (ToolServices offers search and HTTP, not generation),
so "better with a model" is the assistant's part: its prompt asks it to call `quiz` and then
reword the questions naturally while keeping the answer, the choices and the source the tool
returned.

"""

import calendar
import datetime as dt
import random
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, validate_call

from jaju.packs import statutes as shared
from jaju.packs.law.tools import non_working_reason, parse_date
from jaju.packs.statutes import Found, Statute

DATA = Path(__file__).parent / "data"
STATUTES = DATA / "statutes"
SAMPLES = DATA / "samples"

ACT = "초ㆍ중등교육법"
DECREE = "초ㆍ중등교육법 시행령"
MINIMUM_DAYS = {"초등학교": 190, "중학교": 190, "고등학교": 190, "고등기술학교": 190,
                "특수학교": 190, "공민학교": 170, "고등공민학교": 170}
"""시행령 제45조제1항: 제1호 초ㆍ중ㆍ고ㆍ고등기술ㆍ특수학교 190일 이상,
제2호 공민ㆍ고등공민학교 170일 이상."""

ALIASES = {
    "학교폭력예방법": "학교폭력예방 및 대책에 관한 법률", "학폭법": "학교폭력예방 및 대책에 관한 법률",
    "교육환경보호법": "교육환경 보호에 관한 법률",
    "학원법시행령": "학원의 설립ㆍ운영 및 과외교습에 관한 법률 시행령",
    "학원법": "학원의 설립ㆍ운영 및 과외교습에 관한 법률 시행령",
}
"""Short names people type, for `lookup_article` and `quiz` (titles match with spaces and
middle dots ignored, so 초중등교육법 needs no alias)."""


# --- statutes and article lookup (jaju.packs.statutes, over this pack's statutes) ----------------


def pack_statutes() -> dict[str, Statute]:
    """The pack's statutes by `title_key` of their title (parsed as the law pack's are)."""
    return shared.statutes(STATUTES)


def find_statute(name: str) -> Statute:
    return shared.find_statute(name, STATUTES, ALIASES)


def find_article(citation: str, law: str | None = None) -> Found:
    """The article (or 항, 호) a citation names in this pack's statutes; ValueError if none."""
    return shared.find_article(citation, law, STATUTES, ALIASES)


@validate_call
def lookup_article(
    citation: Annotated[str, Field(max_length=200, description=(
        "조문 인용: '초ㆍ중등교육법 시행령 제45조', '학교폭력예방법 제17조', '교육기본법 제9조제1항'"))],
    law: Annotated[str | None, Field(max_length=100,
                                     description="인용에 법령명이 없을 때의 법령명")] = None,
) -> dict[str, Any]:
    """조문 찾기: 인용으로 이 팩의 교육 법령(교육기본법, 초ㆍ중등교육법과 시행령, 고등교육법 시행령,
    학교폭력예방법, 학원법 시행령, 교육환경보호법)에서 조문 또는 항의 본문을 돌려준다."""
    return shared.article_lookup(citation, law, STATUTES, ALIASES)


# --- 학사 calendar (초ㆍ중등교육법 제24조, 시행령 제44조·제45조·제47조) ---------------------------


def _closure_days(closures: list[str], within: tuple[dt.date, dt.date]) -> set[dt.date]:
    """'2026-05-04' or a range '2026-07-22~2026-08-18' (both ends included), the days `within`
    the period counted only (a range of ten thousand years must not become a set of them)."""
    out: set[dt.date] = set()
    for item in closures:
        first, _, last = item.partition("~")
        start = parse_date(first, "closures")
        end = parse_date(last, "closures") if last else start
        if end < start:
            raise ValueError(f"closures: 끝이 시작보다 빠릅니다 / range ends before it starts: {item}")
        start, end = max(start, within[0]), min(end, within[1])
        out.update(start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return out


@validate_call
def school_days(
    start: Annotated[str, Field(max_length=40, description="첫날 (포함), YYYY-MM-DD")],
    end: Annotated[str, Field(max_length=40, description="마지막 날 (포함), YYYY-MM-DD")],
    closures: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=400, description=(
        "학교가 정한 휴업일: 재량휴업일 'YYYY-MM-DD', 방학 'YYYY-MM-DD~YYYY-MM-DD'"))] = [],  # noqa: B006
    school: Annotated[Literal["초등학교", "중학교", "고등학교", "고등기술학교", "특수학교",
                              "공민학교", "고등공민학교"],
                      Field(description="학교의 종류 (법정 최소 수업일수가 다름)")] = "초등학교",
) -> dict[str, Any]:
    """수업일수 세기: 두 날짜 사이(양 끝 포함)에서 토요일·일요일·관공서의 공휴일(음력·대체공휴일 포함,
    시행령 제47조①)과 학교가 정한 휴업일(방학·재량휴업일)을 뺀 날수, 그리고 매 학년 법정 수업일수
    (시행령 제45조①: 초ㆍ중ㆍ고 190일 이상, 공민학교 170일 이상)와의 비교."""
    first, last = parse_date(start, "start"), parse_date(end, "end")
    if last < first:
        raise ValueError("end가 start보다 빠릅니다 / end is before start")
    if (last - first).days > 366:
        raise ValueError("한 학년도(366일) 안의 기간만 셉니다 / count at most one school year")
    closed = _closure_days(closures, (first, last))
    days, saturdays, sundays = 0, 0, 0
    holidays: list[dict[str, str]] = []
    closed_weekdays = 0
    day = first
    while day <= last:
        reason = non_working_reason(day)
        if reason == "토요일":
            saturdays += 1
        elif reason == "일요일":
            sundays += 1
        elif reason is not None:
            holidays.append({"date": day.isoformat(), "name": reason})
        elif day in closed:
            closed_weekdays += 1
        else:
            days += 1
        day += dt.timedelta(days=1)
    minimum = MINIMUM_DAYS[school]
    reduced = minimum - minimum // 10  # 제45조① 단서: 기준의 10분의 1 범위에서 줄일 수 있음
    return {"result": {"school_days": days, "calendar_days": (last - first).days + 1,
                       "saturdays": saturdays, "sundays": sundays, "holidays": holidays,
                       "closed_weekdays": closed_weekdays, "minimum": minimum,
                       "meets_minimum": days >= minimum, "minimum_if_reduced": reduced},
            "articles": [f"{DECREE} 제45조", f"{DECREE} 제47조"],
            "notes": [f"{school}의 수업일수는 매 학년 {minimum}일 이상 (시행령 제45조①). 천재지변·연구학교·"
                      f"자율학교 운영 등으로 10분의 1 범위에서 줄이면 {reduced}일 (제45조① 단서, "
                      "다음 학년도 개시 30일 전까지 관할청에 보고).",
                      "토요일과 관공서의 공휴일은 휴업일에 포함된다 (시행령 제47조①). 휴업일에 한 "
                      "체육대회·수학여행 등 학교 행사(제47조④)는 여기서 세지 않았습니다."]}


@validate_call
def school_year(
    year: Annotated[int, Field(ge=2000, le=2100, description="학년도 (3월 1일이 속한 해)")],
    first_semester_end: Annotated[str | None, Field(
        max_length=40, description="학교의 장이 정한 1학기 종료일 YYYY-MM-DD (모르면 생략)")] = None,
) -> dict[str, Any]:
    """학년도와 학기: 학년도는 3월 1일부터 다음 해 2월 말일까지 (초ㆍ중등교육법 제24조①); 제1학기는
    3월 1일부터 학교의 장이 정한 날까지, 제2학기는 그다음 날부터 다음 해 2월 말일까지 (시행령 제44조①)."""
    begin = dt.date(year, 3, 1)
    last = dt.date(year + 1, 2, calendar.monthrange(year + 1, 2)[1])
    first_open = begin
    closed: list[dict[str, str]] = []
    while (reason := non_working_reason(first_open)) is not None:
        closed.append({"date": first_open.isoformat(), "reason": reason})
        first_open += dt.timedelta(days=1)
    result: dict[str, Any] = {"start": begin.isoformat(), "end": last.isoformat(),
                              "first_weekday": first_open.isoformat(), "closed_before": closed,
                              "first_semester": {"start": begin.isoformat(), "end": None},
                              "second_semester": {"start": None, "end": last.isoformat()}}
    notes = ["1학기 종료일은 학교의 장이 수업일수·휴업일·교육과정 운영을 고려하여 정합니다 (시행령 제44조①). "
             "자율학교등은 학기를 달리 정할 수 있습니다 (제44조②)."]
    if first_semester_end is not None:
        cut = parse_date(first_semester_end, "first_semester_end")
        if not begin <= cut < last:
            raise ValueError(f"1학기 종료일은 {begin}부터 {last} 전이어야 합니다 / first_semester_end "
                             "must fall inside the school year")
        result["first_semester"]["end"] = cut.isoformat()
        result["second_semester"]["start"] = (cut + dt.timedelta(days=1)).isoformat()
    return {"result": result, "articles": [f"{ACT} 제24조", f"{DECREE} 제44조"], "notes": notes}


# --- quiz ------------------------------------------------------------------------------------------

UNITS = "일|개월|년|주|시간|명|세|학년|학기|원|회|개|%|퍼센트|시|분"
NUMBER = re.compile(rf"(?<![\d,.제])(\d[\d,]*)\s?({UNITS})(?!의)")
FRACTION = re.compile(r"(\d+)분의\s?(\d+)")
AMENDMENT = re.compile(r"\s*(<(?:개정|신설|삭제)[^>]*>|\[(?:본조신설|전문개정|제목개정|종전)[^\]]*\])")
GENERIC = {"경우", "사항", "다음", "각", "호", "항", "조", "기준", "이하", "이상", "해당", "범위", "필요",
           "관련", "이내", "전", "후", "외", "등", "때", "바", "자", "수", "것", "중", "내", "간", "동안",
           "대통령령", "교육부령", "법", "영", "규정", "제", "및", "이", "그", "위", "밖", "때문", "정도",
           "관하", "대하", "부터", "까지", "따름", "포함", "내용", "방법", "절차", "사유", "경우에는"}


def _clean(text: str) -> str:
    return AMENDMENT.sub("", text)


def _sentences(text: str) -> list[str]:
    """Lines of an article (항, 호), each cut at sentence ends; amendment notes removed."""
    out = []
    for line in _clean(text).splitlines():
        for part in re.split(r"(?<=다\.)\s+", line.strip()):
            part = part.strip()
            if len(part) >= 15:
                out.append(part)
    return out


@cache
def _analyzer() -> Any:
    from jaju.korean import Analyzer

    return Analyzer(num_workers=0)


def _nouns(text: str) -> list[str]:
    """Nouns of `text` as written, adjacent nouns joined into one compound (수업 + 일수 →
    수업일수), generic ones (경우, 사항, 기준…) left out; Kiwi through jaju's analyser."""
    spans: list[list[int]] = []  # [start, end] of each run of adjacent nouns
    for t in _analyzer()._kiwi.tokenize(unicodedata.normalize("NFC", text)):
        if t.tag not in ("NNG", "NNP"):
            continue
        if spans and spans[-1][1] == t.start:
            spans[-1][1] = t.start + t.len
        else:
            spans.append([t.start, t.start + t.len])
    words = (text[a:b] for a, b in spans)
    return [w for w in words if len(w) >= 2 and w not in GENERIC and not w.isdigit()]


def _numbers(text: str) -> list[tuple[str, str, str]]:
    """(as written, value, unit) for amounts with a unit, dates (3월 1일) left out."""
    out = []
    for m in FRACTION.finditer(text):
        out.append((m.group(0), f"{m.group(1)}/{m.group(2)}", "분의"))
    for m in NUMBER.finditer(text):
        before = text[max(0, m.start() - 4):m.start()]
        if m.group(2) == "일" and re.search(r"\d\s?월\s?$", before):
            continue  # 3월 1일 is a date, not a number of days
        if m.group(2) == "분" and text[m.end():m.end() + 1] == "의":
            continue
        out.append((m.group(0), m.group(1).replace(",", ""), m.group(2)))
    return out


@cache
def _pool(source: str) -> tuple[dict[str, set[str]], set[str]]:
    """Terms of a source (a statute's title, or "notices"): numbers as written by unit, nouns."""
    texts = ([a.text for a in find_statute(source).articles.values()] if source != "notices"
             else [" ".join(body) for body in notice_texts().values()])
    numbers: dict[str, set[str]] = {}
    nouns: set[str] = set()
    for text in texts:
        text = _clean(text)
        for written, _, unit in _numbers(text):
            numbers.setdefault(unit, set()).add(_canonical(written))
        nouns.update(_nouns(text))
    return numbers, nouns


def _canonical(written: str) -> str:
    return re.sub(r"\s+", " ", written)


@cache
def notice_texts() -> dict[str, list[str]]:
    """The sample notices' paragraphs by title (read from the module that writes them)."""
    from jaju.packs.education.samples import NOTICES

    return {title: body for _, title, body in NOTICES}


def _candidates(sentence: str) -> list[tuple[str, str, str]]:
    """(target as written, kind, unit or last syllable) blanks worth asking about, numbers first."""
    out = [(_canonical(w), "number", unit) for w, _, unit in _numbers(sentence)]
    out += [(n, "noun", n[-1]) for n in _nouns(sentence) if len(n) >= 3]
    return out


def _distractors(target: str, kind: str, unit: str, sentence: str,
                 pool: tuple[dict[str, set[str]], set[str]], rng: random.Random) -> list[str]:
    numbers, nouns = pool
    if kind == "number":
        same = sorted(n for n in numbers.get(unit, ()) if n != target and n not in sentence)
        if len(same) < 3:  # too few of the same unit in the source: nearby values instead
            digits, _, rest = target.partition("분의") if unit == "분의" else (target[:-len(unit)], "", "")
            value = int(digits.replace(",", "").strip())
            for other in (value * 2, value + max(1, value // 2), max(1, value // 2), value + 10):
                text = (f"{other}분의{rest}" if unit == "분의"
                        else f"{other:,}{unit}" if "," in digits else f"{other}{unit}")
                if text != target and text not in same:
                    same.append(text)
        return rng.sample(same, 3) if len(same) > 3 else same[:3]
    same = sorted(n for n in nouns if n != target and n not in sentence and target not in n
                  and n[-1] == unit and abs(len(n) - len(target)) <= 2)
    if len(same) < 3:
        same += sorted(n for n in nouns if n not in same and n != target and n not in sentence
                       and target not in n and abs(len(n) - len(target)) <= 1)
    return rng.sample(same, 3) if len(same) > 3 else same[:3]


def _find_passage(topic: str) -> tuple[str, str, str]:
    """(citation, text, pool source) of the article or notice sharing most of `topic`'s words."""
    words = set(_analyzer().morphemes(topic))
    if not words:
        raise ValueError("topic에서 단어를 찾지 못했습니다 / no words in topic")
    best: tuple[float, str, str, str] | None = None
    for statute in pack_statutes().values():
        for article in statute.articles.values():
            text = f"{article.title} {article.text}"
            score = sum(1 + (w in article.title) for w in words if w in text)
            if score and (best is None or score > best[0]):
                best = (score, f"{statute.title} {article.number}", article.text, statute.title)
    for title, body in notice_texts().items():
        text = " ".join(body)
        score = sum(1 + (w in title) for w in words if w in text)
        if score and (best is None or score > best[0]):
            best = (score, f"가정통신문: {title}", "\n".join(body), "notices")
    if best is None:
        raise ValueError(f"'{topic}'에 맞는 조문이나 가정통신문을 찾지 못했습니다 / nothing "
                         f"matches {topic!r}")
    return best[1], best[2], best[3]


@validate_call
def quiz(
    citation: Annotated[str | None, Field(max_length=200, description=(
        "문제를 낼 조문: '초ㆍ중등교육법 시행령 제45조', '교육기본법 제9조'"))] = None,
    passage: Annotated[str | None, Field(
        max_length=20_000, description="문제를 낼 지문 (검색한 구절이나 가정통신문)")] = None,
    topic: Annotated[str | None, Field(
        max_length=200, description="조문·지문 대신 주제 ('수업일수', '학교폭력 신고')")] = None,
    count: Annotated[int, Field(ge=1, le=5, description="문제 수")] = 3,
    seed: Annotated[int, Field(ge=0, description="같은 seed면 같은 문제")] = 0,
) -> dict[str, Any]:
    """퀴즈 만들기: 조문(인용), 지문 또는 주제 하나로 사지선다 문제를 만든다. 문장의 핵심 숫자(단위 포함)나
    핵심 명사를 빈칸으로 하고, 오답 보기는 같은 법령의 다른 조문에서 같은 종류의 말로 고른다. 문제마다
    정답과 그 문장(출처)을 돌려준다."""
    given = [x for x in (citation, passage, topic) if x]
    if len(given) != 1:
        raise ValueError("citation, passage, topic 중 하나만 주세요 / give exactly one of citation, "
                         "passage, topic")
    if citation:
        found = find_article(citation)
        cite, text, source = found.citation, found.text, found.statute.title
    elif topic:
        cite, text, source = _find_passage(topic)
    else:
        cite, text, source = "주어진 지문", str(passage), "notices"
    pool = _pool(source)
    rng = random.Random(seed)
    sentences = _sentences(text)
    rng.shuffle(sentences)
    questions: list[dict[str, Any]] = []
    used: set[str] = set()
    for sentence in sentences:
        if len(questions) >= count:
            break
        for target, kind, unit in _candidates(sentence):
            if target in used or target not in sentence:
                continue
            wrong = _distractors(target, kind, unit, sentence, pool, rng)
            if len(wrong) < 3:
                continue
            used.add(target)
            choices = [target, *wrong]
            rng.shuffle(choices)
            blank = sentence.replace(target, "(   )")
            questions.append({
                "question": f"다음 빈칸에 알맞은 말은? {blank}",
                "choices": choices, "answer": choices.index(target) + 1, "answer_text": target,
                "kind": kind, "source": {"citation": cite, "sentence": sentence}})
            break
    if not questions:
        raise ValueError(f"{cite}에서 문제를 만들 문장을 찾지 못했습니다 / no sentence to ask about "
                         "(try another article or topic)")
    notes = ["보기 번호는 1부터입니다. 오답 보기는 같은 출처의 다른 문장에서 같은 종류의 말(같은 단위의 "
             "수, 끝 글자가 같은 명사)로 골랐습니다."]
    if len(questions) < count:
        notes.append(f"문제를 만들 만한 문장이 {len(questions)}개뿐입니다.")
    return {"result": {"questions": questions, "source": cite, "passage": _clean(text)},
            "articles": [cite], "notes": notes}


TOOLS: list[Callable[..., dict[str, Any]]] = [school_days, school_year, quiz, lookup_article]
"""Every tool of the pack, in the order an assistant offers them."""
